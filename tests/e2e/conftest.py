"""Browser tests: a real `streamlit run` on a free port against a seeded SQLite file, driven by
Playwright in Debian's chromium (engineering.md §1c; streamlit's own e2e_playwright/conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.streamlit_server import CHROMIUM, CHROMIUM_ARGS, ROOT, serve


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (set CHROMIUM_PATH, or apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def seeded_db_url(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("e2e-db") / "ward.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    # The demo ends at the current hour, as `make run` seeds it, so 'last set ... ago' reads true.
    subprocess.run([sys.executable, "-m", "monitoring", "db", "upgrade"], env=env, check=True, cwd=ROOT,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "monitoring", "demo"], env=env, check=True,
                   cwd=ROOT, capture_output=True)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, seeded_db_url, chromium_path):
    with serve(seeded_db_url, tmp_path_factory.mktemp("e2e-log") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def wait_for_app_run(page, timeout: int = 30_000) -> None:
    """Websocket connected, script finished, no skeletons (Streamlit's own e2e signals)."""
    from playwright.sync_api import expect

    page.wait_for_timeout(150)
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(app_url)
    wait_for_app_run(page)
    yield page
    context.close()
