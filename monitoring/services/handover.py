"""The shift handover (issue 18 item 6): the outgoing nurse saves a recommendation per patient (the R of
SBAR; the S, B and A are monitoring.views.handover), the incoming nurse acknowledges the handover.

- `save`: the recommendations written or changed, each a new row that supersedes the one before (never
  an UPDATE); the first save of a ward's shift stores the handover itself. Nurses only (write_handover).
- `acknowledge`: the incoming nurse's acknowledgement of the handover as it stands (its version: the
  number of recommendation rows). Refused to whoever wrote it, twice for the same version, and for a
  version other than the one the page showed. Nurses only (acknowledge_handover).

Each is one audit row, with ids, times and the words written, never a name or bed (as the other
clinical audit rows; the administrator's view withholds typed text: monitoring.views.audit).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from monitoring.clinical.shifts import Shift, recent_shifts, shift_at
from monitoring.errors import RecordError
from monitoring.services import auth
from monitoring.store.models import Handover, HandoverAcknowledgement, HandoverNote, Ward
from monitoring.store.repository import write_audit
from monitoring.timefmt import local_text
from monitoring.views.handover import HandoverRecord, handover_record, row_id
from monitoring.views.lists import visible_wards, ward_patient_list


@dataclass(frozen=True)
class Saved:
    handover_id: int
    written: int          # recommendations written, changed or withdrawn
    text: str             # what the page confirms


@dataclass(frozen=True)
class Acknowledged:
    acknowledgement_id: int
    version: int
    text: str


def _ward(session: Session, ward_id: int, role: str, ward_ids: list[int] | None) -> Ward:
    """The ward, if the user may see it (assigned, or every ward for the oncologist)."""
    ward = session.get(Ward, ward_id)
    if ward is None:
        raise RecordError([f"Ward {ward_id} does not exist."])
    if ward_ids is not None and ward.id not in {w.id for w in visible_wards(session=session, role=role,
                                                                              ward_ids=ward_ids)}:
        raise RecordError([f"{ward.name} is not one of your wards; a handover is written and acknowledged on "
                           "the wards you are assigned to."])
    return ward


def _shift_problem(shift: Shift, now: datetime, tz: tzinfo) -> str | None:
    """A handover is written for a shift of the ward's pattern, under way or just ended."""
    if shift_at(shift.start, tz) != shift:
        return (f"{shift.start.isoformat()} to {shift.end.isoformat()} is not a shift of this ward "
                "(thresholds.toml [handover]).")
    if shift not in recent_shifts(now, tz, 2):
        return (f"The handover of the {shift.label(tz)} can no longer be written: a handover is written for the "
                "shift under way or the one just ended.")
    return None


def _aware(now: datetime) -> None:
    if now.utcoffset() is None:
        raise RecordError([f"Time {now.isoformat()} has no time zone; give a time zone-aware time."])


