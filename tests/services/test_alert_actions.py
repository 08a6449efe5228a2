"""The alert inbox and the actions on alerts (issue 6): each action records who, what and when; the
refusals say what is needed; a handled alert that gets worse reopens; a snooze that ends brings the
alert back; the acknowledgement latency keeps 'no response yet' apart from zero. Database tests run
on SQLite and, with TEST_DATABASE_URL, PostgreSQL; the page is driven through AppTest."""
from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import streamlit as st
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from monitoring.clinical.alert_levels import is_worse, level_rank
from monitoring.clinical.inputs import ObservationInput
from monitoring.clinical.rules import aki, capillary_leak, febrile_neutropenia, il2_hold, news2, sepsis
from monitoring.clinical.vocabulary import ALERT_ACTIONS
from monitoring.errors import RecordError
from monitoring.services import alert_actions, auth, doses
from monitoring.services.alert_actions import acknowledgement_latency, act, history, inbox
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import current_revision, make_engine, session_scope, upgrade
from monitoring.store.models import Alert, AlertAction, AuditEvent
from tests.app_helpers import disable_account, idle_past_the_time_out, signed_in
from tests.factories import NOW, make_patient_with_course

QSOFA_SET = (ObservationInput("resp_rate", 22), ObservationInput("sbp", 100), ObservationInput("consciousness", "A"))
SHOCK_SET = (ObservationInput("resp_rate", 24), ObservationInput("sbp", 85), ObservationInput("consciousness", "A"),
             ObservationInput("lactate", "3.1"))
BASELINE_SET = tuple(ObservationInput(code, value) for code, value in (
    ("resp_rate", 16), ("spo2", 97), ("on_oxygen", "no"), ("sbp", 125), ("heart_rate", 80), ("consciousness", "A"),
    ("temperature", "36.8")))
NOTES = {"acknowledge": "fluid bolus 500 mL given", "decline": "known chronic hypotension",
         "escalate": "to the ICU outreach team: SBP falling", "snooze": "bolus running, Dr A reviews at 1 h",
         "resolve": "SBP back to 110"}


# --- level ranking (pure) --------------------------------------------------------------------------

@pytest.mark.parametrize("rule_id, worse, better", [
    (il2_hold.RULE.id, "permanently discontinue", "hold"),
    (il2_hold.RULE.id, "hold", "discuss"),
    (il2_hold.RULE.id, "discuss", "a level the rule does not give"),
    (sepsis.RULE.id, "septic shock pattern", "qSOFA positive"),
    (sepsis.RULE.id, "NEWS2 emergency threshold: think sepsis", "NEWS2 urgent threshold: think sepsis"),
    (sepsis.RULE.id, "qSOFA positive", "rigors outside the IL-2 post-dose window"),
    (news2.RULE.id, "emergency response threshold", "urgent response threshold"),
    (news2.RULE.id, "urgent response threshold", "red score: a single parameter scoring 3"),
    (aki.RULE.id, "KDIGO stage 3 (urine output)", "KDIGO stage 2 (creatinine)"),
    (aki.RULE.id, "KDIGO stage 2 (creatinine)", "KDIGO stage 1 (urine output)"),
    (aki.RULE.id, "KDIGO stage 1 (creatinine)", "urine output not staged: no weight"),
    (capillary_leak.RULE.id, "weight gain above the Dutcher relative criterion", "weight gain at the warning level"),
])
def test_levels_rank_within_their_rule(rule_id, worse, better):
    assert level_rank(rule_id, worse) > level_rank(rule_id, better)


@pytest.mark.parametrize("rule_id, level", [
    (febrile_neutropenia.RULE.id, "febrile neutropenia (IDSA 2010)"),   # one level only
    ("some-future-rule", "anything"),
    (sepsis.RULE.id, "not a sepsis level"),
    (aki.RULE.id, "stage unknown"),
    (il2_hold.RULE.id, None),
])
def test_rules_without_levels_and_unknown_levels_rank_zero(rule_id, level):
    assert level_rank(rule_id, level) == 0


@pytest.mark.parametrize("old, new, worse", [
    (("urgent", "KDIGO stage 2 (creatinine)"), ("urgent", "KDIGO stage 3 (creatinine)"), True),   # level, same severity
    (("urgent", "KDIGO stage 3 (creatinine)"), ("urgent", "KDIGO stage 2 (creatinine)"), False),
    (("urgent", "KDIGO stage 2 (creatinine)"), ("urgent", "KDIGO stage 2 (creatinine)"), False),  # equal
    (("warning", "KDIGO stage 3 (creatinine)"), ("urgent", "KDIGO stage 1 (creatinine)"), True),  # severity first
    (("urgent", "KDIGO stage 1 (creatinine)"), ("warning", "KDIGO stage 3 (creatinine)"), False),
    ((None, "KDIGO stage 2 (creatinine)"), ("urgent", "KDIGO stage 3 (creatinine)"), True),   # no severity: level
    ((None, "KDIGO stage 2 (creatinine)"), ("emergency", "KDIGO stage 2 (creatinine)"), False),
])
def test_worse_compares_severity_then_level(old, new, worse):
    assert is_worse(old_severity=old[0], old_level=old[1], new_severity=new[0], new_level=new[1],
                    rule_id=aki.RULE.id) is worse


def test_every_action_has_a_status_and_a_permission():
    assert set(alert_actions.ACTION_STATUS) == set(ALERT_ACTIONS) == set(alert_actions.ACTION_PERMISSION)


# --- helpers ---------------------------------------------------------------------------------------

def record(engine, patient_id, hours_before_now, *values, source="manual", now=NOW):
    at = now - timedelta(hours=hours_before_now)
    with session_scope(engine) as session:  # entered at the bedside, as it was observed
        return repository.add_observation_set(session=session, patient_id=patient_id, values=list(values),
                                              observed_at=at, recorded_by="nurse.a", now=at, source=source)


def sync(engine, now=NOW) -> dict[str, int]:
    with session_scope(engine) as session:
        return sync_alerts(session=session, now=now)


def the_alert(engine, rule_id: str) -> Alert:
    with session_scope(engine) as session:
        return session.scalars(select(Alert).where(Alert.rule_id == rule_id)).one()


_USUAL = object()  # the note NOTES gives the action


def do(engine, alert_id, action, *, role="oncologist", username="dr.a", note=_USUAL, at=NOW, **kwargs) -> AlertAction:
    if action == "escalate":
        kwargs.setdefault("escalate_to", "role:oncologist")
    with session_scope(engine) as session:
        return act(session=session, alert_id=alert_id, action=action, username=username, role=role,
                   note=NOTES.get(action) if note is _USUAL else note, now=at, **kwargs)


def sepsis_alert(engine) -> tuple[int, Alert]:
    """A patient whose qSOFA-positive set raised an urgent sepsis-screen alert."""
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, *QSOFA_SET)
    sync(engine)
    alert = the_alert(engine, sepsis.RULE.id)
    assert (alert.severity, alert.level, alert.status) == ("urgent", "qSOFA positive", "open")
    return patient_id, alert


def actions_and_audit(engine) -> tuple[list[AlertAction], list[AuditEvent]]:
    with session_scope(engine) as session:
        return (session.scalars(select(AlertAction).order_by(AlertAction.id)).all(),
                session.scalars(select(AuditEvent).where(AuditEvent.action.like("alert-%"))
                                .order_by(AuditEvent.id)).all())


