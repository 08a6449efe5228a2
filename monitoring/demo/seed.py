"""Synthetic IL-2 ward: deterministic demo and benchmark data, labelled synthetic everywhere.

Same seed, same `end`, same data: every random number comes from one
``numpy.random.default_rng(seed)`` and the current time is never read here (the CLI passes `end`,
usually now floored to the hour, so the demo ward looks current).

Every patient follows a *scenario*: a dosing script (which dose slots are held or stopped, and why)
and a physiology that produces the observations. The physiology is a small latent model evaluated
vectorised over all patients and times at once (no per-row Python loops), so the same code makes
the 12-patient demo ward and a 2,000-course benchmark hospital:

* post-dose IL-2 reactions: rigors 1-2 h and fever 2-4 h after each bolus, resolving before the next
  dose, with the tachycardia that goes with the fever (clinical.md §5.7);
* cumulative IL-2 exposure (a sum of decaying dose effects) drives capillary leak: weight gain, falling
  blood pressure, albumin and platelets, oliguria, rising creatinine, bilirubin, CRP and eosinophils,
  all drifting back after the last dose (§5.7: "reversed after IL-2 stopped");
* myelosuppression profiles after lymphodepletion (TIL) and biochemotherapy; IL-2 alone does not cause
  neutropenia (§6.2 item 6);
* infections whose fever does not follow the dose clock: a central-line sepsis and a febrile
  neutropenia (§6.2 item 2).

Held and stopped doses carry the reason a nurse would write, and where the reason cites a value
(SBP, urine output, heart rate, weight gain, creatinine, lactate) the cited value is in the record.
Values are rounded to the precision of the bedside or the laboratory and kept inside the catalogue's
plausible ranges, in canonical units.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlmodel import Session

from monitoring.clinical.vocabulary import ELIGIBILITY_ITEMS, REGIMENS
from monitoring.errors import RecordError
from monitoring.services import admission, courses
from monitoring.store import repository
from monitoring.store.models import (
    Bed,
    EligibilityAnswer,
    EligibilitySignOff,
    Patient,
    PatientIdentity,
    TreatmentCourse,
)

PATIENT_COUNT_DEFAULT = 12
patient_count_default = PATIENT_COUNT_DEFAULT  # the name the CLI brief uses
DAYS_DEFAULT = 7
MAX_DAYS = 60
SYNTHETIC_CLINICIAN = "dr-synthetic-oncologist"
SYNTHETIC_LABEL = "synthetic"

GIVEN_NAMES = ("Alex", "Sam", "Robin", "Jordan", "Morgan", "Charlie", "Jamie", "Casey", "Riley", "Taylor",
               "Frankie", "Kit", "Ashley", "Drew")
FAMILY_NAMES = ("Testperson", "Demo", "Example", "Sample", "Synthetic", "Placeholder", "Fictional", "Mockup")

# --- scenarios -----------------------------------------------------------------------------------

# What a held or stopped slot means; the reason text is written from the record (see _reasons).
HOLD_KINDS = ("", "sbp", "urine", "tachy", "confusion", "stop-confusion", "stop-cls", "line", "stop-line",
              "home-omitted")
_K = {name: i for i, name in enumerate(HOLD_KINDS)}
_STOP_KINDS = np.array([k.startswith("stop") for k in HOLD_KINDS])


@dataclass(frozen=True)
class Scenario:
    """One kind of synthetic patient: the course, its dosing script and its physiology."""

    name: str
    regimen: str
    description: str
    route: str = "IV"
    start_day: float = 1.0          # first dose, days after the window start (for a 7-day window)
    dose_clock: float = 14.0        # UTC hour of the first dose (q8h: 14:00, 22:00, 06:00)
    dose_per_kg: float | None = 600_000.0
    fixed_dose_iu: float | None = None
    planned_doses: int = 14
    interval_h: float = 8.0
    max_slots: int = 15             # dose slots in the cycle (days 1-5 of q8h: 15)
    cycle: int = 1
    after_lymphodepletion: bool = False
    holds: tuple[tuple[int, str], ...] = ()   # (slot number, hold kind)
    care: str = "ward"              # ward: 4-hourly sets; day: 3 sets a day; home: clinic visits
    dose_sets: str = "bolus"        # bolus: pre-dose, post-dose and rigor sets; pre: pre-dose only
    kernel: str = "bolus"           # time course of the post-dose reaction: bolus, infusion, delayed
    fever: tuple[float, float] = (1.5, 2.5)   # post-dose fever amplitude, deg C above baseline
    severity: float = 1.0           # systemic IL-2 toxicity (GI, skin, liver, CRP, lymphopenia)
    leak: float = 0.35              # capillary leak (weight, SBP, urine, albumin, creatinine)
    potency: float = 1.0            # exposure added by one dose (one HD bolus = 1)
    myelo: str | None = None        # til | biochem
    infection: str | None = None    # line | fn
    lead_h: float = 20.0            # admission before the first dose
    fluids: bool = True             # urine output and fluid intake per 8-h shift


_HD = dict(regimen="hd-iv-bolus")
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("hd-bolus-expected", **_HD, start_day=1.0,
             description="HD IV bolus with the expected rigors and fevers after each dose; 14 doses given"),
    Scenario("hd-bolus-held-hypotension", **_HD, start_day=2.0, holds=((5, "sbp"), (9, "sbp")),
             description="HD IV bolus; two doses held for SBP in the 80s despite a fluid bolus"),
    Scenario("hd-bolus-held-confusion", **_HD, start_day=0.5,
             holds=((8, "confusion"), (11, "confusion"), (12, "stop-confusion")),
             description="HD IV bolus; confusion (cannot spell WORLD backwards): held twice, then stopped"),
    Scenario("capillary-leak", **_HD, start_day=0.6, leak=1.25, holds=((9, "urine"), (11, "sbp"), (12, "stop-cls")),
             description="HD IV bolus with capillary leak: weight gain, hypotension, oliguria, rising "
                         "creatinine; stopped, then recovering"),
    Scenario("til-febrile-neutropenia", "til-il2", start_day=1.0, dose_clock=18.0, planned_doses=6, max_slots=8,
             after_lymphodepletion=True, myelo="til", infection="fn", leak=0.3, severity=0.9,
             fever=(1.5, 2.4), lead_h=72.0,
             description="IL-2 after TIL infusion and lymphodepletion; neutropenia, then febrile "
                         "neutropenia after the last dose"),
    Scenario("line-sepsis", **_HD, start_day=1.5, holds=((8, "line"), (9, "stop-line")), infection="line",
             description="HD IV bolus; central-line sepsis: fever and rigors off the dose clock, "
                         "persisting after IL-2 is held"),
    Scenario("low-dose-sc-home", "low-dose-sc", route="SC", start_day=0.3, dose_clock=8.0, dose_per_kg=60_000.0,
             planned_doses=28, interval_h=24.0, max_slots=28, holds=((4, "home-omitted"),), care="home",
             dose_sets="none", kernel="delayed", fever=(0.4, 0.9), severity=0.15, leak=0.02, potency=0.4,
             lead_h=24.0, fluids=False,
             description="Low-dose SC self-injection at home; sparse clinic observations with gaps"),
    Scenario("continuous-infusion", "continuous-iv", start_day=1.2, dose_clock=10.0, dose_per_kg=400_000.0,
             planned_doses=5, interval_h=24.0, max_slots=5, dose_sets="pre", kernel="infusion",
             fever=(0.8, 1.3), severity=0.6, leak=0.3, potency=1.5, lead_h=18.0,
             description="Continuous IV infusion, one 24-h bag a day for 5 days"),
    Scenario("biochemotherapy", "biochemotherapy", start_day=0.8, dose_clock=10.0, dose_per_kg=200_000.0,
             planned_doses=4, interval_h=24.0, max_slots=4, dose_sets="pre", kernel="infusion",
             fever=(0.8, 1.3), severity=0.6, leak=0.25, potency=1.2, myelo="biochem", lead_h=18.0,
             description="IL-2 with interferon and temozolomide; moderate neutropenia"),
    Scenario("intralesional", "intralesional", route="intralesional", start_day=0.5, dose_clock=11.0,
             dose_per_kg=None, fixed_dose_iu=6_000_000.0, planned_doses=6, interval_h=48.0, max_slots=6,
             care="day", dose_sets="pre", kernel="delayed", fever=(0.2, 0.5), severity=0.05, leak=0.0,
             potency=0.1, lead_h=2.0, fluids=False,
             description="Intralesional IL-2 every other day; few systemic effects"),
    Scenario("hd-bolus-cycle-2", **_HD, start_day=3.2, cycle=2, holds=((5, "urine"),),
             description="HD IV bolus, second cycle, in progress; one dose held for oliguria"),
    Scenario("hd-bolus-completed", **_HD, start_day=0.25, holds=((7, "tachy"),),
             description="HD IV bolus, 14 doses completed (one held for sinus tachycardia); recovering"),
)
SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)
# Benchmark hospital mix: mostly routine HD IL-2, fewer of the rare complications.
_HOSPITAL_WEIGHTS = {"hd-bolus-expected": 4, "hd-bolus-held-hypotension": 2, "hd-bolus-held-confusion": 1,
                     "capillary-leak": 1, "til-febrile-neutropenia": 1, "line-sepsis": 0.5,
                     "low-dose-sc-home": 1, "continuous-infusion": 1, "biochemotherapy": 1, "intralesional": 1,
                     "hd-bolus-cycle-2": 2, "hd-bolus-completed": 2}

# Myelosuppression: multiplier of the patient's baseline count, by days from the first IL-2 dose.
_MYELO = {
    "til": {"days": [-3, -1, 0, 1, 2, 3, 5, 7, 8, 10, 14],
            "anc": [0.5, 0.3, 0.22, 0.14, 0.08, 0.045, 0.025, 0.03, 0.07, 0.3, 0.8],
            "platelets": [0.55, 0.45, 0.4, 0.34, 0.27, 0.21, 0.17, 0.18, 0.22, 0.35, 0.6],
            "lymphocytes": [0.1, 0.06, 0.05, 0.06, 0.08, 0.1, 0.14, 0.2, 0.25, 0.35, 0.5],
            "hemoglobin": [0.78, 0.74, 0.72, 0.7, 0.69, 0.68, 0.68, 0.69, 0.7, 0.72, 0.8]},
    "biochem": {"days": [-1, 0, 2, 4, 5, 6, 8, 10, 14],
                "anc": [1.0, 1.0, 0.8, 0.42, 0.3, 0.26, 0.3, 0.55, 0.9],
                "platelets": [1.0, 1.0, 0.9, 0.7, 0.6, 0.55, 0.6, 0.75, 0.95],
                "lymphocytes": [1.0, 1.0, 0.9, 0.8, 0.78, 0.75, 0.8, 0.9, 1.0],
                "hemoglobin": [1.0, 1.0, 0.97, 0.93, 0.91, 0.9, 0.9, 0.92, 0.95]},
}
# Infection severity 0..1 by hours from onset (antibiotics from the first hours); lactate and CRP
# follow a slower course ("slow") than fever and heart rate. Effects are at severity 1.
_INFECTION = {
    "line": {"hours": [0, 1, 3, 6, 12, 24, 36, 48, 72, 120], "level": [0.65, 0.72, 0.82, 0.9, 1.0, 1.0, 0.85, 0.6,
                                                                       0.3, 0.1],
             "slow_hours": [0, 2, 6, 12, 24, 36, 48, 72, 120], "slow": [0.25, 0.42, 0.7, 0.9, 1.0, 0.85, 0.6, 0.3, 0.1],
             "temp": 2.6, "hr": 35, "sbp": 35, "rr": 9, "lactate": 3.6, "crp": 250, "anc": 8.0, "spo2": 3},
    "fn": {"hours": [0, 1, 4, 8, 16, 24, 36, 48, 72], "level": [0.72, 0.8, 0.88, 0.82, 0.6, 0.4, 0.2, 0.1, 0.0],
           "slow_hours": [0, 4, 12, 24, 48, 72], "slow": [0.5, 0.8, 1.0, 0.7, 0.3, 0.0],
           "temp": 2.3, "hr": 20, "sbp": 15, "rr": 5, "lactate": 1.2, "crp": 150, "anc": 0.0, "spo2": 2},
}

# --- observation codes ---------------------------------------------------------------------------

UNITS = {
    "temperature": "Cel", "heart_rate": "/min", "sbp": "mm[Hg]", "dbp": "mm[Hg]", "map": "mm[Hg]",
    "resp_rate": "/min", "spo2": "%", "on_oxygen": "{code}", "o2_flow": "L/min", "consciousness": "{code}",
    "gcs": "{score}", "weight": "kg", "urine_output": "mL", "fluid_intake": "mL",
    "anc": "10*9/L", "wbc": "10*9/L", "lymphocytes": "10*9/L", "eosinophils": "10*9/L", "platelets": "10*9/L",
    "hemoglobin": "g/dL", "creatinine": "mg/dL", "bilirubin": "mg/dL", "ast": "U/L", "alt": "U/L", "alp": "U/L",
    "albumin": "g/dL", "sodium": "mmol/L", "potassium": "mmol/L", "magnesium": "mg/dL", "lactate": "mmol/L",
    "crp": "mg/L",
}
SYMPTOMS = ("diarrhea", "nausea", "vomiting", "rash", "pruritus", "dyspnea", "confusion", "rigors", "mucositis",
            "fatigue", "arrhythmia")
for _code in SYMPTOMS + ("hypotension",):
    UNITS[_code] = "{grade}"
CODES = tuple(UNITS)
_C = {code: i for i, code in enumerate(CODES)}

VITAL_CODES = ("temperature", "heart_rate", "sbp", "dbp", "map", "resp_rate", "spo2", "on_oxygen", "o2_flow",
               "consciousness", "gcs")
DAILY_LABS = ("anc", "wbc", "lymphocytes", "eosinophils", "platelets", "hemoglobin", "creatinine", "bilirubin",
              "ast", "alt", "alp", "albumin", "sodium", "potassium", "magnesium", "crp")
LAB_CODES = DAILY_LABS + ("lactate",)
LAB_PANELS = {
    "daily": DAILY_LABS,
    "sepsis": ("wbc", "anc", "lymphocytes", "platelets", "hemoglobin", "creatinine", "sodium", "potassium",
               "lactate", "crp"),
    "lactate": ("lactate",),
    "hypotension": ("lactate", "creatinine", "potassium"),
}
_PANEL_NAMES = tuple(LAB_PANELS)
# Laboratory reference ranges sent with each result (adult; hemoglobin by sex below).
LAB_REFERENCE = {
    "anc": (1.8, 7.5), "wbc": (4.0, 11.0), "lymphocytes": (1.0, 4.0), "eosinophils": (0.0, 0.5),
    "platelets": (150.0, 400.0), "hemoglobin": (12.0, 15.5), "creatinine": (0.6, 1.2), "bilirubin": (0.1, 1.2),
    "ast": (10.0, 40.0), "alt": (7.0, 56.0), "alp": (44.0, 147.0), "albumin": (3.5, 5.0), "sodium": (135.0, 145.0),
    "potassium": (3.5, 5.1), "magnesium": (1.7, 2.2), "lactate": (0.5, 2.0), "crp": (0.0, 5.0),
}
HEMOGLOBIN_REFERENCE_MALE = (13.5, 17.5)
# Decimal places as a bedside device or the laboratory reports them, and a physiological clip that stays
# well inside the catalogue's plausible ranges.
DECIMALS = {"temperature": 1, "heart_rate": 0, "sbp": 0, "dbp": 0, "map": 0, "resp_rate": 0, "spo2": 0,
            "o2_flow": 0, "gcs": 0, "weight": 1, "urine_output": 0, "fluid_intake": 0,
            "anc": 2, "wbc": 2, "lymphocytes": 2, "eosinophils": 2, "platelets": 0, "hemoglobin": 1,
            "creatinine": 2, "bilirubin": 1, "ast": 0, "alt": 0, "alp": 0, "albumin": 1, "sodium": 0,
            "potassium": 1, "magnesium": 1, "lactate": 1, "crp": 1}
CLIP = {"temperature": (35.2, 41.0), "heart_rate": (42, 170), "sbp": (72, 190), "dbp": (35, 110),
        "map": (50, 130), "resp_rate": (9, 40), "spo2": (85, 100), "o2_flow": (1, 6), "gcs": (3, 15),
        "weight": (35, 180), "urine_output": (10, 1800), "fluid_intake": (50, 3500),
        "anc": (0.01, 40), "wbc": (0.1, 50), "lymphocytes": (0.01, 20), "eosinophils": (0.0, 10),
        "platelets": (5, 900), "hemoglobin": (6.0, 19.0), "creatinine": (0.3, 8.0), "bilirubin": (0.1, 15.0),
        "ast": (5, 800), "alt": (5, 800), "alp": (20, 800), "albumin": (1.5, 5.5), "sodium": (120, 160),
        "potassium": (2.5, 6.5), "magnesium": (0.8, 3.5), "lactate": (0.4, 12.0), "crp": (0.2, 400.0)}


# --- the frames ----------------------------------------------------------------------------------

PATIENT_COLUMNS = ["key", "mrn", "given_name", "family_name", "birth_date", "sex", "ward", "bed", "scenario",
                   "is_synthetic", "admitted_at", "regimen", "cycle", "dose_per_kg", "fixed_dose", "dose_unit",
                   "planned_doses",
                   "dose_interval_hours", "start_at", "course_status", "after_lymphodepletion",
                   "baseline_weight_kg", "baseline_creatinine_mg_dl", "usual_sbp_mm_hg"]
DOSE_COLUMNS = ["key", "dose_number", "scheduled_at", "status", "given_at", "dose", "dose_unit", "route", "reason",
                "reason_criteria", "reason_note"]
OBSERVATION_COLUMNS = ["key", "code", "value_num", "value_code", "unit", "observed_at", "period_start", "ref_low",
                       "ref_high", "source"]


@dataclass
class DemoWard:
    """Synthetic ward as plain frames (no database); write it with write_ward."""

    patients: pd.DataFrame
    doses: pd.DataFrame
    observations: pd.DataFrame
    start: datetime | None = None
    end: datetime | None = None

    def counts(self) -> dict[str, int]:
        return {"patients": len(self.patients), "doses": len(self.doses), "observations": len(self.observations)}


def generate_ward(*, patients: int = PATIENT_COUNT_DEFAULT, days: int = DAYS_DEFAULT, seed: int = 2026,
                  end: datetime) -> DemoWard:
    """A synthetic melanoma IL-2 ward of `patients` patients over the `days` days ending at `end`.

    The scenarios (SCENARIOS) are taken in order and repeat when there are more than 12 patients.
    Deterministic: same arguments, same frames.
    """
    if patients < 1:
        raise ValueError(f"patients must be at least 1 (got {patients}).")
    scenario_index = np.arange(patients) % len(SCENARIOS)
    width = max(3, len(str(patients)))
    keys = np.array([f"DEMO-{i + 1:0{width}d}" for i in range(patients)], dtype=object)
    mrns = np.array([f"SYN-{i + 1:06d}" for i in range(patients)], dtype=object)
    return _generate(scenario_index, keys=keys, mrns=mrns, wards=np.full(patients, None, dtype=object),
                     days=days, seed=seed, end=end, start_jitter_days=0.0)


def build_hospital(*, courses: int = 2000, days: int = DAYS_DEFAULT, seed: int = 7, end: datetime,
                   beds_per_ward: int = 24) -> DemoWard:
    """Benchmark data: `courses` synthetic patients over many wards (column `ward`: H01, H02 ...).

    Same physiology as generate_ward, 4-hourly vital signs and daily labs, with a realistic mix of
    scenarios (mostly routine HD IL-2) and start times spread over the window.
    """
    if courses < 1:
        raise ValueError(f"courses must be at least 1 (got {courses}).")
    rng = np.random.default_rng([seed, 1])
    weights = np.array([_HOSPITAL_WEIGHTS[s.name] for s in SCENARIOS], dtype=float)
    scenario_index = rng.choice(len(SCENARIOS), size=courses, p=weights / weights.sum())
    keys = np.array([f"BENCH-{i + 1:05d}" for i in range(courses)], dtype=object)
    mrns = np.array([f"SYN-B{i + 1:06d}" for i in range(courses)], dtype=object)
    wards = np.array([f"H{i // beds_per_ward + 1:02d}" for i in range(courses)], dtype=object)
    return _generate(scenario_index, keys=keys, mrns=mrns, wards=wards, days=days, seed=seed, end=end,
                     start_jitter_days=0.6, beds_per_ward=beds_per_ward)


# --- vectorised helpers --------------------------------------------------------------------------

def _group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each group of `counts` consecutive rows (exact for integers)."""
    total = np.cumsum(values)
    starts = np.cumsum(counts) - counts
    before = np.repeat(total[starts[counts > 0]] - values[starts[counts > 0]], counts[counts > 0])
    return total - before


