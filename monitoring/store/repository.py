"""Persistence: the one way data gets into and out of the store.

Every function takes an explicit session, keyword-only, and writes exactly one AuditEvent per
write. Callers own the transaction (monitoring.store.db.session_scope): an observation set is validated
in full before the first row is added, and one set is one transaction, so nothing is half saved.
"""
from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import event, exists, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from monitoring.clinical.catalogue import Catalogue, ObservationValueError, UnknownCodeError, default_catalogue
from monitoring.clinical.inputs import EARLIEST_TIME, ObservationInput, entry_limits
from monitoring.clinical.rules.hold_criteria import BY_ID as _HOLD_CRITERIA
from monitoring.clinical.vocabulary import (
    DOSE_DECISIONS,
    DOSE_STATUSES,
    ELIGIBILITY_ANSWERS,
    ELIGIBILITY_ITEMS,
    OBSERVATION_SOURCES,
    REGIMENS,
    ROUTES,
    SIGN_OFF_OUTCOMES,
)
from monitoring.errors import ConfirmationRequired, RecordError
from monitoring.store.db import time_as_stored
from monitoring.store.models import (
    AuditEvent,
    Bed,
    DoseDecision,
    DoseEvent,
    EligibilityAnswer,
    EligibilitySignOff,
    Observation,
    Patient,
    PatientIdentity,
    ServerSecret,
    TreatmentCourse,
    User,
    Ward,
)


@dataclass
class SavedSet:
    set_id: str
    observations: list[Observation] = field(default_factory=list)


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise RecordError([f"{name} {value.isoformat()} has no time zone; give a time zone-aware time."])


def _jsonable(row: Any) -> dict[str, Any]:
    data = row.model_dump() if hasattr(row, "model_dump") else dict(row)
    return {k: (v.isoformat() if isinstance(v, (datetime, date)) else v) for k, v in data.items()}


def write_audit(*, session: Session, username: str, action: str, entity: str,
                entity_id: Any = None, before: Any = None, after: Any = None) -> AuditEvent:
    """Append one audit row (21 CFR Part 11 spirit: who, when, what, before and after)."""
    event = AuditEvent(username=username, action=action, entity=entity,
                       entity_id=None if entity_id is None else str(entity_id),
                       before=before, after=after)
    session.add(event)
    return event


# Who a person is and what an account may do change only with an audit row naming the old and the
# new values (issue 16 item 8: patientidentity and user.role changed without one). Checked at every
# flush, so no code path can forget it; the sign-in counters (failed_logins, locked_until) and
# created_at are bookkeeping, not identity.
AUDITED_COLUMNS = {"user": ("username", "display_name", "role", "email", "password_hash", "is_active"),
                   "patientidentity": ("mrn", "given_name", "family_name", "birth_date")}


def _audit_key(row: Any) -> tuple[str, str] | None:
    table = getattr(row, "__tablename__", None)
    if table == "user":
        return "user", str(row.username)
    if table == "patientidentity":
        return "patient", str(row.patient_id)
    return None


@event.listens_for(Session, "before_flush")
def _refuse_text_longer_than_its_column(session: Session, _context, _instances) -> None:
    """A text longer than its column is refused with its name and limit, on SQLite (which would keep
    it) as on PostgreSQL (which raised StringDataRightTruncation: a crash; issue 16 item 10)."""
    errors = []
    for row in [*session.new, *session.dirty]:
        table = getattr(row, "__table__", None)
        if table is None:
            continue
        for column in table.columns:
            limit = getattr(column.type, "length", None)
            value = getattr(row, column.key, None) if limit else None
            if isinstance(value, str) and len(value) > limit:
                errors.append(f"{column.key.replace('_', ' ')} has {len(value)} characters; at most {limit} "
                              "are accepted.")
    if errors:
        raise RecordError(sorted(set(errors)))


@event.listens_for(Session, "before_flush")
def _refuse_unaudited_identity_changes(session: Session, _context, _instances) -> None:
    audited = {(row.entity, row.entity_id) for row in session.new if isinstance(row, AuditEvent)}
    for row in [*session.dirty, *session.deleted]:
        key = _audit_key(row)
        if key is None:
            continue
        state = inspect(row)
        changed = (["the whole row (deleted)"] if row in session.deleted else
                   [c for c in AUDITED_COLUMNS[row.__tablename__] if state.attrs[c].history.has_changes()])
        if changed and key not in audited:
            raise RecordError([f"{row.__tablename__} {key[1]}: {', '.join(changed)} changed without an audit "
                               "row; identity and account changes go through the functions that audit them."])


# --- wards, patients, courses -------------------------------------------------------------------

def get_or_create_ward(*, session: Session, code: str, name: str,
                       username: str = "system") -> Ward:
    ward = session.scalars(select(Ward).where(Ward.code == code)).first()
    if ward is None:
        ward = Ward(code=code, name=name)
        session.add(ward)
        session.flush()
        write_audit(session=session, username=username, action="create", entity="ward",
                    entity_id=ward.id, after=_jsonable(ward))
    return ward


def get_or_create_bed(*, session: Session, ward_id: int, label: str, username: str = "system") -> Bed:
    bed = session.scalars(select(Bed).where(Bed.ward_id == ward_id, Bed.label == label)).first()
    if bed is None:
        bed = Bed(ward_id=ward_id, label=label)
        session.add(bed)
        session.flush()
        write_audit(session=session, username=username, action="create", entity="bed",
                    entity_id=bed.id, after=_jsonable(bed))
    return bed


AUDIT_PSEUDONYM_KEY = "audit-pseudonym"


