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