class _Timeline:
    """Events per patient sorted by (patient, time) with 'last event at or before t' look-ups."""

    def __init__(self, patient: np.ndarray, time: np.ndarray, span: float):
        order = np.lexsort((time, patient))
        self.order = order
        self.patient = patient[order]
        self.time = time[order]
        self.span = span
        self.keys = self.patient * span + (self.time + 1000.0)

    def last(self, patient: np.ndarray, time: np.ndarray) -> np.ndarray:
        """Index (into the sorted events) of the patient's last event at or before `time`; -1 if none."""
        if len(self.keys) == 0:
            return np.full(len(patient), -1)
        idx = np.searchsorted(self.keys, patient * self.span + (time + 1000.0), side="right") - 1
        ok = idx >= 0
        ok[ok] = self.patient[idx[ok]] == patient[ok]
        return np.where(ok, idx, -1)


def _in_intervals(patient: np.ndarray, time: np.ndarray, ip: np.ndarray, start: np.ndarray, end: np.ndarray,
                  span: float) -> np.ndarray:
    """True where `time` lies in any [start, end] interval of the same patient (intervals may overlap)."""
    if len(ip) == 0:
        return np.zeros(len(patient), dtype=bool)
    line = _Timeline(ip, start, span)
    ends = pd.Series(end[line.order]).groupby(line.patient).cummax().to_numpy()
    idx = line.last(patient, time)
    ok = idx >= 0
    out = np.zeros(len(patient), dtype=bool)
    out[ok] = time[ok] <= ends[idx[ok]]
    return out


