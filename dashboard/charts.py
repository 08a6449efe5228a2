"""Pure chart builders: DataFrame in, plotly Figure out (unit-tested; pages only render them)."""
from __future__ import annotations

import functools
import hashlib
import html
import json
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.theme import BAND_COLOURS, DOSE_COLOURS, DOSE_SYMBOLS, GRADE_COLOURS, SEVERITY_COLOURS, as_text, tint
from monitoring.clinical.catalogue import ORGAN_SYSTEMS, default_catalogue
from monitoring.views.patient_chart import LAB_CODES, ChartData


def recent_trend(trend: pd.DataFrame, *, tz: tzinfo, title: str = "Last 24 h") -> go.Figure:
    """One small panel per numeric code on one time axis (the ward's local time), the unit on each y axis:
    the record page's feedback after a save. Built as the patient chart's figures are (_panels, _figure:
    make_subplots took about a third of the feedback's time, issue 21)."""
    numeric = trend.dropna(subset=["value_num"])
    codes = list(dict.fromkeys(numeric["code"]))
    catalogue = default_catalogue()
    rows = max(len(codes), 1)
    panels = _panels([1.0] * rows, {(i, 1): f"{catalogue[c].label} ({catalogue[c].unit_label})"
                                    for i, c in enumerate(codes, start=1)}, vgap=0.04 if rows > 1 else 0.1)
    layout, traces = panels.layout, []
    for i, code in enumerate(codes, start=1):
        x, y = panels.refs[(i, 1)]
        series = numeric[numeric["code"] == code].sort_values("observed_at")
        traces.append(dict(type="scatter", x=_local(series["observed_at"], tz), y=_floats(series["value_num"]),
                           mode="lines+markers", name=catalogue[code].label, showlegend=False, xaxis=x, yaxis=y,
                           line=dict(color=DATA_COLOUR), marker=dict(color=DATA_COLOUR)))
        _axis(layout, y, title=dict(text=catalogue[code].unit_label))
    _axis(layout, "x", title=dict(text=f"local time ({getattr(tz, 'key', str(tz))})"))
    layout.update(height=110 * rows + 60, margin=dict(l=40, r=10, t=40, b=30), title=dict(text=title))
    return _figure(traces, layout)


# --- the patient chart ------------------------------------------------------------------------------
# Builders below take a monitoring.views.patient_chart.ChartData (times UTC) and draw in the installation's time zone.
# Every time chart opens with a strip of IL-2 doses and alerts (markers with their hover) and has a
# dotted vertical line per dose through its panels, so a post-dose fever lines up with its dose.
# Figures are assembled as plain dicts and handed to plotly unvalidated: for a 28-day course with
# hourly vital signs, make_subplots/add_trace/update_* took ~950 ms for the five figures, the dicts
# ~100 ms (tests validate every builder's output, so a misspelt key still fails a test).

DATA_COLOUR = SEVERITY_COLOURS["info"]  # the palette's neutral: a measured value has no severity itself
DATA_TEXT = as_text(DATA_COLOUR)        # ... as the text of notes and labels (WCAG AA on white)
BAND_OPACITY = 0.13                     # the NEWS2 bands behind the score
ALERT_NAMES = {"emergency": "Alert: emergency", "urgent": "Alert: urgent", "warning": "Alert: warning",
               "info": "Expected IL-2 effect"}
HOVER_TIME = "%{x|%a %d %b %H:%M}"
NO_DATA = "none recorded in this period"
# The look of plotly's "plotly_white" template, set on the figures themselves: a template object
# in a figure makes Streamlit's second draw of every chart a full redraw (see _figure).
GRID_COLOUR = "#EBF0F8"
AXIS_STYLE = dict(gridcolor=GRID_COLOUR, linecolor=GRID_COLOUR, zerolinecolor=GRID_COLOUR, zerolinewidth=2, ticks="")
PAGE_STYLE = dict(plot_bgcolor="white", paper_bgcolor="white", hoverlabel=dict(align="left"),
                  font=dict(family='"Source Sans", "Source Sans Pro", sans-serif', color="#2a3f5f"))
TITLE_FONT = dict(size=12)
DENSE_POINTS = 240  # about 10 days of 4-hourly sets; beyond it markers merge into a band
# Fixed margins, wide enough for the legend row, tick labels and axis titles at a 1366-px screen.
# Plotly's automatic margins draw every figure twice (a first pass measures the legend and labels,
# a second redraws with the margins found): measured in Chromium, turning them off halved the
# patient chart's drawing time (1.0 s to 0.5 s for the five whole-course figures).
# One right margin for every time chart (room for the vital signs' O2-flow axis), so the time axes
# of the stacked charts end at the same pixel and a dose lines up down the page.
TIME_MARGIN = dict(l=70, r=60, t=50, b=70, autoexpand=False)
GRID_MARGIN = dict(l=185, r=100, t=20, b=90, autoexpand=False)


def zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def local_axis_title(tz: tzinfo) -> str:
    return f"Local time ({zone_name(tz)})"