def server_secret(*, session: Session, name: str) -> str:
    """One of the server's own keys (made by a migration; models.ServerSecret)."""
    value = session.scalar(select(ServerSecret.value).where(ServerSecret.name == name))
    if value is None:
        raise RecordError([f"The server's key '{name}' is missing from the database; run `il2-monitor db upgrade` "
                           "(migration 0018 makes it)."])
    return value


DEMO_CREATOR = "demo-generator"


def made_by_demo():
    """The user names the demo generator created (from the audit trail), as a subquery."""
    return select(AuditEvent.entity_id).where(AuditEvent.action == "user-create", AuditEvent.username == DEMO_CREATOR)


def active_demo_accounts(*, session: Session) -> list[str]:
    """Active accounts the demo generator made (password published in the README): a database that
    has them takes no real patient (issue 16 item 9)."""
    return list(session.scalars(select(User.username).where(User.username.in_(made_by_demo()), User.is_active)
                                .order_by(User.username)).all())


def add_patient(*, session: Session, mrn: str, given_name: str, family_name: str, recorded_by: str,
                birth_date: date | None = None, sex: str | None = None, ward_id: int | None = None,
                bed_id: int | None = None, is_synthetic: bool = False,
                admitted_at: datetime | None = None, allergies: str | None = None,
                action: str = "create") -> Patient:
    """Register a patient: clinical row and identity row written together. `allergies`: free text as
    the ward records it (None = not recorded, which is never shown as 'no allergies'). `action` names the
    audit row ('admit' from monitoring.services.admission)."""
    _require_aware("admitted_at", admitted_at)
    if not mrn.strip():
        raise RecordError(["Record number is empty; every patient needs one."])
    if not is_synthetic:
        demo = active_demo_accounts(session=session)
        if demo:
            raise RecordError([f"This database holds the demo's accounts ({', '.join(demo)}; their password is "
                               "published): a real patient goes into a database of its own, or disable those "
                               "accounts first."])
    patient = Patient(ward_id=ward_id, bed_id=bed_id, sex=sex, is_synthetic=is_synthetic,
                      admitted_at=admitted_at, allergies=(allergies or "").strip() or None)
    session.add(patient)
    session.flush()
    identity = PatientIdentity(patient_id=patient.id, mrn=mrn.strip(), given_name=given_name,
                               family_name=family_name, birth_date=birth_date)
    session.add(identity)
    write_audit(session=session, username=recorded_by, action=action, entity="patient",
                entity_id=patient.id, after={**_jsonable(patient), **_jsonable(identity)})
    return patient


def correct_identity(*, session: Session, patient_id: int, changed_by: str, reason: str,
                     **fields: Any) -> PatientIdentity:
    """Correct a patient's record number, names or birth date: one audit row with the old and the new
    values and the reason (the old values stay in the audit trail; nothing is lost)."""
    identity = session.get(PatientIdentity, patient_id)
    errors = []
    if identity is None:
        errors.append(f"Patient {patient_id} has no identity to correct.")
    unknown = sorted(set(fields) - set(AUDITED_COLUMNS["patientidentity"]))
    if unknown:
        errors.append(f"{', '.join(unknown)}: not an identity field; accepted: "
                      f"{', '.join(AUDITED_COLUMNS['patientidentity'])}.")
    if not (reason or "").strip():
        errors.append("A correction of identity needs a reason.")
    if errors:
        raise RecordError(errors)
    before = _jsonable(identity)
    for name, value in fields.items():
        setattr(identity, name, value.strip() if isinstance(value, str) else value)
    write_audit(session=session, username=changed_by, action="identity-correct", entity="patient",
                entity_id=patient_id, before=before, after={**_jsonable(identity), "reason": reason.strip()})
    session.flush()
    return identity


def add_course(*, session: Session, patient_id: int, regimen: str, start_at: datetime, created_by: str,
               cycle: int = 1, dose_per_kg: float | None = None, dose_unit: str = "[IU]/kg",
               planned_doses: int | None = None, dose_interval_hours: float | None = None,
               after_lymphodepletion: bool = False, baseline_weight_kg: float | None = None,
               baseline_creatinine_mg_dl: float | None = None, usual_sbp_mm_hg: float | None = None,
               status: str = "active", dosing_weight_kg: float | None = None,
               fixed_dose: float | None = None, **more: Any) -> TreatmentCourse:
    """A treatment course. The dosing weight defaults to the pre-treatment (baseline) weight: the
    prescribed dose never follows a weight gained during the course (monitoring.clinical.prescription).
    `more`: the columns of migration 0017 (COURSE_SETUP_COLUMNS: indication, the other baselines and their
    sources, the previous cycle), checked by monitoring.services.courses."""
    errors = []
    if regimen not in REGIMENS:
        errors.append(f"Regimen '{regimen}' is not known; accepted: {', '.join(REGIMENS)}.")
    if cycle < 1:
        errors.append(f"Cycle {cycle} is not valid; cycles start at 1.")
    if planned_doses is not None and planned_doses < 0:
        errors.append(f"Planned doses {planned_doses} is negative.")
    for name, value in (("Dosing weight", dosing_weight_kg), ("Fixed dose", fixed_dose)):
        if value is not None and not value > 0:
            errors.append(f"{name} {value} is not a positive amount.")
    unknown = sorted(set(more) - set(COURSE_SETUP_COLUMNS))
    if unknown:
        errors.append(f"{', '.join(unknown)}: not a course field; accepted: {', '.join(COURSE_SETUP_COLUMNS)}.")
    if errors:
        raise RecordError(errors)
    _require_aware("start_at", start_at)
    course = TreatmentCourse(**more,
        patient_id=patient_id, regimen=regimen, cycle=cycle, dose_per_kg=dose_per_kg, dose_unit=dose_unit,
        planned_doses=planned_doses, dose_interval_hours=dose_interval_hours, start_at=start_at,
        status=status, after_lymphodepletion=after_lymphodepletion, baseline_weight_kg=baseline_weight_kg,
        baseline_creatinine_mg_dl=baseline_creatinine_mg_dl, usual_sbp_mm_hg=usual_sbp_mm_hg,
        dosing_weight_kg=dosing_weight_kg if dosing_weight_kg is not None else baseline_weight_kg,
        fixed_dose=fixed_dose, created_by=created_by)
    session.add(course)
    session.flush()
    write_audit(session=session, username=created_by, action="create", entity="course",
                entity_id=course.id, after=_jsonable(course))
    return course


