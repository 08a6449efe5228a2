"""Fluid balance per nursing shift and weight change from the course's baseline (capillary-leak watch).

Shifts are 8 h starting at 07:00, 15:00 and 23:00 ward time (a common ward pattern; a local choice,
set in SHIFT_STARTS). A volume belongs to the shift in which its measuring period ended.
"""
from __future__ import annotations

from datetime import datetime, tzinfo

import numpy as np
import pandas as pd

from monitoring.clinical.derived import weight_gain_percent

SHIFT_STARTS = (7, 15, 23)  # local hours


def shift_starts(moments: pd.Series, tz: tzinfo) -> pd.Series:
    """Start (local time) of the shift containing each of `moments` (tz-aware), vectorised."""
    local = pd.to_datetime(moments, utc=True).dt.tz_convert(tz)
    hour = local.dt.hour.to_numpy()
    start_hour = np.full(len(hour), SHIFT_STARTS[-1])  # before 07:00: the night shift began yesterday at 23:00
    for h in SHIFT_STARTS:
        start_hour = np.where(hour >= h, h, start_hour)
    days_back = np.where(hour < SHIFT_STARTS[0], 1, 0)
    return local.dt.normalize() + pd.to_timedelta(start_hour, unit="h") - pd.to_timedelta(days_back, unit="D")


def shift_start(moment: pd.Timestamp, tz: tzinfo) -> pd.Timestamp:
    """Start (local time) of the shift containing `moment`."""
    return shift_starts(pd.Series([moment]), tz).iloc[0]


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
    fluids["shift"] = shift_starts(fluids["observed_at"], tz)
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


FLUID_CODES = ("fluid_intake", "urine_output")


def _fluids_between(observations: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """The intake and urine volumes whose measuring period ended in [start, end)."""
    fluids = observations[observations["code"].isin(FLUID_CODES)]
    at = pd.to_datetime(fluids["observed_at"], utc=True)
    return fluids[(at >= pd.Timestamp(start)) & (at < pd.Timestamp(end))]


def _balance_words(intake: float | None, output: float | None) -> str:
    """The sentence of balance_between from the two totals (None: no volume of that kind recorded)."""
    words = [f"{label} {'none recorded' if total is None else f'{total:.0f} mL'}"
             for label, total in (("intake", intake), ("urine output", output))]
    if intake is None or output is None:
        return ", ".join(words) + ": no balance"
    return ", ".join(words) + f": balance {intake - output:+.0f} mL"


def balance_between(observations: pd.DataFrame, *, start: datetime, end: datetime) -> str:
    """'intake 2400 mL, urine output 1100 mL: balance +1300 mL' over the volumes whose measuring period
    ended in [start, end) (as a shift holds them above). A volume of one kind missing is said, and then
    there is no balance (missing is never zero: no urine recorded is not 'output 0 mL')."""
    return balances_between(observations.assign(patient_id=0), patient_ids=[0], start=start, end=end)[0]


def balances_between(observations: pd.DataFrame, *, patient_ids: list[int], start: datetime, end: datetime
                     ) -> dict[int, str]:
    """balance_between of each of these patients, from one pass over a ward's observations (the handover:
    one filter and one grouping instead of one of each per patient)."""
    fluids = _fluids_between(observations, start, end)
    totals = fluids.assign(value_num=fluids["value_num"].astype(float)).groupby(
        ["patient_id", "code"])["value_num"].sum()
    of = {(int(pid), code): float(total) for (pid, code), total in totals.items()}
    return {pid: _balance_words(of.get((pid, "fluid_intake")), of.get((pid, "urine_output"))) for pid in patient_ids}


def weight_change(observations: pd.DataFrame, baseline_kg: float | None, source: str) -> str:
    """'88.4 kg, +8.4 kg (+10.5%) from the course baseline 80.0 kg': the latest weight against the
    course's weight-gain baseline (monitoring.clinical.derived; `source` says which it is); says so when
    there is no weight or no baseline (never a gain from zero)."""
    weights = observations[observations["code"] == "weight"].sort_values("observed_at")
    if weights.empty:
        return "no weight recorded"
    latest = float(weights.iloc[-1]["value_num"])
    if baseline_kg is None or pd.isna(baseline_kg):
        return f"{latest:.1f} kg (no baseline weight for this course)"
    change = latest - baseline_kg
    return (f"{latest:.1f} kg, {change:+.1f} kg ({weight_gain_percent(latest, baseline_kg):+.1f}%) from the {source} "
            f"{baseline_kg:.1f} kg")
