"""Bar charts drawn for print with reportlab's shapes: a title, both axes named, every bar's figure.

Drawn shape by shape rather than with reportlab's chart widgets, so that everything a reader needs is
in words on the page: each bar carries its figure above it (a withheld cell's "<5", "not graded" or
'–' where there is no bar), category names wrap under their group instead of running into the next,
and the vertical axis has a title. Vector graphics: no image file, the same bytes for the same data.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth

from monitoring.export.monthly_report.text import BOLD, FONT, drawable, figure

TITLE_SIZE, LABEL_SIZE, TICK_SIZE, VALUE_SIZE = 9.5, 6.8, 6.8, 6.3
LEFT, RIGHT, TOP = 46.0, 8.0, 36.0      # room for the vertical axis and its title; the title above
LABEL_LINES = 3                          # category names wrap to at most this many lines


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[object]       # a number, a withheld cell's text, or None (no bar)
    colour: str


def _ticks(top: float, most: int = 6) -> tuple[float, list[float]]:
    """A 'nice' axis top and its tick values (steps of 1, 2, 2.5 or 5 x 10^n)."""
    if top <= 0:
        return 1.0, [0.0, 1.0]
    raw = top / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if s * power >= raw)
    count = math.ceil(top / step - 1e-9)
    return count * step, [i * step for i in range(count + 1)]


def _wrapped(text: str, width: float) -> list[str]:
    lines = simpleSplit(drawable(text), FONT, LABEL_SIZE, width)
    if len(lines) > LABEL_LINES:
        lines = lines[:LABEL_LINES - 1] + [" ".join(lines[LABEL_LINES - 1:])]
    return lines


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not math.isnan(value) else None


def _bar_texts(series: Sequence[Series], room: float, blank_text: str,
               value_text: Callable[[object], str]) -> tuple[list[list[str]], dict[str, str]]:
    """The figure over each bar, and the footnotes: a text wider than its bar ('withheld (protects a
    small cell)') is written as a mark ('*', '**', ...) explained under the chart, never over its
    neighbours."""
    notes: dict[str, str] = {}
    texts = []
    for part in series:
        row = []
        for value in part.values:
            text = drawable(value_text(value) if _number(value) is not None or isinstance(value, str) else blank_text)
            if stringWidth(text, FONT, VALUE_SIZE) > room:
                text = notes.setdefault(text, "*" * (len(notes) + 1))
            row.append(text)
        texts.append(row)
    return texts, notes


def _axes(drawing: Drawing, *, ticks: list[float], top: float, bottom: float, plot_h: float, width: float,
          x_title: str, y_title: str, x_title_y: float) -> None:
    axis = Group()
    for tick in ticks:
        y = bottom + plot_h * tick / top
        axis.add(Line(LEFT, y, width - RIGHT, y, strokeColor=colors.HexColor("#DDDDDD"), strokeWidth=0.4))
        axis.add(String(LEFT - 4, y - TICK_SIZE / 3, figure(tick), fontName=FONT, fontSize=TICK_SIZE,
                        textAnchor="end"))
    axis.add(Line(LEFT, bottom, width - RIGHT, bottom, strokeColor=colors.black, strokeWidth=0.7))
    axis.add(Line(LEFT, bottom, LEFT, bottom + plot_h, strokeColor=colors.black, strokeWidth=0.7))
    turned = Group(String(0, 0, drawable(y_title), fontName=FONT, fontSize=LABEL_SIZE, textAnchor="middle"))
    turned.translate(LABEL_SIZE + 1, bottom + plot_h / 2)
    turned.rotate(90)
    axis.add(turned)
    axis.add(String(LEFT + (width - LEFT - RIGHT) / 2, x_title_y, drawable(x_title), fontName=FONT,
                    fontSize=LABEL_SIZE, textAnchor="middle"))
    drawing.add(axis)


def bar_chart(*, title: str, categories: Sequence[object], series: Sequence[Series], x_title: str, y_title: str,
              width: float, height: float, value_max: float | None = None, integer_axis: bool = False,
              blank_text: str = "–", value_text: Callable[[object], str] = figure) -> Drawing:
    """A grouped vertical bar chart `width` x `height` points: title, named axes, a figure on every bar
    (footnoted when too wide for it), a legend when there are several series."""
    drawing = Drawing(width, height)
    drawing.add(String(0, height - TITLE_SIZE, drawable(title), fontName=BOLD, fontSize=TITLE_SIZE))
    slot = (width - LEFT - RIGHT) / max(1, len(categories))
    bar_w = min(26.0, (slot - 6) / max(1, len(series)))
    texts, notes = _bar_texts(series, (slot if len(series) == 1 else bar_w) - 2, blank_text, value_text)
    note_h = (LABEL_SIZE + 3) if notes else 0.0
    label_lines = max([len(_wrapped(str(c), slot - 8)) for c in categories] or [1])
    # From the foot: the footnotes, the x-axis title, then the category names.
    bottom = note_h + 14 + label_lines * (LABEL_SIZE + 1.5) + 6
    plot_h = height - TOP - bottom
    numbers = [n for s in series for v in s.values if (n := _number(v)) is not None]
    top, ticks = _ticks(value_max if value_max is not None else max(numbers or [0.0]))
    if integer_axis:
        ticks = [t for t in ticks if t == int(t)]
    _axes(drawing, ticks=ticks, top=top, bottom=bottom, plot_h=plot_h, width=width, x_title=x_title,
          y_title=y_title, x_title_y=note_h + 2)
    for i, category in enumerate(categories):
        left = LEFT + i * slot + (slot - bar_w * len(series)) / 2
        for j, part in enumerate(series):
            number = _number(part.values[i])
            x = left + j * bar_w
            bar_top = bottom
            if number is not None and number > 0:
                bar_top = bottom + plot_h * min(number, top) / top
                drawing.add(Rect(x + 1, bottom, bar_w - 2, bar_top - bottom, fillColor=colors.HexColor(part.colour),
                                 strokeColor=None))
            drawing.add(String(x + bar_w / 2, bar_top + 2, texts[j][i], fontName=FONT, fontSize=VALUE_SIZE,
                               textAnchor="middle"))
        for k, line in enumerate(_wrapped(str(category), slot - 8)):
            drawing.add(String(LEFT + (i + 0.5) * slot, bottom - 9 - k * (LABEL_SIZE + 1.5), line, fontName=FONT,
                               fontSize=LABEL_SIZE, textAnchor="middle"))
    if notes:
        drawing.add(String(0, 2, "; ".join(f"{mark}: {text}" for text, mark in notes.items()), fontName=FONT,
                           fontSize=LABEL_SIZE))
    if len(series) > 1:   # the legend, on the line under the title
        x, y = LEFT, height - TITLE_SIZE - 13
        for part in series:
            name = drawable(part.name)
            drawing.add(Rect(x, y - 0.5, 6, 6, fillColor=colors.HexColor(part.colour), strokeColor=None))
            drawing.add(String(x + 9, y, name, fontName=FONT, fontSize=LABEL_SIZE))
            x += 9 + stringWidth(name, FONT, LABEL_SIZE) + 14
    return drawing
