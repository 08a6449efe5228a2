"""Auto-resolve (issue 18 item 3): an alert whose criteria no longer hold at the latest data is resolved
by the engine with what was measured, kept in the history, and reopened if the criteria come back;
an urgent or emergency alert nobody has acknowledged, a febrile-neutropenia alert and an IL-2 hold are
never closed automatically; a return inside the episode gap is not announced again. The engine's
clearance itself is tested at its boundaries in tests/clinical/clearance.csv. SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from monitoring.clinical.alert_handling import alert_handling
from monitoring.clinical.inputs import ObservationInput
from monitoring.clinical.rules import febrile_neutropenia, news2, sepsis
from monitoring.clinical.rules.evidence import render
from monitoring.services.alert_actions import history, inbox
from monitoring.store.db import session_scope
from monitoring.store.models import Alert, AuditEvent, Patient
from monitoring.views.alerts import alert_bar
from tests.factories import NOW, make_patient_with_course
from tests.services.test_alert_actions import BASELINE_SET, QSOFA_SET, do, record, sync, the_alert


def full_set(**changed) -> tuple[ObservationInput, ...]:
    """The normal complete set with some values changed (resp_rate=25: a red score)."""
    return tuple(ObservationInput(v.code, changed.get(v.code, v.value)) for v in BASELINE_SET)


RED_SET = full_set(resp_rate=25)


def actions(engine, alert_id: int) -> list[tuple[str, str, str | None]]:
    with session_scope(engine) as session:
        return [(a.action, a.by, a.note) for a in history(session=session, alert_id=alert_id)]


def in_inbox(engine, patient_id: int) -> list[int]:
    with session_scope(engine) as session:
        return inbox(session=session, patient_ids=[patient_id], now=NOW)["id"].tolist()


# --- the policy ([alert_handling] in data/thresholds.toml) ----------------------------------------

@pytest.mark.parametrize("rule_id, severity, status, allowed", [
    ("news2", "warning", "open", True),              # a warning nobody needs to sign off
    ("news2", "warning", "snoozed", True),
    ("news2", "warning", "escalated", True),
    ("news2", "urgent", "open", False),              # urgent, not acknowledged: stays
    ("news2", "urgent", "escalated", False),         # passed on is not acknowledged
    ("news2", "urgent", "snoozed", False),
    ("news2", "urgent", "acknowledged", True),
    ("news2", "urgent", "declined", True),
    ("sepsis-screen", "emergency", "open", False),
    ("sepsis-screen", "emergency", "acknowledged", True),
    ("febrile-neutropenia", "urgent", "acknowledged", False),   # never: a clinician closes it
    ("il2-hold", "urgent", "acknowledged", False),
    ("il2-hold", "warning", "open", False),
    ("il2-incomplete-check", "warning", "open", False),
    ("news2", "warning", "resolved", False),         # already closed
    ("news2", "warning", "retracted", False),
])
def test_which_alerts_the_engine_may_resolve(rule_id, severity, status, allowed):
    assert alert_handling().may_auto_resolve(rule_id=rule_id, severity=severity, status=status) is allowed


# --- the store ------------------------------------------------------------------------------------

def test_a_warning_whose_criteria_no_longer_hold_is_resolved_with_what_was_measured(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 4, *RED_SET)
    sync(engine)
    alert = the_alert(engine, news2.RULE.id)
    assert (alert.severity, alert.status, alert.cleared_at) == ("warning", "open", None)
    record(engine, patient_id, 1, *BASELINE_SET)
    counts = sync(engine)
    after = the_alert(engine, news2.RULE.id)
    assert counts["resolved"] == 1 and after.status == "resolved"
    assert after.cleared_at == NOW - timedelta(hours=1)
    # Kept in the history with the engine's note; gone from the inbox.
    assert actions(engine, alert.id) == [("auto-resolve", "engine",
                                          "criteria no longer met: NEWS2 0 at 2026-11-27 09:00Z")]
    assert alert.id not in in_inbox(engine, patient_id)
    assert sync(engine)["resolved"] == 0   # evaluated again: nothing more recorded
    assert len(actions(engine, alert.id)) == 1


def test_the_criteria_coming_back_in_the_episode_gap_reopen_the_alert_without_announcing_it(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 5, *RED_SET)
    record(engine, patient_id, 3, *BASELINE_SET)
    sync(engine)
    alert = the_alert(engine, news2.RULE.id)
    assert alert.status == "resolved"
    with session_scope(engine) as session:
        ward_id = session.get(Patient, patient_id).ward_id
        before = alert_bar(session=session, ward_ids=[ward_id], now=NOW).last_ids
    record(engine, patient_id, 1, *RED_SET)   # 4 h later, inside the 12 h NEWS2 episode gap
    counts = sync(engine)
    after = the_alert(engine, news2.RULE.id)   # one alert: the same episode
    assert after.id == alert.id and after.status == "open" and after.cleared_at is None
    assert counts["returned"] == 1 and counts["reopened"] == 0
    assert [a[0] for a in actions(engine, alert.id)] == ["auto-resolve", "reopen"]
    assert actions(engine, alert.id)[1][2].startswith("criteria met again: ")
    assert alert.id in in_inbox(engine, patient_id)
    with session_scope(engine) as session:
        assert alert_bar(session=session, ward_ids=[ward_id], now=NOW, after_ids=before).events == []
        evaluated = session.scalars(select(AuditEvent).where(AuditEvent.action == "evaluate")
                                    .order_by(AuditEvent.id.desc())).first()
        assert evaluated.after["returned"] == 1 and "reopened_alerts" not in evaluated.after


def test_after_the_episode_gap_a_new_alert_starts_and_the_resolved_one_stays_resolved(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 30, *RED_SET)
    record(engine, patient_id, 28, *BASELINE_SET)
    record(engine, patient_id, 1, *RED_SET)   # 27 h after the last red score: beyond the 12 h gap
    sync(engine)
    with session_scope(engine) as session:
        statuses = [a.status for a in session.scalars(select(Alert).where(Alert.rule_id == news2.RULE.id)
                                                      .order_by(Alert.onset_at)).all()]
    assert statuses == ["resolved", "open"]


def test_an_urgent_alert_nobody_acknowledged_stays_open_and_says_its_criteria_are_no_longer_met(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, *QSOFA_SET)
    record(engine, patient_id, 1, *BASELINE_SET)
    counts = sync(engine)
    alert = the_alert(engine, sepsis.RULE.id)
    assert (alert.severity, alert.status, counts["resolved"]) == ("urgent", "open", 0)
    assert alert.cleared_at == NOW - timedelta(hours=1)
    assert render(alert.cleared_evidence) == "NEWS2 0, qSOFA 0, SIRS 0 at 2026-11-27 09:00Z"
    assert alert.id in in_inbox(engine, patient_id)
    # Once a clinician acknowledges it, the next evaluation closes it.
    do(engine, alert.id, "acknowledge")
    assert sync(engine)["resolved"] == 1
    assert the_alert(engine, sepsis.RULE.id).status == "resolved"


@pytest.mark.parametrize("action, status", [("escalate", "escalated"), ("snooze", "snoozed")])
def test_an_urgent_alert_escalated_or_snoozed_is_not_acknowledged_and_stays(engine, action, status):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, *QSOFA_SET)
    sync(engine)
    alert = the_alert(engine, sepsis.RULE.id)
    do(engine, alert.id, action, snooze_minutes=60 if action == "snooze" else None)
    record(engine, patient_id, 1, *BASELINE_SET)
    assert sync(engine)["resolved"] == 0
    assert the_alert(engine, sepsis.RULE.id).status == status


def test_febrile_neutropenia_is_never_closed_automatically_even_when_acknowledged(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 6, ObservationInput("temperature", "38.4"), ObservationInput("anc", "0.3"))
    sync(engine)
    alert = the_alert(engine, febrile_neutropenia.RULE.id)
    do(engine, alert.id, "acknowledge")
    record(engine, patient_id, 1, *BASELINE_SET, ObservationInput("anc", "0.3"))
    sync(engine)
    assert the_alert(engine, febrile_neutropenia.RULE.id).status == "acknowledged"
