"""IL-2 doses at the bedside: the next scheduled dose, the pre-dose check and recording a dose.

- `next_dose`: the next dose number and its scheduled time, by elapsed time from the course start
  and the course's dose interval (q8h for the HD IV bolus); None when the planned doses have been
  given or IL-2 was stopped.
- `pre_dose_check`: the engine's IL-2 hold assessment (monitoring.clinical.rules.il2_hold, Proleukin label
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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.derived import SHIFT_HOURS, urine_ml_per_8h, weight_baseline_kg, weight_gain_percent
from monitoring.clinical.prescription import Prescribed, amount_text, prescribed_dose, unit_text
from monitoring.clinical.rules import hold_criteria as hc
from monitoring.clinical.rules import il2_hold
from monitoring.clinical.rules.common import cited
from monitoring.clinical.rules.context import NAT, prepare, take
from monitoring.clinical.thresholds import Thresholds, default_thresholds
from monitoring.clinical.vocabulary import ELIGIBILITY_ITEMS, REGIMEN_ROUTE, REGIMEN_SHORT
from monitoring.errors import RecordError
from monitoring.store import repository
from monitoring.store.frames import store_frames
from monitoring.store.models import TreatmentCourse
from monitoring.timefmt import elapsed_text, local_text
from monitoring.views import dose_gate

UTC = timezone.utc
DECISIONS = il2_hold.DECISIONS   # give, incomplete, discuss, hold, permanently discontinue
CRITERION_KINDS = ("discontinue", "absolute", "relative")
# The usual route of each regimen, offered first on the form (the nurse can change it).
DEFAULT_ROUTE = REGIMEN_ROUTE


def _aware(name: str, moment: datetime) -> datetime:
    if moment is None or moment.utcoffset() is None:
        raise RecordError([f"{name} must be a time zone-aware time."])
    return moment.astimezone(UTC)


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
    return course_progresses(session=session, courses=[course])[course_id]


def course_progresses(*, session: Session, courses: Sequence[TreatmentCourse]) -> dict[int, Progress]:
    """course_progress of several courses with one read of their doses and one sort (the handover's ward, the
    oncologist's doses due: 2,040 courses in a hospital took 6 s course by course): course id -> Progress."""
    doses = repository.current_doses(session=session, patient_ids=sorted({c.patient_id for c in courses}))
    doses = doses[doses["course_id"].isin([c.id for c in courses])].sort_values(["course_id", "scheduled_at", "id"])
    status, course = doses["status"], doses["course_id"]
    given, held = ((status == word).groupby(course).sum() for word in ("given", "held"))
    stops = doses[status == "stopped"].groupby("course_id").head(1)
    stopped = {int(c): stops.iloc[i] for i, c in enumerate(stops["course_id"])}
    events = {int(c): part.reset_index(drop=True) for c, part in doses.groupby("course_id", sort=False)}
    none = doses.iloc[:0].reset_index(drop=True)
    return {int(c.id or 0): Progress(course=c, events=events.get(int(c.id or 0), none),
                                     given=int(given.get(c.id, 0)), held=int(held.get(c.id, 0)),
                                     stopped=stopped.get(int(c.id or 0)))
            for c in courses}


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


def no_next_dose(*, status: str | None, planned: int | None, given: int, stopped: bool) -> bool:
    """A course has no next dose when it is stopped or completed, a dose was recorded as stopped, or every
    planned dose has been given. The one rule for the doses page, the ward forecast and the banner."""
    return status in ("stopped", "completed") or stopped or (planned is not None and given >= planned)


def next_dose(*, session: Session, course_id: int, now: datetime) -> NextDose | None:
    """The next dose of a course: number = the last recorded dose number + 1; scheduled time = the
    next slot after the last recorded one, counted from the course start every dose_interval_hours
    (so a late or held dose does not shift the schedule). None when the planned number of doses has
    been given, when a dose was recorded as stopped, or when the course is stopped or completed."""
    _aware("now", now)
    return next_dose_of(course_progress(session=session, course_id=course_id), now=now)


def next_dose_of(p: Progress, *, now: datetime) -> NextDose | None:
    """next_dose from a course's progress already read (the handover reads it once per patient)."""
    _aware("now", now)
    course = p.course
    course_id = int(course.id or 0)
    if no_next_dose(status=course.status, planned=course.planned_doses, given=p.given, stopped=p.stopped is not None):
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
class DoseSuggestion(Prescribed):
    """The prescribed dose offered on the form, and today's weight beside it (never used for the dose)."""

    latest_weight: str | None = None     # 'latest weight 84.2 kg at 06:00 (+5.3% from the dosing weight)'


def course_prescription(course: TreatmentCourse) -> Prescribed:
    return prescribed_dose(dose_per_kg=course.dose_per_kg, dose_unit=course.dose_unit, fixed_dose=course.fixed_dose,
                           dosing_weight_kg=course.dosing_weight_kg, baseline_weight_kg=course.baseline_weight_kg)


def suggested_dose(*, session: Session, course_id: int, now: datetime, tz: tzinfo | None = None) -> DoseSuggestion:
    """The course's prescribed dose (monitoring.clinical.prescription: dose per kg x the dosing weight, or the
    fixed dose), for the nurse to confirm, with the latest recorded weight named beside it: the dose
    does not follow a weight gained through capillary leak. No prescription: no suggestion."""
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    prescribed = course_prescription(course)
    latest = None
    weights = repository.current_observations(session=session, patient_ids=[course.patient_id], codes=["weight"])
    weights = weights[weights["observed_at"] <= pd.Timestamp(now)]
    if len(weights):
        row = weights.iloc[-1]
        latest = f"latest weight {row['value_num']:.1f} kg at {local_text(row['observed_at'], tz or UTC)}"
        if prescribed.weight_kg:
            latest += (f" ({(row['value_num'] - prescribed.weight_kg) / prescribed.weight_kg * 100:+.1f}% from the "
                       "dosing weight; not used for the dose)")
    return DoseSuggestion(prescribed.dose, prescribed.unit, prescribed.weight_kg, prescribed.basis, latest)


# --- the pre-dose check --------------------------------------------------------------------------

@dataclass(frozen=True)
class Criterion:
    """A hold criterion the engine found met: its id in the criteria table, its kind, and its words
    (rendered from the engine's structured item, with the ward's times)."""

    id: str
    kind: str     # discontinue, absolute or relative
    text: str
    item: dict = field(repr=False, default_factory=dict)

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.text}"


