"""Lab results import, as a nurse meets it: check a laboratory file row by row, import the good rows or
nothing, never store a result twice, audit the import and re-evaluate alerts. On SQLite and PostgreSQL
(the `engine` fixture), and the page itself under AppTest."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.inputs import ObservationInput
from monitoring.errors import InputError, RecordError
from monitoring.services import auth, lab_import
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import Alert, AuditEvent, Observation
from tests.app_helpers import signed_in
from tests.factories import NOW, make_patient_with_course

MRN = "SYN-TEST-1"
HEADER = "patient_id,time,code,value,unit,ref_low,ref_high\n"
GOOD = HEADER + (
    f"{MRN},2026-11-27T06:00:00Z,creatinine,88.4,umol/L,60,110\n"
    f"{MRN},2026-11-27T07:00:00+01:00,anc,1.5,,2,7.5\n"
    f"{MRN},2026-11-27T06:00:00Z,hemoglobin,125,g/L,120,160\n"
)
# Row 2: no zone; row 3: value not a number and ref_low not a number; row 4: unknown unit;
# row 5: a bedside code; row 6: unknown record number; row 8: a decimal comma shifts the cells;
# rows 1 and 7 are good.
MIXED = HEADER + (
    f"{MRN},2026-11-27T06:00:00Z,sodium,139,mmol/L,135,145\n"
    f"{MRN},2026-11-27T06:00:00,potassium,4.1,,,\n"
    f'{MRN},2026-11-27T06:00:00Z,albumin,"3,5",g/L,x,\n'
    f"{MRN},2026-11-27T06:00:00Z,creatinine,1.1,mg,,\n"
    f"{MRN},2026-11-27T06:00:00Z,heart_rate,80,,,\n"
    "NO-SUCH-MRN,2026-11-27T06:00:00Z,sodium,140,,,\n"
    f"{MRN},2026-11-27T06:00:00Z,platelets,150000,/uL,,\n"
    f"{MRN},2026-11-27T06:00:00Z,albumin,3,5,g/dL,3.5,5.0\n"
)


def check(engine, text: str, **kwargs) -> lab_import.ImportPreview:
    with session_scope(engine) as session:
        return lab_import.check_file(session=session, stream=io.StringIO(text), file_name="labs.csv",
                                     now=NOW, **kwargs)


def commit(engine, preview, mode="good-rows", by="nurse.a") -> lab_import.ImportResult:
    with session_scope(engine) as session:
        return lab_import.commit_import(session=session, preview=preview, mode=mode, imported_by=by, now=NOW)


def stored(engine) -> pd.DataFrame:
    with session_scope(engine) as session:
        return repository.current_observations(session=session)


def audit(engine, action="lab-import") -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def by_row(preview) -> dict[int, dict]:
    return {int(r["row"]): r for r in preview.report.to_dict("records")}


# --- a good file --------------------------------------------------------------------------------------

def test_a_good_file_is_stored_in_canonical_units_with_the_lab_range_and_who_imported_it(engine):
    patient_id, course_id = make_patient_with_course(engine)
    preview = check(engine, GOOD)
    assert preview.counts == {"ok": 3, "correction": 0, "error": 0, "duplicate": 0}
    result = commit(engine, preview)
    assert (result.imported, result.duplicates, result.refused, result.patient_ids) == (3, 0, 0, [patient_id])
    obs = stored(engine).set_index("code")
    assert set(obs["source"]) == {"lab-import"} and set(obs["recorded_by"]) == {"nurse.a"}
    assert set(obs["course_id"]) == {course_id}
    # 88.4 µmol/L creatinine is 1.00 mg/dL; the laboratory's 60-110 µmol/L is converted alike.
    creatinine = obs.loc["creatinine"]
    assert (creatinine["unit"], round(creatinine["value_num"], 6)) == ("mg/dL", 1.0)
    assert (round(creatinine["ref_low"], 3), round(creatinine["ref_high"], 3)) == (0.679, 1.244)
    hb = obs.loc["hemoglobin"]
    assert (hb["unit"], hb["value_num"], hb["ref_low"], hb["ref_high"]) == ("g/dL", 12.5, 12.0, 16.0)
    # 07:00+01:00 is 06:00 UTC; results drawn together form one set.
    assert obs.loc["anc", "observed_at"] == pd.Timestamp("2026-11-27T06:00:00Z")
    assert obs["set_id"].nunique() == 1
    with session_scope(engine) as session:
        row = session.scalars(select(Observation).where(Observation.code == "creatinine")).one()
        assert (row.original_value, row.original_unit, len(row.import_key)) == ("88.4", "umol/L", 32)


def test_the_lab_codes_are_the_numeric_laboratory_entries_of_the_catalogue():
    catalogue = default_catalogue()
    for code in lab_import.LAB_CODES:
        assert catalogue[code].kind == "numeric" and catalogue[code].loinc, code
    bedside = {"temperature", "heart_rate", "sbp", "resp_rate", "spo2", "weight", "urine_output", "rash"}
    assert not bedside & set(lab_import.LAB_CODES)


# --- bad rows -----------------------------------------------------------------------------------------

def test_every_bad_row_is_reported_with_its_row_column_and_value_and_checking_goes_on(engine):
    make_patient_with_course(engine)
    preview = check(engine, MIXED)
    rows = by_row(preview)
    assert preview.counts == {"ok": 2, "correction": 0, "error": 6, "duplicate": 0}
    assert [r for r, v in rows.items() if v["status"] == "ok"] == [1, 7]
    assert rows[2]["column"] == "time" and "'2026-11-27T06:00:00' has no time zone" in rows[2]["message"]
    # Two problems in one row: both named.
    assert rows[3]["column"] == "value, ref_low"
    assert "Albumin '3,5' is not a number" in rows[3]["message"] and "ref_low 'x' is not a number" in rows[3]["message"]
    assert rows[4]["column"] == "unit"
    assert "Unit 'mg' is not accepted for Creatinine; accepted: mg/dL, umol/L" in rows[4]["message"]
    assert rows[5]["column"] == "code" and "is not a laboratory result" in rows[5]["message"]
    assert rows[6]["column"] == "patient_id"
    assert rows[8]["column"] == "line"
    assert rows[8]["message"].startswith("this line has 8 cells where the header has 7: a comma inside a value?")
    # The cells are shown as written, next to the message.
    assert (rows[3]["value"], rows[3]["unit"], rows[4]["unit"]) == ("3,5", "g/L", "mg")


def test_an_implausible_value_names_the_value_the_unit_and_the_accepted_range(engine):
    make_patient_with_course(engine)
    preview = check(engine, HEADER + f"{MRN},2026-11-27T06:00:00Z,creatinine,5000,umol/L,,\n")
    message = by_row(preview)[1]["message"]
    assert "Creatinine 5000 µmol/L" in message and "plausible range" in message and "µmol/L" in message


def test_an_unknown_record_number_is_named(engine):
    make_patient_with_course(engine)
    preview = check(engine, HEADER + "MRN-404,2026-11-27T06:00:00Z,sodium,140,,,\n")
    assert by_row(preview)[1]["message"] == "No patient with record number MRN-404 on this system"


@pytest.mark.parametrize("code, value", [("heart_rate", "80"), ("temperature", "38.2"), ("rash", "2")])
def test_vital_signs_and_nurse_grades_are_refused(engine, code, value):
    make_patient_with_course(engine)
    preview = check(engine, HEADER + f"{MRN},2026-11-27T06:00:00Z,{code},{value},,,\n")
    row = by_row(preview)[1]
    assert row["status"] == "error" and row["column"] == "code"
    assert row["message"].endswith("is not a laboratory result; enter it on the observations page")


def test_a_result_timed_in_the_future_is_refused(engine):
    make_patient_with_course(engine)
    preview = check(engine, HEADER + f"{MRN},2026-11-28T06:00:00Z,sodium,140,,,\n")
    assert by_row(preview)[1]["column"] == "time" and "in the future" in by_row(preview)[1]["message"]


def test_a_missing_column_refuses_the_file_naming_the_columns_found(engine):
    with pytest.raises(InputError, match=r"required column 'time' is missing \(columns found: patient_id, code"):
        check(engine, "patient_id,code,value\nX,sodium,140\n")
    with pytest.raises(InputError, match="empty"):
        check(engine, "")


def test_a_nurse_imports_only_for_patients_of_her_wards(engine):
    make_patient_with_course(engine)
    with session_scope(engine) as session:
        other = repository.get_or_create_ward(session=session, code="O", name="Other ward")
        other_id = other.id
    preview = check(engine, HEADER + f"{MRN},2026-11-27T06:00:00Z,sodium,140,,,\n", ward_ids=[other_id])
    assert "is not on your wards (Other ward)" in by_row(preview)[1]["message"]


# --- good rows or nothing -----------------------------------------------------------------------------

def test_all_or_nothing_refuses_a_file_with_an_error_and_writes_nothing(engine):
    make_patient_with_course(engine)
    preview = check(engine, MIXED)
    with session_scope(engine) as session:
        rows_before = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(RecordError, match="6 of 8 rows have errors, so nothing was imported"):
        commit(engine, preview, mode="all-or-nothing")
    assert stored(engine).empty
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == rows_before


def test_all_or_nothing_imports_a_clean_file(engine):
    make_patient_with_course(engine)
    assert commit(engine, check(engine, GOOD), mode="all-or-nothing").imported == 3


def test_good_rows_imports_only_the_good_rows(engine):
    make_patient_with_course(engine)
    result = commit(engine, check(engine, MIXED))
    assert (result.imported, result.refused) == (2, 6)
    obs = stored(engine)
    assert sorted(obs["code"]) == ["platelets", "sodium"]
    assert obs.loc[obs["code"] == "platelets", "value_num"].item() == 150.0  # 150,000 /µL = 150 ×10⁹/L


# --- duplicates ---------------------------------------------------------------------------------------

def test_importing_the_same_file_again_stores_nothing_new_and_says_when_and_by_whom(engine):
    make_patient_with_course(engine)
    commit(engine, check(engine, GOOD), by="nurse.a")
    again = check(engine, GOOD)
    assert again.counts == {"ok": 0, "correction": 0, "error": 0, "duplicate": 3}
    assert set(again.report["message"]) == {"already imported on 27 Nov 2026 10:00 UTC by nurse.a"}
    result = commit(engine, again, by="nurse.b")
    assert (result.imported, result.duplicates) == (0, 3)
    assert len(stored(engine)) == 3


def test_the_same_result_in_another_unit_is_the_same_result(engine):
    make_patient_with_course(engine)
    commit(engine, check(engine, GOOD))  # creatinine 88.4 µmol/L
    preview = check(engine, HEADER + f"{MRN},2026-11-27T06:00:00Z,creatinine,1.00,mg/dL,,\n")
    assert by_row(preview)[1]["status"] == "duplicate"


def test_a_result_repeated_within_the_file_is_stored_once_even_across_chunks(engine):
    make_patient_with_course(engine)
    text = HEADER + "".join(f"{MRN},2026-11-27T0{h}:00:00Z,sodium,14{h},,,\n" for h in range(5))
    text += f"{MRN},2026-11-27T01:00:00Z,sodium,141,,,\n"  # row 6 repeats row 2
    preview = check(engine, text, chunk_rows=2)
    rows = by_row(preview)
    assert list(rows) == [1, 2, 3, 4, 5, 6]
    assert (rows[6]["status"], rows[6]["message"]) == ("duplicate", "same result as row 2 of this file; imported once")
    assert commit(engine, preview).imported == 5


def test_results_imported_by_someone_else_after_the_preview_are_skipped(engine):
    make_patient_with_course(engine)
    mine, theirs = check(engine, GOOD), check(engine, GOOD)
    commit(engine, theirs, by="nurse.b")
    result = commit(engine, mine, by="nurse.a")
    assert (result.imported, result.duplicates) == (0, 3)
    assert len(stored(engine)) == 3


def test_a_race_on_the_same_result_is_refused_whole_by_the_database(engine, monkeypatch):
    make_patient_with_course(engine)
    mine, theirs = check(engine, GOOD), check(engine, GOOD)
    commit(engine, theirs, by="nurse.b")
    # As if the other import committed between this import's last check and its insert.
    monkeypatch.setattr(lab_import, "imported_keys", lambda **kwargs: {})
    with pytest.raises(RecordError, match="imported by someone else at the same moment"):
        commit(engine, mine, by="nurse.a")
    assert len(stored(engine)) == 3


# --- laboratory corrections --------------------------------------------------------------------------

CORRECTED = HEADER + f"{MRN},2026-11-27T06:00:00Z,creatinine,1.4,mg/dL,0.7,1.2\n"  # GOOD said 88.4 umol/L


def test_a_laboratory_correction_supersedes_the_earlier_result_which_stays_in_the_history(engine):
    make_patient_with_course(engine)
    commit(engine, check(engine, GOOD), by="nurse.a")
    preview = check(engine, CORRECTED)
    row = by_row(preview)[1]
    assert preview.counts == {"ok": 0, "correction": 1, "error": 0, "duplicate": 0} and preview.storable == 1
    assert row["status"] == "correction"
    assert row["message"] == ("laboratory correction: replaces 88.4 umol/L imported on 27 Nov 2026 10:00 UTC "
                              "by nurse.a, which stays in the history")
    result = commit(engine, preview, by="nurse.b")
    assert (result.imported, result.corrected) == (1, 1)
    assert "Imported 1 result (1 of them laboratory corrections of earlier results)" in result.summary
    current = stored(engine)
    creatinine = current[current["code"] == "creatinine"]
    assert len(current) == 3 and len(creatinine) == 1  # one current value per test and time
    assert creatinine["value_num"].iloc[0] == pytest.approx(1.4)
    assert (creatinine["ref_low"].iloc[0], creatinine["ref_high"].iloc[0]) == (pytest.approx(0.7), pytest.approx(1.2))
    with session_scope(engine) as session:
        history = repository.observation_history(session=session, observation_id=int(creatinine["id"].iloc[0]))
        assert [(h.status, h.original_value, h.recorded_by) for h in history] == [
            ("final", "88.4", "nurse.a"), ("amended", "1.4", "nurse.b")]
        assert history[1].reason == "laboratory correction (file labs.csv)"
    assert audit(engine)[-1].after["corrected"] == 1
    assert [e.username for e in audit(engine, action="amend")] == ["nurse.b"]


def test_the_old_file_imported_again_never_brings_the_corrected_value_back(engine):
    make_patient_with_course(engine)
    commit(engine, check(engine, GOOD))
    commit(engine, check(engine, CORRECTED))
    again = check(engine, GOOD)
    assert again.counts == {"ok": 0, "correction": 0, "error": 0, "duplicate": 3}
    assert check(engine, CORRECTED).counts["duplicate"] == 1
    current = stored(engine)
    assert current.loc[current["code"] == "creatinine", "value_num"].tolist() == [pytest.approx(1.4)]


def test_a_second_correction_replaces_the_latest_version(engine):
    make_patient_with_course(engine)
    commit(engine, check(engine, GOOD))
    commit(engine, check(engine, CORRECTED))
    third = check(engine, HEADER + f"{MRN},2026-11-27T06:00:00Z,creatinine,130,umol/L,,\n")
    assert "replaces 1.4 mg/dL" in by_row(third)[1]["message"]
    commit(engine, third)
    current = stored(engine)
    assert current.loc[current["code"] == "creatinine", "value_num"].tolist() == [pytest.approx(130 / 88.42, rel=1e-3)]


def test_a_result_withdrawn_as_entered_in_error_is_not_corrected_the_new_value_is_new(engine):
    make_patient_with_course(engine)
    commit(engine, check(engine, GOOD))
    with session_scope(engine) as session:
        creatinine = repository.current_observations(session=session, codes=["creatinine"])
        repository.mark_entered_in_error(session=session, observation_id=int(creatinine["id"].iloc[0]),
                                         reason="wrong patient", recorded_by="nurse.a", now=NOW)
    assert by_row(check(engine, CORRECTED))[1]["status"] == "ok"


def test_two_values_for_the_same_test_and_time_in_one_file_is_an_error_naming_the_other_row(engine):
    make_patient_with_course(engine)
    text = HEADER + (f"{MRN},2026-11-27T06:00:00Z,potassium,4.1,,,\n"
                     f"{MRN},2026-11-27T07:00:00+01:00,potassium,5.9,,,\n")  # the same instant
    preview = check(engine, text, chunk_rows=1)
    rows = by_row(preview)
    assert rows[1]["status"] == "ok" and rows[2]["status"] == "error"
    assert rows[2]["column"] == "value"
    assert rows[2]["message"] == ("row 1 of this file gives 4.1 for the same test (potassium) and time; the file "
                                  "must hold one result per test and time (which one is right?)")
    assert commit(engine, preview).imported == 1


# --- audit, alerts, size ----------------------------------------------------------------------------

def test_one_audit_row_records_the_import_with_its_counts_and_file(engine):
    make_patient_with_course(engine)
    preview = check(engine, MIXED)
    commit(engine, preview, by="nurse.a")
    (event,) = audit(engine)
    assert (event.username, event.entity, event.entity_id) == ("nurse.a", "observation", "labs.csv")
    after = event.after
    assert (after["file"], after["mode"], after["rows"], after["imported"], after["duplicates"], after["refused"]) == (
        "labs.csv", "good-rows", 8, 2, 0, 6)
    assert after["refused_rows"] == [2, 3, 4, 5, 6, 8]
    # A re-import that stores nothing is audited too.
    commit(engine, check(engine, MIXED), by="nurse.b")
    assert [(e.username, e.after["imported"], e.after["duplicates"]) for e in audit(engine)][1] == ("nurse.b", 0, 2)


def test_alerts_are_re_evaluated_for_the_patients_imported(engine):
    patient_id, _ = make_patient_with_course(engine)  # baseline creatinine 0.9 mg/dL
    result = commit(engine, check(engine, HEADER + f"{MRN},2026-11-27T06:00:00Z,creatinine,2.0,mg/dL,,\n"))
    assert result.alerts["new"] >= 1
    assert [(a["mrn"], a["rule_id"]) for a in result.new_alerts] == [(MRN, "aki")]
    with session_scope(engine) as session:
        assert session.scalars(select(Alert.rule_id).where(Alert.patient_id == patient_id)).all() == ["aki"]
    assert audit(engine, action="evaluate")[-1].username == "nurse.a"


def test_a_file_over_the_row_limit_is_refused_with_a_clear_message():
    text = HEADER + "".join("X,2026-11-27T06:00:00Z,sodium,140,,,\n" for _ in range(10))
    chunks = lab_import.read_csv_chunks(io.StringIO(text), chunk_rows=3, max_rows=10)
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    with pytest.raises(InputError, match="more than 9 data rows; import at most 9 rows at a time"):
        list(lab_import.read_csv_chunks(io.StringIO(text), chunk_rows=3, max_rows=9))


def test_cells_are_read_as_written():
    (chunk,) = lab_import.read_csv_chunks(io.StringIO("\ufeffpatient_id,time,code,value\n007,t,sodium,NA\n"))
    assert chunk.drop(columns=lab_import.LINE_PROBLEM).iloc[0].tolist() == ["007", "t", "sodium", "NA"]


def test_the_bulk_path_stores_import_identity_and_original_value_and_keeps_working_without(engine):
    patient_id, _ = make_patient_with_course(engine)
    frame = pd.DataFrame({"patient_id": [patient_id] * 2, "code": ["sodium", "potassium"],
                          "value_num": [140.0, 4.0], "unit": ["mmol/L"] * 2,
                          "observed_at": [NOW - timedelta(hours=1)] * 2})
    with session_scope(engine) as session:
        repository.add_observations_bulk(session=session, frame=frame, recorded_by="t", source="manual")
        repository.add_observations_bulk(
            session=session, source="lab-import", recorded_by="t",
            frame=frame.assign(import_key=["k1", "k2"], original_value=["140", "4"], original_unit=["meq/L"] * 2,
                               ref_low=[135.0, None], observed_at=NOW))
    with session_scope(engine) as session:
        rows = session.scalars(select(Observation).order_by(Observation.id)).all()
    assert [r.import_key for r in rows] == [None, None, "k1", "k2"]
    assert [(r.original_value, r.original_unit, r.ref_low) for r in rows[2:]] == [("140", "meq/L", 135.0),
                                                                                  ("4", "meq/L", None)]


# --- the page -------------------------------------------------------------------------------------------

APP = "../../dashboard/app.py"
PAGE = "app_pages/lab_import.py"


@pytest.fixture
def app_url(app_db_url):
    """An app database with the demo accounts and one patient with a course on the nurse's ward."""
    url = app_db_url
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="DEMO", name="Demo ward")
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
        patient = repository.add_patient(session=session, mrn=MRN, given_name="Test", family_name="Person",
                                         recorded_by="t", ward_id=ward.id, is_synthetic=True)
        repository.add_course(session=session, patient_id=patient.id, regimen="hd-iv-bolus", created_by="t",
                              start_at=now - timedelta(days=1), baseline_creatinine_mg_dl=0.9)
    engine.dispose()
    return url


