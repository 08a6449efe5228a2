"""The capillary-leak watch measures each IL-2 course from its own start (monitoring.clinical.derived):
a cycle 2 without a recorded baseline weight starts from its first weight, not from cycle 1's; the
alert, the patient chart and the ward overview agree on the baseline and say where it came from."""
from __future__ import annotations

from datetime import timedelta, timezone

from monitoring.clinical.inputs import ObservationInput
from monitoring.clinical.rules.capillary_leak import RELATIVE_LEVEL, WARNING_LEVEL
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.views.alerts import list_alerts
from monitoring.views.lists import course_weight_baseline
from monitoring.views.patient_chart import chart_data
from tests.factories import NOW

UTC = timezone.utc


def _weigh(session, patient_id: int, course_id: int, kg: float, at) -> None:
    repository.add_observation_set(session=session, patient_id=patient_id, course_id=course_id, recorded_by="nurse",
                                   observed_at=at, values=[ObservationInput("weight", kg, "kg")], now=at)


def test_cycle_2_without_a_baseline_is_measured_from_its_own_first_weight(engine):
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="T", name="Test ward")
        patient = repository.add_patient(session=session, mrn="SYN-W1", given_name="Test", family_name="Person",
                                         recorded_by="tester", ward_id=ward.id, is_synthetic=True).id
        cycle1 = repository.add_course(session=session, patient_id=patient, regimen="hd-iv-bolus", cycle=1,
                                       start_at=NOW - timedelta(days=20), created_by="tester").id
        _weigh(session, patient, cycle1, 70.0, NOW - timedelta(days=20))
        cycle2 = repository.add_course(session=session, patient_id=patient, regimen="hd-iv-bolus", cycle=2,
                                       start_at=NOW - timedelta(days=2), created_by="tester").id
        _weigh(session, patient, cycle2, 80.0, NOW - timedelta(days=2))
        _weigh(session, patient, cycle2, 89.0, NOW - timedelta(hours=1))   # +11.25 % from 80 kg; +27 % from 70
    with session_scope(engine) as session:
        sync_alerts(session=session, now=NOW)
        assert course_weight_baseline(session=session, course_id=cycle2) == (80.0, "first weight of the course")
        leak = list_alerts(session=session, patient_ids=[patient])
        leak = leak[leak["rule_id"] == "capillary-leak"]
        chart = chart_data(session=session, patient_id=patient, period="cycle", now=NOW, tz=UTC)
    assert list(leak["level"]) == [WARNING_LEVEL] and RELATIVE_LEVEL not in set(leak["level"])
    assert "from 80.0 kg (first weight of the course (no baseline weight recorded)" in leak["evidence_text"].iloc[0]
    assert (chart.baseline_weight_kg, chart.baseline_weight_source) == (80.0, "first weight of the course")
    assert chart.weights["gain_percent"].round(2).tolist()[-1] == 11.25
