"""Pure chart builders: DataFrame in, plotly Figure out (unit-tested; pages only render them)."""
from __future__ import annotations

from datetime import tzinfo

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from monitoring.catalogue import default_catalogue

BAND_COLOURS = {"low": "#2e7d32", "low-medium": "#f9a825", "medium": "#ef6c00", "high": "#c62828"}


def recent_trend(trend: pd.DataFrame, *, tz: tzinfo, title: str = "Last 24 h") -> go.Figure:
    """One small panel per numeric code (local time on the x axis, unit on the y axis)."""
    numeric = trend.dropna(subset=["value_num"])
    codes = list(dict.fromkeys(numeric["code"]))
    catalogue = default_catalogue()
    rows = max(len(codes), 1)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04 if rows > 1 else 0.1,
                        subplot_titles=[f"{catalogue[c].label} ({catalogue[c].unit_label})" for c in codes] or [""])
    for i, code in enumerate(codes, start=1):
        series = numeric[numeric["code"] == code].sort_values("observed_at")
        fig.add_trace(go.Scatter(x=series["observed_at"].dt.tz_convert(tz), y=series["value_num"],
                                 mode="lines+markers", name=catalogue[code].label, showlegend=False), row=i, col=1)
        fig.update_yaxes(title_text=catalogue[code].unit_label, row=i, col=1)
    fig.update_layout(height=110 * rows + 60, margin=dict(l=40, r=10, t=40, b=30), title=title)
    fig.update_xaxes(title_text=f"local time ({getattr(tz, 'key', str(tz))})", row=rows, col=1)
    return fig
