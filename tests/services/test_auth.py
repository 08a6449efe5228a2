"""Sign-in, roles and the audit trail: passwords, lockout, the role x page/action matrix, single
sign-on mapping, session timeout, and one audit row per write."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from streamlit.testing.v1 import AppTest

from dashboard.page_registry import PAGES as PAGE_REGISTRY
from monitoring.errors import RecordError
from monitoring.services import auth
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent, SignInSession, User
from monitoring.store.repository import get_or_create_ward
from tests.app_helpers import signed_in

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc)
APP = "../../dashboard/app.py"
PASSWORD = "correct-horse-9"


def make_user(engine, username="alice", role="nurse", password=PASSWORD, **kwargs):
    with session_scope(engine) as session:
        get_or_create_ward(session=session, code="W1", name="Ward 1")
        return auth.add_user(session=session, username=username, display_name=username.title(), role=role,
                             password=password, created_by="admin", ward_codes=["W1"], **kwargs)


def sign_in(engine, username="alice", password=PASSWORD, now=NOW) -> auth.SignIn:
    with session_scope(engine) as session:
        return auth.authenticate(session=session, username=username, password=password, now=now)


def audit_rows(engine, action=None):
    with session_scope(engine) as session:
        query = select(AuditEvent)
        if action:
            query = query.where(AuditEvent.action == action)
        return session.scalars(query.order_by(AuditEvent.id)).all()


# --- passwords and lockout ----------------------------------------------------------------------

def test_passwords_are_stored_as_argon2id_hashes_and_never_in_plain_text(engine):
    make_user(engine)
    sign_in(engine, password="wrong-guess-1")
    with session_scope(engine) as session:
        stored = session.scalars(select(User)).one().password_hash
        dump = " ".join(str((e.before, e.after)) for e in session.scalars(select(AuditEvent)).all())
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PASSWORD not in dump and "wrong-guess-1" not in dump


@pytest.mark.parametrize("password, ok", [
    ("seven77", False), ("eight888", True), ("alice", False), ("ALICEALICE", True), ("password", False),
    ("aaaaaaaaaa", False),
])
def test_password_policy(password, ok):
    assert (auth.password_problems(password, "alice") == []) is ok


def test_a_policy_failure_names_the_problem(engine):
    with pytest.raises(RecordError, match="at least 8"):
        make_user(engine, password="short")


def test_sign_in_succeeds_with_the_right_password_and_says_the_same_for_any_failure(engine):
    make_user(engine)
    assert sign_in(engine).ok
    assert sign_in(engine, password="nope-nope-1").message == auth.WRONG_CREDENTIALS
    assert sign_in(engine, username="nobody").message == auth.WRONG_CREDENTIALS
    assert auth.WRONG_CREDENTIALS.startswith("Wrong user name or password.")


def locked_until(engine, username="alice"):
    with session_scope(engine) as session:
        return auth.get_user(session=session, username=username).locked_until


def test_five_failures_lock_the_account_for_15_minutes_then_it_opens_again(engine):
    make_user(engine)
    for attempt in range(auth.LOCKOUT_ATTEMPTS - 1):
        assert not sign_in(engine, password=f"wrong-{attempt}-xyz").ok
        assert locked_until(engine) is None
    assert not sign_in(engine, password="wrong-last-xyz").ok
    assert locked_until(engine) == NOW + timedelta(minutes=auth.LOCKOUT_MINUTES)
    # Under the lock even the right password is refused, with the message a wrong one gets: the form
    # tells an attacker neither that the account is locked nor that the guess was right.
    right_but_locked = sign_in(engine, now=NOW + timedelta(minutes=14))
    assert not right_but_locked.ok and right_but_locked.message == auth.WRONG_CREDENTIALS
    # The lock ends after 15 minutes; the owner is then told of the attempts made meanwhile.
    opened = sign_in(engine, now=NOW + timedelta(minutes=15, seconds=1))
    assert opened.ok and opened.failed_before == auth.LOCKOUT_ATTEMPTS + 1
    assert locked_until(engine) is None
    assert sign_in(engine).failed_before == 0


def test_a_lock_that_has_ended_gives_a_full_new_set_of_attempts(engine):
    make_user(engine)
    for attempt in range(auth.LOCKOUT_ATTEMPTS):
        sign_in(engine, password=f"wrong-{attempt}-xyz")
    later = NOW + timedelta(minutes=auth.LOCKOUT_MINUTES, seconds=1)
    for attempt in range(auth.LOCKOUT_ATTEMPTS - 1):
        sign_in(engine, password=f"again-{attempt}-xyz", now=later)
    assert locked_until(engine) is None  # 4 failures after the lock ended: not locked again yet
    assert sign_in(engine, now=later).ok


def test_parallel_guesses_check_no_more_passwords_than_the_lockout_allows(engine):
    """Issue 16 item 3: 30 sign-ins at once on one account. A read-then-write counter let 29 wrong
    passwords be checked and accepted the 30th on PostgreSQL; counted atomically, exactly
    LOCKOUT_ATTEMPTS passwords are checked and the right password, arriving last, is refused."""
    import threading
    parallel = 30
    make_user(engine)
    start = threading.Barrier(parallel)
    results: list[auth.SignIn] = []

    def guess(n):
        start.wait()
        results.append(sign_in(engine, password=f"guess-{n:02d}-xyz"))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reasons = [row.after["reason"] for row in audit_rows(engine, "sign-in-failed")]
    assert len(results) == parallel and not any(r.ok for r in results)
    assert {r.message for r in results} == {auth.WRONG_CREDENTIALS}
    assert reasons.count("wrong password") == auth.LOCKOUT_ATTEMPTS
    assert reasons.count("locked") == parallel - auth.LOCKOUT_ATTEMPTS
    assert locked_until(engine) == NOW + timedelta(minutes=auth.LOCKOUT_MINUTES)
    assert not sign_in(engine).ok


def test_a_reset_unlocks_and_a_disabled_account_cannot_sign_in(engine):
    make_user(engine)
    for attempt in range(auth.LOCKOUT_ATTEMPTS):
        sign_in(engine, password=f"wrong-{attempt}-xyz")
    with session_scope(engine) as session:
        auth.reset_password(session=session, username="alice", new_password="brand-new-pw-2", changed_by="admin")
    assert sign_in(engine, password="brand-new-pw-2").ok
    with session_scope(engine) as session:
        auth.set_active(session=session, username="alice", active=False, changed_by="admin")
    result = sign_in(engine, password="brand-new-pw-2")
    assert not result.ok and "disabled" in result.message


# --- single sign-on -------------------------------------------------------------------------------

def test_an_oidc_identity_maps_to_its_user_and_an_unknown_one_gets_no_access(engine):
    make_user(engine, username="dr.who", role="oncologist", password=None, email="Dr.Who@Hospital.example")
    with session_scope(engine) as session:
        known = auth.sign_in_identity(session=session, email="dr.who@hospital.example")
        unknown = auth.sign_in_identity(session=session, email="stranger@elsewhere.example")
    assert (known.ok, known.role) == (True, "oncologist")
    assert not unknown.ok and "no account" in unknown.message


# --- audit ----------------------------------------------------------------------------------------

def test_every_account_write_and_sign_in_leaves_exactly_one_audit_row(engine):
    make_user(engine)  # the ward and the user: 2 rows
    before = len(audit_rows(engine))
    sign_in(engine)
    sign_in(engine, password="wrong-one-1")
    with session_scope(engine) as session:
        auth.record_sign_out(session=session, username="alice")
        auth.set_active(session=session, username="alice", active=False, changed_by="admin")
    actions = [e.action for e in audit_rows(engine)[before:]]
    assert actions == ["sign-in", "sign-in-failed", "sign-out", "user-disable"]


@pytest.mark.parametrize("statement", ["UPDATE auditevent SET action = 'x'", "DELETE FROM auditevent"])
def test_the_audit_table_refuses_update_and_delete(engine, statement):
    make_user(engine)
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as connection:
            connection.execute(text(statement))


# --- the role x page matrix through the real app ---------------------------------------------------

# Page files of the registry the app serves (dashboard/page_registry.py); the oncologist's doses page
# shares its title and address with the nurse's and is checked by tests/services/test_dose_decisions.py.
PAGES = {p.path: p.title for p in PAGE_REGISTRY if p.path != "app_pages/dose_decisions.py"}
CLINICAL = {"Ward overview", "Alert inbox", "Patient chart", "Patient summary", "Courses", "Shift handover"}
OWN = {"My password"}   # every role's, reached from the header row rather than the menu
ALLOWED = {
    "nurse": CLINICAL | OWN | {"IL-2 doses", "Record observations", "Daily review", "Lab import", "Patients"},
    "oncologist": CLINICAL | OWN | {"Reports", "Thresholds", "Patients"},
    "quality": OWN | {"Reports"},
    "admin": OWN | {"Thresholds", "Users", "Wards", "Audit log"},
}



def test_the_registry_serves_every_page_file_and_lists_no_missing_one():
    pages_dir = Path(__file__).resolve().parents[2] / "dashboard" / "app_pages"
    files = {f"app_pages/{p.name}" for p in pages_dir.glob("*.py")}
    assert {p.path for p in PAGE_REGISTRY} == files
    assert set(PAGES.values()) == set().union(*ALLOWED.values())   # every page is some role's


@pytest.fixture
def app_url(app_db_url):
    url = app_db_url
    engine = make_engine(url)
    with session_scope(engine) as session:
        get_or_create_ward(session=session, code="DEMO", name="Demo ward")
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    engine.dispose()
    return url


def app_signed_in(username: str, password: str = auth.DEMO_PASSWORD) -> AppTest:
    return signed_in(username, password)


def test_no_page_shows_anything_but_the_sign_in_form_before_sign_in(app_url):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert at.title[0].value == "IL-2 Toxicity Monitor"
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert not at.dataframe
    for page in PAGES:
        # Before sign-in no page script is registered: each address shows the sign-in form ...
        with pytest.raises(ValueError, match=r"Could not find a navigation page"):
            at.switch_page(page)
        # ... and each page script refuses to run on its own without a signed-in role.
        alone = AppTest.from_file(f"../../dashboard/{page}", default_timeout=30).run()
        assert not alone.exception and not alone.dataframe, page
        assert "may not open this page" in alone.error[0].value, page


def _try_sign_in(at, username, password):
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    return at.button[0].click().run()


def test_the_sign_in_page_says_the_same_for_a_wrong_password_and_a_locked_account(app_url):
    at = AppTest.from_file(APP, default_timeout=30).run()
    for attempt in range(auth.LOCKOUT_ATTEMPTS):
        _try_sign_in(at, "nurse", f"wrong-{attempt}-pw")
        assert [e.value for e in at.error] == [auth.WRONG_CREDENTIALS]
    # Locked now: the right password gets the same words, and no sign-in.
    _try_sign_in(at, "nurse", auth.DEMO_PASSWORD)
    assert not at.exception and [e.value for e in at.error] == [auth.WRONG_CREDENTIALS]
    assert "signed_in_user" not in at.session_state
    assert "locked" not in " ".join(e.value for e in at.error).lower()


def test_after_failed_attempts_the_owner_is_told_at_the_next_sign_in(app_url):
    at = AppTest.from_file(APP, default_timeout=30).run()
    for attempt in range(2):
        _try_sign_in(at, "oncologist", f"wrong-{attempt}-pw")
    _try_sign_in(at, "oncologist", auth.DEMO_PASSWORD)
    assert not at.exception and at.session_state["signed_in_user"]["username"] == "oncologist"
    assert [w.value for w in at.warning][:1] == [
        "2 failed sign-in attempts on your account since your last sign-in. If they were not yours, "
        "tell an administrator."]
    at.run()  # told once
    assert not any("failed sign-in" in w.value for w in at.warning)


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_sees_only_its_pages_and_is_refused_the_others(app_url, role):
    at = app_signed_in(role)
    user = at.session_state["signed_in_user"]
    for page, title in PAGES.items():
        if title in ALLOWED[role]:
            at.switch_page(page).run()
            assert not at.exception, (role, page)
            assert at.title[0].value == title and not at.error, (role, page)
            continue
        # Not in this role's navigation, so no URL reaches it ...
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
        # ... and the page itself refuses the role on the server all the same.
        alone = AppTest.from_file(f"../../dashboard/{page}", default_timeout=30)
        alone.session_state["signed_in_user"] = user
        alone.run()
        assert not alone.exception and "may not open this page" in alone.error[0].value, (role, page)
        assert not alone.dataframe, (role, page)


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_holds_exactly_its_actions(role):
    expected = {
        "nurse": {"view_patients", "record_observations", "record_doses", "escalate_alerts", "print_ward",
                  "write_handover", "acknowledge_handover", "admit_patients", "move_patients"},
        "oncologist": {"view_patients", "view_all_wards", "decide_doses", "act_on_alerts", "escalate_alerts",
                       "print_ward", "admit_patients", "move_patients", "manage_courses",
                       "view_reports", "export_identifiable", "view_thresholds", "resolve_pseudonyms"},
        "quality": {"view_reports"},
        "admin": {"view_thresholds", "manage_users", "manage_wards", "view_audit_log"},
    }[role] | {"change_own_password"}
    assert {p for p in auth.PERMISSIONS if auth.may(role, p)} == expected
    for permission in set(auth.PERMISSIONS) - expected:
        with pytest.raises(auth.PermissionDenied):
            auth.require(role, permission)


def test_the_quality_role_never_sees_a_name_or_record_number(app_url):
    from monitoring.demo import seed as demo
    engine = make_engine(app_url)
    ward = demo.generate_ward(patients=4, days=2, seed=3, end=datetime(2026, 11, 27, 8, tzinfo=timezone.utc))
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=ward, ward_code="Q1", ward_name="Quality test ward")
    engine.dispose()
    at = app_signed_in("quality")
    at.switch_page("app_pages/reports.py").run()
    shown = " ".join(str(v) for df in at.dataframe for v in df.value.astype(str).to_numpy().ravel())
    for row in ward.patients.itertuples():
        assert row.mrn not in shown and row.family_name not in shown


def test_an_oidc_user_is_mapped_through_st_user(app_url):
    add_sso_user(app_url)
    at = AppTest.from_file(APP, default_timeout=30)
    at.user = {"is_logged_in": True, "email": "dr.sso@hospital.example", "name": "Dr Sso"}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Ward overview"
    stranger = AppTest.from_file(APP, default_timeout=30)
    stranger.user = {"is_logged_in": True, "email": "who@else.example"}
    stranger.run()
    assert "has no account here" in stranger.error[0].value


GOOD_SECRET = "Zq3v8LwN1pX0rT6yB4mK9sD2fH7jC5aG"  # 32 characters, 32 different


@pytest.mark.parametrize("cookie_secret, refused", [
    (None, "missing"),
    ("", "missing"),
    ("a long random string, identical on every replica", "published example"),  # the old example file
    ("xxx", "published example"),                                                 # Streamlit's docs
    (GOOD_SECRET[:31], "31 characters"),                                          # just below 32
    (GOOD_SECRET, None),                                                          # at 32
    (GOOD_SECRET + "W", None),                                                    # just above
    ("ab" * 20, "2 different characters"),
])
def test_single_sign_on_refuses_a_missing_published_or_short_cookie_secret(cookie_secret, refused):
    from monitoring.sso_settings import sso_setting_problems
    section = {"client_secret": "issued-by-the-idp-7f3a", "client_id": "il2-monitor",
               **({} if cookie_secret is None else {"cookie_secret": cookie_secret})}
    problems = sso_setting_problems(section)
    if refused is None:
        assert problems == []
    else:
        assert refused in problems[0] and "token_urlsafe" in problems[-1]
    assert sso_setting_problems(None) == []  # not configured: password sign-in only


def test_the_example_secrets_file_cannot_be_deployed_as_it_is():
    import tomllib
    from pathlib import Path

    from monitoring.sso_settings import sso_setting_problems
    example = tomllib.loads((Path(__file__).parents[2] / ".streamlit/secrets.toml.example").read_text())
    assert len(sso_setting_problems(example["auth"])) == 3  # cookie secret, client secret, how to generate


def sso_app(email="dr.sso@hospital.example", cookie_secret=GOOD_SECRET) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": cookie_secret,
                          "client_id": "il2-monitor", "client_secret": "issued-by-the-idp-7f3a",
                          "server_metadata_url": "https://login.hospital.example/.well-known/openid-configuration"}
    at.user = {"is_logged_in": True, "email": email, "name": "Dr Sso"}
    return at


def add_sso_user(app_url):
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        auth.add_user(session=session, username="dr.sso", display_name="Dr Sso", role="oncologist", password=None,
                      email="dr.sso@hospital.example", created_by="admin")
    engine.dispose()


def test_with_the_example_cookie_secret_a_forged_identity_cookie_signs_nobody_in(app_url):
    add_sso_user(app_url)
    at = sso_app(cookie_secret="a long random string, identical on every replica").run()
    assert not at.exception and not at.dataframe and not at.text_input
    assert "does not run" in at.error[0].value and "published example" in at.error[0].value
    with session_scope(make_engine(app_url)) as session:
        assert session.scalar(select(func.count()).where(AuditEvent.action == "sign-in")) == 0


def test_signing_out_ends_the_single_sign_on_identity_too(app_url):
    add_sso_user(app_url)
    at = sso_app().run()
    assert at.title[0].value == "Ward overview"
    at.button(key="sign_out").click().run()
    # Without st.logout the identity cookie would sign the same person straight back in.
    assert at.user == {"is_logged_in": False}
    assert at.title[0].value == "IL-2 Toxicity Monitor" and not at.dataframe


def test_the_idle_time_out_ends_the_single_sign_on_identity_too(app_url):
    add_sso_user(app_url)
    at = sso_app().run()
    assert at.title[0].value == "Ward overview"
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        for row in session.scalars(select(SignInSession)):
            row.last_activity_at = datetime.now(timezone.utc) - timedelta(minutes=auth.SESSION_TIMEOUT_MINUTES + 1)
    engine.dispose()
    at.run()
    assert at.user == {"is_logged_in": False}
    assert at.title[0].value == "IL-2 Toxicity Monitor" and not at.dataframe


def test_an_idle_session_is_signed_out_after_the_timeout(app_url):
    at = app_signed_in("nurse")
    engine = make_engine(app_url)
    with session_scope(engine) as session:     # the sign-in's last activity, kept on the server
        for row in session.scalars(select(SignInSession)):
            row.last_activity_at = datetime.now(timezone.utc) - timedelta(minutes=auth.SESSION_TIMEOUT_MINUTES + 1)
    engine.dispose()
    at.run()
    assert at.title[0].value == "IL-2 Toxicity Monitor"
    assert "without activity" in at.info[0].value
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        reasons = [e.after["reason"]
                   for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "sign-out"))]
    engine.dispose()
    assert reasons == ["timeout"]
    assert not at.dataframe and [t.label for t in at.text_input] == ["User name", "Password"]


def test_a_nurse_sees_only_the_patients_of_her_wards(app_url):
    from tests.factories import write_two_demo_wards
    engine = make_engine(app_url)
    write_two_demo_wards(engine, end=datetime(2026, 11, 27, 8, tzinfo=timezone.utc))
    with session_scope(engine) as session:
        count = session.scalar(select(func.count()).select_from(User))
    engine.dispose()
    assert count == 4
    nurse = app_signed_in("nurse")
    assert len(nurse.dataframe[0].value) == 3
    oncologist = app_signed_in("oncologist")
    wards = oncologist.multiselect(key="overview_wards")
    assert sorted(wards.options) == ["Demo ward", "Other ward"]  # both wards offered to the oncologist
    assert len(oncologist.dataframe[0].value) == 5
    wards.set_value(["Other ward"]).run()
    assert len(oncologist.dataframe[0].value) == 2
    # An oncologist assigned to a ward opens on it (a hospital-wide default was 2,000 rows), and may
    # still add any other ward.
    from monitoring.services import auth as auth_module
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        auth_module.set_wards(session=session, user=auth_module.get_user(session=session, username="oncologist"),
                              ward_codes=["OTHER"])
    engine.dispose()
    assigned = app_signed_in("oncologist")
    assert assigned.multiselect(key="overview_wards").value == ["Other ward"]
    assert len(assigned.dataframe[0].value) == 2
    assigned.multiselect(key="overview_wards").set_value(["Demo ward", "Other ward"]).run()
    assert len(assigned.dataframe[0].value) == 5
    # The patient pickers list one ward's patients: the ward of the patient chosen last, else the
    # first ward assigned; another ward is one choice away (a hospital-wide list was 2,000 names).
    assigned.switch_page("app_pages/chart.py").run()
    ward = assigned.selectbox(key="chart_patient_ward")
    assert ward.value == "Other ward" and sorted(ward.options) == ["Demo ward", "Other ward"]
    assert len(assigned.selectbox(key="chart_patient").options) == 2
    ward.select("Demo ward").run()
    patients = assigned.selectbox(key="chart_patient")
    assert not assigned.exception and len(patients.options) == 3 and patients.value == patients.options[0]
    patients.select(patients.options[2]).run()
    chosen = assigned.selectbox(key="chart_patient").value
    assigned.switch_page("app_pages/summary.py").run()  # the next page opens on that patient and its ward
    assert assigned.selectbox(key="summary_patient").value == chosen
    assert assigned.selectbox(key="summary_patient_ward").value == "Demo ward"
    nurse.switch_page("app_pages/chart.py").run()  # one ward: no ward to choose
    assert not [s for s in nurse.selectbox if s.key == "chart_patient_ward"]


def test_a_course_page_opens_on_a_ward_with_a_course_and_says_when_the_chosen_ward_has_none(app_url):
    from monitoring.demo import seed as demo
    from monitoring.store import repository
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=demo.generate_ward(patients=3, days=2, seed=1,
                                                                 end=datetime(2026, 11, 27, 8, tzinfo=timezone.utc)))
    with session_scope(engine) as session:  # first by name, and no one on it has an IL-2 course
        ward = get_or_create_ward(session=session, code="ADM", name="Admissions ward")
        repository.add_patient(session=session, mrn="SYN-ADM-1", given_name="Waiting", family_name="Synthetic",
                               recorded_by="tester", ward_id=ward.id, is_synthetic=True)
    engine.dispose()
    oncologist = app_signed_in("oncologist")  # assigned to no ward: may see all three
    oncologist.switch_page("app_pages/chart.py").run()  # not the first ward by name: the first with a course
    assert oncologist.selectbox(key="chart_patient_ward").value == "Demo ward"
    assert len(oncologist.selectbox(key="chart_patient").options) == 3
    oncologist.selectbox(key="chart_patient_ward").select("Admissions ward").run()
    assert not oncologist.exception
    assert oncologist.info[0].value == "No patients with an IL-2 course on Admissions ward: choose another ward."
    assert oncologist.selectbox(key="chart_patient_ward").value == "Admissions ward"  # still there to choose


def test_an_admin_adds_and_disables_a_user_on_the_users_page(app_url):
    at = app_signed_in("admin")
    at.switch_page("app_pages/users.py").run()
    at.text_input(key="new_username").input("night.nurse")
    at.text_input(key="new_display_name").input("Night Nurse")
    at.selectbox(key="new_role").select("nurse")
    at.multiselect(key="new_wards").select("DEMO")
    at.text_input(key="new_password").input("night-shift-7")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception and "Added night.nurse." in at.success[0].value
    at.selectbox(key="change_username").select("night.nurse")
    at.button(key="FormSubmitter:change_user-Disable").click().run()
    assert "night.nurse disabled." in at.success[0].value
    engine = make_engine(app_url)
    with session_scope(engine) as session:
        user = auth.get_user(session=session, username="night.nurse")
        actions = [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.entity == "user"))]
    engine.dispose()
    assert user.role == "nurse" and not user.is_active and user.password_hash.startswith("$argon2id$")
    assert actions.count("user-create") == 5 and actions.count("user-disable") == 1  # 4 demo accounts + this one


def test_the_audit_export_is_itself_audited_and_neutralises_formulas(engine):
    from monitoring.views.audit import export_audit_csv, search_audit

    make_user(engine)
    with session_scope(engine) as session:
        auth.authenticate(session=session, username="=HYPERLINK(evil)", password="x-x-x-x-x")
    with session_scope(engine) as session:
        rows = search_audit(session=session)
        data = export_audit_csv(session=session, frame=rows, exported_by="admin", filters={"user": None})
    text_ = data.decode()
    assert "'=hyperlink(evil)" in text_ and "\n=hyperlink" not in text_ and ",=hyperlink" not in text_
    with session_scope(engine) as session:
        exports = search_audit(session=session, action="export")
    assert len(exports) == 1 and exports.iloc[0]["username"] == "admin"


def test_activity_never_revives_a_sign_in_past_the_time_out_or_of_a_disabled_account(engine):
    """A late click (a fragment's rerun) must not extend an expired sign-in; disabling an account ends
    its open sign-ins at their next activity."""
    from datetime import datetime, timedelta, timezone

    from monitoring.services import sessions
    start = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)
    with session_scope(engine) as session:
        auth.add_user(session=session, username="nurse.t", display_name="T", role="oncologist",
                      password="Long-pass-2026", created_by="test")
        token = sessions.start(session=session, username="nurse.t", now=start)
        other = sessions.start(session=session, username="nurse.t", now=start)
    limit = timedelta(minutes=auth.SESSION_TIMEOUT_MINUTES)
    with session_scope(engine) as session:
        assert sessions.touch(session=session, token=token, now=start + limit - timedelta(seconds=1))
        late = start + 2 * limit
        assert not sessions.touch(session=session, token=token, now=late)          # past the time-out
        assert not sessions.touch(session=session, token=token, now=late)          # and it stays ended
        assert sessions.resume(session=session, token=token, now=late).username is None
    with session_scope(engine) as session:
        auth.set_active(session=session, username="nurse.t", active=False, changed_by="admin")
    with session_scope(engine) as session:
        assert not sessions.touch(session=session, token=other, now=start + timedelta(minutes=1))
        row = session.scalars(select(SignInSession).where(SignInSession.end_reason == "disabled")).one()
        assert row.ended_at is not None


def test_an_open_sign_in_follows_the_account_as_it_is_now(app_url):
    """Issue 16 item 4: role and wards were copied at sign-in; a disabled nurse's open page kept
    reading charts and a nurse removed from every ward still listed her patients."""
    from tests.factories import write_two_demo_wards
    engine = make_engine(app_url)
    write_two_demo_wards(engine, end=datetime(2026, 11, 27, 8, tzinfo=timezone.utc))
    engine.dispose()
    nurse = app_signed_in("nurse")
    assert len(nurse.dataframe[0].value) == 3
    engine = make_engine(app_url)
    with session_scope(engine) as session:      # the admin removes her from every ward
        auth.set_wards(session=session, user=auth.get_user(session=session, username="nurse"), ward_codes=[])
    nurse.run()                                 # her next click
    assert not nurse.dataframe and any("not assigned to a ward" in i.value for i in nurse.info)
    with session_scope(engine) as session:      # and disables the account
        auth.set_active(session=session, username="nurse", active=False, changed_by="admin")
    nurse.run()
    assert [t.label for t in nurse.text_input] == ["User name", "Password"] and not nurse.dataframe
    with session_scope(engine) as session:
        reasons = [e.after["reason"]
                   for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "sign-out"))]
    engine.dispose()
    assert reasons == ["disabled"]


def test_an_administrator_sees_a_lock_and_lifts_it_without_a_new_password(engine):
    make_user(engine)
    for attempt in range(auth.LOCKOUT_ATTEMPTS):
        sign_in(engine, password=f"wrong-{attempt}-xyz")
    with session_scope(engine) as session:
        user = auth.get_user(session=session, username="alice")
        assert auth.locked_now(user, NOW) == NOW + timedelta(minutes=auth.LOCKOUT_MINUTES)
        assert auth.locked_now(user, NOW + timedelta(minutes=auth.LOCKOUT_MINUTES)) is None  # ended: not shown
        auth.unlock(session=session, username="alice", changed_by="admin")
    assert sign_in(engine).ok
    unlock_row = audit_rows(engine, "user-unlock")[-1]
    assert unlock_row.username == "admin" and unlock_row.before["failed_logins"] == auth.LOCKOUT_ATTEMPTS


def test_identity_and_account_changes_are_audited_with_old_and_new_values_or_refused(engine):
    """Issue 16 item 8: user.role and patientidentity changed without an audit row."""
    from monitoring.store import repository
    from monitoring.store.models import PatientIdentity
    from tests.factories import make_patient_with_course
    make_user(engine)
    patient_id, _ = make_patient_with_course(engine)
    # A change made around the auditing functions is refused at the flush, whatever the code path.
    with pytest.raises(RecordError, match="role changed without an audit row"):
        with session_scope(engine) as session:
            auth.get_user(session=session, username="alice").role = "admin"
    with pytest.raises(RecordError, match="family_name changed without an audit row"):
        with session_scope(engine) as session:
            session.get(PatientIdentity, patient_id).family_name = "Someone-Else"
    with pytest.raises(RecordError, match="deleted"):
        with session_scope(engine) as session:
            session.delete(session.get(PatientIdentity, patient_id))
    # Through the functions: one audit row each, with the old and the new values.
    with session_scope(engine) as session:
        get_or_create_ward(session=session, code="W2", name="Ward 2")
        auth.change_account(session=session, username="alice", role="oncologist", ward_codes=["W2"],
                            changed_by="admin")
        old_name = session.get(PatientIdentity, patient_id).family_name
        repository.correct_identity(session=session, patient_id=patient_id, family_name="Corrected",
                                    reason="spelling on the referral letter", changed_by="admin")
    change = audit_rows(engine, "user-change")[-1]
    assert (change.before["role"], change.before["wards"]) == ("nurse", ["W1"])
    assert (change.after["role"], change.after["wards"]) == ("oncologist", ["W2"])
    correction = audit_rows(engine, "identity-correct")[-1]
    assert (correction.before["family_name"], correction.after["family_name"]) == (old_name, "Corrected")
    assert correction.after["reason"] == "spelling on the referral letter"


def test_nobody_changes_their_own_role_or_disables_their_own_account(engine):
    make_user(engine, username="boss", role="admin")
    with pytest.raises(RecordError, match="your own role"), session_scope(engine) as session:
        auth.change_account(session=session, username="boss", role="nurse", changed_by="boss")
    with pytest.raises(RecordError, match="your own account"), session_scope(engine) as session:
        auth.set_active(session=session, username="boss", active=False, changed_by="boss")
    with pytest.raises(RecordError, match="Ward 'NOPE' does not exist"), session_scope(engine) as session:
        auth.change_account(session=session, username="boss", ward_codes=["NOPE"], changed_by="root")
    assert len(audit_rows(engine, "user-change")) == 0  # the refused change left no row


@pytest.mark.parametrize("field, length", [("username", 64), ("username", 65), ("display_name", 120),
                                           ("display_name", 121), ("email", 254), ("email", 255)])
def test_a_text_longer_than_its_column_is_refused_by_name_on_both_databases(engine, field, length):
    """Issue 16 item 10: PostgreSQL raised StringDataRightTruncation (a traceback); SQLite kept it."""
    value = ("a" * (length - len("@hospital.example")) + "@hospital.example") if field == "email" else "a" * length
    fields = {"username": "ok.user", "display_name": "Ok", "email": None, field: value}
    limit = {"username": 64, "display_name": 120, "email": 254}[field]
    with session_scope(engine) as session:
        get_or_create_ward(session=session, code="W1", name="Ward 1")
    if length <= limit:
        with session_scope(engine) as session:
            auth.add_user(session=session, role="nurse", password=PASSWORD, created_by="admin", ward_codes=["W1"],
                          **fields)
        return
    with pytest.raises(RecordError, match=rf"{field.replace('_', ' ')} has {length} characters; at most {limit}"):
        with session_scope(engine) as session:
            auth.add_user(session=session, role="nurse", password=PASSWORD, created_by="admin", ward_codes=["W1"],
                          **fields)


def test_a_65_character_user_name_at_sign_in_is_refused_and_audited_not_crashed(engine):
    result = sign_in(engine, username="x" * 65, password="whatever-123")
    assert not result.ok and result.message == auth.WRONG_CREDENTIALS
    assert audit_rows(engine, "sign-in-failed")[-1].username == "x" * 64


def test_no_traceback_and_no_table_download_wherever_the_app_was_started_from(app_url):
    """The config file is read only from the working directory; the entry point sets the option itself."""
    from streamlit import config
    config.set_option("client.showErrorDetails", "full")   # as when started outside the repository
    config.set_option("client.disableDataExport", False)
    AppTest.from_file(APP, default_timeout=30).run()
    assert config.get_option("client.showErrorDetails") == "none"
    # Issue 16 item 5: no table offers "Download as CSV" or copy; exports go through the audited path.
    assert config.get_option("client.disableDataExport") is True


def test_the_administrators_audit_view_and_export_show_no_patient_identity_or_typed_text(engine):
    """Issue 16 item 7: names, record numbers, birth dates and telephone numbers in the audit details
    reached the admin, whose role holds no patient data. The stored trail keeps them."""
    from monitoring.demo import seed as demo
    from monitoring.store import repository
    from monitoring.store.models import Observation
    from monitoring.views.audit import export_audit_csv, search_audit
    ward = demo.generate_ward(patients=3, days=1, seed=5, end=datetime(2026, 11, 27, 8, tzinfo=timezone.utc))
    typed = "daughter Jane Roe on 07700 900123"
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=ward, ward_code="Q1", ward_name="Audit test ward")
    with session_scope(engine) as session:
        # Patients admitted through the audited path (the demo's bulk writer skips it), with identity.
        patient = repository.add_patient(session=session, mrn="RX-998877", given_name="Winifred",
                                         family_name="Quartermaine", birth_date=datetime(1925, 3, 4).date(),
                                         recorded_by="nurse.a", is_synthetic=True)
        repository.correct_identity(session=session, patient_id=patient.id, family_name="Quartermain",
                                    reason=f"spelling; {typed}", changed_by="nurse.a")
        observation = session.scalars(select(Observation).where(Observation.code == "heart_rate")).first()
        repository.amend_observation(session=session, observation_id=observation.id, value="81", reason=typed,
                                     recorded_by="nurse.a")
        from monitoring.store.models import TreatmentCourse
        course = session.scalars(select(TreatmentCourse)).first()
        repository.record_dose(session=session, course_id=course.id, dose_number=99, status="given",
                               scheduled_at=datetime(2026, 11, 27, 6, tzinfo=timezone.utc),
                               given_at=datetime(2026, 11, 27, 6, tzinfo=timezone.utc), recorded_by="nurse.a",
                               override_by=f"Dr Who, {typed}", override_reason=typed)
        # A lab import's audit row is named by the uploaded file, which may carry a patient's name.
        repository.write_audit(session=session, username="nurse.a", action="lab-import", entity="observation",
                               entity_id="Quartermain Winifred labs.csv", after={"rows": 3})
    with session_scope(engine) as session:
        rows = search_audit(session=session)
        exported = export_audit_csv(session=session, frame=rows, exported_by="admin", filters={}).decode()
        stored = " ".join(str((e.before, e.after)) for e in session.scalars(select(AuditEvent)).all())
    shown = rows.to_csv() + exported
    for secret in ("RX-998877", "Winifred", "Quartermain", "1925-03-04", "Jane Roe", "07700 900123"):
        assert secret in stored          # the trail itself is complete ...
        assert secret not in shown, secret   # ... the administrator's view is not
    assert "[identity withheld]" in shown and "[free text withheld]" in shown
    correction = rows[rows["action"] == "identity-correct"].iloc[0]
    # The patient by the audit pseudonym, never the internal number a clinical page's address uses (issue 19).
    assert correction["entity_id"].startswith("A-") and correction["username"] == "nurse.a"
    assert correction["patient"] == correction["entity_id"]


def test_a_second_account_for_one_sso_identity_is_refused_by_name_not_by_the_database(engine):
    """Found by the hostile-input suite: the unique e-mail raised an IntegrityError (a crash)."""
    make_user(engine, username="dr.one", password=None, email="Dr.One@Hospital.example")
    with pytest.raises(RecordError, match="'dr.one@hospital.example' is already the single sign-on identity of "
                                          "'dr.one'"):
        make_user(engine, username="dr.two", password=None, email="dr.one@hospital.example")


def test_production_passwords_use_argon2id_with_the_library_defaults():
    """The suite hashes cheaply (tests/conftest.py); the app itself keeps RFC 9106's defaults."""
    import subprocess
    import sys
    code = ("from monitoring.services import auth; "
            "print(auth._hasher.time_cost, auth._hasher.memory_cost, auth._hasher.parallelism)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["3", "65536", "4"]
