"""IL-2 hold decision: the criteria of monitoring.clinical.rules.hold_criteria, judged when they matter.

Decision at a moment: 'permanently discontinue' if any such criterion; 'hold' if any absolute
criterion or at least `relative_for_hold` relative ones (manufacturer HD card); 'discuss' if one to
relative_for_hold - 1 relative ones; 'incomplete' when a required input is missing or stale and
nothing else is met (shown like discuss: the check could not be completed); else 'give'.

When (Dutcher 2014 Table 3 criteria 'should be assessed at the time of dosing'):
* at the time of dosing: each dose given or held (on the data available then), and every moment of
  the pre_dose_hours before the next dose is due (the last dose event + the course's interval) or
  after it is due: every criterion counts. A dose recorded as given on an incomplete check raises a
  warning naming what was missing;
* between doses (IL-2 running: a dose given or held in the previous 24 h, not stopped since): only
  the criteria that are danger signs in themselves (hold_criteria.DANGER: SBP < 90, SpO2 < 90, not
  Alert, GCS < 15, moderate confusion, arrhythmia, infection, grade 4, vasopressors, fluid-refractory
  hypotension, coma) raise an alert; the others show as a forecast for the next dose on the doses
  page and the ward overview, and clear when the values recover.
Inputs are the latest VALID values; stale or missing ones are named in the evidence, never used.
"""
from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from monitoring.clinical.rules import hold_criteria as hc
from monitoring.clinical.rules.common import Findings, Regimen, Rule, episodes
from monitoring.clinical.rules.context import NAT, EvalData, take
from monitoring.clinical.rules.evidence import isos, label, number, template, value_text
from monitoring.clinical.thresholds import Refused, SectionModel, section

DECISIONS = ("give", "incomplete", "discuss", "hold", "permanently discontinue")
GIVE, INCOMPLETE, DISCUSS, HOLD, DISCONTINUE = range(len(DECISIONS))
INCOMPLETE_GIVEN = "given on an incomplete check"
RULE = Rule(id="il2-hold", version="2.0", section="il2_hold",
            standard="IL-2 hold criteria: Proleukin label Table 2 and Dutcher 2014 Table 3",
            levels=("discuss", "hold", "permanently discontinue"))
INCOMPLETE_RULE = Rule(id="il2-incomplete-check", version="1.0", section="il2_hold",
                       standard="IL-2 dose given on an incomplete pre-dose check", levels=(INCOMPLETE_GIVEN,))


def _limit(description: str) -> Any:
    return Field(ge=0, le=1000, description=description)


