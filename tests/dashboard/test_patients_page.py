"""The Patients page under AppTest (issue 19 part B): admit (a refusal keeps what was typed), the ward's list
with home patients, transfer and discharge behind a confirmation, find and admit again."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from monitoring.services import auth
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import Patient, PatientIdentity, Placement
from tests.app_helpers import signed_in

PASSWORD = "ward-start-2026"


@pytest.fixture
def ward(app_db_url):
    """A real ward (no demo accounts: a real patient is refused beside them): beds 01 and 02 on Ward A,
    bed 01 on Ward B; a nurse of each ward."""
    engine = make_engine(app_db_url)
    with session_scope(engine) as session:
        ids = {}
        for code, labels in (("A", ("Bed 01", "Bed 02")), ("B", ("Bed 01",))):
            w = repository.get_or_create_ward(session=session, code=code, name=f"Ward {code}")
            ids[code] = w.id
            for label in labels:
                ids[f"{code}:{label}"] = repository.get_or_create_bed(session=session, ward_id=w.id, label=label).id
        for name, codes in (("nurse.a", ["A"]), ("nurse.b", ["B"])):
            auth.add_user(session=session, username=name, display_name=name, role="nurse", password=PASSWORD,
                          created_by="admin", ward_codes=codes)
    yield engine, ids
    engine.dispose()


def open_page(username="nurse.a"):
    return signed_in(username, PASSWORD, page="app_pages/patients.py")


def fill_admission(at, *, mrn="MRN-1001", family="Placeholder", given="Drew", born=date(1961, 3, 14), sex="female",
                   bed="Bed 01", allergies="penicillin: rash"):
    at.text_input(key="admit_mrn_0").input(mrn)
    at.text_input(key="admit_family_0").input(family)
    at.text_input(key="admit_given_0").input(given)
    at.date_input(key="admit_birth_0").set_value(born)
    if sex is not None:
        at.selectbox(key="admit_sex_0").set_value(sex)
    at.selectbox(key="admit_bed_0").set_value(bed)
    at.text_input(key="admit_allergies_0").input(allergies)
    return at


def discharge_out_of_the_service(at, pid):
    at.radio(key=f"discharge_where_{pid}").set_value("Out of the service (on no ward's list; the record is kept)")
    at.text_input(key=f"discharge_reason_{pid}").input("cycle complete")
    at.checkbox(key=f"discharge_sure_{pid}").check()
    at.button(key=f"discharge_{pid}").click().run()


def admit_button(at):
    return next(b for b in at.button if b.label == "Admit")


def test_a_nurse_admits_a_patient_and_sees_them_on_the_wards_list(ward):
    engine, ids = ward
    at = open_page()
    assert at.title[0].value == "Patients" and not at.exception
    assert "No patients on Ward A" in " ".join(i.value for i in at.info)
    admit_button(fill_admission(at)).click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "PLACEHOLDER, Drew (MRN MRN-1001) admitted to Bed 01 on Ward A."
    table = at.dataframe[0].value
    assert table[["Bed", "Patient", "MRN"]].values.tolist() == [["Bed 01", "Placeholder, Drew", "MRN-1001"]]
    assert at.text_input(key="admit_mrn_1").value == ""        # a new, empty form after an admission
    # The bed just taken is no longer offered.
    assert "Bed 01" not in at.selectbox(key="admit_bed_1").options
    with session_scope(engine) as session:
        assert len(session.scalars(select(Placement)).all()) == 1


def test_a_refused_admission_keeps_every_value_typed_and_lists_every_problem(ward):
    at = open_page()
    admit_button(fill_admission(at, mrn="=cmd", sex=None, allergies="  ")).click().run()
    errors = [e.value for e in at.error]
    assert errors[0].startswith("Record number '=cmd' has characters other than letters")
    assert any(e.startswith("Sex '' is not accepted") for e in errors)
    assert any(e.startswith("Allergies are empty") for e in errors)
    assert errors[-1] == "Nothing was saved (admission)."
    assert at.text_input(key="admit_mrn_0").value == "=cmd"
    assert at.text_input(key="admit_family_0").value == "Placeholder"
    assert at.date_input(key="admit_birth_0").value == date(1961, 3, 14)


def test_a_duplicate_record_number_is_refused_on_the_page(ward):
    at = open_page()
    admit_button(fill_admission(at)).click().run()
    at.text_input(key="admit_mrn_1").input("mrn-1001")
    at.text_input(key="admit_family_1").input("Other")
    at.text_input(key="admit_given_1").input("Person")
    at.date_input(key="admit_birth_1").set_value(date(1970, 1, 1))
    at.selectbox(key="admit_sex_1").set_value("male")
    at.radio(key="admit_allergy_state_1").set_value("Not recorded yet")
    admit_button(at).click().run()
    assert [e.value for e in at.error][0].startswith("Record number mrn-1001 is already the record number of a "
                                                      "patient (MRN-1001)")


def test_transfer_needs_the_confirmation_then_moves_the_patient_to_the_other_wards_nurse(ward):
    engine, ids = ward
    at = open_page()
    admit_button(fill_admission(at)).click().run()
    chosen = at.selectbox(key="patients_chosen").value
    with session_scope(engine) as session:
        pid = session.scalars(select(Patient)).one().id
    assert chosen.startswith("Bed 01 · Placeholder, Drew")
    at.selectbox(key=f"transfer_ward_{pid}").set_value("Ward B").run()
    assert at.selectbox(key=f"transfer_bed_{pid}").options == ["Bed 01", "Home (on the ward's list, no bed)"]
    at.text_input(key=f"transfer_reason_{pid}").input("needs telemetry")
    at.button(key=f"transfer_{pid}").click().run()
    assert [e.value for e in at.error] == ["Tick the confirmation first: nothing was saved."]
    at.checkbox(key=f"transfer_sure_{pid}").check()
    at.button(key=f"transfer_{pid}").click().run()
    assert not at.error and at.success[0].value == "PLACEHOLDER, Drew transferred to Bed 01 on Ward B."
    assert "No patients on Ward A" in " ".join(i.value for i in at.info)
    other = open_page("nurse.b")
    assert other.dataframe[0].value["Patient"].tolist() == ["Placeholder, Drew"]
    history = other.dataframe[1].value
    assert history[["Event", "From", "To"]].values.tolist() == [["transferred", "Ward A · Bed 01", "Ward B · Bed 01"],
                                                                ["admitted", "—", "Ward A · Bed 01"]]


def test_discharge_out_of_the_service_then_find_and_admit_again(ward):
    engine, ids = ward
    at = open_page()
    admit_button(fill_admission(at)).click().run()
    with session_scope(engine) as session:
        pid = session.scalars(select(Patient)).one().id
    discharge_out_of_the_service(at, pid)
    assert at.success[0].value == "PLACEHOLDER, Drew discharged out of the service."
    assert "No patients on Ward A" in " ".join(i.value for i in at.info)
    at.text_input(key="find_text").input("placeholder")
    next(b for b in at.button if b.label == "Find").click().run()
    assert at.dataframe[0].value[["Patient", "Where"]].values.tolist() == [["PLACEHOLDER, Drew", "left the service"]]
    at.selectbox(key="readmit_bed").set_value("Home (on the ward's list, no bed)")
    at.checkbox(key="readmit_sure").check()
    next(b for b in at.button if b.label == "Admit again").click().run()
    assert at.success[0].value == "PLACEHOLDER, Drew admitted again at home, on Ward A's list."
    assert at.dataframe[0].value["Bed"].tolist() == ["Home"]
    with session_scope(engine) as session:
        assert session.get(Patient, pid).bed_id is None
        assert session.get(PatientIdentity, pid).mrn == "MRN-1001"


def test_an_identity_correction_from_the_page_needs_a_reason(ward):
    engine, _ = ward
    at = open_page()
    admit_button(fill_admission(at)).click().run()
    with session_scope(engine) as session:
        pid = session.scalars(select(Patient)).one().id
    at.text_input(key=f"correct_given_{pid}").input("Drewe")
    next(b for b in at.button if b.label == "Correct identity").click().run()
    assert "A correction of identity needs a reason" in " ".join(e.value for e in at.error)
    at.text_input(key=f"correct_reason_{pid}").input("typing error at admission")
    next(b for b in at.button if b.label == "Correct identity").click().run()
    assert at.success[0].value.startswith("Identity of PLACEHOLDER, Drew corrected (given name)")


def test_the_oncologist_opens_the_record_of_a_patient_who_left_the_service_and_a_nurse_cannot(ward):
    """The way back to a departed patient's record (issue 19): the patient pages offer the oncologist, who
    covers every ward, "Left the service" beside the wards; a nurse sees her wards' patients only."""
    engine, ids = ward
    at = open_page()
    admit_button(fill_admission(at)).click().run()
    with session_scope(engine) as session:
        pid = session.scalars(select(Patient)).one().id
        auth.add_user(session=session, username="dr.onc", display_name="Dr Onc", role="oncologist",
                      password=PASSWORD, created_by="admin")
        repository.add_course(session=session, patient_id=pid, regimen="hd-iv-bolus", created_by="dr.onc",
                              start_at=datetime(2026, 11, 20, 8, tzinfo=timezone.utc), planned_doses=14,
                              dose_interval_hours=8, status="completed")
    discharge_out_of_the_service(at, pid)
    oncologist = signed_in("dr.onc", PASSWORD, page="app_pages/summary.py")
    ward_box = oncologist.selectbox(key="summary_patient_ward")
    assert ward_box.options[-1] == "Left the service (records kept)"
    ward_box.select("Left the service (records kept)").run()
    assert not oncologist.exception
    assert oncologist.selectbox(key="summary_patient").value == "left · Placeholder, Drew"
    banner = " ".join(m.value for m in oncologist.markdown)
    assert "PLACEHOLDER, Drew" in banner and "left the service" in banner
    nurse = signed_in("nurse.a", PASSWORD, page="app_pages/summary.py")
    assert not nurse.exception and "No patient with an IL-2 course." in " ".join(i.value for i in nurse.info)
    assert not [s for s in nurse.selectbox if "Left the service" in s.options]
