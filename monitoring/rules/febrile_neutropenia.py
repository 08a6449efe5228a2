"""Febrile neutropenia: a fever criterion and a neutrophil criterion within 24 h of each other.

IDSA 2010 (default; Freifeld, CID 2011): a single temperature >= 38.3 °C, or >= 38.0 °C sustained
over a 1-h period (consecutive readings spanning at least 60 min, none below 38.0 in between);
with ANC < 0.5 x10^9/L, or ANC < 1.0 expected to fall below 0.5 within 48 h (here: the linear trend
of the ANC results of the previous 72 h reaches < 0.5 within 48 h). CTCAE v5.0 variant: a single
temperature > 38.3 °C or >= 38.0 °C for more than one hour, with ANC < 1.0. Onset is the time both
criteria are first known. Urgent: antibiotics are due within 1 hour (ASCO/IDSA 2018).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.rules.common import Rule, empty_findings, episodes, fmt_num, fmt_time, hours_text
from monitoring.rules.context import EvalData
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


def fever_events(temps: pd.DataFrame, d: Definition) -> pd.DataFrame:
    """Times at which the fever criterion is met, with the reading(s) that met it."""
    t = temps[["patient_id", "time", "value_num"]].sort_values(["patient_id", "time"], kind="stable") \
        .reset_index(drop=True)
    single = t["value_num"] >= d.single_c if d.single_inclusive else t["value_num"] > d.single_c
    febrile = t["value_num"] >= d.sustained_c
    # Runs of consecutive febrile readings per patient: a reading below the threshold breaks the run.
    breaks = (~febrile) | t["patient_id"].ne(t["patient_id"].shift())
    run = breaks.cumsum()
    run_start = t["time"].where(febrile).groupby(run).transform("min")
    span = t["time"] - run_start
    sustained = febrile & ((span > d.sustained) if d.sustained_strictly_longer else (span >= d.sustained))
    hit = single | sustained
    out = t[hit].copy()
    start_value = t["value_num"].where(febrile).groupby(run).transform("first")[hit]
    single_text = ("temperature " + fmt_num(out["value_num"]) + " °C at " + fmt_time(out["time"]))
    sustained_text = ("temperature >= " + f"{d.sustained_c:g}" + " °C sustained " + hours_text(span[hit] / pd.Timedelta(hours=1))
                      + " (" + fmt_num(start_value) + " °C at " + fmt_time(run_start[hit]) + " to "
                      + fmt_num(out["value_num"]) + " °C at " + fmt_time(out["time"]) + ")")
    out["fever_text"] = single_text.where(single[hit], sustained_text)
    return out.rename(columns={"time": "fever_time"})[["patient_id", "fever_time", "fever_text"]]


def anc_events(anc: pd.DataFrame, d: Definition) -> pd.DataFrame:
    """Times at which the neutrophil criterion is met (low ANC, or a falling trend)."""
    a = anc[["patient_id", "time", "value_num"]].sort_values(["patient_id", "time"], kind="stable") \
        .reset_index(drop=True)
    low = a["value_num"] < d.anc_below
    text = "ANC " + fmt_num(a["value_num"], 2) + " x10^9/L at " + fmt_time(a["time"]) + f" (< {d.anc_below:g})"
    predicted = pd.Series(np.nan, index=a.index)
    if d.anc_trend_below is not None and len(a):
        predicted = _trend_prediction(a, d.trend_window, d.trend_horizon_hours)
        trending = (~low) & (a["value_num"] < d.anc_trend_below) & (predicted < d.anc_below)
        trend_text = ("ANC " + fmt_num(a["value_num"], 2) + " x10^9/L at " + fmt_time(a["time"])
                      + f" (< {d.anc_trend_below:g}) with a falling trend predicting "
                      + fmt_num(predicted.clip(lower=0), 2) + f" within {d.trend_horizon_hours:g} h")
        text = text.where(low, trend_text)
        low = low | trending
    out = a[low].assign(anc_text=text[low])
    return out.rename(columns={"time": "anc_time"})[["patient_id", "anc_time", "anc_text"]]


def _trend_prediction(a: pd.DataFrame, window: pd.Timedelta, horizon_hours: float) -> pd.Series:
    """Least-squares line through the patient's ANC results of the previous `window` (inclusive of the
    current one), evaluated `horizon_hours` later. NaN with fewer than two results."""
    x = (a["time"] - a.groupby("patient_id")["time"].transform("min")).dt.total_seconds() / 3600
    frame = pd.DataFrame({"patient_id": a["patient_id"], "time": a["time"], "x": x, "y": a["value_num"],
                          "xx": x * x, "xy": x * a["value_num"], "n": 1.0})
    sums = (frame.set_index("time").groupby("patient_id", sort=False)[["x", "y", "xx", "xy", "n"]]
            .rolling(window, closed="both").sum().reset_index(drop=True))
    # groupby-rolling returns rows grouped by patient in time order: the same order as `a`.
    denom = sums["n"] * sums["xx"] - sums["x"] ** 2
    slope = (sums["n"] * sums["xy"] - sums["x"] * sums["y"]) / denom.where(denom > 1e-9)
    intercept = (sums["y"] - slope * sums["x"]) / sums["n"]
    prediction = intercept + slope * (x.to_numpy() + horizon_hours)
    return pd.Series(prediction.to_numpy(), index=a.index).where(sums["n"].to_numpy() >= 2)


def findings(data: EvalData, settings: FNSettings) -> pd.DataFrame:
    d = settings.definition
    fevers = fever_events(data.series("temperature"), d)
    ancs = anc_events(data.series("anc"), d)
    if fevers.empty or ancs.empty:
        return empty_findings()
    # Pair each fever with the nearest neutrophil criterion within the window, and vice versa.
    pairs = []
    for left, right, lt, rt in ((fevers, ancs, "fever_time", "anc_time"), (ancs, fevers, "anc_time", "fever_time")):
        merged = pd.merge_asof(left.sort_values(lt), right.sort_values(rt), left_on=lt, right_on=rt,
                               by="patient_id", direction="nearest", tolerance=settings.pairing_window)
        pairs.append(merged.dropna(subset=[rt]))
    both = pd.concat(pairs, ignore_index=True)
    both["time"] = both[["fever_time", "anc_time"]].max(axis=1)
    both = both.sort_values(["patient_id", "time"], kind="stable").drop_duplicates(["patient_id", "time"])
    ctx = data.dose_context(both[["patient_id", "time"]].reset_index(drop=True))
    both = both.reset_index(drop=True)
    due = f"antibiotics due within {settings.antibiotics_due_minutes:g} min of onset"
    return pd.DataFrame({
        "patient_id": both["patient_id"], "time": both["time"],
        "level": f"febrile neutropenia ({d.label})", "severity": "urgent",
        "evidence": both["fever_text"] + "; " + both["anc_text"] + "; " + due,
        "context": data.context_text(both[["patient_id", "time"]], ctx),
    })


def evaluate(data: EvalData, thresholds) -> pd.DataFrame:
    settings: FNSettings = thresholds["febrile_neutropenia"]
    d = settings.definition
    single = (">=" if d.single_inclusive else ">") + f" {d.single_c:g} °C once"
    sustained = f">= {d.sustained_c:g} °C {'for more than' if d.sustained_strictly_longer else 'over'} " \
                f"{d.sustained.total_seconds() / 60:g} min"
    trend = (f", or < {d.anc_trend_below:g} with a trend to < {d.anc_below:g} within {d.trend_horizon_hours:g} h"
             if d.anc_trend_below is not None else "")
    rule = Rule(RULE.id, RULE.version, RULE.section,
                f"{RULE.standard}, {d.label}: temperature {single} or {sustained}, with ANC < {d.anc_below:g} "
                f"x10^9/L{trend}, within {settings.pairing_window.total_seconds() / 3600:g} h of each other")
    return episodes(findings(data, settings), rule, gap_hours=settings.episode_gap_hours, source=settings.source)