COURSE_SETUP_COLUMNS = ("indication_stage", "prior_surgery", "combination", "after_til", "baseline_anc_10e9_l",
                        "baseline_bilirubin_mg_dl", "baseline_alt_u_l", "baseline_ast_u_l", "baseline_sources",
                        "previous_course_id")


def end_course(*, session: Session, course_id: int, status: str, reason: str, ended_by: str, ended_at: datetime,
               note: str | None = None) -> TreatmentCourse:
    """Mark a course ended, once: status, time, who and why (checked by monitoring.services.courses), with
    one audit row holding the course before and after."""
    _require_aware("ended_at", ended_at)
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    if course.ended_at is not None:
        raise RecordError([f"Course {course_id} already ended ({course.end_reason}, by {course.ended_by}); an ended "
                           "course is not ended again."])
    before = _jsonable(course)
    course.status, course.end_reason, course.ended_by, course.ended_at = status, reason, ended_by, ended_at
    course.end_note = (note or "").strip() or None
    session.flush()
    write_audit(session=session, username=ended_by, action="course-end", entity="course", entity_id=course_id,
                before=before, after=_jsonable(course))
    return course


def record_eligibility_signoff(*, session: Session, course_id: int, outcome: str, signed_by: str,
                               reason: str | None = None, answer_ids: Mapping[str, int] | None = None,
                               signed_at: datetime | None = None) -> EligibilitySignOff:
    """Store a sign-off of a course's eligibility screen (append-only; the latest stands), one audit row.
    Whether it may be given is monitoring.services.courses.sign_off's rule."""
    if outcome not in SIGN_OFF_OUTCOMES:
        raise RecordError([f"Sign-off '{outcome}' is not known; accepted: {', '.join(SIGN_OFF_OUTCOMES)}."])
    _require_aware("signed_at", signed_at)
    row = EligibilitySignOff(course_id=course_id, outcome=outcome, reason=(reason or "").strip() or None,
                             answer_ids=dict(answer_ids) if answer_ids is not None else None, signed_by=signed_by,
                             signed_at=signed_at or datetime.now(timezone.utc))
    session.add(row)
    session.flush()
    write_audit(session=session, username=signed_by, action="eligibility-signoff", entity="course",
                entity_id=course_id, after=_jsonable(row))
    return row


def latest_eligibility_signoff(*, session: Session, course_id: int) -> EligibilitySignOff | None:
    """The sign-off that stands: the latest recorded for the course."""
    return session.scalars(select(EligibilitySignOff).where(EligibilitySignOff.course_id == course_id)
                           .order_by(EligibilitySignOff.signed_at.desc(), EligibilitySignOff.id.desc())).first()


def record_eligibility(*, session: Session, course_id: int, answers: Mapping[str, str], answered_by: str,
                       notes: Mapping[str, str] | None = None,
                       answered_at: datetime | None = None) -> list[EligibilityAnswer]:
    """Record eligibility-screen answers, each with who and when (a new answer never overwrites)."""
    errors = [f"Eligibility item '{item}' is not known; accepted: {', '.join(ELIGIBILITY_ITEMS)}."
              for item in answers if item not in ELIGIBILITY_ITEMS]
    errors += [f"Answer '{a}' for {item} is not accepted; answer {', '.join(ELIGIBILITY_ANSWERS)}."
               for item, a in answers.items() if a not in ELIGIBILITY_ANSWERS]
    if errors:
        raise RecordError(errors)
    _require_aware("answered_at", answered_at)
    at = answered_at or datetime.now(timezone.utc)
    rows = [EligibilityAnswer(course_id=course_id, item=item, answer=answer, answered_by=answered_by,
                              answered_at=at, note=(notes or {}).get(item)) for item, answer in answers.items()]
    session.add_all(rows)
    session.flush()
    write_audit(session=session, username=answered_by, action="record", entity="eligibility",
                entity_id=course_id, after={r.item: r.answer for r in rows})
    return rows


def latest_eligibility(*, session: Session, course_id: int) -> dict[str, EligibilityAnswer]:
    rows = session.scalars(select(EligibilityAnswer).where(EligibilityAnswer.course_id == course_id)
                           .order_by(EligibilityAnswer.answered_at, EligibilityAnswer.id)).all()
    return {row.item: row for row in rows}


# --- observations --------------------------------------------------------------------------------

def _finite_limit(value: float) -> float:
    if not math.isfinite(float(value)):
        raise ValueError(f"reference limit {value!r} is not finite")
    return float(value)


