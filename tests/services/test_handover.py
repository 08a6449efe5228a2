"""Issue 18 item 6: the outgoing nurse saves the handover's recommendations, the incoming nurse
acknowledges it; both audited; the record append-only (a change supersedes, never an UPDATE). On
SQLite and PostgreSQL (the `engine` fixture)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from monitoring.clinical.shifts import shift_at
from monitoring.errors import RecordError
from monitoring.permissions import PermissionDenied
from monitoring.services import handover
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.store.models import AuditEvent, HandoverAcknowledgement, HandoverNote
from monitoring.views.audit import search_audit
from monitoring.views.handover import handover_record
from tests.factories import make_patient_with_course

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
NOW = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)        # half an hour before the day shift ends
DAY = shift_at(NOW, LONDON)
LATER = NOW + timedelta(minutes=40)                      # 19:10: the night nurse is on


@pytest.fixture
def ward(engine):
    """Test ward: Bed B1 and Bed B2 (both with an IL-2 course), and another ward with one patient."""
    first, _ = make_patient_with_course(engine, mrn="SYN-H1")
    with session_scope(engine) as session:
        ward_id = repository.get_or_create_ward(session=session, code="T", name="Test ward").id
        bed = repository.get_or_create_bed(session=session, ward_id=ward_id, label="B2")
        second = repository.add_patient(session=session, mrn="SYN-H2", given_name="Second", family_name="Person",
                                        recorded_by="tester", ward_id=ward_id, bed_id=bed.id, is_synthetic=True).id
        other = repository.get_or_create_ward(session=session, code="O", name="Other ward").id
        elsewhere = repository.add_patient(session=session, mrn="SYN-H3", given_name="Other", family_name="Person",
                                           recorded_by="tester", ward_id=other, is_synthetic=True).id
    return {"ward": ward_id, "other": other, "b1": first, "b2": second, "elsewhere": elsewhere}


def save(engine, ward_id, words, *, username="nurse.day", role="nurse", now=NOW, shift=DAY, ward_ids=None,
         based_on=None):
    with session_scope(engine) as session:
        return handover.save(session=session, ward_id=ward_id, shift=shift, recommendations=words, role=role,
                             username=username, now=now, tz=LONDON,
                             ward_ids=[ward_id] if ward_ids is None else ward_ids, based_on=based_on)


def acknowledge(engine, ward_id, *, username="nurse.night", role="nurse", now=LATER, version_seen=None,
                ward_ids=None):
    with session_scope(engine) as session:
        return handover.acknowledge(session=session, ward_id=ward_id, shift=DAY, role=role, username=username,
                                    now=now, tz=LONDON, ward_ids=[ward_id] if ward_ids is None else ward_ids,
                                    version_seen=version_seen)


def record(engine, ward_id):
    with session_scope(engine) as session:
        return handover_record(session=session, ward_id=ward_id, shift_start=DAY.start)


def audit(engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.entity == "handover").order_by(AuditEvent.id)).all()
        session.expunge_all()
        return rows


def test_saving_writes_each_recommendation_with_who_and_when_and_one_audit_row(engine, ward):
    done = save(engine, ward["ward"], {ward["b1"]: "  Recheck SBP at 21:00; fluid bolus if < 90.  ", ward["b2"]: ""})
    assert done.written == 1 and done.text == ("Handover of Test ward, Day shift 07:00–19:00, Fri 27 Nov saved: "
                                               "1 recommendation written.")
    stored = record(engine, ward["ward"])
    assert stored.saved and (stored.started_by, stored.started_at, stored.version) == ("nurse.day", NOW, 1)
    note = stored.notes[ward["b1"]]
    assert (note.text, note.written_by, note.written_at) == ("Recheck SBP at 21:00; fluid bolus if < 90.",
                                                            "nurse.day", NOW)
    assert ward["b2"] not in stored.notes          # an empty box stores nothing (never an empty recommendation)
    [row] = audit(engine)
    assert (row.action, row.username, row.entity_id) == ("handover-save", "nurse.day", str(stored.handover_id))
    assert row.after["notes"] == [{"id": note.note_id, "patient_id": ward["b1"], "supersedes_id": None,
                                   "recommendation": "Recheck SBP at 21:00; fluid bolus if < 90."}]
    assert row.after["shift_starts_at"] == DAY.start.isoformat() and row.after["handover_started"] is True
    # No name and no bed in the audit row; the administrator's view withholds the words typed.
    assert "Person" not in json.dumps(row.after) and "B1" not in json.dumps(row.after)
    with session_scope(engine) as session:
        shown = search_audit(session=session, entity="handover")
    assert "Recheck SBP" not in shown["after"].iloc[0] and "[free text withheld]" in shown["after"].iloc[0]


def test_a_change_supersedes_the_recommendation_and_an_emptied_box_withdraws_it(engine, ward):
    save(engine, ward["ward"], {ward["b1"]: "Daily weight 06:00", ward["b2"]: "Fluid chart"})
    first = record(engine, ward["ward"])
    done = save(engine, ward["ward"], {ward["b1"]: "Daily weight 06:00", ward["b2"]: ""},
                now=NOW + timedelta(minutes=5), username="nurse.two")
    assert done.text.endswith("0 recommendations written, 1 withdrawn.")
    done = save(engine, ward["ward"], {ward["b1"]: "Weigh at 06:00 and 18:00"}, now=NOW + timedelta(minutes=9))
    assert done.written == 1
    stored = record(engine, ward["ward"])
    assert stored.version == 4 and stored.notes[ward["b2"]].text is None          # withdrawn, kept
    assert stored.notes[ward["b1"]].text == "Weigh at 06:00 and 18:00"
    assert stored.writers == ("nurse.day", "nurse.two")
    with session_scope(engine) as session:
        chain = session.scalars(select(HandoverNote).where(HandoverNote.patient_id == ward["b1"])
                                .order_by(HandoverNote.id)).all()
        assert [(n.recommendation, n.supersedes_id) for n in chain] == [
            ("Daily weight 06:00", None), ("Weigh at 06:00 and 18:00", first.notes[ward["b1"]].note_id)]
    with pytest.raises(RecordError, match="Nothing to save: no recommendation was written or changed"):
        save(engine, ward["ward"], {ward["b1"]: "Weigh at 06:00 and 18:00 ", ward["b2"]: "  "})
    assert [a.action for a in audit(engine)] == ["handover-save"] * 3


def test_a_first_save_with_nothing_written_still_records_who_handed_over(engine, ward):
    done = save(engine, ward["ward"], {ward["b1"]: "", ward["b2"]: None})
    assert done.written == 0 and record(engine, ward["ward"]).started_by == "nurse.day"
    assert acknowledge(engine, ward["ward"]).version == 0


def test_the_incoming_nurse_acknowledges_once_and_again_only_after_a_change(engine, ward):
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP at 21:00"})
    done = acknowledge(engine, ward["ward"], version_seen=1)
    assert done.text == ("Handover of Test ward, Day shift 07:00–19:00, Fri 27 Nov acknowledged; written by "
                         "nurse.day.")
    stored = record(engine, ward["ward"])
    assert [(a.by, a.at, a.version) for a in stored.current_acknowledgements()] == [("nurse.night", LATER, 1)]
    with pytest.raises(RecordError, match=r"You acknowledged this handover at 27 Nov 19:10 GMT; nothing has changed"):
        acknowledge(engine, ward["ward"], now=LATER + timedelta(minutes=1))
    # A change after the acknowledgement: it no longer stands, and the incoming nurse acknowledges again.
    save(engine, ward["ward"], {ward["b2"]: "Blood cultures due"}, now=LATER + timedelta(minutes=2))
    assert record(engine, ward["ward"]).current_acknowledgements() == []
    assert acknowledge(engine, ward["ward"], now=LATER + timedelta(minutes=3), version_seen=2).version == 2
    actions = [(a.action, a.username, a.after.get("version")) for a in audit(engine)]
    assert actions == [("handover-save", "nurse.day", None), ("handover-acknowledge", "nurse.night", 1),
                       ("handover-save", "nurse.day", None), ("handover-acknowledge", "nurse.night", 2)]
    assert audit(engine)[1].after["written_by"] == ["nurse.day"]


@pytest.mark.parametrize(("username", "role", "message"), [
    ("nurse.day", "nurse", "You wrote this handover (Test ward, Day shift 07:00–19:00, Fri 27 Nov); the incoming "
                           "nurse acknowledges it."),
    ("nurse.two", "nurse", "You wrote this handover"),           # wrote one recommendation of it
    ("dr.onc", "oncologist", "may not acknowledge handover"),
    ("quality", "quality", "may not acknowledge handover"),
])
def test_the_outgoing_nurses_and_other_roles_cannot_acknowledge(engine, ward, username, role, message):
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP"})
    save(engine, ward["ward"], {ward["b2"]: "Weigh"}, username="nurse.two")
    with pytest.raises((RecordError, PermissionDenied), match=re.escape(message)):
        acknowledge(engine, ward["ward"], username=username, role=role)
    assert record(engine, ward["ward"]).acknowledgements == ()


def test_nothing_to_acknowledge_before_the_outgoing_nurse_saves(engine, ward):
    with pytest.raises(RecordError, match="No handover has been saved for Test ward, Day shift 07:00–19:00, Fri 27 "
                                          "Nov: the outgoing nurse saves it first."):
        acknowledge(engine, ward["ward"])


def test_a_handover_changed_while_the_page_was_open_is_not_acknowledged_unread(engine, ward):
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP"})
    save(engine, ward["ward"], {ward["b2"]: "Weigh"}, username="nurse.two", now=NOW + timedelta(minutes=20))
    with pytest.raises(RecordError, match=r"changed while the page was open \(last written by nurse.two at 27 Nov "
                                          r"18:50 GMT\): read it again"):
        acknowledge(engine, ward["ward"], version_seen=1)
    assert acknowledge(engine, ward["ward"], version_seen=2).version == 2


def test_words_written_meanwhile_by_someone_else_are_never_overwritten_unseen(engine, ward):
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP"}, username="nurse.two")
    stored = record(engine, ward["ward"])
    # nurse.day's page showed no recommendation for B1 (based_on None) and B2's untouched: refused for B1.
    with pytest.raises(RecordError, match="The recommendation for B1 was changed by nurse.two at 27 Nov 18:30 GMT "
                                          "while you were writing: reload the page"):
        save(engine, ward["ward"], {ward["b1"]: "Mine", ward["b2"]: "Weigh"},
             based_on={ward["b1"]: None, ward["b2"]: None})
    assert record(engine, ward["ward"]).version == 1            # nothing of that save kept, B2's words included
    done = save(engine, ward["ward"], {ward["b1"]: "Mine"}, based_on={ward["b1"]: stored.notes[ward["b1"]].note_id})
    assert done.written == 1


@pytest.mark.parametrize(("case", "message"), [
    ("oncologist", "may not write handover"),
    ("other ward", "Test ward is not one of your wards; a handover is written and acknowledged on the wards you"),
    ("patient elsewhere", "is not on Test ward"),
    ("not begun", "can no longer be written: a handover is written for the shift under way or the one just ended"),
    ("two shifts ago", "can no longer be written"),
    ("not a shift", "is not a shift of this ward"),
    ("too long", "recommendation has 2001 characters; at most 2000 are accepted"),
])
def test_saving_is_refused_with_a_message_naming_what_is_wrong(engine, ward, case, message):
    kwargs = {"oncologist": {"role": "oncologist", "username": "dr.onc"},
              "other ward": {"ward_ids": [ward["other"]]},
              "not begun": {"shift": shift_at(DAY.end, LONDON)},
              "two shifts ago": {"shift": shift_at(DAY.start - timedelta(hours=13), LONDON)},
              "not a shift": {"shift": type(DAY)("day", DAY.start + timedelta(hours=1), DAY.end)}}.get(case, {})
    words = {ward["elsewhere"] if case == "patient elsewhere" else ward["b1"]: "x" * 2001 if case == "too long" else
             "Recheck SBP"}
    with pytest.raises((RecordError, PermissionDenied), match=message):
        save(engine, ward["ward"], words, **kwargs)
    assert not record(engine, ward["ward"]).saved and audit(engine) == []


def test_a_nurse_of_another_ward_cannot_acknowledge(engine, ward):
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP"})
    with pytest.raises(RecordError, match="Test ward is not one of your wards"):
        acknowledge(engine, ward["ward"], ward_ids=[ward["other"]])


# --- the record itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE handovernote SET recommendation = 'changed'", "DELETE FROM handovernote",
    "UPDATE handover SET started_by = 'someone else'", "DELETE FROM handoveracknowledgement",
    "UPDATE handoveracknowledgement SET acknowledged_by = 'someone else'",
])
def test_the_database_refuses_to_edit_or_delete_a_handover(engine, ward, statement):
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP"})
    acknowledge(engine, ward["ward"])
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as connection:
            connection.execute(text(statement))
    stored = record(engine, ward["ward"])
    assert stored.notes[ward["b1"]].text == "Recheck SBP" and stored.acknowledgements[0].by == "nurse.night"


def test_two_first_recommendations_for_one_patient_or_two_acknowledgements_of_one_version_cannot_both_stand(
        engine, ward):
    """What two nurses saving at the same moment would do (the unique keys of migration 0015)."""
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP"})
    acknowledge(engine, ward["ward"])
    stored = record(engine, ward["ward"])
    duplicates = [HandoverNote(handover_id=stored.handover_id, patient_id=ward["b1"], recommendation="Mine too",
                               written_by="nurse.two", written_at=NOW),
                  HandoverAcknowledgement(handover_id=stored.handover_id, version=1, acknowledged_by="nurse.night",
                                          acknowledged_at=LATER)]
    for row in duplicates:
        with pytest.raises(IntegrityError):
            with session_scope(engine) as session:
                session.add(row)
    assert record(engine, ward["ward"]).version == 1


ON_SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@ON_SQLITE
@pytest.mark.parametrize("statement", [
    "REPLACE INTO handovernote SELECT * FROM handovernote",
    "INSERT OR REPLACE INTO handover (id, ward_id, shift_start, shift_end, started_by, started_at) SELECT id + 100, "
    "ward_id, shift_start, shift_end, 'someone else', started_at FROM handover",
    "INSERT OR REPLACE INTO handoveracknowledgement (id, handover_id, version, acknowledged_by, acknowledged_at) "
    "SELECT id + 100, handover_id, version, acknowledged_by, acknowledged_at FROM handoveracknowledgement",
])
def test_sqlite_replace_cannot_rewrite_a_handover(engine, ward, statement):
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP"})
    acknowledge(engine, ward["ward"])
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as connection:
            connection.execute(text(statement))
    stored = record(engine, ward["ward"])
    assert stored.started_by == "nurse.day" and len(stored.acknowledgements) == 1


def test_migration_0015_goes_down_and_up_again_with_its_triggers(engine, db_url, ward):
    from alembic import command
    from sqlalchemy import inspect

    from monitoring.store.db import alembic_config, current_revision, upgrade

    def migrate(revision: str) -> None:
        with engine.begin() as connection:
            config = alembic_config(db_url)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)

    tables = {"handover", "handovernote", "handoveracknowledgement"}
    try:
        migrate("0014")
        assert current_revision(engine) == "0014" and not tables & set(inspect(engine).get_table_names())
    finally:
        upgrade(db_url)
    assert current_revision(engine) == "0019" and tables <= set(inspect(engine).get_table_names())
    save(engine, ward["ward"], {ward["b1"]: "Recheck SBP"})
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as connection:
            connection.execute(text("UPDATE handovernote SET recommendation = 'changed'"))


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_the_apps_postgresql_role_writes_and_acknowledges_but_cannot_rewrite_a_handover(engine, ward):
    """`il2-monitor db app-role`: SELECT and INSERT only on the three handover tables."""
    import os

    from monitoring.store.db import make_engine
    from monitoring.store.db_roles import grant_app_role
    role = f"il2_handover_test_{os.getpid()}"
    granted = grant_app_role(engine, role)
    assert {"handover", "handovernote", "handoveracknowledgement"} <= set(granted["SELECT, INSERT"])
    app = make_engine(engine.url.set(username=role, password=None).render_as_string(hide_password=False))
    try:
        save(app, ward["ward"], {ward["b1"]: "Recheck SBP"})
        acknowledge(app, ward["ward"])
        for statement in ("UPDATE handovernote SET recommendation = 'changed'", "TRUNCATE handoveracknowledgement",
                          "DELETE FROM handover"):
            with pytest.raises(DBAPIError, match="permission denied"):
                with app.begin() as connection:
                    connection.execute(text(statement))
    finally:
        app.dispose()
        with engine.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
    assert record(engine, ward["ward"]).notes[ward["b1"]].text == "Recheck SBP"