@dataclass(frozen=True)
class ChecklistItem:
    code: str                   # the input (hold_criteria.INPUTS key)
    label: str
    rule: str                   # its criteria, with the numbers of data/thresholds.toml
    value: str | None           # latest value with unit, None when none was ever recorded
    at: datetime | None
    age: timedelta | None
    valid_for: timedelta
    status: str                 # valid, stale, missing, unusable, or 'none' (a derived input without a finding)
    found: tuple[str, ...]      # kinds of the criteria the engine found met on this input
    text: str                   # the one line a nurse reads
    required: bool = False      # missing or stale -> INCOMPLETE


@dataclass(frozen=True)
class EligibilityFlag:
    """An answer of the course's eligibility screen that is not 'no' (shown with the check; its
    oncologist sign-off comes with the admission work)."""

    item: str
    label: str
    answer: str
    by: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class PreDoseCheck:
    patient_id: int
    at: datetime
    decision: str                               # give, incomplete, discuss, hold, permanently discontinue
    criteria: list[Criterion]
    checklist: list[ChecklistItem]
    missing: list[str]                          # required inputs with no valid value (missing or stale)
    standard: str
    items: list[dict] = field(repr=False, default_factory=list)   # the engine's structured evidence
    eligibility: list[EligibilityFlag] = field(default_factory=list)
    due_at: datetime | None = None              # when the dose is due (the forecast is for it)
    at_dosing: bool = True                      # now is within the pre-dose hours of the due time
    missing_codes: list[str] = field(default_factory=list)   # hold_criteria.INPUTS names of `missing`

    def reason_options(self) -> list[str]:
        """Reasons to offer for a held or stopped dose: each criterion the engine found."""
        return [c.reason for c in self.criteria]

    def reason_choices(self) -> dict[str, str]:
        """The criteria found, by id, with the words a reason shows (the page offers the ids)."""
        return {c.id: c.reason for c in self.criteria}

    def not_valid(self) -> list[ChecklistItem]:
        return [item for item in self.checklist if item.status in ("stale", "missing", "unusable")]

    @property
    def complete(self) -> bool:
        """Every required input had a valid value (otherwise the check is INCOMPLETE, or a hold found
        on the values that were valid)."""
        return not self.missing

    def needs_attention(self) -> list[ChecklistItem]:
        """Stale or unusable values, and the required inputs with no valid value."""
        return [i for i in self.checklist
                if i.status in ("stale", "unusable") or (i.status == "missing" and i.required)]

    def found_text(self) -> str:
        """'2 absolute, 1 relative' or 'no hold criterion met'."""
        counts = {k: sum(c.kind == k for c in self.criteria) for k in CRITERION_KINDS}
        return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no hold criterion met"

    def summary(self) -> str:
        text = f"{self.decision.upper()}: {self.found_text()}"
        if self.missing:
            text += f"; no valid value for {', '.join(self.missing)}"
        return text

    def shown(self) -> list[ChecklistItem]:
        """The checklist lines to show: every required input, and every other one with a value or a
        criterion met (an optional input never recorded is named in not_recorded instead)."""
        return [i for i in self.checklist if i.required or i.found or i.status not in ("missing", "none")]

    def not_recorded(self) -> list[str]:
        """Optional inputs with nothing recorded (FiO2, vasopressor, culture ...): named, never hidden."""
        shown = set(id(i) for i in self.shown())
        return [i.label for i in self.checklist if id(i) not in shown]

    def checklist_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"Input": i.label, "Status": i.status, "Check": i.text,
                              "Criterion met": ", ".join(i.found) or "–", "Hold criteria": i.rule}
                             for i in self.shown()],
                            columns=["Input", "Status", "Check", "Criterion met", "Hold criteria"])