def _validated_rows(values: Iterable[ObservationInput], catalogue: Catalogue, confirmed: set[str]
                    ) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
    rows, errors, confirmations = [], [], {}
    for item in values:
        try:
            checked = catalogue.validate(item.code, item.value, item.unit)
            entry = catalogue[item.code]
            conversion = entry.conversion(item.unit)
        except (ObservationValueError, UnknownCodeError) as exc:
            errors.append(str(exc))
            continue
        try:
            ref_low = None if item.ref_low is None else _finite_limit(conversion.to_canonical(item.ref_low))
            ref_high = None if item.ref_high is None else _finite_limit(conversion.to_canonical(item.ref_high))
        except (ValueError, TypeError, ArithmeticError):
            errors.append(f"{entry.label}: reference range {item.ref_low!r} to {item.ref_high!r} "
                          f"{item.unit or entry.unit_label} is not a pair of finite numbers; give plain numbers "
                          "(or leave the range out).")
            continue
        if entry.requires_period and item.period_start is None:
            errors.append(f"{entry.label} {item.value} {entry.unit_label} needs the start of the period "
                          "it was measured over (for example the start of the shift).")
            continue
        if checked.confirmation and item.code not in confirmed:
            confirmations[item.code] = checked.confirmation
        rows.append(dict(code=item.code, value_num=checked.value_num, value_code=checked.value_code,
                         unit=checked.unit, original_value=checked.original_value,
                         original_unit=checked.original_unit, ref_low=ref_low, ref_high=ref_high,
                         period_start=item.period_start, import_key=item.import_key))
    return rows, errors, confirmations


def _sudden_changes(*, session: Session, patient_id: int, rows: list[dict[str, Any]], observed_at: datetime,
                    catalogue: Catalogue, confirmed: set[str]) -> dict[str, str]:
    """Values that changed by at least the catalogue's confirm_change_per_24h since a value in the
    previous 24 h (e.g. a 3-kg weight change in a day): possible, but confirm first."""
    found = {}
    for row in rows:
        entry = catalogue[row["code"]]
        if entry.confirm_change_per_24h is None or row["value_num"] is None or row["code"] in confirmed:
            continue
        previous = current_observations(session=session, patient_ids=[patient_id], codes=[row["code"]],
                                        since=observed_at - timedelta(hours=24))
        previous = previous[previous["observed_at"] < observed_at]
        if previous.empty:
            continue
        last = previous.iloc[-1]
        change = row["value_num"] - float(last["value_num"])
        if abs(change) >= entry.confirm_change_per_24h:
            found[row["code"]] = (f"{entry.label} {entry.format_value(row['value_num'])} is "
                                  f"{entry.format_value(abs(change))} {'more' if change > 0 else 'less'} than "
                                  f"{entry.format_value(float(last['value_num']))} recorded "
                                  f"{last['observed_at']:%d %b %H:%M}Z (within 24 h). Confirm to save.")
    return found


def add_observation_set(*, session: Session, patient_id: int, values: Sequence[ObservationInput],
                        observed_at: datetime, recorded_by: str, course_id: int | None = None,
                        source: str = "manual", confirmed: Iterable[str] = (), late_reason: str | None = None,
                        now: datetime | None = None, catalogue: Catalogue | None = None) -> SavedSet:
    """Validate a whole set against the catalogue, then add it; refuse it whole on any error.

    Raises RecordError listing every refused value, or ConfirmationRequired for surprising values
    not yet confirmed. Missing values are simply absent from `values`: missing is never zero.
    """
    catalogue = catalogue or default_catalogue()
    now = now or datetime.now(timezone.utc)
    _require_aware("observed_at", observed_at)
    errors: list[str] = []
    if not values:
        errors.append("The observation set is empty; enter at least one value.")
    if source not in OBSERVATION_SOURCES:
        errors.append(f"Source '{source}' is not known; accepted: {', '.join(OBSERVATION_SOURCES)}.")
    limits = entry_limits()
    if observed_at > now + limits.future_tolerance:
        errors.append(f"Observation time {observed_at.isoformat()} is in the future.")
    if observed_at < EARLIEST_TIME:
        errors.append(f"Observation time {observed_at.isoformat()} is before {EARLIEST_TIME:%Y-%m-%d}: check the year.")
    if source == "manual" and now - observed_at > limits.late_entry_after and not (late_reason or "").strip():
        errors.append(f"This set is entered more than {limits.late_entry_after_minutes:g} minutes "
                      "after the observation time; give a reason for the late entry.")
    codes = [v.code for v in values]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        errors.append(f"{', '.join(duplicates)} entered twice in one set; enter each value once.")
    rows, value_errors, confirmations = _validated_rows(values, catalogue, set(confirmed))
    errors += value_errors
    confirmations.update(_sudden_changes(session=session, patient_id=patient_id, rows=rows, observed_at=observed_at,
                                         catalogue=catalogue, confirmed=set(confirmed)))
    for row in rows:
        _require_aware("period_start", row["period_start"])
        if row["period_start"] is not None and row["period_start"] >= observed_at:
            errors.append(f"{row['code']}: the period start must be before the observation time.")
    if errors:
        raise RecordError(errors)
    if confirmations:
        raise ConfirmationRequired(confirmations)
    saved = SavedSet(set_id=str(uuid.uuid4()))
    # A value of a code already recorded for this patient at this very time: two different values
    # cannot both stand (the engine could not tell which is true), so the later one is an amendment
    # of the earlier, which stays in the history. The same value again is stored with its set (the
    # engine reads it once).
    earlier = _current_at(session=session, patient_id=patient_id, observed_at=observed_at,
                          codes=[row["code"] for row in rows])
    kept = []
    for row in rows:
        before = earlier.get(row["code"])
        if before is None or (before.value_num, before.value_code) == (row["value_num"], row["value_code"]):
            kept.append(row)
        elif (before.value_num, before.value_code) != (row["value_num"], row["value_code"]):
            changes = {k: row[k] for k in ("value_num", "value_code", "unit", "original_value", "original_unit")}
            saved.observations.append(_supersede(
                session=session, observation_id=before.id, username=recorded_by, action="amend",
                # The amendment belongs to the set being saved (its feedback and history show it).
                changes={**changes, "set_id": saved.set_id, "status": "amended", "recorded_at": now,
                         "reason": f"a second value for the same time ({observed_at.isoformat()}), recorded by "
                                   f"{recorded_by}: the later value amends the earlier"}))
    rows = kept
    for row in rows:
        obs = Observation(patient_id=patient_id, course_id=course_id, set_id=saved.set_id,
                          observed_at=observed_at, recorded_at=now, recorded_by=recorded_by, source=source,
                          reason=late_reason if source == "manual" and late_reason else None, **row)
        session.add(obs)
        saved.observations.append(obs)
    session.flush()
    write_audit(session=session, username=recorded_by, action="record", entity="observation-set",
                entity_id=saved.set_id,
                after={"patient_id": patient_id, "observed_at": observed_at.isoformat(), "source": source,
                       "values": [_jsonable(o) for o in saved.observations]})
    return saved


