"""The print's typeface, and text made safe for it.

Bitstream Vera Sans (Vera.ttf and VeraBd.ttf), shipped inside the reportlab wheel itself: the PDF looks
the same on a ward server, a laptop and a fresh CI machine without a system font package (DejaVu is
often in /usr/share/fonts, but only where a package put it), and it is embedded in the PDF, so any
printer prints it. reportlab's standard fonts (Helvetica, WinAnsi) have no ≥ or ≤; Vera has °, ≥, ≤,
µ, ×, –, · and the Latin-1 letters. What it lacks is replaced by words or plain characters
(`printable`: SpO₂ is SpO2, Greek mu the micro sign, an arrow '->'); any other character outside the
font is printed as '?' rather than as an empty box, and the tests check that the demo ward needs none.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

REGULAR, BOLD = "PrintSans", "PrintSans-Bold"
_FILES = {REGULAR: "Vera.ttf", BOLD: "VeraBd.ttf"}
# Characters the words of the monitor use that Vera lacks, and what is printed instead.
REPLACEMENTS = {"\u2080": "0", "\u2081": "1", "\u2082": "2", "\u2083": "3", "\u2084": "4", "\u03bc": "\u00b5",
                "\u2192": "->", "\u2190": "<-", "\u2191": "up", "\u2193": "down", "\u2713": "yes", "\u2714": "yes",
                "\u2717": "no", "\u2248": "~", "\u2260": "not ", "\u2022": "\u00b7", "\u202f": " ", "\u2009": " ",
                "\u2011": "-", "\u2212": "-"}
MISSING_GLYPH = "?"


@cache
def register() -> tuple[str, str]:
    """Register the two faces with reportlab (once per process); their names for styles."""
    import reportlab
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = Path(reportlab.__file__).parent / "fonts"
    for name, file in _FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    # <b> inside a Paragraph picks the bold face.
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)
    return REGULAR, BOLD


@cache
def covered() -> frozenset[int]:
    """The code points both faces can draw."""
    from reportlab.pdfbase import pdfmetrics

    register()
    faces = [set(pdfmetrics.getFont(name).face.charToGlyph) for name in _FILES]
    return frozenset(set.intersection(*faces))


def printable(text: object) -> str:
    """`text` as the print's font can draw it: known replacements, then '?' for anything else missing."""
    text = "" if text is None else str(text)
    if text.isascii():
        return text
    have = covered()
    out = []
    for char in text:
        if ord(char) in have or char in "\n\t":
            out.append(char)
        else:
            out.append(REPLACEMENTS.get(char, MISSING_GLYPH))
    return "".join(out)