def criteria_rules(v: dict[str, float]) -> dict[str, str]:
    """Each input's hold criteria, worded from the criteria table with the numbers of [il2_hold]."""
    rules: dict[str, list[str]] = {}
    for c in hc.CRITERIA:
        rules.setdefault(c.input, []).append(hc.wording(c, v))
    return {name: "; ".join(texts) for name, texts in rules.items()}


def _valid_for(spec: hc.Input, thresholds: Thresholds) -> timedelta:
    """How long a value of this input counts: the pre-dose hours for a reading judged at dosing, its
    [validity] entry otherwise; zero for what is counted over the course or found by other rules."""
    if spec.validity == "dosing":
        return timedelta(hours=thresholds["il2_hold"].values["pre_dose_hours"])
    if spec.validity in ("course", "alerts"):
        return timedelta(0)
    return thresholds["validity"].of(spec.validity).to_pytimedelta()


@dataclass(frozen=True)
class BlankLine:
    """A line of the pre-dose checklist without a value, for a paper check (the downtime print)."""

    label: str
    rule: str                     # its hold criteria, with the numbers of data/thresholds.toml
    required: bool                # missing or stale -> INCOMPLETE
    valid_for: timedelta | None   # None: counted over the course or found by other rules, never stale


def blank_checklist(thresholds: Thresholds | None = None) -> list[BlankLine]:
    """The lines of the pre-dose check (one per input of the criteria table, in the check's order), with
    their criteria and validity and no value: the paper check asks what the live one reads."""
    thresholds = thresholds or default_thresholds()
    rules = criteria_rules(thresholds["il2_hold"].values)
    return [BlankLine(spec.label, rules.get(name, ""), spec.required,
                      None if spec.validity in ("course", "alerts") else _valid_for(spec, thresholds))
            for name, spec in hc.INPUTS.items()]


def _ticks(moment: datetime, unit: str) -> int:
    """A moment as int64 ticks of the engine's time unit (pd.Timestamp.value is always nanoseconds)."""
    return int(np.datetime64(pd.Timestamp(moment).tz_convert(UTC).tz_localize(None), unit).astype(np.int64))


def _engine_assessment(obs: pd.DataFrame, doses: pd.DataFrame, courses: pd.DataFrame, now: datetime,
                       thresholds: Thresholds):
    """il2_hold.assess for one patient at `now` (the time of dosing): (assessment, engine data, due time)."""
    obs, doses, courses = obs.copy(), doses.copy(), courses.copy()
    for frame in (obs, doses, courses):
        frame["patient_id"] = np.zeros(len(frame), dtype=np.int64)   # one patient: number 0
    data = prepare(obs, doses, courses, thresholds=thresholds, n_patients=1)
    pid = np.zeros(1, dtype=np.int64)
    time = np.array([_ticks(now, data.unit)], dtype=np.int64)
    _, due = data.next_due(pid, time)
    ahead = _ahead(due, time, data, thresholds["il2_hold"])
    assessment = il2_hold.assess(data, pid, time, thresholds["il2_hold"], np.ones(1, dtype=bool), forecast=ahead)
    due_at = None if due[0] == NAT else pd.Timestamp(int(due[0]), unit=data.unit, tz="UTC").to_pydatetime()
    return assessment, data, due_at