@section("il2_hold")
class HoldSettings(SectionModel):
    """[il2_hold]: the numbers the hold criteria (hold_criteria.CRITERIA) compare with and the decision's
    own: Proleukin label Table 2, Dutcher 2014 Table 3, SpringerPlus 2015, JITC 2024 Table 2."""

    relative_for_hold: int = Field(ge=1, le=1000, description="Relative criteria that make a hold (fewer: "
                                                              "discuss)")
    active_if_dose_within_hours: float = _limit("IL-2 runs while a dose was given or held this long ago (h)")
    episode_gap_hours: float = _limit("Alerts closer than this belong to one episode (h)")
    pre_dose_hours: float = _limit("The time of dosing: this long before a dose is due (h; local choice, JITC "
                                   "2024 checks ~2 h before)")
    default_interval_hours: float = _limit("Dose interval when the course gives none (h; HD IV bolus every 8 h)")
    incomplete_regimens: list[Regimen] = Field(alias="incomplete_applies_to", description=(
        "Regimens whose pre-dose check needs every required input (a missing or stale one makes it incomplete)"))
    sbp_below: float = _limit("Label: SBP below this (mmHg) -> withhold")
    spo2_below: float = _limit("Label: SpO2 below this (%) -> withhold")
    gcs_below: float = _limit("Label: mental status changes, GCS below this")
    platelets_absolute_below: float = _limit("Dutcher absolute: platelets below this (10*9/L)")
    platelets_relative_below: float = _limit("Dutcher relative: platelets below this (10*9/L)")
    creatinine_absolute_at_or_above: float = _limit("Dutcher absolute: creatinine at or above this (mg/dL)")
    creatinine_relative_at_or_above: float = _limit("Dutcher relative: creatinine at or above this (mg/dL)")
    creatinine_label_above: float = _limit("Older label: creatinine above this (mg/dL) -> hold [from memory]")
    urine_absolute_below_ml_per_8h: float = _limit("Dutcher absolute: urine below this per 8-h shift (mL)")
    urine_relative_below_ml_per_8h: float = _limit("Dutcher relative: urine below this per 8-h shift (mL)")
    heart_rate_absolute_above: float = _limit("Dutcher absolute: sinus tachycardia above this (/min), "
                                              "persisting at the time of dosing")
    heart_rate_relative_above: float = _limit("Dutcher relative: sinus tachycardia above this (/min) at the time "
                                              "of dosing")
    heart_rate_persisting_minutes: float = _limit("Persisting: two readings at least this far apart (min; local "
                                                  "choice)")
    weight_gain_relative_above_percent: float = _limit("Dutcher relative: weight gain above this (%)")
    bilirubin_relative_above_mg_dl: float = _limit("Dutcher relative: bilirubin above this (mg/dL)")
    o2_flow_relative_at_or_above: float = _limit("Dutcher relative: O2 by nasal cannula at or above this (L/min)")
    o2_flow_absolute_above: float = _limit("Dutcher absolute: O2 by nasal cannula above this (L/min)")
    fio2_absolute_at_or_above: float = _limit("Dutcher absolute: FiO2 by mask at or above this (%)")
    confusion_absolute_grade: float = _limit("Label: moderate confusion (CTCAE confusion grade) -> withhold")
    confusion_relative_grade: float = _limit("Mild disorientation (CTCAE confusion grade) -> discuss (local choice)")
    arrhythmia_absolute_grade: float = _limit("Dutcher absolute: arrhythmia at this CTCAE grade")
    arrhythmia_discontinue_grade: float = _limit("Label: rhythm disturbance not controlled (CTCAE grade) -> "
                                                 "discontinue")
    dyspnea_relative_grade: float = _limit("Dutcher relative: resting shortness of breath (CTCAE dyspnea grade)")
    diarrhea_relative_grade: float = _limit("Dutcher 1000 mL/shift as a CTCAE diarrhea grade (local mapping)")
    vomiting_absolute_grade: float = _limit("Dutcher vomiting not responsive to medication as a CTCAE grade "
                                            "(local mapping)")
    grade4_absolute: float = _limit("Any nurse-graded CTCAE grade at or above this is absolute (grade 4)")
    coma_discontinue_hours: float = _limit("Label: coma or toxic psychosis longer than this (h) -> discontinue")
    held_doses_discontinue_at: float = _limit("SpringerPlus 2015: discontinue once this many doses were held in "
                                              "the course")
    phenylephrine_max_relative_at_or_above: float = _limit("Dutcher relative: maximum phenylephrine during the "
                                                           "interval at or above this (ug/kg/min)")
    phenylephrine_max_absolute_above: float = _limit("Dutcher absolute: maximum phenylephrine above this "
                                                     "(ug/kg/min)")
    phenylephrine_min_relative_above: float = _limit("Dutcher relative: minimum phenylephrine at the time of "
                                                     "dosing above this (ug/kg/min)")
    phenylephrine_min_absolute_above: float = _limit("Dutcher absolute: minimum phenylephrine at the time of "
                                                     "dosing above this (ug/kg/min)")
    fluid_refractory_sbp_below: float = _limit("JITC 2024: SBP below this after a fluid bolus -> discontinue "
                                               "(mmHg)")
    fluid_refractory_within_hours: float = _limit("... within this long after the bolus (h; local choice)")

    @model_validator(mode="after")
    def _relative_limits_not_beyond_absolute(self) -> HoldSettings:
        for low, high in (("platelets_absolute_below", "platelets_relative_below"),
                          ("creatinine_relative_at_or_above", "creatinine_absolute_at_or_above"),
                          ("urine_absolute_below_ml_per_8h", "urine_relative_below_ml_per_8h"),
                          ("heart_rate_relative_above", "heart_rate_absolute_above"),
                          ("o2_flow_relative_at_or_above", "o2_flow_absolute_above"),
                          ("confusion_relative_grade", "confusion_absolute_grade"),
                          ("phenylephrine_max_relative_at_or_above", "phenylephrine_max_absolute_above"),
                          ("phenylephrine_min_relative_above", "phenylephrine_min_absolute_above")):
            if getattr(self, low) > getattr(self, high):
                raise Refused(low, f"must not be above {high} ({getattr(self, high):g})")
        return self

    @functools.cached_property
    def values(self) -> dict[str, float]:
        """Every number by its key, as the criteria read them."""
        return {name: float(getattr(self, name)) for name in NUMBERS}


