"""Browser benchmark of every page as a user meets it (issue 21): first open and warm re-open, per role.

A real `streamlit run` on the synthetic demo ward (`il2-monitor demo`, ending now), driven by Playwright in
Debian's chromium at 1366x768. For each role's account and each page of its menu: a new browser (its own
session) signs in, then the page's menu entry is clicked and timed until the page is done for the user:
the script has stopped (Streamlit's script-state signal), no skeleton is left, and every plotly chart has
drawn its SVG. That is the **first open** (the page's first run in this browser session). The page is then
left for another one and opened again: the **warm re-open**. Medians of RUNS browser sessions.

Also timed, on the demo ward: choosing another patient on the patient chart (the oncologist) and acting on
an alert in the inbox (the oncologist acknowledges the first card), from the click to the page done.

    .venv/bin/python -m bench.bench_pages [--runs N] [--port P]

Targets (issue 21): first open <= 1 s and warm re-open <= 400 ms; choosing a patient and acting on an
alert <= 500 ms. No test asserts a time: this prints the table (and bench/run.py writes it into
docs/performance.md).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.streamlit_server import CHROMIUM, CHROMIUM_ARGS, ROOT, serve

RUNS = 5
ROLES = ("nurse", "oncologist", "quality", "admin")
PASSWORD = "demo-il2"
FIRST_TARGET_S, WARM_TARGET_S, ACTION_TARGET_S = 1.0, 0.4, 0.5
DONE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelectorAll('[data-testid=stSkeleton]').length) return false;
  const charts = document.querySelectorAll("[data-testid='stPlotlyChart']");
  return [...charts].every(c => c.querySelector('svg.main-svg'));
}"""


def demo_database(folder: Path) -> str:
    url = f"sqlite:///{folder / 'pages.db'}"
    env = {"DATABASE_URL": url}
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([sys.executable, "-m", "monitoring", *command], cwd=ROOT, check=True, capture_output=True,
                       env={**__import__("os").environ, **env})
    return url


def _done(page, timeout: float = 60_000) -> None:
    # The click's rerun may start late on a busy machine: wait for it to start, briefly, then for the end.
    try:
        page.locator("[data-testid='stApp'][data-test-script-state='running']").wait_for(state="attached",
                                                                                        timeout=1000)
    except Exception:
        pass
    page.wait_for_function(DONE_JS, timeout=timeout)


def _timed(page, action) -> float:
    started = time.perf_counter()
    action()
    _done(page)
    return time.perf_counter() - started


def _signed_in(browser, url: str, user: str):
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(url)
    _done(page)
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    _done(page)
    return page


def _menu(page) -> list[tuple[str, str]]:
    links = page.locator("a[data-testid='stTopNavLink']")
    found = []
    for i in range(links.count()):
        href, title = links.nth(i).get_attribute("href"), links.nth(i).inner_text().strip()
        if href and (href, title) not in found:
            found.append((href, title))
    return found


def role_pages(browser, url: str, user: str) -> dict[str, tuple[float, float]]:
    """{page title: (first open, warm re-open)} in one browser session of `user`."""
    page = _signed_in(browser, url, user)
    menu = _menu(page)
    out = {}
    for index, (href, title) in enumerate(menu):
        first = _timed(page, lambda h=href: page.locator(f"a[href='{h}']").first.click())
        other = menu[index - 1][0] if len(menu) > 1 else href
        _timed(page, lambda h=other: page.locator(f"a[href='{h}']").first.click())
        warm = _timed(page, lambda h=href: page.locator(f"a[href='{h}']").first.click())
        out[title] = (first, warm)
    if not menu:   # a role with one page (quality): its landing page, opened again by a reload
        out["Reports (landing)"] = (_timed(page, page.reload), _timed(page, page.reload))
    page.context.close()
    return out


def actions(browser, url: str) -> dict[str, float]:
    """Choosing another patient on the chart and acknowledging an alert, as the oncologist."""
    page = _signed_in(browser, url, "oncologist")
    page.locator("a[data-testid='stTopNavLink']", has_text="Patient chart").first.click()
    _done(page)
    box = page.get_by_role("combobox", name="Patient", exact=True)
    box.click()
    options = page.get_by_role("option")
    chosen = options.nth(min(2, options.count() - 1))
    choose = _timed(page, chosen.click)
    page.locator("a[data-testid='stTopNavLink']", has_text="Alert inbox").first.click()
    _done(page)
    # The first card's own action (as tests/e2e/test_review.py), not the patient's "act on all".
    page.locator("[class*='st-key-alert_action_']").first.get_by_role("radio", name="Acknowledge",
                                                                       exact=True).click()
    _done(page)
    page.get_by_role("textbox", name="Action taken (required)").first.fill("reviewed at the bedside")
    act = _timed(page, page.get_by_role("button", name="Record acknowledgement", exact=True).click)
    page.context.close()
    return {"choose a patient (chart)": choose, "acknowledge an alert (inbox)": act}


def measure(runs: int = RUNS) -> list[dict]:
    """Every role's pages and the two actions: {role, page, first_s, warm_s (None for an action), runs}."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        url = demo_database(Path(folder))
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        acted: dict[str, list[float]] = {}
        with serve(url, Path(folder) / "streamlit.log") as app, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(runs):
                for role in ROLES:
                    for title, pair in role_pages(browser, app, role).items():
                        samples.setdefault((role, title), []).append(pair)
                for name, seconds in actions(browser, app).items():
                    acted.setdefault(name, []).append(seconds)
            browser.close()
    rows = [{"role": role, "page": title, "first_s": statistics.median(p[0] for p in pairs),
             "warm_s": statistics.median(p[1] for p in pairs), "runs": len(pairs)}
            for (role, title), pairs in samples.items()]
    rows += [{"role": "oncologist", "page": name, "first_s": statistics.median(values), "warm_s": None,
              "runs": len(values)} for name, values in acted.items()]
    return rows


def run(quick: bool = False) -> list[dict]:
    """The rows of bench.run's table: each page's first open and warm re-open, each action (medians)."""
    out = []
    for r in measure(1 if quick else RUNS):
        what = f"{r['role']}: {r['page']}, demo ward, in the browser, median of {r['runs']}"
        if r["warm_s"] is None:
            out.append({"figure": what, "value": round(r["first_s"], 3), "unit": "s",
                        "target": f"<= {ACTION_TARGET_S:g} s", "met": r["first_s"] <= ACTION_TARGET_S})
            continue
        out.append({"figure": f"{what}: first open", "value": round(r["first_s"], 3), "unit": "s",
                    "target": f"<= {FIRST_TARGET_S:g} s", "met": r["first_s"] <= FIRST_TARGET_S})
        out.append({"figure": f"{what}: warm re-open", "value": round(r["warm_s"], 3), "unit": "s",
                    "target": f"<= {WARM_TARGET_S:g} s", "met": r["warm_s"] <= WARM_TARGET_S})
    return out


def table(rows: list[dict]) -> str:
    lines = ["| Role | Page or action | First open (s) | Warm re-open (s) | Target |", "|---|---|---|---|---|"]
    for r in rows:
        action = r["warm_s"] is None
        target = f"<= {ACTION_TARGET_S:g} s" if action else f"<= {FIRST_TARGET_S:g} s / {WARM_TARGET_S:g} s"
        warm = "" if action else f"{r['warm_s']:.2f}"
        lines.append(f"| {r['role']} | {r['page']} | {r['first_s']:.2f} | {warm} | {target} |")
    return "\n".join(lines)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    count = int(arguments[arguments.index("--runs") + 1]) if "--runs" in arguments else RUNS
    print(table(measure(count)))
