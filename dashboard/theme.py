"""One palette for every page and chart: severity, NEWS2 band, CTCAE grade and dose status.

Colours are chosen to read on a 1366x768 ward screen and are always paired with text (severity
names, grades, band names), so colour is never the only carrier of meaning. Text meets WCAG 2.1 AA
(contrast at least 4.5:1, success criterion 1.4.3): severity words are written in SEVERITY_TEXT_COLOURS
(the fills and markers keep SEVERITY_COLOURS), and text on a coloured cell takes `text_on` the cell,
black or white, whichever contrasts more. tests/dashboard/test_contrast.py computes every pair used.
"""
from __future__ import annotations

# Alert severity (monitoring.clinical.rules.common.SEVERITIES): fills, bars and chart markers.
SEVERITY_COLOURS = {"emergency": "#b71c1c", "urgent": "#e65100", "warning": "#f9a825", "info": "#607d8b"}
# The same severities as text on white (the warning amber #f9a825 reads at 1.97:1, the urgent orange
# #e65100 at 3.79:1: darker shades of the same hues reach 4.5:1).
SEVERITY_TEXT_COLOURS = {"emergency": "#b71c1c", "urgent": "#b34700", "warning": "#8a6100", "info": "#546e7a"}
# NEWS2 clinical risk bands (RCP 2017 Chart 4).
BAND_COLOURS = {"low": "#2e7d32", "low-medium": "#f9a825", "medium": "#ef6c00", "high": "#c62828"}
# CTCAE grades 0-4 (and 5, death, never expected on a live chart).
GRADE_COLOURS = {0: "#e8f5e9", 1: "#fff59d", 2: "#ffb74d", 3: "#e53935", 4: "#6a1b9a", 5: "#212121"}
# IL-2 dose events.
DOSE_COLOURS = {"given": "#1565c0", "held": "#ef6c00", "stopped": "#b71c1c"}
DOSE_SYMBOLS = {"given": "triangle-up", "held": "x", "stopped": "square"}
PAGE_BACKGROUND = "#ffffff"
AA_TEXT = 4.5   # WCAG 2.1 AA, normal text


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of '#rrggbb'."""
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio (1 to 21) of two '#rrggbb' colours."""
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_on(background: str) -> str:
    """Black or white, whichever reads better on `background`."""
    return "black" if contrast_ratio(background, "#000000") >= contrast_ratio(background, "#ffffff") else "white"


def as_text(colour: str, background: str = PAGE_BACKGROUND) -> str:
    """`colour` darkened just enough (in steps of 5 %) to read as text on `background` at WCAG AA: a
    chart's labels keep the hue of their line or band."""
    channels = [int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    for step in range(21):
        shade = "#" + "".join(f"{round(c * (1 - step * 0.05)):02x}" for c in channels)
        if contrast_ratio(shade, background) >= AA_TEXT:
            return shade
    return "#000000"


def tint(colour: str, opacity: float, background: str = PAGE_BACKGROUND) -> str:
    """The colour a fill of `colour` at `opacity` shows over `background` (what a label on it sits on)."""
    over = [int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    under = [int(background.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{round(o * opacity + u * (1 - opacity)):02x}" for o, u in zip(over, under))
