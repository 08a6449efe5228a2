"""Issue 19 item 4: wards and beds, the account rules, one's own password, and the administrator's audit view
by pseudonym (services on both databases; the pages under AppTest)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitoring.clinical.inputs import ObservationInput
from monitoring.errors import RecordError
from monitoring.permissions import PermissionDenied
from monitoring.services import account, auth, pseudonyms, sessions, wards
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent, Bed, SignInSession
from monitoring.views.audit import search_audit
from monitoring.views.lists import ward_beds, ward_table
from tests.app_helpers import signed_in

ADMIN = {"role": "admin", "username": "root"}
PASSWORD = "correct-horse-9"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def audit(engine, action):
    with session_scope(engine) as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def add_ward(engine, code="W1", name="Ward 1", beds=("1", "2")):
    with session_scope(engine) as session:
        return wards.add_ward(session=session, **ADMIN, code=code, name=name, beds=list(beds)).id


# --- accounts: a nurse needs a ward ---------------------------------------------------------------

def test_a_nurse_without_a_ward_is_refused_on_add_and_on_change_with_the_rule(engine):
    add_ward(engine)
    with pytest.raises(RecordError) as refused, session_scope(engine) as session:
        auth.add_user(session=session, username="n.new", display_name="N", role="nurse", password=PASSWORD,
                      created_by="root")
    assert refused.value.errors == [auth.NURSE_NEEDS_A_WARD]
    assert "sees only the patients of her wards" in auth.NURSE_NEEDS_A_WARD
    with session_scope(engine) as session:
        auth.add_user(session=session, username="n.new", display_name="N", role="nurse", password=PASSWORD,
                      created_by="root", ward_codes=["W1"])
        auth.add_user(session=session, username="dr.any", display_name="D", role="oncologist", password=PASSWORD,
                      created_by="root")   # every ward without one: allowed
    with pytest.raises(RecordError, match="A nurse needs at least one ward"), session_scope(engine) as session:
        auth.change_account(session=session, username="n.new", ward_codes=[], changed_by="root")   # her last ward
    with pytest.raises(RecordError, match="A nurse needs at least one ward"), session_scope(engine) as session:
        auth.change_account(session=session, username="dr.any", role="nurse", changed_by="root")  # no ward to keep
    with session_scope(engine) as session:   # role and wards in one change: allowed, and audited
        auth.change_account(session=session, username="dr.any", role="nurse", ward_codes=["W1"], changed_by="root")
        auth.change_account(session=session, username="n.new", role="quality", ward_codes=[], changed_by="root")
    change = audit(engine, "user-change")
    assert [(c.entity_id, c.before["role"], c.after["role"], c.after["wards"]) for c in change] == [
        ("dr.any", "oncologist", "nurse", ["W1"]), ("n.new", "nurse", "quality", [])]


# --- wards and beds -------------------------------------------------------------------------------

def test_a_ward_is_added_with_its_beds_and_a_duplicate_code_or_name_is_refused_by_name(engine):
    add_ward(engine, code="w1", name="Ward 1", beds=("1", "2", "3"))
    for code, name, message in [
        ("W1", "Another", "Ward code 'W1' is already used by ward 'Ward 1'; choose another code."),
        ("w1 ", "Another", "Ward code 'W1' is already used by ward 'Ward 1'; choose another code."),
        ("W2", "ward 1", "Ward name 'ward 1' is already the name of ward W1; choose another name."),
        ("W 2", "Ward 2", "Ward code 'W 2' is not accepted; use 1 to 32 letters, digits, '-' or '_', starting with "
                          "a letter or digit."),
        ("W2", " ", "Ward name is empty; give the name the ward is known by."),
    ]:
        with pytest.raises(RecordError) as refused, session_scope(engine) as session:
            wards.add_ward(session=session, **ADMIN, code=code, name=name)
        assert refused.value.errors == [message]
    with pytest.raises(RecordError, match="Bed label '4' is given twice"), session_scope(engine) as session:
        wards.add_ward(session=session, **ADMIN, code="W2", name="Ward 2", beds=["4", "4"])
    with session_scope(engine) as session:
        table = ward_table(session=session)
    assert table.to_dict("records") == [{"Code": "W1", "Name": "Ward 1", "Beds in use": 3, "Retired beds": 0,
                                         "Patients now": 0}]
    created = audit(engine, "ward-create")
    assert len(created) == 1 and created[0].after == {"code": "W1", "name": "Ward 1", "beds": ["1", "2", "3"]}


@pytest.mark.parametrize("name", ["All wards", "my wards", " ALL MY WARDS ", "Left the service (records kept)"])
def test_a_ward_cannot_take_the_name_of_a_choice_the_pages_offer_beside_the_wards(engine, name):
    """The ward choosers offer 'All my wards', 'My wards' and 'All wards' (the inbox) and 'Left the service
    (records kept)' (the patient picker) beside the wards' names: a ward so named would be chosen for the
    group, or would hide it."""
    add_ward(engine)
    expected = (f"Ward name '{name.strip()}' is a choice the pages offer beside the wards (a group of wards, or "
                "patients who have left); choose another name.")
    with pytest.raises(RecordError) as refused, session_scope(engine) as session:
        wards.add_ward(session=session, **ADMIN, code="W2", name=name)
    assert refused.value.errors == [expected]
    with pytest.raises(RecordError) as refused, session_scope(engine) as session:
        wards.rename_ward(session=session, **ADMIN, code="W1", name=name)
    assert refused.value.errors == [expected]
    with session_scope(engine) as session:
        assert ward_table(session=session)["Name"].tolist() == ["Ward 1"]


def test_only_a_role_with_manage_wards_changes_wards(engine):
    for role in ("nurse", "oncologist", "quality"):
        with pytest.raises(PermissionDenied, match="may not manage wards"), session_scope(engine) as session:
            wards.add_ward(session=session, role=role, username="x", code="W9", name="Ward 9")


def test_a_bed_with_a_patient_in_it_cannot_be_retired_and_a_retired_bed_is_kept_and_comes_back(engine):
    ward_id = add_ward(engine)
    with session_scope(engine) as session:
        bed = session.scalars(select(Bed).where(Bed.ward_id == ward_id, Bed.label == "1")).one()
        repository.add_patient(session=session, mrn="SYN-W-1", given_name="A", family_name="B", recorded_by="n",
                               ward_id=ward_id, bed_id=bed.id, is_synthetic=True)
    with pytest.raises(RecordError) as refused, session_scope(engine) as session:
        wards.retire_bed(session=session, **ADMIN, code="W1", label="1")
    assert refused.value.errors == ["Bed '1' on ward W1 has a patient in it; move or discharge the patient before "
                                    "retiring the bed."]
    with session_scope(engine) as session:
        wards.retire_bed(session=session, **ADMIN, code="W1", label="2", now=NOW)
    with pytest.raises(RecordError, match="Bed '2' on ward W1 is already retired."), session_scope(engine) as session:
        wards.retire_bed(session=session, **ADMIN, code="W1", label="2")
    with pytest.raises(RecordError, match="Bed '1' is already in use on ward W1."), session_scope(engine) as session:
        wards.add_beds(session=session, **ADMIN, code="W1", labels=["1"])
    with session_scope(engine) as session:
        beds = ward_beds(session=session, ward_id=ward_id)
        assert beds[["Bed", "In use", "Patient in it"]].values.tolist() == [["1", True, True], ["2", False, False]]
        counts = ward_table(session=session).iloc[0][["Beds in use", "Retired beds", "Patients now"]]
        assert counts.tolist() == [1, 1, 1]
        wards.add_beds(session=session, **ADMIN, code="W1", labels=["2", "3"])   # 2 back in use, 3 new
    with session_scope(engine) as session:
        rows = session.scalars(select(Bed).where(Bed.ward_id == ward_id).order_by(Bed.label)).all()
        assert [(b.label, b.retired_at) for b in rows] == [("1", None), ("2", None), ("3", None)]
    assert audit(engine, "bed-retire")[0].after == {"code": "W1", "bed": "2"}
    assert audit(engine, "bed-add")[0].after == {"code": "W1", "added": ["3"], "back_in_use": ["2"]}


def test_a_ward_is_renamed_with_the_old_and_new_names_in_the_audit(engine):
    add_ward(engine)
    add_ward(engine, code="W2", name="Ward 2")
    with pytest.raises(RecordError, match="already the name of ward W2"), session_scope(engine) as session:
        wards.rename_ward(session=session, **ADMIN, code="W1", name="WARD 2")
    with session_scope(engine) as session:
        wards.rename_ward(session=session, **ADMIN, code="w1", name="Oncology day unit")
    row = audit(engine, "ward-rename")[0]
    assert (row.before["name"], row.after["name"], row.after["code"]) == ("Ward 1", "Oncology day unit", "W1")


# --- one's own password ------------------------------------------------------------------------------

def make_account(engine, username="nurse.o", password=PASSWORD, email=None):
    add_ward(engine)
    with session_scope(engine) as session:
        auth.add_user(session=session, username=username, display_name="O", role="nurse", password=password,
                      email=email, created_by="root", ward_codes=["W1"])


def change(engine, current=PASSWORD, new="new-pass-2026", confirm=None, **kwargs):
    with session_scope(engine) as session:
        return account.change_own_password(session=session, username=kwargs.pop("username", "nurse.o"),
                                           current_password=current, new_password=new,
                                           confirm_password=new if confirm is None else confirm, **kwargs)


def test_a_wrong_current_password_is_refused_and_counts_toward_the_lockout(engine):
    make_account(engine)
    for attempt in range(1, auth.LOCKOUT_ATTEMPTS + 1):
        result = change(engine, current=f"wrong-{attempt}-pw", now=NOW)
        assert not result.ok and result.errors == [account.WRONG_CURRENT]
    with session_scope(engine) as session:
        user = auth.get_user(session=session, username="nurse.o")
        assert user.failed_logins == auth.LOCKOUT_ATTEMPTS
        assert user.locked_until == NOW + timedelta(minutes=auth.LOCKOUT_MINUTES)
    locked = change(engine, now=NOW + timedelta(minutes=1))   # the right password, under the lock: not checked
    assert not locked.ok and locked.errors[0].startswith(f"Your account is locked after {auth.LOCKOUT_ATTEMPTS}")
    with session_scope(engine) as session:   # and the sign-in is locked too
        assert not auth.authenticate(session=session, username="nurse.o", password=PASSWORD,
                                     now=NOW + timedelta(minutes=2)).ok
    failed = audit(engine, "password-change-failed")
    assert [f.after["reason"] for f in failed] == ["wrong password"] * auth.LOCKOUT_ATTEMPTS + ["locked"]
    assert not audit(engine, "password-change")
    assert account.WRONG_CURRENT.startswith("The current password is wrong.")


@pytest.mark.parametrize("new, confirm, problems", [
    ("short", "short", ["Password has 5 characters; at least 8 are needed."]),
    ("nurse.o", "nurse.o", ["Password has 7 characters; at least 8 are needed.",
                            "Password must not be the user name."]),
    ("password", "password", ["Password is a commonly used password; choose another."]),
    ("new-pass-2026", "new-pass-2062", ["The new password and its confirmation differ; type the same password twice."]),
    (PASSWORD, PASSWORD, ["The new password is the current one; choose a different password."]),
])
def test_a_weak_or_mistyped_new_password_is_refused_with_the_policys_words(engine, new, confirm, problems):
    make_account(engine)
    result = change(engine, new=new, confirm=confirm)
    assert not result.ok and result.errors == problems
    with session_scope(engine) as session:
        assert auth.authenticate(session=session, username="nurse.o", password=PASSWORD).ok   # unchanged


def test_a_changed_password_signs_out_the_users_other_sign_ins_but_not_this_one(engine):
    make_account(engine)
    with session_scope(engine) as session:
        here = sessions.start(session=session, username="nurse.o")
        sessions.start(session=session, username="nurse.o")
        sessions.start(session=session, username="nurse.o")
    result = change(engine, keep_token=here)
    assert result.ok and result.sessions_ended == 2
    with session_scope(engine) as session:
        open_ = session.scalars(select(SignInSession).where(SignInSession.ended_at.is_(None))).all()
        assert len(open_) == 1 and sessions.resume(session=session, token=here).username == "nurse.o"
        assert auth.authenticate(session=session, username="nurse.o", password="new-pass-2026").ok
        assert not auth.authenticate(session=session, username="nurse.o", password=PASSWORD).ok
    row = audit(engine, "password-change")[0]
    assert row.after == {"by": "self", "other_sign_ins_ended": 2}
    assert "new-pass-2026" not in str(row.after) and PASSWORD not in str(row.after)


def test_a_single_sign_on_account_has_no_password_here_to_change(engine):
    make_account(engine, username="dr.sso", password=None, email="dr.sso@hospital.example")
    result = change(engine, username="dr.sso")
    assert not result.ok and result.errors == [account.NO_LOCAL_PASSWORD]
    with session_scope(engine) as session:
        assert not account.has_local_password(session=session, username="dr.sso")


# --- the administrator's audit view by pseudonym ------------------------------------------------------

TYPED = "daughter Jane Roe on 07700 900123"


def admitted_patient_with_rows(engine) -> int:
    """A patient admitted, observed and dosed through the audited paths, with typed text everywhere."""
    ward_id = add_ward(engine)
    with session_scope(engine) as session:
        bed = session.scalars(select(Bed).where(Bed.ward_id == ward_id, Bed.label == "1")).one()
        patient = repository.add_patient(session=session, mrn="RX-445566", given_name="Winifred",
                                         family_name="Quartermaine", birth_date=date(1931, 7, 8), recorded_by="n.a",
                                         ward_id=ward_id, bed_id=bed.id, allergies=f"penicillin; {TYPED}",
                                         is_synthetic=True)
        course = repository.add_course(session=session, patient_id=patient.id, regimen="hd-iv-bolus",
                                       start_at=NOW - timedelta(days=1), created_by="dr.b", planned_doses=14,
                                       dose_per_kg=600_000, dose_interval_hours=8, baseline_weight_kg=70)
        repository.add_observation_set(session=session, patient_id=patient.id, course_id=course.id,
                                       values=[ObservationInput("heart_rate", 88)], recorded_by="n.a",
                                       observed_at=NOW - timedelta(hours=2), late_reason=TYPED)
        repository.record_dose(session=session, course_id=course.id, dose_number=1, status="held",
                               scheduled_at=NOW - timedelta(hours=1), recorded_by="n.a", reason=TYPED,
                               reason_note=TYPED)
        return patient.id


def test_the_admins_audit_view_shows_a_pseudonym_never_the_patients_identity_or_typed_text(engine):
    patient_id = admitted_patient_with_rows(engine)
    with session_scope(engine) as session:
        rows = search_audit(session=session)
        found = pseudonyms.resolve(session=session, role="oncologist", username="dr.b",
                                   pseudonym=rows[rows["entity"] == "patient"].iloc[0]["entity_id"])
    shown = rows.to_csv()
    for secret in ("RX-445566", "Winifred", "Quartermaine", "1931-07-08", "Jane Roe", "07700 900123", "penicillin"):
        assert secret not in shown, secret
    about = rows[rows["action"].isin(["create", "record", "dose-held"]) & (rows["entity"] != "ward")]
    assert set(about["entity"]) == {"patient", "course", "observation-set", "dose"}
    assert about["patient"].nunique() == 1
    name = about["patient"].iloc[0]
    assert name.startswith("A-") and len(name) == 12
    assert '"patient_id": ' + f'"{name}"' in " ".join(about["after"])   # never the internal number
    assert (found.patient_id, found.mrn, found.family_name, found.ward, found.bed) == (
        patient_id, "RX-445566", "Quartermaine", "W1", "1")
    resolved = audit(engine, "pseudonym-resolve")
    assert [(r.username, r.entity_id, r.after) for r in resolved] == [("dr.b", str(patient_id), {"pseudonym": name})]


def test_a_count_of_patients_stays_a_number_and_a_list_of_patients_becomes_pseudonyms(engine):
    """'patients' is a count in a print or a bulk write and a list of ids in an evaluation or a lab import:
    a count equal to some patient's number must not turn into that patient's pseudonym."""
    patient_id = admitted_patient_with_rows(engine)
    with session_scope(engine) as session:
        repository.write_audit(session=session, username="n.a", action="print", entity="ward-print",
                               after={"wards": ["W1"], "patients": patient_id, "pages": 2})
        repository.write_audit(session=session, username="engine", action="evaluate", entity="alert",
                               after={"new": 1, "patients": [patient_id]})
    with session_scope(engine) as session:
        rows = search_audit(session=session).set_index("action")
        name = search_audit(session=session, entity="patient").iloc[0]["entity_id"]
    assert f'"patients": {patient_id},' in rows.loc["print", "after"] and rows.loc["print", "patient"] == ""
    assert f'"patients": ["{name}"]' in rows.loc["evaluate", "after"] and rows.loc["evaluate", "patient"] == name


def test_only_an_oncologist_resolves_a_pseudonym_and_a_wrong_one_is_named(engine):
    admitted_patient_with_rows(engine)
    with session_scope(engine) as session:
        name = search_audit(session=session, entity="patient").iloc[0]["entity_id"]
    for role in ("admin", "nurse", "quality"):
        with pytest.raises(PermissionDenied, match="may not resolve pseudonyms; allowed: oncologist"), \
                session_scope(engine) as session:
            pseudonyms.resolve(session=session, role=role, username="root", pseudonym=name)
    for typed, message in [
        ("A-0000000000" if name != "A-0000000000" else "A-1111111111", "No patient has the pseudonym"),
        ("P-3fa94c0e1b", "'P-3fa94c0e1b' is not an audit log pseudonym"),
        ("Quartermaine", "'Quartermaine' is not an audit log pseudonym"),
    ]:
        with pytest.raises(RecordError, match=message), session_scope(engine) as session:
            pseudonyms.resolve(session=session, role="oncologist", username="dr.b", pseudonym=typed)
    with session_scope(engine) as session:   # as typed or pasted: case and spaces do not matter
        assert pseudonyms.resolve(session=session, role="oncologist", username="dr.b",
                                  pseudonym=f"  {name.upper()} ").pseudonym == name
    assert len(audit(engine, "pseudonym-resolve")) == 1


# --- the pages --------------------------------------------------------------------------------------

@pytest.fixture
def app_url(app_db_url):
    engine = make_engine(app_db_url)
    with session_scope(engine) as session:
        repository.get_or_create_ward(session=session, code="DEMO", name="Demo ward")
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    engine.dispose()
    return app_db_url


def stored_user(url, username):
    engine = make_engine(url)
    with session_scope(engine) as session:
        user = auth.get_user(session=session, username=username)
        found = None if user is None else (user.role, sorted(auth._ward_codes(session=session, user=user)))
    engine.dispose()
    return found


def test_a_refused_add_keeps_what_was_typed_and_a_successful_one_empties_the_form(app_url):
    at = signed_in("admin", page="app_pages/users.py")
    typed = {"new_username": "night.nurse", "new_display_name": "Night Nurse", "new_password": "night-shift-7"}
    for key, value in typed.items():
        at.text_input(key=key).input(value)
    at.selectbox(key="new_role").select("nurse")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception and [e.value for e in at.error] == [auth.NURSE_NEEDS_A_WARD]
    assert {key: at.text_input(key=key).value for key in typed} == typed   # nothing to type again
    assert stored_user(app_url, "night.nurse") is None
    at.multiselect(key="new_wards").select("DEMO")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception and at.success[0].value == "Added night.nurse."
    assert stored_user(app_url, "night.nurse") == ("nurse", ["DEMO"])
    assert at.text_input(key="new_username").value == "" and at.multiselect(key="new_wards").value == []


def test_the_admin_changes_a_users_role_and_wards_on_the_users_page(app_url):
    at = signed_in("admin", page="app_pages/users.py")
    at.selectbox(key="change_username").select("nurse").run()
    assert at.selectbox(key="change_role_nurse").value == "nurse"
    assert at.multiselect(key="change_wards_nurse").value == ["DEMO"]
    at.multiselect(key="change_wards_nurse").unselect("DEMO")
    at.button(key="FormSubmitter:change_account-Save role and wards").click().run()
    assert [e.value for e in at.error] == [auth.NURSE_NEEDS_A_WARD]
    at.selectbox(key="change_role_nurse").select("oncologist")
    at.button(key="FormSubmitter:change_account-Save role and wards").click().run()
    assert not at.exception and at.success[0].value == "nurse: role oncologist, wards none."
    assert stored_user(app_url, "nurse") == ("oncologist", [])
    at.selectbox(key="change_username").select("admin").run()
    at.selectbox(key="change_role_admin").select("nurse")
    at.multiselect(key="change_wards_admin").select("DEMO")
    at.button(key="FormSubmitter:change_account-Save role and wards").click().run()
    assert [e.value for e in at.error] == ["You cannot change your own role; ask another administrator."]
    # Reset and unlock from the page: the messages, and that they work.
    at.selectbox(key="change_username").select("quality").run()
    at.text_input(key="reset_password").input("quality-check-42")
    at.button(key="FormSubmitter:change_user-Reset password").click().run()
    assert at.success[0].value == "Password of quality reset and unlocked."
    at.selectbox(key="change_username").select("quality").run()
    at.button(key="FormSubmitter:change_user-Unlock").click().run()
    assert at.success[0].value == "quality unlocked."
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        assert auth.authenticate(session=session, username="quality", password="quality-check-42").ok
    engine.dispose()


def test_every_user_changes_her_own_password_from_the_header(app_url):
    at = signed_in("quality")
    links = [link for link in at.get("page_link") if link.proto.label == "Password"]
    assert len(links) == 1
    at.switch_page("app_pages/password.py").run()
    assert not at.exception and at.title[0].value == "My password"

    def submit(current, new, confirm=None):
        at.text_input(key="own_current").input(current)
        at.text_input(key="own_new").input(new)
        at.text_input(key="own_confirm").input(new if confirm is None else confirm)
        at.button(key="FormSubmitter:own_password-Change my password").click().run()

    submit("not-my-password", "quality-2026-new")
    assert [e.value for e in at.error] == [account.WRONG_CURRENT]
    submit(auth.DEMO_PASSWORD, "short")
    assert [e.value for e in at.error] == ["Password has 5 characters; at least 8 are needed."]
    submit(auth.DEMO_PASSWORD, "quality-2026-new")
    assert not at.exception and at.success[0].value == "Your password has been changed."
    assert at.title[0].value == "My password"   # still signed in here
    assert signed_in("quality", "quality-2026-new").session_state["signed_in_user"]["username"] == "quality"


def test_the_admin_adds_a_ward_and_beds_and_a_duplicate_code_keeps_the_form(app_url):
    at = signed_in("admin", page="app_pages/wards.py")
    assert not at.exception and any("installation's time zone, Europe/London" in c.value for c in at.caption)
    at.text_input(key="ward_code").input("demo")
    at.text_input(key="ward_name").input("Second demo ward")
    at.text_area(key="ward_beds").input("1, 2\n3")
    at.button(key="FormSubmitter:add_ward-Add ward").click().run()
    assert [e.value for e in at.error] == ["Ward code 'DEMO' is already used by ward 'Demo ward'; choose another "
                                           "code."]
    assert at.text_input(key="ward_name").value == "Second demo ward"
    at.text_input(key="ward_code").input("ONC2")
    at.button(key="FormSubmitter:add_ward-Add ward").click().run()
    assert not at.exception and at.success[0].value == "Ward ONC2 added."
    table = at.dataframe[0].value
    assert table[table["Code"] == "ONC2"][["Beds in use", "Patients now"]].values.tolist() == [[3, 0]]
    at.selectbox(key="ward_chosen").select("ONC2").run()
    at.selectbox(key="bed_retire").select("2")
    at.button(key="FormSubmitter:ward_beds_form-Retire bed").click().run()
    assert at.success[0].value == "Bed 2 on ONC2 retired."
    at.selectbox(key="ward_chosen").select("ONC2").run()
    assert at.selectbox(key="bed_retire").options == ["1", "3"]


def test_the_oncologist_resolves_a_pseudonym_on_the_reports_page_and_the_quality_role_sees_no_such_form(app_url):
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        patient = repository.add_patient(session=session, mrn="SYN-R-1", given_name="Ada", family_name="Synthetic",
                                         recorded_by="nurse", is_synthetic=True)
        name = search_audit(session=session, entity="patient").iloc[0]["entity_id"]
    engine.dispose()
    at = signed_in("oncologist", page="app_pages/reports.py")
    at.text_input(key="resolve_pseudonym_text").input(name)
    at.button(key="FormSubmitter:resolve_pseudonym-Find the patient").click().run()
    assert not at.exception
    assert any(s.value.startswith(f"{name} is Synthetic, Ada (record number SYN-R-1)") for s in at.success)
    assert patient.id
    quality = signed_in("quality", page="app_pages/reports.py")
    assert not [t for t in quality.text_input if t.key == "resolve_pseudonym_text"]