def _ahead(due: np.ndarray, time: np.ndarray, data, hold) -> np.ndarray:
    """Where the next dose is due later than the pre-dose hours from now: the check is a forecast."""
    pre = data.ticks(pd.Timedelta(hours=hold.values["pre_dose_hours"]))
    return (due != NAT) & (time < due - pre)


def pre_dose_check(*, session: Session, patient_id: int, now: datetime, thresholds: Thresholds | None = None,
                   tz: tzinfo | None = None) -> PreDoseCheck:
    """The engine's IL-2 hold assessment of this patient at `now`, judged as at the time of dosing
    (between doses it is the forecast for the next dose), with a checklist of every input the
    criteria read: the latest value, its time and whether it is valid, stale or missing; and the
    course's eligibility answers that are not 'no'."""
    now = _aware("now", now)
    obs, doses, courses = store_frames(session=session, patient_ids=[patient_id])
    return _check_of(session, patient_id, obs, doses, courses, now, thresholds or default_thresholds(), tz or UTC)


def checks_or_none(*, session: Session, patient_ids: Sequence[int], now: datetime, tz: tzinfo | None = None
                   ) -> dict[int, tuple[PreDoseCheck | None, str | None]]:
    """The pre-dose check of each patient, or None and why it could not run (check_or_none), with one read of
    the store (the inbox's cards): one that cannot run says why without stopping the others."""
    now = _aware("now", now)
    thresholds, tz = default_thresholds(), tz or UTC
    ids = sorted({int(p) for p in patient_ids})
    try:
        obs, doses, courses = store_frames(session=session, patient_ids=ids)
    except Exception as exc:  # noqa: BLE001 - as check_or_none: no check, said as such
        return {p: (None, f"{type(exc).__name__}: {exc}") for p in ids}
    # store_frames gives the patient id as text (the engine's key); one split instead of a filter per patient.
    parts = [dict(iter(frame.groupby("patient_id", sort=False))) for frame in (obs, doses, courses)]
    out: dict[int, tuple[PreDoseCheck | None, str | None]] = {}
    for p in ids:
        own = [part.get(str(p), frame.iloc[:0]) for part, frame in zip(parts, (obs, doses, courses))]
        try:
            out[p] = _check_of(session, p, *own, now, thresholds, tz), None
        except Exception as exc:  # noqa: BLE001 - any failure of the check means 'no check', said as such
            out[p] = None, f"{type(exc).__name__}: {exc}"
    return out


def _check_of(session: Session, patient_id: int, obs: pd.DataFrame, doses: pd.DataFrame, courses: pd.DataFrame,
              now: datetime, thresholds: Thresholds, tz: tzinfo) -> PreDoseCheck:
    """pre_dose_check from the patient's engine frames already read (store_frames)."""
    obs = obs[obs["time"] <= pd.Timestamp(now)]
    doses = doses[doses["time"] <= pd.Timestamp(now)]
    assessment, data, due_at = _engine_assessment(obs, doses, courses, now, thresholds)
    hold = thresholds["il2_hold"]

    def when(at: str) -> str:
        return local_text(pd.Timestamp(at).to_pydatetime(), tz)

    items = assessment.items(np.zeros(1, dtype=np.int64))[0]
    criteria = [Criterion(item["id"], item["kind"], il2_hold.criterion_words(item, when), item)
                for item in items if item.get("kind") in CRITERION_KINDS]
    missing, stale = assessment.missing(0)
    codes = list(missing + stale) if assessment.absent else []
    labels = [hc.INPUTS[n].label for n in codes]
    pre = timedelta(hours=hold.values["pre_dose_hours"])
    at_dosing = due_at is None or now >= due_at - pre
    checklist = _checklist(obs, courses, now, thresholds, criteria, assessment, tz, at_dosing=at_dosing)
    return PreDoseCheck(patient_id=patient_id, at=now, decision=DECISIONS[int(assessment.decision[0])],
                        criteria=criteria, checklist=checklist, missing=labels,
                        standard=cited(il2_hold.standard(hold), hold.source), items=items,
                        eligibility=eligibility_flags(session=session, course_id=_course_id(courses)),
                        due_at=due_at, at_dosing=at_dosing, missing_codes=codes)


def _course_id(courses: pd.DataFrame) -> int | None:
    return None if courses.empty or pd.isna(courses["course_id"].iloc[-1]) else int(courses["course_id"].iloc[-1])


