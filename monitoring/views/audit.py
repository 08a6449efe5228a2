"""Reading the audit trail: search and export. (Writing is repository.write_audit; the table itself
refuses UPDATE and DELETE.)"""
from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.store.models import AuditEvent
from monitoring.store.repository import write_audit

AUDIT_COLUMNS = ["id", "at", "username", "action", "entity", "entity_id", "before", "after"]

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
    def shown(entity: str, details: dict | None) -> str | None:
        details = details_for_admin(entity, details)
        return None if details is None else json.dumps(details, ensure_ascii=False, default=str)

    rows = [(e.id, e.at, e.username, e.action, e.entity, entity_id_for_admin(e.entity, e.entity_id),
             shown(e.entity, e.before), shown(e.entity, e.after)) for e in session.scalars(query).all()]
    frame = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


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
