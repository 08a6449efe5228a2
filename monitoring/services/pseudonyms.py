"""Who an audit log pseudonym is (issue 19 item 4). No Streamlit here.

The administrator reads the audit trail with patients shown as pseudonyms (monitoring.views.audit:
"A-" + 10 hex digits, the monitor's HMAC scheme under the server's own key). Only a role holding
resolve_pseudonyms (the oncologist, who may see every ward's patients) can name the patient behind
one, and each resolution is an audit row. The key never leaves the server, so nobody resolves a
pseudonym by computing it elsewhere.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.errors import RecordError
from monitoring.permissions import require
from monitoring.pseudonyms import PSEUDONYM_HEX_DIGITS
from monitoring.store.models import Bed, Patient, PatientIdentity, Ward
from monitoring.store.repository import write_audit
from monitoring.views.audit import AUDIT_PSEUDONYM_PREFIX, audit_pseudonyms

PATTERN = re.compile(rf"{AUDIT_PSEUDONYM_PREFIX}[0-9a-f]{{{PSEUDONYM_HEX_DIGITS}}}")


@dataclass(frozen=True)
class ResolvedPatient:
    patient_id: int
    pseudonym: str
    mrn: str
    family_name: str
    given_name: str
    birth_date: date | None
    ward: str | None
    bed: str | None


def resolve(*, session: Session, role: str, username: str, pseudonym: str) -> ResolvedPatient:
    """The patient behind an audit log pseudonym; one audit row naming who asked."""
    require(role, "resolve_pseudonyms")
    typed = (pseudonym or "").strip()
    wanted = AUDIT_PSEUDONYM_PREFIX + typed[len(AUDIT_PSEUDONYM_PREFIX):].lower() \
        if typed.upper().startswith(AUDIT_PSEUDONYM_PREFIX) else typed
    if not PATTERN.fullmatch(wanted):
        raise RecordError([f"'{typed}' is not an audit log pseudonym; they read {AUDIT_PSEUDONYM_PREFIX} and "
                           f"{PSEUDONYM_HEX_DIGITS} characters 0-9 or a-f, such as {AUDIT_PSEUDONYM_PREFIX}3fa94c0e1b. "
                           "(P- pseudonyms belong to an export and are resolved with its key only.)"])
    matches = [pid for pid, name in audit_pseudonyms(session=session).items() if name == wanted]
    if not matches:
        raise RecordError([f"No patient has the pseudonym {wanted}; check it against the audit log."])
    patient_id = matches[0]
    identity = session.get(PatientIdentity, patient_id)
    place = session.execute(select(col(Ward.code), col(Bed.label)).select_from(Patient)
                            .outerjoin(Ward, col(Ward.id) == Patient.ward_id)
                            .outerjoin(Bed, col(Bed.id) == Patient.bed_id)
                            .where(col(Patient.id) == patient_id)).one()
    write_audit(session=session, username=username, action="pseudonym-resolve", entity="patient",
                entity_id=patient_id, after={"pseudonym": wanted})
    if identity is None:   # every patient is admitted with an identity (repository.add_patient)
        raise RecordError([f"Patient of {wanted} has no identity recorded."])
    return ResolvedPatient(patient_id, wanted, identity.mrn, identity.family_name, identity.given_name,
                           identity.birth_date, place[0], place[1])
