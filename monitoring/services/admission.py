"""Admission, identity, transfer and discharge (issue 19 items 1 and 3): real patients, not only the demo.

- `admit`: a new patient to a bed of a ward, or at home on a ward's list (no bed): record number, names,
  date of birth, sex and allergies (as recorded, or not recorded: missing is never 'none'). Nurses and
  oncologists (admit_patients), to the wards they may see.
- `readmit`: a patient found again (`find`) who has left the service, back on a ward for a new course.
- `find`: by record number across the hospital (exact, any case: the record number is what the admission
  clerk asks for, and the patient to re-admit is rarely on the user's ward), or by name (part of the family
  or given name, any case) among the patients of the user's wards and those who have left the service.
  A search reads identities beyond the user's ward, so it is audited.
- `correct_identity`: record number, names or birth date corrected with a reason; the audit row keeps the
  original (repository.correct_identity). `record_allergies`: the allergies as now recorded, audited.
- `transfer`: to another bed, ward, or from home into a bed; `discharge`: home (the bed freed, the patient
  still on the ward's list: low-dose SC self-injection is monitored at home) or out of the service (on no
  ward's list; the record, open alerts included, is kept and found again with `find`).

The current placement is Patient.ward_id and bed_id, which the overview, the inbox, the handover and the
reports read, so a transfer moves the patient to the new ward's nurses at once; every move is also a
Placement row (append-only history, migration 0016). A bed holds one patient: the bed's row is locked
before it is checked (PostgreSQL; SQLite writes one transaction at a time), so two admissions into one bed
cannot both pass. Each action is one audit row with ids, never a name or a bed label (the identity
fields of the 'admit' row are withheld from the administrator by monitoring.views.audit).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from monitoring.clinical.vocabulary import SEXES
from monitoring.errors import RecordError
from monitoring.services import auth
from monitoring.store import repository
from monitoring.store.models import Alert, Bed, Patient, PatientIdentity, Placement, TreatmentCourse, Ward
from monitoring.store.repository import write_audit
from monitoring.views.alerts import NEEDS_ATTENTION
from monitoring.views.lists import visible_wards
from monitoring.views.patient_banner import age_on

OLDEST_AGE = 120
# Letters, digits and - / . _ and inner spaces: what hospital record numbers hold; never a leading sign
# that a spreadsheet would run as a formula.
MRN_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]*")
NEEDS_ALLERGIES = ("Allergies are empty: write what was recorded (for example 'penicillin: rash', or 'no known "
                   "drug allergies' if the patient said so), or choose 'not recorded'.")


@dataclass(frozen=True)
class Done:
    patient_id: int
    text: str                       # what the page confirms
    warnings: tuple[str, ...] = ()  # what the page shows beside it (an active course, open alerts)


@dataclass(frozen=True)
class Found:
    patient_id: int
    mrn: str
    name: str
    birth_date: date | None
    place: str          # 'Ward A · Bed 03', 'Ward A · home', 'left the service'
    on_ward: bool       # on some ward's list (a transfer, not a re-admission)


def _aware(now: datetime) -> None:
    if now.utcoffset() is None:
        raise RecordError([f"Time {now.isoformat()} has no time zone; give a time zone-aware time."])


def _seen_ward_ids(session: Session, role: str, ward_ids: list[int] | None) -> set[int] | None:
    """The wards whose patients the user sees (None: not limited, as for the CLI)."""
    if ward_ids is None:
        return None
    return {int(w.id or 0) for w in visible_wards(session=session, role=role, ward_ids=ward_ids)}


def _name(identity: PatientIdentity) -> str:
    return f"{identity.family_name.upper()}, {identity.given_name}"


def _identity_problems(session: Session, *, mrn: str, family_name: str, given_name: str,
                       birth_date: date | None, today: date, patient_id: int | None = None) -> list[str]:
    """Every problem with an identity as typed (`patient_id`: the patient being corrected, whose own record
    number is no duplicate)."""
    errors = []
    if not mrn:
        errors.append("Record number is empty; every patient needs one.")
    elif not MRN_FORMAT.fullmatch(mrn):
        errors.append(f"Record number '{mrn}' has characters other than letters, digits, spaces and - / . _ "
                      "(or starts with one of them); type it as on the hospital's record.")
    else:
        query = select(PatientIdentity).where(func.upper(col(PatientIdentity.mrn)) == mrn.upper())
        if patient_id is not None:
            query = query.where(col(PatientIdentity.patient_id) != patient_id)
        holder = session.scalars(query).first()
        if holder is not None:
            errors.append(f"Record number {mrn} is already the record number of a patient ({holder.mrn}); a "
                          "record number belongs to one patient. Find that patient (Find a patient, by record "
                          "number) to re-admit them or start a new course.")
    for label, value in (("Family name", family_name), ("Given name", given_name)):
        if not value:
            errors.append(f"{label} is empty; give it as on the hospital's record.")
    if birth_date is None:
        errors.append("Date of birth is empty; it is the second identifier on every patient page.")
    elif birth_date > today:
        errors.append(f"Date of birth {birth_date:%d %b %Y} is in the future (today is {today:%d %b %Y}).")
    elif (age := age_on(birth_date, today) or 0) > OLDEST_AGE:
        errors.append(f"Date of birth {birth_date:%d %b %Y} makes the patient {age} years old; at most "
                      f"{OLDEST_AGE} is accepted. Check the year.")
    return errors


def _admission_time_problems(admitted_at: datetime, *, now: datetime, birth_date: date | None,
                             tz: tzinfo) -> list[str]:
    """An admission time is aware, not after now, and not before the date of birth."""
    if admitted_at.utcoffset() is None:
        return [f"Admission time {admitted_at.isoformat()} has no time zone; give a time zone-aware time."]
    if admitted_at > now:
        return [f"Admission time {admitted_at.astimezone(tz):%d %b %Y %H:%M} is in the future (now is "
                f"{now.astimezone(tz):%d %b %Y %H:%M}); an admission is recorded when it has happened."]
    born = birth_date is not None and birth_date <= now.astimezone(tz).date()   # a future one is refused apart
    if born and birth_date is not None and admitted_at.astimezone(tz).date() < birth_date:
        return [f"Admission time {admitted_at.astimezone(tz):%d %b %Y} is before the date of birth "
                f"{birth_date:%d %b %Y}."]
    return []


def _allergies(allergies: str | None) -> tuple[str | None, list[str]]:
    """None: not recorded. Typed text is kept as typed; an empty text is refused (never stored as 'none')."""
    if allergies is None:
        return None, []
    text = allergies.strip()
    return (text, []) if text else (None, [NEEDS_ALLERGIES])


def _ward_and_bed(session: Session, *, ward_id: int, bed_id: int | None, seen: set[int] | None, verb: str,
                  patient_id: int | None = None) -> tuple[Ward | None, Bed | None, list[str]]:
    """The ward and bed (None: at home) a patient goes to, checked: the ward is one of the user's (for an
    admission) and the bed is on it and free. The bed's row is locked first (see the module's note)."""
    ward = session.get(Ward, ward_id)
    if ward is None:
        return None, None, [f"Ward {ward_id} does not exist."]
    errors = []
    if verb == "admit" and seen is not None and ward.id not in seen:
        errors.append(f"{ward.name} is not one of your wards; you admit patients to the wards you are assigned "
                      "to (an oncologist admits to any ward).")
    if bed_id is None:
        return ward, None, errors
    bed = session.scalars(select(Bed).where(col(Bed.id) == bed_id).with_for_update()).first()
    if bed is None or bed.ward_id != ward.id:
        return ward, None, [*errors, f"Bed {bed_id} is not a bed of {ward.name}; choose one of its beds or home."]
    if bed.retired_at is not None:   # retired on the Wards page (services.wards): never offered, never taken
        return ward, None, [*errors, f"{bed.label} on {ward.name} is retired (no longer in use); choose a bed in "
                                     "use or home."]
    query = (select(PatientIdentity).join(Patient, col(Patient.id) == col(PatientIdentity.patient_id))
             .where(col(Patient.bed_id) == bed.id, col(Patient.ward_id).is_not(None)))
    if patient_id is not None:
        query = query.where(col(Patient.id) != patient_id)
    occupant = session.scalars(query).first()
    if occupant is not None:
        # Ward staff see their ward's names on every page; a bed elsewhere is only said to be taken.
        who = (f"{_name(occupant)} (MRN {occupant.mrn})" if seen is None or ward.id in seen
               else "another patient")
        errors.append(f"{bed.label} on {ward.name} is occupied by {who}: choose a free bed, or move that patient "
                      "first.")
    return ward, bed, errors


def _place_words(ward: Ward | None, bed: Bed | None) -> str:
    if ward is None:
        return "out of the service"
    return f"{bed.label} on {ward.name}" if bed is not None else f"home, on {ward.name}'s list"


def _to_place(ward: Ward | None, bed: Bed | None, *, home: str = "home") -> str:
    """'to Bed 03 on Ward A', or `home` + ', on Ward A's list' (after 'transferred'; 'at home' after 'admitted')."""
    if bed is not None:
        return f"to {_place_words(ward, bed)}"
    return f"{home}, on {ward.name}'s list" if ward is not None else _place_words(ward, bed)


