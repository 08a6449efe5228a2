"""Which observation sets the IL-2 dose explains, and what it explains: judged once per evaluation.

A set is classed as the drug's expected effect (`il2-expected-effect`, severity info, shown and
counted) only if it falls in the post-dose window of the patient's regimen, something in it is
explained (a fever up to the top of the expected band, [il2_schedule] expected_temperature_c, or a
heart rate above 90/min up to expected_heart_rate_at_or_below), the set's NEWS2 is complete (every
parameter known, recorded or valid from an earlier set: missing is never normal), and nothing
triggers once the temperature and heart-rate points of what is explained are removed:
  the remaining NEWS2 aggregate below the urgent response threshold (5), no other parameter scoring
  3 (RCP 2017 Chart 1 red score), qSOFA below 2, lactate not above the sepsis threshold, no IL-2 hold
  criterion that is a danger sign in itself (label withhold: SBP < 90, SpO2 < 90, not Alert, GCS < 15,
  moderate confusion, arrhythmia; infection; grade 4; vasopressors), no febrile neutropenia, no
  positive culture. Hypothermia (< 36 °C), a fever above the band and a heart rate above the ceiling
  are never expected. Otherwise the set is judged on its full score, and its evidence names the expected part
  apart ("T 39.5 °C, HR 135/min expected after IL-2 dose 5; not explained: SBP 85 mmHg").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.clinical.rules import hold_criteria as hc
from monitoring.clinical.rules.context import NAT, POINT_COLUMNS, DoseContext, EvalData, take
from monitoring.clinical.rules.evidence import QUANTITIES, isos, label, template
from monitoring.clinical.scores import NEWS2_PARAMETERS

#: The NEWS2 parameters whose codes the evidence names (on_oxygen is shown as the oxygen points).
PARAMETER_CODES = dict(zip(NEWS2_PARAMETERS, NEWS2_PARAMETERS))


@dataclass
class Judgement:
    ctx: DoseContext
    in_window: np.ndarray
    fever: np.ndarray              # temperature >= the sepsis fever level
    temp_explained: np.ndarray     # the temperature's points are the drug's (fever within the band)
    hr_explained: np.ndarray       # the heart rate's points are the drug's (tachycardia up to the ceiling)
    remaining: np.ndarray          # NEWS2 points present, without the explained ones
    remaining_red: np.ndarray      # a parameter not explained scores 3
    hypothermia: np.ndarray
    above_band: np.ndarray         # fever above the expected band
    above_ceiling: np.ndarray      # heart rate above the ceiling
    lactate: np.ndarray            # the lactate judged with the set (latest valid, or the first within
    lactate_time: np.ndarray       #   late_result_hours after it)
    lactate_previous: np.ndarray
    danger: np.ndarray             # a danger-sign hold criterion is met at the set
    danger_ids: list[list[str]] | None
    fn: np.ndarray                 # a febrile-neutropenia finding at or before the set (its episode)
    expected: np.ndarray
    qsofa_positive: np.ndarray
    lactate_high: np.ndarray
    danger_assessment: object


def judge(data: EvalData) -> Judgement:
    """The judgement of every set in data.sets (cached: news2, sepsis and the expected-effect rule read it)."""
    if "judgement" in data.cache:
        return data.cache["judgement"]
    t = data.thresholds
    schedule, sepsis = t["il2_schedule"], t["sepsis_screen"]
    sets = data.sets
    pid, time = sets["pid"], sets["time"]
    ctx = data.dose_context(pid, time)
    in_window = ctx.in_window
    temp, hr = sets["temperature"], sets["heart_rate"]
    low, high = schedule.expected_temperature
    ceiling = schedule.expected_heart_rate_at_or_below
    heart_zero_band_top = t["news2"].heart_rate.upper_bounds[2]     # 51-90 scores 0 (Chart 1)
    fever = temp >= sepsis.fever_c
    temp_explained = in_window & (temp >= low) & (temp <= high)
    hr_explained = in_window & (hr > heart_zero_band_top) & (hr <= ceiling)
    points = {name: sets[column] for name, column in zip(NEWS2_PARAMETERS, POINT_COLUMNS)}
    explained_points = (np.where(temp_explained, np.nan_to_num(points["temperature"]), 0)
                        + np.where(hr_explained, np.nan_to_num(points["heart_rate"]), 0))
    remaining = sets["news2_partial"] - explained_points
    red = t["news2"].red_score_points
    remaining_red = np.zeros(len(pid), dtype=bool)
    for name in NEWS2_PARAMETERS:
        scored = np.nan_to_num(points[name]) >= red
        if name == "temperature":
            scored &= ~temp_explained
        elif name == "heart_rate":
            scored &= ~hr_explained
        remaining_red |= scored
    # Hypothermia (SIRS < 36 °C, as the sepsis screen reads it) is never expected; 36.0 °C scores a
    # NEWS2 point that stays in the rest of the score.
    hypothermia = temp < t["sirs"].temperature_below
    # 'Nothing triggers' cannot be shown when a NEWS2 parameter is unknown (missing is never normal).
    complete = ~np.isnan(sets["news2"])
    above_band = in_window & (temp > high)
    above_ceiling = in_window & (hr > ceiling)

    lactate, lactate_time, previous = judged_lactate(data, pid, time)
    lactate_high = lactate > sepsis.lactate_above
    qsofa_positive = sets["qsofa"] >= t["qsofa"].positive_at_or_above

    # Danger-sign hold criteria at the set (they are never an expected effect).
    from monitoring.clinical.rules.il2_hold import Assessment
    danger_check = Assessment(data, pid, time, t["il2_hold"], np.ones(len(pid), dtype=bool), criteria=hc.DANGER)
    danger = (danger_check.n_absolute + danger_check.n_discontinue + danger_check.n_relative) > 0

    from monitoring.clinical.rules.febrile_neutropenia import fn_times
    fn = _found_before(data, pid, time, fn_times(data),
                       pd.Timedelta(hours=t["febrile_neutropenia"].episode_gap_hours))

    urgent = t["news2"].aggregate_upper_bounds[0] + 1   # the urgent response threshold (5)
    # Something the dose explains: a fever up to the top of the band, or a tachycardia up to the ceiling.
    explained_something = (in_window & fever & (temp <= high)) | hr_explained
    expected = (in_window & explained_something & complete & (remaining < urgent) & ~remaining_red
                & ~qsofa_positive & ~lactate_high & ~danger & ~fn & ~hypothermia & ~above_band & ~above_ceiling)
    judged = Judgement(ctx, in_window, fever, temp_explained, hr_explained, remaining, remaining_red, hypothermia,
                       above_band, above_ceiling, lactate, lactate_time, previous, danger, None, fn, expected,
                       qsofa_positive, lactate_high, danger_check)
    data.cache["judgement"] = judged
    return judged


def judged_lactate(data: EvalData, pid: np.ndarray, time: np.ndarray):
    """The lactate judged with each set: the worse (higher) of the latest valid one at or before it
    and the first result within late_result_hours after it (drawn because of the set): a normal
    result after a raised one never hides it; and the result before the chosen one (within the lab
    validity) for a rising lactate."""
    s = data.thresholds["sepsis_screen"]
    series = data.series("lactate")
    n = len(pid)
    if not len(series):
        return np.full(n, np.nan), np.full(n, NAT), np.full(n, np.nan)
    before = data.asof(pid, time, series, data.validity.labs)
    late = np.searchsorted(series.key, data.key(pid, time), side="right")
    safe = np.minimum(late, len(series) - 1)
    late_ok = ((late < len(series)) & (series.pid[safe] == pid)
               & (series.time[safe] - time <= data.ticks(pd.Timedelta(hours=s.late_result_hours))))
    late_value, before_value = np.where(late_ok, series.num[safe], np.nan), take(series.num, before, np.nan)
    idx = np.where(late_ok & ~(before_value >= late_value), safe, before)
    value, when = take(series.num, idx, np.nan), take(series.time, idx, NAT)
    prev = take(series.previous(), idx, -1)
    prev_ok = (prev >= 0) & (when - take(series.time, prev, NAT) <= data.ticks(data.validity.labs))
    return value, when, np.where(prev_ok, take(series.num, prev, np.nan), np.nan)


def _found_before(data: EvalData, pid, time, found: tuple[np.ndarray, np.ndarray], gap: pd.Timedelta) -> np.ndarray:
    """Where another rule's finding lies at or before each moment, within `gap`."""
    f_pid, f_time = found
    if not len(f_pid):
        return np.zeros(len(pid), dtype=bool)
    keys = np.sort(data.key(f_pid, f_time))
    idx = np.searchsorted(keys, data.key(pid, time), side="right") - 1
    safe = np.maximum(idx, 0)
    return (idx >= 0) & (keys[safe] >= data.key(pid, time) - data.ticks(gap))


