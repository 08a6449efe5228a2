"""Small factories for tests: a patient with an active HD IL-2 course."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import SQLModel

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
        sign_off(session, course.id)
        return patient.id, course.id


def sign_off(session, course_id: int, *, at: datetime | None = None) -> None:
    """Sign the course off eligible as migration 0017 signs off the courses that predate the sign-off (no
    answers compared: the screen is whatever the test records), so that issue 19's dose gate lets the
    tests record doses; tests/services/test_courses.py tests the sign-off itself."""
    repository.record_eligibility_signoff(session=session, course_id=course_id, outcome="eligible",
                                          signed_by="dr.test",
                                          signed_at=at or datetime(2026, 1, 1, tzinfo=timezone.utc),
                                          reason="test factory: a course signed off as migration 0017 does")


def write_two_demo_wards(engine, *, end: datetime, days: int = 2) -> None:
    """The synthetic demo ward (3 patients, code DEMO) and an 'Other ward' (2 patients, code OTHER),
    each with their courses, observations and alerts (record numbers kept apart)."""
    from monitoring.demo import seed as demo
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=demo.generate_ward(patients=3, days=days, seed=1, end=end))
    with session_scope(engine) as session:
        other = demo.generate_ward(patients=2, days=days, seed=2, end=end)
        other.patients["mrn"] = other.patients["mrn"].str.replace("SYN-", "SYN-X")
        demo.write_ward(session=session, ward=other, ward_code="OTHER", ward_name="Other ward")


def empty_postgres(url: str) -> None:
    """Empty every table of a PostgreSQL test or benchmark database, identities restarted."""
    engine = make_engine(url)
    # The server's keys (made by migration 0018, never by the app) stay, as a real database keeps them.
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables if t.name != "serversecret")
    with engine.begin() as conn:
        # Migration 0009 refuses TRUNCATE on the append-only tables; a test database (connected as a
        # superuser) is emptied with triggers off for this transaction only, as a replica would apply it.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
