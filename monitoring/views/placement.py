"""Where patients are and have been (issue 19): a ward's beds with who is in them, and a patient's moves.

The current placement is Patient.ward_id and bed_id: a bed on a ward, home on a ward's list (a ward and no
bed), or out of the service (no ward). Placement rows are the history (monitoring.services.admission).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.store.models import Bed, Patient, PatientIdentity, Placement, User, Ward
from monitoring.timefmt import local_text

EVENT_WORDS = {"admit": "admitted", "transfer": "transferred", "discharge-home": "discharged home",
               "discharge": "left the service"}
HISTORY_COLUMNS = ["When", "Event", "From", "To", "By", "Reason"]


def place_text(ward: str | None, bed: str | None) -> str:
    """'Melanoma unit · Bed 03', 'Melanoma unit · home', 'left the service' (no ward)."""
    if ward is None:
        return "left the service"
    return f"{ward} · {bed if bed else 'home'}"


@dataclass(frozen=True)
class BedState:
    bed_id: int
    label: str
    patient_id: int | None      # who is in it (None: free)
    occupant: str | None        # 'FAMILY, Given'


def ward_beds(*, session: Session, ward_id: int) -> list[BedState]:
    """The ward's beds in use in label order, each with the patient in it (a patient on the ward's list).
    A retired bed (services.wards) is left out: it cannot hold a patient (retiring an occupied bed is refused)."""
    beds = session.scalars(select(Bed).where(col(Bed.ward_id) == ward_id, col(Bed.retired_at).is_(None))
                           .order_by(col(Bed.label))).all()
    occupants = {bed: (pid, f"{family.upper()}, {given}") for bed, pid, family, given in session.execute(
        select(col(Patient.bed_id), col(Patient.id), col(PatientIdentity.family_name), col(PatientIdentity.given_name))
        .join(PatientIdentity, col(PatientIdentity.patient_id) == col(Patient.id))
        .where(col(Patient.ward_id) == ward_id, col(Patient.bed_id).is_not(None))).all()}
    return [BedState(int(b.id or 0), b.label, *occupants.get(b.id, (None, None))) for b in beds]


def placement_history(*, session: Session, patient_id: int, tz: tzinfo) -> pd.DataFrame:
    """A patient's moves, newest first: when, what, from where to where, by whom (display name) and why."""
    wards = {w.id: w.name for w in session.scalars(select(Ward)).all()}
    rows = session.scalars(select(Placement).where(col(Placement.patient_id) == patient_id)
                           .order_by(col(Placement.at).desc(), col(Placement.id).desc())).all()
    bed_ids = {b for r in rows for b in (r.bed_id, r.from_bed_id) if b is not None}
    beds = {b.id: b.label for b in session.scalars(select(Bed).where(col(Bed.id).in_(bed_ids))).all()}
    names: dict[str, str] = dict(session.execute(select(col(User.username), col(User.display_name))
                                                 .where(col(User.username).in_({r.by for r in rows}))).all())

    def where(ward_id: int | None, bed_id: int | None) -> str:
        return place_text(wards.get(ward_id), beds.get(bed_id)) if ward_id is not None else "left the service"

    return pd.DataFrame([{
        "When": local_text(r.at, tz, "%d %b %Y %H:%M"), "Event": EVENT_WORDS.get(r.event, r.event),
        "From": "—" if r.event == "admit" and r.from_ward_id is None else where(r.from_ward_id, r.from_bed_id),
        "To": where(r.ward_id, r.bed_id), "By": names.get(r.by, r.by), "Reason": r.reason or ""}
        for r in rows], columns=HISTORY_COLUMNS)


@dataclass(frozen=True)
class StoredIdentity:
    mrn: str
    family_name: str
    given_name: str
    birth_date: date | None


def identity_of(*, session: Session, patient_id: int) -> StoredIdentity:
    """The identity as stored (record number, names, date of birth), for the correction form to start from."""
    identity = session.get(PatientIdentity, patient_id)
    if identity is None:
        raise ValueError(f"Patient {patient_id} has no identity.")
    return StoredIdentity(identity.mrn, identity.family_name, identity.given_name, identity.birth_date)


REGISTER_COLUMNS = ["mrn", "name", "birth_date", "place", "course", "sign_off"]


def patient_register(*, session: Session, ward_ids: list[int] | None = None, include_left: bool = False
                     ) -> pd.DataFrame:
    """Every patient on the given wards (None: every ward), and those out of the service when `include_left`:
    record number, name, birth date, place, the latest course (cycle, regimen, status) and its eligibility
    sign-off ('awaiting sign-off' until the oncologist signs it off). For `il2-monitor patients list`."""
    from monitoring.store.models import EligibilitySignOff, TreatmentCourse

    query = (select(Patient, PatientIdentity).join(PatientIdentity, col(PatientIdentity.patient_id) == col(Patient.id))
             .order_by(col(PatientIdentity.family_name), col(PatientIdentity.given_name), col(Patient.id)))
    on_ward = col(Patient.ward_id).in_(ward_ids) if ward_ids is not None else col(Patient.ward_id).is_not(None)
    query = query.where(on_ward | col(Patient.ward_id).is_(None)) if include_left else query.where(on_ward)
    rows = session.execute(query).all()
    ids = [int(p.id or 0) for p, _ in rows]
    wards = {w.id: w.name for w in session.scalars(select(Ward)).all()}
    beds = {b.id: b.label for b in session.scalars(select(Bed).where(
        col(Bed.id).in_([p.bed_id for p, _ in rows if p.bed_id]))).all()}
    latest: dict[int, TreatmentCourse] = {}
    for started in session.scalars(select(TreatmentCourse).where(col(TreatmentCourse.patient_id).in_(ids))
                                  .order_by(col(TreatmentCourse.start_at), col(TreatmentCourse.id))).all():
        latest[started.patient_id] = started
    signed: dict[int, str] = {}
    for signoff in session.scalars(select(EligibilitySignOff).where(col(EligibilitySignOff.course_id).in_(
            [c.id for c in latest.values()])).order_by(col(EligibilitySignOff.id))).all():
        signed[signoff.course_id] = signoff.outcome
    out = []
    for patient, identity in rows:
        course = latest.get(int(patient.id or 0))
        out.append({
            "mrn": identity.mrn, "name": f"{identity.family_name.upper()}, {identity.given_name}",
            "birth_date": "" if identity.birth_date is None else identity.birth_date.isoformat(),
            "place": place_text(wards.get(patient.ward_id), beds.get(patient.bed_id)),
            "course": "no course" if course is None else f"cycle {course.cycle} {course.regimen} {course.status}",
            "sign_off": "" if course is None else signed.get(int(course.id or 0), "awaiting sign-off")})
    return pd.DataFrame(out, columns=REGISTER_COLUMNS)
