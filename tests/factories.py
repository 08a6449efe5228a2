"""Small factories for tests: a patient with an active HD IL-2 course."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitoring import repository
from monitoring.db import session_scope

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def make_patient_with_course(engine, *, mrn: str = "SYN-TEST-1", start: datetime | None = None) -> tuple[int, int]:
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="T", name="Test ward")
        bed = repository.get_or_create_bed(session=session, ward_id=ward.id, label="B1")
        patient = repository.add_patient(session=session, mrn=mrn, given_name="Test", family_name="Person",
                                         recorded_by="tester", ward_id=ward.id, bed_id=bed.id, is_synthetic=True)
        course = repository.add_course(session=session, patient_id=patient.id, regimen="hd-iv-bolus",
                                       start_at=start or NOW - timedelta(days=1), created_by="tester",
                                       planned_doses=14, dose_per_kg=600_000, dose_interval_hours=8,
                                       baseline_weight_kg=80, baseline_creatinine_mg_dl=0.9, usual_sbp_mm_hg=120)
        return patient.id, course.id
