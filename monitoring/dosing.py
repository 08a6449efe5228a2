"""IL-2 doses at the bedside: the next scheduled dose, the pre-dose check and recording a dose.

- `next_dose`: the next dose number and its scheduled time, by elapsed time from the course start
  and the course's dose interval (q8h for the HD IV bolus); None when the planned doses have been
  given or IL-2 was stopped.
- `pre_dose_check`: the engine's IL-2 hold assessment (monitoring.rules.il2_hold, Proleukin label
  Table 2 and Dutcher 2014 Table 3) for one patient at one moment, with a checklist of every input
  the rule reads: its latest value and time, and whether it is valid, stale (older than the
  validity in data/thresholds.toml, so not used) or missing. The checklist describes criteria with
  the numbers of data/thresholds.toml; it never decides anything itself: which criteria are met,
  and the decision, come from the engine.
- `record`: a dose given (time, amount, route), held or stopped (with a reason), attributed to the
  signed-in user, with one audit row (repository.record_dose), then the patient's alerts re-evaluated.
  The suggested amount (dose per kg x weight) is only ever a suggestion shown for confirmation: a
  given dose is refused without an amount.

No Streamlit here: dashboard/app_pages/doses.py is a thin page over these functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

import numpy as np
import pandas as pd
from sqlmodel import Session

from monitoring import alerting, repository
from monitoring.catalogue import default_catalogue
from monitoring.models import REGIMEN_SHORT, DoseEvent, TreatmentCourse
from monitoring.repository import FUTURE_TOLERANCE, RecordError
from monitoring.rules import il2_hold
from monitoring.rules.common import cited
from monitoring.rules.context import prepare
from monitoring.text import split_top_level
from monitoring.thresholds import Thresholds, default_thresholds
from monitoring.timefmt import elapsed_text, local_text

UTC = timezone.utc
DECISIONS = il2_hold.DECISIONS   # give, discuss, hold, permanently discontinue
CRITERION_KINDS = ("discontinue", "absolute", "relative")
# The urine criteria of data/thresholds.toml are per 8-h nursing shift (keys *_ml_per_8h), as the
# engine reads them: a volume over its period is scaled to 8 h.
SHIFT_HOURS = 8
# The usual route of each regimen, offered first on the form (the nurse can change it).
DEFAULT_ROUTE = {"hd-iv-bolus": "IV", "continuous-iv": "IV", "biochemotherapy": "IV", "til-il2": "IV",
                 "low-dose-sc": "SC", "intralesional": "intralesional"}


def _aware(name: str, moment: datetime) -> datetime:
    if moment is None or moment.utcoffset() is None:
        raise RecordError([f"{name} must be a time zone-aware time."])
    return moment.astimezone(UTC)


def unit_text(unit: str | None) -> str:
    """UCUM annotation to display: '[IU]' -> 'IU', '[IU]/kg' -> 'IU/kg'."""
    return (unit or "").replace("[", "").replace("]", "")


def amount_text(dose: float | None, unit: str | None) -> str:
    if dose is None or pd.isna(dose):
        return "–"
    return f"{dose:,.0f} {unit_text(unit)}".strip()


# --- the schedule --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """What has been recorded in a course so far (dose events that stand, corrections applied)."""

    course: TreatmentCourse
    events: pd.DataFrame          # repository.current_doses rows of this course, in schedule order
    given: int
    held: int
    stopped: pd.Series | None     # the stopped event, if any

    @property
    def planned(self) -> int | None:
        return self.course.planned_doses

    @property
    def last(self) -> pd.Series | None:
        return None if self.events.empty else self.events.iloc[-1]

    def given_text(self) -> str:
        planned = "?" if self.planned is None else self.planned
        return f"{self.given} of {planned} given, {self.held} held"


def course_progress(*, session: Session, course_id: int) -> Progress:
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    doses = repository.current_doses(session=session, patient_ids=[course.patient_id])
    events = doses[doses["course_id"] == course_id].sort_values(["scheduled_at", "id"]).reset_index(drop=True)
    stopped = events[events["status"] == "stopped"]
    return Progress(course=course, events=events, given=int((events["status"] == "given").sum()),
                    held=int((events["status"] == "held").sum()),
                    stopped=None if stopped.empty else stopped.iloc[0])


@dataclass(frozen=True)
class NextDose:
    course_id: int
    patient_id: int
    dose_number: int
    scheduled_at: datetime | None     # None when the course has no dose interval
    given: int
    held: int
    planned: int | None
    interval_hours: float | None

    def due_text(self, now: datetime) -> str:
        """'due in 2 h 10 min', 'due now', 'overdue by 40 min' (elapsed time, never calendar day)."""
        if self.scheduled_at is None:
            return "scheduled time unknown: the course has no dose interval"
        delta = self.scheduled_at - now
        if abs(delta) < timedelta(minutes=1):
            return "due now"
        return f"due in {elapsed_text(delta)}" if delta > timedelta(0) else f"overdue by {elapsed_text(-delta)}"


def next_dose(*, session: Session, course_id: int, now: datetime) -> NextDose | None:
    """The next dose of a course: number = the last recorded dose number + 1; scheduled time = the
    next slot after the last recorded one, counted from the course start every dose_interval_hours
    (so a late or held dose does not shift the schedule). None when the planned number of doses has
    been given, when a dose was recorded as stopped, or when the course is stopped or completed."""
    _aware("now", now)
    p = course_progress(session=session, course_id=course_id)
    course = p.course
    if course.status in ("stopped", "completed") or p.stopped is not None:
        return None
    if course.planned_doses is not None and p.given >= course.planned_doses:
        return None
    interval = course.dose_interval_hours
    start = course.start_at if course.start_at.tzinfo else course.start_at.replace(tzinfo=UTC)
    last = p.last
    number = 1 if last is None else int(p.events["dose_number"].max()) + 1
    scheduled = None
    if interval:
        step = timedelta(hours=interval)
        slot = 0 if last is None else int(round((last["scheduled_at"].to_pydatetime() - start) / step)) + 1
        scheduled = start + max(slot, 0) * step
    return NextDose(course_id=course_id, patient_id=course.patient_id, dose_number=number,
                    scheduled_at=None if scheduled is None else scheduled.astimezone(UTC), given=p.given,
                    held=p.held, planned=course.planned_doses, interval_hours=interval)


def stopped_text(progress: Progress, tz: tzinfo) -> str | None:
    """Why there is no next dose, or None when there is one to give."""
    if progress.stopped is not None:
        s = progress.stopped
        return (f"IL-2 was stopped at dose {int(s['dose_number'])} ({local_text(s['scheduled_at'], tz)}): "
                f"{s['reason']}")
    if progress.course.status in ("stopped", "completed"):
        return f"This course is {progress.course.status}."
    if progress.planned is not None and progress.given >= progress.planned:
        return f"All {progress.planned} planned doses have been given."
    return None


# --- the suggested amount ------------------------------------------------------------------------

@dataclass(frozen=True)
class DoseSuggestion:
    dose: float | None
    unit: str | None
    weight_kg: float | None
    basis: str                      # how it was worked out, or why there is none


def suggested_dose(*, session: Session, course_id: int, now: datetime, tz: tzinfo | None = None) -> DoseSuggestion:
    """dose_per_kg x the latest recorded weight (or the course's baseline weight), for the nurse to
    confirm. No weight or no dose per kg: no suggestion, and the nurse types the dose."""
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    per_kg_unit = course.dose_unit or "[IU]/kg"
    unit = per_kg_unit[:-3] if per_kg_unit.endswith("/kg") else per_kg_unit
    if course.dose_per_kg is None or not per_kg_unit.endswith("/kg"):
        return DoseSuggestion(None, unit, None, "the course has no dose per kg: type the dose prescribed")
    weights = repository.current_observations(session=session, patient_ids=[course.patient_id], codes=["weight"])
    weights = weights[weights["observed_at"] <= pd.Timestamp(now)]
    baseline = f"course baseline {course.baseline_weight_kg:.1f} kg" if course.baseline_weight_kg else ""
    if len(weights):
        row = weights.iloc[-1]
        weight, source = float(row["value_num"]), f"latest weight, {local_text(row['observed_at'], tz or UTC)}"
        if baseline:
            source += f"; {baseline}"
    elif course.baseline_weight_kg:
        weight, source = float(course.baseline_weight_kg), "course baseline weight; no weight recorded"
    else:
        return DoseSuggestion(None, unit, None, "no weight recorded and no baseline weight: type the dose")
    dose = course.dose_per_kg * weight
    return DoseSuggestion(dose, unit, weight, f"{course.dose_per_kg:,.0f} {unit_text(per_kg_unit)} × {weight:.1f} kg "
                                               f"({source}) = {amount_text(dose, unit)}")


# --- the pre-dose check --------------------------------------------------------------------------

@dataclass(frozen=True)
class Criterion:
    """A hold criterion the engine found met, worded by the engine with its value and time."""

    kind: str     # discontinue, absolute or relative
    text: str

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.text}"


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    label: str
    rule: str                   # what the criterion is, with the numbers of data/thresholds.toml
    value: str | None           # latest value with unit, None when none was ever recorded
    at: datetime | None
    age: timedelta | None
    valid_for: timedelta
    status: str                 # valid, stale, missing or unusable
    found: tuple[str, ...]      # kinds of the criteria the engine found met on this input
    text: str                   # the one line a nurse reads


@dataclass(frozen=True)
class PreDoseCheck:
    patient_id: int
    at: datetime
    decision: str                               # give, discuss, hold, permanently discontinue
    criteria: list[Criterion]
    checklist: list[ChecklistItem]
    missing: list[str]                          # inputs the engine had no valid value for
    standard: str
    evidence: str = field(repr=False, default="")

    def reason_options(self) -> list[str]:
        """Reasons to offer for a held or stopped dose: each criterion the engine found."""
        return [c.reason for c in self.criteria]

    def not_valid(self) -> list[ChecklistItem]:
        return [item for item in self.checklist if item.status != "valid"]

    @property
    def complete(self) -> bool:
        """Every input the engine needs had a valid value (otherwise 'give' means only that no
        criterion was met among the values that were valid)."""
        return not self.missing

    def needs_attention(self) -> list[ChecklistItem]:
        """Stale or unusable values, and the inputs the engine needs but had no valid value for."""
        needed = {ENGINE_MISSING_NAMES.get(name) for name in self.missing}
        return [i for i in self.checklist
                if i.status in ("stale", "unusable") or (i.status == "missing" and i.code in needed)]

    def found_text(self) -> str:
        """'2 absolute, 1 relative' or 'no hold criterion met'."""
        counts = {k: sum(c.kind == k for c in self.criteria) for k in CRITERION_KINDS}
        return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no hold criterion met"

    def summary(self) -> str:
        text = f"{self.decision.upper()}: {self.found_text()}"
        if self.missing:
            text += f"; no valid value for {', '.join(self.missing)}"
        return text

    def checklist_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"Input": i.label, "Status": i.status, "Check": i.text,
                              "Criterion met": ", ".join(i.found) or "–", "Hold criteria": i.rule}
                             for i in self.checklist],
                            columns=["Input", "Status", "Check", "Criterion met", "Hold criteria"])


# Every input il2_hold reads: (code, label, validity, engine wording prefixes of its criteria).
CHECKED_INPUTS = (
    ("sbp", "SBP", "vital_signs", ("SBP",)),
    ("spo2", "SpO2", "vital_signs", ("SpO2",)),
    ("consciousness", "consciousness (ACVPU)", "vital_signs", ("consciousness", "responds only to pain")),
    ("heart_rate", "heart rate", "vital_signs", ("heart rate",)),
    ("o2_flow", "oxygen flow", "vital_signs", ("oxygen",)),
    ("platelets", "platelets", "labs", ("platelets",)),
    ("creatinine", "creatinine", "labs", ("creatinine",)),
    ("bilirubin", "bilirubin", "labs", ("bilirubin",)),
    ("weight", "weight", "labs", ("weight",)),
    ("urine_output", "urine output", "fluids", ("urine output",)),
    ("confusion", "confusion grade", "nurse_grades", ("confusion",)),
    ("arrhythmia", "arrhythmia grade", "nurse_grades", ("arrhythmia",)),
    ("dyspnea", "shortness of breath grade", "nurse_grades", ("dyspnea",)),
    ("diarrhea", "diarrhea grade", "nurse_grades", ("diarrhea",)),
    ("vomiting", "vomiting grade", "nurse_grades", ("vomiting",)),
)
# The engine's names in 'no valid value for: ...' -> codes.
ENGINE_MISSING_NAMES = {"SBP": "sbp", "SpO2": "spo2", "consciousness": "consciousness", "heart rate": "heart_rate",
                        "urine output": "urine_output", "creatinine": "creatinine", "platelets": "platelets"}


def criteria_rules(v: dict[str, float]) -> dict[str, str]:
    """Each input's hold criteria, worded with the numbers of data/thresholds.toml [il2_hold]."""
    return {
        "sbp": f"absolute: < {v['sbp_below']:g} mmHg (label: withhold)",
        "spo2": f"absolute: < {v['spo2_below']:g}% (label: withhold)",
        "consciousness": (f"absolute: not Alert (label: mental status change); discontinue: P or U for "
                          f"> {v['coma_discontinue_hours']:g} h (label)"),
        "heart_rate": (f"relative: > {v['heart_rate_relative_above']:g}/min; absolute: > "
                       f"{v['heart_rate_absolute_above']:g}/min persisting ({v['heart_rate_persisting_readings']:g} "
                       f"readings >= {v['heart_rate_persisting_minutes']:g} min apart) (Dutcher)"),
        "o2_flow": (f"relative: {v['o2_flow_relative_at_or_above']:g}-{v['o2_flow_absolute_above']:g} L/min; "
                    f"absolute: > {v['o2_flow_absolute_above']:g} L/min (Dutcher)"),
        "platelets": (f"relative: {v['platelets_absolute_below']:g}-<{v['platelets_relative_below']:g} ×10⁹/L; "
                      f"absolute: < {v['platelets_absolute_below']:g} ×10⁹/L (Dutcher)"),
        "creatinine": (f"relative: {v['creatinine_relative_at_or_above']:g}-<{v['creatinine_absolute_at_or_above']:g}"
                       f" mg/dL; absolute: >= {v['creatinine_absolute_at_or_above']:g} mg/dL (Dutcher)"),
        "bilirubin": f"relative: > {v['bilirubin_relative_above_mg_dl']:g} mg/dL (Dutcher)",
        "weight": f"relative: gain > {v['weight_gain_relative_above_percent']:g}% from baseline (Dutcher)",
        "urine_output": (f"relative: {v['urine_absolute_below_ml_per_8h']:g}-<{v['urine_relative_below_ml_per_8h']:g}"
                         f" mL per 8 h; absolute: < {v['urine_absolute_below_ml_per_8h']:g} mL per 8 h (Dutcher)"),
        "confusion": (f"relative: grade {v['confusion_relative_grade']:g}; absolute: grade >= "
                      f"{v['confusion_absolute_grade']:g} (label: moderate confusion)"),
        "arrhythmia": (f"absolute: grade >= {v['arrhythmia_absolute_grade']:g}; discontinue: grade >= "
                       f"{v['arrhythmia_discontinue_grade']:g} (label)"),
        "dyspnea": f"relative: grade >= {v['dyspnea_relative_grade']:g} (at rest, Dutcher)",
        "diarrhea": f"relative: grade >= {v['diarrhea_relative_grade']:g}",
        "vomiting": f"relative: grade >= {v['vomiting_relative_grade']:g}",
    }


def _ticks(moment: datetime, unit: str) -> int:
    """A moment as int64 ticks of the engine's time unit (pd.Timestamp.value is always nanoseconds)."""
    return int(np.datetime64(pd.Timestamp(moment).tz_convert(UTC).tz_localize(None), unit).astype(np.int64))


def parse_evidence(evidence: str) -> tuple[list[Criterion], list[str]]:
    """The engine's hold evidence ('discontinue: ... | absolute: a; b | relative (2): ... | no valid
    value for: SBP, platelets') -> criteria and the names of missing inputs."""
    criteria: list[Criterion] = []
    missing: list[str] = []
    for section in (s.strip() for s in evidence.split(" | ") if s.strip()):
        if section.startswith("no valid value for: "):
            missing = [m.strip() for m in section[len("no valid value for: "):].split(",") if m.strip()]
            continue
        head, _, body = section.partition(": ")
        kind = head.split(" ")[0]
        if kind in CRITERION_KINDS:
            criteria.extend(Criterion(kind, text) for text in split_top_level(body))
    return criteria, missing


def _engine_assessment(obs: pd.DataFrame, doses: pd.DataFrame, courses: pd.DataFrame, now: datetime,
                       thresholds: Thresholds) -> tuple[str, str, int]:
    """il2_hold.assess for one patient at `now`: (decision, evidence text, doses held this course)."""
    obs, doses, courses = obs.copy(), doses.copy(), courses.copy()
    for frame in (obs, doses, courses):
        frame["patient_id"] = np.zeros(len(frame), dtype=np.int64)   # one patient: number 0
    data = prepare(obs, doses, courses, validity=thresholds["validity"], schedule=thresholds["il2_schedule"],
                   now=None, n_patients=1)
    pid = np.zeros(1, dtype=np.int64)
    time = np.array([_ticks(now, data.unit)], dtype=np.int64)
    assessment = il2_hold.assess(data, pid, time, thresholds["il2_hold"])
    decision = DECISIONS[int(assessment.decision[0])]
    return decision, assessment.evidence(np.zeros(1, dtype=np.int64))[0], int(assessment.held[0])


def pre_dose_check(*, session: Session, patient_id: int, now: datetime, thresholds: Thresholds | None = None,
                   tz: tzinfo | None = None) -> PreDoseCheck:
    """The engine's IL-2 hold assessment of this patient at `now`, and a checklist of every input
    it reads with the latest value, its time and whether it is valid, stale or missing."""
    now = _aware("now", now)
    thresholds = thresholds or default_thresholds()
    tz = tz or UTC
    obs, doses, courses = alerting.store_frames(session=session, patient_ids=[patient_id])
    obs = obs[obs["time"] <= pd.Timestamp(now)]
    doses = doses[doses["time"] <= pd.Timestamp(now)]
    decision, evidence, held = _engine_assessment(obs, doses, courses, now, thresholds)
    criteria, missing = parse_evidence(evidence)
    checklist = _checklist(obs, courses, now, thresholds, criteria, tz)
    hold = thresholds["il2_hold"]
    checklist.append(_held_item(held, hold.values, criteria))
    return PreDoseCheck(patient_id=patient_id, at=now, decision=decision, criteria=criteria, checklist=checklist,
                        missing=missing, standard=cited(il2_hold.standard(hold), hold.source),
                        evidence=evidence)


def _checklist(obs: pd.DataFrame, courses: pd.DataFrame, now: datetime, thresholds: Thresholds,
               criteria: list[Criterion], tz: tzinfo) -> list[ChecklistItem]:
    catalogue = default_catalogue()
    validity = thresholds["validity"]
    rules = criteria_rules(thresholds["il2_hold"].values)
    baseline_weight = courses["baseline_weight_kg"].dropna()
    items = []
    for code, label, kind, prefixes in CHECKED_INPUTS:
        valid_for = getattr(validity, kind).to_pytimedelta()
        hours = f"{valid_for.total_seconds() / 3600:g} h"
        found = tuple(dict.fromkeys(c.kind for c in criteria if c.text.startswith(prefixes)))
        rows = obs[obs["code"] == code]
        if rows.empty:
            items.append(ChecklistItem(code, label, rules[code], None, None, None, valid_for, "missing", found,
                                       f"no {label} recorded in the last {hours}"))
            continue
        row = rows.iloc[-1]
        at = row["time"].to_pydatetime()
        age = now - at
        entry = catalogue[code]
        value = entry.format_value(row["value_code"] if entry.kind == "coded" else row["value_num"])
        status = "valid" if age <= valid_for else "stale"
        if code == "urine_output":
            start = row["period_start"]
            if pd.isna(start):
                status = "unusable" if status == "valid" else status
            else:
                period = (row["time"] - start).total_seconds() / 3600
                value += f" over {period:g} h"
                if period:
                    value += f" = {row['value_num'] / period * SHIFT_HOURS:.0f} mL per {SHIFT_HOURS} h"
        if code == "weight":
            baseline = float(baseline_weight.iloc[-1]) if len(baseline_weight) else float(rows.iloc[0]["value_num"])
            if baseline:
                value += f" ({(row['value_num'] - baseline) / baseline * 100:+.1f}% from baseline {baseline:.1f} kg)"
        note = ""
        if code == "heart_rate" and len(rows) > 1:
            previous = rows.iloc[-2]
            note = f"; previous {entry.format_value(previous['value_num'])} at {local_text(previous['time'], tz)}"
        when = local_text(at, tz)
        if status == "valid":
            text = f"{label} {value} at {when} ({elapsed_text(age)} ago): valid{note}"
        elif status == "unusable":
            text = f"{label} {value} at {when} has no measurement period: not usable per 8 h"
        else:
            text = (f"{label} last measured {elapsed_text(age)} ago ({value} at {when}): stale "
                    f"(valid for {hours}), not used")
        items.append(ChecklistItem(code, label, rules[code], value, at, age, valid_for, status, found, text))
    return items


HELD_PREFIX = "scheduled doses held"  # the engine's wording of the held-doses criterion


def _held_item(held: int, v: dict[str, float], criteria: list[Criterion]) -> ChecklistItem:
    """The held-doses criterion as a checklist line: counted from the dose record, never stale."""
    limit = v["held_doses_discontinue_at"]
    found = tuple(dict.fromkeys(c.kind for c in criteria if HELD_PREFIX in c.text))
    value = f"{held} held"
    text = (f"{held} scheduled dose{'s' if held != 1 else ''} held this course "
            f"(discontinue once held on {limit:g} occasions)")
    return ChecklistItem("held_doses", "doses held this course", f"discontinue: held on {limit:g} occasions "
                         "(SpringerPlus 2015, institutional)", value, None, None, timedelta(0), "valid", found, text)


# --- recording -----------------------------------------------------------------------------------

def compose_reason(chosen: list[str] | tuple[str, ...], free_text: str | None) -> str:
    """A held or stopped reason from the criteria chosen and what the nurse wrote."""
    parts = [c.strip() for c in chosen if c and c.strip()]
    if free_text and free_text.strip():
        parts.append(free_text.strip())
    return "; ".join(parts)


def record(*, session: Session, course_id: int, dose_number: int, scheduled_at: datetime, status: str,
           recorded_by: str, given_at: datetime | None = None, dose: float | None = None,
           route: str | None = None, reason: str | None = None, dose_unit: str | None = None,
           now: datetime | None = None) -> DoseEvent:
    """Record a dose as given (time and the amount the nurse confirmed), held or stopped (with a
    reason), then re-evaluate the patient's alerts. One audit row for the dose (repository)."""
    now = now or datetime.now(UTC)
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    errors = []
    if status == "given":
        if dose is None:
            errors.append("A given dose needs the amount given: type it or confirm the suggested dose.")
        if given_at is not None and given_at.utcoffset() is not None and given_at > now + FUTURE_TOLERANCE:
            errors.append(f"The time given ({given_at.isoformat()}) is in the future.")
    elif status in ("held", "stopped") and (given_at is not None or dose is not None):
        errors.append(f"A {status} dose has no time given and no amount; record it as given if it was given.")
    progress = course_progress(session=session, course_id=course_id)
    if progress.stopped is not None:
        errors.append(f"IL-2 was stopped at dose {int(progress.stopped['dose_number'])} in this course; "
                      "no further dose can be recorded.")
    same = progress.events[progress.events["dose_number"] == dose_number]
    if len(same):
        row = same.iloc[-1]
        errors.append(f"Dose {dose_number} is already recorded as {row['status']} by {row['recorded_by']}; "
                      "record the next dose, or correct that one.")
    if errors:
        raise RecordError(errors)
    if status == "given" and dose_unit is None:
        per_kg_unit = course.dose_unit or "[IU]/kg"
        dose_unit = per_kg_unit[:-3] if per_kg_unit.endswith("/kg") else per_kg_unit
    event = repository.record_dose(session=session, course_id=course_id, dose_number=dose_number,
                                   scheduled_at=scheduled_at, status=status, recorded_by=recorded_by,
                                   given_at=given_at, dose=dose, dose_unit=dose_unit if dose is not None else None,
                                   route=route, reason=reason, now=now)
    alerting.sync_alerts(session=session, patient_ids=[course.patient_id], username=recorded_by, now=now)
    return event


HISTORY_COLUMNS = ["Dose", "Scheduled", "Status", "Given at", "Amount", "Route", "Reason", "Recorded by",
                   "Recorded at"]


def dose_history(*, session: Session, course_id: int, tz: tzinfo) -> pd.DataFrame:
    """The course's dose events, newest first, display-ready."""
    events = course_progress(session=session, course_id=course_id).events
    rows = [{"Dose": int(e.dose_number), "Scheduled": local_text(e.scheduled_at, tz), "Status": e.status,
             "Given at": local_text(e.given_at, tz) if not pd.isna(e.given_at) else "–",
             "Amount": amount_text(e.dose, e.dose_unit), "Route": e.route if isinstance(e.route, str) else "–",
             "Reason": e.reason if isinstance(e.reason, str) else "", "Recorded by": e.recorded_by,
             "Recorded at": local_text(e.recorded_at, tz)}
            for e in events.iloc[::-1].itertuples()]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def course_text(course: TreatmentCourse, tz: tzinfo) -> str:
    """'HD IV bolus q8h · cycle 1 · started 26 Nov 10:00 GMT · 600,000 IU/kg every 8 h'."""
    parts = [REGIMEN_SHORT.get(course.regimen, course.regimen), f"cycle {course.cycle}",
             f"started {local_text(course.start_at, tz)}"]
    if course.dose_per_kg is not None:
        parts.append(f"{course.dose_per_kg:,.0f} {unit_text(course.dose_unit)}"
                     + (f" every {course.dose_interval_hours:g} h" if course.dose_interval_hours else ""))
    return " · ".join(parts)