# --- the actions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("action, status", list(alert_actions.ACTION_STATUS.items()))
def test_each_action_records_who_what_when_and_the_level_and_sets_the_status(engine, action, status):
    _, alert = sepsis_alert(engine)
    minutes = 60 if action == "snooze" else None   # an urgent alert: at most 1 h
    row = do(engine, alert.id, action, snooze_minutes=minutes, at=NOW + timedelta(minutes=5))
    after = the_alert(engine, sepsis.RULE.id)
    rows, audit = actions_and_audit(engine)
    assert after.status == status
    assert [(r.action, r.by, r.at, r.note, r.level_at_action, r.severity_at_action) for r in rows] == [
        (action, "dr.a", NOW + timedelta(minutes=5), NOTES[action], "qSOFA positive", "urgent")]
    expected_until = NOW + timedelta(minutes=65) if action == "snooze" else None
    assert rows[0].snooze_until == after.snoozed_until == expected_until and row.id == rows[0].id
    assert [(e.username, e.action, e.entity, e.entity_id) for e in audit] == [
        ("dr.a", f"alert-{action}", "alert", str(alert.id))]
    assert audit[0].before["status"] == "open" and audit[0].after["status"] == status


def test_an_action_after_a_snooze_ends_the_snooze(engine):
    _, alert = sepsis_alert(engine)
    do(engine, alert.id, "snooze", snooze_minutes=60)
    do(engine, alert.id, "acknowledge", at=NOW + timedelta(minutes=10))
    after = the_alert(engine, sepsis.RULE.id)
    assert (after.status, after.snoozed_until) == ("acknowledged", None)


@pytest.mark.parametrize("action, kwargs, message", [
    ("acknowledge", {"note": None}, "Say what action was taken to acknowledge the alert"),
    ("acknowledge", {"note": "   "}, "Say what action was taken"),
    ("decline", {"note": None}, "Give the reason for declining the alert"),
    ("escalate", {"note": ""}, "Say why the alert is escalated"),
    ("escalate", {"escalate_to": None},
     "Name whom the alert is escalated to \\(a role or a person\\): '' is not one of role:oncologist, role:nurse"),
    ("escalate", {"escalate_to": "role:quality"}, "'role:quality' is not one of"),
    ("acknowledge", {"escalate_to": "role:oncologist"}, "Only an escalation names whom it goes to"),
    ("snooze", {}, "Choose how long to snooze the alert: 15, 30, 60 minutes"),
    ("snooze", {"snooze_minutes": 45}, r"A snooze of 45 minutes is not accepted for an urgent alert \(at most 1 h: "
                                       r"thresholds.toml \[alert_handling\]\); snooze for 15, 30, 60 minutes"),
    # RCP 2017 Chart 4: a medium score needs hourly observations, so an urgent alert waits at most 60 min.
    ("snooze", {"snooze_minutes": 120}, "A snooze of 120 minutes is not accepted for an urgent alert"),
    ("snooze", {"snooze_minutes": 10_000}, "not accepted"),
    ("snooze", {"snooze_minutes": 30, "note": None}, "Give the reason for snoozing an urgent alert"),
    ("snooze", {"snooze_minutes": 30, "note": "  "}, "Give the reason for snoozing an urgent alert"),
    ("acknowledge", {"snooze_minutes": 60}, "Only a snooze takes a duration"),
    ("silence", {}, "Action 'silence' is not known; accepted: acknowledge, decline, escalate, snooze, resolve"),
])
def test_an_incomplete_action_is_refused_with_what_is_needed_and_nothing_is_written(engine, action, kwargs, message):
    _, alert = sepsis_alert(engine)
    with pytest.raises(RecordError, match=message):
        do(engine, alert.id, action, **{"note": NOTES.get(action), **kwargs})
    assert actions_and_audit(engine) == ([], [])
    assert the_alert(engine, sepsis.RULE.id).status == "open"


def test_resolve_needs_no_note_and_an_unknown_alert_is_refused(engine):
    _, alert = sepsis_alert(engine)
    assert do(engine, alert.id, "resolve", note=None).note is None
    with pytest.raises(RecordError, match="Alert 999999 does not exist"):
        do(engine, 999_999, "acknowledge")


def test_a_retracted_alert_cannot_be_acted_on(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, ObservationInput("temperature", "38.6"))
    anc = record(engine, patient_id, 2, ObservationInput("anc", "0.3"), source="lab-import")
    sync(engine)
    with session_scope(engine) as session:
        repository.mark_entered_in_error(session=session, observation_id=anc.observations[0].id,
                                         reason="Sample from another patient", recorded_by="lab")
    sync(engine)
    alert = the_alert(engine, febrile_neutropenia.RULE.id)
    assert alert.status == "retracted"
    with pytest.raises(RecordError, match="This alert was retracted: the data behind it were corrected"):
        do(engine, alert.id, "acknowledge")
    assert actions_and_audit(engine) == ([], [])


def test_a_nurse_may_escalate_but_not_acknowledge_decline_snooze_or_resolve(engine):
    _, alert = sepsis_alert(engine)
    for action in ("acknowledge", "decline", "resolve"):
        with pytest.raises(auth.PermissionDenied,
                           match=r"Your role \(nurse\) may not act on alerts; allowed: oncologist"):
            do(engine, alert.id, action, role="nurse", username="nurse.a")
    with pytest.raises(auth.PermissionDenied):
        do(engine, alert.id, "snooze", role="nurse", username="nurse.a", snooze_minutes=30)
    with pytest.raises(auth.PermissionDenied, match="may not escalate alerts"):
        do(engine, alert.id, "escalate", role="quality", username="qa")
    assert actions_and_audit(engine) == ([], [])
    do(engine, alert.id, "escalate", role="nurse", username="nurse.a")
    assert the_alert(engine, sepsis.RULE.id).status == "escalated"
    assert [r.by for r in actions_and_audit(engine)[0]] == ["nurse.a"]


def test_an_alert_outside_the_users_wards_is_refused(engine):
    _, alert = sepsis_alert(engine)
    with session_scope(engine) as session:
        other = repository.get_or_create_ward(session=session, code="OTHER", name="Other ward").id
    with pytest.raises(RecordError, match="outside your wards"):
        do(engine, alert.id, "escalate", role="nurse", username="nurse.b", ward_ids=[other])
    with session_scope(engine) as session:
        own = session.get(repository.Patient, alert.patient_id).ward_id
    do(engine, alert.id, "escalate", role="nurse", username="nurse.a", ward_ids=[own])
    do(engine, alert.id, "acknowledge", ward_ids=[])  # an oncologist sees every ward


# --- reopening when worse --------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["snooze", "acknowledge", "decline", "resolve"])
def test_a_handled_alert_that_gets_worse_is_open_again(engine, action):
    patient_id, alert = sepsis_alert(engine)
    do(engine, alert.id, action, snooze_minutes=60 if action == "snooze" else None)
    record(engine, patient_id, 2, *SHOCK_SET)
    counts = sync(engine)
    after = the_alert(engine, sepsis.RULE.id)
    assert after.id == alert.id and (after.severity, after.level) == ("emergency", "septic shock pattern")
    assert (after.status, after.snoozed_until) == ("open", None)
    # The shock set also raises its NEWS2 response (new); the sepsis screen is updated and reopened.
    assert counts == {"new": 1, "updated": 1, "retracted": 0, "reopened": 1, "resolved": 0, "returned": 0}
    with session_scope(engine) as session:
        evaluated = session.scalars(select(AuditEvent).where(AuditEvent.action == "evaluate")
                                    .order_by(AuditEvent.id.desc())).first()
        shown = inbox(session=session, patient_ids=[patient_id], now=NOW)
    assert evaluated.after["reopened"] == 1 and evaluated.after["reopened_alerts"] == [alert.id]
    row = shown.iloc[0]
    assert row["id"] == alert.id and row["status_text"] == "open" and bool(row["worse_since_action"])
    assert (row["last_action"], row["severity_at_last_action"], row["level_at_last_action"]) == (
        action, "urgent", "qSOFA positive")


