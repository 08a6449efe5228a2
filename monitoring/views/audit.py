"""Reading the audit trail: search and export. (Writing is repository.write_audit; the table itself
refuses UPDATE and DELETE.)"""
from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.pseudonyms import pseudonym
from monitoring.store.models import Alert, AuditEvent, Patient, TreatmentCourse
from monitoring.store.repository import AUDIT_PSEUDONYM_KEY, server_secret, write_audit

AUDIT_COLUMNS = ["id", "at", "username", "action", "entity", "entity_id", "patient", "before", "after"]

# The administrator reads who did what, not about whom (issue 16 item 7): in rows about patients,
# identifiers and every text a person typed are withheld; numbers, codes, statuses, times, ids and
# staff names stay, so the trail can still be followed. Rows about staff accounts, wards and beds are
# shown whole (the administrator manages them). The stored row keeps everything.
STAFF_ENTITIES = frozenset({"user", "ward", "bed", "audit-log"})
IDENTIFYING_KEYS = frozenset({"mrn", "given_name", "family_name", "birth_date", "phone", "address", "allergies",
                              "name", "email"})
# Text values shown as they are, by exact key (a new key is withheld until it is added here): codes,
# statuses, times, staff user names. Everything else that is text, override_by included (it names a
# clinician in the typist's words), is withheld.
SAFE_TEXT_KEYS = frozenset({"code", "status", "unit", "source", "regimen", "rule", "rule_id", "level", "severity",
                            "decision", "kind", "criterion", "criteria", "reason_criteria", "check_decision",
                            "check_criteria", "action", "method", "role", "format", "sex", "value_code", "state",
                            "username", "ward", "ward_code", "ward_codes", "bed", "dose_unit", "scope", "mode", "item",
                            "answer", "category", "course_status", "record_status", "last_dose_status", "original_unit",
                            "recorded_by", "answered_by", "first_response_by", "last_action_by", "decided_by",
                            "imported_by", "created_by", "changed_by", "route", "os_user"})
SAFE_KEY_ENDINGS = ("_at",)   # ISO times
IDENTITY_WITHHELD = "[identity withheld]"
TEXT_WITHHELD = "[free text withheld]"


