"""IL-2 courses (issue 19 items 2 and 3): the oncologist starts a course, answers and signs off its
eligibility screen, ends it with a reason, and starts the next cycle. Oncologists only (manage_courses),
checked here on the server; each action is one audit row (repository), nothing half saved.

- `start_course`: the indication (stage, prior surgery, combination, after TIL), the regimen (its route is
  vocabulary.REGIMEN_ROUTE), the prescription (dose per kg x dosing weight, or a fixed dose:
  monitoring.clinical.prescription), planned doses, interval, start, after-lymphodepletion; and the
  baselines, each a result of the patient's (its time kept), typed, or (next cycle) carried and confirmed.
  The combination decides the regimens allowed (vocabulary.COMBINATION_REGIMENS): IL-2 with interferon and
  temozolomide is 'biochemotherapy' and only that; IL-2 after TIL is 'til-il2' and only that. One course
  not ended per patient.
- `answer_screen`: every item of the eligibility screen, yes, no or unknown; a 'yes' or 'unknown' needs a
  note (what it is, or what is being done to find out). Each answer is a new row (latest stands).
- `sign_off`: 'eligible' (only when every answer is 'no'), 'eligible-after-discussion' (reason required) or
  'not-eligible'; append-only, the latest stands, and it names the answers it was given on, so a screen
  changed afterwards needs a new sign-off before a dose (views.courses.signoff_problem, the dose gate).
- `end_course`: completed, toxicity, progression, patient choice or death; once; no dose after it.
- `next_cycle`: cycle n + 1 of an ended course (ended here, or marked completed or stopped before migration
  0017; not after death), linked to it (previous_course_id), with
  its plan; its baselines are passed in again (the page offers the previous cycle's, to confirm or replace),
  and its eligibility screen is answered and signed off again (the page starts from the previous answers):
  a patient's fitness changes over the rest days, and a sign-off covers one cycle.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone, tzinfo

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.clinical.catalogue import ObservationValueError, default_catalogue
from monitoring.clinical.vocabulary import (
    COMBINATION_REGIMENS,
    COMBINATIONS,
    ELIGIBILITY_ANSWERS,
    ELIGIBILITY_ITEMS,
    END_REASONS,
    END_STATUS,
    INDICATION_STAGES,
    REGIMENS,
    SIGN_OFF_OUTCOMES,
)
from monitoring.errors import RecordError
from monitoring.services import auth
from monitoring.store import repository
from monitoring.store.models import Observation, Patient, TreatmentCourse
from monitoring.timefmt import local_text
from monitoring.views.courses import BASELINE_BY_NAME, BASELINES, current_answer_ids
from monitoring.views.dosing import course_progress

UTC = timezone.utc
BASELINE_SOURCES = ("result", "entered", "carried")


@dataclass(frozen=True)
class CoursePlan:
    """What the oncologist prescribes: the indication, the regimen and the dose schedule."""

    indication_stage: str | None
    combination: str | None
    prior_surgery: bool | None
    after_til: bool
    regimen: str
    planned_doses: int | None
    dose_interval_hours: float | None
    start_at: datetime
    dose_per_kg: float | None = None
    dose_unit: str = "[IU]/kg"
    fixed_dose: float | None = None
    dosing_weight_kg: float | None = None
    after_lymphodepletion: bool = False


@dataclass(frozen=True)
class Baseline:
    """One baseline as the oncologist confirmed it: a result's value (with its observation id), a typed
    value, or the previous cycle's value carried forward. value None: not recorded (missing stays missing)."""

    value: float | None
    source: str = "entered"
    observation_id: int | None = None
    details: dict = field(default_factory=dict)


def plan_of(course: TreatmentCourse) -> CoursePlan:
    """A course's plan, as the next cycle starts from it."""
    return CoursePlan(indication_stage=course.indication_stage, combination=course.combination,
                      prior_surgery=course.prior_surgery, after_til=bool(course.after_til), regimen=course.regimen,
                      planned_doses=course.planned_doses, dose_interval_hours=course.dose_interval_hours,
                      start_at=course.start_at, dose_per_kg=course.dose_per_kg, dose_unit=course.dose_unit,
                      fixed_dose=course.fixed_dose, dosing_weight_kg=course.dosing_weight_kg,
                      after_lymphodepletion=course.after_lymphodepletion)