def eligibility_flags(*, session: Session, course_id: int | None) -> list[EligibilityFlag]:
    """The course's latest eligibility answers that are not 'no' (yes, unknown), in screen order."""
    if course_id is None:
        return []
    return eligibility_flags_of(repository.latest_eligibility(session=session, course_id=course_id))


def eligibility_flags_of(answers: dict) -> list[EligibilityFlag]:
    """eligibility_flags from the course's latest answers already read (repository.latest_eligibility)."""
    return [EligibilityFlag(item, ELIGIBILITY_ITEMS[item], a.answer, a.answered_by, a.answered_at, a.note)
            for item, a in sorted(answers.items(), key=lambda kv: list(ELIGIBILITY_ITEMS).index(kv[0]))
            if a.answer != "no"]


def _checklist(obs: pd.DataFrame, courses: pd.DataFrame, now: datetime, thresholds: Thresholds,
               criteria: list[Criterion], assessment, tz: tzinfo, *, at_dosing: bool = True) -> list[ChecklistItem]:
    """One line per input of the criteria table: its latest value and time, and its status. Ahead of
    the time of dosing, the readings judged only then (heart rate, phenylephrine) are 'at dosing',
    neither stale nor missing."""
    catalogue = default_catalogue()
    v = thresholds["il2_hold"].values
    rules = criteria_rules(v)
    # The weight-gain baseline as the rules take it (monitoring.clinical.derived; the engine's EvalData).
    baseline_weight = (weight_baseline_kg(courses["baseline_weight_kg"].to_numpy(float),
                                          courses["first_weight_kg"].to_numpy(float))[-1] if len(courses) else np.nan)
    items = []
    by_code = dict(iter(obs.groupby("code", sort=False)))   # one split, not a filter per input
    for name, spec in hc.INPUTS.items():
        found = tuple(dict.fromkeys(c.kind for c in criteria if hc.BY_ID[c.id].input == name))
        valid_for = _valid_for(spec, thresholds)
        hours = f"{valid_for.total_seconds() / 3600:g} h"
        if spec.validity in ("course", "alerts") or name in ("grade4", "fluid_refractory", "phenylephrine_max"):
            items.append(_derived_item(name, spec, rules.get(name, ""), found, assessment, valid_for, tz))
            continue
        code = spec.codes[0]
        rows = by_code.get(code, obs.iloc[:0])
        if rows.empty:
            ahead = spec.validity == "dosing" and not at_dosing
            items.append(ChecklistItem(name, spec.label, rules.get(name, ""), None, None, None, valid_for,
                                       "at dosing" if ahead else "missing", found,
                                       f"no {spec.label} recorded yet: judged at the time of dosing" if ahead else
                                       f"no {spec.label} recorded in the last {hours}" if spec.required else
                                       f"no {spec.label} recorded", spec.required))
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
                if period > 0:
                    value += f" = {urine_ml_per_8h(row['value_num'], period):.0f} mL per {SHIFT_HOURS} h"
        if code == "weight":
            baseline = float(rows.iloc[0]["value_num"]) if np.isnan(baseline_weight) else float(baseline_weight)
            value += f" ({weight_gain_percent(row['value_num'], baseline):+.1f}% from baseline {baseline:.1f} kg)"
        note = ""
        if code == "heart_rate" and len(rows) > 1:
            previous = rows.iloc[-2]
            note = f"; previous {entry.format_value(previous['value_num'])} at {local_text(previous['time'], tz)}"
        when = local_text(at, tz)
        if spec.validity == "dosing" and not at_dosing:
            status = "at dosing"
            text = (f"{_said(spec.label, value)} at {when} ({elapsed_text(age)} ago): judged at the time of dosing, on "
                    f"the readings of the {hours} before the dose{note}")
        elif status == "valid":
            text = f"{_said(spec.label, value)} at {when} ({elapsed_text(age)} ago): valid{note}"
        elif status == "unusable":
            text = f"{_said(spec.label, value)} at {when} has no measurement period: not usable per 8 h"
        else:
            text = (f"{spec.label} last measured {elapsed_text(age)} ago ({value} at {when}): stale "
                    f"(valid for {hours}), not used")
        items.append(ChecklistItem(name, spec.label, rules.get(name, ""), value, at, age, valid_for, status, found,
                                   text, spec.required))
    return items


