"""Issue 18 item 1: the open-alerts bar counts what needs attention on the user's wards, names the
newest emergency with its bed, and reports each new emergency and escalation once, after the moment
the bar last looked."""
from __future__ import annotations

from datetime import timedelta

from monitoring.services.alerting import sync_alerts
from monitoring.store.db import session_scope
from monitoring.store.models import Patient
from monitoring.views.alerts import alert_bar
from tests.factories import NOW, make_patient_with_course
from tests.services.test_alert_actions import SHOCK_SET, do, record, sepsis_alert, sync


def ward_of(engine, patient_id: int) -> int:
    with session_scope(engine) as session:
        return session.get(Patient, patient_id).ward_id


def look(engine, ward_id, now=NOW, after=None):
    with session_scope(engine) as session:
        return alert_bar(session=session, ward_ids=[ward_id], now=now, after_ids=after)


def test_the_bar_counts_what_needs_attention_and_names_the_newest_emergency_by_bed(engine):
    patient_id, alert = sepsis_alert(engine)                 # urgent: qSOFA positive
    ward = ward_of(engine, patient_id)
    bar = look(engine, ward)
    assert bar.counts == {"urgent": 1} and bar.newest_emergency is None
    record(engine, patient_id, 1, *SHOCK_SET)
    sync(engine)
    bar = look(engine, ward)
    assert bar.counts.get("emergency", 0) >= 1
    assert (bar.newest_emergency["bed"], bar.newest_emergency["ward"]) == ("B1", "Test ward")
    assert look(engine, ward + 1000).counts == {}             # another ward's alerts are not this user's


def test_a_snoozed_alert_leaves_the_count_until_its_snooze_ends(engine):
    patient_id, alert = sepsis_alert(engine)
    ward = ward_of(engine, patient_id)
    do(engine, alert.id, "snooze", snooze_minutes=30)
    assert look(engine, ward, now=NOW + timedelta(minutes=10)).counts == {}
    assert look(engine, ward, now=NOW + timedelta(minutes=31)).counts == {"urgent": 1}


def test_new_emergencies_and_escalations_are_reported_once_after_the_last_look(engine):
    patient_id, alert = sepsis_alert(engine)
    ward = ward_of(engine, patient_id)
    first = look(engine, ward)                                   # the first look reports nothing old
    assert first.events == []
    # Stamped two minutes BEFORE the clock of any later look: found all the same (ids, not clocks).
    do(engine, alert.id, "escalate", escalate_to="role:nurse", at=NOW - timedelta(minutes=2))
    second = look(engine, ward, after=first.last_ids)
    assert [(e["kind"], e["to"], e["by"], e["bed"]) for e in second.events] == [
        ("escalated", "role:nurse", "dr.a", "B1")]
    assert look(engine, ward, after=second.last_ids).events == []   # told once
    # Another patient of the ward whose first set is a septic-shock pattern: a new emergency.
    other, _ = make_patient_with_course(engine, mrn="SYN-TEST-2")
    record(engine, other, 0, *SHOCK_SET, now=NOW + timedelta(minutes=5))
    with session_scope(engine) as session:
        sync_alerts(session=session, now=NOW + timedelta(minutes=5))
    events = look(engine, ward, after=second.last_ids).events
    assert ("new emergency", "sepsis-screen", "septic shock pattern") in [
        (e["kind"], e["rule_id"], e["level"]) for e in events]
    assert all(e["severity"] == "emergency" for e in events)


def test_an_alert_that_rises_to_emergency_on_its_own_row_is_reported_once(engine):
    """qSOFA positive (urgent), then a septic-shock set on the same episode: the stored row is updated,
    not added, and the bar says it is now an emergency (the row's first_seen_at is old)."""
    patient_id, alert = sepsis_alert(engine)
    ward = ward_of(engine, patient_id)
    before = look(engine, ward)
    record(engine, patient_id, 1, *SHOCK_SET)
    sync(engine)
    after = look(engine, ward, after=before.last_ids)
    rose = [(e["kind"], e["alert_id"], e["level"]) for e in after.events if e["kind"] == "now an emergency"]
    assert rose == [("now an emergency", alert.id, "septic shock pattern")]
    assert look(engine, ward, after=after.last_ids).events == []
