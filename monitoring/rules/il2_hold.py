"""IL-2 hold criteria at the time of dosing.

Sources: PROLEUKIN (aldesleukin) label Table 2 (withhold for SBP < 90 mmHg, SpO2 < 90%, mental status
changes including moderate confusion, arrhythmia; permanently discontinue for uncontrolled rhythm
disturbances and coma > 48 h), Dutcher 2014 Table 3 (relative and absolute criteria) and the
community-hospital criteria of SpringerPlus 2015 (discontinue once the scheduled dose has been held
on 3 occasions; institutional practice, counted within the course). Decision:
'permanently discontinue' if any such criterion; 'hold' if any absolute criterion or at least three
relative ones (manufacturer HD card); 'discuss' if one or two relative ones; otherwise 'give'.

Evaluated for a patient with an IL-2 dose given or held in the previous 24 h, at every moment new
data arrive, on the latest VALID value of each input (vital signs 4 h, labs and nurse grades 24 h);
stale or missing inputs are named in the evidence, never used silently. `assess` is also the
pre-dose check: it returns the decision, and words every criterion with its value and time on request.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from monitoring.rules.common import NAT, Findings, Rule, episodes, join_clauses, num_text, time_text
from monitoring.rules.context import EvalData, Series, take
from monitoring.thresholds import Section, Source, parser

# The standard shown is written from the thresholds in force (`standard`); each criterion's own
# numbers are in the pre-dose checklist and the evidence.
RULE = Rule(id="il2-hold", version="1.0", section="il2_hold",
            standard="IL-2 hold criteria: Proleukin label Table 2 and Dutcher 2014 Table 3")
DECISIONS = ("give", "discuss", "hold", "permanently discontinue")


@dataclass(frozen=True)
class HoldSettings:
    values: dict[str, float]
    source: Source


NUMBERS = ("relative_for_hold", "active_if_dose_within_hours", "episode_gap_hours", "sbp_below", "spo2_below",
           "platelets_absolute_below", "platelets_relative_below", "creatinine_absolute_at_or_above",
           "creatinine_relative_at_or_above", "creatinine_label_above", "urine_absolute_below_ml_per_8h",
           "urine_relative_below_ml_per_8h", "heart_rate_absolute_above", "heart_rate_relative_above",
           "heart_rate_persisting_readings", "heart_rate_persisting_minutes", "weight_gain_relative_above_percent",
           "bilirubin_relative_above_mg_dl", "o2_flow_relative_at_or_above", "o2_flow_absolute_above",
           "confusion_absolute_grade", "confusion_relative_grade", "arrhythmia_absolute_grade",
           "arrhythmia_discontinue_grade", "dyspnea_relative_grade", "diarrhea_relative_grade",
           "vomiting_relative_grade", "coma_discontinue_hours", "held_doses_discontinue_at")


@parser("il2_hold")
def parse(section: Section) -> HoldSettings:
    values = {name: section.number(name, low=0, high=1000) for name in NUMBERS}
    if values["relative_for_hold"] < 1 or not values["relative_for_hold"].is_integer():
        raise section.fail(f"expected a whole number of criteria >= 1, found {values['relative_for_hold']:g}",
                           "relative_for_hold")
    for low, high in (("platelets_absolute_below", "platelets_relative_below"),
                      ("creatinine_relative_at_or_above", "creatinine_absolute_at_or_above"),
                      ("urine_absolute_below_ml_per_8h", "urine_relative_below_ml_per_8h"),
                      ("heart_rate_relative_above", "heart_rate_absolute_above"),
                      ("o2_flow_relative_at_or_above", "o2_flow_absolute_above"),
                      ("confusion_relative_grade", "confusion_absolute_grade")):
        if values[low] > values[high]:
            raise section.fail(f"must not be above {high} ({values[high]:g})", low)
    return HoldSettings(values, section.source)


class Assessment:
    """Decision and criteria at each (patient, time); `evidence(rows)` words the chosen rows only
    (text is the costly part, and most moments are folded into an episode)."""

    def __init__(self, data: EvalData, pid: np.ndarray, time: np.ndarray, s: HoldSettings):
        self.data, self.s = data, s
        v = s.values
        validity = data.validity
        vit, lab, grade = validity.vital_signs, validity.labs, validity.nurse_grades
        self.pid, self.time = pid, time

        def latest(code: str, tolerance, coded: bool = False):
            series = data.series(code)
            idx = data.asof(pid, time, series, tolerance)
            return take(series.code if coded else series.num, idx, np.nan), take(series.time, idx, NAT), idx

        self.sbp, self.sbp_t, _ = latest("sbp", vit)
        self.spo2, self.spo2_t, _ = latest("spo2", vit)
        self.acvpu, self.acvpu_t, _ = latest("consciousness", vit, coded=True)
        self.hr, self.hr_t, hr_idx = latest("heart_rate", vit)
        self.o2, self.o2_t, _ = latest("o2_flow", vit)
        self.plt, self.plt_t, _ = latest("platelets", lab)
        self.cr, self.cr_t, _ = latest("creatinine", lab)
        self.bili, self.bili_t, _ = latest("bilirubin", lab)
        self.grades = {code: latest(code, grade)[:2]
                       for code in ("confusion", "arrhythmia", "dyspnea", "diarrhea", "vomiting")}

        # Previous heart rate (persisting tachycardia: the last readings all above the threshold).
        hr_series = data.series("heart_rate")
        prev_idx = take(hr_series.previous(), hr_idx, -1)
        self.hr_prev, prev_t = take(hr_series.num, prev_idx, np.nan), take(hr_series.time, prev_idx, NAT)
        persisting_for = data.ticks(pd.Timedelta(minutes=v["heart_rate_persisting_minutes"]))
        self.persisting = ((self.hr > v["heart_rate_absolute_above"]) & (self.hr_prev > v["heart_rate_absolute_above"])
                           & (prev_idx >= 0) & (self.hr_t - prev_t >= persisting_for))

        urine = data.series("urine_output")
        if len(urine) and urine.start is not None:
            no_period = urine.start == NAT
            with np.errstate(divide="ignore", invalid="ignore"):
                hours = data.hours(urine.time - np.where(no_period, urine.time, urine.start))
                per8h = np.where(no_period, np.nan, urine.num / hours * 8)
            idx = data.asof(pid, time, urine, validity.fluids)
            self.uo, self.uo_t = take(per8h, idx, np.nan), take(urine.time, idx, NAT)
        else:
            self.uo, self.uo_t = np.full(len(pid), np.nan), np.full(len(pid), NAT)

        weights = data.series("weight")
        if len(weights):
            baseline = weights.num[weights.first_of_patient()]
            course = data.course("baseline_weight_kg")[weights.pid]
            baseline = np.where(np.isnan(course), baseline, course)
            idx = data.asof(pid, time, weights, lab)
            self.gain = take((weights.num - baseline) / baseline * 100, idx, np.nan)
            self.gain_t = take(weights.time, idx, NAT)
        else:
            self.gain, self.gain_t = np.full(len(pid), np.nan), np.full(len(pid), NAT)
        self.coma = _coma_hours(data, pid, time)
        self.held = held_in_course(data, pid, time)
        self.acvpu_known = np.array([a is not None and a == a for a in self.acvpu.tolist()], dtype=bool)

        conf, arr = self.grades["confusion"][0], self.grades["arrhythmia"][0]
        cr9 = np.round(self.cr, 9)
        self.absolute = [
            self.sbp < v["sbp_below"], self.spo2 < v["spo2_below"],
            self.acvpu_known & (self.acvpu != "A"),
            conf >= v["confusion_absolute_grade"], self.plt < v["platelets_absolute_below"],
            cr9 >= v["creatinine_absolute_at_or_above"], self.uo < v["urine_absolute_below_ml_per_8h"],
            self.persisting,
            (arr >= v["arrhythmia_absolute_grade"]) & (arr < v["arrhythmia_discontinue_grade"]),
            self.o2 > v["o2_flow_absolute_above"],
        ]
        self.relative = [
            conf == v["confusion_relative_grade"],
            (self.plt >= v["platelets_absolute_below"]) & (self.plt < v["platelets_relative_below"]),
            (cr9 >= v["creatinine_relative_at_or_above"]) & (cr9 < v["creatinine_absolute_at_or_above"]),
            (self.uo >= v["urine_absolute_below_ml_per_8h"]) & (self.uo < v["urine_relative_below_ml_per_8h"]),
            (self.hr > v["heart_rate_relative_above"]) & ~self.persisting,
            np.round(self.gain, 9) > v["weight_gain_relative_above_percent"],
            self.bili > v["bilirubin_relative_above_mg_dl"],
            (self.o2 >= v["o2_flow_relative_at_or_above"]) & (self.o2 <= v["o2_flow_absolute_above"]),
            self.grades["dyspnea"][0] >= v["dyspnea_relative_grade"],
            self.grades["diarrhea"][0] >= v["diarrhea_relative_grade"],
            self.grades["vomiting"][0] >= v["vomiting_relative_grade"],
        ]
        self.discontinue = [arr >= v["arrhythmia_discontinue_grade"], self.coma > v["coma_discontinue_hours"],
                            self.held >= v["held_doses_discontinue_at"]]
        n = len(pid)
        self.n_absolute = sum((m.astype(int) for m in self.absolute), np.zeros(n, dtype=int))
        self.n_relative = sum((m.astype(int) for m in self.relative), np.zeros(n, dtype=int))
        self.n_discontinue = sum((m.astype(int) for m in self.discontinue), np.zeros(n, dtype=int))
        self.decision = np.select(
            [self.n_discontinue > 0, (self.n_absolute > 0) | (self.n_relative >= v["relative_for_hold"]),
             self.n_relative > 0], [3, 2, 1], 0)   # index in DECISIONS

    def evidence(self, rows: np.ndarray) -> list[str]:
        v, unit = self.s.values, self.data.unit

        def n(values, decimals=0):
            return num_text(values[rows], decimals)

        def t(times):
            return time_text(times[rows], unit)

        g = {code: (n(values), t(times)) for code, (values, times) in self.grades.items()}
        conf_v, conf_t = g["confusion"]
        arr_v, arr_t = g["arrhythmia"]
        sbp, sbp_t, spo2, spo2_t, acvpu_t = n(self.sbp), t(self.sbp_t), n(self.spo2), t(self.spo2_t), t(self.acvpu_t)
        plt, plt_t, cr, cr_t = n(self.plt), t(self.plt_t), n(self.cr, 2), t(self.cr_t)
        uo, uo_t = n(self.uo), t(self.uo_t)
        hr, hr_t, hr_prev, o2, o2_t = n(self.hr), t(self.hr_t), n(self.hr_prev), n(self.o2, 1), t(self.o2_t)
        gain, gain_t, bili, bili_t = n(self.gain, 1), t(self.gain_t), n(self.bili, 1), t(self.bili_t)
        coma = n(self.coma)
        acvpu = ["" if a is None or a != a else str(a) for a in self.acvpu[rows].tolist()]
        out = []
        for i, k in enumerate(rows.tolist()):
            label = f"; > {v['creatinine_label_above']:g}: label" if self.cr[k] > v["creatinine_label_above"] else ""
            absolute = (
                f"SBP {sbp[i]} mmHg at {sbp_t[i]} (< {v['sbp_below']:g}: label, withhold)",
                f"SpO2 {spo2[i]}% at {spo2_t[i]} (< {v['spo2_below']:g}: label, withhold)",
                f"consciousness {acvpu[i]} at {acvpu_t[i]} (not Alert: mental status change, label)",
                f"confusion grade {conf_v[i]} at {conf_t[i]} (moderate or worse: label, withhold)",
                f"platelets {plt[i]} x10^9/L at {plt_t[i]} (< {v['platelets_absolute_below']:g}: Dutcher absolute)",
                f"creatinine {cr[i]} mg/dL at {cr_t[i]} (>= {v['creatinine_absolute_at_or_above']:g}: Dutcher absolute"
                f"{label})",
                f"urine output {uo[i]} mL per 8 h to {uo_t[i]} (< {v['urine_absolute_below_ml_per_8h']:g}: "
                "Dutcher absolute)",
                f"heart rate {hr_prev[i]} then {hr[i]}/min at {hr_t[i]} (> {v['heart_rate_absolute_above']:g} "
                "persisting: Dutcher absolute)",
                f"arrhythmia noted, grade {arr_v[i]} at {arr_t[i]} (label withhold; Dutcher absolute)",
                f"oxygen {o2[i]} L/min at {o2_t[i]} (> {v['o2_flow_absolute_above']:g}: Dutcher absolute)",
            )
            relative = (
                f"confusion grade 1 at {conf_t[i]} (mild)",
                f"platelets {plt[i]} x10^9/L at {plt_t[i]} ({v['platelets_absolute_below']:g}-"
                f"{v['platelets_relative_below']:g}: Dutcher relative)",
                f"creatinine {cr[i]} mg/dL at {cr_t[i]} ({v['creatinine_relative_at_or_above']:g}-"
                f"<{v['creatinine_absolute_at_or_above']:g}: Dutcher relative)",
                f"urine output {uo[i]} mL per 8 h to {uo_t[i]} (Dutcher relative)",
                f"heart rate {hr[i]}/min at {hr_t[i]} (> {v['heart_rate_relative_above']:g}: Dutcher relative)",
                f"weight +{gain[i]}% from baseline at {gain_t[i]} (Dutcher relative)",
                f"bilirubin {bili[i]} mg/dL at {bili_t[i]} (Dutcher relative)",
                f"oxygen {o2[i]} L/min at {o2_t[i]} (Dutcher relative)",
                f"dyspnea at rest (grade {g['dyspnea'][0][i]}) at {g['dyspnea'][1][i]}",
                f"diarrhea grade {g['diarrhea'][0][i]} at {g['diarrhea'][1][i]}",
                f"vomiting grade {g['vomiting'][0][i]} at {g['vomiting'][1][i]}",
            )
            discontinue = (
                f"arrhythmia grade {arr_v[i]} (life-threatening: label, permanently discontinue)",
                f"responds only to pain or unresponsive for {coma[i]} h (coma > {v['coma_discontinue_hours']:g} h: "
                "label, permanently discontinue)",
                f"{self.held[k]} scheduled doses held this course (held on {v['held_doses_discontinue_at']:g} "
                "occasions: SpringerPlus 2015, discontinue)",
            )
            missing = ", ".join(name for name, absent in (
                ("SBP", self.sbp[k] != self.sbp[k]), ("SpO2", self.spo2[k] != self.spo2[k]),
                ("consciousness", not self.acvpu_known[k]), ("heart rate", self.hr[k] != self.hr[k]),
                ("urine output", self.uo[k] != self.uo[k]), ("creatinine", self.cr[k] != self.cr[k]),
                ("platelets", self.plt[k] != self.plt[k])) if absent)
            chosen = [[text for text, mask in zip(texts, masks) if mask[k]]
                      for texts, masks in ((discontinue, self.discontinue), (absolute, self.absolute),
                                           (relative, self.relative))]
            out.append(join_clauses(
                "discontinue: " + "; ".join(chosen[0]) if chosen[0] else "",
                "absolute: " + "; ".join(chosen[1]) if chosen[1] else "",
                f"relative ({self.n_relative[k]}): " + "; ".join(chosen[2]) if chosen[2] else "",
                "no valid value for: " + missing if missing else "", sep=" | "))
        return out


def assess(data: EvalData, pid: np.ndarray, time: np.ndarray, s: HoldSettings) -> Assessment:
    """Decision and criteria at each (patient, time) (the pre-dose check)."""
    return Assessment(data, pid, time, s)


def held_in_course(data: EvalData, pid: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Doses recorded as held at or before each time since the patient's latest dose number 1 (the
    start of the course: dose numbers restart with each course)."""
    held = data.dose_subset("held")
    if not len(held):
        return np.zeros(len(pid), dtype=np.int64)

    def count_upto(at: np.ndarray) -> np.ndarray:
        idx = data.asof(pid, at, held)   # the latest held dose at or before `at`, -1 when none
        first = held.first_of_patient()
        return np.where(idx >= 0, idx - first[np.maximum(idx, 0)] + 1, 0)

    doses = data.doses
    starts = np.flatnonzero(doses.num == 1)
    first_doses = Series(doses.pid[starts], doses.time[starts], doses.key[starts], doses.num[starts],
                         doses.code[starts], None)
    start = data.asof(pid, time, first_doses)
    start_time = take(first_doses.time, start, NAT)
    before_start = np.where(start >= 0, count_upto(np.where(start >= 0, start_time - 1, time)), 0)
    return count_upto(time) - before_start