def _withheld(value, key: str = ""):
    """A patient row's details as the administrator may see them (see above)."""
    if key in IDENTIFYING_KEYS:
        return IDENTITY_WITHHELD
    if isinstance(value, dict):
        return {k: _withheld(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_withheld(v, key) for v in value]
    if isinstance(value, str) and value and key not in SAFE_TEXT_KEYS and not key.endswith(SAFE_KEY_ENDINGS):
        return TEXT_WITHHELD
    return value


# Patients appear by pseudonym (issue 19 item 4): the monitor's HMAC scheme (monitoring.pseudonyms) under the
# server's own key, prefix A-; an oncologist can resolve one (monitoring.services.pseudonyms), the
# administrator cannot. The internal patient number (a clinical page's address, ?patient=12) is not shown.
AUDIT_PSEUDONYM_PREFIX = "A-"
PATIENT_KEYS = frozenset({"patient_id", "patient_ids", "patients"})   # an int, or a list of ints, names patients
COURSE_ENTITIES = frozenset({"course", "eligibility"})                 # entity_id: a course's id
UNKNOWN_PATIENT = "[patient not found]"


def audit_pseudonyms(*, session: Session, patient_ids=None) -> dict[int, str]:
    """{patient id: audit pseudonym} for these patients (every patient when None)."""
    key = server_secret(session=session, name=AUDIT_PSEUDONYM_KEY)
    query = select(Patient.id, Patient.pseudo_id)
    ids = None if patient_ids is None else sorted({int(p) for p in patient_ids})
    found: dict[int, str] = {}
    for start in range(0, len(ids) if ids is not None else 1, 900):
        chunk = query if ids is None else query.where(Patient.id.in_(ids[start:start + 900]))
        found.update({int(pid): pseudonym(seed or f"patient-{pid}", key, AUDIT_PSEUDONYM_PREFIX)
                      for pid, seed in session.execute(chunk)})
    return found


def _patients_in(value, key: str = "") -> set[int]:
    """The patient ids a row's details name (under PATIENT_KEYS, at any depth)."""
    if isinstance(value, dict):
        return set().union(*(_patients_in(v, str(k)) for k, v in value.items()))
    if key in PATIENT_KEYS and isinstance(value, list):
        return {v for v in value if isinstance(v, int) and not isinstance(v, bool)}
    if key in PATIENT_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return {value} if key != "patients" else set()   # 'patients' alone is a count (a print, the demo)
    if isinstance(value, list):
        return set().union(*(_patients_in(v, key) for v in value)) if value else set()
    return set()


def _pseudonymised(value, names: dict[int, str], key: str = ""):
    """The details with each patient id (see _patients_in) replaced by its pseudonym."""
    if isinstance(value, dict):
        return {k: _pseudonymised(v, names, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_pseudonymised(v, names, key + "[]") for v in value]
    # 'patients' is a list of ids or, alone, a count (a print, a bulk write): a count stays a number.
    id_keys = PATIENT_KEYS - {"patients"} | {"patients[]", "patient_ids[]"}
    if key in id_keys and isinstance(value, int) and not isinstance(value, bool):
        return names.get(value, UNKNOWN_PATIENT)
    return value


def details_for_admin(entity: str, details: dict | None) -> dict | None:
    """Before/after of one audit row for the administrator's view and export."""
    if details is None or entity in STAFF_ENTITIES:
        return details
    return _withheld(details)


def entity_id_for_admin(entity: str, entity_id: str | None) -> str | None:
    """A row's entity id: a database number, or withheld in rows about patients (a lab import's id is
    the uploaded file's name, which may name a patient)."""
    if entity_id is None or entity in STAFF_ENTITIES or str(entity_id).isdigit():
        return entity_id
    return TEXT_WITHHELD
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def search_audit(*, session: Session, username: str | None = None, action: str | None = None,
                 entity: str | None = None, since: datetime | None = None, until: datetime | None = None,
                 limit: int = 5000) -> pd.DataFrame:
    """Audit rows, newest first, filtered by user, action, entity and time; patient identities and typed
    text withheld (details_for_admin): the administrator is the only reader of the trail here."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if username:
        query = query.where(AuditEvent.username == username.strip().lower())
    if action:
        query = query.where(AuditEvent.action == action)
    if entity:
        query = query.where(AuditEvent.entity == entity)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    events = session.scalars(query).all()
    about = _row_patients(session=session, events=events)
    names = audit_pseudonyms(session=session, patient_ids=set().union(*about.values())) if about else {}

    def shown(entity: str, details: dict | None) -> str | None:
        details = details_for_admin(entity, details)
        if details is not None and entity not in STAFF_ENTITIES:
            details = _pseudonymised(details, names)
        return None if details is None else json.dumps(details, ensure_ascii=False, default=str)

    def entity_id(e: AuditEvent) -> str | None:
        if e.entity == "patient" and e.entity_id is not None and str(e.entity_id).isdigit():
            return names.get(int(e.entity_id), UNKNOWN_PATIENT)
        return entity_id_for_admin(e.entity, e.entity_id)

    def patients(e: AuditEvent) -> str:
        shown_names = sorted(names.get(p, UNKNOWN_PATIENT) for p in about.get(e.id, ()))
        more = len(shown_names) - 3
        return ", ".join(shown_names[:3]) + (f" and {more} more" if more > 0 else "")

    rows = [(e.id, e.at, e.username, e.action, e.entity, entity_id(e), patients(e),
             shown(e.entity, e.before), shown(e.entity, e.after)) for e in events]
    frame = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _row_patients(*, session: Session, events) -> dict[int, set[int]]:
    """{audit row id: the patients it is about}: a patient row's id, a course's or an alert's patient,
    and the patient ids its details name. Rows about staff, wards and beds are about nobody."""
    about = {e.id: (_patients_in(e.before) | _patients_in(e.after)) for e in events if e.entity not in STAFF_ENTITIES}
    numbered = [e for e in events if e.id in about and e.entity_id is not None and str(e.entity_id).isdigit()]
    courses = {int(e.entity_id) for e in numbered if e.entity in COURSE_ENTITIES}
    alerts = {int(e.entity_id) for e in numbered if e.entity == "alert"}
    owners = {("course", c): p for c, p in _owners(session, TreatmentCourse, courses)}
    owners.update({("alert", a): p for a, p in _owners(session, Alert, alerts)})
    for e in numbered:
        kind = "course" if e.entity in COURSE_ENTITIES else e.entity
        if e.entity == "patient":
            about[e.id].add(int(e.entity_id))
        elif (kind, int(e.entity_id)) in owners:
            about[e.id].add(owners[(kind, int(e.entity_id))])
    return {row: found for row, found in about.items() if found}


def _owners(session: Session, table, ids: set[int]) -> list[tuple[int, int]]:
    """(row id, patient id) of these course or alert rows."""
    ordered, pairs = sorted(ids), []
    for start in range(0, len(ordered), 900):
        pairs += session.execute(select(table.id, table.patient_id).where(table.id.in_(ordered[start:start + 900])))
    return [(int(r), int(p)) for r, p in pairs]


def audit_actions(*, session: Session) -> list[str]:
    return sorted(set(session.scalars(select(AuditEvent.action).distinct()).all()))


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with an apostrophe (OWASP CSV injection)."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column]) or out[column].dtype == object:
            text = out[column].astype(object)
            risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES))
            out[column] = text.where(~risky, "'" + text.astype(str))
    return out


def export_audit_csv(*, session: Session, frame: pd.DataFrame, exported_by: str, filters: dict) -> bytes:
    """CSV of the shown audit rows; the export itself is recorded in the audit trail."""
    write_audit(session=session, username=exported_by, action="export", entity="audit-log",
                after={"rows": int(len(frame)), "filters": filters})
    out = neutralise_formulas(frame.assign(at=frame["at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")))
    return out.to_csv(index=False).encode("utf-8")
