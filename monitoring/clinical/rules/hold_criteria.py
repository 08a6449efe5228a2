"""The IL-2 hold criteria as one declarative table, and the inputs they read.

Each `Criterion` says what it reads (`input`: an observation code or a quantity derived from the
record), how it compares (`op` with the [il2_hold] keys of data/thresholds.toml), its kind (absolute:
hold; relative: discuss, or hold from `relative_for_hold` of them; discontinue), its source, whether
it is a danger sign in itself (`danger`: it raises an alert between doses, and a set showing it is
never an expected IL-2 effect) and whether it is judged only at the time of dosing (`at_dosing`:
Dutcher 2014 Table 3 judges tachycardia and the minimum phenylephrine dose 'at the time of dosing').
`INPUTS` says how long each input stays valid. The engine (monitoring.clinical.rules.il2_hold), the pre-dose
check (monitoring.views.dosing) and the expected-effect judgement read this table; nothing else lists
criteria.

Sources: PROLEUKIN label Table 2 and boxed warning (withhold for SBP < 90 mmHg, SpO2 < 90%, mental
status changes including moderate confusion, arrhythmia; serious infection; permanently discontinue
for uncontrolled rhythm disturbance and coma > 48 h), Dutcher 2014 Table 3 (relative and absolute
criteria; infection 'strong clinical suspicion or documented' is absolute), SpringerPlus 2015
(discontinue once the scheduled dose has been held on 3 occasions), JITC 2024 Table 2 (discontinue
for fluid-refractory hypotension), CTCAE v5.0 front matter (grade 4: life-threatening, urgent
intervention).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.clinical.derived import weight_gain_percent
from monitoring.clinical.rules.context import NAT, EvalData, Series, take

KINDS = ("relative", "absolute", "discontinue")
#: Nurse-graded CTCAE symptoms whose grade 4 is an absolute criterion (catalogue kind "grade").
GRADED = ("diarrhea", "nausea", "vomiting", "mucositis", "rash", "pruritus", "dyspnea", "confusion", "rigors",
          "fatigue", "arrhythmia", "hypotension")
OTHER_VASOPRESSORS = ("norepinephrine", "dopamine", "vasopressin", "epinephrine")
#: Inputs whose values are codes (catalogue kind "coded"), not numbers.
CODED_CODES = ("consciousness", "vasopressor", "blood_culture", "infection_suspected")


@dataclass(frozen=True)
class Input:
    """What a criterion reads. `codes`: the observation codes behind it (shown on the checklist);
    `validity`: a [validity] key, or 'dosing' (readings of the pre_dose_hours before the dose),
    'course' (counted over the course, never stale) or 'alerts' (other rules' findings)."""
    name: str
    label: str
    codes: tuple[str, ...]
    validity: str
    unit: str | None = None
    required: bool = False        # missing or stale -> the check is INCOMPLETE


INPUTS: dict[str, Input] = {i.name: i for i in (
    Input("sbp", "SBP", ("sbp",), "vital_signs", "mm[Hg]", required=True),
    Input("spo2", "SpO2", ("spo2",), "vital_signs", "%", required=True),
    Input("consciousness", "consciousness", ("consciousness",), "vital_signs", required=True),
    Input("gcs", "GCS", ("gcs",), "vital_signs"),
    Input("heart_rate", "heart rate", ("heart_rate",), "dosing", "/min", required=True),
    Input("o2_flow", "oxygen flow", ("o2_flow",), "vital_signs", "L/min"),
    Input("fio2", "FiO2 by mask", ("fio2",), "vital_signs", "%"),
    Input("platelets", "platelets", ("platelets",), "labs", "10*9/L", required=True),
    Input("creatinine", "creatinine", ("creatinine",), "labs", "mg/dL", required=True),
    Input("bilirubin", "bilirubin", ("bilirubin",), "labs", "mg/dL"),
    Input("weight_gain", "weight gain from baseline", ("weight",), "labs", "%"),
    Input("urine_per_8h", "urine output", ("urine_output",), "fluids", "mL", required=True),
    Input("confusion", "confusion grade", ("confusion",), "nurse_grades"),
    Input("arrhythmia", "arrhythmia grade", ("arrhythmia",), "nurse_grades"),
    Input("dyspnea", "shortness of breath grade", ("dyspnea",), "nurse_grades"),
    Input("diarrhea", "diarrhea grade", ("diarrhea",), "nurse_grades"),
    Input("vomiting", "vomiting grade", ("vomiting",), "nurse_grades"),
    Input("grade4", "any symptom graded 4", GRADED, "nurse_grades"),
    Input("vasopressor", "vasopressor running", ("vasopressor",), "vital_signs"),
    Input("phenylephrine_max", "phenylephrine, highest since the last dose", ("phenylephrine",), "course",
          "ug/kg/min"),
    Input("phenylephrine_min", "phenylephrine at the time of dosing", ("phenylephrine",), "dosing", "ug/kg/min"),
    Input("fluid_refractory", "SBP after a fluid bolus", ("fluid_bolus", "sbp"), "vital_signs", "mm[Hg]"),
    Input("blood_culture", "blood culture", ("blood_culture",), "cultures"),
    Input("infection_suspected", "infection suspected (clinician)", ("infection_suspected",), "statements"),
    Input("febrile_neutropenia", "febrile neutropenia", ("temperature", "anc", "wbc"), "alerts"),
    Input("sepsis_screen", "sepsis screen", (), "alerts"),
    Input("coma_hours", "responds only to pain or unresponsive", ("consciousness",), "vital_signs", "h"),
    Input("held_doses", "doses held this course", (), "course"),
)}


@dataclass(frozen=True)
class Criterion:
    id: str                      # item criterion 'il2_hold.<id>'
    kind: str                    # relative | absolute | discontinue
    input: str                   # INPUTS key
    op: str                      # <, <=, >, >=, range (low <= v < high), in, not-in, is
    keys: tuple[str, ...]        # [il2_hold] keys compared with (range: low, high); in/is: values
    source: str                  # the source, as shown
    danger: bool = False         # a danger sign in itself: alerts between doses, never 'expected'
    at_dosing: bool = False      # judged only at the time of dosing


CRITERIA: tuple[Criterion, ...] = (
    # --- label withhold: organ perfusion (W&P 5.1) and Table 2
    Criterion("sbp_below", "absolute", "sbp", "<", ("sbp_below",), "label: withhold", danger=True),
    Criterion("spo2_below", "absolute", "spo2", "<", ("spo2_below",), "label: withhold", danger=True),
    Criterion("not_alert", "absolute", "consciousness", "not-in", ("A",), "label: mental status change",
              danger=True),
    Criterion("gcs_below", "absolute", "gcs", "<", ("gcs_below",), "label: mental status change", danger=True),
    Criterion("confusion_moderate", "absolute", "confusion", ">=", ("confusion_absolute_grade",),
              "label: moderate confusion, withhold", danger=True),
    Criterion("arrhythmia", "absolute", "arrhythmia", "range", ("arrhythmia_absolute_grade",
                                                                "arrhythmia_discontinue_grade"),
              "label: withhold; Dutcher absolute", danger=True),
    # --- infection (Dutcher 2014 Table 3: strong clinical suspicion or documented; label boxed warning)
    Criterion("blood_culture_positive", "absolute", "blood_culture", "is", ("positive",),
              "Dutcher absolute: documented infection", danger=True),
    Criterion("febrile_neutropenia", "absolute", "febrile_neutropenia", "is", ("open",),
              "Dutcher absolute: infection", danger=True),
    Criterion("infection_suspected", "absolute", "infection_suspected", "is", ("yes",),
              "Dutcher absolute: strong clinical suspicion", danger=True),
    Criterion("sepsis_screen", "relative", "sepsis_screen", "is", ("open",),
              "infection? oncologist to decide (screens fire on many HD IL-2 days)"),
    # --- life-threatening (CTCAE grade 4) and vasopressors
    Criterion("grade4", "absolute", "grade4", ">=", ("grade4_absolute",),
              "CTCAE grade 4: life-threatening, urgent intervention", danger=True),
    Criterion("other_vasopressor", "absolute", "vasopressor", "in", OTHER_VASOPRESSORS,
              "vasopressor other than phenylephrine (local choice)", danger=True),
    Criterion("phenylephrine_max_absolute", "absolute", "phenylephrine_max", ">",
              ("phenylephrine_max_absolute_above",), "Dutcher absolute: maximum during the interval", danger=True),
    Criterion("phenylephrine_max_relative", "relative", "phenylephrine_max", "range-closed",
              ("phenylephrine_max_relative_at_or_above", "phenylephrine_max_absolute_above"),
              "Dutcher relative: maximum during the interval"),
    Criterion("phenylephrine_min_absolute", "absolute", "phenylephrine_min", ">",
              ("phenylephrine_min_absolute_above",), "Dutcher absolute: minimum at the time of dosing",
              at_dosing=True),
    Criterion("phenylephrine_min_relative", "relative", "phenylephrine_min", "range-open",
              ("phenylephrine_min_relative_above", "phenylephrine_min_absolute_above"),
              "Dutcher relative: minimum at the time of dosing", at_dosing=True),
    # --- cardiovascular (Dutcher: tachycardia persistent at the time of dosing)
    Criterion("tachycardia_persisting", "absolute", "heart_rate", ">", ("heart_rate_absolute_above",),
              "Dutcher absolute: persisting at the time of dosing", at_dosing=True),
    Criterion("tachycardia", "relative", "heart_rate", ">", ("heart_rate_relative_above",),
              "Dutcher relative: at the time of dosing", at_dosing=True),
    # --- pulmonary
    Criterion("o2_flow_absolute", "absolute", "o2_flow", ">", ("o2_flow_absolute_above",), "Dutcher absolute"),
    Criterion("o2_flow_relative", "relative", "o2_flow", "range-closed",
              ("o2_flow_relative_at_or_above", "o2_flow_absolute_above"), "Dutcher relative"),
    Criterion("fio2", "absolute", "fio2", ">=", ("fio2_absolute_at_or_above",), "Dutcher absolute: by mask"),
    Criterion("dyspnea", "relative", "dyspnea", "range", ("dyspnea_relative_grade", "grade4_absolute"),
              "Dutcher relative: resting shortness of breath"),
    # --- haematological, renal, hepatic, GI, fluid
    Criterion("platelets_absolute", "absolute", "platelets", "<", ("platelets_absolute_below",), "Dutcher absolute"),
    Criterion("platelets_relative", "relative", "platelets", "range",
              ("platelets_absolute_below", "platelets_relative_below"), "Dutcher relative"),
    Criterion("creatinine_absolute", "absolute", "creatinine", ">=", ("creatinine_absolute_at_or_above",),
              "Dutcher absolute"),
    Criterion("creatinine_relative", "relative", "creatinine", "range",
              ("creatinine_relative_at_or_above", "creatinine_absolute_at_or_above"), "Dutcher relative"),
    Criterion("urine_absolute", "absolute", "urine_per_8h", "<", ("urine_absolute_below_ml_per_8h",),
              "Dutcher absolute"),
    Criterion("urine_relative", "relative", "urine_per_8h", "range",
              ("urine_absolute_below_ml_per_8h", "urine_relative_below_ml_per_8h"), "Dutcher relative"),
    Criterion("weight_gain", "relative", "weight_gain", ">", ("weight_gain_relative_above_percent",),
              "Dutcher relative"),
    Criterion("bilirubin", "relative", "bilirubin", ">", ("bilirubin_relative_above_mg_dl",), "Dutcher relative"),
    Criterion("confusion_mild", "relative", "confusion", "range", ("confusion_relative_grade",
                                                                   "confusion_absolute_grade"),
              "mild disorientation (local choice)"),
    Criterion("diarrhea", "relative", "diarrhea", "range", ("diarrhea_relative_grade", "grade4_absolute"),
              "Dutcher relative (1000 mL/shift, as CTCAE grade 3)"),
    Criterion("vomiting", "absolute", "vomiting", "range", ("vomiting_absolute_grade", "grade4_absolute"),
              "Dutcher absolute (vomiting not responsive to medication), as CTCAE grade 3"),
    # --- permanently discontinue
    Criterion("arrhythmia_uncontrolled", "discontinue", "arrhythmia", ">=", ("arrhythmia_discontinue_grade",),
              "label: rhythm disturbance not controlled, permanently discontinue", danger=True),
    Criterion("coma", "discontinue", "coma_hours", ">", ("coma_discontinue_hours",),
              "label: coma > 48 h, permanently discontinue", danger=True),
    Criterion("fluid_refractory", "discontinue", "fluid_refractory", "<", ("fluid_refractory_sbp_below",),
              "JITC 2024: fluid-refractory hypotension, discontinue", danger=True),
    Criterion("held_doses", "discontinue", "held_doses", ">=", ("held_doses_discontinue_at",),
              "SpringerPlus 2015, institutional: held on 3 occasions, discontinue"),
)
BY_ID: dict[str, Criterion] = {c.id: c for c in CRITERIA}
DANGER = tuple(c for c in CRITERIA if c.danger)
REQUIRED = tuple(name for name, i in INPUTS.items() if i.required)


def limits(criterion: Criterion, values: dict[str, float]) -> tuple:
    """The numbers (or coded values) a criterion compares with, from the thresholds in force."""
    if criterion.op in ("in", "not-in", "is"):
        return criterion.keys
    return tuple(values[k] for k in criterion.keys)


def test(criterion: Criterion, value: np.ndarray, values: dict[str, float]) -> np.ndarray:
    """Where `value` meets the criterion (missing values never do). Numbers are compared after
    rounding to 9 decimals (2.5 mg/dL is 2.5 whatever the unit it came in)."""
    bounds = limits(criterion, values)
    op = criterion.op
    if op in ("in", "not-in", "is"):
        known = np.array([v is not None and v == v for v in value.tolist()], dtype=bool)
        inside = np.isin(value.astype(object), list(bounds)) & known
        return known & ~inside if op == "not-in" else inside
    v = np.round(value.astype(float), 9)
    with np.errstate(invalid="ignore"):
        if op == "<":
            return v < bounds[0]
        if op == "<=":
            return v <= bounds[0]
        if op == ">":
            return v > bounds[0]
        if op == ">=":
            return v >= bounds[0]
        if op == "range":          # low <= v < high
            return (v >= bounds[0]) & (v < bounds[1])
        if op == "range-closed":   # low <= v <= high
            return (v >= bounds[0]) & (v <= bounds[1])
        if op == "range-open":     # low < v <= high
            return (v > bounds[0]) & (v <= bounds[1])
    raise ValueError(f"unknown operator {op!r}")


def wording(criterion: Criterion, values: dict[str, float], *, named: bool = False) -> str:
    """The criterion as shown on the checklist: 'absolute: < 90 mmHg (label: withhold)'; named=True
    puts the input's name in ('absolute: SBP < 90 mmHg (label: withhold)')."""
    bounds = limits(criterion, values)
    unit = {"mm[Hg]": " mmHg", "%": "%", "10*9/L": " x10^9/L", "mg/dL": " mg/dL", "mL": " mL per 8 h",
            "L/min": " L/min", "ug/kg/min": " µg/kg/min", "h": " h", "/min": "/min"}.get(INPUTS[criterion.input].unit
                                                                                       or "", "")
    grade = INPUTS[criterion.input].validity == "nurse_grades"
    # 'confusion grade >= 2', not 'confusion grade grade >= 2', when the name already says grade.
    g = "grade " if grade and not (named and INPUTS[criterion.input].label.endswith("grade")) else ""
    op = criterion.op
    if op == "is":
        text = {"open": "present (finding of its rule)"}.get(bounds[0], bounds[0])
    elif op == "in":
        text = "one of " + ", ".join(bounds)
    elif op == "not-in":
        text = "not " + "/".join(bounds)
    elif op in ("range", "range-closed", "range-open"):
        low, high = bounds
        text = ((f"{g}{low:g}" if high - 1 == low else f"{g}{low:g}-{high - 1:g}") if grade else
                f"{'>' if op == 'range-open' else ''}{low:g}-{'<' if op == 'range' else ''}{high:g}{unit}")
    else:
        text = f"{op} {g}{bounds[0]:g}{unit}" if not grade else f"{g}{op} {bounds[0]:g}"
    scope = " (at the time of dosing)" if criterion.at_dosing else ""
    name = f"{INPUTS[criterion.input].label} " if named else ""
    return f"{criterion.kind}: {name}{text}{scope} ({criterion.source})"


# --- the inputs at given moments --------------------------------------------------------------------

class Inputs:
    """The value (and its time) of each input at each (patient, time); computed on first use.

    at_dosing: the moments that are the time of dosing (readings of the pre_dose_hours before them
    count for the 'dosing' inputs); elsewhere the dosing inputs are missing, never carried."""

    def __init__(self, data: EvalData, pid: np.ndarray, time: np.ndarray, at_dosing: np.ndarray):
        self.data, self.pid, self.time, self.at_dosing = data, pid, time, at_dosing
        self.values = data.thresholds["il2_hold"].values
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, dict]] = {}

    def __call__(self, name: str) -> tuple[np.ndarray, np.ndarray, dict]:
        """(values, times, extra arrays for the evidence) of input `name`."""
        if name not in self._cache:
            self._cache[name] = getattr(self, "_" + name, None)() if hasattr(self, "_" + name) else self._latest(name)
        return self._cache[name]

    def validity(self, name: str) -> pd.Timedelta | None:
        kind = INPUTS[name].validity
        if kind == "dosing":
            return pd.Timedelta(hours=self.values["pre_dose_hours"])
        if kind in ("course", "alerts"):
            return None
        return self.data.validity.of(kind)

    def _latest(self, name: str, code: str | None = None, tolerance: pd.Timedelta | None = None):
        """The latest value of the code at or before each moment, while valid."""
        code = code or INPUTS[name].codes[0]
        series = self.data.series(code)
        idx = self.data.asof(self.pid, self.time, series, tolerance or self.validity(name))
        values = take(series.code, idx, None) if code in CODED_CODES else take(series.num, idx, np.nan)
        return values, take(series.time, idx, NAT), {}

    # derived inputs
    def _heart_rate(self):
        """The latest heart rate of the pre_dose_hours before the dose, and the latest reading at least
        heart_rate_persisting_minutes and at most readings_apart before it (persisting: under
        continuous monitoring the reading just before is minutes old, so the one half an hour back
        is the one that shows persistence)."""
        data, v = self.data, self.values
        series = data.series("heart_rate")
        idx = data.asof(self.pid, self.time, series, pd.Timedelta(hours=v["pre_dose_hours"]))
        idx = np.where(self.at_dosing, idx, -1)
        value, when = take(series.num, idx, np.nan), take(series.time, idx, NAT)
        minimum = data.ticks(pd.Timedelta(minutes=v["heart_rate_persisting_minutes"]))
        earlier = np.where(idx >= 0, when - int(minimum), self.time)
        prev = np.where(idx >= 0, data.asof(self.pid, earlier, series), -1)
        prev_value, prev_time = take(series.num, prev, np.nan), take(series.time, prev, NAT)
        gap = when - prev_time
        apart = (prev >= 0) & (gap >= minimum) & (gap <= data.ticks(data.validity.readings_apart))
        prev_value = np.where(apart, prev_value, np.nan)
        # 'Persisting' (absolute): both readings above the limit; the value compared is the lower one.
        persisting = np.fmin(value, np.where(apart, prev_value, -np.inf))
        return value, when, {"previous": prev_value, "previous_time": np.where(apart, prev_time, NAT),
                             "persisting": persisting}

    def _gcs(self):
        return self._latest("gcs")

    def _urine_per_8h(self):
        data = self.data
        urine = data.series("urine_output")
        if not len(urine) or urine.start is None:
            return np.full(len(self.pid), np.nan), np.full(len(self.pid), NAT), {}
        hours = data.hours(urine.time - np.where(urine.start == NAT, urine.time, urine.start))
        per8h = data.urine_per_8h(urine)
        idx = data.asof(self.pid, self.time, urine, data.validity.fluids)
        return take(per8h, idx, np.nan), take(urine.time, idx, NAT), {"hours": take(hours, idx, np.nan),
                                                                       "volume": take(urine.num, idx, np.nan)}

    def _weight_gain(self):
        data = self.data
        weights = data.series("weight")
        if not len(weights):
            return np.full(len(self.pid), np.nan), np.full(len(self.pid), NAT), {}
        baseline = data.weight_baselines(weights)
        idx = data.asof(self.pid, self.time, weights, data.validity.labs)
        gain = weight_gain_percent(weights.num, baseline)
        return take(gain, idx, np.nan), take(weights.time, idx, NAT), {"baseline": take(baseline, idx, np.nan),
                                                                        "weight": take(weights.num, idx, np.nan)}

    def _grade4(self):
        """The highest nurse grade of any symptom (valid), and which symptom it is."""
        best = np.full(len(self.pid), np.nan)
        when = np.full(len(self.pid), NAT)
        which = np.full(len(self.pid), None, dtype=object)
        for code in GRADED:
            value, at, _ = self._latest("grade4", code, self.data.validity.nurse_grades)
            better = value > np.nan_to_num(best, nan=-1)
            best, when = np.where(better, value, best), np.where(better, at, when)
            which[better] = code
        return best, when, {"symptom": which}

    def _phenylephrine_max(self):
        """The highest phenylephrine dose since the last dose event (the dose running when the
        interval began counts)."""
        data = self.data
        series = data.series("phenylephrine")
        n = len(self.pid)
        if not len(series):
            return np.full(n, np.nan), np.full(n, NAT), {}
        events = data.dose_subset("given", "held", "stopped")
        seg = data.asof(series.pid, series.time, events)          # each reading's interval
        run_max = _segment_cummax(series.num, series.pid, seg)
        idx = data.asof(self.pid, self.time, series)
        # The interval that ends now: at a dose event, the one before it (strictly earlier events).
        own = data.asof(self.pid, self.time - 1, events)
        same = (idx >= 0) & (take(seg, idx, -2) == own)
        value = np.where(same, take(run_max, idx, np.nan), np.nan)
        # The rate running at the start of the interval (the last reading before it, if still valid).
        start = take(events.time, own, NAT)
        before = data.asof(self.pid, np.where(own >= 0, start, self.time), series, data.validity.vital_signs)
        carried = np.where(own >= 0, take(series.num, before, np.nan), np.nan)
        value = np.fmax(value, carried)
        return value, np.where(np.isnan(value), NAT, take(series.time, idx, NAT)), {}

    def _phenylephrine_min(self):
        value, when, extra = self._latest("phenylephrine_min", "phenylephrine", self.data.validity.vital_signs)
        return np.where(self.at_dosing, value, np.nan), np.where(self.at_dosing, when, NAT), extra

    def _fluid_refractory(self):
        """The latest SBP (valid), when a fluid bolus was recorded within fluid_refractory_within_hours
        before it (strictly before: a reading at the bolus time is the one that asked for it)."""
        data = self.data
        sbp, sbp_time, _ = self("sbp")
        bolus = data.series("fluid_bolus")
        n = len(self.pid)
        if not len(bolus):
            return np.full(n, np.nan), np.full(n, NAT), {}
        i = data.asof(self.pid, np.where(sbp_time == NAT, self.time, sbp_time - 1), bolus,
                      pd.Timedelta(hours=self.values["fluid_refractory_within_hours"]))
        ok = (i >= 0) & (sbp_time != NAT)
        return (np.where(ok, sbp, np.nan), np.where(ok, sbp_time, NAT),
                {"bolus": take(bolus.num, i, np.nan), "bolus_time": np.where(ok, take(bolus.time, i, NAT), NAT)})

    def _blood_culture(self):
        return self._latest("blood_culture")

    def _infection_suspected(self):
        return self._latest("infection_suspected")

    def _febrile_neutropenia(self):
        """'open' while an FN finding is within its episode gap, or within the culture validity (7 days)
        while the latest valid neutrophil count is still below the threshold (the neutropenia has not
        resolved, however long ago the fever was)."""
        from monitoring.clinical.rules.febrile_neutropenia import fn_times
        fn = self.data.thresholds["febrile_neutropenia"]
        found = fn_times(self.data)
        recent = self._finding("fn", found, pd.Timedelta(hours=fn.episode_gap_hours))
        longer = self._finding("fn", found, self.data.validity.cultures)
        anc = self.data.series("anc")
        idx = self.data.asof(self.pid, self.time, anc, fn.anc_valid)
        still_low = take(anc.num, idx, np.nan) < fn.definition.anc_below
        is_open = (recent[0] == "open") | ((longer[0] == "open") & still_low)
        return (np.where(is_open, "open", None).astype(object), np.where(is_open, longer[1], NAT), {})

    def _sepsis_screen(self):
        from monitoring.clinical.rules.sepsis import screen_times
        gap = pd.Timedelta(hours=self.data.thresholds["sepsis_screen"].episode_gap_hours)
        return self._finding("sepsis", screen_times(self.data), gap)

    def _finding(self, name: str, found: tuple[np.ndarray, np.ndarray], gap: pd.Timedelta):
        """'open' where another rule found its pattern at or before the moment, within its episode gap."""
        pid, time = found
        order = np.argsort(self.data.key(pid, time), kind="stable")
        series = Series(pid[order], time[order], self.data.key(pid, time)[order], np.zeros(len(pid)),
                        np.zeros(len(pid), dtype=object), None)
        idx = self.data.asof(self.pid, self.time, series, gap)
        return (np.where(idx >= 0, "open", None).astype(object), take(series.time, idx, NAT), {})

    def _coma_hours(self):
        """Hours the patient has been continuously P or U (ACVPU), readings at most the vital-signs
        validity apart; 0 otherwise."""
        data = self.data
        c = data.series("consciousness")
        n = len(self.pid)
        if not len(c):
            return np.full(n, np.nan), np.full(n, NAT), {}
        deep = np.isin(c.code, ["P", "U"])
        m = len(c)
        breaks = ~deep
        breaks[0] = True
        breaks[1:] |= (c.pid[1:] != c.pid[:-1]) | ((c.time[1:] - c.time[:-1]) > data.ticks(data.validity.vital_signs))
        run_first = np.maximum.accumulate(np.where(breaks, np.arange(m), 0))
        first_deep = np.where(deep[run_first], run_first, np.minimum(run_first + 1, m - 1))
        run_start = np.where(deep, c.time[first_deep], NAT)
        idx = data.asof(self.pid, self.time, c, data.validity.vital_signs)
        start = take(run_start, idx, NAT)
        hours = np.where(start == NAT, 0.0, data.hours(self.time - np.where(start == NAT, self.time, start)))
        return np.where(idx >= 0, hours, np.nan), take(c.time, idx, NAT), {"since": start}

    def _held_doses(self):
        return held_in_course(self.data, self.pid, self.time).astype(float), np.full(len(self.pid), NAT), {}


def _segment_cummax(values: np.ndarray, pid: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Running maximum of `values` within runs of equal (patient, segment) (rows in time order)."""
    out = values.astype(float).copy()
    new = np.ones(len(values), dtype=bool)
    new[1:] = (pid[1:] != pid[:-1]) | (segment[1:] != segment[:-1])
    start = np.maximum.accumulate(np.where(new, np.arange(len(values)), 0))
    for k in range(1, int((np.arange(len(values)) - start).max(initial=0)) + 1):
        j = np.arange(len(values)) - k
        inside = j >= start
        out = np.where(inside, np.fmax(out, values[np.maximum(j, 0)]), out)
    return out


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