def _placement(session: Session, *, patient: Patient, event: str, ward: Ward | None, bed: Bed | None,
               username: str, now: datetime, reason: str | None) -> Placement:
    """Move the patient (their current ward and bed) and append the move to the history."""
    row = Placement(patient_id=int(patient.id or 0), event=event, from_ward_id=patient.ward_id,
                    from_bed_id=patient.bed_id, ward_id=None if ward is None else ward.id,
                    bed_id=None if bed is None else bed.id, at=now, by=username, reason=reason)
    session.add(row)
    patient.ward_id = row.ward_id
    patient.bed_id = row.bed_id
    session.flush()
    return row


def _audit_move(session: Session, *, row: Placement, action: str, username: str, extra: dict | None = None) -> None:
    write_audit(session=session, username=username, action=action, entity="patient", entity_id=row.patient_id,
                before={"ward_id": row.from_ward_id, "bed_id": row.from_bed_id},
                after={"placement_id": row.id, "event": row.event, "ward_id": row.ward_id, "bed_id": row.bed_id,
                       "placed_at": row.at.isoformat(), "reason": row.reason, **(extra or {})})


def admit(*, session: Session, role: str, username: str, mrn: str, family_name: str, given_name: str,
          birth_date: date | None, sex: str | None, allergies: str | None, ward_id: int, bed_id: int | None,
          now: datetime, tz: tzinfo, ward_ids: list[int] | None = None, admitted_at: datetime | None = None,
          is_synthetic: bool = False) -> Done:
    """Admit a new patient to `bed_id` of `ward_id`, or at home on the ward's list (`bed_id` None), at
    `admitted_at` (default `now`; an earlier time for a patient admitted before the record was typed in or
    moved over from another system, never a later one). `is_synthetic`: the demo generator's patients only.

    Refused, every problem at once: a role without admit_patients; a record number empty, malformed or
    already a patient's (any case); a name empty; a date of birth missing, in the future or over 120 years
    ago; a sex not of vocabulary.SEXES; allergies typed empty (None is 'not recorded'); a ward not the
    user's; a bed not of the ward, or occupied. And, by repository.add_patient, a database that holds the
    demo's active accounts."""
    auth.require(role, "admit_patients")
    _aware(now)
    mrn, family_name, given_name = (mrn or "").strip(), (family_name or "").strip(), (given_name or "").strip()
    today = now.astimezone(tz).date()
    errors = _identity_problems(session, mrn=mrn, family_name=family_name, given_name=given_name,
                                birth_date=birth_date, today=today)
    if sex not in SEXES:
        errors.append(f"Sex '{sex or ''}' is not accepted; choose {', '.join(SEXES)} ('unknown' when not known).")
    allergy_text, problems = _allergies(allergies)
    errors += problems
    admitted_at = now if admitted_at is None else admitted_at
    errors += _admission_time_problems(admitted_at, now=now, birth_date=birth_date, tz=tz)
    ward, bed, problems = _ward_and_bed(session, ward_id=ward_id, bed_id=bed_id, seen=_seen_ward_ids(
        session, role, ward_ids), verb="admit")
    errors += problems
    if errors:
        raise RecordError(errors)
    assert ward is not None
    try:
        patient = repository.add_patient(session=session, mrn=mrn, given_name=given_name, family_name=family_name,
                                         recorded_by=username, birth_date=birth_date, sex=sex,
                                         admitted_at=admitted_at, allergies=allergy_text, ward_id=ward.id,
                                         bed_id=None if bed is None else bed.id, action="admit",
                                         is_synthetic=is_synthetic)
        session.flush()
    except IntegrityError:
        # The unique record number: another admission of the same number a moment ago.
        raise RecordError([f"Record number {mrn} was admitted by someone else a moment ago; find that patient."]
                          ) from None
    # The admission's audit row is add_patient's ('admit', with the identity the administrator does not see).
    session.add(Placement(patient_id=int(patient.id or 0), event="admit", ward_id=patient.ward_id,
                          bed_id=patient.bed_id, at=admitted_at, by=username))
    session.flush()
    return Done(int(patient.id or 0), f"{family_name.upper()}, {given_name} (MRN {mrn}) admitted "
                                      f"{_to_place(ward, bed, home='at home')}.")