def _current_at(*, session: Session, patient_id: int, observed_at: datetime,
                codes: Sequence[str]) -> dict[str, Observation]:
    """The current (not superseded, not in error) observation of each code at exactly this time."""
    newer = aliased(Observation)
    query = (select(Observation).where(Observation.patient_id == patient_id, Observation.observed_at == observed_at,
                                       Observation.code.in_(list(codes)), Observation.status != "entered-in-error")
             .where(~exists().where(newer.supersedes_id == Observation.id)))
    return {o.code: o for o in session.scalars(query).all()}


def _supersede(*, session: Session, observation_id: int, changes: dict[str, Any], username: str,
               action: str) -> Observation:
    """Add a row that supersedes `observation_id`, copying what identifies the measurement."""
    original = session.get(Observation, observation_id)
    if original is None:
        raise RecordError([f"Observation {observation_id} does not exist."])
    if original.status == "entered-in-error":
        raise RecordError([f"Observation {observation_id} is an entered-in-error mark; correct the value it marks."])
    if session.scalar(select(Observation.id).where(Observation.supersedes_id == observation_id)) is not None:
        raise RecordError([f"Observation {observation_id} has already been corrected; correct the latest version."])
    kept = {name: getattr(original, name) for name in ("patient_id", "course_id", "set_id", "code", "unit",
                                                       "observed_at", "period_start", "source", "ref_low",
                                                       "ref_high")}
    row = Observation(**{**kept, **changes}, supersedes_id=observation_id, recorded_by=username)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # A concurrent correction won the unique supersedes_id: the chain cannot fork.
        raise RecordError([f"Observation {observation_id} was corrected by someone else a moment ago; "
                           "reload and correct the latest version."]) from None
    write_audit(session=session, username=username, action=action, entity="observation",
                entity_id=row.id, before=_jsonable(original), after=_jsonable(row))
    return row


def amend_observation(*, session: Session, observation_id: int, value: Any, reason: str, recorded_by: str,
                      unit: str | None = None, now: datetime | None = None,
                      catalogue: Catalogue | None = None) -> Observation:
    """Correct a value: a new 'amended' row supersedes the original, which stays in the history."""
    catalogue = catalogue or default_catalogue()
    if not (reason or "").strip():
        raise RecordError(["Give a reason for the amendment."])
    original = session.get(Observation, observation_id)
    if original is None:
        raise RecordError([f"Observation {observation_id} does not exist."])
    try:
        checked = catalogue.validate(original.code, value, unit)
    except ObservationValueError as exc:
        raise RecordError([str(exc)]) from None
    changes = dict(value_num=checked.value_num, value_code=checked.value_code, unit=checked.unit,
                   original_value=checked.original_value, original_unit=checked.original_unit,
                   status="amended", reason=reason.strip(), recorded_at=now or datetime.now(timezone.utc))
    return _supersede(session=session, observation_id=observation_id, changes=changes,
                      username=recorded_by, action="amend")


def correct_imported_result(*, session: Session, observation_id: int, value_num: float, unit: str,
                            original_value: str | None, original_unit: str | None, ref_low: float | None,
                            ref_high: float | None, import_key: str, reason: str, recorded_by: str,
                            now: datetime | None = None) -> Observation:
    """A laboratory's corrected result (already checked, canonical unit) supersedes the imported one."""
    changes = dict(value_num=value_num, value_code=None, unit=unit, original_value=original_value,
                   original_unit=original_unit, ref_low=ref_low, ref_high=ref_high, import_key=import_key,
                   status="amended", reason=reason, recorded_at=now or datetime.now(timezone.utc))
    return _supersede(session=session, observation_id=observation_id, changes=changes,
                      username=recorded_by, action="amend")


def mark_entered_in_error(*, session: Session, observation_id: int, reason: str, recorded_by: str,
                          now: datetime | None = None) -> Observation:
    """Withdraw a value entered in error: a valueless row supersedes it; the original stays visible."""
    if not (reason or "").strip():
        raise RecordError(["Give a reason for marking the value as entered in error."])
    changes = dict(status="entered-in-error", reason=reason.strip(), recorded_at=now or datetime.now(timezone.utc))
    return _supersede(session=session, observation_id=observation_id, changes=changes,
                      username=recorded_by, action="entered-in-error")


OBSERVATION_COLUMNS = ["id", "patient_id", "course_id", "set_id", "code", "value_num", "value_code", "unit",
                       "ref_low", "ref_high", "observed_at", "period_start", "recorded_at", "recorded_by",
                       "source", "status", "supersedes_id", "reason"]