def _expand(ip: np.ndarray, start: np.ndarray, end: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times start, start+step, ... <= end for each window, as (patient, time) arrays."""
    if len(ip) == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    counts = np.maximum(np.floor((end - start) / step).astype(int) + 1, 0)
    rep = np.repeat(np.arange(len(ip)), counts)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
    return ip[rep], start[rep] + j * step[rep]


def _scenario_array(index: np.ndarray, name: str, dtype: Any = None) -> np.ndarray:
    return np.array([getattr(s, name) for s in SCENARIOS], dtype=dtype)[index]


# --- the generator -------------------------------------------------------------------------------

class _World:
    """Patients, doses and the latent physiology, all as arrays indexed by patient number."""

    def __init__(self, scenario_index: np.ndarray, *, days: int, seed: int, end: datetime,
                 start_jitter_days: float):
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError("end must be a timezone-aware datetime (UTC is stored).")
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_DAYS} (got {days}).")
        self.rng = rng = np.random.default_rng(seed)
        end = end.astimezone(timezone.utc)
        start = end - timedelta(days=days)
        # Work in hours from the first whole minute of the window; every time lands on a minute.
        self.t0 = (start + timedelta(minutes=1) - timedelta(microseconds=1)).replace(second=0, microsecond=0)
        last = end.replace(second=0, microsecond=0)
        self.window_start, self.window_end = start, end
        self.W = (last - self.t0).total_seconds() / 3600.0
        self.c0 = self.t0.hour + self.t0.minute / 60.0
        self.days = days
        self.span = self.W + 5000.0
        self.s = s = scenario_index
        self.n = n = len(s)
        scale = days / 7.0 if days < 7 else 1.0

        # Patients.
        self.female = rng.random(n) < 0.45
        self.age = rng.integers(28, 70, n)
        self.weight = np.round(np.clip(np.where(self.female, rng.normal(68, 9, n), rng.normal(84, 11, n)), 48, 130), 1)
        self.base_cr = np.round(np.where(self.female, rng.uniform(0.6, 0.95, n), rng.uniform(0.75, 1.1, n)), 2)
        self.usual_sbp = rng.integers(108, 136, n).astype(float)
        self.base_temp = rng.uniform(36.4, 36.9, n)
        self.base_hr = rng.uniform(66, 86, n)
        self.base_rr = rng.uniform(13, 17, n)
        self.base_spo2 = rng.uniform(96.3, 98.8, n)
        self.dbp_ratio = rng.uniform(0.56, 0.63, n)
        fever = _scenario_array(s, "fever", float).reshape(n, 2)
        self.fever_amp = fever[:, 0] + (fever[:, 1] - fever[:, 0]) * rng.random(n)
        self.severity = _scenario_array(s, "severity", float) * rng.uniform(0.9, 1.1, n)
        self.leak = _scenario_array(s, "leak", float) * rng.uniform(0.93, 1.05, n)
        self.lab = {
            "anc": rng.uniform(2.8, 5.5, n), "lymphocytes": rng.uniform(1.2, 2.6, n),
            "eosinophils": rng.uniform(0.05, 0.3, n), "platelets": rng.uniform(200, 330, n),
            "hemoglobin": np.where(self.female, rng.uniform(12.3, 14.0, n), rng.uniform(13.4, 15.5, n)),
            "bilirubin": rng.uniform(0.3, 0.8, n), "ast": rng.uniform(15, 32, n), "alt": rng.uniform(12, 35, n),
            "alp": rng.uniform(55, 110, n), "albumin": rng.uniform(3.9, 4.5, n), "sodium": rng.uniform(137, 142, n),
            "potassium": rng.uniform(3.8, 4.6, n), "magnesium": rng.uniform(1.85, 2.2, n),
            "lactate": rng.uniform(0.7, 1.3, n), "crp": rng.uniform(1, 8, n),
        }
        self.urine_base = rng.uniform(450, 750, n)
        self.intake_base = rng.uniform(550, 850, n)
        jitter = rng.uniform(-start_jitter_days, start_jitter_days, n) * 24.0
        first = _scenario_array(s, "start_day", float) * 24.0 * scale + jitter
        self.start_h = self.align(np.maximum(first, 1.0), _scenario_array(s, "dose_clock", float))
        self.obs_start = np.maximum(0.0, self.start_h - _scenario_array(s, "lead_h", float))
        self.care = _scenario_array(s, "care")
        self.kernel = _scenario_array(s, "kernel")
        self.interval = _scenario_array(s, "interval_h", float)
        self.dose_sets = _scenario_array(s, "dose_sets")
        self.myelo = _scenario_array(s, "myelo", object)
        self.infection = _scenario_array(s, "infection", object)
        self.fluids = _scenario_array(s, "fluids", bool)
        self._doses()
        self._intervals()

    # Clock arithmetic: t is hours since t0; clock(t) is the UTC hour of day.
    def align(self, a: np.ndarray, clock: np.ndarray | float) -> np.ndarray:
        """First time >= a at which the UTC clock reads `clock`."""
        return a + np.mod(clock - (self.c0 + a), 24.0)

    def minutes(self, low: int, high: int, size: int) -> np.ndarray:
        return self.rng.integers(low, high + 1, size) / 60.0

    # --- doses ---------------------------------------------------------------------------------
    def _doses(self) -> None:
        rng, s, n = self.rng, self.s, self.n
        holds = np.zeros((len(SCENARIOS), max(sc.max_slots for sc in SCENARIOS) + 2), dtype=int)
        for i, sc in enumerate(SCENARIOS):
            for slot, kind in sc.holds:
                holds[i, slot] = _K[kind]
        max_slots = _scenario_array(s, "max_slots", int)
        rep = np.repeat(np.arange(n), max_slots)
        slot = 1 + np.arange(len(rep)) - np.repeat(np.cumsum(max_slots) - max_slots, max_slots)
        sched = self.start_h[rep] + (slot - 1) * self.interval[rep]
        kind = holds[s[rep], slot]
        care, dose_sets = self.care[rep], self.dose_sets[rep]
        late = np.where(rng.random(len(rep)) < 0.7, rng.integers(0, 11, len(rep)), rng.integers(10, 31, len(rep)))
        late = np.where(care == "home", rng.integers(-30, 91, len(rep)), late)
        late = np.where((care == "ward") & (dose_sets == "none"), rng.integers(0, 21, len(rep)), late)
        given_t = sched + late / 60.0
        # Infection onsets come from the script, whether or not the dose slot itself is reached.
        self.onset = np.full(n, np.nan)
        is_line = kind == _K["line"]
        self.onset[rep[is_line]] = sched[is_line] - rng.uniform(2.0, 2.5, int(is_line.sum()))
        planned = _scenario_array(s, "planned_doses", int)
        is_fn = (self.infection[rep] == "fn") & (slot == planned[rep])
        self.onset[rep[is_fn]] = given_t[is_fn] + rng.uniform(30.0, 38.0, int(is_fn.sum()))
        self.onset = np.round(self.onset * 60.0) / 60.0  # on a whole minute, like every recorded time
        self.onset[self.onset > self.W] = np.nan
        self.dose_amp = rng.uniform(0.75, 1.1, len(rep))
        # Truncate: nothing after a stop, after the planned number given, or after the end of the window.
        stopped = _STOP_KINDS[kind]
        given = kind == 0
        stop_before = _group_cumsum(stopped.astype(int), max_slots) - stopped
        given_before = _group_cumsum(given.astype(int), max_slots) - given
        keep = (stop_before == 0) & (given_before < planned[rep]) & (sched <= self.W) & ~(given & (given_t > self.W))
        keep &= sched >= 0
        d = pd.DataFrame({"p": rep, "slot": slot, "sched": sched, "kind": kind, "given": given, "stopped": stopped,
                          "given_t": np.where(given, given_t, np.nan), "number": given_before + 1,
                          "amp": self.dose_amp})[keep].reset_index(drop=True)
        self.d = d
        # Course status.
        last = d.groupby("p").tail(1)
        n_given = d.groupby("p")["given"].sum().reindex(range(n), fill_value=0).to_numpy()
        status = np.full(n, "active", dtype=object)
        last_slot = np.zeros(n, dtype=int)
        last_slot[last["p"].to_numpy()] = last["slot"].to_numpy()
        status[(n_given >= planned) | (last_slot >= max_slots)] = "completed"
        status[d.loc[d["stopped"], "p"].to_numpy()] = "stopped"
        status[last_slot == 0] = "planned"  # first dose after the end of the window
        self.course_status = status
        self.n_given = n_given
        # Exposure: decaying sum of dose effects, computed per dose for each time constant.
        g = d[d["given"]]
        potency = _scenario_array(s, "potency", float)
        self.given_line = _Timeline(g["p"].to_numpy(), g["given_t"].to_numpy(), self.span)
        order = self.given_line.order
        self.given_amp = g["amp"].to_numpy()[order]
        self.given_potency = potency[self.given_line.patient]
        first = pd.Series(self.given_line.time).groupby(self.given_line.patient).transform("min").to_numpy()
        self.given_rel = self.given_line.time - first
        self._cum: dict[float, np.ndarray] = {}

    def exposure(self, p: np.ndarray, t: np.ndarray, tau: float, lag: float = 0.0) -> np.ndarray:
        """IL-2 exposure at t-lag: sum of potency * exp(-age/tau) over given doses, 1 ~ a 12-dose course."""
        line = self.given_line
        if tau not in self._cum:
            e = self.given_potency * np.exp(self.given_rel / tau)
            cs = pd.Series(e).groupby(line.patient).cumsum().to_numpy()
            self._cum[tau] = cs * np.exp(-self.given_rel / tau)
        cum = self._cum[tau]
        tq = t - lag
        idx = line.last(p, tq)
        out = np.zeros(len(p))
        ok = idx >= 0
        out[ok] = cum[idx[ok]] * np.exp(-(tq[ok] - line.time[idx[ok]]) / tau)
        return out / np.exp(-8.0 * np.arange(12) / tau).sum()

    def reaction(self, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Post-dose reaction 0..~1.1 (scaled by the dose's own amplitude): fever, rigors, BP dip."""
        idx = self.given_line.last(p, t)
        ok = idx >= 0
        delta = np.full(len(p), np.inf)
        delta[ok] = t[ok] - self.given_line.time[idx[ok]]
        amp = np.where(ok, self.given_amp[np.maximum(idx, 0)] if len(self.given_amp) else 0.0, 0.0)
        kernel = self.kernel[p]
        with np.errstate(invalid="ignore", over="ignore"):
            bolus = np.where((delta > 0.5) & (delta < 7.0), np.exp(-((delta - 2.75) / 1.15) ** 2), 0.0)
            delayed = np.where((delta > 1.0) & (delta < 12.0), np.exp(-((delta - 5.0) / 2.0) ** 2), 0.0)
            interval = self.interval[p]
            infusion = np.where(delta < interval, np.minimum(1.0, delta / 2.0),
                                np.exp(-np.maximum(delta - interval, 0) / 2.0))
        g = np.select([kernel == "bolus", kernel == "delayed"], [bolus, delayed], infusion)
        return np.where(ok, g * amp, 0.0)

    def infection_level(self, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        level = np.zeros(len(p))
        effect = {k: np.zeros(len(p)) for k in ("temp", "hr", "sbp", "rr", "lactate", "crp", "anc", "spo2")}
        for name, prof in _INFECTION.items():
            m = (self.infection[p] == name) & ~np.isnan(self.onset[p])
            if not m.any():
                continue
            since = t[m] - self.onset[p[m]]
            lv = np.where(since >= 0, np.interp(since, prof["hours"], prof["level"]), 0.0)
            slow = np.where(since >= 0, np.interp(since, prof["slow_hours"], prof["slow"]), 0.0)
            level[m] = lv
            for k in effect:
                effect[k][m] = prof[k] * (slow if k in ("lactate", "crp") else lv)
        return level, effect

    def myelo_factor(self, p: np.ndarray, t: np.ndarray, what: str) -> np.ndarray:
        out = np.ones(len(p))
        for name, prof in _MYELO.items():
            m = self.myelo[p] == name
            if m.any():
                out[m] = np.interp((t[m] - self.start_h[p[m]]) / 24.0, prof["days"], prof[what])
        return out

    # --- intervals that shape the record -------------------------------------------------------
    def _intervals(self) -> None:
        d = self.d
        p, sched, kind = d["p"].to_numpy(), d["sched"].to_numpy(), d["kind"].to_numpy()
        # Confusion (consciousness 'C'): around a confusion hold; persisting for days after a stop.
        conf = np.isin(kind, [_K["confusion"], _K["stop-confusion"]])
        stop = kind == _K["stop-confusion"]
        self.confusion = (p[conf], sched[conf] - np.where(stop[conf], 10.0, 2.0),
                          sched[conf] + np.where(stop[conf], 36.0, 5.0))
        # Transient hypotension and tachycardia at the held dose (what the pre-dose set shows).
        sbp = kind == _K["sbp"]
        self.sbp_dip = (p[sbp], sched[sbp] - 2.5, sched[sbp] + 2.0)
        tachy = kind == _K["tachy"]
        self.tachy = (p[tachy], sched[tachy] - 2.0, sched[tachy] + 2.0)
        # Closer monitoring (sick windows: patient, start, end, step in hours).
        wins = []
        for k, (a, b, step) in {"sbp": (0.5, 3.5, 1.0), "tachy": (0.5, 3.5, 1.0), "confusion": (0.5, 4.0, 1.0),
                                "stop-confusion": (0.5, 8.0, 1.0), "stop-cls": (-19.0, 24.0, 2.0)}.items():
            m = kind == _K[k]
            wins.append((p[m], sched[m] + a, sched[m] + b, np.full(int(m.sum()), step)))
        has = ~np.isnan(self.onset)
        ip = np.flatnonzero(has)
        line = ip[self.infection[ip] == "line"]
        fn = ip[self.infection[ip] == "fn"]
        wins.append((line, self.onset[line], self.onset[line] + 24.0, np.full(len(line), 1.0)))
        wins.append((line, self.onset[line] + 26.0, self.onset[line] + 48.0, np.full(len(line), 2.0)))
        wins.append((fn, self.onset[fn], self.onset[fn] + 8.0, np.full(len(fn), 1.0)))
        self.sick = tuple(np.concatenate([w[i] for w in wins]) for i in range(4))
        # Bolus dosing period: sets follow the dose clock instead of the ward round.
        bolus = d[self.dose_sets[p] == "bolus"]
        first = bolus.groupby("p")["sched"].min()
        last = bolus.groupby("p").tail(1).set_index("p")
        last_end = np.where(last["stopped"], last["sched"] + 0.5,
                            np.where(last["given"], last["given_t"] + 7.0, last["sched"] + 7.0))
        self.dosing = (first.index.to_numpy(), first.to_numpy() - 1.5, last_end)


def _generate(scenario_index: np.ndarray, *, keys: np.ndarray, mrns: np.ndarray, wards: np.ndarray, days: int,
              seed: int, end: datetime, start_jitter_days: float, beds_per_ward: int = 24) -> DemoWard:
    w = _World(scenario_index, days=days, seed=seed, end=end, start_jitter_days=start_jitter_days)
    blocks: list[dict[str, np.ndarray]] = []
    lookups: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    overrides = _vitals(w, blocks, lookups)
    _fluids_and_weight(w, blocks, lookups, overrides)
    _labs(w, blocks, lookups)
    _symptoms(w, blocks, lookups)
    observations = _observations_frame(w, blocks, keys)
    doses = _doses_frame(w, keys, lookups, overrides)
    patients = _patients_frame(w, keys, mrns, wards, beds_per_ward)
    return DemoWard(patients=patients, doses=doses, observations=observations, start=w.window_start,
                    end=w.window_end)


def _block(p, t, code, value=None, code_value=None, period_start=None, ref=None, source="manual"):
    size = len(p)
    return {"p": p, "t": t, "code": np.full(size, _C[code]),
            "value_num": np.full(size, np.nan) if value is None else np.asarray(value, dtype=float),
            "value_code": np.full(size, None, dtype=object) if code_value is None else code_value,
            "period_start": np.full(size, np.nan) if period_start is None else period_start,
            "ref_low": np.full(size, np.nan) if ref is None else ref[0],
            "ref_high": np.full(size, np.nan) if ref is None else ref[1],
            "source": np.full(size, 1 if source == "lab-import" else 0)}


def _round(code: str, values: np.ndarray) -> np.ndarray:
    lo, hi = CLIP[code]
    return np.round(np.clip(values, lo, hi), DECIMALS[code])


def _daily(w: _World, clock: float, jitter: tuple[int, int], keep: np.ndarray, every: int = 1
           ) -> tuple[np.ndarray, np.ndarray]:
    """One time a day at `clock` (UTC) for patients where keep is True, within their observation window."""
    k = np.arange(0, w.days + 2, every)
    first = w.align(np.zeros(w.n), clock)
    t = first[:, None] + 24.0 * k[None, :]
    t = t + w.minutes(*jitter, t.size).reshape(t.shape)
    p = np.broadcast_to(np.arange(w.n)[:, None], t.shape)
    m = keep[:, None] & (t >= w.obs_start[:, None]) & (t <= w.W)
    return p[m], t[m]


def _visits(w: _World) -> tuple[np.ndarray, np.ndarray]:
    """Clinic visits of home patients: about one day in two, always with a two-day gap somewhere."""
    home = np.flatnonzero(w.care == "home")
    ndays = w.days + 1
    go = w.rng.random((len(home), ndays)) < 0.55
    gap = w.rng.integers(1, max(2, ndays - 3), len(home))
    day = np.arange(ndays)[None, :]
    go &= ~((day >= gap[:, None]) & (day < gap[:, None] + 2))
    go |= day == gap[:, None] + 2  # seen again after the gap
    t = w.align(w.obs_start[home], 10.0)[:, None] + 24.0 * day + w.minutes(0, 120, go.size).reshape(go.shape)
    go[:, 0] = True
    last_in_window = (t <= w.W) & (t + 24.0 > w.W)
    go |= last_in_window  # and in the last day, so the record reaches the present
    p = np.broadcast_to(home[:, None], go.shape)
    m = go & (t <= w.W)
    return p[m], t[m]


def _vitals(w: _World, blocks: list, lookups: dict) -> dict[str, np.ndarray]:
    rng, d = w.rng, w.d
    parts = []  # (p, t, kind, dose_row)
    # Ward round: 4-hourly (02, 06, ... UTC) on the ward, three sets a day for day cases.
    first_hour = np.mod(-w.c0, 1.0)
    hours = first_hour + np.arange(int(w.W) + 2)
    clock = np.mod(np.round(w.c0 + hours), 24).astype(int)
    ward_slot = np.mod(clock, 4) == 2
    day_slot = np.isin(clock, [8, 14, 20])
    pp, kk = np.meshgrid(np.arange(w.n), np.arange(len(hours)), indexing="ij")
    care = w.care[pp]
    cand = ((care == "ward") & ward_slot[kk]) | ((care == "day") & day_slot[kk])
    cand &= (hours[kk] >= w.obs_start[pp]) & (hours[kk] <= w.W)
    p, k = pp[cand], kk[cand]
    t = hours[k]
    missed = rng.random(len(p)) < np.where(np.isin(clock[k], [22, 2]), 0.1, 0.02)
    inside = _in_intervals(p, t, *w.dosing, w.span) | _in_intervals(p, t, w.sick[0], w.sick[1], w.sick[2], w.span)
    m = ~missed & ~inside
    p, t = p[m], t[m] + w.minutes(-15, 25, int(m.sum()))
    parts.append((p, t, np.zeros(len(p), int), np.full(len(p), -1)))
    # Around bolus doses: pre-dose set, a set 2-4 h after (fever peak), a rigor check 1-2 h after.
    dp, sched, given = d["p"].to_numpy(), d["sched"].to_numpy(), d["given"].to_numpy()
    row = np.arange(len(d))
    sets = w.dose_sets[dp]
    pre = np.isin(sets, ["bolus", "pre"])
    parts.append((dp[pre], sched[pre] - w.minutes(10, 40, int(pre.sum())), np.ones(int(pre.sum()), int), row[pre]))
    post = (sets == "bolus") & ~d["stopped"].to_numpy()
    after = np.where(given, d["given_t"].to_numpy() + rng.uniform(2.25, 3.75, len(d)),
                     sched + rng.uniform(3.0, 4.5, len(d)))
    parts.append((dp[post], after[post], np.full(int(post.sum()), 2), row[post]))
    rig = (sets == "bolus") & given
    rigor_t = d["given_t"].to_numpy() + rng.uniform(1.0, 2.0, len(d))
    parts.append((dp[rig], rigor_t[rig], np.full(int(rig.sum()), 3), row[rig]))
    # Sick: hourly or 2-hourly sets.
    sp, st = _expand(*w.sick)
    parts.append((sp, st, np.full(len(sp), 4), np.full(len(sp), -1)))
    # Home: clinic visits.
    vp, vt = _visits(w)
    lookups["visits"] = (vp, vt, None)
    parts.append((vp, vt, np.full(len(vp), 5), np.full(len(vp), -1)))

    p = np.concatenate([x[0] for x in parts]).astype(int)
    t = np.concatenate([x[1] for x in parts])
    kind = np.concatenate([x[2] for x in parts])
    drow = np.concatenate([x[3] for x in parts])
    t = np.round(t * 60.0) / 60.0
    keep = (t >= w.obs_start[p]) & (t >= 0) & (t <= w.W)
    p, t, kind, drow = p[keep], t[keep], kind[keep], drow[keep]
    order = np.lexsort((kind, t, p))
    p, t, kind, drow = p[order], t[order], kind[order], drow[order]
    # One set per patient and minute: where two schedules meet, the first kind wins.
    first = np.ones(len(p), dtype=bool)
    first[1:] = (p[1:] != p[:-1]) | (t[1:] != t[:-1])
    p, t, kind, drow = p[first], t[first], kind[first], drow[first]
    lookups["rigor"] = (p[kind == 3], t[kind == 3], drow[kind == 3])
    lookups["pre"] = (p[kind == 1], t[kind == 1], drow[kind == 1])
    size = len(p)
    noise = rng.standard_normal((6, size))

    g = w.reaction(p, t)
    tox = w.exposure(p, t, 48.0)
    inf, eff = w.infection_level(p, t)
    sev, leak = w.severity[p], w.leak[p]
    diurnal = 0.15 * np.sin(2 * np.pi * (np.mod(w.c0 + t, 24.0) - 12.0) / 24.0)
    temp = w.base_temp[p] + w.fever_amp[p] * g + eff["temp"] + diurnal + 0.12 * noise[0]
    temp = _round("temperature", temp)
    hr = (w.base_hr[p] + 11.0 * (temp - w.base_temp[p]) + 8.0 * sev * tox + 10.0 * leak * tox + eff["hr"]
          + 15.0 * _in_intervals(p, t, *w.tachy, w.span) + 3.5 * noise[1])
    dip = _in_intervals(p, t, *w.sbp_dip, w.span)
    bolus = w.kernel[p] == "bolus"
    sbp = (w.usual_sbp[p] - 30.0 * leak * tox - 8.0 * g * bolus - eff["sbp"] - 14.0 * dip + 5.0 * noise[2])
    rr = w.base_rr[p] + 1.5 * g + 7.0 * leak * tox + eff["rr"] + 1.0 * noise[3]
    spo2_air = w.base_spo2[p] - 6.0 * leak * tox - eff["spo2"] + 0.8 * noise[4]
    oxygen = spo2_air < 92.5
    flow = np.where(spo2_air >= 90.0, 2.0, 4.0)
    spo2 = np.where(oxygen, np.minimum(99.0, spo2_air + 1.6 * flow), spo2_air)
    confused = _in_intervals(p, t, *w.confusion, w.span) | ((w.infection[p] == "line") & (inf >= 0.95))
    hr, sbp = _round("heart_rate", hr), _round("sbp", sbp)

    # Overrides at held doses: the pre-dose set shows what the hold reason cites.
    dkind = d["kind"].to_numpy()
    nd = len(d)
    override = {"sbp": rng.integers(80, 87, nd).astype(float), "tachy": rng.integers(121, 129, nd).astype(float),
                "urine": rng.integers(45, 79, nd).astype(float)}
    pre_rows = (kind == 1) & (drow >= 0)
    # A small ward seeded for a few hours may hold no dose at all (2 patients, 1 day, ending 11:00-14:00).
    row_dose_kind = dkind[np.maximum(drow, 0)] if nd else np.full(len(drow), -1)
    at = np.flatnonzero(pre_rows & np.isin(row_dose_kind, [_K["sbp"]]))
    sbp[at] = override["sbp"][drow[at]]
    at = np.flatnonzero(pre_rows & np.isin(row_dose_kind, [_K["tachy"]]))
    hr[at] = override["tachy"][drow[at]]
    dbp = _round("dbp", np.minimum(sbp * w.dbp_ratio[p] + 3.0 * noise[5], sbp - 20.0))
    mean = _round("map", (sbp + 2.0 * dbp) / 3.0)

    full = kind != 3
    u = rng.random((3, size))
    present = {
        "temperature": np.ones(size, bool), "heart_rate": np.ones(size, bool), "sbp": full, "dbp": full,
        "map": full & ((kind == 4) | (u[0] < 0.15)), "resp_rate": full & ~((kind == 0) & (u[1] < 0.03)),
        "spo2": full, "on_oxygen": full, "o2_flow": full & oxygen, "consciousness": full, "gcs": full & confused,
    }
    values = {"temperature": temp, "heart_rate": hr, "sbp": sbp, "dbp": dbp, "map": mean,
              "resp_rate": _round("resp_rate", rr), "spo2": _round("spo2", spo2), "o2_flow": _round("o2_flow", flow),
              "gcs": np.where(u[2] < 0.3, 13.0, 14.0)}
    for code in VITAL_CODES:
        m = present[code]
        if code == "on_oxygen":
            blocks.append(_block(p[m], t[m], code, code_value=np.where(oxygen[m], "yes", "no").astype(object)))
        elif code == "consciousness":
            blocks.append(_block(p[m], t[m], code, code_value=np.where(confused[m], "C", "A").astype(object)))
        else:
            blocks.append(_block(p[m], t[m], code, values[code][m]))
    for code in ("temperature", "heart_rate", "sbp"):
        lookups[code] = (p, t, values[code])
    return override


def _fluids_and_weight(w: _World, blocks: list, lookups: dict, override: dict[str, np.ndarray]) -> None:
    rng, d = w.rng, w.d
    # Urine output and fluid intake per 8-h shift (07-15, 15-23, 23-07 UTC); observed at the shift end.
    first = w.align(np.zeros(w.n), 7.0)
    k = np.arange(-1, 3 * (w.days + 2))
    end = first[:, None] + 8.0 * k[None, :]
    pp = np.broadcast_to(np.arange(w.n)[:, None], end.shape)
    m = w.fluids[:, None] & (end - 8.0 >= w.obs_start[:, None]) & (end - 8.0 >= 0) & (end <= w.W)
    p, t_end = pp[m], end[m]
    mid = t_end - 4.0
    tox = w.exposure(p, mid, 48.0)
    inf, _ = w.infection_level(p, mid)
    leak = w.leak[p]
    factor = np.maximum(0.1, 1.0 - 0.9 * leak * tox - 0.3 * inf)
    urine = w.urine_base[p] * factor * np.exp(0.12 * rng.standard_normal(len(p)))
    urine = _round("urine_output", np.round(urine / 5.0) * 5.0)
    intake = (w.intake_base[p] + 1100.0 * leak * tox + 500.0 * inf + 80.0 * rng.standard_normal(len(p)))
    intake = _round("fluid_intake", np.round(intake / 10.0) * 10.0)
    # The shift before a dose held for oliguria shows the volume the reason cites.
    line = _Timeline(p, t_end, w.span)
    held = np.flatnonzero(d["kind"].to_numpy() == _K["urine"])
    idx = line.last(d["p"].to_numpy()[held], d["sched"].to_numpy()[held])
    ok = idx >= 0
    urine_sorted = urine[line.order]
    urine_sorted[idx[ok]] = override["urine"][held[ok]]
    override["urine_cited"] = np.full(len(d), np.nan)
    override["urine_cited"][held[ok]] = override["urine"][held[ok]]
    urine = np.empty_like(urine)
    urine[line.order] = urine_sorted
    blocks.append(_block(p, t_end, "urine_output", urine, period_start=t_end - 8.0))
    blocks.append(_block(p, t_end, "fluid_intake", intake, period_start=t_end - 8.0))
    lookups["urine_output"] = (p, t_end, urine)

    # Weight: daily at 06:00 on the ward, 08:00 for day cases, at clinic visits from home.
    wp, wt = _daily(w, 6.0, (-15, 20), w.care == "ward")
    dp_, dt_ = _daily(w, 8.0, (0, 30), w.care == "day")
    vp, vt, _ = lookups["visits"]
    p = np.concatenate([wp, dp_, vp]).astype(int)
    t = np.round(np.concatenate([wt, dt_, vt]) * 60.0) / 60.0
    keep = t <= w.W
    p, t = p[keep], t[keep]
    tox = w.exposure(p, t, 48.0)
    inf, _ = w.infection_level(p, t)
    weight = w.weight[p] * (1.0 + 0.15 * w.leak[p] * tox + 0.01 * inf + 0.004 * rng.standard_normal(len(p)))
    weight = _round("weight", weight)
    blocks.append(_block(p, t, "weight", weight))
    lookups["weight"] = (p, t, weight)


def _labs(w: _World, blocks: list, lookups: dict) -> None:
    rng, d = w.rng, w.d
    parts = []  # (p, t, panel)
    # Morning labs at 04:30 on the ward: resulted before the 06:00 dose (its pre-dose check reads them).
    lp, lt = _daily(w, 4.5, (-20, 30), w.care == "ward")
    parts.append((lp, lt, np.zeros(len(lp), int)))
    # An admission panel on the ward (before the first dose, whatever the clock).
    ward = np.flatnonzero(w.care == "ward")
    parts.append((ward, w.obs_start[ward] + w.minutes(20, 50, len(ward)), np.zeros(len(ward), int)))
    lp, lt = _daily(w, 9.0, (0, 30), w.care == "day", every=2)
    parts.append((lp, lt, np.zeros(len(lp), int)))
    vp, vt, _ = lookups["visits"]
    m = rng.random(len(vp)) < 0.6
    parts.append((vp[m], vt[m] + 0.25, np.zeros(int(m.sum()), int)))
    # Work-ups: sepsis screen at infection onset, serial lactate, a panel at a hypotensive hold.
    ip = np.flatnonzero(~np.isnan(w.onset))
    parts.append((ip, w.onset[ip] + w.minutes(45, 90, len(ip)), np.full(len(ip), _PANEL_NAMES.index("sepsis"))))
    line = ip[w.infection[ip] == "line"]
    for h in (5.0, 11.0, 17.0, 23.0, 35.0):
        parts.append((line, w.onset[line] + h + w.minutes(0, 20, len(line)),
                      np.full(len(line), _PANEL_NAMES.index("lactate"))))
    m = d["kind"].to_numpy() == _K["sbp"]
    hp = d["p"].to_numpy()[m]
    parts.append((hp, d["sched"].to_numpy()[m] + w.minutes(20, 50, int(m.sum())),
                  np.full(int(m.sum()), _PANEL_NAMES.index("hypotension"))))
    p = np.concatenate([x[0] for x in parts]).astype(int)
    t = np.round(np.concatenate([x[1] for x in parts]) * 60.0) / 60.0
    panel = np.concatenate([x[2] for x in parts])
    keep = (t <= w.W) & (t >= w.obs_start[p])
    p, t, panel = p[keep], t[keep], panel[keep]
    order = np.lexsort((panel, t, p))
    p, t, panel = p[order], t[order], panel[order]
    size = len(p)
    noise = {code: rng.standard_normal(size) for code in LAB_CODES}

    fast = w.exposure(p, t, 10.0)
    tox = w.exposure(p, t, 48.0)
    late = w.exposure(p, t, 60.0, lag=18.0)
    slow = w.exposure(p, t, 72.0, lag=6.0)
    inf, eff = w.infection_level(p, t)
    sev, leak = w.severity[p], w.leak[p]
    base = {code: w.lab[code][p] for code in w.lab}
    line_inf = np.where(w.infection[p] == "line", inf, 0.0)

    def mult(sd: float, code: str) -> np.ndarray:  # multiplicative laboratory noise
        return np.exp(sd * noise[code])

    anc = (base["anc"] * w.myelo_factor(p, t, "anc") * (1.0 + 0.2 * sev * np.minimum(fast, 1.5)) + eff["anc"])
    anc = anc * mult(0.07, "anc")
    lymph = base["lymphocytes"] * w.myelo_factor(p, t, "lymphocytes") * (1.0 - 0.75 * np.minimum(1.0, 1.5 * fast))
    lymph = lymph * mult(0.08, "lymphocytes")
    eos = ((base["eosinophils"] + 1.1 * sev * late) * np.sqrt(w.myelo_factor(p, t, "anc"))
           * mult(0.1, "eosinophils"))
    monocytes = 0.45 * np.sqrt(w.myelo_factor(p, t, "anc"))
    values = {
        "anc": anc, "lymphocytes": lymph, "eosinophils": eos,
        "wbc": np.round(anc, 2) + np.round(lymph, 2) + np.round(eos, 2) + monocytes + 0.03,
        "platelets": (base["platelets"] * w.myelo_factor(p, t, "platelets")
                      * np.maximum(0.08, 1.0 - 0.72 * leak * slow - 0.25 * sev * slow - 0.25 * line_inf)
                      * mult(0.05, "platelets")),
        "hemoglobin": (base["hemoglobin"] * w.myelo_factor(p, t, "hemoglobin") - 1.6 * leak * slow
                       - 0.5 * sev * slow + 0.15 * noise["hemoglobin"]),
        "creatinine": (w.base_cr[p] * (1.0 + 3.0 * leak * late + 0.4 * sev * late + 0.6 * line_inf)
                       * mult(0.03, "creatinine")),
        "bilirubin": (base["bilirubin"] + 2.0 * sev * late + 0.8 * leak * late) * mult(0.08, "bilirubin"),
        "ast": base["ast"] * (1.0 + 1.5 * sev * late) * mult(0.08, "ast"),
        "alt": base["alt"] * (1.0 + 1.5 * sev * late) * mult(0.08, "alt"),
        "alp": base["alp"] * (1.0 + 0.6 * sev * late) * mult(0.06, "alp"),
        "albumin": base["albumin"] - 1.8 * leak * slow - 0.4 * sev * slow - 0.4 * inf + 0.08 * noise["albumin"],
        "sodium": base["sodium"] - 3.0 * leak * slow + 1.0 * noise["sodium"],
        "potassium": base["potassium"] - 0.4 * sev * slow + 0.12 * noise["potassium"],
        "magnesium": base["magnesium"] - 0.35 * (sev + leak) * slow + 0.06 * noise["magnesium"],
        "lactate": base["lactate"] + 0.9 * leak * tox + eff["lactate"] + 0.1 * noise["lactate"],
        "crp": (base["crp"] + 110.0 * sev * late + 50.0 * leak * late + eff["crp"]) * mult(0.08, "crp"),
    }
    ref_hb = np.where(w.female[p], LAB_REFERENCE["hemoglobin"][0], HEMOGLOBIN_REFERENCE_MALE[0]), \
        np.where(w.female[p], LAB_REFERENCE["hemoglobin"][1], HEMOGLOBIN_REFERENCE_MALE[1])
    for code in LAB_CODES:
        member = np.array([code in LAB_PANELS[name] for name in _PANEL_NAMES])[panel]
        value = _round(code, values[code])
        ref = ref_hb if code == "hemoglobin" else (np.full(size, LAB_REFERENCE[code][0]),
                                                   np.full(size, LAB_REFERENCE[code][1]))
        blocks.append(_block(p[member], t[member], code, value[member], ref=(ref[0][member], ref[1][member]),
                             source="lab-import"))
        lookups[code] = (p[member], t[member], value[member])


def _symptoms(w: _World, blocks: list, lookups: dict) -> None:
    rng, d = w.rng, w.d
    # Nurse-graded symptoms once a day (10:00 on the ward), and at each clinic visit from home.
    sp, st = _daily(w, 10.0, (-30, 60), np.isin(w.care, ["ward", "day"]))
    vp, vt, _ = lookups["visits"]
    p = np.concatenate([sp, vp]).astype(int)
    t = np.round(np.concatenate([st, vt]) * 60.0) / 60.0
    keep = t <= w.W
    p, t = p[keep], t[keep]
    size = len(p)
    tox = w.exposure(p, t, 48.0)
    fast = w.exposure(p, t, 10.0)
    late = w.exposure(p, t, 60.0, lag=18.0)
    slow = w.exposure(p, t, 72.0, lag=6.0)
    inf, effect = w.infection_level(p, t)
    sev, leak = w.severity[p], w.leak[p]
    confused = _in_intervals(p, t, *w.confusion, w.span)
    latent = {
        "diarrhea": 2.2 * sev * tox + 0.5 * leak * tox, "nausea": 0.3 * sev + 1.3 * sev * fast,
        "vomiting": 1.0 * sev * fast, "rash": 1.6 * sev * late, "pruritus": 1.3 * sev * late,
        "dyspnea": 2.5 * leak * tox + 1.0 * inf, "mucositis": 1.4 * sev * slow,
        "fatigue": 0.6 + 1.5 * sev * tox + 1.0 * inf, "arrhythmia": np.zeros(size),
    }
    top = {"fatigue": 3, "rash": 3, "pruritus": 3, "nausea": 3, "dyspnea": 3, "arrhythmia": 0}
    noise = rng.standard_normal((len(SYMPTOMS), size))
    for i, code in enumerate(SYMPTOMS):
        if code == "rigors":
            continue  # recorded when they happen, below
        if code == "confusion":
            grade = np.where(confused, 2.0, np.where((w.infection[p] == "line") & (inf >= 0.9), 1.0, 0.0))
        else:
            grade = np.clip(np.round(latent[code] + 0.4 * noise[i]), 0, top.get(code, 4))
        blocks.append(_block(p, t, code, grade))
    # Hypotension is graded by the intervention it needs (CTCAE v5.0); the synthetic nurse grades it
    # from the same fall in SBP that the vital signs get (capillary leak, infection, dips): 10 mmHg
    # per grade, so a septic shock reaches pressors (grade 4). No random draw: every later draw of
    # the generator, and so the rest of the demo, is unchanged.
    fall = 30.0 * leak * tox + effect["sbp"] + 14.0 * _in_intervals(p, t, *w.sbp_dip, w.span)
    blocks.append(_block(p, t, "hypotension", np.clip(np.floor(fall / 10.0), 0, 4)))
    # Rigors 1-2 h after each bolus (at the rigor check), and with the fever of an infection.
    rp, rt, row = lookups["rigor"]
    grade = np.clip(np.round(0.5 + 1.1 * w.severity[rp] * d["amp"].to_numpy()[row]
                             + 0.45 * rng.standard_normal(len(rp))), 0, 2)
    ip = np.flatnonzero(~np.isnan(w.onset))
    onset_t = np.round(w.onset[ip] * 60.0) / 60.0
    onset_grade = np.where(w.infection[ip] == "line", 2.0, 1.0)
    keep = (onset_t <= w.W) & (onset_t >= w.obs_start[ip])
    blocks.append(_block(np.concatenate([rp, ip[keep]]), np.concatenate([rt, onset_t[keep]]), "rigors",
                         np.concatenate([grade, onset_grade[keep]])))
    # Confusion graded at the pre-dose check of a dose held or stopped for it.
    cp, ct, crow = lookups["pre"]
    m = np.isin(d["kind"].to_numpy()[crow], [_K["confusion"], _K["stop-confusion"]])
    blocks.append(_block(cp[m], ct[m], "confusion", np.full(int(m.sum()), 2.0)))


def _observations_frame(w: _World, blocks: list, keys: np.ndarray) -> pd.DataFrame:
    data = {k: np.concatenate([b[k] for b in blocks]) if blocks else np.zeros(0) for k in
            ("p", "t", "code", "value_num", "value_code", "period_start", "ref_low", "ref_high", "source")}
    p = data["p"].astype(int)
    order = np.lexsort((data["code"], data["t"], p))
    codes = np.array(CODES, dtype=object)
    units = np.array([UNITS[c] for c in CODES], dtype=object)
    code_id = data["code"][order].astype(int)
    frame = pd.DataFrame({
        "key": keys[p[order]],
        "code": codes[code_id],
        "value_num": data["value_num"][order].astype(float),
        "value_code": data["value_code"][order].astype(object),
        "unit": units[code_id],
        "observed_at": _timestamps(w, data["t"][order]),
        "period_start": _timestamps(w, data["period_start"][order].astype(float)),
        "ref_low": data["ref_low"][order].astype(float),
        "ref_high": data["ref_high"][order].astype(float),
        "source": np.where(data["source"][order] == 1, "lab-import", "manual").astype(object),
    })
    # Two panels drawn at the same minute give one result per test (the engine refuses two different
    # values for one code and time, as a ward's record would never hold them).
    frame = frame.drop_duplicates(["key", "code", "observed_at"], keep="first")
    return frame.reset_index(drop=True)


def _timestamps(w: _World, hours: np.ndarray) -> pd.DatetimeIndex:
    valid = ~np.isnan(hours)
    minutes = np.where(valid, np.round(np.nan_to_num(hours) * 60.0), 0).astype("int64")
    base = np.datetime64(w.t0.replace(tzinfo=None), "us")
    values = base + minutes.astype("timedelta64[m]")
    values = values.astype("datetime64[us]")
    values[~valid] = np.datetime64("NaT")
    return pd.DatetimeIndex(values).tz_localize("UTC")


def _latest(lookup: tuple[np.ndarray, np.ndarray, np.ndarray], p: np.ndarray, t: np.ndarray,
            span: float) -> np.ndarray:
    """The latest recorded value at or before t for each patient (NaN if none)."""
    lp, lt, lv = lookup
    line = _Timeline(lp, lt, span)
    idx = line.last(p, t)
    out = np.full(len(p), np.nan)
    ok = idx >= 0
    out[ok] = lv[line.order][idx[ok]]
    return out


def _reasons(w: _World, lookups: dict, overrides: dict[str, np.ndarray]) -> np.ndarray:
    """The reason a nurse writes for each held or stopped dose; values cited are those in the record."""
    d = w.d
    p, sched, kind = d["p"].to_numpy(), d["sched"].to_numpy(), d["kind"].to_numpy()
    reasons = np.full(len(d), None, dtype=object)
    weight = _latest(lookups["weight"], p, sched, w.span)
    creatinine = _latest(lookups["creatinine"], p, sched, w.span)
    urine = _latest(lookups["urine_output"], p, sched, w.span)
    temperature = _latest(lookups["temperature"], p, sched, w.span)
    lactate = _latest(lookups["lactate"], p, sched, w.span)
    gain = 100.0 * (weight / w.weight[p] - 1.0)
    for i in np.flatnonzero(kind > 0):  # held and stopped doses only: a few per course
        k = HOLD_KINDS[kind[i]]
        if k == "sbp":
            reasons[i] = f"SBP {overrides['sbp'][i]:.0f} mmHg despite fluid bolus"
        elif k == "tachy":
            reasons[i] = f"Sinus tachycardia {overrides['tachy'][i]:.0f}/min at dose time despite fluid bolus"
        elif k == "urine":
            cited = overrides["urine_cited"][i]
            reasons[i] = (f"Urine output {cited:.0f} mL over 8 h shift" if not np.isnan(cited)
                          else "Urine output below 80 mL over 8 h shift")
        elif k == "confusion":
            reasons[i] = "Confusion: unable to spell WORLD backwards"
        elif k == "stop-confusion":
            reasons[i] = ("IL-2 stopped: confusion not reversible within 2 hours "
                          "(unable to spell WORLD backwards)")
        elif k == "stop-cls":
            parts = []
            if not np.isnan(gain[i]):
                parts.append(f"weight gain {gain[i]:.0f}% over baseline")
            if not np.isnan(creatinine[i]):
                parts.append(f"creatinine {creatinine[i]:.2f} mg/dL")
            if not np.isnan(urine[i]):
                parts.append(f"urine output {urine[i]:.0f} mL over 8 h shift")
            reasons[i] = "IL-2 stopped for capillary leak: " + (", ".join(parts) or "three relative criteria")
        elif k == "line":
            reasons[i] = "Suspected line infection"
        elif k == "stop-line":
            cited = []
            if not np.isnan(temperature[i]):
                cited.append(f"temperature {temperature[i]:.1f} Cel off the dose clock")
            if not np.isnan(lactate[i]):
                cited.append(f"lactate {lactate[i]:.1f} mmol/L")
            reasons[i] = ("IL-2 stopped: suspected central-line sepsis"
                          + (f" ({', '.join(cited)})" if cited else "") + "; blood cultures taken")
        elif k == "home-omitted":
            reasons[i] = "Dose omitted at home: nausea and fatigue (patient report)"
    return reasons


# The hold criteria (monitoring/clinical/rules/hold_criteria.py) each hold kind cites, so that a de-identified
# export can name them; the synthetic nurse's words stay the typed note.
_KIND_CRITERIA = {"sbp": ["sbp_below"], "tachy": ["tachycardia_persisting"], "confusion": ["confusion_moderate"],
                  "stop-confusion": ["confusion_moderate"], "stop-cls": ["weight_gain", "creatinine_relative",
                                                                         "urine_relative"],
                  "line": ["infection_suspected"], "stop-line": ["infection_suspected"]}


def _reason_criteria(w: _World, overrides: dict[str, np.ndarray]) -> list:
    kind = w.d["kind"].to_numpy()
    out: list = [None] * len(kind)
    for i in np.flatnonzero(kind > 0):
        k = HOLD_KINDS[kind[i]]
        if k == "urine":
            cited = overrides["urine_cited"][i]
            out[i] = ["urine_relative"] if cited == cited and cited >= 80 else ["urine_absolute"]
        else:
            out[i] = _KIND_CRITERIA.get(k)
    return out


def _doses_frame(w: _World, keys: np.ndarray, lookups: dict, overrides: dict[str, np.ndarray]) -> pd.DataFrame:
    d = w.d
    p = d["p"].to_numpy()
    given = d["given"].to_numpy()
    per_kg = _scenario_array(w.s, "dose_per_kg", float)[p]
    fixed = _scenario_array(w.s, "fixed_dose_iu", float)[p]
    amount = np.where(np.isnan(per_kg), fixed, np.round(per_kg * w.weight[p] / 1e5) * 1e5)
    status = np.where(d["stopped"].to_numpy(), "stopped", np.where(given, "given", "held"))
    return pd.DataFrame({
        "key": keys[p],
        # Every scheduled slot has its own number, held ones included (one event per number is
        # enforced by the database; dosing.next_dose counts the same way).
        "dose_number": d.groupby("p")["sched"].rank(method="first").to_numpy().astype("int64"),
        "scheduled_at": _timestamps(w, d["sched"].to_numpy()),
        "status": status.astype(object),
        "given_at": _timestamps(w, d["given_t"].to_numpy()),
        "dose": np.where(given, amount, np.nan),
        "dose_unit": np.where(given, "[IU]", None).astype(object),
        "route": _scenario_array(w.s, "route", object)[p],
        "reason": (reasons := _reasons(w, lookups, overrides)),
        "reason_criteria": _reason_criteria(w, overrides),
        "reason_note": reasons,
    })


def _patients_frame(w: _World, keys: np.ndarray, mrns: np.ndarray, wards: np.ndarray,
                    beds_per_ward: int) -> pd.DataFrame:
    rng, n, s = w.rng, w.n, w.s
    end_day = w.window_end.date()
    birth = [end_day - timedelta(days=int(a * 365.25 + o)) for a, o in zip(w.age, rng.integers(0, 365, n))]
    per_kg = _scenario_array(s, "dose_per_kg", float)
    in_ward = np.where(pd.isna(wards), np.arange(n), np.arange(n) % beds_per_ward)
    # A patient treated at home is on the ward's list without a bed (as services.admission admits them).
    beds = np.array([None if care == "home" else f"Bed {i + 1:02d}" for care, i in zip(w.care, in_ward)],
                    dtype=object)
    return pd.DataFrame({
        "key": keys,
        "mrn": mrns,
        "given_name": np.array(GIVEN_NAMES, dtype=object)[rng.integers(0, len(GIVEN_NAMES), n)],
        "family_name": np.array(FAMILY_NAMES, dtype=object)[rng.integers(0, len(FAMILY_NAMES), n)],
        "birth_date": np.array(birth, dtype=object),
        "sex": np.where(w.female, "female", "male").astype(object),
        "ward": wards,
        "bed": beds,
        "scenario": np.array(SCENARIO_NAMES, dtype=object)[s],
        "is_synthetic": np.ones(n, dtype=bool),
        "admitted_at": _timestamps(w, w.obs_start),
        "regimen": _scenario_array(s, "regimen", object),
        "cycle": _scenario_array(s, "cycle", "int64"),
        "dose_per_kg": per_kg,
        "fixed_dose": _scenario_array(s, "fixed_dose_iu", float),
        "dose_unit": np.where(np.isnan(per_kg), "[IU]", "[IU]/kg").astype(object),
        "planned_doses": _scenario_array(s, "planned_doses", "int64"),
        "dose_interval_hours": _scenario_array(s, "interval_h", float),
        "start_at": _timestamps(w, w.start_h),
        "course_status": w.course_status,
        "after_lymphodepletion": _scenario_array(s, "after_lymphodepletion", bool),
        "baseline_weight_kg": w.weight,
        "baseline_creatinine_mg_dl": w.base_cr,
        "usual_sbp_mm_hg": w.usual_sbp,
    })[PATIENT_COLUMNS]


# --- writing -------------------------------------------------------------------------------------

def engine_frames(source: DemoWard) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The engine's canonical inputs from a generated ward or hospital, as the store would give them
    (observations, doses, course baselines), for the benchmarks and the engine equivalence test."""
    obs = source.observations.rename(columns={"key": "patient_id", "observed_at": "time"})[
        ["patient_id", "time", "code", "value_num", "value_code", "period_start"]]
    d = source.doses.rename(columns={"key": "patient_id"})
    doses = pd.DataFrame({"patient_id": d["patient_id"], "time": d["given_at"].fillna(d["scheduled_at"]),
                          "status": d["status"], "dose_number": d["dose_number"]})
    courses = source.patients.rename(columns={"key": "patient_id"})
    return obs, doses, courses


def write_ward(*, session: Session, ward: DemoWard, ward_code: str = "DEMO",
               ward_name: str = "Melanoma unit (synthetic demo)", recorded_by: str = "demo-generator",
               bulk: bool | None = None) -> dict[str, int]:
    """Store a DemoWard: wards, beds, synthetic patients with their course and eligibility answers, doses
    and observations. Returns the counts written. The caller owns the transaction (session_scope).

    Up to 50 patients go through the services a real patient goes through (issue 19 item 6): admission,
    course start with entered baselines, the eligibility screen answered and signed off, and the course
    ended with its reason when the scenario completed or stopped it (_admit_patients, _end_courses). Above
    50 patients (bulk=None: the benchmark hospital) or with bulk=True they are inserted in bulk with one
    audit row: 2,000 courses through the services would take minutes for data no clinician reads.
    Refuses a ward whose record numbers are already stored (load the demo into a fresh database).
    """
    patients = ward.patients
    if bulk is None:
        bulk = len(patients) > 50
    mrns = patients["mrn"].tolist()
    taken = []
    for start in range(0, len(mrns), 500):
        taken += session.scalars(select(PatientIdentity.mrn)
                                 .where(PatientIdentity.mrn.in_(mrns[start:start + 500]))).all()
    if taken:
        raise RecordError([f"{len(taken)} synthetic record numbers are already stored (e.g. {taken[0]}); "
                                      "the demo ward is loaded once per database."])
    ward_ids: dict[Any, int] = {}
    bed_ids: dict[tuple[Any, str], int] = {}
    for suffix in pd.unique(patients["ward"]):
        code = ward_code if pd.isna(suffix) else f"{ward_code}-{suffix}"
        name = ward_name if pd.isna(suffix) else f"{ward_name} {suffix}"
        ward_ids[None if pd.isna(suffix) else suffix] = repository.get_or_create_ward(
            session=session, code=code, name=name, username=recorded_by).id
    wanted = [(suffix, bed) for suffix, bed in dict.fromkeys(zip(patients["ward"].where(patients["ward"].notna(), None),
                                                                  patients["bed"])) if not pd.isna(bed)]
    if bulk:
        bed_ids = _insert_beds_bulk(session=session, ward_ids=ward_ids, wanted=wanted, recorded_by=recorded_by)
    else:
        for suffix, bed in wanted:
            bed_ids[(suffix, bed)] = repository.get_or_create_bed(session=session, ward_id=ward_ids[suffix],
                                                                  label=bed, username=recorded_by).id
    rows = []
    for row in patients.itertuples(index=False):
        suffix = None if pd.isna(row.ward) else row.ward
        rows.append(dict(
            mrn=row.mrn, given_name=row.given_name, family_name=row.family_name, birth_date=row.birth_date,
            sex=row.sex, ward_id=ward_ids[suffix], is_synthetic=True,
            bed_id=None if pd.isna(row.bed) else bed_ids[(suffix, row.bed)],
            admitted_at=row.admitted_at.to_pydatetime(), regimen=row.regimen, cycle=int(row.cycle),
            dose_per_kg=None if pd.isna(row.dose_per_kg) else float(row.dose_per_kg), dose_unit=row.dose_unit,
            planned_doses=int(row.planned_doses), dose_interval_hours=float(row.dose_interval_hours),
            start_at=row.start_at.to_pydatetime(), status=row.course_status,
            after_lymphodepletion=bool(row.after_lymphodepletion),
            baseline_weight_kg=float(row.baseline_weight_kg),
            baseline_creatinine_mg_dl=float(row.baseline_creatinine_mg_dl),
            usual_sbp_mm_hg=float(row.usual_sbp_mm_hg),
            # The prescription: the pre-treatment weight is the dosing weight; intralesional has a fixed dose.
            dosing_weight_kg=float(row.baseline_weight_kg),
            fixed_dose=None if pd.isna(row.fixed_dose) else float(row.fixed_dose),
            allergies=DEMO_ALLERGIES[len(rows) % len(DEMO_ALLERGIES)],
            answered_at=max(row.start_at.to_pydatetime() - timedelta(hours=2), ward.start or row.start_at)))
    if bulk:
        ids = _insert_patients_bulk(session=session, rows=rows, recorded_by=recorded_by)
    else:
        ids = _admit_patients(session=session, rows=rows, recorded_by=recorded_by, now=ward.end or _latest_time(rows))
    patient_id = dict(zip(patients["key"], ids[0]))
    course_id = dict(zip(patients["key"], ids[1]))

    # Each bulk call gets a time column that is either always or never present: the repository's bulk
    # functions (pandas 3) turn a missing time back into NaT when the column is mixed.
    doses = ward.doses.assign(patient_id=ward.doses["key"].map(patient_id), course_id=ward.doses["key"].map(course_id))
    n_doses = 0
    for _, part in doses.groupby(doses["given_at"].notna(), sort=True):
        n_doses += repository.add_doses_bulk(session=session, frame=part.drop(columns="key"), recorded_by=recorded_by)
    obs = ward.observations
    obs = obs.assign(patient_id=obs["key"].map(patient_id), course_id=obs["key"].map(course_id),
                     set_id=_set_ids(obs))
    n_obs = 0
    for (source, _), part in obs.groupby([obs["source"], obs["period_start"].notna()], sort=True):
        n_obs += repository.add_observations_bulk(session=session, frame=part.drop(columns=["key", "source"]),
                                                  recorded_by=recorded_by, source=source)
    if not bulk:
        _end_courses(session=session, rows=rows, course_ids=ids[1], doses=doses, now=ward.end or _latest_time(rows))
    # Through the services, a cycle-2 patient has their ended cycle 1 too (_admit_patients).
    n_courses = len(rows) + sum(r["cycle"] > 1 for r in rows) * (not bulk)
    return {"wards": len(ward_ids), "beds": len(bed_ids), "patients": len(rows), "courses": n_courses,
            "eligibility_answers": n_courses * len(ELIGIBILITY_ITEMS), "doses": n_doses, "observations": n_obs}


def _set_ids(observations: pd.DataFrame) -> np.ndarray:
    """One set id per patient, time and source (what a nurse or an analyser would have sent together).

    Ids count up from a random 64-bit prefix, so they are unique in any database and the set_id
    index grows at its end instead of taking a million random inserts.
    """
    group = observations.groupby(["key", "observed_at", "source"], sort=False).ngroup().to_numpy()
    prefix = f"{uuid.uuid4().int >> 64:016x}"
    head = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-"
    ids = np.array([f"{head}{i >> 48:04x}-{i & 0xFFFFFFFFFFFF:012x}"
                    for i in range(int(group.max()) + 1 if len(group) else 0)], dtype=object)
    return ids[group]


_COURSE_FIELDS = ("regimen", "cycle", "dose_per_kg", "dose_unit", "planned_doses", "dose_interval_hours", "start_at",
                  "status", "after_lymphodepletion", "baseline_weight_kg", "baseline_creatinine_mg_dl",
                  "usual_sbp_mm_hg", "dosing_weight_kg", "fixed_dose")
# Allergies of the synthetic patients, by row (not drawn from the random stream, so adding them did
# not change any other synthetic value); None = not recorded, which the banner says.
DEMO_ALLERGIES = ("No known drug allergies", "Penicillin: rash", None, "Iodinated contrast: urticaria",
                  "No known drug allergies", "Sulfonamides: rash")
_NO_TO_ALL = {item: "no" for item in ELIGIBILITY_ITEMS}


# What the demo's oncologist prescribes beside the scenario's regimen: the indication (melanoma stage IV,
# after surgery) and the combination the regimen belongs to (vocabulary.COMBINATION_REGIMENS).
_DEMO_COMBINATION = {"biochemotherapy": "il2-ifn-tmz"}
_END_REASON = {"completed": "completed", "stopped": "toxicity"}
# A demo patient in cycle 2 had cycle 1 this many days before (rest days included); its doses lie before the
# synthetic record and are not in it.
_CYCLE_GAP_DAYS = 14


def _latest_time(rows: list[dict]) -> datetime:
    return max(max(r["admitted_at"], r["start_at"]) for r in rows)


def _plan(row: dict, *, start_at: datetime) -> "courses.CoursePlan":
    return courses.CoursePlan(
        indication_stage="IV", combination=_DEMO_COMBINATION.get(row["regimen"], "il2-alone"), prior_surgery=True,
        after_til=row["regimen"] == "til-il2", regimen=row["regimen"], planned_doses=row["planned_doses"],
        dose_interval_hours=row["dose_interval_hours"], start_at=start_at, dose_per_kg=row["dose_per_kg"],
        fixed_dose=row["fixed_dose"], dosing_weight_kg=row["dosing_weight_kg"],
        after_lymphodepletion=row["after_lymphodepletion"])


def _screened(*, session: Session, course_id: int, at: datetime) -> None:
    """The eligibility screen answered 'no' to every item and signed off 'eligible' by the synthetic oncologist."""
    courses.answer_screen(session=session, course_id=course_id, answers=_NO_TO_ALL,
                          notes={"bedbound": "Synthetic demo patient"}, role="oncologist",
                          username=SYNTHETIC_CLINICIAN, now=at)
    courses.sign_off(session=session, course_id=course_id, outcome="eligible", role="oncologist",
                     username=SYNTHETIC_CLINICIAN, now=at)


def _admit_patients(*, session: Session, rows: list[dict], recorded_by: str,
                    now: datetime) -> tuple[list[int], list[int]]:
    """Each synthetic patient as a real one (issue 19): admitted (services.admission, at their past admission
    time), the course started with its entered baselines and its screen signed off (services.courses), each
    with its audit rows. A cycle-2 patient's cycle 1 is started, signed off and ended 'completed' first, and
    cycle 2 starts from it with the baselines carried forward."""
    patient_ids, course_ids = [], []
    for row in rows:
        done = admission.admit(
            session=session, role="oncologist", username=recorded_by, mrn=row["mrn"], family_name=row["family_name"],
            given_name=row["given_name"], birth_date=row["birth_date"], sex=row["sex"], allergies=row["allergies"],
            ward_id=row["ward_id"], bed_id=row["bed_id"], now=now, tz=timezone.utc, admitted_at=row["admitted_at"],
            is_synthetic=True)
        baselines = {name: courses.Baseline(row[column], "entered")
                     for name, column in (("weight", "baseline_weight_kg"), ("creatinine", "baseline_creatinine_mg_dl"),
                                          ("sbp", "usual_sbp_mm_hg"))}
        screened_at = row["answered_at"]
        if row["cycle"] > 1:
            first_start = row["start_at"] - timedelta(days=_CYCLE_GAP_DAYS)
            first = courses.start_course(session=session, patient_id=done.patient_id, baselines=baselines,
                                         plan=_plan(row, start_at=first_start), role="oncologist",
                                         username=SYNTHETIC_CLINICIAN)
            _screened(session=session, course_id=int(first.id or 0), at=first_start - timedelta(hours=2))
            courses.end_course(session=session, course_id=int(first.id or 0), reason="completed", role="oncologist",
                               username=SYNTHETIC_CLINICIAN, now=now, ended_at=first_start + timedelta(days=5),
                               note="Synthetic: cycle 1 lies before the demo's record (its doses are not in it).")
            course = courses.next_cycle(session=session, course_id=int(first.id or 0), start_at=row["start_at"],
                                        baselines={n: replace(b, source="carried") for n, b in baselines.items()},
                                        role="oncologist", username=SYNTHETIC_CLINICIAN)
        else:
            course = courses.start_course(session=session, patient_id=done.patient_id, baselines=baselines,
                                          plan=_plan(row, start_at=row["start_at"]), role="oncologist",
                                          username=SYNTHETIC_CLINICIAN)
        _screened(session=session, course_id=int(course.id or 0), at=screened_at)
        patient_ids.append(done.patient_id)
        course_ids.append(int(course.id or 0))
    return patient_ids, course_ids


def _end_courses(*, session: Session, rows: list[dict], course_ids: list[int], doses: pd.DataFrame,
                 now: datetime) -> None:
    """Courses the scenario completed or stopped end with their reason (services.courses.end_course) at their
    last dose event; a planned course (its first dose after the window) stays as started."""
    last = doses.assign(at=doses["given_at"].fillna(doses["scheduled_at"])).groupby("course_id")["at"].max()
    for row, course_id in zip(rows, course_ids):
        reason = _END_REASON.get(row["status"])
        if reason is None or course_id not in last.index:
            continue
        ended_at = min(pd.Timestamp(last[course_id]).to_pydatetime(), now)
        courses.end_course(session=session, course_id=course_id, reason=reason, role="oncologist",
                           username=SYNTHETIC_CLINICIAN, now=now, ended_at=ended_at,
                           note="Synthetic demo course." if reason == "completed" else
                           "Synthetic demo course: stopped for toxicity (see the stopped dose's reason).")


def _insert_beds_bulk(*, session: Session, ward_ids: dict[Any, int], wanted: list[tuple[Any, str]],
                      recorded_by: str) -> dict[tuple[Any, str], int]:
    """The beds of many wards: existing ones reused, the others inserted at once with one audit row."""
    by_id = {ward_id: suffix for suffix, ward_id in ward_ids.items()}
    bed_table = Bed.__table__
    existing = session.execute(select(bed_table.c.ward_id, bed_table.c.label, bed_table.c.id)
                               .where(bed_table.c.ward_id.in_(list(by_id)))).all()
    bed_ids = {(by_id[ward_id], label): bed_id for ward_id, label, bed_id in existing}
    missing = [pair for pair in wanted if pair not in bed_ids]
    if missing:
        result = session.execute(insert(bed_table).returning(bed_table.c.id, sort_by_parameter_order=True),
                                 [dict(ward_id=ward_ids[suffix], label=label) for suffix, label in missing])
        bed_ids.update(zip(missing, result.scalars()))
        repository.write_audit(session=session, username=recorded_by, action="bulk-create", entity="bed",
                               after={"beds": len(missing), "wards": len({s for s, _ in missing})})
    return bed_ids


def _insert_patients_bulk(*, session: Session, rows: list[dict], recorded_by: str) -> tuple[list[int], list[int]]:
    """Patients, identities, courses and eligibility answers in a few multi-row inserts, one audit row.

    For the benchmark hospital: add_patient per patient (flush + audit each) is the slow part there.
    """
    now = datetime.now(timezone.utc)
    for row in rows:
        if row["regimen"] not in REGIMENS:
            raise RecordError([f"Regimen '{row['regimen']}' is not known."])
    patient_table, course_table = Patient.__table__, TreatmentCourse.__table__
    result = session.execute(
        insert(patient_table).returning(patient_table.c.id, sort_by_parameter_order=True),
        [dict(ward_id=r["ward_id"], bed_id=r["bed_id"], sex=r["sex"], is_synthetic=True,
              admitted_at=r["admitted_at"], allergies=r["allergies"], created_at=now) for r in rows])
    patient_ids = list(result.scalars())
    session.execute(insert(PatientIdentity.__table__), [
        dict(patient_id=pid, mrn=r["mrn"], given_name=r["given_name"], family_name=r["family_name"],
             birth_date=r["birth_date"]) for pid, r in zip(patient_ids, rows)])
    result = session.execute(
        insert(course_table).returning(course_table.c.id, sort_by_parameter_order=True),
        [dict(patient_id=pid, created_at=now, created_by=recorded_by, **{k: r[k] for k in _COURSE_FIELDS})
         for pid, r in zip(patient_ids, rows)])
    course_ids = list(result.scalars())
    session.execute(insert(EligibilityAnswer.__table__), [
        dict(course_id=cid, item=item, answer="no", answered_by=SYNTHETIC_CLINICIAN, answered_at=r["answered_at"],
             note="Synthetic demo patient" if item == "bedbound" else None)
        for cid, r in zip(course_ids, rows) for item in ELIGIBILITY_ITEMS])
    session.execute(insert(EligibilitySignOff.__table__), [
        dict(course_id=cid, outcome="eligible", signed_by=SYNTHETIC_CLINICIAN, signed_at=r["answered_at"])
        for cid, r in zip(course_ids, rows)])
    repository.write_audit(session=session, username=recorded_by, action="bulk-create", entity="patient",
                           after={"patients": len(rows), "courses": len(rows), "synthetic": True,
                                  "eligibility_answers": len(rows) * len(ELIGIBILITY_ITEMS),
                                  "answered_by": SYNTHETIC_CLINICIAN})
    return patient_ids, course_ids