def save(*, session: Session, ward_id: int, shift: Shift, recommendations: Mapping[int, str | None], role: str,
         username: str, now: datetime, tz: tzinfo, ward_ids: list[int] | None = None,
         based_on: Mapping[int, int | None] | None = None) -> Saved:
    """Store the outgoing nurse's recommendations for patients of the ward (patient id -> words; empty
    words withdraw a recommendation written before). Only what is new or changed is written.

    Refused: a role without write_handover; a ward not the user's; a shift not of the ward's pattern, not
    begun or ended more than a shift ago; a patient not on the ward; when `based_on` gives the
    recommendation each patient's box started from (its row id, None for none), one changed meanwhile by
    someone else (so nobody's words are overwritten unseen); and nothing to save on a handover already
    saved."""
    auth.require(role, "write_handover")
    _aware(now)
    ward = _ward(session, ward_id, role, ward_ids)
    problem = _shift_problem(shift, now, tz)
    if problem:
        raise RecordError([problem])
    beds = {int(p): (b if isinstance(b, str) and b else "no bed") for p, b in
            zip(*(ward_patient_list(session=session, ward_ids=[ward_id])[c] for c in ("patient_id", "bed")))}
    record = handover_record(session=session, ward_id=ward_id, shift_start=shift.start)
    errors = [f"Patient {pid} is not on {ward.name}." for pid in recommendations if int(pid) not in beds]
    changes: list[tuple[int, str | None, int | None]] = []
    for pid, words in recommendations.items():
        text = (words or "").strip() or None
        current = record.notes.get(int(pid))
        if (current is None and text is None) or (current is not None and current.text == text):
            continue
        shown = None if based_on is None else based_on.get(int(pid))
        if based_on is not None and shown != (None if current is None else current.note_id):
            errors.append(f"The recommendation for {beds.get(int(pid), f'patient {pid}')} was changed by "
                          f"{record.name(current.written_by) if current else 'someone else'} at "
                          f"{local_text(current.written_at if current else None, tz)} while you were writing: "
                          "reload the page to read it, then write yours.")
            continue
        changes.append((int(pid), text, None if current is None else current.note_id))
    if errors:
        raise RecordError(errors)
    if record.saved and not changes:
        raise RecordError(["Nothing to save: no recommendation was written or changed."])
    try:
        header_id = record.handover_id
        if header_id is None:
            header = Handover(ward_id=ward_id, shift_start=shift.start, shift_end=shift.end, started_by=username,
                              started_at=now)
            session.add(header)
            session.flush()
            header_id = row_id(header)
        notes = [HandoverNote(handover_id=header_id, patient_id=pid, recommendation=text, written_by=username,
                              written_at=now, supersedes_id=previous) for pid, text, previous in changes]
        session.add_all(notes)
        session.flush()
    except IntegrityError:
        # Another nurse saved this handover, or a recommendation of it, at the same moment (unique keys of
        # migration 0015): nothing of this save is kept, and the page says so.
        raise RecordError(["Another nurse saved this ward's handover at the same moment; nothing of yours was "
                           "saved. Reload the page, read theirs, then save again."]) from None
    write_audit(session=session, username=username, action="handover-save", entity="handover", entity_id=header_id,
                after={"ward_id": ward_id, "shift_starts_at": shift.start.isoformat(),
                       "shift_ends_at": shift.end.isoformat(), "handover_started": not record.saved,
                       "notes": [{"id": n.id, "patient_id": n.patient_id, "supersedes_id": n.supersedes_id,
                                  "recommendation": n.recommendation} for n in notes]})
    withdrawn = sum(text is None for _, text, _ in changes)
    parts = [f"{len(changes) - withdrawn} recommendation{'s' * (len(changes) - withdrawn != 1)} written"]
    if withdrawn:
        parts.append(f"{withdrawn} withdrawn")
    return Saved(header_id, len(changes),
                 f"Handover of {ward.name}, {shift.label(tz)} saved: {', '.join(parts)}.")


def acknowledge(*, session: Session, ward_id: int, shift: Shift, role: str, username: str, now: datetime,
                tz: tzinfo, ward_ids: list[int] | None = None, version_seen: int | None = None) -> Acknowledged:
    """The incoming nurse acknowledges the ward's handover of a shift, as it stands.

    Refused: a role without acknowledge_handover; a ward not the user's; no handover saved; the user
    wrote it (the outgoing nurse does not acknowledge their own); already acknowledged by the user with
    nothing changed since; and, when `version_seen` is given, a handover changed since the page showed
    it (acknowledge what was read)."""
    auth.require(role, "acknowledge_handover")
    _aware(now)
    ward = _ward(session, ward_id, role, ward_ids)
    record: HandoverRecord = handover_record(session=session, ward_id=ward_id, shift_start=shift.start)
    label = f"{ward.name}, {shift.label(tz)}"
    if not record.saved:
        raise RecordError([f"No handover has been saved for {label}: the outgoing nurse saves it first."])
    if username in record.writers:
        raise RecordError([f"You wrote this handover ({label}); the incoming nurse acknowledges it."])
    assert record.handover_id is not None   # saved
    done = record.acknowledged_by(username)
    if done is not None:
        raise RecordError([f"You acknowledged this handover at {local_text(done.at, tz)}; nothing has changed "
                           "since."])
    if version_seen is not None and version_seen != record.version:
        raise RecordError([f"The handover changed while the page was open (last written by "
                           f"{record.name(record.writers[-1])} at {local_text(record.last_written_at, tz)}): read "
                           "it again, then acknowledge it."])
    row = HandoverAcknowledgement(handover_id=record.handover_id, version=record.version, acknowledged_by=username,
                                  acknowledged_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # The same person's second click, in another tab at the same moment (unique per person and version).
        raise RecordError(["This handover was just acknowledged by you; nothing has changed since."]) from None
    write_audit(session=session, username=username, action="handover-acknowledge", entity="handover",
                entity_id=record.handover_id,
                after={"acknowledgement_id": row.id, "version": record.version, "ward_id": ward_id,
                       "shift_starts_at": shift.start.isoformat(), "written_by": list(record.writers)})
    writers = ", ".join(record.name(w) for w in record.writers)
    return Acknowledged(row_id(row), record.version,
                        f"Handover of {label} acknowledged; written by {writers}.")