def current_observations(*, session: Session, patient_ids: Sequence[int] | None = None,
                         codes: Sequence[str] | None = None, since: datetime | None = None,
                         columns: Sequence[str] = OBSERVATION_COLUMNS) -> pd.DataFrame:
    """The valid record: the latest version of every value, entered-in-error ones left out.

    `columns` (of OBSERVATION_COLUMNS) narrows what is read, for the large reads of the charts."""
    unknown = set(columns) - set(OBSERVATION_COLUMNS)
    if unknown:
        raise ValueError(f"Unknown observation columns: {', '.join(sorted(unknown))}.")
    newer = aliased(Observation)
    query = (select(*[time_as_stored(session, getattr(Observation, c)) if _is_time(c) else getattr(Observation, c)
                      for c in columns])
             .where(~exists().where(newer.supersedes_id == Observation.id))
             .where(Observation.status != "entered-in-error"))
    if patient_ids is not None:
        query = query.where(Observation.patient_id.in_(list(patient_ids)))
    if codes is not None:
        query = query.where(Observation.code.in_(list(codes)))
    if since is not None:
        query = query.where(Observation.observed_at >= since)
    query = query.order_by(Observation.patient_id, Observation.observed_at, Observation.id)
    return rows_frame(session.execute(query).all(), list(columns))


def observation_history(*, session: Session, observation_id: int) -> list[Observation]:
    """Every version of one value, oldest first: the original, each amendment and any withdrawal."""
    row = session.get(Observation, observation_id)
    if row is None:
        return []
    while row.supersedes_id is not None:  # walk back to the original
        row = session.get(Observation, row.supersedes_id)
    chain = [row]
    while (nxt := session.scalars(select(Observation).where(Observation.supersedes_id == chain[-1].id)).first()):
        chain.append(nxt)
    return chain


def _is_time(column: str) -> bool:
    return column.endswith("_at") or column == "period_start"


def rows_frame(rows: Sequence[Any], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)
    for column in columns:
        if _is_time(column):  # datetimes, or the ISO text SQLite stores (db.time_as_stored)
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


# --- IL-2 doses ----------------------------------------------------------------------------------

def record_dose(*, session: Session, course_id: int, dose_number: int, scheduled_at: datetime, status: str,
                recorded_by: str, given_at: datetime | None = None, dose: float | None = None,
                dose_unit: str | None = None, route: str | None = None, reason: str | None = None,
                reason_criteria: Sequence[str] | None = None, reason_note: str | None = None,
                check_decision: str | None = None, check_criteria: Sequence[str] | None = None,
                decision_id: int | None = None, override_by: str | None = None,
                override_reason: str | None = None, now: datetime | None = None) -> DoseEvent:
    """Store an IL-2 dose as given (time and dose), held or stopped (with the reason: its words, the
    hold criteria chosen and the note typed), with what allowed a given dose (the pre-dose check, the
    oncologist's decision, an override). Storage only: whether a dose may be recorded as given is
    monitoring.services.doses.record's rule, which every caller that records a dose at the bedside uses."""
    errors = []
    if status not in DOSE_STATUSES:
        errors.append(f"Dose status '{status}' is not known; accepted: {', '.join(DOSE_STATUSES)}.")
    if status == "given" and given_at is None:
        errors.append("A given dose needs the time it was given.")
    if status in ("held", "stopped") and not (reason or "").strip():
        errors.append(f"A {status} dose needs a reason.")
    unknown = [c for c in (reason_criteria or ()) if c not in HOLD_CRITERIA_IDS]
    if unknown:
        errors.append(f"Hold criteria {', '.join(unknown)} are not known.")
    if route is not None and route not in ROUTES:
        errors.append(f"Route '{route}' is not known; accepted: {', '.join(ROUTES)}.")
    if dose is not None and not dose > 0:
        errors.append(f"Dose {dose} {dose_unit or ''} is not a positive amount.".replace("  ", " "))
    if dose_number < 1:
        errors.append(f"Dose number {dose_number} is not valid; doses are numbered from 1.")
    if errors:
        raise RecordError(errors)
    _require_aware("scheduled_at", scheduled_at)
    _require_aware("given_at", given_at)
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    event = DoseEvent(course_id=course_id, patient_id=course.patient_id, dose_number=dose_number,
                      scheduled_at=scheduled_at, status=status, given_at=given_at, dose=dose,
                      dose_unit=dose_unit, route=route, reason=(reason or "").strip() or None,
                      reason_criteria=list(reason_criteria) if reason_criteria else None,
                      reason_note=(reason_note or "").strip() or None,
                      check_decision=check_decision, check_criteria=list(check_criteria) if check_criteria else None,
                      decision_id=decision_id, override_by=(override_by or "").strip() or None,
                      override_reason=(override_reason or "").strip() or None,
                      recorded_by=recorded_by, recorded_at=now or datetime.now(timezone.utc))
    session.add(event)
    try:
        session.flush()
    except IntegrityError:
        # The partial unique index (migration 0003): someone recorded this dose a moment ago.
        raise RecordError([f"Dose {dose_number} of this course has already been recorded; reload to see it."]) from None
    write_audit(session=session, username=recorded_by, action=f"dose-{status}", entity="dose",
                entity_id=event.id, after=_jsonable(event))
    return event


HOLD_CRITERIA_IDS = frozenset(_HOLD_CRITERIA)


DOSE_COLUMNS = ["id", "course_id", "patient_id", "dose_number", "scheduled_at", "status", "given_at", "dose",
                "dose_unit", "route", "reason", "reason_criteria", "reason_note", "recorded_by", "recorded_at",
                "check_decision", "decision_id", "override_by", "override_reason"]