def carried_baselines(course: TreatmentCourse) -> dict[str, Baseline]:
    """The previous cycle's baselines, offered for the next cycle (source 'carried')."""
    return {spec.name: Baseline(getattr(course, spec.column), "carried")
            for spec in BASELINES if getattr(course, spec.column) is not None}


def _aware(name: str, moment: datetime | None) -> list[str]:
    if moment is None or moment.utcoffset() is None:
        return [f"{name} must be a time zone-aware time."]
    return []


def plan_problems(plan: CoursePlan, baselines: Mapping[str, Baseline]) -> list[str]:
    """Every problem of a plan as prescribed (indication, regimen, prescription, schedule), before any patient."""
    errors = []
    if plan.indication_stage not in INDICATION_STAGES:
        errors.append(f"Indication '{plan.indication_stage or ''}' is not known; accepted: "
                      f"{', '.join(INDICATION_STAGES)} (melanoma stage III, IV or recurrent).")
    if plan.combination not in COMBINATIONS:
        errors.append(f"Combination '{plan.combination or ''}' is not known; accepted: {', '.join(COMBINATIONS)}.")
    if plan.prior_surgery is None:
        errors.append("Prior surgery: answer yes or no.")
    if plan.regimen not in REGIMENS:
        errors.append(f"Regimen '{plan.regimen}' is not known; accepted: {', '.join(REGIMENS)}.")
    elif plan.combination in COMBINATIONS and plan.regimen not in COMBINATION_REGIMENS[plan.combination]:
        errors.append(f"{COMBINATIONS[plan.combination]} is not given as '{REGIMENS[plan.regimen]}'; accepted "
                      f"regimens: {', '.join(COMBINATION_REGIMENS[plan.combination])}.")
    if plan.after_til != (plan.regimen == "til-il2"):
        errors.append("IL-2 after TIL is the regimen 'til-il2', and that regimen is always after TIL: choose both "
                      "or neither.")
    if plan.planned_doses is None or not 1 <= plan.planned_doses <= 100:
        errors.append(f"Planned doses per cycle {plan.planned_doses} is not accepted; give a whole number from 1 "
                      "to 100.")
    if plan.dose_interval_hours is None or not 0 < plan.dose_interval_hours <= 24 * 28:
        errors.append(f"Dose interval {plan.dose_interval_hours} h is not accepted; give hours between doses "
                      "(more than 0, at most 672).")
    errors += _aware("Start time", plan.start_at)
    if (plan.dose_per_kg is None) == (plan.fixed_dose is None):
        errors.append("Give either a dose per kg (with the dosing weight) or a fixed dose, not "
                      f"{'both' if plan.dose_per_kg is not None else 'neither'}.")
    for name, value in (("Dose per kg", plan.dose_per_kg), ("Fixed dose", plan.fixed_dose),
                        ("Dosing weight", plan.dosing_weight_kg)):
        if value is not None and not value > 0:
            errors.append(f"{name} {value} is not a positive amount.")
    if not plan.dose_unit.endswith("/kg"):
        errors.append(f"Dose unit '{plan.dose_unit}' is a unit per kg, such as [IU]/kg.")
    weight = baselines.get("weight")
    if plan.dose_per_kg is not None and plan.dosing_weight_kg is None and (weight is None or weight.value is None):
        errors.append("A dose per kg needs a dosing weight (or the pre-treatment weight as a baseline).")
    return errors


