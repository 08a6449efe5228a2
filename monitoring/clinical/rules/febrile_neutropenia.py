"""Febrile neutropenia: a fever with the neutrophil count that belongs to it. Nothing suppresses it.

Fever (IDSA 2010, default; Freifeld, CID 2011): a single temperature >= 38.3 °C, or >= 38.0 °C
sustained over a 1-h period (consecutive readings, each at most [validity] readings_apart_hours after
the one before, spanning at least 60 min, none below 38.0 in between). CTCAE v5.0 variant: a single
temperature > 38.3 °C or >= 38.0 °C for more than one hour.

Neutrophil criterion (ANC < 0.5 x10^9/L IDSA, < 1.0 CTCAE), paired with a fever at time t:
* the latest count at or before t, while it is valid (72 h): a newer normal count supersedes an
  older low one, so an old low count is never paired once a normal one followed it;
* or the first count drawn within 24 h after t (the count taken because of the fever); the finding
  is then at that count's time (when both criteria are first known);
* a WBC below the ANC threshold counts when no ANC is as recent (the ANC cannot exceed the WBC); a
  normal WBC never rules out a low ANC;
* IDSA's "ANC < 1.0 expected to fall below 0.5 within 48 h": the linear trend of the previous 72 h
  of counts predicts < 0.5 within 48 h, or the course says neutropenia is expected (after
  lymphodepletion, or the temozolomide regimen), in which case any ANC below 1.0 counts.
Urgent: antibiotics are due within 1 hour (ASCO/IDSA 2018).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from monitoring.clinical.rules.common import Findings, Rule, episodes
from monitoring.clinical.rules.context import NAT, EvalData, Series, take
from monitoring.clinical.rules.evidence import isos, limit_text, measured, number, template
from monitoring.clinical.thresholds import Refused, SectionModel, Text, ThresholdsModel, section

LEVEL = "febrile neutropenia"
RULE = Rule(id="febrile-neutropenia", version="2.0", section="febrile_neutropenia",
            standard="Febrile neutropenia", levels=(LEVEL,))


class Definition(ThresholdsModel):
    """One definition of febrile neutropenia: IDSA 2010 (fever >= 38.3 once or >= 38.0 sustained over 1 h;
    ANC < 0.5, or < 1.0 expected to fall below 0.5 within 48 h) or CTCAE v5.0 (> 38.3, or >= 38 for more
    than an hour; ANC < 1.0; no predicted-decline arm)."""

    label: Text = Field(description="The definition's name as shown with the alerts")
    single_c: float = Field(alias="single_temperature_c", ge=37, le=41, description="A single temperature (°C) ...")
    single_inclusive: bool = Field(description="... at or above it (true) or above it (false)")
    sustained_c: float = Field(alias="sustained_temperature_c", ge=37, le=41, description=(
        "A sustained temperature (°C), at or above ..."))
    sustained_minutes: float = Field(ge=1, le=720, description="... for this long (min)")
    sustained_strictly_longer: bool = Field(description="Sustained for more than (true) or at least (false) that long")
    anc_below: float = Field(ge=0, le=5, description="Neutropenia: ANC below this (10*9/L)")
    anc_trend_below: float | None = Field(None, ge=0, le=5, description=(
        "Predicted decline: an ANC below this (10*9/L) whose trend predicts anc_below within the horizon"))
    trend_window_hours: float | None = Field(None, ge=1, le=240, description="The trend uses the ANC results of "
                                                                             "this many hours (h)")
    trend_horizon_hours: float | None = Field(None, ge=1, le=240, description="The prediction's horizon (h)")

    sustained = property(lambda self: pd.Timedelta(minutes=self.sustained_minutes))
    trend_window = property(lambda self: None if self.trend_window_hours is None
                            else pd.Timedelta(hours=self.trend_window_hours))

    @model_validator(mode="after")
    def _trend_arm_complete(self) -> Definition:
        for key in ("trend_window_hours", "trend_horizon_hours"):
            if self.anc_trend_below is not None and getattr(self, key) is None:
                raise Refused(key, "missing (anc_trend_below needs it)")
        return self


@section("febrile_neutropenia")
class FNSettings(SectionModel):
    """[febrile_neutropenia]: which definition is in force, and how a fever is paired with a count (IDSA
    2010, Freifeld CID 2011; antibiotics within 1 h, ASCO/IDSA 2018)."""

    definition_name: Literal["idsa_2010", "ctcae_5"] = Field(alias="definition", description="The definition in "
                                                                                             "force")
    idsa_2010: Definition | None = Field(None, description="IDSA 2010 definition")
    ctcae_5: Definition | None = Field(None, description="CTCAE v5.0 Febrile neutropenia")
    anc_valid_hours: float = Field(ge=1, le=336, description="A low count stays valid this long for a later fever "
                                                             "(h; local choice)")
    anc_after_fever_hours: float = Field(ge=0, le=72, description="Or the first count drawn within this long after "
                                                                  "the fever (h)")
    anc_expected_fall_below: float = Field(ge=0, le=5, description=(
        "Course flag neutropenia_expected: an ANC below this counts (10*9/L); not below the definition's anc_below"))
    episode_gap_hours: float = Field(ge=1, le=720, description="A new episode starts when the criteria have not "
                                                               "been met for this long (h)")
    antibiotics_due_minutes: float = Field(ge=1, le=1440, description="Antibiotics are due within this long (min)")

    anc_valid = property(lambda self: pd.Timedelta(hours=self.anc_valid_hours))
    anc_after_fever = property(lambda self: pd.Timedelta(hours=self.anc_after_fever_hours))

    @property
    def definition(self) -> Definition:
        return getattr(self, self.definition_name)

    @model_validator(mode="after")
    def _definition_in_force_given(self) -> FNSettings:
        if self.definition is None:
            raise Refused(self.definition_name, "missing (the definition in force)")
        if self.anc_expected_fall_below < self.definition.anc_below:
            raise Refused("anc_expected_fall_below",
                          f"must not be below the definition's anc_below ({self.definition.anc_below:g})")
        return self


def fever_events(data: EvalData, temps: Series, d: Definition) -> dict:
    """Rows of `temps` at which the fever criterion is met, with what is needed to word them. A
    sustained run is broken by a reading below the threshold or a gap longer than readings_apart."""
    v, t, pid = temps.num, temps.time, temps.pid
    n = len(t)
    single = v >= d.single_c if d.single_inclusive else v > d.single_c
    febrile = v >= d.sustained_c
    new_patient = np.ones(n, dtype=bool)
    new_patient[1:] = pid[1:] != pid[:-1]
    gap = np.zeros(n, dtype=bool)
    gap[1:] = (t[1:] - t[:-1]) > data.ticks(data.validity.readings_apart)
    breaks = ~febrile | new_patient | gap
    run_first = np.maximum.accumulate(np.where(breaks, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
    # The run's first febrile reading: its break row when febrile (a patient's first reading, or the
    # first after a gap), else the next.
    first_febrile = np.where(febrile[run_first], run_first, np.minimum(run_first + 1, max(n - 1, 0)))
    run_start = t[first_febrile]
    span = t - run_start
    limit = data.ticks(d.sustained)
    sustained = febrile & ((span > limit) if d.sustained_strictly_longer else (span >= limit))
    hit = np.flatnonzero(single | sustained)
    return {"pid": pid[hit], "time": t[hit], "value": v[hit], "single": single[hit], "run_start": run_start[hit],
            "start_value": v[first_febrile][hit], "span": span[hit]}


def low_counts(data: EvalData, anc: Series, wbc: Series, s: FNSettings) -> tuple[np.ndarray, np.ndarray,
                                                                                np.ndarray, np.ndarray]:
    """For each ANC row: does it meet the neutrophil criterion, and how ('below', 'expected', 'trend');
    the predicted value of the trend arm. For each WBC row: is it below the threshold that applies."""
    d = s.definition
    expected = data.course("neutropenia_expected")
    anc_limit = np.where(expected[anc.pid], max(d.anc_below, s.anc_expected_fall_below), d.anc_below)
    below = anc.num < d.anc_below
    by_expectation = ~below & (anc.num < anc_limit)
    predicted = np.full(len(anc), np.nan)
    by_trend = np.zeros(len(anc), dtype=bool)
    if d.anc_trend_below is not None and len(anc):
        candidate = ~below & ~by_expectation & (anc.num < d.anc_trend_below)
        if candidate.any():
            patients = np.isin(anc.pid, anc.pid[candidate])
            predicted[patients] = _trend_prediction(data, anc, patients, d.trend_window, d.trend_horizon_hours)
            by_trend = candidate & (predicted < d.anc_below)
    how = np.select([below, by_expectation, by_trend], ["below", "expected", "trend"], "")
    wbc_limit = np.where(expected[wbc.pid], max(d.anc_below, s.anc_expected_fall_below), d.anc_below)
    return below | by_expectation | by_trend, how, predicted, wbc.num < wbc_limit


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


def first_after(data: EvalData, pid: np.ndarray, time: np.ndarray, series: Series,
                within: pd.Timedelta) -> np.ndarray:
    """Position in `series` of each patient's first row strictly after `time`, within `within`; -1 if none."""
    if not len(series) or not len(pid):
        return np.full(len(pid), -1, dtype=np.int64)
    idx = np.searchsorted(series.key, data.key(pid, time), side="right")
    safe = np.minimum(idx, len(series) - 1)
    ok = (idx < len(series)) & (series.pid[safe] == pid) & (series.time[safe] - time <= data.ticks(within))
    return np.where(ok, safe, -1)


