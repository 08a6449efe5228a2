"""Engine alerts kept in the store, on SQLite and PostgreSQL: idempotent, updated, never deleted."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from monitoring.clinical.inputs import ObservationInput
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.store.models import Alert
from monitoring.views.alerts import list_alerts, open_alert_counts
from tests.factories import NOW, make_patient_with_course


def record(engine, patient_id, hours_before_now, *values, source="manual"):
    at = NOW - timedelta(hours=hours_before_now)
    with session_scope(engine) as session:  # entered at the bedside, as it was observed
        return repository.add_observation_set(session=session, patient_id=patient_id, values=list(values),
                                              observed_at=at, recorded_by="nurse.a", now=at, source=source)


def test_alerts_are_stored_once_and_re_evaluation_changes_nothing(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, ObservationInput("temperature", "38.6"))
    record(engine, patient_id, 2, ObservationInput("anc", "0.3"), source="lab-import")
    with session_scope(engine) as session:
        first = sync_alerts(session=session, now=NOW)
    with session_scope(engine) as session:
        second = sync_alerts(session=session, now=NOW)
        alerts = list_alerts(session=session, patient_ids=[patient_id])
    assert first["new"] >= 1
    assert second == {"new": 0, "updated": 0, "retracted": 0, "reopened": 0, "resolved": 0, "returned": 0}
    fn = alerts[alerts["rule_id"] == "febrile-neutropenia"].iloc[0]
    assert fn["severity"] == "urgent" and "ANC 0.30" in fn["evidence_text"] and fn["status"] == "open"
    assert "IDSA 2010" in fn["standard"]


def test_a_stored_alert_shows_the_standard_of_the_thresholds_in_force_without_reopening(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, ObservationInput("temperature", "38.6"))
    record(engine, patient_id, 2, ObservationInput("anc", "0.3"), source="lab-import")
    with session_scope(engine) as session:
        sync_alerts(session=session, now=NOW)
    with session_scope(engine) as session:  # as stored before the thresholds file was edited
        alert = session.scalars(select(Alert).where(Alert.rule_id == "febrile-neutropenia")).one()
        current, alert.standard, alert.status = (alert.standard, "Febrile neutropenia: ANC < 0.4 (old file)",
                                                 "acknowledged")
    with session_scope(engine) as session:
        counts = sync_alerts(session=session, now=NOW)
        alert = session.scalars(select(Alert).where(Alert.rule_id == "febrile-neutropenia")).one()
        assert (alert.standard, alert.status) == (current, "acknowledged")
    assert counts == {"new": 0, "updated": 0, "retracted": 0, "reopened": 0, "resolved": 0, "returned": 0}


def test_an_alert_whose_data_were_corrected_is_retracted_not_deleted(engine):
    patient_id, _ = make_patient_with_course(engine)
    record(engine, patient_id, 3, ObservationInput("temperature", "38.6"))
    anc = record(engine, patient_id, 2, ObservationInput("anc", "0.3"), source="lab-import")
    with session_scope(engine) as session:
        sync_alerts(session=session, now=NOW)
    with session_scope(engine) as session:
        repository.mark_entered_in_error(session=session, observation_id=anc.observations[0].id,
                                         reason="Sample from another patient", recorded_by="lab")
    with session_scope(engine) as session:
        counts = sync_alerts(session=session, now=NOW)
        rows = session.scalars(select(Alert).where(Alert.rule_id == "febrile-neutropenia")).all()
    assert counts["retracted"] >= 1
    assert [r.status for r in rows] == ["retracted"]


def test_a_worse_later_finding_updates_the_same_alert(engine):
    patient_id, _ = make_patient_with_course(engine)
    vitals = [ObservationInput("resp_rate", 22), ObservationInput("sbp", 100), ObservationInput("consciousness", "A")]
    record(engine, patient_id, 3, *vitals)
    with session_scope(engine) as session:
        sync_alerts(session=session, now=NOW)
        before = {a.alert_key: a.severity
                  for a in session.scalars(select(Alert).where(Alert.rule_id == "sepsis-screen"))}
    record(engine, patient_id, 2, ObservationInput("resp_rate", 24), ObservationInput("sbp", 85),
           ObservationInput("consciousness", "A"), ObservationInput("lactate", "3.1"))
    with session_scope(engine) as session:
        counts = sync_alerts(session=session, now=NOW)
        after = {a.alert_key: a.severity
                 for a in session.scalars(select(Alert).where(Alert.rule_id == "sepsis-screen"))}
        ward = open_alert_counts(session=session)
    assert list(before) == list(after) and counts["updated"] == 1
    assert after[next(iter(after))] == "emergency"
    assert ward[patient_id]["emergency"] == 1