def readmit(*, session: Session, role: str, username: str, patient_id: int, ward_id: int, bed_id: int | None,
            now: datetime, ward_ids: list[int] | None = None, reason: str | None = None) -> Done:
    """Admit again a patient who has left the service (found with `find`), to a bed or home on a ward.
    Refused for a patient still on a ward's list (that is a transfer), and as `admit` for the ward and bed."""
    auth.require(role, "admit_patients")
    _aware(now)
    patient, identity = _patient(session, patient_id)
    seen = _seen_ward_ids(session, role, ward_ids)
    if patient.ward_id is not None:
        ward_now = session.get(Ward, patient.ward_id)
        raise RecordError([f"{_name(identity)} is on {ward_now.name if ward_now else 'a ward'}'s list already: "
                           "transfer them instead."])
    ward, bed, errors = _ward_and_bed(session, ward_id=ward_id, bed_id=bed_id, seen=seen, verb="admit",
                                      patient_id=patient_id)
    if errors:
        raise RecordError(errors)
    before = patient.admitted_at
    patient.admitted_at = now
    row = _placement(session, patient=patient, event="admit", ward=ward, bed=bed, username=username, now=now,
                     reason=(reason or "").strip() or None)
    _audit_move(session, row=row, action="patient-readmit", username=username,
                extra={"previous_admission_at": None if before is None else before.isoformat()})
    return Done(patient_id, f"{_name(identity)} admitted again {_to_place(ward, bed, home='at home')}.")