#: Every number of [il2_hold]: the criteria's keys and the decision's own.
NUMBERS = tuple(name for name in HoldSettings.model_fields if name not in ("source", "incomplete_regimens"))
_UNDECLARED = {k for c in hc.CRITERIA if c.op not in ("in", "not-in", "is") for k in c.keys} - set(NUMBERS)
assert not _UNDECLARED, f"hold criteria compare with keys [il2_hold] does not declare: {sorted(_UNDECLARED)}"


class Assessment:
    """The criteria and the decision at each (patient, time). at_dosing marks the moments that are
    the time of dosing; elsewhere only the danger criteria count. `items(rows)` words the chosen rows."""

    def __init__(self, data: EvalData, pid: np.ndarray, time: np.ndarray, s: HoldSettings,
                 at_dosing: np.ndarray | None = None, *, criteria: tuple[hc.Criterion, ...] = hc.CRITERIA,
                 forecast: np.ndarray | None = None):
        """forecast: moments judged as at the time of dosing ahead of it (the doses page and the ward
        overview between doses): the readings of the time of dosing (heart rate, phenylephrine) are
        not yet due, so their absence does not make the check incomplete."""
        self.data, self.s, self.pid, self.time = data, s, pid, time
        n = len(pid)
        self.forecast = np.zeros(n, dtype=bool) if forecast is None else forecast
        self.at_dosing = np.ones(n, dtype=bool) if at_dosing is None else at_dosing
        self.inputs = hc.Inputs(data, pid, time, self.at_dosing)
        v = s.values
        self.criteria = criteria
        self.met: dict[str, np.ndarray] = {}
        for c in criteria:
            value, _, extra = self.inputs(c.input)
            if c.id == "tachycardia_persisting":
                value = extra["persisting"]
            met = hc.test(c, value, v)
            if c.id == "tachycardia":    # a persisting tachycardia is the absolute criterion, not both
                met &= ~self.met.get("tachycardia_persisting", np.zeros(n, dtype=bool))
            if not c.danger:
                met &= self.at_dosing
            if c.at_dosing:
                met &= ~self._in_window()
            self.met[c.id] = met
        count = {kind: np.zeros(n, dtype=int) for kind in hc.KINDS}
        for c in criteria:
            count[c.kind] += self.met[c.id]
        self.n_relative, self.n_absolute, self.n_discontinue = (count["relative"], count["absolute"],
                                                                count["discontinue"])
        missing = np.zeros(n, dtype=bool)
        self.absent: dict[str, np.ndarray] = {}
        if criteria is hc.CRITERIA:      # a partial check (the danger signs) is never 'incomplete'
            for name in hc.REQUIRED:
                self.absent[name] = _absent(self.inputs(name)[0])
                if hc.INPUTS[name].validity == "dosing":
                    self.absent[name] &= ~self.forecast
                missing |= self.absent[name]
            # Only where the regimen's check needs every input (an inpatient dose, not a home injection).
            regimen = data.regimens(pid)
            missing &= np.isin(regimen, s.incomplete_regimens)
        self.incomplete = missing & self.at_dosing
        self.decision = np.select(
            [self.n_discontinue > 0, (self.n_absolute > 0) | (self.n_relative >= v["relative_for_hold"]),
             self.n_relative > 0, self.incomplete], [DISCONTINUE, HOLD, DISCUSS, INCOMPLETE], GIVE)

    def _in_window(self) -> np.ndarray:
        """Moments inside the post-dose window of the last dose (an infusion still running, whose next
        bag is due): Dutcher judges tachycardia and the phenylephrine dose at dosing 'after correcting
        fever', which a running infusion does not allow, so there they are the drug's effect."""
        if not hasattr(self, "_window"):
            self._window = self.data.dose_context(self.pid, self.time).in_window
        return self._window

    @property
    def held(self) -> np.ndarray:
        return self.inputs("held_doses")[0].astype(int)

    def met_ids(self, row: int) -> list[str]:
        return [c.id for c in self.criteria if self.met[c.id][row]]

    def _met_lists(self, rows: np.ndarray) -> list[list[str]]:
        """The ids of the criteria met at each of these rows (one pass over the criteria)."""
        ids = [c.id for c in self.criteria]
        matrix = np.column_stack([self.met[i][rows] for i in ids]).tolist() if ids else [[] for _ in rows]
        return [[i for i, hit in zip(ids, row) if hit] for row in matrix]

    def missing(self, row: int) -> tuple[list[str], list[str]]:
        """(missing, stale) required inputs at this row: stale ones have a value older than its validity."""
        missing, stale = [], []
        for name in hc.REQUIRED:
            if name in self.absent and self.absent[name][row]:
                (stale if self._has_older(name, row) else missing).append(name)
        return missing, stale

    def _has_older(self, name: str, row: int) -> bool:
        code = hc.INPUTS[name].codes[0]
        series = self.data.series(code)
        idx = self.data.asof(self.pid[row:row + 1], self.time[row:row + 1], series)
        return bool(idx[0] >= 0)

    def items(self, rows: np.ndarray, moments: list[dict] | None = None) -> list[list[dict]]:
        """The evidence of each chosen row: the moment, every criterion met with its value and time,
        and the required inputs missing or stale."""
        v, unit = self.s.values, self.data.unit
        met = self._met_lists(rows)
        times: dict[str, list] = {}
        for name in {hc.BY_ID[cid].input for ids in met for cid in ids}:
            times[name] = dict(zip(rows.tolist(), isos(self.inputs(name)[1][rows], unit)))
        out = []
        for i, k in enumerate(rows.tolist()):
            items = [moments[i]] if moments else []
            for cid in met[i]:
                items.append(self.criterion_item(hc.BY_ID[cid], k, v, unit, times))
            missing, stale = self.missing(k)
            if self.incomplete[k] or (self.at_dosing[k] and (missing or stale) and self.decision[k] > INCOMPLETE):
                items.append({"criterion": "il2_hold.missing", "kind": "missing",
                              "names": [hc.INPUTS[n].label for n in missing],
                              "stale": [hc.INPUTS[n].label for n in stale]})
            out.append(items)
        return out

    def criterion_item(self, c: hc.Criterion, k: int, v: dict, unit: str, times: dict | None = None) -> dict:
        value, when, extra = self.inputs(c.input)
        raw = value[k]
        bounds = hc.limits(c, v)
        at = times[c.input][k] if times is not None else isos(np.array([when[k]]), unit)[0]
        item = {"criterion": f"il2_hold.{c.id}", "id": c.id, "kind": c.kind, "input": c.input,
                "code": hc.INPUTS[c.input].codes[0] if hc.INPUTS[c.input].codes else c.input,
                "value": raw if isinstance(raw, str) else number(raw), "unit": hc.INPUTS[c.input].unit,
                "at": at, "op": c.op, "limit": list(bounds), "note": c.source, "danger": c.danger}
        if c.input == "grade4":
            item["code"] = extra["symptom"][k]
        if c.input == "heart_rate":
            item["previous"] = number(extra["previous"][k])
            item["previous_at"] = isos(np.array([extra["previous_time"][k]]), unit)[0]
        if c.input == "fluid_refractory":
            item["bolus"] = number(extra["bolus"][k])
            item["bolus_at"] = isos(np.array([extra["bolus_time"][k]]), unit)[0]
        if c.input == "weight_gain":
            item["baseline"] = number(extra["baseline"][k])
        if c.id == "creatinine_absolute" and raw > v["creatinine_label_above"]:
            item["label_above"] = v["creatinine_label_above"]
        return item