def _baseline_values(session: Session, patient_id: int, baselines: Mapping[str, Baseline],
                     previous: TreatmentCourse | None) -> tuple[dict[str, float], dict[str, dict], list[str]]:
    """The course columns and their sources, checked: a result must be the patient's stored, current value of
    that code; a typed value must be plausible (the catalogue's range); a carried one the previous cycle's."""
    catalogue = default_catalogue()
    values: dict[str, float] = {}
    sources: dict[str, dict] = {}
    errors = []
    for name, given in baselines.items():
        spec = BASELINE_BY_NAME.get(name)
        if spec is None:
            errors.append(f"Baseline '{name}' is not known; accepted: {', '.join(BASELINE_BY_NAME)}.")
            continue
        if given.value is None:
            continue
        if given.source not in BASELINE_SOURCES:
            errors.append(f"{spec.label}: source '{given.source}' is not known; accepted: "
                          f"{', '.join(BASELINE_SOURCES)}.")
            continue
        if given.source == "result":
            row = session.get(Observation, given.observation_id) if given.observation_id else None
            current = repository.current_observations(session=session, patient_ids=[patient_id], codes=[spec.code])
            if (row is None or row.patient_id != patient_id or row.code != spec.code
                    or int(given.observation_id or 0) not in set(current["id"].astype(int))
                    or row.value_num != given.value):
                errors.append(f"{spec.label} {given.value:g}: not a current result of this patient; choose the "
                              "offered result again, or type the value.")
                continue
            sources[name] = {"source": "result", "observation_id": row.id,
                             "observed_at": row.observed_at.astimezone(UTC).isoformat()}
        elif given.source == "carried":
            before = None if previous is None else getattr(previous, spec.column)
            if previous is None or before != given.value:
                errors.append(f"{spec.label} {given.value:g}: not the previous cycle's baseline; type it as a new "
                              "value instead.")
                continue
            sources[name] = {"source": "carried", "from_course": previous.id, "from_cycle": previous.cycle,
                             "was": (previous.baseline_sources or {}).get(name)}
        else:
            try:
                catalogue.validate(spec.code, given.value)
            except ObservationValueError as exc:
                errors.append(f"Baseline {exc.message}")
                continue
            sources[name] = {"source": "entered"}
        values[spec.column] = float(given.value)
    return values, sources, errors


def _open_course(session: Session, patient_id: int) -> TreatmentCourse | None:
    return session.scalars(select(TreatmentCourse).where(col(TreatmentCourse.patient_id) == patient_id,
                                                         col(TreatmentCourse.ended_at).is_(None),
                                                         col(TreatmentCourse.status).in_(("planned", "active")))
                           .order_by(col(TreatmentCourse.start_at).desc())).first()


def _create(*, session: Session, patient_id: int, plan: CoursePlan, baselines: Mapping[str, Baseline],
            username: str, cycle: int, previous: TreatmentCourse | None, extra: list[str], tz: tzinfo
            ) -> TreatmentCourse:
    errors = list(extra)
    if session.get(Patient, patient_id) is None:
        raise RecordError([f"Patient {patient_id} does not exist."])
    errors += plan_problems(plan, baselines)
    values, sources, problems = _baseline_values(session, patient_id, baselines, previous)
    errors += problems
    running = _open_course(session, patient_id)
    if running is not None:
        errors.append(f"This patient's course {running.id} (cycle {running.cycle}, started "
                      f"{local_text(running.start_at, tz)}) has not ended; end it before starting another.")
    if errors:
        raise RecordError(errors)
    return repository.add_course(
        session=session, patient_id=patient_id, regimen=plan.regimen, start_at=plan.start_at, created_by=username,
        cycle=cycle, dose_per_kg=plan.dose_per_kg, dose_unit=plan.dose_unit, planned_doses=plan.planned_doses,
        dose_interval_hours=plan.dose_interval_hours, after_lymphodepletion=plan.after_lymphodepletion,
        dosing_weight_kg=plan.dosing_weight_kg if plan.dose_per_kg is not None else None,
        fixed_dose=plan.fixed_dose, status="active",
        baseline_weight_kg=values.get("baseline_weight_kg"),
        baseline_creatinine_mg_dl=values.get("baseline_creatinine_mg_dl"),
        usual_sbp_mm_hg=values.get("usual_sbp_mm_hg"),
        indication_stage=plan.indication_stage, prior_surgery=plan.prior_surgery, combination=plan.combination,
        after_til=plan.after_til, baseline_anc_10e9_l=values.get("baseline_anc_10e9_l"),
        baseline_bilirubin_mg_dl=values.get("baseline_bilirubin_mg_dl"),
        baseline_alt_u_l=values.get("baseline_alt_u_l"), baseline_ast_u_l=values.get("baseline_ast_u_l"),
        baseline_sources=sources or None, previous_course_id=None if previous is None else previous.id)