def _coma_hours(data: EvalData, pid: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Hours the patient has been continuously P or U (ACVPU) at each point; 0 otherwise."""
    c = data.series("consciousness")
    if not len(c):
        return np.zeros(len(pid))
    deep = np.isin(c.code, ["P", "U"])
    n = len(c)
    breaks = ~deep
    breaks[0] = True
    breaks[1:] |= c.pid[1:] != c.pid[:-1]
    run_first = np.maximum.accumulate(np.where(breaks, np.arange(n), 0))
    first_deep = np.where(deep[run_first], run_first, np.minimum(run_first + 1, n - 1))
    run_start = np.where(deep, c.time[first_deep], NAT)
    idx = data.asof(pid, time, c, data.validity.vital_signs)
    start = take(run_start, idx, NAT)
    return np.where(start == NAT, 0.0, data.hours(time - np.where(start == NAT, time, start)))


def evaluation_points(data: EvalData, s: HoldSettings) -> tuple[np.ndarray, np.ndarray]:
    """The moments of dosing: each dose given or held (on the data available then), and the latest
    data of each patient whose IL-2 is running (a dose given or held in the previous 24 h and not
    stopped since), which stands for the next dose. Dutcher 2014 Table 3 criteria 'should be
    assessed at the time of dosing'; between doses, expected post-dose effects would flood."""
    doses = data.dose_subset("given", "held")
    if not len(doses):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    obs = data._obs
    latest = np.full(data.n_patients, NAT)
    np.maximum.at(latest, obs.pid, obs.time)
    has = np.flatnonzero(latest != NAT)
    pid = np.concatenate([doses.pid, has])
    time = np.concatenate([doses.time, latest[has]])
    keys, first = np.unique(data.key(pid, time), return_index=True)
    pid, time = pid[first], time[first]
    last = data.asof(pid, time, doses, pd.Timedelta(hours=s.values["active_if_dose_within_hours"]), key=keys)
    stopped = data.dose_subset("stopped")
    stop = data.asof(pid, time, stopped, key=keys)
    stop_time = take(stopped.time, stop, NAT)
    running = (last >= 0) & ~((stop >= 0) & (stop_time >= take(doses.time, last, NAT)))
    return pid[running], time[running]


def findings(data: EvalData, s: HoldSettings) -> Findings | None:
    pid, time = evaluation_points(data, s)
    if not len(pid):
        return None
    first = assess(data, pid, time, s)
    chosen = np.flatnonzero(first.decision != 0)
    if not len(chosen):
        return None
    decision = first.decision[chosen]
    p_pid, p_time = pid[chosen], time[chosen]

    def describe(rows: np.ndarray):
        evidence = first.evidence(chosen[rows])
        return [DECISIONS[d] for d in decision[rows].tolist()], evidence, data.context_at(p_pid[rows], p_time[rows])

    return Findings(p_pid, p_time, np.where(decision == 1, 1, 2), describe, decision.astype(float))


def standard(s: HoldSettings) -> str:
    """The decision rule as applied, from the thresholds in force."""
    v = s.values
    hold_at = int(v["relative_for_hold"])
    discuss = ("never (one relative criterion holds)" if hold_at == 1 else "1 relative criterion" if hold_at == 2
               else f"1 to {hold_at - 1} relative criteria")
    return (f"{RULE.standard} (hold: any absolute criterion or >= {hold_at} relative criteria; discuss: {discuss}; "
            "permanently discontinue: arrhythmia CTCAE grade >= "
            f"{v['arrhythmia_discontinue_grade']:g} (uncontrolled), coma > "
            f"{v['coma_discontinue_hours']:g} h, or the scheduled dose held on {v['held_doses_discontinue_at']:g} "
            "occasions)")


def evaluate(data: EvalData, thresholds) -> dict | None:
    s: HoldSettings = thresholds["il2_hold"]
    return episodes(data, findings(data, s), replace(RULE, standard=standard(s)),
                    gap_hours=s.values["episode_gap_hours"], source=s.source)