def _local(times, tz: tzinfo) -> list[str]:
    """UTC times as the ward's wall-clock time, ISO text (plotly has no zones: it draws what it is given)."""
    local = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).tz_convert(tz).tz_localize(None)
    return np.datetime_as_string(local.to_numpy().astype("datetime64[s]")).tolist()


def _floats(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


@functools.lru_cache(maxsize=4096)  # the same evidence shows in every chart's strip
def _wrap(text: str, width: int = 90) -> str:
    """Hover text: HTML-escaped ('ANC < 0.5' is not a tag) and wrapped so it fits a ward screen."""
    return "<br>".join(textwrap.wrap(html.escape(str(text), quote=False), width, break_long_words=False)) or "–"


def _plain(value):
    """numpy arrays and scalars as Python lists and numbers, through dicts and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class _Figure(go.Figure):
    """A figure that Streamlit sends without plotly.py's default template (see _figure)."""

    def to_dict(self) -> dict:
        figure = super().to_dict()
        figure["layout"].pop("template", None)
        return figure


def _figure(traces: list[dict], layout: dict) -> go.Figure:
    """The figure, built so that the browser draws it once.

    Streamlit (1.67) draws every chart, then re-applies its theme to a JSON copy of the figure and
    hands the copy to plotly.js `react`, which redraws the whole chart unless the copy compares equal
    to what is drawn. Three things made every copy differ (measured in Chromium: the second draw
    rewrote 1,000-8,000 SVG nodes per chart; with them gone, one): numpy arrays (sent as base64
    typed arrays, which plotly.js never finds equal), a template object (compared by identity; the
    plotly_white look is set on the axes instead, and _Figure sends none) and no
    `layout.datarevision` (without it every new array is new data; the revision here is a hash of
    the traces, so other data gives another revision). Pages pass theme=None to st.plotly_chart, so
    Streamlit adds no template of its own.
    """
    traces = _plain(traces)
    layout = _plain(layout)
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")):
            for key, value in AXIS_STYLE.items():
                axis.setdefault(key, value)
    for key, value in PAGE_STYLE.items():
        layout.setdefault(key, value)
    layout["datarevision"] = hashlib.blake2b(json.dumps(traces, default=str).encode(), digest_size=8).hexdigest()
    # `_validate` is plotly's own switch (BaseFigure.__init__, plotly 5-7); pyproject pins plotly < 8.
    return _Figure({"data": traces, "layout": layout}, _validate=False)


@dataclass
class _Panels:
    """Panels in columns on shared time axes: one x axis per column (matched to the first), one y axis
    per panel. refs[(row, col)] = ('x2', 'y5'); rows and cols from 1, row 1 at the top."""

    layout: dict
    refs: dict[tuple[int, int], tuple[str, str]]
    bottoms: dict[int, float]  # column -> lowest paper y of its panels (where dose lines stop)


def _panels(heights: list[float], titles: dict[tuple[int, int], str], *, cols: int = 1,
            used: set[tuple[int, int]] | None = None, vgap: float = 0.04, hgap: float = 0.06) -> _Panels:
    rows = len(heights)
    used = used if used is not None else {(r, c) for r in range(1, rows + 1) for c in range(1, cols + 1)}
    scale = (1 - vgap * (rows - 1)) / sum(heights)
    spans, top = [], 1.0
    for h in heights:
        spans.append((max(top - h * scale, 0.0), top))
        top -= h * scale + vgap
    width = (1 - hgap * (cols - 1)) / cols
    layout: dict = {"annotations": [], "shapes": []}
    refs: dict[tuple[int, int], tuple[str, str]] = {}
    bottoms: dict[int, float] = {}
    number = 0
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            if (r, c) not in used:
                continue
            number += 1
            x, y = ("x" if c == 1 else f"x{c}"), ("y" if number == 1 else f"y{number}")
            refs[(r, c)] = (x, y)
            low, high = spans[r - 1]
            layout[f"yaxis{'' if number == 1 else number}"] = {"domain": [low, high], "anchor": x}
            if titles.get((r, c)):
                left = (c - 1) * (width + hgap)
                layout["annotations"].append(dict(text=titles[(r, c)], xref="paper", yref="paper", x=left + width / 2,
                                                  y=high, xanchor="center", yanchor="bottom", showarrow=False,
                                                  font=TITLE_FONT))
    for c in range(1, cols + 1):
        column = [r for r in range(1, rows + 1) if (r, c) in used]
        if not column:
            continue
        left = (c - 1) * (width + hgap)
        x, bottom_y = refs[(column[-1], c)]
        layout[f"xaxis{'' if c == 1 else c}"] = {"domain": [left, left + width], "anchor": bottom_y, "type": "date",
                                                 **({"matches": "x"} if c > 1 else {})}
        bottoms[c] = spans[column[-1] - 1][0]
    return _Panels(layout, refs, bottoms)


def _axis(layout: dict, ref: str, **settings) -> None:
    """Merge settings into the layout axis named by a reference ('y3' -> 'yaxis3')."""
    layout.setdefault(ref[0] + "axis" + ref[1:], {}).update(settings)


def _note(xref: str, yref: str, text: str, **extra) -> dict:
    """A 'no data' (or other) note centred in one panel."""
    return dict(xref=f"{xref} domain", yref=f"{yref} domain", x=0.5, y=0.5, text=text, showarrow=False,
                font=dict(size=12, color=DATA_TEXT), **extra)


def _hline(xref: str, yref: str, y: float, colour: str, label: str, dash: str = "dash",
           below: bool = False, beside: bool = False) -> tuple[dict, dict]:
    """A labelled horizontal reference line across one panel: (shape, annotation above or below it,
    at the right end). `beside`: a short label in the right margin, off the newest values."""
    shape = dict(type="line", xref=f"{xref} domain", x0=0, x1=1, yref=yref, y0=y, y1=y, layer="below",
                 line=dict(color=colour, width=1.5, dash=dash))
    note = dict(xref=f"{xref} domain", x=1, xanchor="left" if beside else "right", yref=yref, y=y,
                yanchor="top" if below else "bottom", text=label, showarrow=False,
                font=dict(size=10, color=as_text(colour)),
                **({"xshift": 3} if beside else {"bgcolor": "rgba(255,255,255,0.7)"}))
    return shape, note


def _dose_lines(doses: pd.DataFrame, tz: tzinfo, xref: str, y0: float) -> list[dict]:
    """One dotted vertical line per dose from the top of the figure down to `y0` (paper)."""
    return [dict(type="line", xref=xref, yref="paper", x0=t, x1=t, y0=y0, y1=1, layer="below", opacity=0.5,
                 line=dict(color=DOSE_COLOURS.get(s, DATA_COLOUR), width=1, dash="dot"))
            for t, s in zip(_local(doses["time"], tz), doses["status"])]


def _strip_markers(data: ChartData, tz: tzinfo) -> tuple[list[dict], list[dict]]:
    """The strip's markers once per chart data and zone (every figure opens with the same strip):
    (dose marker groups, alert marker groups), each a dict of trace settings without axes."""
    key = ("strip", zone_name(tz))
    if key in data.memo:
        return data.memo[key]
    doses, alerts = data.doses, data.alerts
    dose_groups: list[dict] = []
    by_status = dict(tuple(doses.groupby("status", sort=False)))
    for status in DOSE_COLOURS:
        if status not in by_status:
            continue
        d = by_status[status]
        number = pd.Series(d["dose_number"], dtype="Int64").astype("string").fillna("?")
        reason = d["reason"].fillna("").astype(str).map(html.escape)
        hover = ("<b>IL-2 dose " + number + " · " + status + "</b>"
                 + np.where(reason != "", "<br>Reason: " + reason, "")).tolist()
        dose_groups.append(dict(type="scatter", x=_local(d["time"], tz), y=[1] * len(d), mode="markers",
                                name=f"IL-2 dose {status}", legendgroup=f"dose-{status}", hovertext=hover,
                                hovertemplate="%{hovertext}<br>" + HOVER_TIME + "<extra></extra>",
                                marker=dict(symbol=DOSE_SYMBOLS[status], color=DOSE_COLOURS[status], size=11,
                                            line=dict(width=1.5, color=DOSE_COLOURS[status]))))
    alert_groups: list[dict] = []
    # Drawn mildest first, so that an emergency is never hidden under a milder marker at the same time
    # (plotly draws later traces on top); the legend still lists the worst first (legendrank).
    for rank, (severity, name) in reversed(list(enumerate(ALERT_NAMES.items()))):
        a = alerts[alerts["severity"] == severity]
        if a.empty:
            continue
        hover = [f"<b>{severity.upper()} · {html.escape(str(r))} · {html.escape(str(lv))}</b> ({st})<br>"
                 f"Evidence (times in UTC, Z): {_wrap(ev)}"
                 + (f"<br><i>IL-2 context: {_wrap(ctx)}</i>" if ctx else "")
                 + f"<br>Standard: {_wrap(std)}"
                 for r, lv, st, ev, ctx, std in zip(a["rule_id"], a["level"], a["status"],
                                                     a["evidence_text"].fillna("").astype(str),
                                                     a["context"].fillna("").astype(str),
                                                     a["standard"].fillna("").astype(str))]
        alert_groups.append(dict(type="scatter", x=_local(a["onset_at"], tz), y=[0] * len(a), mode="markers",
                                 name=name, legendgroup=f"alert-{severity}", legendrank=1001 + rank,
                                 hovertext=hover,
                                 hovertemplate="%{hovertext}<br>Onset " + HOVER_TIME + "<extra></extra>",
                                 marker=dict(symbol="diamond", color=SEVERITY_COLOURS[severity], size=12,
                                             line=dict(width=1, color="white"))))
    data.memo[key] = (dose_groups, alert_groups)
    return dose_groups, alert_groups


def _events(data: ChartData, tz: tzinfo, xref: str, yref: str) -> tuple[list[dict], list[dict]]:
    """The strip: dose markers (status symbol and colour; hover: dose number, status, reason) and alert
    markers (severity colour; hover: rule, level, evidence, IL-2 context, standard). (traces, notes)"""
    dose_groups, alert_groups = _strip_markers(data, tz)
    # The figures share the groups' arrays (never changed after this); each trace has its own axes.
    traces = [dict(group, xaxis=xref, yaxis=yref, showlegend=True) for group in dose_groups + alert_groups]
    empty = data.doses.empty and data.alerts.empty
    return traces, [_note(xref, yref, "no IL-2 dose and no alert in this period")] if empty else []


STRIP_AXIS = dict(range=[-0.6, 1.6], tickvals=[0, 1], ticktext=["Alerts", "IL-2"], fixedrange=True,
                  showgrid=False, zeroline=False)


def _finish(panels: _Panels, traces: list[dict], data: ChartData, tz: tzinfo, *, height: int,
            shapes: list[dict], notes: list[dict], legend: bool = False) -> go.Figure:
    """Shared time range, local-time axis titles, dose lines, legend and size.

    Only the first chart of the page (vital signs) carries a legend, the key to the strip's symbols
    for every chart below it: a legend took plotly 30-70 ms to lay out per figure in Chromium (the
    labs' 12 panels: 200 ms with it, 130 ms without), and the charts below say in their panel titles
    what their own lines and bars are."""
    layout = panels.layout
    # An axis pair without a trace is no subplot to plotly.js: its grid, notes and lines would go astray.
    drawn = {(tr["xaxis"], tr["yaxis"]) for tr in traces}
    traces = traces + [dict(type="scatter", xaxis=x, yaxis=y, x=[], y=[], showlegend=False, hoverinfo="skip")
                       for x, y in panels.refs.values() if (x, y) not in drawn]
    span = _local([data.start, data.end], tz)
    for c, bottom in panels.bottoms.items():
        xref = "x" if c == 1 else f"x{c}"
        _axis(layout, xref, range=span, showgrid=True, title=dict(text=local_axis_title(tz), font=TITLE_FONT))
        shapes = _dose_lines(data.doses, tz, xref, bottom) + shapes
    layout["shapes"] += shapes
    layout["annotations"] += notes
    layout.update(height=height, hovermode="closest", showlegend=legend,
                  margin=TIME_MARGIN if legend else {**TIME_MARGIN, "t": 30},
                  legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom", font=dict(size=11)))
    return _figure(traces, layout)


def _mode(points: int) -> str:
    """Markers while they can be told apart; a line alone for hourly values over weeks."""
    return "lines+markers" if points <= DENSE_POINTS else "lines"


def _value_range(values: np.ndarray, extra: list[float], pad: float) -> list[float] | None:
    """[low, high] covering the values and the reference lines, padded by `pad` of the span."""
    numbers = np.concatenate([np.asarray(values, dtype=float), np.array(extra, dtype=float)])
    numbers = numbers[~np.isnan(numbers)]
    if not len(numbers):
        return None
    low, high = float(numbers.min()), float(numbers.max())
    margin = max((high - low) * pad, abs(high) * 0.02, 1e-6)
    return [low - margin, high + margin]


def vital_signs_figure(data: ChartData, *, tz: tzinfo, height: int = 640) -> go.Figure:
    """Stacked panels on one time axis: temperature (fever lines), heart rate, SBP and MAP (the
    patient's SBP target), respiratory rate, SpO2 with oxygen flow on a right-hand axis."""
    catalogue = default_catalogue()
    rows = (("temperature",), ("heart_rate",), ("sbp", "map"), ("resp_rate",), ("spo2",))
    unit = {code: catalogue[code].unit_label for code in ("temperature", "heart_rate", "sbp", "resp_rate", "spo2",
                                                          "o2_flow")}
    # The reference lines' meaning goes in the panel titles; beside each line, in the right margin,
    # only its value, so no label covers the newest readings at the right-hand end.
    fever = "; ".join(label for _, label in sorted(data.fever_lines))
    target = ""
    if data.sbp_target is not None:
        target = f" · dashed line: SBP target > {data.sbp_target:g} {unit['sbp']}"
        if data.usual_sbp is not None:
            target += f" (usual SBP {data.usual_sbp:g})"
    titles = {(2, 1): f"Temperature ({unit['temperature']})" + (f" · dashed lines: {fever}" if fever else ""),
              (3, 1): f"Heart rate ({unit['heart_rate']})",
              (4, 1): f"Blood pressure: SBP and MAP ({unit['sbp']}){target}",
              (5, 1): f"Respiratory rate ({unit['resp_rate']})",
              (6, 1): f"SpO₂ ({unit['spo2']}) and oxygen flow ({unit['o2_flow']})"}
    panels = _panels([0.07, 0.21, 0.16, 0.21, 0.15, 0.2], titles, vgap=0.045)
    layout = panels.layout
    traces, notes = _events(data, tz, *panels.refs[(1, 1)])
    _axis(layout, panels.refs[(1, 1)][1], **STRIP_AXIS)
    shapes: list[dict] = []
    vitals = data.vitals
    numeric = vitals[vitals["value_num"].notna()]
    by_code = {code: frame.sort_values("time") for code, frame in numeric.groupby("code", sort=False)}
    for row, codes in enumerate(rows, start=2):
        xref, yref = panels.refs[(row, 1)]
        drawn = [c for c in codes if c in by_code]
        for code in drawn:
            series, entry = by_code[code], catalogue[code]
            trace = dict(type="scatter", xaxis=xref, yaxis=yref, x=_local(series["time"], tz),
                         y=_floats(series["value_num"]), mode=_mode(len(series)), name=entry.label,
                         showlegend=len(codes) > 1, line=dict(color=DATA_COLOUR, width=1.5),
                         marker=dict(size=5, color=DATA_COLOUR),
                         hovertemplate=f"{entry.label} %{{y:.{entry.precision}f}} {entry.unit_label}<br>"
                                       + HOVER_TIME + "<extra></extra>")
            if code == "map":
                trace["line"]["dash"] = "dot"
                trace["marker"]["symbol"] = "circle-open"
            if code == "spo2":  # oxygen or air at the same set, to read the SpO2 right
                oxygen = vitals[vitals["code"] == "on_oxygen"].drop_duplicates("time", keep="last")
                on = series["time"].map(oxygen.set_index("time")["value_code"])
                trace["hovertext"] = np.where(on == "yes", "on oxygen", np.where(on == "no", "on air",
                                                                                 "oxygen not recorded")).tolist()
                trace["hovertemplate"] = trace["hovertemplate"].replace("<br>", "<br>%{hovertext}<br>", 1)
            traces.append(trace)
        _axis(layout, yref, title=dict(text=unit[codes[0]], font=TITLE_FONT))
        if not drawn and not vitals.empty:  # with nothing at all, one note below says so
            notes.append(_note(xref, yref, NO_DATA))
        values = np.concatenate([_floats(by_code[c]["value_num"]) for c in drawn] or [np.zeros(0)])
        if codes[0] == "temperature":
            for (value, _), severity in zip(sorted(data.fever_lines), ("warning", "urgent")):
                # The lower line's label goes under it: the two lines are 0.3 °C apart.
                shape, note = _hline(xref, yref, value, SEVERITY_COLOURS[severity], f"{value:.1f} °C",
                                     below=severity == "warning", beside=True)
                shapes.append(shape)
                notes.append(note)
            _axis(layout, yref, range=_value_range(values, [v for v, _ in data.fever_lines], 0.12))
        if codes[0] == "sbp" and data.sbp_target is not None:
            shape, note = _hline(xref, yref, data.sbp_target, SEVERITY_COLOURS["warning"],
                                 f"> {data.sbp_target:g}", beside=True)
            shapes.append(shape)
            notes.append(note)
            _axis(layout, yref, range=_value_range(values, [data.sbp_target], 0.1))
    flow = by_code.get("o2_flow")
    spo2_y = panels.refs[(6, 1)][1]
    flow_y = f"y{len(panels.refs) + 1}"
    top = float(np.nanmax(_floats(flow["value_num"]))) * 1.3 if flow is not None else 1.0
    _axis(layout, flow_y, overlaying=spo2_y, side="right", anchor="x", range=[0, max(top, 1.0)], showgrid=False,
          tickmode="auto", nticks=4,  # its own round ticks (synced to the SpO2 grid they read 0.23, 0.77)
          title=dict(text=f"O₂ {unit['o2_flow']}", font=TITLE_FONT))
    if flow is not None:
        entry = catalogue["o2_flow"]
        traces.append(dict(type="scatter", xaxis="x", yaxis=flow_y, x=_local(flow["time"], tz),
                           y=_floats(flow["value_num"]), mode="lines", name=f"{entry.label} ({entry.unit_label})",
                           line=dict(color=DATA_COLOUR, width=1, shape="hv"), fill="tozeroy",
                           fillcolor=_rgba(DATA_COLOUR, 0.15),
                           hovertemplate=f"O₂ flow %{{y:.1f}} {entry.unit_label}<br>" + HOVER_TIME
                                         + "<extra></extra>"))
    if vitals.empty:
        notes.append(dict(xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, bgcolor="white",
                          text="No vital signs recorded in this period", font=dict(size=15, color=DATA_TEXT)))
    return _finish(panels, traces, data, tz, height=height, shapes=shapes, notes=notes, legend=True)


def news2_figure(data: ChartData, *, tz: tzinfo, height: int = 340) -> go.Figure:
    """NEWS2 of each observation set over the band backgrounds (RCP Chart 2); points in band colours,
    larger where one parameter scores 3 (low-medium)."""
    panels = _panels([0.17, 0.83], {(2, 1): "NEWS2 per observation set (larger point: 3 in one parameter)"},
                     vgap=0.08)
    layout = panels.layout
    traces, notes = _events(data, tz, *panels.refs[(1, 1)])
    _axis(layout, panels.refs[(1, 1)][1], **STRIP_AXIS)
    xref, yref = panels.refs[(2, 1)]
    news2 = data.news2
    scored = news2[news2["news2"].notna()]
    points = _floats(scored["news2"])
    top = max([points.max() + 1.5 if len(points) else 0] + [low + 3.5 for _, low, _ in data.news2_bands] + [10.5])
    shapes = []
    for band, low, high in data.news2_bands:
        upper = top if high is None else high + 0.5
        shapes.append(dict(type="rect", xref=f"{xref} domain", x0=0, x1=1, yref=yref, y0=low - 0.5, y1=upper,
                           fillcolor=BAND_COLOURS[band], opacity=BAND_OPACITY, line=dict(width=0), layer="below"))
        # The label sits on its band's tint, not on white: readable against the tint (WCAG AA).
        notes.append(dict(xref=f"{xref} domain", x=0.005, xanchor="left", yref=yref, y=upper, yanchor="top",
                          showarrow=False, text=f"{band} {low}–{high}" if high is not None else f"{band} {low}+",
                          font=dict(size=10, color=as_text(BAND_COLOURS[band],
                                                           tint(BAND_COLOURS[band], BAND_OPACITY)))))
    if len(scored):
        band = scored["band"].astype(str)
        hover = ("NEWS2 " + scored["news2"].astype("string") + " · " + band + " risk<br>"
                 + scored["subscores"].astype(str)
                 + np.where(scored["any3"].fillna(False).astype(bool), "<br>3 in one parameter", "")).tolist()
        traces.append(dict(type="scatter", xaxis=xref, yaxis=yref, x=_local(scored["time"], tz), y=points,
                           mode="lines+markers", name="NEWS2", showlegend=False, hovertext=hover,
                           line=dict(color=DATA_COLOUR, width=1),
                           hovertemplate="%{hovertext}<br>" + HOVER_TIME + "<extra></extra>",
                           marker=dict(color=band.map(BAND_COLOURS).fillna(DATA_COLOUR).tolist(),
                                       size=np.where(band == "low-medium", 12, 8 if len(scored) <= DENSE_POINTS
                                                     else 5).tolist(),
                                       line=dict(width=1, color="white"))))
    else:
        notes.append(_note(xref, yref, "No NEWS2 in this period: no complete observation set", bgcolor="white"))
    unscored = int(news2["news2"].isna().sum())
    if unscored:
        notes.append(dict(xref=f"{xref} domain", x=1, xanchor="right", yref=f"{yref} domain", y=1, yanchor="bottom",
                          showarrow=False, font=dict(size=10, color=DATA_TEXT),
                          text=f"{unscored} set{'s' * (unscored != 1)} not scored: NEWS2 needs all seven "
                               "parameters"))
    _axis(layout, yref, title=dict(text="NEWS2 (points)", font=TITLE_FONT), range=[-0.5, top])
    return _finish(panels, traces, data, tz, height=height, shapes=shapes, notes=notes)


def fluids_figure(data: ChartData, *, tz: tzinfo, height: int = 470) -> go.Figure:
    """Intake and urine output per nursing shift (bars) and weight with its gain from baseline."""
    catalogue = default_catalogue()
    ml, kg = catalogue["urine_output"].unit_label, catalogue["weight"].unit_label
    panels = _panels([0.12, 0.48, 0.4], {(2, 1): f"Fluid intake (light bars) and urine output (dark bars) per shift "
                                                  f"({ml})",
                                         (3, 1): f"Weight ({kg}) and gain from baseline"}, vgap=0.08)
    layout = panels.layout
    traces, notes = _events(data, tz, *panels.refs[(1, 1)])
    _axis(layout, panels.refs[(1, 1)][1], **STRIP_AXIS)
    shapes: list[dict] = []
    fluids = data.fluids
    xref, yref = panels.refs[(2, 1)]
    if len(fluids):
        starts = pd.to_datetime(fluids["shift_start"], utc=True)
        local = starts.dt.tz_convert(tz)
        shift = (local.dt.strftime("%a %d %b %H:%M") + "–"
                 + pd.to_datetime(fluids["shift_end"], utc=True).dt.tz_convert(tz).dt.strftime("%H:%M"))

        def volume(column: str, signed: bool = False) -> pd.Series:
            text = fluids[column].map(lambda v: f"{v:+,.0f} {ml}" if signed else f"{v:,.0f} {ml}")  # a few per day
            return text.where(fluids[column].notna(), "not recorded")

        hover = ("Shift " + shift + "<br>Intake " + volume("intake_ml") + "<br>Urine output " + volume("urine_ml")
                 + "<br>Balance " + volume("balance_ml", True)).tolist()
        centre = _local(starts + pd.Timedelta(hours=4), tz)  # bars sit on the middle of their 8-h shift
        for column, name, colour in (("intake_ml", "Fluid intake", _rgba(DATA_COLOUR, 0.35)),
                                     ("urine_ml", "Urine output", DATA_COLOUR)):
            traces.append(dict(type="bar", xaxis=xref, yaxis=yref, x=centre, y=_floats(fluids[column]),
                               name=f"{name} ({ml}/shift)", hovertext=hover,
                               hovertemplate="%{hovertext}<extra></extra>",
                               marker=dict(color=colour, line=dict(color=DATA_COLOUR, width=1))))
    else:
        notes.append(_note(xref, yref, f"No fluid intake or urine output {NO_DATA}"))
    _axis(layout, yref, title=dict(text=ml, font=TITLE_FONT), rangemode="tozero")
    weights = data.weights
    xref, yref = panels.refs[(3, 1)]
    extra: list[float] = []
    base = data.baseline_weight_kg
    if base is not None:
        shape, note = _hline(xref, yref, base, DATA_COLOUR, f"baseline {base:.1f} {kg} ({data.baseline_weight_source})",
                             dash="dot", below=True)
        shapes.append(shape)
        notes.append(note)
        extra.append(base)
        for (percent, label), severity in zip(sorted(data.weight_gain_lines), ("warning", "urgent")):
            level = base * (1 + percent / 100)
            shape, note = _hline(xref, yref, level, SEVERITY_COLOURS[severity], f"{label}: {level:.1f} {kg}")
            shapes.append(shape)
            notes.append(note)
            extra.append(level)
    if len(weights):
        gain = weights["gain_percent"]
        hover = (weights["weight_kg"].map(lambda v: f"{v:.1f} {kg}")  # one weight a day
                 + np.where(gain.notna(), weights["gain_kg"].map(lambda v: f", {v:+.1f} {kg}")
                            + gain.map(lambda v: f" ({v:+.1f}%)") + f" from the {data.baseline_weight_source}", ""))
        traces.append(dict(type="scatter", xaxis=xref, yaxis=yref, x=_local(weights["time"], tz),
                           y=_floats(weights["weight_kg"]), mode="lines+markers", name="Weight", showlegend=False,
                           line=dict(color=DATA_COLOUR, width=1.5), marker=dict(size=6, color=DATA_COLOUR),
                           hovertext=hover.tolist(), hovertemplate="%{hovertext}<br>" + HOVER_TIME + "<extra></extra>"))
    else:
        notes.append(_note(xref, yref, f"No weight {NO_DATA}"))
    _axis(layout, yref, title=dict(text=kg, font=TITLE_FONT),
          range=_value_range(_floats(weights["weight_kg"]), extra, 0.08))
    layout.update(barmode="group", bargap=0.15)
    return _finish(panels, traces, data, tz, height=height, shapes=shapes, notes=notes)


def labs_figure(data: ChartData, *, tz: tzinfo, codes: Sequence[str] | None = None) -> go.Figure:
    """One small panel per recorded lab (or per lab of `codes`): values, the reference range (shaded
    in the grade-0 colour) and the CTCAE grade bands (grade colours, light), on a shared time axis."""
    catalogue = default_catalogue()
    labs = data.labs
    present = set(labs["code"])
    if codes is None:
        codes = [c for c in LAB_CODES if c in present] + sorted(present - set(LAB_CODES))
    codes = [c for c in codes if c in present]
    cols = 1 if len(codes) <= 2 else 2 if len(codes) <= 6 else 3
    rows = max(1, math.ceil(len(codes) / cols))
    cell = {code: (i // cols + 2, i % cols + 1) for i, code in enumerate(codes)}
    # One strip, over the first column: the dotted dose lines carry the doses across the others
    # (a strip per column drew the same markers three times: ~50 ms more in the browser).
    used = {(1, 1)} | set(cell.values())
    titles = {cell[code]: f"{catalogue[code].label} ({catalogue[code].unit_label})" for code in codes}
    panels = _panels([0.45] + [1.0] * rows, titles, cols=cols, used=used, vgap=0.3 / (rows + 1), hgap=0.07)
    layout = panels.layout
    traces: list[dict] = []
    notes: list[dict] = []
    strip, strip_notes = _events(data, tz, *panels.refs[(1, 1)])
    traces += strip
    notes += strip_notes
    _axis(layout, panels.refs[(1, 1)][1], **STRIP_AXIS)
    shapes: list[dict] = []
    by_code = {code: frame.sort_values("time") for code, frame in labs.groupby("code", sort=False)}
    ranges = data.lab_ranges.set_index("code") if len(data.lab_ranges) else None
    for code in codes:
        xref, yref = panels.refs[cell[code]]
        entry, series = catalogue[code], by_code[code]
        values = _floats(series["value_num"])
        low = high = None
        source = "none"
        if ranges is not None and code in ranges.index:
            low, high, source = ranges.at[code, "ref_low"], ranges.at[code, "ref_high"], ranges.at[code, "source"]
            low, high = (None if pd.isna(low) else float(low)), (None if pd.isna(high) else float(high))
        span = _value_range(values, [v for v in (low, high) if v is not None], 0.1)
        # Not below what can be measured (a count is never negative), but a little under it, so that
        # an ANC of 0.2 is drawn above the axis line rather than on it.
        floor = entry.plausible[0] - 0.04 * (span[1] - span[0]) if entry.plausible else -math.inf
        span = [max(span[0], floor), span[1]]
        if low is not None or high is not None:
            shapes.append(dict(type="rect", xref=f"{xref} domain", x0=0, x1=1, yref=yref, layer="below",
                               y0=low if low is not None else span[0], y1=high if high is not None else span[1],
                               fillcolor=GRADE_COLOURS[0], opacity=0.9, line=dict(width=0)))
        for grade, band_low, band_high in data.lab_bands.get(code, []):
            y0, y1 = max(band_low, span[0]), min(band_high, span[1])
            if y1 <= y0:
                continue  # outside what the panel shows
            shapes.append(dict(type="rect", xref=f"{xref} domain", x0=0, x1=1, yref=yref, y0=y0, y1=y1,
                               fillcolor=GRADE_COLOURS[grade], opacity=0.3, line=dict(width=0), layer="below"))
            if (y1 - y0) >= 0.16 * (span[1] - span[0]):  # a label only where it fits (~14 px of a panel)
                notes.append(dict(xref=f"{xref} domain", x=1, xanchor="right", yref=yref, y=(y0 + y1) / 2,
                                  yanchor="middle", text=f"G{grade}", showarrow=False,
                                  font=dict(size=9, color=DATA_TEXT)))
        reference = (f"reference {entry.format_value(low) if low is not None else '–'} to "
                     f"{entry.format_value(high) if high is not None else '–'} ({source})")
        traces.append(dict(type="scatter", xaxis=xref, yaxis=yref, x=_local(series["time"], tz), y=values,
                           mode="lines+markers", name=entry.label, showlegend=False,
                           line=dict(color=DATA_COLOUR, width=1.5), marker=dict(size=6, color=DATA_COLOUR),
                           hovertemplate=(f"{entry.label} %{{y:.{entry.precision}f}} {entry.unit_label}<br>"
                                          f"{reference}<br>" + HOVER_TIME + "<extra></extra>")))
        _axis(layout, yref, title=dict(text=entry.unit_label, font=TITLE_FONT), range=span)
    if not codes:
        notes.append(dict(xref="paper", yref="paper", x=0.5, y=0.3, showarrow=False,
                          text="No laboratory results in this period", font=dict(size=15, color=DATA_TEXT)))
    return _finish(panels, traces, data, tz, height=90 + 135 * rows + (60 if not codes else 0), shapes=shapes,
                   notes=notes)


def toxicity_grid_figure(data: ChartData, *, tz: tzinfo) -> go.Figure:
    """Organ system x local day: the highest CTCAE grade of the day (colour and number), the values
    behind it on hover. A day without a gradable value is left empty: not graded is not grade 0."""
    start, end = pd.DatetimeIndex([data.start, data.end]).tz_convert(tz)
    last_day = (end - pd.Timedelta(microseconds=1)).normalize()  # a period ending at midnight ends the day before
    days = pd.date_range(start.normalize().tz_localize(None), last_day.tz_localize(None), freq="D").date
    day_index = {day: i for i, day in enumerate(days)}
    system_index = {system: i for i, system in enumerate(ORGAN_SYSTEMS)}
    shape = (len(ORGAN_SYSTEMS), len(days))
    z = np.full(shape, np.nan)
    text = np.full(shape, "", dtype=object)
    hover = np.full(shape, "not graded (no gradable value recorded)", dtype=object)
    grades = data.grades
    if len(grades):
        r, c = grades["organ_system"].map(system_index), grades["day"].map(day_index)
        keep = (r.notna() & c.notna()).to_numpy()
        r, c = r[keep].astype(int).to_numpy(), c[keep].astype(int).to_numpy()
        g = grades["grade"].to_numpy()[keep].astype(int)
        z[r, c] = g
        text[r, c] = g.astype(str)
        details = grades["detail"].astype(str).to_numpy()[keep]
        hover[r, c] = [f"<b>Grade {grade}</b><br>" + html.escape(d, quote=False).replace("; ", "<br>")
                       for grade, d in zip(g, details)]  # one per graded cell
    steps = sorted(g for g in GRADE_COLOURS if g <= 4)  # grade 5 (death) is never on a live chart
    scale = []
    for i, grade in enumerate(steps):
        scale += [[i / len(steps), GRADE_COLOURS[grade]], [(i + 1) / len(steps), GRADE_COLOURS[grade]]]
    # A day the period cuts (the first and last of "Last 24 h") says so: its cells hold only part of it.
    labels = [f"{day:%a %d %b}" for day in days]
    if len(labels) and start != start.normalize():
        labels[0] += f" (from {start:%H:%M})"
    if len(labels) and end != end.normalize():
        labels[-1] += f" (to {end:%H:%M})"
    heatmap = dict(type="heatmap", z=z.tolist(), x=labels,
                   y=[s.capitalize() for s in ORGAN_SYSTEMS], text=text.tolist(), texttemplate="%{text}",
                   customdata=hover.tolist(), colorscale=scale, zmin=-0.5, zmax=len(steps) - 0.5, xgap=2, ygap=2,
                   hoverongaps=True, hovertemplate="<b>%{y}</b> · %{x}<br>%{customdata}<extra></extra>",
                   colorbar=dict(title=dict(text="CTCAE<br>grade"), tickvals=steps, thickness=12, len=0.9))
    layout = dict(height=130 + 30 * len(ORGAN_SYSTEMS), margin=GRID_MARGIN,
                  yaxis=dict(autorange="reversed", title=dict(text="Organ system", font=TITLE_FONT), showgrid=False),
                  xaxis=dict(title=dict(text=f"Local day ({zone_name(tz)})", font=TITLE_FONT), type="category",
                             showgrid=False),
                  annotations=[])
    if grades.empty:
        layout["annotations"].append(dict(xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, bgcolor="white",
                                          text="No CTCAE grade in this period: no gradable value recorded",
                                          font=dict(size=14, color=DATA_TEXT)))
    return _figure([heatmap], layout)