def app_signed_in(username: str) -> AppTest:
    return signed_in(username)


def recent_file() -> bytes:
    """Two good rows (one raising a kidney-injury alert) and one bad row, timed two hours ago."""
    at = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:00Z")
    return (HEADER + f"{MRN},{at},creatinine,2.0,mg/dL,,\n{MRN},{at},sodium,139,,,\n"
            f"{MRN},{at},sodium,lots,,,\n").encode()


def upload(at: AppTest, content: bytes, name="labs.csv") -> AppTest:
    at.file_uploader(key="lab_import_file").set_value((name, content, "text/csv")).run()
    assert not at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_nurse_uploads_sees_the_report_imports_the_good_rows_and_a_second_upload_is_all_duplicates(app_url):
    at = app_signed_in("nurse")
    at.switch_page(PAGE).run()
    assert not at.exception and at.title[0].value == "Lab import"
    content = recent_file()  # once: the same results when uploaded again, whatever the clock says
    upload(at, content)
    assert metrics(at) == {"Good rows": "2", "Laboratory corrections": "0", "Rows with errors": "1",
                           "Already imported": "0"}
    table = at.dataframe[-1].value
    assert table["Row"].tolist() == [3]  # only errors, duplicates and corrections, by default
    assert "Sodium 'lots' is not a number" in table["What is wrong"].iloc[0] and table["Column"].iloc[0] == "value"
    at.toggle(key="lab_import_problems_only").set_value(False).run()
    assert at.dataframe[-1].value["Status"].tolist() == ["✓ ok", "✓ ok", "✗ error"]
    assert at.radio(key="lab_import_mode").value == "good-rows"
    at.button(key="lab_import_go").click().run()
    assert not at.exception and not at.error
    message = at.success[0].value
    assert "Imported 2 results for 1 patient; skipped 0 already imported, 1 refused." in message
    assert "Saved as Demo nurse" in message and "1 new" in message
    assert any("aki" in w.value and MRN in w.value for w in at.warning)
    engine = make_engine(app_url)
    obs = stored(engine)
    assert len(obs) == 2 and set(obs["recorded_by"]) == {"nurse"} and set(obs["source"]) == {"lab-import"}
    assert [e.username for e in audit(engine)] == ["nurse"]
    engine.dispose()
    # The file on screen is checked again: its good rows are now already imported.
    assert metrics(at) == {"Good rows": "0", "Laboratory corrections": "0", "Rows with errors": "1",
                           "Already imported": "2"}
    # The same file uploaded again: everything good is already there, and nothing can be imported.
    upload(at, content, name="labs-again.csv")
    assert metrics(at) == {"Good rows": "0", "Laboratory corrections": "0", "Rows with errors": "1",
                           "Already imported": "2"}
    assert at.button(key="lab_import_go").disabled
    shown = at.dataframe[-1].value
    assert shown["What is wrong"].str.startswith("already imported on").sum() == 2