def _absent(value: np.ndarray) -> np.ndarray:
    if value.dtype == object:
        return np.array([x is None or x != x for x in value.tolist()], dtype=bool)
    return np.isnan(value)


def assess(data: EvalData, pid: np.ndarray, time: np.ndarray, s: HoldSettings,
           at_dosing: np.ndarray | None = None, forecast: np.ndarray | None = None) -> Assessment:
    """Decision and criteria at each (patient, time) (the pre-dose check: every moment at dosing;
    `forecast` where the dose is not yet within the pre-dose hours)."""
    return Assessment(data, pid, time, s, at_dosing, forecast=forecast)


def evaluation_points(data: EvalData, s: HoldSettings) -> dict[str, np.ndarray]:
    """The moments judged: each dose given or held, and every moment with data of a patient whose
    IL-2 is running (a dose given or held within active_if_dose_within_hours, not stopped since).
    Returns pid, time, at_dosing, given (a dose given at that moment) and the next dose's due time."""
    doses = data.dose_subset("given", "held")
    empty = np.zeros(0, dtype=np.int64)
    if not len(doses):
        return {"pid": empty, "time": empty, "at_dosing": empty.astype(bool), "given": empty.astype(bool),
                "due": empty, "dose_row": empty}
    obs = data._obs
    pid = np.concatenate([doses.pid, obs.pid])
    time = np.concatenate([doses.time, obs.time])
    keys, first = np.unique(data.key(pid, time), return_index=True)
    pid, time = pid[first], time[first]
    last = data.asof(pid, time, doses, pd.Timedelta(hours=s.values["active_if_dose_within_hours"]), key=keys)
    stopped = data.dose_subset("stopped")
    stop = data.asof(pid, time, stopped, key=keys)
    stop_time = take(stopped.time, stop, NAT)
    running = (last >= 0) & ~((stop >= 0) & (stop_time >= take(doses.time, last, NAT)))
    pid, time, keys = pid[running], time[running], keys[running]
    # A dose event at this very moment (given or held).
    at = np.searchsorted(doses.key, keys, side="right") - 1
    event = (at >= 0) & (take(doses.key, at, -1) == keys)
    given = event & (take(doses.code, at, None) == "given")
    # When the next dose is due: from the last dose event before this moment (strictly: at a dose
    # event the dose itself is being given).
    _, due = data.next_due(pid, time - 1)
    pre = data.ticks(pd.Timedelta(hours=s.values["pre_dose_hours"]))
    at_dosing = event | ((due != NAT) & (time >= due - pre))
    return {"pid": pid, "time": time, "at_dosing": at_dosing, "given": given, "due": due,
            "dose_row": np.where(event, at, -1)}


