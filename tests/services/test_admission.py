"""Issue 19 items 1 and 3 (part B): admit, find, correct an identity, transfer and discharge; every move a
Placement row (append-only) and one audit row that the administrator reads without a name. On SQLite and
PostgreSQL (the `engine` fixture)."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from monitoring.errors import RecordError
from monitoring.permissions import PermissionDenied
from monitoring.services import admission
from monitoring.services.alert_actions import act
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.store.models import Alert, AuditEvent, Patient, PatientIdentity, Placement
from monitoring.views.alerts import alert_bar
from monitoring.views.audit import search_audit
from monitoring.views.lists import ward_patient_list
from monitoring.views.patient_banner import patient_banner
from monitoring.views.placement import placement_history, ward_beds
from monitoring.views.ward import ward_overview

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
BORN = date(1961, 3, 14)


@pytest.fixture
def wards(engine):
    """Ward A (beds A1, A2) and ward B (beds B1, B2), no patients."""
    with session_scope(engine) as session:
        a = repository.get_or_create_ward(session=session, code="A", name="Ward A")
        b = repository.get_or_create_ward(session=session, code="B", name="Ward B")
        beds = {label: repository.get_or_create_bed(session=session, ward_id=w.id, label=label).id
                for w, labels in ((a, ("A1", "A2")), (b, ("B1", "B2"))) for label in labels}
        return {"A": a.id, "B": b.id, **beds}


def admit(engine, wards, *, mrn="MRN-1001", ward="A", bed="A1", role="nurse", username="nurse.a", user_wards=("A",),
          family="Placeholder", given="Drew", born=BORN, sex="female", allergies="penicillin: rash", now=NOW):
    with session_scope(engine) as session:
        return admission.admit(session=session, role=role, username=username, mrn=mrn, family_name=family,
                               given_name=given, birth_date=born, sex=sex, allergies=allergies, ward_id=wards[ward],
                               bed_id=None if bed is None else wards[bed], now=now, tz=LONDON,
                               ward_ids=[wards[w] for w in user_wards])


def call(engine, function, **kwargs):
    kwargs.setdefault("role", "nurse")
    kwargs.setdefault("username", "nurse.a")
    with session_scope(engine) as session:
        return function(session=session, **kwargs)


def listed(engine, ward_id) -> dict[int, str]:
    with session_scope(engine) as session:
        frame = ward_patient_list(session=session, ward_ids=[ward_id])
    return dict(zip(frame["patient_id"].astype(int), frame["bed"]))


def audit_rows(engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.entity == "patient").order_by(AuditEvent.id)).all()
        session.expunge_all()
        return rows


# --- admit -----------------------------------------------------------------------------------------

def test_admitting_to_a_bed_stores_identity_apart_a_placement_and_one_audit_row(engine, wards):
    done = admit(engine, wards)
    assert done.text == "PLACEHOLDER, Drew (MRN MRN-1001) admitted to A1 on Ward A."
    with session_scope(engine) as session:
        patient = session.get(Patient, done.patient_id)
        identity = session.get(PatientIdentity, done.patient_id)
        assert (patient.ward_id, patient.bed_id, patient.sex, patient.allergies, patient.admitted_at) == (
            wards["A"], wards["A1"], "female", "penicillin: rash", NOW)
        assert not patient.is_synthetic
        assert (identity.mrn, identity.family_name, identity.given_name, identity.birth_date) == (
            "MRN-1001", "Placeholder", "Drew", BORN)
        [row] = session.scalars(select(Placement)).all()
        assert (row.event, row.ward_id, row.bed_id, row.from_ward_id, row.by, row.at) == (
            "admit", wards["A"], wards["A1"], None, "nurse.a", NOW)
        banner = patient_banner(session=session, patient_id=done.patient_id, now=NOW, tz=LONDON)
    assert banner.bed == "A1" and banner.placement() == "Ward A · admitted 27 Nov 2026"
    [audit] = audit_rows(engine)
    assert (audit.action, audit.username, audit.entity_id) == ("admit", "nurse.a", str(done.patient_id))
    assert listed(engine, wards["A"]) == {done.patient_id: "A1"}


def test_a_home_patient_is_on_the_wards_list_and_overview_as_home(engine, wards):
    done = admit(engine, wards, bed=None, allergies=None)
    assert done.text.endswith("admitted at home, on Ward A's list.")
    assert listed(engine, wards["A"]) == {done.patient_id: "Home"}
    with session_scope(engine) as session:
        overview = ward_overview(session=session, ward_ids=[wards["A"]], now=NOW, tz=LONDON)
        banner = patient_banner(session=session, patient_id=done.patient_id, now=NOW, tz=LONDON)
    assert overview["Bed"].tolist() == ["Home"]
    assert (banner.bed, banner.allergies) == ("Home", "allergies not recorded")   # None: not recorded, never none


@pytest.mark.parametrize("mrn", ["MRN-1001", "mrn-1001", "  MRN-1001 "])
def test_a_duplicate_record_number_is_refused_by_name_and_nothing_is_saved(engine, wards, mrn):
    admit(engine, wards)
    with pytest.raises(RecordError) as refused:
        admit(engine, wards, mrn=mrn, bed="A2", family="Other", given="Person")
    assert refused.value.errors == [
        f"Record number {mrn.strip()} is already the record number of a patient (MRN-1001); a record number belongs "
        "to one patient. Find that patient (Find a patient, by record number) to re-admit them or start a new "
        "course."]
    assert len(listed(engine, wards["A"])) == 1 and len(audit_rows(engine)) == 1


@pytest.mark.parametrize("born, accepted", [
    (date(2026, 11, 27), True),                   # born today (a newborn: not an IL-2 patient, but a real date)
    (date(2026, 11, 28), False),                  # tomorrow: in the future
    (date(1906, 11, 27), True),                   # 120 today
    (date(1906, 11, 28), True),                   # 119, 120 tomorrow
    (date(1905, 11, 27), False),                  # 121
    (None, False),
])
def test_the_date_of_birth_is_not_in_the_future_nor_over_120_years_ago(engine, wards, born, accepted):
    if accepted:
        assert admit(engine, wards, born=born).patient_id
        return
    with pytest.raises(RecordError) as refused:
        admit(engine, wards, born=born)
    [message] = refused.value.errors
    assert message == {None: "Date of birth is empty; it is the second identifier on every patient page.",
                       date(2026, 11, 28): "Date of birth 28 Nov 2026 is in the future (today is 27 Nov 2026).",
                       date(1905, 11, 27): "Date of birth 27 Nov 1905 makes the patient 121 years old; at most 120 "
                                           "is accepted. Check the year."}[born]


def test_every_problem_of_an_admission_is_listed_at_once(engine, wards):
    with pytest.raises(RecordError) as refused:
        admit(engine, wards, mrn="=1+1", family=" ", given="", sex="f", allergies="  ")
    assert refused.value.errors == [
        "Record number '=1+1' has characters other than letters, digits, spaces and - / . _ (or starts with one of "
        "them); type it as on the hospital's record.",
        "Family name is empty; give it as on the hospital's record.",
        "Given name is empty; give it as on the hospital's record.",
        "Sex 'f' is not accepted; choose female, male, other, unknown ('unknown' when not known).",
        admission.NEEDS_ALLERGIES]
    assert listed(engine, wards["A"]) == {}


def test_an_occupied_bed_is_refused_naming_who_is_in_it_to_the_wards_staff(engine, wards):
    first = admit(engine, wards)
    with pytest.raises(RecordError) as refused:
        admit(engine, wards, mrn="MRN-1002", family="Second", given="Person")
    assert refused.value.errors == ["A1 on Ward A is occupied by PLACEHOLDER, Drew (MRN MRN-1001): choose a free "
                                    "bed, or move that patient first."]
    # A nurse of ward B moving her patient into ward A's occupied bed is told only that it is taken.
    other = admit(engine, wards, mrn="MRN-2001", ward="B", bed="B1", username="nurse.b", user_wards=("B",))
    with pytest.raises(RecordError) as refused:
        call(engine, admission.transfer, username="nurse.b", patient_id=other.patient_id, ward_id=wards["A"],
             bed_id=wards["A1"], reason="needs telemetry", now=NOW, ward_ids=[wards["B"]])
    assert refused.value.errors == ["A1 on Ward A is occupied by another patient: choose a free bed, or move that "
                                    "patient first."]
    with session_scope(engine) as session:
        beds = ward_beds(session=session, ward_id=wards["A"])
    assert [(b.label, b.patient_id) for b in beds] == [("A1", first.patient_id), ("A2", None)]


def test_admission_is_refused_outside_the_users_wards_and_to_roles_without_it(engine, wards):
    with pytest.raises(RecordError, match="Ward B is not one of your wards; you admit patients to the wards you"):
        admit(engine, wards, ward="B", bed="B1")
    assert admit(engine, wards, ward="B", bed="B1", role="oncologist", username="dr.a", user_wards=()).patient_id
    for role in ("quality", "admin"):
        with pytest.raises(PermissionDenied, match=f"Your role \\({role}\\) may not admit patients"):
            admit(engine, wards, role=role, mrn="MRN-9")


def test_a_database_with_the_demos_accounts_takes_no_real_patient(engine, wards):
    from monitoring.services import auth
    with session_scope(engine) as session:
        auth.ensure_demo_accounts(session=session, ward_codes=["A"])
    with pytest.raises(RecordError, match="This database holds the demo's accounts"):
        admit(engine, wards)


# --- find, identity --------------------------------------------------------------------------------

def test_find_by_record_number_hospital_wide_and_by_name_on_the_users_wards_and_among_those_who_left(engine, wards):
    a = admit(engine, wards).patient_id
    b = admit(engine, wards, mrn="MRN-2001", ward="B", bed="B1", family="Placeholder", given="Avery",
              role="oncologist").patient_id
    gone = admit(engine, wards, mrn="MRN-1003", bed="A2", family="Placeholdersson", given="Sam").patient_id
    call(engine, admission.discharge, patient_id=gone, home=False, reason="cycle complete", now=NOW)

    def find(words, user_wards=("A",)):
        return call(engine, admission.find, text=words, ward_ids=[wards[w] for w in user_wards])

    [found] = find("mrn-2001")                               # exact record number, any case, on another ward
    assert (found.patient_id, found.name, found.place, found.on_ward) == (b, "PLACEHOLDER, Avery", "Ward B", True)
    assert [(f.patient_id, f.place) for f in find("placeholder")] == [(a, "Ward A · A1"), (gone, "left the service")]
    assert [f.patient_id for f in find("drew placeholder")] == [a]
    assert [f.patient_id for f in find("placeholder", user_wards=("A", "B"))] == [b, a, gone]
    assert find("nobody") == []
    with pytest.raises(RecordError, match="Type at least 2 characters"):
        find(" x ")
    finds = [r for r in audit_rows(engine) if r.action == "patient-find"]
    assert finds[0].after == {"by": "mrn", "query": "mrn-2001", "found": 1, "patient_ids": [b]}


def test_an_identity_correction_keeps_the_original_in_the_audit_trail(engine, wards):
    done = admit(engine, wards)
    admit(engine, wards, mrn="MRN-1002", bed="A2")
    with pytest.raises(RecordError) as refused:
        call(engine, admission.correct_identity, patient_id=done.patient_id, reason=" ", now=NOW, tz=LONDON,
             mrn="mrn-1002", birth_date=date(2027, 1, 1))
    assert [e.split(";")[0].split(" (")[0] for e in refused.value.errors] == [
        "Record number mrn-1002 is already the record number of a patient", "Date of birth 01 Jan 2027 is in the "
        "future", "A correction of identity needs a reason"]
    result = call(engine, admission.correct_identity, patient_id=done.patient_id, reason="typing error at admission",
                  now=NOW, tz=LONDON, family_name="Placeholdér", birth_date=date(1961, 3, 15))
    assert result.text == ("Identity of PLACEHOLDER, Drew corrected (family name, birth date); the original is kept "
                           "in the audit trail.")
    with session_scope(engine) as session:
        identity = session.get(PatientIdentity, done.patient_id)
        assert (identity.family_name, identity.birth_date, identity.mrn) == ("Placeholdér", date(1961, 3, 15),
                                                                             "MRN-1001")
    [row] = [r for r in audit_rows(engine) if r.action == "identity-correct"]
    assert (row.before["family_name"], row.before["birth_date"]) == ("Placeholder", "1961-03-14")
    assert row.after["reason"] == "typing error at admission"
    with pytest.raises(RecordError, match="Nothing to correct"):
        call(engine, admission.correct_identity, patient_id=done.patient_id, reason="again", now=NOW, tz=LONDON,
             family_name="Placeholdér")


def test_allergies_recorded_later_are_audited_and_never_empty(engine, wards):
    done = admit(engine, wards, allergies=None)
    with pytest.raises(RecordError) as refused:
        call(engine, admission.record_allergies, patient_id=done.patient_id, allergies=" ")
    assert refused.value.errors == [admission.NEEDS_ALLERGIES]
    call(engine, admission.record_allergies, patient_id=done.patient_id, allergies="no known drug allergies")
    [row] = [r for r in audit_rows(engine) if r.action == "allergies-record"]
    assert (row.before, row.after) == ({"allergies": None}, {"allergies": "no known drug allergies"})


# --- transfer and discharge ------------------------------------------------------------------------

def _alert(engine, patient_id: int) -> int:
    with session_scope(engine) as session:
        alert = Alert(alert_key=f"test-{patient_id}", patient_id=patient_id, rule_id="sepsis_screen", rule_version="1",
                      onset_at=NOW, level="qSOFA positive", severity="urgent", evidence=[])
        session.add(alert)
        session.flush()
        return int(alert.id)


def test_a_transfer_moves_the_patient_to_the_new_wards_nurses_and_keeps_the_history(engine, wards):
    done = admit(engine, wards)
    alert_id = _alert(engine, done.patient_id)

    def seen_by(ward_id):
        with session_scope(engine) as session:
            overview = ward_overview(session=session, ward_ids=[ward_id], now=NOW, tz=LONDON)
            bar = alert_bar(session=session, ward_ids=[ward_id], now=NOW)
        return set(overview["patient_id"].astype(int)), bar.counts

    assert seen_by(wards["A"]) == ({done.patient_id}, {"urgent": 1}) and seen_by(wards["B"]) == (set(), {})
    moved = call(engine, admission.transfer, patient_id=done.patient_id, ward_id=wards["B"], bed_id=wards["B2"],
                 reason="needs telemetry", now=NOW + timedelta(hours=2), ward_ids=[wards["A"]])
    assert moved.text == "PLACEHOLDER, Drew transferred to B2 on Ward B."
    assert seen_by(wards["A"]) == (set(), {}) and seen_by(wards["B"]) == ({done.patient_id}, {"urgent": 1})
    # The old ward's nurse can no longer act on the patient's alert nor move them; ward B's nurse can.
    with pytest.raises(RecordError):
        call(engine, act, alert_id=alert_id, action="escalate", note="SBP falling", now=NOW, ward_ids=[wards["A"]],
             escalate_to="role:oncologist")
    with pytest.raises(RecordError, match="PLACEHOLDER, Drew is not on one of your wards"):
        call(engine, admission.transfer, patient_id=done.patient_id, ward_id=wards["A"], bed_id=wards["A1"],
             reason="back", now=NOW, ward_ids=[wards["A"]])
    call(engine, admission.transfer, username="nurse.b", patient_id=done.patient_id, ward_id=wards["B"],
         bed_id=None, reason="well enough for home injections", now=NOW + timedelta(hours=5), ward_ids=[wards["B"]])
    assert listed(engine, wards["B"]) == {done.patient_id: "Home"}
    with session_scope(engine) as session:
        history = placement_history(session=session, patient_id=done.patient_id, tz=LONDON)
    assert history[["Event", "From", "To", "Reason"]].values.tolist() == [
        ["transferred", "Ward B · B2", "Ward B · home", "well enough for home injections"],
        ["transferred", "Ward A · A1", "Ward B · B2", "needs telemetry"],
        ["admitted", "—", "Ward A · A1", ""]]
    moves = [r for r in audit_rows(engine) if r.action == "patient-transfer"]
    assert [(r.before, r.after["ward_id"], r.after["bed_id"]) for r in moves] == [
        ({"ward_id": wards["A"], "bed_id": wards["A1"]}, wards["B"], wards["B2"]),
        ({"ward_id": wards["B"], "bed_id": wards["B2"]}, wards["B"], None)]


def test_a_transfer_needs_a_reason_and_another_place(engine, wards):
    done = admit(engine, wards)
    with pytest.raises(RecordError) as refused:
        call(engine, admission.transfer, patient_id=done.patient_id, ward_id=wards["A"], bed_id=wards["A1"],
             reason="", now=NOW, ward_ids=[wards["A"]])
    assert refused.value.errors == [
        "A transfer needs a reason (for example 'needs telemetry', 'cycle complete', 'patient's choice').",
        "PLACEHOLDER, Drew is in A1 on Ward A already: choose another bed or ward."]
    with pytest.raises(RecordError, match="Bed .* is not a bed of Ward A"):
        call(engine, admission.transfer, patient_id=done.patient_id, ward_id=wards["A"], bed_id=wards["B1"],
             reason="x", now=NOW, ward_ids=[wards["A"]])


def test_discharge_home_frees_the_bed_and_out_of_the_service_leaves_every_list_keeping_the_record(engine, wards):
    done = admit(engine, wards)
    with session_scope(engine) as session:
        repository.add_course(session=session, patient_id=done.patient_id, regimen="low-dose-sc", start_at=NOW,
                              created_by="dr.a")
    _alert(engine, done.patient_id)
    home = call(engine, admission.discharge, patient_id=done.patient_id, home=True, reason="self-injection at home",
                now=NOW, ward_ids=[wards["A"]])
    assert home.text == "PLACEHOLDER, Drew discharged home, on Ward A's list."
    assert home.warnings == ("1 open alert stays open in the record.",)
    assert listed(engine, wards["A"]) == {done.patient_id: "Home"}
    admit(engine, wards, mrn="MRN-1002")                         # A1 is free again
    with pytest.raises(RecordError, match="is at home on the ward's list already"):
        call(engine, admission.discharge, patient_id=done.patient_id, home=True, reason="x", now=NOW)
    gone = call(engine, admission.discharge, patient_id=done.patient_id, home=False, reason="course completed",
                now=NOW + timedelta(days=1), ward_ids=[wards["A"]])
    assert gone.text == "PLACEHOLDER, Drew discharged out of the service."
    assert gone.warnings == (
        "The IL-2 course is still recorded as active: end it with its reason (completed, toxicity, progression, "
        "patient's choice, death) on the course page.",
        "1 open alert stays open in the record, and no longer shows in the ward's inbox: act on it first if needed.")
    assert done.patient_id not in listed(engine, wards["A"])
    with session_scope(engine) as session:
        assert session.scalars(select(Alert)).one().status == "open"    # never closed by a discharge
        banner = patient_banner(session=session, patient_id=done.patient_id, now=NOW, tz=LONDON)
    assert (banner.bed, banner.placement()) == ("no bed", "left the service · admitted 27 Nov 2026")
    with pytest.raises(RecordError, match="has left the service .* admit them again instead"):
        call(engine, admission.transfer, patient_id=done.patient_id, ward_id=wards["A"], bed_id=wards["A2"],
             reason="x", now=NOW)
    back = call(engine, admission.readmit, patient_id=done.patient_id, ward_id=wards["A"], bed_id=wards["A2"],
                now=NOW + timedelta(days=20), ward_ids=[wards["A"]])
    assert back.text == "PLACEHOLDER, Drew admitted again to A2 on Ward A."
    assert [r.action for r in audit_rows(engine)] == ["admit", "patient-discharge-home", "admit",
                                                      "patient-discharge", "patient-readmit"]
    with pytest.raises(RecordError, match="is on Ward A's list already: transfer them instead"):
        call(engine, admission.readmit, patient_id=done.patient_id, ward_id=wards["A"], bed_id=None, now=NOW)


def test_no_audit_row_of_these_actions_shows_the_administrator_a_name_or_record_number(engine, wards):
    done = admit(engine, wards)
    call(engine, admission.find, text="Placeholder")
    call(engine, admission.correct_identity, patient_id=done.patient_id, reason="typo Placeholder", now=NOW,
         tz=LONDON, given_name="Drewe")
    call(engine, admission.transfer, patient_id=done.patient_id, ward_id=wards["A"], bed_id=wards["A2"],
         reason="Placeholder asked", now=NOW)
    call(engine, admission.discharge, patient_id=done.patient_id, home=False, reason="Placeholder went home", now=NOW)
    with session_scope(engine) as session:
        shown = search_audit(session=session, entity="patient")
    assert len(shown) == 5
    words = json.dumps(shown.astype(str).values.tolist())
    for identifier in ("Placeholder", "Drew", "MRN-1001", "1961", "penicillin"):
        assert identifier not in words


def test_placement_rows_are_append_only(engine, wards):
    admit(engine, wards)
    for statement in ("UPDATE placement SET reason = 'changed'", "DELETE FROM placement"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as connection:
                connection.execute(text(statement))


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_the_apps_postgresql_role_may_add_placements_but_not_rewrite_them(engine, wards):
    import os

    from monitoring.store.db import make_engine
    from monitoring.store.db_roles import grant_app_role
    role = f"il2_placement_test_{os.getpid()}"
    assert "placement" in grant_app_role(engine, role)["SELECT, INSERT"]
    app = make_engine(engine.url.set(username=role, password=None).render_as_string(hide_password=False))
    try:
        done = admit(app, wards)
        call(app, admission.transfer, patient_id=done.patient_id, ward_id=wards["A"], bed_id=wards["A2"],
             reason="window bed", now=NOW)
        for statement in ("UPDATE placement SET reason = 'changed'", "TRUNCATE placement"):
            with pytest.raises(DBAPIError, match="permission denied"):
                with app.begin() as connection:
                    connection.execute(text(statement))
    finally:
        app.dispose()
        with engine.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))


def test_a_retired_bed_is_neither_offered_nor_taken(engine, wards):
    """Issue 19: the Wards page retires a bed (services.wards); admission must not place anyone in it."""
    from monitoring.services import wards as ward_service

    with session_scope(engine) as session:
        ward_service.retire_bed(session=session, role="admin", username="admin", code="A", label="A2", now=NOW)
    with session_scope(engine) as session:
        assert [b.label for b in ward_beds(session=session, ward_id=wards["A"])] == ["A1"]
    with pytest.raises(RecordError) as refused:
        admit(engine, wards, bed="A2")
    assert refused.value.errors == ["A2 on Ward A is retired (no longer in use); choose a bed in use or home."]