def test_a_higher_stage_of_the_same_severity_reopens_an_acknowledged_alert(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, ObservationInput("creatinine", "1.9"), source="lab-import")
    sync(engine)
    alert = the_alert(engine, aki.RULE.id)
    assert (alert.severity, alert.level) == ("urgent", "KDIGO stage 2 (creatinine)")
    do(engine, alert.id, "acknowledge")
    record(engine, patient_id, 1, ObservationInput("creatinine", "2.8"), source="lab-import")
    assert sync(engine)["reopened"] == 1
    after = the_alert(engine, aki.RULE.id)
    assert (after.severity, after.level, after.status) == ("urgent", "KDIGO stage 3 (creatinine)", "open")


@pytest.mark.parametrize("correction, level", [
    (("resp_rate", 23), "qSOFA positive"),   # evidence changes, the level stays: equal
    (("resp_rate", 18), None),           # qSOFA 1: the finding is gone
])
def test_an_equal_re_evaluation_keeps_a_snoozed_alert_snoozed(engine, correction, level):
    patient_id, alert = sepsis_alert(engine)
    do(engine, alert.id, "snooze", snooze_minutes=60)
    with session_scope(engine) as session:
        first = repository.current_observations(session=session, patient_ids=[patient_id], codes=[correction[0]])
        repository.amend_observation(session=session, observation_id=int(first["id"].iloc[0]), value=correction[1],
                                     reason="transcription error", recorded_by="nurse.a", now=NOW)
    counts = sync(engine)
    after = the_alert(engine, sepsis.RULE.id)
    assert counts["reopened"] == 0
    if level is None:  # a finding corrected away is retracted, as before this issue
        assert after.status == "retracted"
        return
    assert counts["updated"] == 1 and "RR 23/min" in after.evidence_text and after.level == level
    assert (after.status, after.snoozed_until) == ("snoozed", NOW + timedelta(minutes=60))


def test_a_better_re_evaluation_keeps_a_snoozed_alert_snoozed(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, *SHOCK_SET)
    sync(engine)
    alert = the_alert(engine, sepsis.RULE.id)
    assert alert.severity == "emergency"
    do(engine, alert.id, "snooze", snooze_minutes=30)
    with session_scope(engine) as session:
        lactate = repository.current_observations(session=session, patient_ids=[patient_id], codes=["lactate"])
        repository.amend_observation(session=session, observation_id=int(lactate["id"].iloc[0]), value="1.2",
                                     reason="haemolysed sample repeated", recorded_by="lab", now=NOW)
    counts = sync(engine)
    after = the_alert(engine, sepsis.RULE.id)
    assert counts["updated"] == 1 and counts["reopened"] == 0
    assert (after.severity, after.status) == ("urgent", "snoozed")


# --- the inbox -------------------------------------------------------------------------------------

def test_a_snooze_that_ends_brings_the_alert_back_to_the_inbox(engine):
    patient_id, alert = sepsis_alert(engine)
    do(engine, alert.id, "snooze", snooze_minutes=30, note="reassess after the bolus")

    def listed(minutes_later: float, **kwargs) -> pd.DataFrame:
        with session_scope(engine) as session:
            return inbox(session=session, patient_ids=[patient_id], now=NOW + timedelta(minutes=minutes_later),
                         **kwargs)

    assert listed(29).empty
    handled = listed(29, include_handled=True)
    assert handled[["status", "status_text", "needs_attention"]].values.tolist() == [["snoozed", "snoozed", False]]
    back = listed(30)
    assert back[["status", "status_text", "needs_attention", "snooze_ended"]].values.tolist() == [
        ["snoozed", "open · snooze ended", True, True]]
    assert back["snoozed_until"].iloc[0] == NOW + timedelta(minutes=30)
    assert (back["last_action"].iloc[0], back["last_action_note"].iloc[0]) == ("snooze", "reassess after the bolus")


def _stored_alert(session, patient_id, rule_id, severity, onset_hours_before, status="open") -> int:
    alert = Alert(alert_key=f"{patient_id}-{rule_id}-{onset_hours_before}", patient_id=patient_id, rule_id=rule_id,
                  rule_version="1.0", onset_at=NOW - timedelta(hours=onset_hours_before), level=f"{severity} level",
                  severity=severity, evidence_text=f"evidence of {rule_id}", standard="a standard",
                  context="IL-2 dose 2 given 3 h before", status=status, first_seen_at=NOW, last_evaluated_at=NOW)
    session.add(alert)
    session.flush()
    return alert.id


def test_the_inbox_lists_most_severe_first_then_newest_onset_with_the_patient_and_the_basis(engine):
    first, _ = make_patient_with_course(engine, mrn="SYN-1")
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="T", name="Test ward")
        bed = repository.get_or_create_bed(session=session, ward_id=ward.id, label="B2")
        second = repository.add_patient(session=session, mrn="MRN-2", given_name="Ann", family_name="Real",
                                        recorded_by="t", ward_id=ward.id, bed_id=bed.id).id
        ids = {
            "urgent old": _stored_alert(session, first, "aki", "urgent", 10),
            "warning new": _stored_alert(session, second, "il2-hold", "warning", 1),
            "urgent new": _stored_alert(session, second, "febrile-neutropenia", "urgent", 2),
            "emergency oldest": _stored_alert(session, first, "sepsis-screen", "emergency", 20),
            "info": _stored_alert(session, first, "il2-expected-effect", "info", 0.5),
            "escalated": _stored_alert(session, first, "capillary-leak", "warning", 5, status="escalated"),
            "acknowledged": _stored_alert(session, second, "aki", "urgent", 3, status="acknowledged"),
            "retracted": _stored_alert(session, second, "sepsis-screen", "emergency", 4, status="retracted"),
        }
    name = {v: k for k, v in ids.items()}
    with session_scope(engine) as session:
        default = inbox(session=session, patient_ids=[first, second], now=NOW)
        everything = inbox(session=session, patient_ids=[first, second], now=NOW, include_handled=True,
                           include_info=True)
        one = inbox(session=session, patient_ids=[second], now=NOW)
    assert [name[i] for i in default["id"]] == ["emergency oldest", "urgent new", "urgent old", "warning new",
                                                "escalated"]
    assert [name[i] for i in everything["id"]] == ["emergency oldest", "urgent new", "acknowledged", "urgent old",
                                                   "warning new", "escalated", "info"]
    assert [name[i] for i in one["id"]] == ["urgent new", "warning new"]
    row = default.iloc[0]
    assert (row["bed"], row["patient"], row["mrn"], row["ward"]) == ("B1", "Person, Test (synthetic)", "SYN-1",
                                                                     "Test ward")
    assert (row["evidence_text"], row["standard"], row["context"]) == (
        "evidence of sepsis-screen", "a standard", "IL-2 dose 2 given 3 h before")
    assert default.iloc[1]["patient"] == "Real, Ann" and pd.isna(row["last_action"])


