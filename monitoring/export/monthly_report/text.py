"""Text as the report's typeface draws it, and figures as the report writes them.

The report uses the PDF standard fonts (Helvetica): every reader has them, and with the file written
uncompressed its words stay searchable bytes, which the de-identification tests rely on. Their
encoding is WinAnsi (cp1252): what it lacks is written in plain characters (>= for ≥, SpO2 for SpO₂)
or '?' rather than an empty box.
"""
from __future__ import annotations

import math
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from monitoring.export.ward_print.fonts import REPLACEMENTS

FONT, BOLD = "Helvetica", "Helvetica-Bold"
MISSING = "?"
EXTRA = {"\u2265": ">=", "\u2264": "<="}
NOT_DETERMINED = "–"   # a figure that could not be determined (missing is never zero)


def drawable(text: object) -> str:
    """`text` with every character the standard fonts cannot draw replaced."""
    text = "" if text is None else str(text)
    if text.isascii():
        return text
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            out.append(EXTRA.get(char) or REPLACEMENTS.get(char, MISSING))
    return "".join(out)


def markup(text: object) -> str:
    """Plain text for a Paragraph: drawable and escaped (evidence says 'SBP < 90')."""
    return escape(drawable(text))


def figure(value: object, digits: int | None = None) -> str:
    """A cell as written in the report: '–' when not determined, a withheld cell's text as it is,
    yes/no for true/false; a number with `digits` decimals, or (None) a whole number without decimals
    and any other with two."""
    if value is None or value is pd.NA:
        return NOT_DETERMINED
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    try:
        number = float(value)   # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return NOT_DETERMINED
    if digits is None:
        digits = 0 if number == int(number) else 2
    return f"{number:,.{digits}f}"
