"""Two dashboard servers (replicas) on one PostgreSQL database: a set a nurse saves through one is seen
by a clinician on the other (issue 8, multi-user deployment). Each replica keeps its own sessions in
its own memory, as behind a load balancer with sticky sessions."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from bench.streamlit_server import ROOT, serve
from tests.e2e.conftest import wait_for_app_run
from tests.e2e.test_smoke import enter_full_set, sign_in
from tests.factories import empty_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_replicas(postgres_url, tmp_path, chromium_path):
    empty_postgres(postgres_url)
    env = {**os.environ, "DATABASE_URL": postgres_url}
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([sys.executable, "-m", "monitoring", *command], env=env, check=True, cwd=ROOT,
                       capture_output=True)
    with serve(postgres_url, tmp_path / "a.log") as a, serve(postgres_url, tmp_path / "b.log") as b:
        yield a, b
    empty_postgres(postgres_url)


def test_a_set_saved_on_one_replica_is_seen_on_the_other(browser, two_replicas):
    url_a, url_b = two_replicas
    assert url_a != url_b
    nurse = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    oncologist = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    for page, url, user in ((nurse, url_a, "nurse"), (oncologist, url_b, "oncologist")):
        page.goto(url)
        wait_for_app_run(page)
        sign_in(page, user)
    # Replica B before the set: the first patient's data freshness (the first table of the summary).
    before = freshness(oncologist)

    enter_full_set(nurse, rr="26", spo2="91", sbp="84", hr="128", temperature="39.4")
    expect(nurse.get_by_test_id("stMetric").first).to_contain_text("NEWS2")

    # Replica B reads the same database. Both pages open on the first patient of the ward (the same
    # database, the same order): its vital signs were recorded a moment ago.
    oncologist.get_by_role("link", name="Ward overview", exact=True).click()
    wait_for_app_run(oncologist)
    after = freshness(oncologist)
    assert after != before, f"replica B did not see the new set: {before} then {after}"
    assert after[0][2] in ("0 min ago", "1 min ago"), after


def freshness(page) -> list[list[str]]:
    """The Patient summary's data-freshness rows (Data, Last value, Age, ...), read from the grid's
    accessible cells (the grid itself draws on a canvas)."""
    page.get_by_role("link", name="Patient summary", exact=True).click()
    wait_for_app_run(page)
    grid = page.get_by_test_id("stDataFrame").first
    grid.locator("td").first.wait_for(state="attached")
    cells = grid.locator("td").evaluate_all("els => els.map(e => e.textContent)")
    return [cells[i:i + 5] for i in range(0, len(cells), 5)]