def start_course(*, session: Session, patient_id: int, plan: CoursePlan, baselines: Mapping[str, Baseline],
                 role: str, username: str, tz: tzinfo = UTC) -> TreatmentCourse:
    """Start cycle 1 of an IL-2 course (the rules in the module's docstring); one audit row. Refused,
    listing every problem: a role without manage_courses, an unknown or inconsistent indication and
    regimen, a missing or double prescription, a baseline that is not the patient's result or not
    plausible, a course of the patient's not yet ended. No dose until its screen is signed off."""
    auth.require(role, "manage_courses")
    return _create(session=session, patient_id=patient_id, plan=plan, baselines=baselines, username=username,
                   cycle=1, previous=None, extra=[], tz=tz)


def _course(session: Session, course_id: int) -> TreatmentCourse:
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    return course


def answer_screen(*, session: Session, course_id: int, answers: Mapping[str, str], notes: Mapping[str, str],
                  role: str, username: str, now: datetime) -> list:
    """Record the eligibility screen: every item answered yes, no or unknown; a 'yes' or 'unknown' with a
    note. Only the answers that changed are stored (each a new row; the latest stands), one audit row."""
    auth.require(role, "manage_courses")
    course = _course(session, course_id)
    errors = _aware("Time", now)
    if course.ended_at is not None:
        errors.append(f"Course {course_id} has ended; its screen is no longer answered.")
    missing = [label for item, label in ELIGIBILITY_ITEMS.items() if not answers.get(item)]
    if missing:
        errors.append(f"Answer every item of the eligibility screen; not answered: {', '.join(missing)}.")
    errors += [f"Eligibility item '{item}' is not known; accepted: {', '.join(ELIGIBILITY_ITEMS)}."
               for item in answers if item not in ELIGIBILITY_ITEMS]
    errors += [f"{ELIGIBILITY_ITEMS.get(item, item)}: answer '{a}' is not accepted; answer "
               f"{', '.join(ELIGIBILITY_ANSWERS)}."
               for item, a in answers.items() if a and a not in ELIGIBILITY_ANSWERS]
    errors += [f"{ELIGIBILITY_ITEMS[item]}: a '{a}' answer needs a note (what it is, or how it is being found out)."
               for item, a in answers.items() if item in ELIGIBILITY_ITEMS and a in ("yes", "unknown")
               and not (notes.get(item) or "").strip()]
    if errors:
        raise RecordError(errors)
    standing = repository.latest_eligibility(session=session, course_id=course_id)
    changed = {item: a for item, a in answers.items()
               if item not in standing or standing[item].answer != a
               or (standing[item].note or "") != (notes.get(item) or "").strip()}
    if not changed:
        raise RecordError(["Nothing to save: every answer and note is as recorded."])
    return repository.record_eligibility(session=session, course_id=course_id, answers=changed,
                                         notes={i: (notes.get(i) or "").strip() for i in changed if notes.get(i)},
                                         answered_by=username, answered_at=now)


