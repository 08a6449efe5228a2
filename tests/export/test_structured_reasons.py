"""Issue 20 item 3: hold, stop and decline reasons chosen from the criteria or a list survive
de-identification as their ids and wording; only the words a person typed are withheld. On SQLite and
PostgreSQL (the `engine` fixture)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitoring.clinical.inputs import ObservationInput as V
from monitoring.clinical.vocabulary import DECLINE_CHOICES
from monitoring.errors import RecordError
from monitoring.export import quality
from monitoring.export.deid import FREE_TEXT_WITHHELD
from monitoring.services import alert_actions
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.store.models import Alert, AlertAction, AuditEvent

S = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
KEY = "structured-reason-key-3b9e1f7a2c6d8e4"
NOTE = "Dr Whitcombe said hold, see 21/11"       # typed words: a name and a date


@pytest.fixture
def course(engine) -> dict:
    """A bolus course: dose 1 held for SBP < 90 (criterion chosen, and a note typed), dose 2 stopped for
    confusion (criterion only), dose 3 not given; a febrile set that raises alerts."""
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="QA", name="Quality A")
        patient = repository.add_patient(session=session, mrn="MRN-SR-1", given_name="Hester", family_name="Quill",
                                         recorded_by="t", ward_id=ward.id)
        started = repository.add_course(session=session, patient_id=patient.id, regimen="hd-iv-bolus", start_at=S,
                                        created_by="t", planned_doses=14, dose_interval_hours=8)
        repository.record_dose(session=session, course_id=started.id, dose_number=1, scheduled_at=S, status="held",
                               reason="SBP 84: " + NOTE, reason_criteria=["sbp_below"], reason_note=NOTE,
                               recorded_by="nurse")
        repository.record_dose(session=session, course_id=started.id, dose_number=2, status="stopped",
                               scheduled_at=S + timedelta(hours=8), reason="confusion grade 2",
                               reason_criteria=["confusion_moderate"], recorded_by="nurse")
        repository.add_observation_set(session=session, patient_id=patient.id, course_id=started.id,
                                       observed_at=S + timedelta(hours=9), now=S + timedelta(hours=9),
                                       values=[V("temperature", 39.2), V("heart_rate", 128), V("sbp", 84)],
                                       recorded_by="nurse")
        return {"patient_id": patient.id, "course_id": started.id}


def alerts_of(engine) -> list[int]:
    from monitoring.services.alerting import sync_alerts
    with session_scope(engine) as session:
        sync_alerts(session=session, now=S + timedelta(hours=9, minutes=5))
    with session_scope(engine) as session:
        return [a.id for a in session.scalars(select(Alert).where(Alert.severity != "info").order_by(Alert.id))]


def decline(engine, alert_id, **kwargs):
    with session_scope(engine) as session:
        return alert_actions.act(session=session, alert_id=alert_id, action="decline", username="dr.onc",
                                 role="oncologist", now=S + timedelta(hours=10), **kwargs)


def tables(engine, identifiable=False):
    with session_scope(engine) as session:
        return quality.export_tables(session=session, filters=quality.QualityFilter(), export_key=KEY,
                                     identifiable=identifiable)


def test_hold_and_stop_criteria_are_exported_by_id_and_wording_and_only_the_typed_words_withheld(engine, course):
    row = tables(engine)["courses"].iloc[0]
    assert row["hold_criteria"] == "dose 1: sbp_below" and row["stop_criteria"] == "dose 2: confusion_moderate"
    assert row["hold_reasons"] == f"dose 1: absolute: SBP < 90 mmHg (label: withhold); {FREE_TEXT_WITHHELD}"
    assert row["stop_reasons"] == "dose 2: absolute: confusion grade >= 2 (label: moderate confusion, withhold)"
    assert "Whitcombe" not in row.to_string() and "21/11" not in row.to_string()
    typed = tables(engine, identifiable=True)["courses"].iloc[0]
    assert typed["hold_reasons"] == f"dose 1: SBP 84: {NOTE}" and typed["hold_criteria"] == "dose 1: sbp_below"


def test_a_decline_reason_chosen_from_the_list_is_kept_and_the_note_withheld(engine, course):
    first, second = alerts_of(engine)[:2]
    decline(engine, first, reason_code="expected-il2-effect", note=NOTE)
    decline(engine, second, reason_code="duplicate")                    # a reason chosen needs no note
    declined = tables(engine)["declined_alerts"].sort_values("decline_reason_code")
    assert declined["decline_reason_code"].tolist() == ["duplicate", "expected-il2-effect"]
    assert declined["decline_reason_chosen"].tolist() == [DECLINE_CHOICES["duplicate"],
                                                          DECLINE_CHOICES["expected-il2-effect"]]
    assert declined["decline_reason"].isna().tolist() == [True, False]            # no note typed: nothing
    assert declined["decline_reason"].iloc[1] == FREE_TEXT_WITHHELD
    with session_scope(engine) as session:
        stored = session.scalars(select(AlertAction).where(AlertAction.action == "decline")
                                 .order_by(AlertAction.id)).all()
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "alert-decline")
                                .order_by(AuditEvent.id)).all()
    assert [r.reason_code for r in stored] == ["expected-il2-effect", "duplicate"]
    assert [a.after["reason_code"] for a in audit] == ["expected-il2-effect", "duplicate"]


@pytest.mark.parametrize("kwargs, message", [
    ({}, "Give the reason for declining the alert."),
    ({"reason_code": "other"}, "'Other' needs the reason for declining typed in the note."),
    ({"reason_code": "bored", "note": "x"}, "Decline reason 'bored' is not known; accepted: expected-il2-effect"),
])
def test_a_decline_without_a_usable_reason_is_refused_and_nothing_saved(engine, course, kwargs, message):
    alert_id = alerts_of(engine)[0]
    with pytest.raises(RecordError) as refused:
        decline(engine, alert_id, **kwargs)
    assert any(e.startswith(message) for e in refused.value.errors), refused.value.errors
    with session_scope(engine) as session:
        assert session.get(Alert, alert_id).status == "open"


def test_only_a_decline_takes_a_reason_from_the_list(engine, course):
    alert_id = alerts_of(engine)[0]
    with session_scope(engine) as session, pytest.raises(RecordError, match="Only a decline takes a reason"):
        alert_actions.act(session=session, alert_id=alert_id, action="acknowledge", username="dr.onc",
                          role="oncologist", note="fluids", reason_code="duplicate", now=S + timedelta(hours=10))
