"""Regenerate the user guide's screenshots (docs/images/*.png) from a running dashboard on the
SYNTHETIC demo ward: `make screenshots` starts one on a fresh demo database and runs this.

usage: python docs/make_screenshots.py URL   (Debian's chromium at /usr/bin/chromium or CHROMIUM_PATH)
Each shot is the 1366 x 900 window a ward workstation shows, optionally scrolled to a heading, saved as
a 256-colour PNG (the pages are flat colours: a quarter of the size, nothing lost to read)."""
from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run as a script from the project
from tests.e2e.conftest import wait_for_app_run  # noqa: E402  (the browser tests' own wait)

OUT = Path(__file__).resolve().parent / "images"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "demo-il2"   # the published demo accounts: only ever in a demo database
# (file name, role, menu entry or None for the landing page, option to click ("running course": the first
# patient whose course still has doses to give) or None, text to scroll to the top of the window or None)
SHOTS = [
    ("nurse-ward-overview", "nurse", None, None, "Ward overview"),
    ("nurse-record-observations", "nurse", "Record observations", None, "Observation date"),
    ("nurse-il2-doses", "nurse", "IL-2 doses", "running course", "Pre-dose check"),
    ("nurse-shift-handover", "nurse", "Shift handover", None, "Shift handover"),
    ("oncologist-alert-inbox", "oncologist", "Alert inbox", None, "Alert inbox"),
    ("oncologist-patient-chart", "oncologist", "Patient chart", "This cycle", "Vital signs"),
    ("quality-reports", "quality", None, None, None),
    ("nurse-patients", "nurse", "Patients", None, None),
    ("oncologist-courses", "oncologist", "Courses", None, None),
    ("admin-users", "admin", "Users", None, None),
    ("admin-wards", "admin", "Wards", None, None),
    ("any-my-password", "nurse", None, "own password", None),
]


def main(url: str) -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for name, role, menu, option, scroll_to in SHOTS:
            page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
            page.goto(url)
            wait_for_app_run(page, timeout=60_000)
            page.locator("input[type='text']").first.fill(role)
            page.locator("input[type='password']").first.fill(PASSWORD)
            page.get_by_role("button", name=re.compile("sign in", re.I)).first.click()
            page.get_by_role("button", name=re.compile("sign out", re.I)).wait_for(timeout=60_000)
            wait_for_app_run(page, timeout=60_000)
            if menu:
                page.locator("a[data-testid='stTopNavLink']", has_text=menu).first.click()
                wait_for_app_run(page, timeout=60_000)
            if option == "running course":
                page.get_by_test_id("stSelectbox").first.click()
                choices = page.get_by_role("option")
                texts = [choices.nth(i).inner_text() for i in range(choices.count())]
                running = next(i for i, text in enumerate(texts) if not re.search(r"\b(\d+) of \1 doses", text))
                choices.nth(running).click()
                wait_for_app_run(page, timeout=60_000)
            elif option == "own password":   # the header row's link, not a menu entry
                page.get_by_role("link", name="Password", exact=True).click()
                wait_for_app_run(page, timeout=60_000)
            elif option:
                page.get_by_text(option, exact=True).first.click()
                wait_for_app_run(page, timeout=60_000)
            if scroll_to:
                page.get_by_text(scroll_to, exact=True).first.evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(1000)   # plotly draws after the script has stopped
            image = Image.open(io.BytesIO(page.screenshot()))
            image.convert("RGB").quantize(colors=256).save(OUT / f"{name}.png", optimize=True)
            print(f"{name}.png")
            page.context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