def _said(label: str, value: str) -> str:
    """'confusion grade 0', not 'confusion grade grade 0'."""
    if label.endswith(" grade") and str(value).startswith("grade "):
        return f"{label.removesuffix(' grade')} {value}"
    return f"{label} {value}"


def _derived_item(name: str, spec, rule: str, found: tuple[str, ...], assessment, valid_for: timedelta,
                  tz: tzinfo) -> ChecklistItem:
    """A checklist line for an input the engine derives (held doses, other rules' findings, the highest
    grade, phenylephrine since the last dose, an SBP after a bolus): what the engine read."""
    value, at, extra = assessment.inputs(name)
    raw = value[0]
    known = raw is not None and raw == raw
    when = None if at[0] == NAT else pd.Timestamp(int(at[0]), unit=assessment.data.unit, tz="UTC").to_pydatetime()
    if name == "held_doses":
        count = int(raw) if known else 0
        text = (f"{count} scheduled dose{'s' if count != 1 else ''} held this course "
                f"(discontinue once held on {assessment.s.values['held_doses_discontinue_at']:g} occasions)")
        return ChecklistItem(name, spec.label, rule, f"{count} held", None, None, valid_for, "valid", found, text)
    if name in ("febrile_neutropenia", "sepsis_screen"):
        text = (f"{spec.label} found at {local_text(when, tz)}" if known and when else f"no {spec.label} finding")
        return ChecklistItem(name, spec.label, rule, "found" if known else None, when, None, valid_for,
                             "valid" if known else "none", found, text)
    if not known:
        return ChecklistItem(name, spec.label, rule, None, None, None, valid_for, "none", found,
                             f"{spec.label}: none recorded")
    if name == "grade4":
        text = f"highest symptom grade: {extra['symptom'][0]} grade {raw:.0f} at {local_text(when, tz)}"
    elif name == "fluid_refractory":
        text = f"SBP {raw:.0f} mmHg at {local_text(when, tz)} after a fluid bolus of {extra['bolus'][0]:.0f} mL"
    else:
        text = f"{spec.label}: {raw:.2f} µg/kg/min"
    return ChecklistItem(name, spec.label, rule, f"{raw:g}", when, None, valid_for, "valid", found, text)


# --- the forecast of the next dose, for a ward ------------------------------------------------------

@dataclass(frozen=True)
class Forecast:
    """What the pre-dose check would say now for a patient's next dose (IL-2 running only), and the
    oncologist's decision recorded for that dose."""

    patient_id: int
    due_at: datetime | None
    decision: str
    reasons: list[str]          # the criteria met, in words ('SBP 85 mmHg at 09:10 (< 90: label: withhold)')
    missing: list[str]          # required inputs with no valid value
    overdue: bool = False       # the due time has passed
    dose_number: int | None = None
    oncologist: str | None = None        # the decision recorded for this dose: give, hold, discuss, stop
    oncologist_words: str | None = None  # 'oncologist dr.onc: HOLD at 13:40 (SBP 84 mmHg)'

    def _when(self, tz: tzinfo) -> str:
        if self.due_at is None:
            return ""
        return f" {self.due_at.astimezone(tz):%H:%M}" + (" (overdue)" if self.overdue else "")

    def short(self, tz: tzinfo) -> str:
        """'dose 6 due 14:00: HOLD · oncologist: give' / 'next 14:00: give'."""
        head = f"dose {self.dose_number} due" if self.dose_number is not None else "next"
        text = f"{head}{self._when(tz)}: {self.decision.upper() if self.decision != 'give' else 'give'}"
        return text + (f" · oncologist: {self.oncologist}" if self.oncologist else "")

    def sentence(self, tz: tzinfo) -> str:
        """'dose 6 due 14:00: HOLD if these stay: SBP 85 mmHg ...; no valid value for urine output;
        oncologist dr.onc: HOLD at 13:40 (...)'."""
        head = f"dose {self.dose_number} due" if self.dose_number is not None else "next dose"
        text = f"{head}{self._when(tz)}: {self.decision.upper()}"
        if self.reasons:
            text += " if these stay: " + "; ".join(self.reasons)
        if self.missing:
            text += f"; no valid value for {', '.join(self.missing)}"
        if self.oncologist_words:
            text += f"; {self.oncologist_words}"
        return text


@dataclass(frozen=True)
class _Seen:
    """What a forecast found, shaped as the check dose_gate.standing judges a decision against."""

    criteria: list[Criterion]
    missing_codes: list[str]
    missing: list[str]