def _patient(session: Session, patient_id: int) -> tuple[Patient, PatientIdentity]:
    # Locked (PostgreSQL: FOR NO KEY UPDATE, as alerting.sync_alerts does): two moves of one patient at once
    # wait for each other, so neither is made from a place the patient has already left.
    patient = session.scalars(select(Patient).where(col(Patient.id) == patient_id)
                              .with_for_update(key_share=True)).first()
    identity = session.get(PatientIdentity, patient_id)
    if patient is None or identity is None:
        raise RecordError([f"Patient {patient_id} does not exist."])
    return patient, identity


def _may_move(patient: Patient, identity: PatientIdentity, seen: set[int] | None) -> None:
    if patient.ward_id is None:
        raise RecordError([f"{_name(identity)} has left the service (on no ward's list): admit them again instead."])
    if seen is not None and patient.ward_id not in seen:
        raise RecordError([f"{_name(identity)} is not on one of your wards; the staff of their ward move them."])


def _reason(reason: str | None, what: str) -> tuple[str | None, list[str]]:
    text = (reason or "").strip()
    return (text, []) if text else (None, [f"A {what} needs a reason (for example 'needs telemetry', 'cycle "
                                           "complete', 'patient's choice')."])


def transfer(*, session: Session, role: str, username: str, patient_id: int, ward_id: int, bed_id: int | None,
             reason: str, now: datetime, ward_ids: list[int] | None = None) -> Done:
    """Move a patient to another bed, another ward (its bed or home on its list), or from home into a bed.
    Refused: a role without move_patients; a patient not on the user's wards or out of the service; the
    place they are in now; a bed not of the ward or occupied; no reason."""
    auth.require(role, "move_patients")
    _aware(now)
    patient, identity = _patient(session, patient_id)
    seen = _seen_ward_ids(session, role, ward_ids)
    _may_move(patient, identity, seen)
    text, errors = _reason(reason, "transfer")
    if patient.ward_id == ward_id and patient.bed_id == bed_id:
        ward_now = session.get(Ward, ward_id)
        errors.append(f"{_name(identity)} is in {_place_words(ward_now, session.get(Bed, bed_id) if bed_id else None)}"
                      " already: choose another bed or ward.")
    ward, bed, problems = _ward_and_bed(session, ward_id=ward_id, bed_id=bed_id, seen=seen, verb="transfer",
                                        patient_id=patient_id)
    errors += problems
    if errors:
        raise RecordError(errors)
    row = _placement(session, patient=patient, event="transfer", ward=ward, bed=bed, username=username, now=now,
                     reason=text)
    _audit_move(session, row=row, action="patient-transfer", username=username)
    return Done(patient_id, f"{_name(identity)} transferred {_to_place(ward, bed)}.")


