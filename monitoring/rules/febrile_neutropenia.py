"""Febrile neutropenia: a fever criterion and a neutrophil criterion within 24 h of each other.

IDSA 2010 (default; Freifeld, CID 2011): a single temperature >= 38.3 °C, or >= 38.0 °C sustained
over a 1-h period (consecutive readings spanning at least 60 min, none below 38.0 in between);
with ANC < 0.5 x10^9/L, or ANC < 1.0 expected to fall below 0.5 within 48 h (here: the linear trend
of the ANC results of the previous 72 h reaches < 0.5 within 48 h). CTCAE v5.0 variant: a single
temperature > 38.3 °C or >= 38.0 °C for more than one hour, with ANC < 1.0. Onset is the time both
criteria are first known. Urgent: antibiotics are due within 1 hour (ASCO/IDSA 2018).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from monitoring.rules.common import Findings, Rule, episodes, hours_text, num_text, time_text
from monitoring.rules.context import EvalData, Series
from monitoring.thresholds import Section, Source, parser

RULE = Rule(id="febrile-neutropenia", version="1.0", section="febrile_neutropenia",
            standard="Febrile neutropenia")


@dataclass(frozen=True)
class Definition:
    name: str
    label: str
    single_c: float
    single_inclusive: bool
    sustained_c: float
    sustained: pd.Timedelta
    sustained_strictly_longer: bool
    anc_below: float
    anc_trend_below: float | None
    trend_window: pd.Timedelta | None
    trend_horizon_hours: float | None


@dataclass(frozen=True)
class FNSettings:
    definition: Definition
    pairing_window: pd.Timedelta
    episode_gap_hours: float
    antibiotics_due_minutes: float
    source: Source


@parser("febrile_neutropenia")
def parse(section: Section) -> FNSettings:
    name = section.text("definition", choices=("idsa_2010", "ctcae_5"))
    d = section.sub(name)
    has_trend = d.has("anc_trend_below")
    definition = Definition(
        name=name, label=d.text("label"),
        single_c=d.number("single_temperature_c", low=37, high=41), single_inclusive=d.flag("single_inclusive"),
        sustained_c=d.number("sustained_temperature_c", low=37, high=41),
        sustained=pd.Timedelta(minutes=d.number("sustained_minutes", low=1, high=720)),
        sustained_strictly_longer=d.flag("sustained_strictly_longer"),
        anc_below=d.number("anc_below", low=0, high=5),
        anc_trend_below=d.number("anc_trend_below", low=0, high=5) if has_trend else None,
        trend_window=pd.Timedelta(hours=d.number("trend_window_hours", low=1, high=240)) if has_trend else None,
        trend_horizon_hours=d.number("trend_horizon_hours", low=1, high=240) if has_trend else None,
    )
    return FNSettings(definition=definition,
                      pairing_window=pd.Timedelta(hours=section.number("pairing_window_hours", low=0, high=72)),
                      episode_gap_hours=section.number("episode_gap_hours", low=1, high=720),
                      antibiotics_due_minutes=section.number("antibiotics_due_minutes", low=1, high=1440),
                      source=section.source)


def fever_events(data: EvalData, temps: Series, d: Definition) -> dict:
    """Rows of `temps` at which the fever criterion is met, with what is needed to word them."""
    v, t, pid = temps.num, temps.time, temps.pid
    n = len(t)
    single = v >= d.single_c if d.single_inclusive else v > d.single_c
    febrile = v >= d.sustained_c
    # Runs of consecutive febrile readings per patient: a reading below the threshold breaks the run.
    new_patient = np.ones(n, dtype=bool)
    new_patient[1:] = pid[1:] != pid[:-1]
    breaks = ~febrile | new_patient
    run_first = np.maximum.accumulate(np.where(breaks, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
    # The run's first febrile reading: its break row when febrile (a patient's first reading), else the next.
    first_febrile = np.where(febrile[run_first], run_first, np.minimum(run_first + 1, max(n - 1, 0)))
    run_start = t[first_febrile]
    span = t - run_start
    limit = data.ticks(d.sustained)
    sustained = febrile & ((span > limit) if d.sustained_strictly_longer else (span >= limit))
    hit = np.flatnonzero(single | sustained)
    return {"pid": pid[hit], "time": t[hit], "value": v[hit], "single": single[hit], "run_start": run_start[hit],
            "start_value": v[first_febrile][hit], "span": span[hit]}


def fever_text(data: EvalData, f: dict, d: Definition, rows: np.ndarray) -> list[str]:
    value, when = num_text(f["value"][rows]), time_text(f["time"][rows], data.unit)
    span = hours_text(f["span"][rows] / data.ticks(pd.Timedelta(hours=1)))
    start_value, start = num_text(f["start_value"][rows]), time_text(f["run_start"][rows], data.unit)
    out = []
    for i, single in enumerate(f["single"][rows].tolist()):
        if single:
            out.append(f"temperature {value[i]} °C at {when[i]}")
        else:
            out.append(f"temperature >= {d.sustained_c:g} °C sustained {span[i]} ({start_value[i]} °C at {start[i]}"
                       f" to {value[i]} °C at {when[i]})")
    return out


def anc_events(data: EvalData, anc: Series, d: Definition) -> dict:
    """Rows of `anc` at which the neutrophil criterion is met (low ANC, or a falling trend)."""
    v = anc.num
    below = v < d.anc_below
    low = below.copy()
    predicted = np.full(len(v), np.nan)
    if d.anc_trend_below is not None and len(v):
        candidate = ~below & (v < d.anc_trend_below)
        if candidate.any():
            # The least-squares trend runs over whole patients (their previous results count).
            patients = np.isin(anc.pid, anc.pid[candidate])
            predicted[patients] = _trend_prediction(data, anc, patients, d.trend_window, d.trend_horizon_hours)
            low |= candidate & (predicted < d.anc_below)
    hit = np.flatnonzero(low)
    return {"pid": anc.pid[hit], "time": anc.time[hit], "value": v[hit], "below": below[hit],
            "predicted": predicted[hit]}


def anc_text(data: EvalData, a: dict, d: Definition, rows: np.ndarray) -> list[str]:
    value, when = num_text(a["value"][rows], 2), time_text(a["time"][rows], data.unit)
    predicted = num_text(np.clip(a["predicted"][rows], 0, None), 2)
    out = []
    for i, below in enumerate(a["below"][rows].tolist()):
        if below:
            out.append(f"ANC {value[i]} x10^9/L at {when[i]} (< {d.anc_below:g})")
        else:
            out.append(f"ANC {value[i]} x10^9/L at {when[i]} (< {d.anc_trend_below:g}) with a falling trend "
                       f"predicting {predicted[i]} within {d.trend_horizon_hours:g} h")
    return out


def _trend_prediction(data: EvalData, anc: Series, rows: np.ndarray, window: pd.Timedelta,
                      horizon_hours: float) -> np.ndarray:
    """Least-squares line through the patient's ANC results of the previous `window` (inclusive of the
    current one), evaluated `horizon_hours` later. NaN with fewer than two results. (pandas' rolling
    sums, so the figures match its compensated summation exactly.)"""
    pid = anc.pid[rows]
    times = pd.DatetimeIndex(anc.time[rows].view(f"M8[{data.unit}]")).tz_localize("UTC")
    first = anc.time[rows][Series(pid, anc.time[rows], pid, pid, pid, None).first_of_patient()]
    x = data.hours(anc.time[rows] - first)
    y = anc.num[rows]
    frame = pd.DataFrame({"patient_id": pid, "x": x, "y": y, "xx": x * x, "xy": x * y, "n": 1.0}, index=times)
    sums = frame.groupby("patient_id", sort=False)[["x", "y", "xx", "xy", "n"]].rolling(window, closed="both").sum()
    # groupby-rolling returns rows grouped by patient in time order: the same order as `anc`.
    n, sx, sy, sxx, sxy = (sums[c].to_numpy() for c in ("n", "x", "y", "xx", "xy"))
    denom = n * sxx - sx ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (n * sxy - sx * sy) / np.where(denom > 1e-9, denom, np.nan)
        intercept = (sy - slope * sx) / n
    prediction = intercept + slope * (x + horizon_hours)
    return np.where(n >= 2, prediction, np.nan)


def _nearest(data: EvalData, pid, time, right_pid, right_time, right_key, tolerance: float) -> np.ndarray:
    """pandas.merge_asof(direction='nearest', by=patient): position in the right arrays, -1 if none.
    Ties go backward; backward takes the last of equal times, forward the first."""
    if len(right_key) == 0:
        return np.full(len(pid), -1)
    key = data.key(pid, time)
    b = np.searchsorted(right_key, key, side="right") - 1
    sb = np.maximum(b, 0)
    b_ok = (b >= 0) & (right_pid[sb] == pid) & (time - right_time[sb] <= tolerance)
    f = np.searchsorted(right_key, key, side="left")
    sf = np.minimum(f, len(right_key) - 1)
    f_ok = (f < len(right_key)) & (right_pid[sf] == pid) & (right_time[sf] - time <= tolerance)
    backward = b_ok & (~f_ok | (time - right_time[sb] <= right_time[sf] - time))
    return np.where(backward, sb, np.where(f_ok, sf, -1))


def findings(data: EvalData, settings: FNSettings) -> Findings | None:
    d = settings.definition
    temps, anc = data.series("temperature"), data.series("anc")
    if not len(temps) or not len(anc):
        return None
    fevers, ancs = fever_events(data, temps, d), anc_events(data, anc, d)
    if not len(fevers["pid"]) or not len(ancs["pid"]):
        return None
    tolerance = data.ticks(settings.pairing_window)
    fever_key, anc_key = data.key(fevers["pid"], fevers["time"]), data.key(ancs["pid"], ancs["time"])
    # Pair each fever with the nearest neutrophil criterion within the window, and vice versa.
    to_anc = _nearest(data, fevers["pid"], fevers["time"], ancs["pid"], ancs["time"], anc_key, tolerance)
    to_fever = _nearest(data, ancs["pid"], ancs["time"], fevers["pid"], fevers["time"], fever_key, tolerance)
    f1 = np.flatnonzero(to_anc >= 0)
    a2 = np.flatnonzero(to_fever >= 0)
    fever_ref = np.concatenate([f1, to_fever[a2]])
    anc_ref = np.concatenate([to_anc[f1], a2])
    pid = np.concatenate([fevers["pid"][f1], ancs["pid"][a2]])
    block = np.r_[np.zeros(len(f1), dtype=np.int64), np.ones(len(a2), dtype=np.int64)]
    own = np.concatenate([fevers["time"][f1], ancs["time"][a2]])
    time = np.maximum(fevers["time"][fever_ref], ancs["time"][anc_ref])
    # Each side in its own time order, fever pairs first; the first pair at each (patient, time) counts.
    order = np.lexsort((np.arange(len(pid)), own, block, time, pid))
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (pid[order][1:] != pid[order][:-1]) | (time[order][1:] != time[order][:-1])
    order = order[keep]
    pid, time, fever_ref, anc_ref = pid[order], time[order], fever_ref[order], anc_ref[order]
    due = f"antibiotics due within {settings.antibiotics_due_minutes:g} min of onset"
    level = f"febrile neutropenia ({d.label})"

    def describe(rows: np.ndarray):
        fever = fever_text(data, fevers, d, fever_ref[rows])
        neutro = anc_text(data, ancs, d, anc_ref[rows])
        evidence = [f"{a}; {b}; {due}" for a, b in zip(fever, neutro)]
        return [level] * len(rows), evidence, data.context_at(pid[rows], time[rows])

    return Findings(pid, time, np.full(len(pid), 2), describe)


def evaluate(data: EvalData, thresholds) -> dict | None:
    settings: FNSettings = thresholds["febrile_neutropenia"]
    d = settings.definition
    single = (">=" if d.single_inclusive else ">") + f" {d.single_c:g} °C once"
    sustained = f">= {d.sustained_c:g} °C {'for more than' if d.sustained_strictly_longer else 'over'} " \
                f"{d.sustained.total_seconds() / 60:g} min"
    trend = (f", or < {d.anc_trend_below:g} with a trend to < {d.anc_below:g} within {d.trend_horizon_hours:g} h"
             if d.anc_trend_below is not None else "")
    rule = replace(RULE, standard=f"{RULE.standard}, {d.label}: temperature {single} or {sustained}, with ANC < "
                   f"{d.anc_below:g} x10^9/L{trend}, within {settings.pairing_window.total_seconds() / 3600:g} h of "
                   "each other")
    return episodes(data, findings(data, settings), rule, gap_hours=settings.episode_gap_hours,
                    source=settings.source)
