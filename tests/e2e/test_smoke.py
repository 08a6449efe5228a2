"""A person opens the dashboard and sees the ward's patients, labelled synthetic."""
from pathlib import Path

from playwright.sync_api import expect

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def test_the_ward_list_shows_the_demo_patients(page):
    expect(page.get_by_role("heading", name="Ward")).to_be_visible()
    expect(page.get_by_text("Synthetic demo data")).to_be_visible()
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    expect(page.get_by_text("12 patients")).to_be_visible()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "e2e-ward.png"), full_page=True)
