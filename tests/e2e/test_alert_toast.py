"""Issue 18 item 1 in the browser: an escalation made in one session is shown as a toast in another
session on whatever page it has open, at the next refresh of its open-alerts bar. This module runs
its own server on a copy of the demo ward with the bar refreshing every 3 s (IL2_ALERT_REFRESH_SECONDS;
30 s in use), so the test waits seconds, not half a minute."""
from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from bench.streamlit_server import serve
from tests.e2e.conftest import wait_for_app_run
from tests.e2e.test_smoke import SHOTS, sign_in

REFRESH_SECONDS = 3


@pytest.fixture(scope="module")
def toast_url(seeded_db_url, tmp_path_factory, chromium_path):
    copy = tmp_path_factory.mktemp("toast") / "ward.db"
    shutil.copy(seeded_db_url.removeprefix("sqlite:///"), copy)
    with serve(f"sqlite:///{copy}", tmp_path_factory.mktemp("toast-log") / "streamlit.log",
               env={"IL2_ALERT_REFRESH_SECONDS": str(REFRESH_SECONDS)}) as url:
        yield url


def opened(browser, url: str, path: str, role: str):
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(url + path)
    wait_for_app_run(page)
    sign_in(page, role)
    return page


def test_an_escalation_in_one_session_is_a_toast_in_another_on_any_page(browser, toast_url):
    nurse = opened(browser, toast_url, "/chart", "nurse")
    expect(nurse.get_by_text(re.compile("^Open alerts on your wards:"))).to_be_visible()
    expect(nurse.get_by_role("link", name="Open the inbox")).to_be_visible()
    doctor = opened(browser, toast_url, "/alerts", "oncologist")
    # The first alert card's own action (not the patient's "act on all" above it).
    doctor.locator("[class*='st-key-alert_action_']").first.get_by_text("Escalate", exact=True).click()
    wait_for_app_run(doctor)
    doctor.get_by_role("combobox", name="Escalate to").first.click()
    doctor.get_by_role("option", name="Nurse (role)").first.click()
    doctor.get_by_label("Why, and what they should look at (required)").first.fill("recheck the obs now please")
    doctor.get_by_role("button", name="Record escalation", exact=True).click()
    wait_for_app_run(doctor)
    expect(doctor.get_by_test_id("stAlertContentSuccess")).to_contain_text("to Nurse (role)")
    # The nurse clicked nothing: the bar's own refresh brings the toast.
    toast = nurse.get_by_test_id("stToast").filter(has_text="Escalated").first
    expect(toast).to_be_visible(timeout=(REFRESH_SECONDS * 4) * 1000)
    expect(toast).to_contain_text("to the nurse role by oncologist")
    SHOTS.mkdir(exist_ok=True)
    nurse.screenshot(path=str(SHOTS / "e2e-escalation-toast.png"))
    nurse.context.close()
    doctor.context.close()