def findings(data: EvalData, s: FNSettings) -> Findings | None:
    d = s.definition
    temps, anc, wbc = data.series("temperature"), data.series("anc"), data.series("wbc")
    if not len(temps) or not (len(anc) or len(wbc)):
        return None
    fevers = fever_events(data, temps, d)
    if not len(fevers["pid"]):
        return None
    anc_low, how, predicted, wbc_low = low_counts(data, anc, wbc, s)
    fpid, ftime = fevers["pid"], fevers["time"]
    valid = s.anc_valid
    # Arm 1: the latest count at or before the fever (a WBC only when no ANC is as recent).
    a1 = data.asof(fpid, ftime, anc, valid)
    w1 = data.asof(fpid, ftime, wbc, valid)
    a1_time, w1_time = take(anc.time, a1, NAT), take(wbc.time, w1, NAT)
    # A WBC can show neutropenia (the ANC cannot exceed it) but never rule it out: a normal WBC may
    # be mostly lymphocytes, so a newer normal WBC leaves an older low ANC standing.
    anc_met = take(anc_low, a1, False)
    use_wbc1 = (w1 >= 0) & ((a1 < 0) | (w1_time > a1_time)) & take(wbc_low, w1, False) & ~anc_met
    met1 = anc_met | use_wbc1
    # Arm 2: the first count drawn within 24 h after the fever.
    a2 = first_after(data, fpid, ftime, anc, s.anc_after_fever)
    w2 = first_after(data, fpid, ftime, wbc, s.anc_after_fever)
    a2_time, w2_time = take(anc.time, a2, NAT), take(wbc.time, w2, NAT)
    # A WBC counts only when drawn before the first ANC after the fever (an ANC at the same time wins).
    use_wbc2 = (w2 >= 0) & take(wbc_low, w2, False) & ((a2 < 0) | (w2_time < a2_time))
    met2 = use_wbc2 | ((a2 >= 0) & take(anc_low, a2, False))
    when2 = np.where(use_wbc2, w2_time, a2_time)

    f1, f2 = np.flatnonzero(met1), np.flatnonzero(met2 & ~met1)
    fever_ref = np.concatenate([f1, f2])
    count_is_wbc = np.concatenate([use_wbc1[f1], use_wbc2[f2]])
    count_ref = np.concatenate([np.where(use_wbc1, w1, a1)[f1], np.where(use_wbc2, w2, a2)[f2]])
    pid = fpid[fever_ref]
    time = np.concatenate([ftime[f1], when2[f2]])
    # One finding per (patient, time): the earliest fever paired with it.
    order = np.lexsort((fever_ref, time, pid))
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (pid[order][1:] != pid[order][:-1]) | (time[order][1:] != time[order][:-1])
    order = order[keep]
    pid, time, fever_ref, count_ref, count_is_wbc = (pid[order], time[order], fever_ref[order], count_ref[order],
                                                     count_is_wbc[order])
    data.cache["fn_times"] = (pid, time)
    unit = data.unit

    def describe(rows: np.ndarray):
        evidence = []
        f, c, w = fever_ref[rows], count_ref[rows], count_is_wbc[rows]
        fever_at, start_at = isos(fevers["time"][f], unit), isos(fevers["run_start"][f], unit)
        anc_at, wbc_at = isos(take(anc.time, np.where(w, -1, c), NAT), unit), isos(take(wbc.time, np.where(w, c, -1),
                                                                                         NAT), unit)
        for i, k in enumerate(f.tolist()):
            if fevers["single"][k]:
                fever = {"criterion": "febrile_neutropenia.fever", "kind": "met", "code": "temperature",
                         "value": number(fevers["value"][k]), "unit": "Cel", "at": fever_at[i],
                         "op": ">=" if d.single_inclusive else ">", "limit": d.single_c}
            else:
                fever = {"criterion": "febrile_neutropenia.sustained_fever", "kind": "met", "code": "temperature",
                         "value": number(fevers["value"][k]), "unit": "Cel", "at": fever_at[i],
                         "from_value": number(fevers["start_value"][k]), "from_at": start_at[i],
                         "hours": float(data.hours(np.array([fevers["span"][k]]))[0]), "limit": d.sustained_c}
            j = int(c[i])
            if w[i]:
                count = {"criterion": "febrile_neutropenia.wbc", "kind": "met", "code": "wbc",
                         "value": number(wbc.num[j]), "unit": "10*9/L", "at": wbc_at[i], "op": "<",
                         "limit": float(wbc_limit_for(data, s, int(wbc.pid[j])))}
            else:
                basis = str(how[j])
                count = {"criterion": "febrile_neutropenia.anc", "kind": "met", "code": "anc",
                         "value": number(anc.num[j]), "unit": "10*9/L", "at": anc_at[i], "op": "<",
                         "limit": d.anc_below if basis in ("below", "trend") else s.anc_expected_fall_below,
                         "basis": basis}
                if basis == "trend":
                    count.update(predicted=number(max(predicted[j], 0.0)), horizon=d.trend_horizon_hours,
                                 trend_below=d.anc_trend_below)
            evidence.append([fever, count, {"criterion": "febrile_neutropenia.antibiotics", "kind": "note",
                                            "minutes": s.antibiotics_due_minutes}])
        return [LEVEL] * len(rows), evidence, data.context_at(pid[rows], time[rows])

    return Findings(pid, time, np.full(len(pid), 2), describe)