#: How far back a forecast reads the record: the longest validity an input has (a blood culture, 7 days).
FORECAST_LOOKBACK = timedelta(days=7)


def forecasts(*, session: Session, patient_ids: Sequence[int], now: datetime, tz: tzinfo | None = None,
              thresholds: Thresholds | None = None) -> dict[int, Forecast]:
    """For each patient whose IL-2 is running, the pre-dose check judged now as at the time of
    dosing: one engine preparation for the whole ward (the ward overview shows it beside each
    patient; the doses page has the full check)."""
    now = _aware("now", now)
    thresholds = thresholds or default_thresholds()
    tz = tz or UTC
    if not patient_ids:
        return {}
    # Only a patient with a dose given or held in the running window can be running (il2_hold): the engine
    # decides among them, on their records alone. A hospital's oncologist sees 2,040 patients, of whom
    # about a hundred are on IL-2 at any time; reading everyone's week took 5 s of the 6 (issue 21).
    active = pd.Timedelta(hours=thresholds["il2_hold"].values["active_if_dose_within_hours"])
    recent = repository.current_doses(session=session, patient_ids=list(patient_ids))
    at = pd.to_datetime(recent["given_at"].fillna(recent["scheduled_at"]), utc=True)
    candidates = sorted({int(p) for p in recent.loc[recent["status"].isin(["given", "held"])
                                                    & (at >= pd.Timestamp(now) - active)
                                                    & (at <= pd.Timestamp(now)), "patient_id"]})
    if not candidates:
        return {}
    obs, doses, courses = store_frames(session=session, patient_ids=candidates, since=now - FORECAST_LOOKBACK)
    obs = obs[obs["time"] <= pd.Timestamp(now)]
    doses = doses[doses["time"] <= pd.Timestamp(now)]
    if doses.empty:
        return {}
    labels = sorted(set(doses["patient_id"]))
    number = {label: i for i, label in enumerate(labels)}
    obs = obs[obs["patient_id"].isin(number)].assign(patient_id=lambda f: f["patient_id"].map(number))
    doses = doses.assign(patient_id=doses["patient_id"].map(number))
    courses = courses[courses["patient_id"].isin(number)].assign(
        patient_id=lambda f: f["patient_id"].map(number))
    data = prepare(obs, doses, courses, thresholds=thresholds, n_patients=len(labels))
    pid = np.arange(len(labels), dtype=np.int64)
    time = np.full(len(labels), _ticks(now, data.unit), dtype=np.int64)
    hold = thresholds["il2_hold"]
    # IL-2 running: a dose given or held in the previous 24 h, and not stopped since (il2_hold).
    events, stopped = data.dose_subset("given", "held"), data.dose_subset("stopped")
    last = data.asof(pid, time, events, pd.Timedelta(hours=hold.values["active_if_dose_within_hours"]))
    stop = data.asof(pid, time, stopped)
    running = (last >= 0) & ~((stop >= 0) & (take(stopped.time, stop, NAT) >= take(events.time, last, NAT)))
    _, due = data.next_due(pid, time)
    assessment = il2_hold.assess(data, pid, time, hold, np.ones(len(pid), dtype=bool),
                                 forecast=_ahead(due, time, data, hold))
    items = assessment.items(pid)

    def when(at: str) -> str:
        return local_text(pd.Timestamp(at).to_pydatetime(), tz)

    course_of = dict(zip(courses["patient_id"], courses["course_id"]))
    course_ids = [int(c) for c in courses["course_id"].dropna()]
    decided = repository.next_dose_decisions(session=session, course_ids=course_ids)
    finished = _finished_courses(session=session, course_ids=course_ids)
    out = {}
    for k in np.flatnonzero(running).tolist():
        missing, stale = assessment.missing(k)
        course_id = course_of.get(k)
        if course_id is not None and course_id == course_id and int(course_id) in finished:
            continue   # every planned dose given, or the course ended: no next dose to forecast (as next_dose)
        number, row = decided.get(int(course_id), (None, None)) if course_id is not None and course_id == course_id \
            else (None, None)
        codes = list(missing + stale) if assessment.absent else []
        found = [Criterion(i["id"], i["kind"], il2_hold.criterion_words(i, when), i) for i in items[k]
                 if i.get("kind") in CRITERION_KINDS]
        seen = _Seen(found, codes, [hc.INPUTS[n].label for n in codes])
        standing = dose_gate.standing(row, seen) if row is not None else None
        out[int(labels[k])] = Forecast(
            patient_id=int(labels[k]),
            due_at=None if due[k] == NAT else pd.Timestamp(int(due[k]), unit=data.unit, tz="UTC").to_pydatetime(),
            decision=DECISIONS[int(assessment.decision[k])],
            reasons=[il2_hold.criterion_words(i, when) for i in items[k] if i.get("kind") in CRITERION_KINDS],
            missing=[hc.INPUTS[n].label for n in missing + stale] if assessment.absent else [],
            overdue=due[k] != NAT and due[k] <= time[k], dose_number=number,
            oncologist=None if standing is None else standing.short,
            oncologist_words=None if standing is None else standing.words(
                lambda at: local_text(at, tz)))
    return out


