"""The ward the FHIR export tests read: one identifiable patient with a course, a set of vital signs
(systolic pressure without the diastolic), a full set later, a lab with a reference range, a nurse
grade, a dose given and one held with a reason, and the alerts they raise; plus another patient.
Imported by the tests/export/test_fhir_*.py modules (pytest finds the fixture through the import)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from monitoring.clinical.inputs import ObservationInput
from monitoring.export.fhir import fhir_resources
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import session_scope
from tests.factories import make_patient_with_course

KEY = "quality-2026-11-7c1e9a4b2f8d6e30"  # 32 characters
OTHER_KEY = "another-key-5d0b7e2a9c4f1e8b3a6d"
MRN = "MRN-884213"
GIVEN, FAMILY = "Philippa", "Quigglesworth"
BIRTH = date(1961, 3, 14)
# 08:00 UTC, so that a shift to the 00:00 epoch shows in every time.
START = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
SET_AT = START + timedelta(days=1, hours=6)  # -> 2000-01-02T06:00:00Z
FULL_SET_AT = START + timedelta(days=1, hours=12)  # -> 2000-01-02T12:00:00Z (1.5 days: exact)
# 8 h is 0.33 day at monitoring.export.deid.days_from's 0.01-day resolution: 2000-01-01T07:55:12Z.
HELD_AT = START + timedelta(hours=8)
HOLD_REASON = "SBP 84 mm Hg at 2026-11-20 15:40Z despite fluids"
FULL_SET = [ObservationInput("temperature", "37.2"), ObservationInput("heart_rate", "96"),
            ObservationInput("sbp", "104"), ObservationInput("dbp", "61"), ObservationInput("resp_rate", "18"),
            ObservationInput("spo2", "95"), ObservationInput("on_oxygen", "no"),
            ObservationInput("consciousness", "A"), ObservationInput("weight", "81.5")]


@dataclass(frozen=True)
class Ward:
    patient_id: int
    course_id: int
    other_patient_id: int
    other_course_id: int


@pytest.fixture
def ward(engine) -> Ward:
    with session_scope(engine) as session:
        w = repository.get_or_create_ward(session=session, code="T", name="Test ward")
        patient = repository.add_patient(session=session, mrn=MRN, given_name=GIVEN, family_name=FAMILY,
                                         birth_date=BIRTH, sex="female", recorded_by="tester", ward_id=w.id)
        course = repository.add_course(session=session, patient_id=patient.id, regimen="hd-iv-bolus",
                                       start_at=START, created_by="tester", planned_doses=14,
                                       dose_per_kg=600_000, dose_interval_hours=8, baseline_weight_kg=80,
                                       baseline_creatinine_mg_dl=0.9, usual_sbp_mm_hg=120)
        repository.record_dose(session=session, course_id=course.id, dose_number=1, scheduled_at=START,
                               status="given", given_at=START, dose=48_000_000, dose_unit="[IU]", route="IV",
                               recorded_by="nurse.a", now=START)
        repository.record_dose(session=session, course_id=course.id, dose_number=2, scheduled_at=HELD_AT,
                               status="held", reason=HOLD_REASON, recorded_by="nurse.a", now=HELD_AT)
        repository.add_observation_set(
            session=session, patient_id=patient.id, course_id=course.id, observed_at=SET_AT, now=SET_AT,
            recorded_by="nurse.a",
            values=[ObservationInput("temperature", "38.6"), ObservationInput("heart_rate", "118"),
                    ObservationInput("sbp", "95"), ObservationInput("rigors", "2"),
                    ObservationInput("consciousness", "A")])
        # A lab result without a course id: it belongs to the course by its time.
        repository.add_observation_set(
            session=session, patient_id=patient.id, observed_at=SET_AT, now=SET_AT, recorded_by="lab",
            source="lab-import", values=[ObservationInput("anc", "0.4", unit="10*9/L", ref_low=1.8, ref_high=7.5)])
        sync_alerts(session=session, patient_ids=[patient.id], now=SET_AT + timedelta(minutes=5))
        ids = patient.id, course.id
    other = make_patient_with_course(engine, mrn="SYN-OTHER-2", start=START + timedelta(days=3))
    return Ward(*ids, *other)


def add_full_set(engine, patient_id: int, course_id: int) -> None:
    """A later set with every vital sign (both pressures, SpO2, oxygen, ACVPU, weight)."""
    with session_scope(engine) as session:
        repository.add_observation_set(session=session, patient_id=patient_id, course_id=course_id,
                                       observed_at=FULL_SET_AT, now=FULL_SET_AT, recorded_by="nurse.a",
                                       values=FULL_SET)


def export(engine, **kwargs) -> list[dict]:
    with session_scope(engine) as session:
        return list(fhir_resources(session=session, export_key=kwargs.pop("export_key", KEY), **kwargs))


def of_type(resources, kind):
    return [r for r in resources if r["resourceType"] == kind]


def references(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference":
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)