def record_dose_decision(*, session: Session, course_id: int, dose_number: int, decision: str, decided_by: str,
                         check_decision: str | None, check_criteria: Sequence[str] = (),
                         check_missing: Sequence[str] = (), reason_criteria: Sequence[str] | None = None,
                         reason_note: str | None = None, now: datetime | None = None) -> DoseDecision:
    """Store an oncologist's decision on one scheduled dose, with the pre-dose check it was made on;
    one audit row. A later decision on the same dose is a new row (the latest stands)."""
    errors = []
    if decision not in DOSE_DECISIONS:
        errors.append(f"Decision '{decision}' is not known; accepted: {', '.join(DOSE_DECISIONS)}.")
    unknown = [c for c in (*(reason_criteria or ()), *check_criteria) if c not in HOLD_CRITERIA_IDS]
    if unknown:
        errors.append(f"Hold criteria {', '.join(unknown)} are not known.")
    if dose_number < 1:
        errors.append(f"Dose number {dose_number} is not valid; doses are numbered from 1.")
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        errors.append(f"Treatment course {course_id} does not exist.")
    if errors:
        raise RecordError(errors)
    row = DoseDecision(course_id=course_id, patient_id=course.patient_id, dose_number=dose_number, decision=decision,
                       check_decision=check_decision, check_criteria=list(check_criteria),
                       check_missing=list(check_missing), reason_criteria=list(reason_criteria or []) or None,
                       reason_note=(reason_note or "").strip() or None, decided_by=decided_by,
                       decided_at=now or datetime.now(timezone.utc))
    session.add(row)
    session.flush()
    write_audit(session=session, username=decided_by, action=f"dose-decision-{decision}", entity="dose-decision",
                entity_id=row.id, after=_jsonable(row))
    return row


def latest_dose_decisions(*, session: Session, course_ids: Sequence[int]) -> dict[tuple[int, int], DoseDecision]:
    """The decision that stands for each (course, dose number) with one: the latest recorded."""
    if not course_ids:
        return {}
    rows = session.scalars(select(DoseDecision).where(DoseDecision.course_id.in_(list(course_ids)))
                           .order_by(DoseDecision.decided_at, DoseDecision.id)).all()
    return {(row.course_id, row.dose_number): row for row in rows}


def standing_row(decisions: dict[tuple[int, int], DoseDecision], course_id: int, dose_number: int
                 ) -> DoseDecision | None:
    """The decision that stands for one dose: the latest made for that dose number; without one, the
    latest decision to stop IL-2 made for an earlier dose of the course (a stop is for the course,
    not for one dose, until the oncologist decides otherwise for a later dose)."""
    row = decisions.get((course_id, dose_number))
    if row is not None:
        return row
    stops = [r for (course, number), r in decisions.items()
             if course == course_id and number < dose_number and r.decision == "stop"]
    return max(stops, key=lambda r: (r.decided_at, r.id)) if stops else None


def next_dose_decisions(*, session: Session, course_ids: Sequence[int]) -> dict[int, tuple[int, DoseDecision | None]]:
    """For each course: the next dose number (the highest recorded, entered-in-error ones aside, + 1:
    as monitoring.views.dosing.next_dose counts) and the decision that stands for it, if any. Two queries."""
    if not course_ids:
        return {}
    highest = dict(session.execute(
        select(DoseEvent.course_id, func.max(DoseEvent.dose_number))
        .where(DoseEvent.course_id.in_(list(course_ids)), DoseEvent.record_status != "entered-in-error")
        .group_by(DoseEvent.course_id)).all())
    decisions = latest_dose_decisions(session=session, course_ids=course_ids)
    out = {}
    for course_id in course_ids:
        number = int(highest.get(course_id) or 0) + 1
        out[int(course_id)] = (number, standing_row(decisions, course_id, number))
    return out


def given_dose_counts(*, session: Session, course_ids: Sequence[int], status: str = "given") -> dict[int, int]:
    """Doses given (or of another `status`) per course, counted over the doses that stand (as current_doses
    keeps them)."""
    if not course_ids:
        return {}
    newer = aliased(DoseEvent)
    return {int(c): int(n) for c, n in session.execute(
        select(DoseEvent.course_id, func.count())
        .where(DoseEvent.course_id.in_(list(course_ids)), DoseEvent.status == status,
               DoseEvent.record_status != "entered-in-error", ~exists().where(newer.supersedes_id == DoseEvent.id))
        .group_by(DoseEvent.course_id)).all()}


