"""An oncologist who may see two wards chooses the ward, then the patient, in the browser: the box
shows the patient whose chart is drawn (a default index is not sent to the browser, and the box went
on showing the other ward's patient over this one's chart)."""
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from bench.streamlit_server import serve
from tests.e2e.conftest import wait_for_app_run
from tests.e2e.test_smoke import sign_in


@pytest.fixture(scope="module")
def two_ward_url(tmp_path_factory, chromium_path):
    from monitoring.services.auth import ensure_demo_accounts
    from monitoring.store.db import make_engine, session_scope, upgrade
    from tests.factories import write_two_demo_wards

    url = f"sqlite:///{tmp_path_factory.mktemp('two-wards') / 'wards.db'}"
    upgrade(url)
    engine = make_engine(url)
    write_two_demo_wards(engine, end=datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0), days=3)
    with session_scope(engine) as session:
        ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    engine.dispose()
    with serve(url, tmp_path_factory.mktemp("two-wards-log") / "streamlit.log") as app:
        yield app


def chosen(page, label: str) -> str:
    return page.get_by_role("combobox", name=label, exact=True).input_value()


def test_choosing_another_ward_shows_and_charts_that_wards_patient(browser, two_ward_url):
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(two_ward_url)
    wait_for_app_run(page)
    sign_in(page, "oncologist")
    page.get_by_role("link", name="Patient chart", exact=True).click()
    wait_for_app_run(page)
    first_patient = chosen(page, "Patient")
    page.get_by_role("combobox", name="Ward", exact=True).click()
    page.get_by_role("option", name="Other ward", exact=True).click()
    wait_for_app_run(page)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert "Other ward" in chosen(page, "Ward")
    shown = chosen(page, "Patient")
    assert shown != first_patient
    # The box names a patient of the other ward, and the chart below is that patient's.
    page.get_by_role("button", name="Open").nth(1).click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    assert shown.strip() in [o.strip() for o in options] and len(options) == 2
    page.get_by_role("link", name="Patient summary", exact=True).click()  # the next page keeps ward and patient
    wait_for_app_run(page)
    assert "Other ward" in chosen(page, "Ward") and chosen(page, "Patient") == shown