def findings(data: EvalData, s: HoldSettings) -> tuple[Findings | None, Findings | None]:
    """(hold decisions: discuss, hold, permanently discontinue; doses given on an incomplete check):
    two rules, so that a documentation gap at one dose never becomes the onset of a later hold."""
    points = evaluation_points(data, s)
    pid, time, at_dosing = points["pid"], points["time"], points["at_dosing"]
    if not len(pid):
        return None, None
    # Every criterion at the time of dosing; between doses the danger signs only (fewer inputs to read).
    parts = []
    for rows, criteria in ((np.flatnonzero(at_dosing), hc.CRITERIA), (np.flatnonzero(~at_dosing), hc.DANGER)):
        if len(rows):
            parts.append((rows, Assessment(data, pid[rows], time[rows], s, at_dosing[rows], criteria=criteria)))
    decision = np.zeros(len(pid), dtype=np.int64)
    for rows, judged in parts:
        decision[rows] = judged.decision
    unit = data.unit
    doses = data.dose_subset("given", "held")
    hold = _findings(np.flatnonzero(decision >= DISCUSS), data, points, parts, decision, doses, unit)
    given_incomplete = _findings(np.flatnonzero((decision == INCOMPLETE) & points["given"]), data, points, parts,
                                 decision, doses, unit)
    return hold, given_incomplete