def set_items(data: EvalData, j: Judgement, rows: np.ndarray) -> list[dict]:
    """Each chosen set as one item: its vital signs with the NEWS2 points of each (a value carried from
    an earlier set keeps its own time), and, in a post-dose window, which of them the dose explains
    (kind 'expected') and which it does not ('not-explained': the rest that score points)."""
    sets, unit = data.sets, data.unit
    at = isos(sets["time"][rows], unit)
    in_window = j.in_window[rows].tolist()
    dose = j.ctx.number[rows].tolist()
    columns = []
    for code, points_column in SET_VALUES:
        values = sets[code][rows]
        values = values.tolist() if values.dtype == object else [None if v != v else v for v in values.tolist()]
        taken = isos(sets[code + "_time"][rows], unit)
        points = ([None] * len(rows) if points_column is None else
                  [None if p != p else int(p) for p in sets[points_column][rows].tolist()])
        explained = (j.temp_explained if code == "temperature" else j.hr_explained if code == "heart_rate"
                     else None)
        explained = [False] * len(rows) if explained is None else explained[rows].tolist()
        columns.append((code, values, taken, points, explained))
    out = []
    for i in range(len(rows)):
        entries = []
        for code, values, taken, points, explained in columns:
            value = values[i]
            if value is None or value != value:
                continue
            kind = ("expected" if explained[i] else
                    "not-explained" if in_window[i] and points[i] else "shown")
            entry = {"code": code, "value": value, "kind": kind}
            if taken[i] != at[i]:
                entry["at"] = taken[i]
            if points[i] is not None:
                entry["points"] = points[i]
            entries.append(entry)
        out.append({"criterion": "set", "kind": "shown", "at": at[i], "values": entries,
                    "in_window": in_window[i], "dose": None if dose[i] != dose[i] else dose[i]})
    return out