def wbc_limit_for(data: EvalData, s: FNSettings, patient: int) -> float:
    d = s.definition
    return max(d.anc_below, s.anc_expected_fall_below) if data.course("neutropenia_expected")[patient] else d.anc_below


def fn_times(data: EvalData) -> tuple[np.ndarray, np.ndarray]:
    """(patient, time) of every febrile-neutropenia finding of this evaluation (for the rules that
    must never explain such a patient's findings away, and for the IL-2 hold check)."""
    if "fn_times" not in data.cache:
        data.cache["fn_times"] = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        findings(data, data.thresholds["febrile_neutropenia"])
    return data.cache["fn_times"]


def standard(s: FNSettings) -> str:
    d = s.definition
    single = (">=" if d.single_inclusive else ">") + f" {d.single_c:g} °C once"
    sustained = f">= {d.sustained_c:g} °C {'for more than' if d.sustained_strictly_longer else 'over'} " \
                f"{d.sustained.total_seconds() / 60:g} min"
    trend = (f", or < {d.anc_trend_below:g} with a trend to < {d.anc_below:g} within {d.trend_horizon_hours:g} h"
             if d.anc_trend_below is not None else "")
    return (f"{RULE.standard}, {d.label}: temperature {single} or {sustained}, with ANC < {d.anc_below:g} x10^9/L"
            f"{trend} (< {s.anc_expected_fall_below:g} when the course expects neutropenia: after lymphodepletion "
            f"or with temozolomide); the count is the latest at or before the fever (valid "
            f"{s.anc_valid.total_seconds() / 3600:g} h; a newer normal count supersedes a low one) or the first "
            f"within {s.anc_after_fever.total_seconds() / 3600:g} h after it; a WBC below the threshold counts "
            "when no ANC is as recent; never explained away by an IL-2 dose")