def test_a_laboratory_correction_is_shown_as_such_and_imported_as_an_amendment(app_url):
    at = app_signed_in("nurse")
    at.switch_page(PAGE).run()
    at_time = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:00Z")
    upload(at, (HEADER + f"{MRN},{at_time},sodium,139,,,\n").encode())
    at.button(key="lab_import_go").click().run()
    upload(at, (HEADER + f"{MRN},{at_time},sodium,129,,,\n").encode(), name="labs-corrected.csv")
    assert metrics(at)["Laboratory corrections"] == "1"
    table = at.dataframe[-1].value  # shown by default: a correction needs the nurse's eye
    assert table["Status"].tolist() == ["✎ correction"]
    assert table["What is wrong"].iloc[0].startswith("laboratory correction: replaces 139 mmol/L imported on")
    assert "(including 1 correction)" in at.radio(key="lab_import_mode").options[0]
    at.button(key="lab_import_go").click().run()
    assert not at.exception and "1 of them laboratory corrections" in at.success[0].value
    engine = make_engine(app_url)
    assert stored(engine)["value_num"].tolist() == [129.0]
    engine.dispose()


def test_all_or_nothing_on_the_page_refuses_and_stores_nothing(app_url):
    at = app_signed_in("nurse")
    at.switch_page(PAGE).run()
    upload(at, recent_file())
    at.radio(key="lab_import_mode").set_value("all-or-nothing").run()
    assert "nothing will be imported" in at.warning[-1].value
    at.button(key="lab_import_go").click().run()
    assert not at.exception
    assert "1 of 3 rows have errors, so nothing was imported" in at.error[0].value
    engine = make_engine(app_url)
    assert stored(engine).empty and audit(engine) == []
    engine.dispose()


