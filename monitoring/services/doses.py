"""Record a dose (the nurse's Given / Held / Stopped): validated, judged by the dose gate on the pre-dose
check at the time given, stored with an audit row, and the patient's alerts re-evaluated, in one transaction."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

import pandas as pd
from sqlmodel import Session

from monitoring.clinical.inputs import entry_limits
from monitoring.clinical.thresholds import default_thresholds
from monitoring.errors import RecordError
from monitoring.services import alerting
from monitoring.store import repository
from monitoring.store.models import DoseEvent, TreatmentCourse
from monitoring.timefmt import local_text
from monitoring.views import dose_gate
from monitoring.views.courses import signoff_problem
from monitoring.views.dosing import check_or_none, course_prescription, course_progress, standing_decision

UTC = timezone.utc


def compose_reason(chosen: list[str] | tuple[str, ...], free_text: str | None) -> str:
    """A held or stopped reason from the criteria chosen and what the nurse wrote."""
    parts = [c.strip() for c in chosen if c and c.strip()]
    if free_text and free_text.strip():
        parts.append(free_text.strip())
    return "; ".join(parts)


def record(*, session: Session, course_id: int, dose_number: int, scheduled_at: datetime, status: str,
           recorded_by: str, given_at: datetime | None = None, dose: float | None = None,
           route: str | None = None, reason: str | None = None, dose_unit: str | None = None,
           reason_criteria: list[str] | None = None, reason_note: str | None = None,
           override_by: str | None = None, override_reason: str | None = None,
           difference_confirmed: bool = False, now: datetime | None = None, tz: tzinfo | None = None) -> DoseEvent:
    """Record a dose as given (time and the amount the nurse confirmed), held or stopped (with a
    reason: the hold criteria chosen, by id, and the words typed; `reason` is composed from them when
    not given), then re-evaluate the patient's alerts. One audit row for the dose (repository).

    A given dose is judged by monitoring.views.dose_gate on the pre-dose check at the time it was given:
    allowed on GIVE; otherwise only on the oncologist's decision to give this dose or an override
    naming the authorising clinician and the reason. Any dose (given, held or stopped) is refused on a
    course that has ended, or whose eligibility screen is not signed off eligible (views.courses.signoff_problem,
    issue 19). The check, the decision relied on and the
    override are stored with the dose. A dose that differs from the prescription by more than
    [prescription] confirm_difference_percent needs `difference_confirmed`."""
    now = now or datetime.now(UTC)
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    errors = []
    if course.status in ("stopped", "completed"):
        ended = (f" ({course.end_reason}, by {course.ended_by}, {local_text(course.ended_at, tz or UTC)})"
                 if course.ended_at is not None else "")
        errors.append(f"This course is {course.status}{ended}; no further dose can be recorded. An oncologist starts "
                      "the next cycle on the Courses page.")
    else:
        # The dose gate of issue 19: no dose on a course whose eligibility screen is not signed off eligible.
        unsigned = signoff_problem(session=session, course=course, tz=tz or UTC)
        if unsigned:
            errors.append(unsigned)
    if status == "given":
        if dose is None:
            errors.append("A given dose needs the amount given: type it or confirm the suggested dose.")
        ahead = entry_limits().future_tolerance
        if given_at is not None and given_at.utcoffset() is not None and given_at > now + ahead:
            errors.append(f"The time given ({given_at.isoformat()}) is in the future.")
        limit = default_thresholds()["prescription"].confirm_difference_percent
        differs = course_prescription(course).difference_text(dose, limit) if dose is not None else None
        if differs and not difference_confirmed:
            errors.append(differs)
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
    if status == "given" and given_at is not None and given_at.utcoffset() is not None:
        # A time given long before the dose was due would be judged on a forecast (or on the values
        # before a bad reading): refused unless authorised like any dose over the check.
        early = timedelta(hours=default_thresholds()["il2_hold"].values["pre_dose_hours"])
        if scheduled_at is not None and given_at < scheduled_at - early and not (override_by and override_reason):
            errors.append(f"The time given, {local_text(given_at, tz or UTC)}, is more than "
                          f"{early / timedelta(hours=1):g} h "
                          f"before dose {dose_number} was due ({local_text(scheduled_at, tz or UTC)}): check the "
                          "time; if it was given then, name the authorising clinician and give the reason.")
        given_before = progress.events[(progress.events["status"] == "given") & progress.events["given_at"].notna()]
        if len(given_before) and given_at <= pd.Timestamp(given_before["given_at"].max()).to_pydatetime():
            errors.append(f"The time given, {local_text(given_at, tz or UTC)}, is not after the previous dose given "
                          f"({local_text(given_before['given_at'].max(), tz or UTC)}): check the time.")
    gate: dict = {}
    if status == "given" and not errors and given_at is not None and given_at.utcoffset() is not None:
        check, _ = check_or_none(session=session, patient_id=course.patient_id, now=min(given_at, now), tz=tz)
        decision = standing_decision(session=session, course_id=course_id, dose_number=dose_number, check=check,
                                     now=now)
        verdict = dose_gate.judge_given(check=check, decision=decision, override_by=override_by,
                                        override_reason=override_reason, dose_number=dose_number,
                                        when=lambda at: local_text(at, tz or UTC))
        if not verdict.allowed:
            errors += verdict.problems
        gate = dict(check_decision=check.decision if check is not None else dose_gate.CHECK_NOT_RUN,
                    check_criteria=[c.id for c in check.criteria] if check is not None else None,
                    decision_id=decision.id if verdict.basis == "decision" and decision is not None else None,
                    override_by=override_by if verdict.basis == "override" else None,
                    override_reason=override_reason if verdict.basis == "override" else None)
    if errors:
        raise RecordError(errors)
    if status == "given" and dose_unit is None:
        per_kg_unit = course.dose_unit or "[IU]/kg"
        dose_unit = per_kg_unit[:-3] if per_kg_unit.endswith("/kg") else per_kg_unit
    event = repository.record_dose(session=session, course_id=course_id, dose_number=dose_number,
                                   scheduled_at=scheduled_at, status=status, recorded_by=recorded_by,
                                   given_at=given_at, dose=dose, dose_unit=dose_unit if dose is not None else None,
                                   route=route, reason=reason, reason_criteria=reason_criteria,
                                   reason_note=reason_note, now=now, **gate)
    alerting.sync_alerts(session=session, patient_ids=[course.patient_id], username=recorded_by, now=now)
    return event