def discharge(*, session: Session, role: str, username: str, patient_id: int, home: bool, reason: str,
              now: datetime, ward_ids: list[int] | None = None) -> Done:
    """Discharge a patient home (the bed freed; still on the ward's list and monitored) or out of the
    service (`home` False: on no ward's list; the record is kept). Refused: a role without move_patients;
    a patient not on the user's wards, out of the service already, or home already (for `home`); no reason.
    The result warns of an IL-2 course still active and of open alerts: they stay in the record as they are
    (an alert is never closed by a discharge), and out of the service they leave the ward's inbox."""
    auth.require(role, "move_patients")
    _aware(now)
    patient, identity = _patient(session, patient_id)
    _may_move(patient, identity, _seen_ward_ids(session, role, ward_ids))
    text, errors = _reason(reason, "discharge")
    if home and patient.bed_id is None:
        errors.append(f"{_name(identity)} is at home on the ward's list already.")
    if errors:
        raise RecordError(errors)
    ward = session.get(Ward, patient.ward_id) if home else None
    row = _placement(session, patient=patient, event="discharge-home" if home else "discharge", ward=ward, bed=None,
                     username=username, now=now, reason=text)
    warnings = discharge_warnings(session=session, patient_id=patient_id, home=home)
    _audit_move(session, row=row, action="patient-discharge-home" if home else "patient-discharge", username=username,
                extra={"open_alerts": open_alert_count(session=session, patient_id=patient_id)})
    return Done(patient_id, f"{_name(identity)} discharged {_place_words(ward, None)}.", warnings)


def open_alert_count(*, session: Session, patient_id: int) -> int:
    return int(session.scalar(select(func.count()).where(col(Alert.patient_id) == patient_id,
                                                         col(Alert.status).in_(NEEDS_ATTENTION))) or 0)


def discharge_warnings(*, session: Session, patient_id: int, home: bool) -> tuple[str, ...]:
    """What a discharge leaves as it is, said before and after it (the page's confirmation shows them)."""
    out = []
    active = session.scalar(select(func.count()).where(col(TreatmentCourse.patient_id) == patient_id,
                                                       col(TreatmentCourse.status) == "active")) or 0
    if active and not home:
        out.append("The IL-2 course is still recorded as active: end it with its reason (completed, toxicity, "
                   "progression, patient's choice, death) on the course page.")
    alerts = open_alert_count(session=session, patient_id=patient_id)
    if alerts:
        one = alerts == 1
        out.append(f"{alerts} open alert{'' if one else 's'} stay{'s' if one else ''} open in the record"
                   + ("." if home else f", and no longer show{'s' if one else ''} in the ward's inbox: act on "
                      f"{'it' if one else 'them'} first if needed."))
    return tuple(out)


def find(*, session: Session, role: str, username: str, text: str, ward_ids: list[int] | None = None,
         limit: int = 20) -> list[Found]:
    """Patients by record number (exact, any case, hospital-wide) or by name (part of the family or given
    name, any case; patients of the user's wards and those out of the service), at most `limit`. One audit
    row (what was searched for, how many found: the administrator sees neither the words nor the names)."""
    auth.require(role, "admit_patients")
    words = (text or "").strip()
    if len(words) < 2:
        raise RecordError(["Type at least 2 characters of a record number or a name."])
    seen = _seen_ward_ids(session, role, ward_ids)
    identity = select(PatientIdentity, Patient).join(Patient, col(Patient.id) == col(PatientIdentity.patient_id))
    rows = list(session.execute(identity.where(func.upper(col(PatientIdentity.mrn)) == words.upper())).all())
    by = "mrn"
    if not rows:
        by = "name"
        pattern = "%" + words.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = identity.where(or_(func.upper(col(PatientIdentity.family_name)).like(pattern, escape="\\"),
                                   func.upper(col(PatientIdentity.given_name)).like(pattern, escape="\\"),
                                   func.upper(col(PatientIdentity.family_name) + " " + col(PatientIdentity.given_name))
                                   .like(pattern, escape="\\"),
                                   func.upper(col(PatientIdentity.given_name) + " " + col(PatientIdentity.family_name))
                                   .like(pattern, escape="\\")))
        if seen is not None:
            query = query.where(or_(col(Patient.ward_id).is_(None), col(Patient.ward_id).in_(seen or {-1})))
        rows = list(session.execute(query.order_by(col(PatientIdentity.family_name), col(PatientIdentity.given_name),
                                                   col(PatientIdentity.patient_id)).limit(limit)).all())
    wards = {w.id: w for w in session.scalars(select(Ward)).all()}
    bed_ids = [p.bed_id for _, p in rows if p.bed_id]
    beds = {b.id: b for b in session.scalars(select(Bed).where(col(Bed.id).in_(bed_ids)))}
    found = []
    for ident, patient in rows:
        ward = wards.get(patient.ward_id)
        # The bed is named on the user's wards only (elsewhere the ward is enough to find them).
        bed = beds.get(patient.bed_id) if seen is None or patient.ward_id in seen else None
        place = ("left the service" if ward is None else
                 f"{ward.name} · {bed.label}" if bed is not None else
                 f"{ward.name} · home" if patient.bed_id is None else ward.name)
        found.append(Found(int(patient.id or 0), ident.mrn, _name(ident), ident.birth_date, place, ward is not None))
    write_audit(session=session, username=username, action="patient-find", entity="patient",
                after={"by": by, "query": words, "found": len(found), "patient_ids": [f.patient_id for f in found]})
    return found


