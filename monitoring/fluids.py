"""Fluid balance per nursing shift and weight change from the course baseline (capillary-leak watch).

Shifts are 8 h starting at 07:00, 15:00 and 23:00 ward time (a common ward pattern; a local choice,
set in SHIFT_STARTS). A volume belongs to the shift in which its measuring period ended.
"""
from __future__ import annotations

from datetime import datetime, tzinfo

import pandas as pd

SHIFT_STARTS = (7, 15, 23)  # local hours


def shift_start(moment: pd.Timestamp, tz: tzinfo) -> pd.Timestamp:
    """Start (local time) of the shift containing `moment`."""
    local = moment.tz_convert(tz)
    hour = local.hour
    start_hour = max((h for h in SHIFT_STARTS if h <= hour), default=SHIFT_STARTS[-1])
    start = local.normalize() + pd.Timedelta(hours=start_hour)
    if start_hour > hour:  # before 07:00: the night shift began yesterday at 23:00
        start -= pd.Timedelta(days=1)
    return start


def shift_balance(observations: pd.DataFrame, *, tz: tzinfo, now: datetime, hours: int = 24) -> pd.DataFrame:
    """Intake, urine output and balance per shift over the last `hours`, with running totals (mL).

    `observations`: the store's frame (code, value_num, observed_at). Missing volumes stay missing
    (a shift with no urine output recorded shows '–', never 0)."""
    since = pd.Timestamp(now) - pd.Timedelta(hours=hours)
    fluids = observations[observations["code"].isin(["fluid_intake", "urine_output"])
                          & (observations["observed_at"] > since)].copy()
    columns = ["Shift", "Intake (mL)", "Urine output (mL)", "Balance (mL)", "Running balance (mL)"]
    if fluids.empty:
        return pd.DataFrame(columns=columns)
    fluids["shift"] = [shift_start(t, tz) for t in fluids["observed_at"]]
    table = fluids.pivot_table(index="shift", columns="code", values="value_num", aggfunc="sum")
    intake = table["fluid_intake"] if "fluid_intake" in table else pd.Series(float("nan"), index=table.index)
    output = table["urine_output"] if "urine_output" in table else pd.Series(float("nan"), index=table.index)
    balance = intake - output
    out = pd.DataFrame({
        "Shift": [f"{s:%a %H:%M}–{(s + pd.Timedelta(hours=8)):%H:%M}" for s in table.index],
        "Intake (mL)": intake.to_numpy(), "Urine output (mL)": output.to_numpy(), "Balance (mL)": balance.to_numpy(),
        "Running balance (mL)": balance.cumsum().to_numpy(),
    })
    return out[columns]


def weight_change(observations: pd.DataFrame, baseline_kg: float | None) -> str:
    """'82.4 kg at 06:05, +3.0 kg (+3.8%) from the course baseline 79.4 kg'; says so when unknown."""
    weights = observations[observations["code"] == "weight"].sort_values("observed_at")
    if weights.empty:
        return "no weight recorded"
    latest = weights.iloc[-1]
    base = baseline_kg if baseline_kg is not None and not pd.isna(baseline_kg) else weights.iloc[0]["value_num"]
    source = "course baseline" if baseline_kg is not None and not pd.isna(baseline_kg) else "first recorded weight"
    change = latest["value_num"] - base
    return (f"{latest['value_num']:.1f} kg, {change:+.1f} kg ({change / base * 100:+.1f}%) from the {source} "
            f"{base:.1f} kg")