def test_the_inbox_shows_the_last_action_with_who_when_and_note(engine):
    patient_id, alert = sepsis_alert(engine)
    with session_scope(engine) as session:
        auth.add_user(session=session, username="nurse.a", display_name="Nurse Able", role="nurse",
                      password="long-enough-1", created_by="t", ward_codes=["T"])
    do(engine, alert.id, "escalate", role="nurse", username="nurse.a", note="called the registrar",
       at=NOW + timedelta(minutes=3))
    with session_scope(engine) as session:
        row = inbox(session=session, patient_ids=[patient_id], now=NOW + timedelta(minutes=4)).iloc[0]
    assert (row["status_text"], row["last_action"], row["last_action_by"], row["last_action_by_name"],
            row["last_action_note"]) == ("escalated", "escalate", "nurse.a", "Nurse Able", "called the registrar")
    assert row["last_action_at"] == NOW + timedelta(minutes=3) and not row["worse_since_action"]


# --- history and latency ---------------------------------------------------------------------------

def test_the_history_lists_every_action_oldest_first(engine):
    _, alert = sepsis_alert(engine)
    assert [] == _history(engine, alert.id)
    do(engine, alert.id, "escalate", role="nurse", username="nurse.a", at=NOW + timedelta(minutes=1))
    do(engine, alert.id, "snooze", snooze_minutes=60, at=NOW + timedelta(minutes=20))
    do(engine, alert.id, "acknowledge", username="dr.b", at=NOW + timedelta(minutes=90))
    rows = _history(engine, alert.id)
    assert [(r.action, r.by, r.at - NOW) for r in rows] == [
        ("escalate", "nurse.a", timedelta(minutes=1)), ("snooze", "dr.a", timedelta(minutes=20)),
        ("acknowledge", "dr.b", timedelta(minutes=90))]
    assert rows[1].snooze_until == NOW + timedelta(minutes=80) and rows[2].note == NOTES["acknowledge"]


def _history(engine, alert_id):
    with session_scope(engine) as session:
        return history(session=session, alert_id=alert_id)


def test_acknowledgement_latency_is_the_first_response_and_missing_is_never_zero(engine):
    patient_id, _ = make_patient_with_course(engine)
    with session_scope(engine) as session:
        ids = [_stored_alert(session, patient_id, rule, "urgent", 1) for rule in ("aki", "sepsis-screen",
                                                                                  "il2-hold", "capillary-leak")]
    acknowledged, unanswered, snoozed_only, escalated_first = ids
    do(engine, acknowledged, "acknowledge", at=NOW + timedelta(minutes=12))
    do(engine, snoozed_only, "snooze", snooze_minutes=30, at=NOW + timedelta(minutes=2))
    do(engine, escalated_first, "escalate", role="nurse", username="nurse.a", at=NOW + timedelta(minutes=7, seconds=30))
    do(engine, escalated_first, "acknowledge", at=NOW + timedelta(minutes=40))
    with session_scope(engine) as session:
        latency = acknowledgement_latency(session=session).set_index("alert_id")
        nobody = acknowledgement_latency(session=session, patient_ids=[patient_id + 1])
    assert latency.loc[acknowledged, "latency_minutes"] == 12.0
    assert latency.loc[acknowledged, "first_response"] == "acknowledge"
    assert latency.loc[escalated_first, ["first_response", "first_response_by", "latency_minutes"]].tolist() == [
        "escalate", "nurse.a", 7.5]
    for no_response in (unanswered, snoozed_only):
        assert pd.isna(latency.loc[no_response, "latency_minutes"])
        assert pd.isna(latency.loc[no_response, "first_response_at"])
    assert latency["latency_minutes"].dtype == "Float64" and latency["latency_minutes"].isna().sum() == 2
    assert nobody.empty and list(nobody.columns) == alert_actions.LATENCY_COLUMNS


# --- schema ----------------------------------------------------------------------------------------

def test_the_models_and_the_migrations_agree(engine):
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []


def test_actions_stay_append_only_after_the_migration(engine):
    _, alert = sepsis_alert(engine)
    do(engine, alert.id, "acknowledge")
    for statement in ("UPDATE alertaction SET note = 'changed'", "DELETE FROM alertaction"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as connection:
                connection.execute(text(statement))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    """A database with no schema at all: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS migration_test CASCADE"))
        connection.execute(text("CREATE SCHEMA migration_test"))
    yield base + ("&" if "?" in base else "?") + "options=-csearch_path%3Dmigration_test"
    with admin.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS migration_test CASCADE"))
    admin.dispose()


@pytest.mark.parametrize("start", [None, "0003"])
def test_upgrade_works_on_a_fresh_database_and_on_one_at_0003(empty_url, start):
    if start is not None:
        upgrade(empty_url, start)
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) == "0019"  # the latest migration
        columns = inspect(engine)
        assert {"reason_criteria", "reason_note"} <= {c["name"] for c in columns.get_columns("doseevent")}
        assert "ix_observation_patient_time" in [i["name"] for i in columns.get_indexes("observation")]
        assert "snoozed_until" in [c["name"] for c in columns.get_columns("alert")]
        assert "severity_at_action" in [c["name"] for c in columns.get_columns("alertaction")]
        patient_id, alert = sepsis_alert(engine)
        do(engine, alert.id, "snooze", snooze_minutes=30)
        assert the_alert(engine, sepsis.RULE.id).snoozed_until == NOW + timedelta(minutes=30)
    finally:
        engine.dispose()


def test_upgrading_a_populated_database_gives_every_patient_a_random_pseudo_id_and_downgrades(empty_url):  # noqa: E501
    """Migration 0010 on a database that already holds patients with clinical rows: its first form
    rebuilt the patient table on SQLite, which the foreign keys refused (found by a second read)."""
    from monitoring.store.db import upgrade as upgrade_to
    upgrade_to(empty_url, "0009")
    engine = make_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO ward (id, code, name, timezone) VALUES (1, 'W1', 'Ward 1', NULL)"))
        for n in (1, 2):
            connection.execute(text("INSERT INTO patient (id, ward_id, is_synthetic, created_at) VALUES "
                                    f"({n}, 1, true, '2026-11-27 08:00:00+00:00')"))
            connection.execute(text(
                "INSERT INTO treatmentcourse (id, patient_id, regimen, cycle, dose_unit, start_at, status, "
                f"after_lymphodepletion, created_at, created_by) VALUES ({n}, {n}, 'hd-iv-bolus', 1, '[IU]/kg', "
                "'2026-11-27 08:00:00+00:00', 'active', false, '2026-11-27 08:00:00+00:00', 'test')"))
    engine.dispose()
    upgrade_to(empty_url, "0010")
    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) == "0010"
        with engine.connect() as connection:
            seeds = connection.execute(text("SELECT pseudo_id FROM patient ORDER BY id")).scalars().all()
            courses = connection.execute(text("SELECT count(*) FROM treatmentcourse")).scalar()
        assert len(seeds) == 2 and len(set(seeds)) == 2 and all(len(s) == 32 for s in seeds) and courses == 2
    finally:
        engine.dispose()
    from alembic import command

    from monitoring.store.db import alembic_config
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            config = alembic_config(empty_url)
            config.attributes["connection"] = connection
            command.downgrade(config, "0009")
        assert current_revision(engine) == "0009"
        assert "pseudo_id" not in {c["name"] for c in inspect(engine).get_columns("patient")}
    finally:
        engine.dispose()
    upgrade_to(empty_url)   # and on to the latest: 0011 drops ward.timezone under the patients' foreign keys,
    engine = make_engine(empty_url)   # 0012 widens the alert levels (declared type only on SQLite)
    try:
        assert current_revision(engine) == "0019"
        assert "timezone" not in {c["name"] for c in inspect(engine).get_columns("ward")}
        levels = {c["name"]: getattr(c["type"], "length", None) for c in inspect(engine).get_columns("alert")}
        assert levels["level"] == 120
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM patient WHERE ward_id = 1")).scalar() == 2
    finally:
        engine.dispose()


# --- the page (AppTest) ----------------------------------------------------------------------------

PAGE = "app_pages/alerts.py"


@pytest.fixture
def app_url(tmp_path, sqlite_template, monkeypatch):
    """Demo accounts; on the nurse's ward, one patient in septic shock (emergency) and one with
    kidney injury (urgent) and an expected IL-2 effect (info); one patient in shock on another ward
    (the factory's test ward), whom the nurse may not see."""
    path = tmp_path / "app.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_resource.clear()  # cache_resource is process-global across AppTests
    engine = make_engine(url)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="DEMO", name="Demo ward")
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    kidney, course = make_patient_with_course(engine, mrn="SYN-KIDNEY", start=now - timedelta(hours=6))
    shock, _ = make_patient_with_course(engine, mrn="SYN-SHOCK", start=now - timedelta(hours=6))
    elsewhere, _ = make_patient_with_course(engine, mrn="SYN-ELSEWHERE", start=now - timedelta(hours=6))
    with session_scope(engine) as session:  # the factory puts every patient in bed B1 of its test ward
        beds = {p: repository.get_or_create_bed(session=session, ward_id=ward.id, label=label).id
                for p, label in ((kidney, "B1"), (shock, "B2"))}
        for patient_id, bed_id in beds.items():
            patient = session.get(repository.Patient, patient_id)
            patient.ward_id, patient.bed_id = ward.id, bed_id
        doses.record(session=session, course_id=course, dose_number=1, status="given",
                      scheduled_at=now - timedelta(hours=6), given_at=now - timedelta(hours=5), dose=48e6,
                      recorded_by="nurse", now=now - timedelta(hours=5),
                      override_by="Dr Test", override_reason="test set-up: no pre-dose observations")
    record(engine, kidney, 5.5, *BASELINE_SET, now=now)  # a full NEWS2 set before the dose: NEWS2 0
    record(engine, kidney, 3, ObservationInput("temperature", "38.4"), ObservationInput("heart_rate", 105), now=now)
    record(engine, kidney, 2, ObservationInput("creatinine", "1.9"), source="lab-import", now=now)
    record(engine, shock, 1, *SHOCK_SET, now=now)
    record(engine, elsewhere, 1, *SHOCK_SET, now=now)
    sync(engine, now=now)
    engine.dispose()
    yield url
    st.cache_resource.clear()


def inbox_page(username: str):
    return signed_in(username, page=PAGE)


def card_controls(at) -> list:
    """The action selector of each alert card (the patients' 'act on all' selectors left out)."""
    return [w for w in at.segmented_control if w.key.startswith("alert_action_")]


def headers(at) -> list[str]:
    """The first line of each alert card as shown (severity, rule, level, patient)."""
    return [m.value for m in at.markdown if "border-left" in m.value]


def card_of(at, url: str, rule_id: str) -> int:
    """The alert id of the card showing `rule_id` (from the keys of its action selector)."""
    stored = stored_alerts(url)
    ids = [int(w.key.rsplit("_", 1)[1]) for w in card_controls(at)]
    return next(i for i in ids if stored[i].rule_id == rule_id)


def stored_alerts(url: str) -> dict[int, Alert]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = {a.id: a for a in session.scalars(select(Alert)).all()}
    engine.dispose()
    return rows


def test_the_inbox_shows_the_wards_alerts_most_severe_first_with_their_basis(app_url):
    at = inbox_page("oncologist")
    assert at.title[0].value == "Alert inbox" and not at.error
    # The oncologist may see every ward.
    assert at.selectbox(key="alerts_ward").options == ["All my wards", "Demo ward", "Test ward"]
    assert any("SYN-ELSEWHERE" in h for h in headers(at))
    at.selectbox(key="alerts_ward").select("Demo ward").run()
    shown = headers(at)
    assert not any("SYN-ELSEWHERE" in h for h in shown)
    assert "EMERGENCY</b> · sepsis-screen · <b>septic shock pattern" in shown[0]
    # The shock set (RR 24, SBP 85: NEWS2 at least 5 of the parameters recorded) also raises its NEWS2
    # response; the kidney injury follows among the urgent ones.
    assert any("URGENT</b> · aki · <b>KDIGO stage 2 (creatinine)" in h and "B1 · Person, Test (synthetic)" in h
               for h in shown[1:])
    assert any("URGENT</b> · news2 · <b>urgent response threshold" in h and "B2 ·" in h for h in shown[1:])
    severities = [re.search(r">(EMERGENCY|URGENT|WARNING|INFO)</b>", h).group(1) for h in shown]
    assert severities == sorted(severities, key=["EMERGENCY", "URGENT", "WARNING", "INFO"].index)
    assert "INFO" not in severities  # the expected IL-2 effect is counted, not listed ...
    toggle = at.toggle(key="show_expected")
    assert toggle.label == "Show expected IL-2 effects (1)"
    assert any("1 expected IL-2 effect (not listed: use the toggle)" in c.value for c in at.caption)
    evidence = [m.value for m in at.markdown if m.value.startswith("**Evidence:**")]
    assert len(evidence) == len(shown) and "lactate 3.1 mmol/L" in evidence[0]
    assert any(m.value.startswith("**IL-2 context:**") for m in at.markdown)
    assert any(c.value.startswith("Standard: ") and "[" in c.value for c in at.caption)
    assert sum(m.value.startswith("No action yet · first seen") for m in at.markdown) == len(shown)
    toggle.set_value(True).run()  # ... until asked for
    assert "INFO</b> · il2-expected-effect" in headers(at)[-1]
    # The patient filter narrows to one patient.
    at.selectbox(key="alerts_patient").select("B2 · Person, Test (synthetic) · SYN-SHOCK").run()
    assert [h.split(" · ")[1] for h in headers(at)] == ["sepsis-screen", "news2"]


def test_an_oncologist_assigned_to_a_ward_opens_on_it_and_every_ward_is_one_choice_away(app_url):
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        auth.set_wards(session=session, user=auth.get_user(session=session, username="oncologist"), ward_codes=["DEMO"])
    engine.dispose()
    at = inbox_page("oncologist")
    box = at.selectbox(key="alerts_ward")
    assert box.options == ["My wards", "All wards", "Demo ward", "Test ward"] and box.value == "My wards"
    assert headers(at) and not any("SYN-ELSEWHERE" in h for h in headers(at))
    box.select("All wards").run()
    assert any("SYN-ELSEWHERE" in h for h in headers(at))


def test_a_nurse_sees_only_her_wards_and_may_only_escalate(app_url):
    at = inbox_page("nurse")
    assert at.selectbox(key="alerts_ward").options == ["All my wards", "Demo ward"]
    assert not any("SYN-ELSEWHERE" in h for h in headers(at)) and headers(at)
    assert all(w.options == ["Escalate"] for w in at.segmented_control)   # a card's and a patient's
    alert_id = card_of(at, app_url, "sepsis-screen")
    at.segmented_control(key=f"alert_action_{alert_id}").set_value("escalate").run()
    assert at.selectbox(key=f"escalate_to_{alert_id}").options[:2] == ["Oncologist (role)", "Nurse (role)"]
    at.selectbox(key=f"escalate_to_{alert_id}").set_value("role:oncologist")
    at.text_input(key=f"escalate_note_{alert_id}").input("ICU outreach called, SBP 85")
    submit(at, "escalate", alert_id)
    assert not at.error
    assert at.success[0].value.startswith("Escalation recorded for B2 · Person, Test (synthetic), sepsis-screen "
                                          "(septic shock pattern) to Oncologist (role), by Demo nurse at ")
    assert "“ICU outreach called, SBP 85”" in at.success[0].value
    # No notifier in the tests' settings: the nurse is told that nobody was notified, never left to assume it.
    assert [w.value for w in at.warning if "notified" in w.value] == [
        "Nobody was notified: no notifier is configured (IL2_NOTIFIER); tell them yourself."]
    # The form closes, so a second click cannot record the same escalation twice.
    assert at.segmented_control(key=f"alert_action_{alert_id}").value is None
    assert not [b for b in at.button if b.key == f"escalate_submit_{alert_id}"]
    # Escalated alerts stay in the inbox, with the last action, for the oncologist to see.
    doctor = inbox_page("oncologist")
    card = next(h for h in headers(doctor) if "sepsis-screen" in h and "B2" in h)
    assert "status <b>escalated</b>" in card
    assert any(m.value.startswith("**Last action:** escalate by Demo nurse") and "ICU outreach called" in m.value
               for m in doctor.markdown)


def submit(at, action: str, alert_id: int):
    at.button(key=f"{action}_submit_{alert_id}").click().run()
    assert not at.exception
    return at


@pytest.mark.parametrize("action, note, status, message", [
    ("acknowledge", "fluid bolus 500 mL given", "acknowledged", "Acknowledgement recorded for"),
    ("decline", "known chronic hypotension", "declined", "Decline recorded for"),
    ("escalate", "to the ICU outreach team", "escalated", "Escalation recorded for"),
    ("snooze", "renal team aware, creatinine again at 14:00", "snoozed", "Snooze recorded for"),
    ("resolve", "", "resolved", "Resolution recorded for"),
])
def test_each_action_from_the_page_is_recorded_and_named(app_url, action, note, status, message):
    at = inbox_page("oncologist")
    assert [w.options for w in card_controls(at)][0] == [
        "Acknowledge", "Decline", "Escalate", "Snooze", "Resolve"]
    alert_id = card_of(at, app_url, "aki")
    at.segmented_control(key=f"alert_action_{alert_id}").set_value(action).run()
    if action == "snooze":   # an urgent alert: at most 1 h, with a reason (thresholds.toml [alert_handling])
        assert at.selectbox(key=f"snooze_minutes_{alert_id}").options == ["15 min", "30 min", "1 h"]
        at.selectbox(key=f"snooze_minutes_{alert_id}").select(60)
    if action == "escalate":
        at.selectbox(key=f"escalate_to_{alert_id}").set_value("role:nurse")
    if note:
        at.text_input(key=f"{alert_actions_note_key(action)}_{alert_id}").input(note)
    submit(at, action, alert_id)
    assert not at.error
    success = at.success[0].value
    assert success.startswith(f"{message} B1 · Person, Test (synthetic), aki (KDIGO stage 2 (creatinine))"
                              + (" to Nurse (role)" if action == "escalate" else ""))
    assert "by Demo oncologist at " in success and (f"“{note}”" in success) is bool(note)
    if action == "snooze":
        assert " until " in success
    stored = stored_alerts(app_url)[alert_id]
    assert stored.status == status
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        rows = history(session=session, alert_id=alert_id)
    engine.dispose()
    assert [(r.action, r.by, r.note) for r in rows] == [(action, "oncologist", note or None)]
    # Handled alerts leave the inbox (escalated ones stay) and come back with the toggle.
    cards = [h for h in headers(at) if "aki" in h]
    assert bool(cards) is (status == "escalated")
    at.toggle(key="show_handled").set_value(True).run()
    card = next(h for h in headers(at) if " · aki · " in h)
    assert f"status <b>{status}" in card


def alert_actions_note_key(action: str) -> str:
    return {"acknowledge": "ack_note"}.get(action, f"{action}_note")


@pytest.mark.parametrize("action, message", [
    ("acknowledge", "Say what action was taken to acknowledge the alert"),
    ("decline", "Give the reason for declining the alert."),
    ("escalate", "Say why the alert is escalated"),
])
def test_an_action_without_its_note_is_refused_on_the_page_and_nothing_is_recorded(app_url, action, message):
    at = inbox_page("oncologist")
    alert_id = card_of(at, app_url, "aki")
    at.segmented_control(key=f"alert_action_{alert_id}").set_value(action).run()
    submit(at, action, alert_id)
    assert message in "\n".join(e.value for e in at.error) and at.error[-1].value == "Nothing was recorded."
    assert not at.success and stored_alerts(app_url)[alert_id].status == "open"


def test_an_ended_snooze_and_a_worse_alert_are_back_on_the_page_saying_why(app_url):
    engine = make_engine(app_url)
    now = datetime.now(timezone.utc)
    alerts = stored_alerts(app_url).values()
    shock = next(a for a in alerts if a.rule_id == sepsis.RULE.id and a.severity == "emergency")
    kidney = next(a for a in alerts if a.rule_id == aki.RULE.id)
    do(engine, shock.id, "snooze", snooze_minutes=30, at=now - timedelta(minutes=45))
    do(engine, kidney.id, "snooze", snooze_minutes=60, at=now - timedelta(minutes=5))
    record(engine, kidney.patient_id, 0.5, ObservationInput("creatinine", "2.8"), source="lab-import", now=now)
    assert sync(engine, now=now)["reopened"] == 1
    engine.dispose()
    at = inbox_page("oncologist")
    cards = {h.split(" · ")[1]: h for h in headers(at) if "SYN-ELSEWHERE" not in h}
    assert "status <b>open · snooze ended " in cards["sepsis-screen"]
    assert "<b>KDIGO stage 3 (creatinine)</b>" in cards["aki"] and "status <b>open</b>" in cards["aki"]
    assert [w.value for w in at.warning if w.value.startswith("Worse than")] == [
        "Worse than at the last action (snooze: urgent, KDIGO stage 2 (creatinine)); it needs attention again."]


def test_a_long_inbox_shows_twenty_cards_says_how_many_follow_and_shows_more_on_request(tmp_path, sqlite_template,
                                                                                        monkeypatch):
    """A ward's worth of alerts: the first 20 (most severe, newest) are drawn, the count of the rest is
    said under them, and "Show 20 more" draws the next ones; the total is in the summary line."""
    path = tmp_path / "many.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_resource.clear()
    engine = make_engine(url)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with session_scope(engine) as session:
        repository.get_or_create_ward(session=session, code="DEMO", name="Demo ward")
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    for n in range(23):  # 23 patients in shock: a sepsis-screen emergency and a NEWS2 urgent alert each
        patient, _ = make_patient_with_course(engine, mrn=f"SYN-MANY-{n:02d}", start=now - timedelta(hours=6))
        record(engine, patient, 1, *SHOCK_SET, now=now - timedelta(minutes=n))
    sync(engine, now=now)
    engine.dispose()
    at = inbox_page("oncologist")
    assert len(headers(at)) == 20
    assert any(c.value.startswith("46 alerts need attention") for c in at.caption)
    assert any(c.value.startswith("Showing the first 20 of 46 alerts; the 26 below them") for c in at.caption)
    at.button(key="alerts_more").click().run()
    assert len(headers(at)) == 40
    at.button(key="alerts_more").click().run()
    assert len(headers(at)) == 46
    assert not [b for b in at.button if b.key == "alerts_more"]
    st.cache_resource.clear()


def test_the_page_refuses_an_urgent_snooze_without_a_reason_and_records_nothing(app_url):
    at = inbox_page("oncologist")
    alert_id = card_of(at, app_url, "aki")           # KDIGO stage 2: urgent
    at.segmented_control(key=f"alert_action_{alert_id}").set_value("snooze").run()
    assert at.text_input(key=f"{alert_actions_note_key('snooze')}_{alert_id}").label == (
        "Reason for snoozing an urgent alert (required)")
    submit(at, "snooze", alert_id)
    assert "Give the reason for snoozing an urgent alert" in at.error[0].value
    assert stored_alerts(app_url)[alert_id].status == "open"


@pytest.mark.parametrize("severity, longest, reason", [
    ("info", 480, False), ("warning", 480, False), ("urgent", 60, True), ("emergency", 30, True)])
def test_each_severity_is_snoozed_at_most_as_long_as_its_monitoring_allows(severity, longest, reason):
    """thresholds.toml [alert_handling] (RCP 2017 Chart 4: hourly observations at a medium score,
    continuous at a high one): the longest duration offered, and one step above it refused."""
    from monitoring.clinical.alert_handling import alert_handling
    handling = alert_handling()
    assert max(handling.choices(severity)) == longest and handling.needs_reason(severity) is reason
    above = [m for m in handling.snooze_minutes if m > longest]
    assert not above or above[0] not in handling.choices(severity)


def test_a_hold_alert_in_the_inbox_shows_the_pre_dose_check_the_doses_page_shows_now(tmp_path, sqlite_template):
    """Issue 18: the inbox showed an urgent 'il2-hold · hold' while the doses page showed GIVE. Each hold
    card now carries the check computed now by the doses page's own function; other rules carry none."""
    from monitoring.views import dosing
    from tests.conftest import seed_demo_ward

    path = tmp_path / "ward.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    now = NOW + timedelta(days=5)
    seed_demo_ward(url, patients=6, days=5, seed=3, end=now, sync=True)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            patients = [int(p) for p in session.scalars(select(Alert.patient_id).distinct()).all()]
            shown = inbox(session=session, patient_ids=patients, now=now, include_handled=True, tz=timezone.utc)
            holds = shown[shown["rule_id"] == il2_hold.RULE.id]
            assert len(holds), "the demo ward raised no IL-2 hold alert: the check proves nothing"
            for row in holds.itertuples():
                check, problem = dosing.check_or_none(session=session, patient_id=int(row.patient_id), now=now,
                                                      tz=timezone.utc)
                assert row.check_now == (check.summary() if check is not None else row.check_now)
                assert row.check_now.split(":")[0] in ("GIVE", "HOLD", "DISCUSS", "INCOMPLETE",
                                                       "PERMANENTLY DISCONTINUE", "could not run (")
        assert shown.loc[shown["rule_id"] != il2_hold.RULE.id, "check_now"].isna().all()
    finally:
        engine.dispose()


# --- grouped by patient (issue 18 item 3) ------------------------------------------------------------

def test_the_inbox_groups_each_patients_alerts_worst_patient_first():
    frame = pd.DataFrame({
        "id": [1, 2, 3, 4, 5], "patient_id": [10, 20, 20, 30, 10],
        "severity": ["urgent", "warning", "emergency", "warning", "warning"],
        "onset_at": pd.to_datetime(["2026-11-27T09:00Z", "2026-11-27T08:00Z", "2026-11-26T08:00Z",
                                    "2026-11-27T10:00Z", "2026-11-27T07:00Z"])})
    grouped = alert_actions.by_patient(frame)
    # Patient 20 (an emergency, however old) first; then 10 (urgent); then 30; each patient's own alerts
    # under them, most severe first.
    assert grouped[["patient_id", "id"]].values.tolist() == [[20, 3], [20, 2], [10, 1], [10, 5], [30, 4]]
    assert grouped["patient_rank"].tolist() == [0, 0, 1, 1, 2]


def test_one_acknowledgement_for_all_of_a_patients_alerts_is_all_or_nothing(engine):
    patient_id, alert = sepsis_alert(engine)
    record(engine, patient_id, 2, *SHOCK_SET)
    sync(engine)
    with session_scope(engine) as session:
        ids = [int(i) for i in session.scalars(select(Alert.id).where(Alert.patient_id == patient_id,
                                                                       Alert.status == "open")).all()]
    assert len(ids) >= 2
    with session_scope(engine) as session:
        rows = alert_actions.act_on_all(session=session, alert_ids=ids, action="acknowledge", username="dr.a",
                                        role="oncologist", note="sepsis bundle started", now=NOW)
    assert len(rows) == len(ids) and {r.note for r in rows} == {"sepsis bundle started"}
    with session_scope(engine) as session:
        assert {a.status for a in session.scalars(select(Alert).where(Alert.id.in_(ids))).all()} == {"acknowledged"}
    # A refusal on one alert records none: here the note is missing, named with the first alert refused.
    patient_2, _ = make_patient_with_course(engine, mrn="SYN-TEST-2")
    record(engine, patient_2, 1, *SHOCK_SET)
    sync(engine)
    with session_scope(engine) as session:
        others = [int(i) for i in session.scalars(select(Alert.id).where(Alert.patient_id == patient_2)).all()]
    with pytest.raises(RecordError, match=f"Alert {others[0]}: Say what action was taken"):
        with session_scope(engine) as session:
            alert_actions.act_on_all(session=session, alert_ids=others, action="acknowledge", username="dr.a",
                                     role="oncologist", note=" ", now=NOW)
    with pytest.raises(RecordError, match="Only acknowledge and escalate apply to all"):
        with session_scope(engine) as session:
            alert_actions.act_on_all(session=session, alert_ids=others, action="snooze", username="dr.a",
                                     role="oncologist", note="x", now=NOW)
    with session_scope(engine) as session:
        assert {a.status for a in session.scalars(select(Alert).where(Alert.id.in_(others))).all()} == {"open"}


def test_the_page_acknowledges_all_of_a_patients_alerts_under_its_header(app_url):
    at = inbox_page("oncologist")
    patient_controls = [w for w in at.segmented_control if w.key.startswith("patient_action_")]
    assert patient_controls, "no patient with two alerts: the check proves nothing"
    control = patient_controls[0]
    assert control.options == ["Acknowledge", "Escalate"]
    patient_id = int(control.key.rsplit("_", 1)[1])
    before = [a for a in stored_alerts(app_url).values() if a.patient_id == patient_id and a.status == "open"]
    control.set_value("acknowledge").run()
    at.text_input(key=f"patient_note_{patient_id}").input("reviewed at the bedside, plan in the notes")
    at.button(key=f"patient_submit_{patient_id}").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith(f"Acknowledgement recorded for all {len(before)} alerts of ")
    after = {a.id: a.status for a in stored_alerts(app_url).values() if a.patient_id == patient_id}
    assert all(after[a.id] == "acknowledged" for a in before)


def test_acting_on_all_of_a_patients_alerts_without_the_note_records_none_and_says_why_under_its_form(app_url):
    at = inbox_page("oncologist")
    control = next(w for w in at.segmented_control if w.key.startswith("patient_action_"))
    patient_id = int(control.key.rsplit("_", 1)[1])
    before = {a.id: a.status for a in stored_alerts(app_url).values() if a.patient_id == patient_id}
    control.set_value("acknowledge").run()
    at.button(key=f"patient_submit_{patient_id}").click().run()   # no note: what was done is required
    assert not at.exception and not at.success
    assert any("Say what action was taken" in e.value for e in at.error)
    assert at.error[-1].value == "Nothing was recorded."
    assert {a.id: a.status for a in stored_alerts(app_url).values() if a.patient_id == patient_id} == before
    # The form stays open for the note, and the second try records all of them.
    at.text_input(key=f"patient_note_{patient_id}").input("reviewed at the bedside")
    at.button(key=f"patient_submit_{patient_id}").click().run()
    shown = int(re.search(r"Act on all (\d+) alerts", control.label).group(1))
    assert at.success[0].value.startswith(f"Acknowledgement recorded for all {shown} alerts of ")
    assert not at.error


def actions_recorded(url: str) -> list[tuple[int, str]]:
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = [(a.alert_id, a.action) for a in session.scalars(select(AlertAction)).all()]
    engine.dispose()
    return rows


@pytest.mark.parametrize("ended", ["idle past the time-out", "account disabled"])
@pytest.mark.parametrize("on_all", [False, True], ids=["one alert", "all of a patient's alerts"])
def test_an_action_sent_after_the_sign_in_ended_records_nothing_and_shows_the_sign_in(app_url, ended, on_all):
    """The action is recorded in its button's callback, which runs before the page checks the sign-in: the
    callback checks it itself (a screen left open past the time-out, or of an account disabled meanwhile,
    until the 20-s watch replaces it)."""
    at = inbox_page("oncologist")
    before = actions_recorded(app_url)
    if on_all:
        control = next(w for w in at.segmented_control if w.key.startswith("patient_action_"))
        patient_id = int(control.key.rsplit("_", 1)[1])
        control.set_value("acknowledge").run()
        at.text_input(key=f"patient_note_{patient_id}").input("reviewed at the bedside")
        button = at.button(key=f"patient_submit_{patient_id}")
    else:
        alert_id = card_of(at, app_url, "aki")
        at.segmented_control(key=f"alert_action_{alert_id}").set_value("acknowledge").run()
        at.text_input(key=f"ack_note_{alert_id}").input("fluid bolus 500 mL given")
        button = at.button(key=f"acknowledge_submit_{alert_id}")
    idle_past_the_time_out(app_url) if ended.startswith("idle") else disable_account(app_url, "oncologist")
    button.click().run()
    assert not at.exception and not at.success
    assert actions_recorded(app_url) == before
    assert [t.label for t in at.text_input] == ["User name", "Password"]


def test_an_action_sent_after_the_role_lost_the_permission_records_nothing_and_says_so(app_url):
    """An oncologist made a nurse by an administrator while the inbox is open: the acknowledgement clicked
    afterwards is not recorded, and the page says why (it was dropped silently)."""
    at = inbox_page("oncologist")
    alert_id = card_of(at, app_url, "aki")
    at.segmented_control(key=f"alert_action_{alert_id}").set_value("acknowledge").run()
    at.text_input(key=f"ack_note_{alert_id}").input("fluid bolus 500 mL given")
    before = actions_recorded(app_url)
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        auth.change_account(session=session, username="oncologist", changed_by="admin", role="nurse",
                            ward_codes=["DEMO"])
    engine.dispose()
    at.button(key=f"acknowledge_submit_{alert_id}").click().run()
    assert not at.exception and not at.success
    assert actions_recorded(app_url) == before
    assert [e.value for e in at.error] == ["Nothing was recorded: your role is now nurse, which may not act on "
                                           "alerts."]
    assert all(w.options == ["Escalate"] for w in at.segmented_control)   # the page as the nurse may use it


def test_the_inbox_page_shows_the_pre_dose_check_now_on_a_drawn_hold_card(app_db_url):
    """The page reads the inbox without the checks and runs them for the cards it draws only (a check
    takes about 90 ms a patient: 27 of them made a 200-alert inbox take 2.9 s): a hold card still shows it."""
    from monitoring.views import dosing
    from tests.conftest import seed_demo_ward

    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    seed_demo_ward(app_db_url, patients=6, days=5, seed=3, end=now, sync=True)
    engine = make_engine(app_db_url)
    with session_scope(engine) as session:
        hold = session.scalars(select(Alert).where(Alert.rule_id == il2_hold.RULE.id, Alert.status == "open")).first()
        assert hold is not None, "the demo ward raised no open IL-2 hold alert: the check proves nothing"
        mrn = session.get(repository.PatientIdentity, hold.patient_id).mrn
        check, _ = dosing.check_or_none(session=session, patient_id=hold.patient_id, now=datetime.now(timezone.utc))
    engine.dispose()
    at = inbox_page("oncologist")
    box = at.selectbox(key="alerts_patient")
    box.select(next(o for o in box.options if o.endswith(mrn))).run()
    shown = [i.value for i in at.info if "Pre-dose check now" in i.value]
    assert shown and not at.exception
    assert shown[0].startswith(f"**Pre-dose check now:** {check.summary().split(':')[0]}")


def test_the_inbox_can_leave_the_card_text_to_the_cards_drawn_and_they_read_the_same(engine):
    """inbox(details=False) + with_details for the rows a page draws (issue 21: a hospital's 27,000 alerts were
    all read with their evidence and put into words for 20 cards) gives each drawn card the evidence, standard,
    IL-2 context and cleared text that inbox(tz=...) gives it."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/London")
    patient, _ = make_patient_with_course(engine, start=NOW - timedelta(hours=6))
    record(engine, patient, 2, *SHOCK_SET)
    record(engine, patient, 1, *BASELINE_SET)   # the criteria no longer met at the latest data: a cleared text
    sync(engine)
    with session_scope(engine) as session:
        whole = inbox(session=session, patient_ids=[patient], now=NOW, tz=tz, include_info=True)
        bare = inbox(session=session, patient_ids=[patient], now=NOW, tz=tz, include_info=True, details=False)
        drawn = alert_actions.with_details(session=session, frame=bare.head(2), tz=tz)
    assert len(whole) >= 2 and bare["cleared_text"].isna().all() and bare["evidence_text"].isna().all()
    assert whole["cleared_text"].notna().any()   # the shock alert's criteria no longer hold
    assert whole["evidence_text"].str.contains("mmHg").any()   # the evidence in words, with its units
    assert bare["id"].tolist() == whole["id"].tolist()   # the same alerts in the same order
    for column in ("id", "evidence_text", "standard", "context", "cleared_text"):
        assert drawn[column].tolist() == whole.head(2)[column].tolist()