def _findings(chosen: np.ndarray, data: EvalData, points: dict, parts: list, decision: np.ndarray, doses,
              unit: str) -> Findings | None:
    if not len(chosen):
        return None
    pid, time, at_dosing = points["pid"], points["time"], points["at_dosing"]
    p_pid, p_time, level = pid[chosen], time[chosen], decision[chosen]

    def describe(rows: np.ndarray):
        k = chosen[rows]
        due = isos(points["due"][k], unit)
        moments = []
        for i, j in enumerate(k.tolist()):
            row = int(points["dose_row"][j])
            moments.append({"criterion": "il2_hold.moment", "kind": "note",
                            "at_dosing": bool(at_dosing[j]), "due": due[i],
                            "dose": number(doses.num[row]) if row >= 0 else None,
                            "dose_status": doses.code[row] if row >= 0 else None})
        items: list = [None] * len(k)
        for part_rows, judged in parts:
            position = np.searchsorted(part_rows, k)
            mine = np.flatnonzero((position < len(part_rows))
                                  & (part_rows[np.minimum(position, len(part_rows) - 1)] == k))
            if len(mine):
                for target, got in zip(mine.tolist(), judged.items(position[mine], [moments[m] for m in mine])):
                    items[target] = got
        levels = [INCOMPLETE_GIVEN if d == INCOMPLETE else DECISIONS[d] for d in decision[k].tolist()]
        return levels, items, data.context_at(pid[k], time[k])

    severity = np.where(level >= HOLD, 2, 1)
    return Findings(p_pid, p_time, severity, describe, level.astype(float))


def standard(s: HoldSettings) -> str:
    """The decision rule as applied, from the thresholds in force."""
    v = s.values
    hold_at = int(v["relative_for_hold"])
    discuss = ("never (one relative criterion holds)" if hold_at == 1 else "1 relative criterion" if hold_at == 2
               else f"1 to {hold_at - 1} relative criteria")
    danger = ", ".join(dict.fromkeys(hc.INPUTS[c.input].label for c in hc.DANGER))
    return (f"{RULE.standard} (hold: any absolute criterion or >= {hold_at} relative criteria; discuss: {discuss}; "
            "permanently discontinue: arrhythmia CTCAE grade >= "
            f"{v['arrhythmia_discontinue_grade']:g} (uncontrolled), coma > {v['coma_discontinue_hours']:g} h, "
            f"fluid-refractory hypotension, or the scheduled dose held on {v['held_doses_discontinue_at']:g} "
            f"occasions; incomplete: a required input missing or stale. Judged at the time of dosing (each dose, "
            f"and from {v['pre_dose_hours']:g} h before the next is due); between doses only danger signs raise "
            f"an alert: {danger})")


def evaluate(data: EvalData, thresholds) -> list[dict | None]:
    s: HoldSettings = thresholds["il2_hold"]
    hold, given_incomplete = findings(data, s)
    required = ", ".join(hc.INPUTS[name].label for name in hc.REQUIRED)
    return [episodes(data, hold, replace(RULE, standard=standard(s)), gap_hours=s.values["episode_gap_hours"],
                     source=s.source),
            episodes(data, given_incomplete, replace(
                INCOMPLETE_RULE, standard=f"{INCOMPLETE_RULE.standard}: a dose recorded as given while a required "
                f"input of the pre-dose check ({required}) was missing or stale"), gap_hours=1, source=s.source)]


# --- wording ---------------------------------------------------------------------------------------