def correct_identity(*, session: Session, role: str, username: str, patient_id: int, reason: str, now: datetime,
                     tz: tzinfo, ward_ids: list[int] | None = None, mrn: str | None = None,
                     family_name: str | None = None, given_name: str | None = None,
                     birth_date: date | None = None) -> Done:
    """Correct a record number, names or date of birth (those given), with a reason: checked as at
    admission, one audit row keeping the original (repository.correct_identity). A patient of the user's
    wards, or out of the service."""
    auth.require(role, "admit_patients")
    _aware(now)
    patient, identity = _patient(session, patient_id)
    seen = _seen_ward_ids(session, role, ward_ids)
    if seen is not None and patient.ward_id is not None and patient.ward_id not in seen:
        raise RecordError([f"{_name(identity)} is not on one of your wards; the staff of their ward correct it."])
    new_mrn = identity.mrn if mrn is None else mrn.strip()
    new_family = identity.family_name if family_name is None else family_name.strip()
    new_given = identity.given_name if given_name is None else given_name.strip()
    new_birth = identity.birth_date if birth_date is None else birth_date
    new = {"mrn": new_mrn, "family_name": new_family, "given_name": new_given, "birth_date": new_birth}
    changed = {k: v for k, v in new.items() if v != getattr(identity, k)}
    errors = _identity_problems(session, mrn=new_mrn, family_name=new_family, given_name=new_given,
                                birth_date=new_birth, today=now.astimezone(tz).date(), patient_id=patient_id)
    if not changed:
        errors.append("Nothing to correct: the values are those recorded.")
    if not (reason or "").strip():
        errors.append("A correction of identity needs a reason (for example 'typing error at admission', "
                      "'name changed by deed poll').")
    if errors:
        raise RecordError(errors)
    was = _name(identity)
    repository.correct_identity(session=session, patient_id=patient_id, changed_by=username, reason=reason, **changed)
    return Done(patient_id, f"Identity of {was} corrected ({', '.join(k.replace('_', ' ') for k in changed)}); the "
                            "original is kept in the audit trail.")


def record_allergies(*, session: Session, role: str, username: str, patient_id: int, allergies: str | None,
                     ward_ids: list[int] | None = None) -> Done:
    """The allergies as now recorded (None: not recorded); one audit row with the old and the new text."""
    auth.require(role, "admit_patients")
    patient, identity = _patient(session, patient_id)
    seen = _seen_ward_ids(session, role, ward_ids)
    if seen is not None and patient.ward_id is not None and patient.ward_id not in seen:
        raise RecordError([f"{_name(identity)} is not on one of your wards."])
    text, errors = _allergies(allergies)
    if not errors and text == patient.allergies:
        errors.append("Nothing to change: the allergies are those recorded.")
    if errors:
        raise RecordError(errors)
    write_audit(session=session, username=username, action="allergies-record", entity="patient", entity_id=patient_id,
                before={"allergies": patient.allergies}, after={"allergies": text})
    patient.allergies = text
    session.flush()
    return Done(patient_id, f"Allergies of {_name(identity)}: {text or 'not recorded'}.")
