"""Entry drafts (issue 15): what a user typed into an entry form and has not saved, kept on the server
per user, form and patient, so that a time-out, a refresh or a page change loses nothing. A draft is
offered back when the user returns to that patient's form; saving the set or discarding the draft
deletes it. Drafts are not clinical record (never shown to anyone else, never exported). A draft
older than KEPT_HOURS (a shift) is no longer offered: values typed then no longer describe the patient."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from monitoring.store.models import EntryDraft

#: Local choice: a nursing shift. An older draft is deleted when next looked for, never offered.
KEPT_HOURS = 12


@dataclass(frozen=True)
class Draft:
    values: dict[str, Any]      # what the form holds, by widget name
    updated_at: datetime


def save_draft(*, session: Session, username: str, form: str, patient_id: int, values: dict[str, Any],
               now: datetime | None = None) -> None:
    """Keep what the form holds (an empty form deletes the draft)."""
    kept = {k: v for k, v in values.items() if v not in (None, "", [])}
    row = session.scalars(select(EntryDraft).where(EntryDraft.username == username, EntryDraft.form == form,
                                                   EntryDraft.patient_id == patient_id)).first()
    if not kept:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(EntryDraft(username=username, form=form, patient_id=patient_id, values=kept,
                               updated_at=now or datetime.now(timezone.utc)))
    elif row.values != kept:
        row.values, row.updated_at = kept, now or datetime.now(timezone.utc)
    session.flush()


def load_draft(*, session: Session, username: str, form: str, patient_id: int,
               now: datetime | None = None) -> Draft | None:
    """The user's draft for this form and patient, unless older than KEPT_HOURS (then deleted)."""
    row = session.scalars(select(EntryDraft).where(EntryDraft.username == username, EntryDraft.form == form,
                                                   EntryDraft.patient_id == patient_id)).first()
    if row is None:
        return None
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=timezone.utc)
    if updated < (now or datetime.now(timezone.utc)) - timedelta(hours=KEPT_HOURS):
        session.delete(row)
        return None
    return Draft(dict(row.values), updated)


def discard_draft(*, session: Session, username: str, form: str, patient_id: int) -> None:
    session.execute(delete(EntryDraft).where(EntryDraft.username == username, EntryDraft.form == form,
                                             EntryDraft.patient_id == patient_id))