def evaluate(data: EvalData, thresholds) -> dict | None:
    s: FNSettings = thresholds["febrile_neutropenia"]
    return episodes(data, findings(data, s), replace(RULE, standard=standard(s)), gap_hours=s.episode_gap_hours,
                    source=s.source)


# --- wording ---------------------------------------------------------------------------------------

@template("febrile_neutropenia.fever")
def _fever(item, when) -> str:
    return f"temperature {item['value']:.1f} °C at {when(item['at'])}"


@template("febrile_neutropenia.sustained_fever")
def _sustained(item, when) -> str:
    minutes = round(item["hours"] * 60)
    return (f"temperature >= {item['limit']:g} °C sustained {minutes // 60} h {minutes % 60} min "
            f"({item['from_value']:.1f} °C at {when(item['from_at'])} to {item['value']:.1f} °C at {when(item['at'])})")


@template("febrile_neutropenia.anc")
def _anc(item, when) -> str:
    text = f"ANC {item['value']:.2f} x10^9/L at {when(item['at'])}"
    if item.get("basis") == "trend":
        return (f"{text} (< {item['trend_below']:g}) with a falling trend predicting {item['predicted']:.2f} within "
                f"{item['horizon']:g} h")
    if item.get("basis") == "expected":
        return f"{text} (< {item['limit']:g}, neutropenia expected for this course)"
    return f"{text} (< {item['limit']:g})"


@template("febrile_neutropenia.wbc")
def _wbc(item, when) -> str:
    return f"{measured(item, when)}{limit_text(item)}: no ANC as recent, and the ANC cannot exceed the WBC"


@template("febrile_neutropenia.antibiotics")
def _antibiotics(item, when) -> str:
    return f"antibiotics due within {item['minutes']:g} min of onset"
