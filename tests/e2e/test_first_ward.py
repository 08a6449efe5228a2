"""Issue 19, done when: on an empty (non-demo) database, in the browser, an administrator creates a ward and
the accounts, a nurse admits a patient, the oncologist starts a course and signs off its eligibility screen,
the nurse records a set and the first dose, and the patient is transferred and discharged. Each page is
photographed at 1366x768 (docs/images/first-ward-*.png when IL2_SHOTS is set; a temporary folder otherwise).
The way a real ward starts (README): the first administrator from the command line, then the pages."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import select

from bench.streamlit_server import ROOT, serve
from monitoring.services import auth
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import DoseEvent, Observation, Patient, Placement, Ward
from tests.e2e.conftest import wait_for_app_run
from tests.e2e.test_smoke import sign_in

ADMIN_PASSWORD = "first-admin-of-ward-7"
PASSWORDS = {"sister.ade": "ward-7-sister-2026", "staff.kim": "ward-9-staff-2026", "dr.moss": "oncology-moss-2026"}


@pytest.fixture(scope="module")
def empty_ward_url(tmp_path_factory, chromium_path):
    """An empty database (no demo) whose only account is the first administrator, made with the CLI."""
    url = f"sqlite:///{tmp_path_factory.mktemp('first-ward') / 'ward.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "monitoring", "db", "upgrade"], env=env, check=True, cwd=ROOT,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "monitoring", "users", "add", "--username", "admin.first", "--role", "admin",
                    "--display-name", "First Admin", "--password-stdin"], env=env, check=True, cwd=ROOT,
                   capture_output=True, input=ADMIN_PASSWORD + "\n", text=True)
    with serve(url, tmp_path_factory.mktemp("first-ward-log") / "streamlit.log") as app:
        yield app, url


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ["IL2_SHOTS"]) if os.environ.get("IL2_SHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_as(browser, base: str, path: str, username: str, password: str):
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(base + path)
    wait_for_app_run(page)
    sign_in(page, username, password)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    return page


def pick(page, label: str, option: str, attempts: int = 3) -> None:
    """Open the (first) choice box named `label` and click the option; again if a rerun still under way
    redrew the box and closed its list (as choose_option in test_dose_loop)."""
    box = page.get_by_role("combobox", name=label, exact=True).first
    wanted = page.get_by_role("option", name=option, exact=True)
    for attempt in range(attempts):
        box.click()
        try:
            wanted.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
            wait_for_app_run(page)
    wanted.click()


def succeeded(page, text: str) -> None:
    """The page's confirmation (a success box, or the admin pages' confirmation after their reload)."""
    wait_for_app_run(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text(text).first).to_be_visible(timeout=20_000)
    wait_for_app_run(page)          # the page redrawn after its confirmation: no stale copy of a form left


def test_a_real_ward_starts_from_an_empty_database(browser, empty_ward_url, shots):
    base, db_url = empty_ward_url
    # 1. The administrator: two wards with their beds, then a nurse for each and the oncologist.
    admin = open_as(browser, base, "/wards", "admin.first", ADMIN_PASSWORD)
    for code, name, beds in (("W7", "Ward 7 oncology", "7-01, 7-02"), ("W9", "Ward 9", "9-01")):
        admin.get_by_label("Code", exact=True).fill(code)
        admin.get_by_label("Name", exact=True).fill(name)
        admin.get_by_label("Beds", exact=True).fill(beds)
        admin.get_by_role("button", name="Add ward").click()
        succeeded(admin, f"Ward {code} added.")
    admin.screenshot(path=str(shots / "first-ward-1-wards.png"))
    admin.goto(base + "/users")
    wait_for_app_run(admin)
    # A nurse without a ward is refused with a message, and the form keeps what was typed.
    admin.get_by_label("User name", exact=True).fill("sister.ade")
    admin.get_by_label("Full name", exact=True).fill("Sister Ade")
    pick(admin, "Role", "nurse")
    admin.get_by_label("Initial password", exact=True).fill(PASSWORDS["sister.ade"])
    admin.get_by_role("button", name="Add user").click()
    wait_for_app_run(admin)
    expect(admin.get_by_test_id("stAlertContentError").filter(has_text="ward").first).to_be_visible()
    expect(admin.get_by_label("User name", exact=True)).to_have_value("sister.ade")
    for username, full, role, ward in (("sister.ade", "Sister Ade", "nurse", "W7"),
                                       ("staff.kim", "Staff Nurse Kim", "nurse", "W9"),
                                       ("dr.moss", "Dr Moss", "oncologist", None)):
        if username != "sister.ade":    # the refused add above kept her name; a successful one empties the form
            expect(admin.get_by_label("User name", exact=True)).to_have_value("")
            expect(admin.get_by_role("combobox", name="Wards", exact=True).first).to_have_value("")
        admin.get_by_label("User name", exact=True).fill(username)
        admin.get_by_label("Full name", exact=True).fill(full)
        pick(admin, "Role", role)
        if ward:
            pick(admin, "Wards", ward)
            admin.keyboard.press("Escape")
        admin.get_by_label("Initial password", exact=True).fill(PASSWORDS[username])
        admin.get_by_role("button", name="Add user").click()
        succeeded(admin, username)
    admin.screenshot(path=str(shots / "first-ward-2-users.png"))
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        wards = dict(session.execute(select(Ward.id, Ward.code)).all())
        assigned = {u.username: [wards[i] for i in auth.user_ward_ids(session=session, user=u)]
                    for u in auth.list_users(session=session)}
    engine.dispose()
    assert assigned == {"admin.first": [], "sister.ade": ["W7"], "staff.kim": ["W9"], "dr.moss": []}

    # 2. The nurse of ward 7 admits a patient to bed 7-01.
    nurse = open_as(browser, base, "/patients", "sister.ade", PASSWORDS["sister.ade"])
    nurse.get_by_role("tab", name="Admit a patient").click()
    nurse.get_by_label("Record number (MRN)", exact=True).fill("RX-440017")
    nurse.get_by_label("Family name", exact=True).fill("Placeholder")
    nurse.get_by_label("Given name", exact=True).fill("Drew")
    # A date field of day, month and year segments (DD/MM/YYYY), typed as a nurse types it.
    nurse.get_by_role("spinbutton", name=re.compile(r"^day, Date of birth")).first.click()
    nurse.keyboard.type("14031961")
    pick(nurse, "Sex", "female")
    pick(nurse, "Bed", "7-01")
    nurse.get_by_label("Allergies as recorded", exact=True).fill("Penicillin: rash")
    nurse.get_by_role("button", name="Admit").click()
    succeeded(nurse, "PLACEHOLDER, Drew (MRN RX-440017) admitted to 7-01 on Ward 7 oncology.")
    nurse.screenshot(path=str(shots / "first-ward-3-admission.png"))

    # 3. The oncologist starts the course; until it is signed off, the banner says no dose may be recorded.
    oncologist = open_as(browser, base, "/courses", "dr.moss", PASSWORDS["dr.moss"])
    expect(oncologist.get_by_role("heading", name="Start a course")).to_be_visible()
    oncologist.get_by_text("yes", exact=True).first.click()            # prior surgery
    # A patient just admitted has no result to offer: each baseline is typed, or left not recorded.
    expect(oncologist.get_by_role("combobox", name="Weight", exact=True)).to_have_value("Type a value")
    oncologist.get_by_role("spinbutton", name="Weight", exact=True).fill("72")
    oncologist.get_by_role("button", name="Start a course").click()
    succeeded(oncologist, "cycle 1 started")
    expect(oncologist.get_by_text(re.compile("Eligibility: not signed off"))).to_be_visible()
    for radio_group in oncologist.get_by_role("radiogroup").all()[:9]:
        radio_group.get_by_text("no", exact=True).click()
    oncologist.get_by_role("button", name="Save the screen").click()
    succeeded(oncologist, "Screen saved")
    oncologist.get_by_text("Eligible", exact=True).click()
    oncologist.get_by_role("button", name="Sign off").click()
    succeeded(oncologist, "Signed off: Eligible")
    expect(oncologist.get_by_text(re.compile("Eligibility: not signed off"))).to_have_count(0)
    oncologist.screenshot(path=str(shots / "first-ward-4-course.png"), full_page=True)

    # 4. The nurse records a set and the first dose (given over the check, which lacks the laboratory values
    # of a patient just admitted: named authoriser and reason).
    nurse.goto(base + "/record")
    wait_for_app_run(nurse)
    nurse.get_by_label("Heart rate (/min)", exact=True).fill("88")
    nurse.get_by_role("button", name="Save observation set").click()
    wait_for_app_run(nurse)
    expect(nurse.get_by_test_id("stException")).to_have_count(0)
    nurse.screenshot(path=str(shots / "first-ward-5-set.png"))
    nurse.goto(base + "/doses")
    wait_for_app_run(nurse)
    expect(nurse.get_by_role("heading", name="IL-2 doses", exact=True)).to_be_visible()
    nurse.get_by_text("Given", exact=True).click()
    wait_for_app_run(nurse)
    nurse.get_by_text("I have checked the dose, unit and route against the prescription").click()
    nurse.get_by_label("Authorised by (clinician's name and role)").fill("Dr Moss (oncologist)")
    nurse.get_by_label("Reason for giving over the check").fill("admission bloods sent, reviewed by Dr Moss")
    nurse.get_by_role("button", name="Save dose").click()
    succeeded(nurse, "recorded as given")
    nurse.screenshot(path=str(shots / "first-ward-6-dose.png"))

    # 5. Transfer to ward 9, whose nurse then sees the patient; then discharge out of the service.
    nurse.goto(base + "/patients")
    wait_for_app_run(nurse)
    pick(nurse, "To ward", "Ward 9")
    wait_for_app_run(nurse)
    nurse.get_by_label("Reason", exact=True).first.fill("needs telemetry")
    nurse.get_by_text("I confirm the transfer of PLACEHOLDER, Drew").click()
    nurse.get_by_role("button", name="Transfer").click()
    succeeded(nurse, "PLACEHOLDER, Drew transferred to 9-01 on Ward 9.")
    nurse.screenshot(path=str(shots / "first-ward-7-transfer.png"))
    other = open_as(browser, base, "/patients", "staff.kim", PASSWORDS["staff.kim"])
    expect(other.get_by_role("tab", name=re.compile(r"On Ward 9 \(1\)"))).to_be_visible()
    other.get_by_text("Out of the service", exact=False).first.click()
    other.get_by_label("Reason", exact=True).last.fill("cycle complete, follow-up in clinic")
    other.get_by_text("I confirm the discharge of PLACEHOLDER, Drew").click()
    other.get_by_role("button", name="Discharge").click()
    succeeded(other, "PLACEHOLDER, Drew discharged out of the service.")
    other.screenshot(path=str(shots / "first-ward-8-discharge.png"))

    engine = make_engine(db_url)
    with session_scope(engine) as session:
        patient = session.scalars(select(Patient)).one()
        assert patient.ward_id is None and not patient.is_synthetic
        assert [p.event for p in session.scalars(select(Placement).order_by(Placement.id))] == [
            "admit", "transfer", "discharge"]
        assert session.scalars(select(DoseEvent.status)).all() == ["given"]
        assert session.scalars(select(Observation.code).where(Observation.code == "heart_rate")).all() == [
            "heart_rate"]
    engine.dispose()