def _finished_courses(*, session: Session, course_ids: list[int]) -> set[int]:
    """Courses with no next dose (no_next_dose, as next_dose decides), for many courses at once."""
    if not course_ids:
        return set()
    given = repository.given_dose_counts(session=session, course_ids=course_ids)
    stopped = repository.given_dose_counts(session=session, course_ids=course_ids, status="stopped")
    rows = session.execute(select(TreatmentCourse.id, TreatmentCourse.status, TreatmentCourse.planned_doses)
                           .where(col(TreatmentCourse.id).in_(course_ids))).all()
    return {int(i) for i, status, planned in rows
            if no_next_dose(status=status, planned=planned, given=given.get(int(i), 0), stopped=int(i) in stopped)}


def standing_decision(*, session: Session, course_id: int, dose_number: int, check: PreDoseCheck | None,
                      now: datetime | None = None) -> dose_gate.Standing | None:
    """The oncologist's decision that stands for this dose (the latest recorded up to `now`; a stop
    decided for an earlier dose stands too: repository.standing_row), judged against `check`: a
    decision to give lapses on a criterion or missing input it was not made on."""
    decisions = repository.latest_dose_decisions(session=session, course_ids=[course_id])
    row = repository.standing_row(decisions, course_id, dose_number)
    if row is None or (now is not None and row.decided_at > now):
        return None
    return dose_gate.standing(row, check, criterion_reasons(check))


def criterion_reasons(check: PreDoseCheck | None) -> dict[str, str]:
    """Criterion id -> the words of a reason: from the check when it found it, else from the table."""
    values = default_thresholds()["il2_hold"].values
    words = {c.id: hc.wording(c, values, named=True) for c in hc.CRITERIA}
    if check is not None:
        words.update(check.reason_choices())
    return words


def check_or_none(*, session: Session, patient_id: int, now: datetime, tz: tzinfo | None = None
                  ) -> tuple[PreDoseCheck | None, str | None]:
    """The pre-dose check, or None and why it could not run (a dose is then given only on authority:
    the decision is never made up)."""
    return checks_or_none(session=session, patient_ids=[patient_id], now=now, tz=tz)[int(patient_id)]


HISTORY_COLUMNS = ["Dose", "Scheduled", "Status", "Given at", "Amount", "Route", "Reason or basis", "Recorded"]


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def basis_text(event) -> str:
    """Why a given dose was given (the gate, issue 15): 'check: GIVE', "oncologist's decision to give
    (check: HOLD)", 'override by Dr Reg: reason (check: HOLD)'; '–' for a dose recorded before the
    check was stored with it."""
    check = _text(event.check_decision)
    over = f" (check: {check.upper()})" if check else ""
    if _text(event.override_by):
        return f"override by {event.override_by}: {_text(event.override_reason) or 'no reason'}{over}"
    if not pd.isna(event.decision_id):
        return f"oncologist's decision to give{over}"
    return f"check: {check.upper()}" if check else "–"


def dose_history(*, session: Session, course_id: int, tz: tzinfo) -> pd.DataFrame:
    """The course's dose events, newest first, display-ready: a held or stopped dose with its reason,
    a given dose with its basis (check, oncologist's decision or override)."""
    events = course_progress(session=session, course_id=course_id).events
    rows = [{"Dose": int(e.dose_number), "Scheduled": local_text(e.scheduled_at, tz), "Status": e.status,
             "Given at": local_text(e.given_at, tz) if not pd.isna(e.given_at) else "–",
             "Amount": amount_text(e.dose, e.dose_unit), "Route": e.route if isinstance(e.route, str) else "–",
             "Reason or basis": basis_text(e) if e.status == "given" else (_text(e.reason) or ""),
             "Recorded": f"{e.recorded_by}, {local_text(e.recorded_at, tz)}"}
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
