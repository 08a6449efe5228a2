"""Reading a PDF's pages back as a reader sees them, with poppler's pdftotext (poppler-utils; .ci/run
installs it): each page's text, and every word with its box, to check that no text is cut.

pdftotext drops the characters that lie wholly outside the page, so a word pushed past the edge would
simply vanish from its output and pass any position check. `words` therefore reads a copy of the PDF
whose MediaBox is widened by WIDEN points on every side (the same length of bytes, so the file's
cross-reference table stays valid): a word past the edge is then found, at its true position.
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest

WIDEN = 999
PRINTABLE_MARGIN = 5 * 72 / 25.4     # what a printer can print: 5 mm in from each edge
_BOX = re.compile(rb"/MediaBox \[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")
_WORD = re.compile(r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">(.*?)</word>')

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                   reason="poppler-utils is not installed (pdftotext; .ci/run installs it)")


@dataclass(frozen=True)
class Word:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float      # points from the page's left and top edges


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    words: list[Word]


def _run(data: bytes, *options: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.pdf"
        path.write_bytes(data)
        return subprocess.run(["pdftotext", *options, str(path), "-"], capture_output=True, text=True,
                              check=True, timeout=60).stdout


def page_texts(data: bytes, *, layout: bool = True) -> list[str]:
    """Each page's text laid out as on the page (pdftotext -layout), or in reading order, each table
    cell's wrapped lines together (layout=False)."""
    return _run(data, *(["-layout"] if layout else [])).split("\f")[:-1]


def words(data: bytes) -> list[Page]:
    """Every word of every page with its box in points from the page's top-left corner, words past the
    page's edges included."""
    sizes = []

    def widen(match: re.Match) -> bytes:
        x0, y0, x1, y1 = (float(v) for v in match.groups())
        sizes.append((x1 - x0, y1 - y0))
        box = f"/MediaBox [{x0 - WIDEN:g} {y0 - WIDEN:g} {math.ceil(x1) + WIDEN} {math.ceil(y1) + WIDEN}"
        extra = len(match.group(0)) - len(box) - 1
        assert extra >= 0, "the widened MediaBox must not be longer than the original"
        return (box + " " * extra + "]").encode()

    widened = _BOX.sub(widen, data)
    pages = _run(widened, "-bbox").split("<page ")[1:]
    assert len(pages) == len(sizes), "one MediaBox per page"
    out = []
    for (width, height), page in zip(sizes, pages):
        top_shift = math.ceil(height) + WIDEN - height   # the widened box's top edge, above the page's
        found = [Word(unescape(text), float(a) - WIDEN, float(b) - top_shift, float(c) - WIDEN, float(d) - top_shift)
                 for a, b, c, d, text in _WORD.findall(page)]
        out.append(Page(width, height, found))
    return out


def cut_text(pages: list[Page], margin: float = PRINTABLE_MARGIN) -> list[str]:
    """What a printed page would lose or garble: a word outside the printable area of its page, or two
    words drawn over each other (a cell's text running into the next). Empty when nothing is cut."""
    problems = []
    for number, page in enumerate(pages, start=1):
        for w in page.words:
            if w.x0 < margin or w.top < margin or w.x1 > page.width - margin or w.bottom > page.height - margin:
                problems.append(f"page {number}: '{w.text}' at x {w.x0:.0f}-{w.x1:.0f}, y {w.top:.0f}-{w.bottom:.0f} "
                                f"is outside the printable {page.width:.0f} x {page.height:.0f} pt page")
        ordered = sorted(page.words, key=lambda w: w.x0)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                if b.x0 >= a.x1 - 0.5:
                    break
                if min(a.bottom, b.bottom) - max(a.top, b.top) > 0.5:
                    problems.append(f"page {number}: '{a.text}' and '{b.text}' are drawn over each other")
    return problems
