"""Reading the audit trail: search and export. (Writing is repository.write_audit; the table itself
refuses UPDATE and DELETE.)"""
from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.models import AuditEvent
from monitoring.repository import write_audit

AUDIT_COLUMNS = ["id", "at", "username", "action", "entity", "entity_id", "before", "after"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def search_audit(*, session: Session, username: str | None = None, action: str | None = None,
                 entity: str | None = None, since: datetime | None = None, until: datetime | None = None,
                 limit: int = 5000) -> pd.DataFrame:
    """Audit rows, newest first, filtered by user, action, entity and time."""
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
    rows = [(e.id, e.at, e.username, e.action, e.entity, e.entity_id,
             None if e.before is None else json.dumps(e.before, ensure_ascii=False, default=str),
             None if e.after is None else json.dumps(e.after, ensure_ascii=False, default=str))
            for e in session.scalars(query).all()]
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
