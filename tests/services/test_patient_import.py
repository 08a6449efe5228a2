"""Issue 19 item 5: `il2-monitor patients import FILE.csv` admits a ward's patients with their courses and
baselines, all or nothing, through the Patients and Courses pages' services, with a per-row report; and
`patients list`. On SQLite and PostgreSQL (the `engine` and `db_url` fixtures)."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from monitoring.errors import RecordError
from monitoring.permissions import PermissionDenied
from monitoring.services import auth, patient_import
from monitoring.services import doses as dose_service
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent, Patient, PatientIdentity, Placement, TreatmentCourse
from monitoring.views.courses import signoff_problem
from monitoring.views.lists import ward_patient_list

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
HEADER = ("mrn,family_name,given_name,birth_date,sex,ward,bed,allergies,admitted_at,regimen,indication_stage,"
          "combination,prior_surgery,after_lymphodepletion,planned_doses,dose_interval_hours,start_at,dose_per_kg,"
          "dosing_weight_kg,fixed_dose,baseline_weight_kg,baseline_creatinine_mg_dl,usual_sbp_mm_hg")
WITH_COURSE = ("MRN-2001,Placeholder,Drew,1961-03-14,female,A,A1,Penicillin: rash,2026-11-26T09:00:00Z,hd-iv-bolus,"
               "IV,il2-alone,yes,no,14,8,2026-11-27T14:00:00Z,600000,72,,72,0.9,124")
HOME_ONLY = "MRN-2002,Example,Robin,1958-07-01,male,A,,,,,,,,,,,,,,,,,"


def edit(row: str, **cells: str) -> str:
    """The row with the named cells changed."""
    values = dict(zip(HEADER.split(","), row.split(",")))
    assert set(cells) <= set(values)
    return ",".join({**values, **cells}.values())


@pytest.fixture
def wards(engine):
    """Ward A (beds A1, A2) and ward B (bed B1), no patients."""
    with session_scope(engine) as session:
        a = repository.get_or_create_ward(session=session, code="A", name="Ward A")
        b = repository.get_or_create_ward(session=session, code="B", name="Ward B")
        for ward, labels in ((a, ("A1", "A2")), (b, ("B1",))):
            for label in labels:
                repository.get_or_create_bed(session=session, ward_id=ward.id, label=label)
        return {"A": a.id, "B": b.id}


def run(engine, *rows: str, role="oncologist", username="dr.onc", check_only=False, ward_ids=None,
        header=HEADER) -> patient_import.ImportReport:
    with session_scope(engine) as session:
        return patient_import.import_patients(session=session, text="\n".join((header, *rows)) + "\n", role=role,
                                              username=username, now=NOW, tz=LONDON, ward_ids=ward_ids,
                                              check_only=check_only, file_name="ward-a.csv")


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_good_file_admits_every_patient_and_starts_their_courses_awaiting_sign_off(engine, wards):
    report = run(engine, WITH_COURSE, HOME_ONLY)
    assert report.saved and not report.refused
    assert [r.ok for r in report.rows] == [True, True] and [r.line for r in report.rows] == [2, 3]
    assert report.rows[0].detail == ("PLACEHOLDER, Drew (MRN MRN-2001) admitted to A1 on Ward A. Course cycle 1 "
                                     "started (High-dose IV bolus every 8 h), awaiting the eligibility sign-off.")
    assert report.rows[1].detail == "EXAMPLE, Robin (MRN MRN-2002) admitted at home, on Ward A's list."
    assert "2 patients admitted, 1 courses started, each awaiting" in report.summary()
    with session_scope(engine) as session:
        frame = ward_patient_list(session=session, ward_ids=[wards["A"]])
        assert dict(zip(frame["mrn"], frame["bed"])) == {"MRN-2001": "A1", "MRN-2002": "Home"}
        patient = session.get(Patient, report.rows[0].patient_id)
        # The admission time of the file, not the time of the import; the placement history says the same.
        assert patient.admitted_at.replace(tzinfo=timezone.utc) == datetime(2026, 11, 26, 9, tzinfo=timezone.utc)
        placement = session.scalars(select(Placement).where(Placement.patient_id == patient.id)).one()
        assert placement.at.replace(tzinfo=timezone.utc) == datetime(2026, 11, 26, 9, tzinfo=timezone.utc)
        assert patient.allergies == "Penicillin: rash"
        assert session.get(Patient, report.rows[1].patient_id).allergies is None   # empty: not recorded
        course = session.get(TreatmentCourse, report.rows[0].course_id)
        assert (course.regimen, course.planned_doses, course.dose_per_kg, course.dosing_weight_kg,
                course.baseline_creatinine_mg_dl, course.usual_sbp_mm_hg, course.after_lymphodepletion) == (
            "hd-iv-bolus", 14, 600000, 72, 0.9, 124, False)
        assert course.baseline_sources["weight"] == {"source": "entered"}
        # The dose gate: no dose until the oncologist answers and signs off the screen on the Courses page.
        assert "eligibility screen" in signoff_problem(session=session, course=course, tz=LONDON)
        audits = session.execute(select(AuditEvent.action, AuditEvent.entity).order_by(AuditEvent.id)).all()
    # The services' own audit rows (one per admission and course), then the import's.
    assert audits[-1] == ("patients-import", "patient")
    assert audits.count(("admit", "patient")) == 2 and audits.count(("create", "course")) == 1


def test_a_dose_of_an_imported_course_is_refused_until_signed_off(engine, wards):
    report = run(engine, WITH_COURSE)
    with session_scope(engine) as session, pytest.raises(RecordError) as refused:
        dose_service.record(session=session, course_id=report.rows[0].course_id, dose_number=1,
                            scheduled_at=datetime(2026, 11, 27, 14, tzinfo=timezone.utc), status="given",
                            recorded_by="nurse.a", given_at=NOW, dose=43_200_000, route="IV", now=NOW, tz=LONDON)
    assert "eligibility" in " ".join(refused.value.errors).lower()


def test_one_bad_row_saves_nothing_and_the_report_names_every_problem_of_every_row(engine, wards):
    bad = edit(WITH_COURSE, mrn="MRN-2003", bed="A2", birth_date="1965-13-06", indication_stage="V",
               prior_surgery="maybe", planned_doses="14.5", start_at="", dosing_weight_kg="", baseline_weight_kg="")
    report = run(engine, WITH_COURSE, HOME_ONLY, bad)
    assert not report.saved and report.refused == 1
    assert [r.ok for r in report.rows] == [True, True, False]
    detail = report.rows[2].detail
    for said in ("birth_date '1965-13-06' is not a date written YYYY-MM-DD", "prior_surgery 'maybe' is not accepted",
                 "planned_doses '14.5' is not a whole number", "start_at is empty", "Indication 'V' is not known",
                 "A dose per kg needs a dosing weight"):
        assert said in detail, said
    # Each problem once: the services' messages about the same cells are not repeated.
    assert "Date of birth is empty" not in detail and "Prior surgery: answer" not in detail
    assert report.rows[0].patient_id is None    # ids of rows that were not kept are not reported
    assert "1 of 3 rows refused: nothing saved" in report.summary()
    assert (count(engine, Patient), count(engine, TreatmentCourse), count(engine, Placement)) == (0, 0, 0)
    with session_scope(engine) as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "patients-import")).one()
        assert audit.after["saved"] is False and audit.after["refused"] == 1
        assert "Placeholder" not in str(audit.after) and "MRN-2001" not in str(audit.after)


SECOND = edit(WITH_COURSE, mrn="MRN-2009", bed="A2")   # a second patient with a course, otherwise good


@pytest.mark.parametrize("row, message", [
    # A record number used twice in one file: refused at its second use (any case).
    (edit(WITH_COURSE, mrn="mrn-2001", bed="A2"), "already the record number of a patient"),
    # A bed used twice in one file.
    (edit(WITH_COURSE, mrn="MRN-2009"), "A1 on Ward A is occupied by PLACEHOLDER, Drew"),
    (edit(HOME_ONLY, ward="Z"), "ward 'Z' is not a ward code; known: A, B"),
    (edit(HOME_ONLY, bed="A9"), "bed 'A9' is not a bed of ward A; its beds: A1, A2"),
    (edit(HOME_ONLY, sex="m"), "Sex 'm' is not accepted"),
    (edit(HOME_ONLY, birth_date=""), "Date of birth is empty"),
    (edit(HOME_ONLY, admitted_at="2026-11-27T11:00:00Z"), "is in the future"),
    (edit(HOME_ONLY, admitted_at="2026-11-27T09:00:00"), "admitted_at '2026-11-27T09:00:00' has no time zone"),
    (edit(HOME_ONLY, baseline_weight_kg="70"), "Course columns given without a regimen (baseline_weight_kg)"),
    (edit(SECOND, after_lymphodepletion=""), "after_lymphodepletion '' is not accepted; accepted: yes, no"),
    (edit(SECOND, usual_sbp_mm_hg='"124,5"'), "usual_sbp_mm_hg '124,5' is not a plain number"),
    (edit(SECOND, baseline_creatinine_mg_dl="90"), "Baseline Creatinine 90.00 mg/dL is outside the plausible range"),
    (edit(SECOND, combination="il2-ifn-tmz"), "is not given as"),
    (edit(SECOND, fixed_dose="6000000"), "not both"),
    (edit(SECOND, regimen="high-dose"), "Regimen 'high-dose' is not known"),
], ids=["mrn-twice", "bed-twice", "ward", "bed", "sex", "birth-date", "admitted-future", "admitted-naive",
        "course-without-regimen", "lymphodepletion-unanswered", "decimal-comma", "implausible-baseline",
        "combination", "two-prescriptions", "regimen"])
def test_each_refusal_names_the_cell_and_what_is_accepted(engine, wards, row, message):
    report = run(engine, WITH_COURSE, row)
    assert not report.saved and not report.rows[-1].ok
    assert message in report.rows[-1].detail, report.rows[-1].detail
    assert count(engine, Patient) == 0


@pytest.mark.parametrize("header, problem", [
    ("", "The file is empty"),
    ("mrn,family_name,given_name,birth_date,sex", "Required column(s) missing: ward"),
    (HEADER + ",nhs_number", "Unknown column(s): nhs_number"),
])
def test_a_file_with_a_wrong_header_is_refused_before_any_row(engine, wards, header, problem):
    report = run(engine, HOME_ONLY, header=header)
    assert not report.saved and problem in report.summary()


def test_checking_saves_nothing_and_says_the_file_is_ready(engine, wards):
    report = run(engine, WITH_COURSE, HOME_ONLY, check_only=True)
    assert not report.saved and not report.refused
    assert report.summary().startswith("2 rows checked, none refused: ready to import (1 with a course)")
    assert count(engine, Patient) == 0 and count(engine, TreatmentCourse) == 0


def test_a_nurse_imports_admissions_to_her_wards_but_no_course(engine, wards):
    assert run(engine, HOME_ONLY, role="nurse", username="nurse.a", ward_ids=[wards["A"]]).saved
    refused = run(engine, WITH_COURSE, role="nurse", username="nurse.a", ward_ids=[wards["A"]])
    assert "A course is started by an oncologist" in refused.rows[0].detail
    other_ward = run(engine, HOME_ONLY.replace("MRN-2002", "MRN-2005").replace(",A,,", ",B,,"), role="nurse",
                     username="nurse.a", ward_ids=[wards["A"]])
    assert "Ward B is not one of your wards" in other_ward.rows[0].detail
    with pytest.raises(PermissionDenied):
        run(engine, HOME_ONLY, role="quality", username="qa")


def _cli(*args: str, url: str, stdin: str = "") -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "monitoring", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "DATABASE_URL": url, "IL2_TIMEZONE": "Europe/London"}, timeout=120,
                          input=stdin)


def test_the_cli_imports_as_a_confirmed_account_and_lists_the_patients(db_url, tmp_path):
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="A", name="Ward A")
        repository.get_or_create_bed(session=session, ward_id=ward.id, label="A1")
        auth.add_user(session=session, username="dr.onc", display_name="Dr Onc", role="oncologist",
                      password="oncology-ward-a-2026", created_by="admin")
    engine.dispose()
    future = WITH_COURSE.replace("2026-11-26T09:00:00Z", "2026-01-26T09:00:00Z").replace(
        "2026-11-27T14:00:00Z", "2026-01-27T14:00:00Z")
    path = tmp_path / "ward-a.csv"
    path.write_text("\n".join((HEADER, future, HOME_ONLY)) + "\n", encoding="utf-8")
    wrong = _cli("patients", "import", str(path), "--user", "dr.onc", "--password-stdin", url=db_url,
                 stdin="not-the-password\n")
    assert wrong.returncode == 2 and "nothing was saved" in wrong.stderr
    checked = _cli("patients", "import", str(path), "--user", "dr.onc", "--password-stdin", "--check", url=db_url,
                   stdin="oncology-ward-a-2026\n")
    assert checked.returncode == 0 and "ready to import" in checked.stdout, checked.stderr
    done = _cli("patients", "import", str(path), "--user", "dr.onc", "--password-stdin", url=db_url,
                stdin="oncology-ward-a-2026\n")
    assert done.returncode == 0, done.stderr
    assert "2\tMRN-2001\tok\tPLACEHOLDER, Drew (MRN MRN-2001) admitted to A1 on Ward A." in done.stdout
    again = _cli("patients", "import", str(path), "--user", "dr.onc", "--password-stdin", url=db_url,
                 stdin="oncology-ward-a-2026\n")
    assert again.returncode == 2 and "REFUSED" in again.stdout and "2 of 2 rows refused" in again.stdout
    listed = _cli("patients", "list", url=db_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "mrn\tname\tbirth_date\tplace\tcourse\tsign_off"
    assert ("MRN-2001\tPLACEHOLDER, Drew\t1961-03-14\tWard A · A1\tcycle 1 hd-iv-bolus active\tawaiting sign-off"
            in lines)
    assert "MRN-2002\tEXAMPLE, Robin\t1958-07-01\tWard A · home\tno course\t" in lines
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(PatientIdentity)) == 2
        assert "patient-list" in session.scalars(select(AuditEvent.action)).all()
    engine.dispose()