def _limit_words(item: dict) -> str:
    op, bounds = item["op"], item["limit"]
    grade = item.get("input") in ("confusion", "arrhythmia", "dyspnea", "diarrhea", "vomiting", "grade4")
    if op in ("is", "in", "not-in"):
        return ""
    if op.startswith("range"):
        low, high = bounds
        if grade:
            return f"grade {low:g}-{high - 1:g}"
        left = ">" if op == "range-open" else ""
        right = "<" if op == "range" else ""
        return f"{left}{low:g}-{right}{high:g}"
    return f"{op} {bounds[0]:g}"


def criterion_words(item: dict, when) -> str:
    """'SBP 85 mmHg at 2026-11-20 15:00Z (< 90: label: withhold)'."""
    at = f" at {when(item['at'])}" if item.get("at") else ""
    name = item["input"]
    value = item.get("value")
    if name == "heart_rate" and item["criterion"] == "il2_hold.tachycardia_persisting":
        text = f"heart rate {item['previous']:.0f} then {value:.0f}/min{at}"
    elif name in ("febrile_neutropenia", "sepsis_screen"):
        text = f"{name.replace('_', '-')} finding{at}"
    elif name == "blood_culture":
        text = f"blood culture {value}{at}"
    elif name == "infection_suspected":
        text = f"infection suspected by a clinician{at}"
    elif name == "vasopressor":
        text = f"{value} running{at}"
    elif name == "fluid_refractory":
        text = (f"SBP {value:.0f} mmHg{at} after a fluid bolus of {item['bolus']:.0f} mL at "
                f"{when(item['bolus_at'])}")
    elif name == "held_doses":
        text = f"{value:.0f} scheduled doses held this course"
    elif name == "coma_hours":
        text = f"responds only to pain or unresponsive for {value:.0f} h"
    elif name == "weight_gain":
        text = f"weight +{value:.1f}% from baseline{at}"
    elif name == "phenylephrine_max":
        text = f"phenylephrine up to {value:.2f} µg/kg/min since the last dose{at}"
    elif name == "urine_per_8h":
        text = f"urine output {value:.0f} mL per 8 h to {when(item['at'])}" if item.get("at") else \
            f"urine output {value:.0f} mL per 8 h"
    else:
        text = f"{label(item['code'])} {value_text(item['code'], value)}{at}"
    limit = _limit_words(item)
    extra = f"; > {item['label_above']:g}: label" if item.get("label_above") is not None else ""
    return f"{text} ({limit + ': ' if limit else ''}{item['note']}{extra})"


def render_criteria(items: list[dict], when) -> str:
    """The hold evidence as one text: 'discontinue: ... | absolute: a; b | relative (2): ... | no
    valid value for: SBP, platelets' (the moment first)."""
    by_kind = {kind: [criterion_words(i, when) for i in items if i.get("kind") == kind] for kind in hc.KINDS}
    parts = []
    if by_kind["discontinue"]:
        parts.append("discontinue: " + "; ".join(by_kind["discontinue"]))
    if by_kind["absolute"]:
        parts.append("absolute: " + "; ".join(by_kind["absolute"]))
    if by_kind["relative"]:
        parts.append(f"relative ({len(by_kind['relative'])}): " + "; ".join(by_kind["relative"]))
    return " | ".join(parts)


def _register_templates() -> None:
    for c in hc.CRITERIA:
        template(f"il2_hold.{c.id}")(lambda item, when: f"{item['kind']}: {criterion_words(item, when)}")


_register_templates()


@template("il2_hold.missing")
def _missing(item, when) -> str:
    parts = []
    if item["names"]:
        parts.append("no valid value for: " + ", ".join(item["names"]))
    if item.get("stale"):
        parts.append("stale, not used: " + ", ".join(item["stale"]))
    return "; ".join(parts)


@template("il2_hold.moment")
def _moment(item, when) -> str:
    if item.get("dose_status"):
        text = f"at dose {item['dose']:.0f} ({item['dose_status']})" if item.get("dose") is not None else \
            f"at a dose {item['dose_status']}"
    elif item["at_dosing"]:
        text = "at the time of dosing" + (f" (next dose due {when(item['due'])})" if item.get("due") else "")
    else:
        text = "between doses: danger signs only" + (f"; next dose due {when(item['due'])}" if item.get("due")
                                                     else "")
    return text