#: The values a set item shows, in chart order, with the column of their NEWS2 points.
SET_VALUES = (("temperature", "news2_temperature"), ("heart_rate", "news2_heart_rate"), ("sbp", "news2_sbp"),
              ("map", None), ("resp_rate", "news2_resp_rate"), ("spo2", "news2_spo2"),
              ("consciousness", "news2_consciousness"))
#: 'T %.1f °C' per code: the words of a set's value without lookups per value.
_WORDS = {code: f"{label(code)} " + ("%s" if code == "consciousness" else
                                     f"%.{QUANTITIES[code][2]}f{QUANTITIES[code][1].replace('%', '%%')}")
          for code, _ in SET_VALUES}


def _value_words(entry: dict, when) -> str:
    text = _WORDS[entry["code"]] % entry["value"]
    return text + (f" (from {when(entry['at'])})" if "at" in entry else "")


@template("set")
def _set(item, when) -> str:
    values = item["values"]
    text = f"set at {when(item['at'])}: " + ", ".join(_value_words(v, when) for v in values)
    expected = [v for v in values if v["kind"] == "expected"]
    if item.get("in_window") and expected:
        dose = "" if item.get("dose") is None else f" {item['dose']:.0f}"
        rest = [f"{_value_words(v, when)} ({v['points']} point{'s' if v['points'] != 1 else ''})"
                for v in values if v["kind"] == "not-explained"]
        text += (f"; expected after IL-2 dose{dose}: " + ", ".join(_value_words(v, when) for v in expected)
                 + ("; not explained: " + ", ".join(rest) if rest else ""))
    return text