def sign_off(*, session: Session, course_id: int, outcome: str, role: str, username: str, now: datetime,
             reason: str | None = None):
    """Sign off the course's eligibility screen as it stands (rules in the module's docstring)."""
    auth.require(role, "manage_courses")
    course = _course(session, course_id)
    errors = _aware("Time", now)
    if outcome not in SIGN_OFF_OUTCOMES:
        errors.append(f"Sign-off '{outcome}' is not known; accepted: {', '.join(SIGN_OFF_OUTCOMES)}.")
    if course.ended_at is not None:
        errors.append(f"Course {course_id} has ended; it is not signed off any more.")
    answers = repository.latest_eligibility(session=session, course_id=course_id)
    unanswered = [label for item, label in ELIGIBILITY_ITEMS.items() if item not in answers]
    if unanswered:
        errors.append(f"The eligibility screen is not complete; answer first: {', '.join(unanswered)}.")
    flagged = [f"{ELIGIBILITY_ITEMS[i]} ({a.answer})" for i, a in answers.items() if a.answer != "no"]
    if outcome == "eligible" and flagged:
        errors.append(f"'Eligible' needs every answer 'no'; this screen has {', '.join(flagged)}: sign off 'eligible "
                      "after discussion' with the reason, or 'not eligible'.")
    if outcome == "eligible-after-discussion" and not (reason or "").strip():
        errors.append("'Eligible after discussion' needs the reason (what was discussed, with whom, and why IL-2 "
                      "goes ahead).")
    if errors:
        raise RecordError(errors)
    return repository.record_eligibility_signoff(session=session, course_id=course_id, outcome=outcome,
                                                 signed_by=username, reason=reason,
                                                 answer_ids=current_answer_ids(answers), signed_at=now)


def end_course(*, session: Session, course_id: int, reason: str, role: str, username: str, now: datetime,
               ended_at: datetime | None = None, note: str | None = None) -> TreatmentCourse:
    """End a course with its reason (completed, toxicity, progression, patient choice, death): status
    'completed' or 'stopped'; once; no dose is recorded after it. One audit row."""
    auth.require(role, "manage_courses")
    course = _course(session, course_id)
    ended_at = ended_at or now
    errors = _aware("Time", now) + _aware("End time", ended_at)
    if reason not in END_REASONS:
        errors.append(f"End reason '{reason}' is not known; accepted: {', '.join(END_REASONS)}.")
    if not errors and ended_at > now:
        errors.append(f"The end time {ended_at.isoformat()} is in the future.")
    if not errors and ended_at < course.start_at:
        errors.append(f"The end time {ended_at.isoformat()} is before the course started.")
    if course.ended_at is not None:
        errors.append(f"Course {course_id} already ended ({END_REASONS.get(course.end_reason or '', '?')}, by "
                      f"{course.ended_by}).")
    if errors:
        raise RecordError(errors)
    return repository.end_course(session=session, course_id=course_id, status=END_STATUS[reason], reason=reason,
                                 ended_by=username, ended_at=ended_at, note=note)


def next_cycle(*, session: Session, course_id: int, start_at: datetime, baselines: Mapping[str, Baseline],
               role: str, username: str, tz: tzinfo = UTC, plan: CoursePlan | None = None) -> TreatmentCourse:
    """Start the next cycle of an ended course (not one ended by death): the previous cycle's plan (or
    `plan`, changed by the oncologist) from `start_at`, which is after the previous cycle's end and its
    last dose given; the baselines as confirmed now. Its screen is answered and signed off again."""
    auth.require(role, "manage_courses")
    previous = _course(session, course_id)
    errors = _aware("Start time", start_at)
    if previous.ended_at is None and previous.status not in ("stopped", "completed"):
        errors.append(f"Course {course_id} (cycle {previous.cycle}) has not ended; end it (for example "
                      "'completed') before starting the next cycle.")
    elif previous.end_reason == "death":
        errors.append(f"Course {course_id} ended with the patient's death; there is no next cycle.")
    elif not errors and previous.ended_at is not None and start_at <= previous.ended_at:
        errors.append(f"The next cycle starts {local_text(start_at, tz)}, not after cycle {previous.cycle} ended "
                      f"({local_text(previous.ended_at, tz)}).")
    if not errors:
        events = course_progress(session=session, course_id=course_id).events
        given = events[(events["status"] == "given") & events["given_at"].notna()]
        if len(given) and pd.Timestamp(start_at) <= given["given_at"].max():
            errors.append(f"The next cycle starts {local_text(start_at, tz)}, before the last dose of cycle "
                          f"{previous.cycle} ({local_text(given['given_at'].max(), tz)}).")
    nxt = replace(plan or plan_of(previous), start_at=start_at)
    return _create(session=session, patient_id=previous.patient_id, plan=nxt, baselines=baselines,
                   username=username, cycle=previous.cycle + 1, previous=previous, extra=errors, tz=tz)