def test_a_file_that_is_not_the_lab_format_is_refused_with_the_reason_and_no_traceback(app_url):
    at = app_signed_in("nurse")
    at.switch_page(PAGE).run()
    upload(at, b"MRN;Date;Test;Result\nX;2026-01-01;Na;140\n")
    assert not at.exception
    error = at.error[0].value
    assert "labs.csv cannot be imported" in error and "required column 'patient_id' is missing" in error
    assert "columns found: MRN;Date;Test;Result" in error


@pytest.mark.parametrize("role", ["oncologist", "quality", "admin"])
def test_only_roles_that_record_observations_get_the_page(app_url, role):
    at = app_signed_in(role)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)
    alone = AppTest.from_file(f"../../dashboard/{PAGE}", default_timeout=30)
    alone.session_state["signed_in_user"] = at.session_state["signed_in_user"]
    alone.run()
    assert not alone.exception and "may not open this page" in alone.error[0].value
    assert not alone.file_uploader


def test_a_lab_result_at_the_time_of_a_value_typed_at_the_bedside_amends_it(engine):
    """Two different creatinines at one time cannot both stand (the engine refuses to choose): the
    laboratory's result supersedes the one typed by hand, which stays in the history (issue 14)."""
    patient, _ = make_patient_with_course(engine)
    with session_scope(engine) as session:
        repository.add_observation_set(
            session=session, patient_id=patient, values=[ObservationInput("creatinine", "1.1")],
            observed_at=datetime(2026, 11, 27, 6, tzinfo=timezone.utc), recorded_by="nurse.a",
            now=datetime(2026, 11, 27, 6, 10, tzinfo=timezone.utc))
    preview = check(engine, CORRECTED)
    assert by_row(preview)[1]["status"] == "correction"
    assert by_row(preview)[1]["message"].startswith("laboratory correction: replaces 1.1 mg/dL recorded (manual) on")
    commit(engine, preview, by="nurse.b")
    creatinine = stored(engine).query("code == 'creatinine'")
    assert len(creatinine) == 1 and creatinine["value_num"].iloc[0] == pytest.approx(1.4)
    with session_scope(engine) as session:
        from monitoring.services.alerting import evaluate_store
        evaluate_store(session=session, patient_ids=[patient])   # no conflict left to refuse