def current_doses(*, session: Session, patient_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Dose events that stand (not superseded, not entered in error), in time order."""
    newer = aliased(DoseEvent)
    query = (select(*[getattr(DoseEvent, c) for c in DOSE_COLUMNS])
             .where(~exists().where(newer.supersedes_id == DoseEvent.id))
             .where(DoseEvent.record_status != "entered-in-error"))
    if patient_ids is not None:
        query = query.where(DoseEvent.patient_id.in_(list(patient_ids)))
    query = query.order_by(DoseEvent.patient_id, DoseEvent.scheduled_at, DoseEvent.id)
    return rows_frame(session.execute(query).all(), DOSE_COLUMNS)


# --- ward list -----------------------------------------------------------------------------------

# --- bulk paths (lab import, synthetic data) ----------------------------------------------------

BULK_OBSERVATION_COLUMNS = ["patient_id", "course_id", "code", "value_num", "value_code", "unit", "observed_at",
                            "period_start", "ref_low", "ref_high", "source", "set_id"]
# Written when the frame has them (lab import): identity of an imported result, and the value and
# unit as the laboratory wrote them.
BULK_OPTIONAL_COLUMNS = ["import_key", "original_value", "original_unit"]


def add_observations_bulk(*, session: Session, frame: pd.DataFrame, recorded_by: str, source: str,
                          now: datetime | None = None) -> int:
    """Insert many already-canonical observations in one statement per chunk (synthetic data, imports).

    `frame` has BULK_OBSERVATION_COLUMNS (course_id, value_num/value_code, period_start, ref_low,
    ref_high and set_id may be missing or NA; observed_at timezone-aware), and optionally
    BULK_OPTIONAL_COLUMNS (import_key, original_value, original_unit), stored when present. Codes and
    ranges are checked vectorised against the catalogue first: any refused row refuses the whole
    frame. An import_key already stored violates its unique constraint (the insert fails).
    One audit row records the write.
    """
    if source not in OBSERVATION_SOURCES:
        raise RecordError([f"Source '{source}' is not known; accepted: {', '.join(OBSERVATION_SOURCES)}."])
    if frame.empty:
        return 0
    catalogue = default_catalogue()
    checked = catalogue.validate_frame(pd.DataFrame({
        "code": frame["code"],
        "value": frame["value_num"].astype("object").where(frame["value_num"].notna(), frame.get("value_code")),
        "unit": frame["unit"],
    }))
    bad = checked["error"].notna()
    if bad.any():
        raise RecordError(checked.loc[bad, "error"].head(20).tolist())
    now = now or datetime.now(timezone.utc)
    data = frame.copy()
    for column in BULK_OBSERVATION_COLUMNS:
        if column not in data:
            data[column] = None
    data["value_num"] = checked["value_num"].to_numpy()
    data["value_code"] = checked["value_code"].to_numpy()
    data["unit"] = checked["unit_canonical"].to_numpy()
    if data["set_id"].isna().any():
        # One set per patient and time, as a nurse would have entered it.
        keys = data["patient_id"].astype(str) + "|" + data["observed_at"].astype(str)
        generated = keys.map({k: str(uuid.uuid5(uuid.NAMESPACE_URL, "il2-set:" + k)) for k in keys.unique()})
        data["set_id"] = data["set_id"].where(data["set_id"].notna(), generated)
    records = data[BULK_OBSERVATION_COLUMNS + [c for c in BULK_OPTIONAL_COLUMNS if c in frame.columns]].copy()
    records["recorded_at"] = pd.Timestamp(now)
    records["recorded_by"] = recorded_by
    records["source"] = source
    records["status"] = "final"
    rows = insert_frame(session=session, table="observation", frame=records)
    write_audit(session=session, username=recorded_by, action="bulk-record", entity="observation",
                after={"rows": rows, "source": source, "patients": int(data["patient_id"].nunique())})
    return rows


def add_doses_bulk(*, session: Session, frame: pd.DataFrame, recorded_by: str, now: datetime | None = None) -> int:
    """Insert many dose events (synthetic data). Columns as DOSE_COLUMNS without id/recorded_*."""
    if frame.empty:
        return 0
    bad = ~frame["status"].isin(DOSE_STATUSES)
    if bad.any():
        raise RecordError([f"Dose status '{s}' is not known; accepted: {', '.join(DOSE_STATUSES)}."
                           for s in frame.loc[bad, "status"].unique()])
    unexplained = frame["status"].isin(["held", "stopped"]) & frame["reason"].isna()
    if unexplained.any():
        raise RecordError([f"{int(unexplained.sum())} held or stopped doses have no reason."])
    now = now or datetime.now(timezone.utc)
    columns = [c for c in DOSE_COLUMNS if c not in ("id", "recorded_at", "recorded_by")]
    records = frame.reindex(columns=columns)
    # JSON as text for the driver (the ORM's JSON type reads it back as a list).
    records["reason_criteria"] = [None if not isinstance(v, (list, tuple)) or not v else json.dumps(list(v))
                                  for v in records["reason_criteria"]]
    records["recorded_at"] = pd.Timestamp(now)
    records["recorded_by"] = recorded_by
    records["record_status"] = "final"
    insert_frame(session=session, table="doseevent", frame=records)
    write_audit(session=session, username=recorded_by, action="bulk-record", entity="dose",
                after={"rows": len(records)})
    return len(records)


def _column_values(series: pd.Series, dialect: str) -> list[Any]:
    """Python values for the driver: None for missing; UTC text on SQLite (the format SQLAlchemy's
    DateTime type stores there) and aware datetimes elsewhere."""
    first = series.dropna().iloc[0] if series.notna().any() else None
    if pd.api.types.is_datetime64_any_dtype(series) or isinstance(first, datetime):
        times = pd.to_datetime(series, utc=True)
        if dialect == "sqlite":
            text = times.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            return text.astype(object).where(times.notna(), None).tolist()
        return [None if pd.isna(v) else v.to_pydatetime() for v in times]
    missing = series.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan).tolist()  # Python floats
        if pd.api.types.is_integer_dtype(series):
            values = [int(v) if v == v else None for v in values]
    else:
        values = series.astype(object).tolist()
    if missing.any():
        values = [None if m else v for v, m in zip(values, missing)]
    return values


def insert_frame(*, session: Session, table: str, frame: pd.DataFrame) -> int:
    """Insert a frame whose columns are table columns, at driver speed, inside the session's transaction.

    Column-wise conversion and executemany (SQLite) or COPY (PostgreSQL): about ten times faster than
    ORM or per-row Core inserts for synthetic and imported data, which matters at hospital scale.
    """
    if frame.empty:
        return 0
    connection = session.connection()
    dialect = connection.dialect.name
    columns = list(frame.columns)
    rows = list(zip(*[_column_values(frame[c], dialect) for c in columns]))
    quoted = ", ".join(f'"{c}"' for c in columns)
    if dialect == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f'INSERT INTO "{table}" ({quoted}) VALUES ({placeholders})', rows)
    return len(rows)
