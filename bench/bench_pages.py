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

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.streamlit_server import CHROMIUM, CHROMIUM_ARGS, ROOT, serve

RUNS = 5
WARDS = ("demo", "hospital")
WARD_WORDS = {"demo": "demo ward", "hospital": "40-patient ward in a 2,040-course hospital"}
HOSPITAL_COURSES = 2000
KEEP_HOURS = 24
CHOOSE, ACKNOWLEDGE = "choose a patient (chart)", "acknowledge an alert (inbox)"
SAVE_SET, RECORD_DOSE = "save a set (record observations)", "record a dose held (IL-2 doses)"
ACTIONS = (CHOOSE, ACKNOWLEDGE, SAVE_SET, RECORD_DOSE)
ROLES = ("nurse", "oncologist", "quality", "admin")
# In the hospital the oncologist is assigned to the benchmark ward (the ward measured, as the nurse is), and a
# second oncologist, assigned to none, covers every ward: the hospital-wide lists, timed on the pages that
# list the wards' patients (the other pages show one patient, or the whole hospital for either: Reports).
EVERY_WARD_ONCOLOGIST = "oncologist-all-wards"
EVERY_WARD_PAGES = ("Ward overview", "IL-2 doses", "Alert inbox")
PASSWORD = "demo-il2"
FIRST_TARGET_S, WARM_TARGET_S, ACTION_TARGET_S = 1.0, 0.4, 0.5
HOSPITAL_FIRST_S, HOSPITAL_WARM_S = 1.5, 0.6
# A complete NEWS2 set (Royal College of Physicians 2017: RR, SpO2 scale 1, air, SBP, HR, ACVPU, temperature).
SET_VALUES = (("Respiratory rate (/min)", "18"), ("Oxygen saturation (SpO₂) (%)", "96"),
              ("Systolic blood pressure (mmHg)", "118"), ("Diastolic blood pressure (mmHg)", "70"),
              ("Heart rate (/min)", "88"), ("Temperature (°C)", "37.2"))
SET_CHOICES = (("Consciousness (ACVPU)", "A"), ("On supplemental oxygen", "no"))
DONE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelectorAll('[data-testid=stSkeleton]').length) return false;
  const charts = document.querySelectorAll("[data-testid='stPlotlyChart']");
  return [...charts].every(c => c.querySelector('svg.main-svg'));
}"""
QUIET_MS = 250   # a page done for this long with no new rerun is done (not counted in the figure)


def demo_database(folder: Path) -> str:
    url = f"sqlite:///{folder / 'pages.db'}"
    env = {"DATABASE_URL": url}
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([sys.executable, "-m", "monitoring", *command], cwd=ROOT, check=True, capture_output=True,
                       env={**__import__("os").environ, **env})
    return url


class _Runs:
    """The script runs of one browser page, read from its WebSocket: Streamlit's server sends a ForwardMsg
    new_session when a full run starts and script_finished when a run (or a fragment's run) ends. The
    script-state attribute alone misses a fragment's run (it never changes) and can miss a quick run."""

    def __init__(self, page) -> None:
        self.started = self.finished = 0
        page.on("websocket", lambda socket: socket.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if isinstance(payload, str) or len(payload) > 512:   # a delta (the page's content): not a run's edge
            return
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = ForwardMsg()
        message.ParseFromString(payload)
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self.started += 1
        elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            self.finished += 1


def _runs(page) -> _Runs:
    return page.__dict__.setdefault("_il2_runs", _Runs(page))


def _until(page, condition, timeout_s: float = 60) -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("no script run finished within the time allowed")
        page.wait_for_timeout(5)   # lets Playwright deliver the WebSocket frames


def _done(page, since: int | None = None, timeout: float = 60_000) -> float:
    """Wait until the page is done for the user and return the moment it was (perf_counter): the action's
    run has finished (a `since` count of finished runs taken before the action), the script state is
    idle, no skeleton is left and every chart has drawn. Done must hold for QUIET_MS with no new run
    starting (signing in starts a second run, which is waited for); the quiet time is not counted. A
    fragment that reruns on a timer (the alert bar, the idle watch) could end just after the click and
    be taken for the action's run: rare in a window under 2 s, and the medians absorb it."""
    runs = _runs(page)
    if since is not None:
        _until(page, lambda: runs.finished > since, timeout / 1000)
    while True:
        page.wait_for_function(DONE_JS, polling="raf", timeout=timeout)
        at = time.perf_counter()
        seen = (runs.started, runs.finished)
        page.wait_for_timeout(QUIET_MS)
        if (runs.started, runs.finished) == seen and page.evaluate(DONE_JS):
            return at
        _until(page, lambda s=seen[1]: runs.finished > s, timeout / 1000)


def _timed(page, action) -> float:
    since = _runs(page).finished
    started = time.perf_counter()
    action()
    return _done(page, since) - started


def _signed_in(browser, url: str, user: str):
    """(page, seconds from the click on Sign in until the role's first page is done)."""
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    _runs(page)   # listening before the page's WebSocket opens
    page.goto(url)
    _done(page)
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    signing_in = _timed(page, lambda: (page.get_by_role("button", name="Sign in").click(),
                                      page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)))
    return page, signing_in


def _menu(page) -> list[tuple[str, str]]:
    links = page.locator("a[data-testid='stTopNavLink']")
    found = []
    for i in range(links.count()):
        href, title = links.nth(i).get_attribute("href"), links.nth(i).inner_text().strip()
        if href and (href, title) not in found:
            found.append((href, title))
    return found


def role_pages(browser, url: str, user: str, only: tuple[str, ...] | None = None
               ) -> dict[str, tuple[float, float | None]]:
    """{page title: (first open, warm re-open)} in one browser session of `user`; first of all the
    sign-in itself, from the click on Sign in until the role's first page is done. `only`: these pages of
    the menu (in its order)."""
    page, signing_in = _signed_in(browser, url, user)
    menu = [(href, title) for href, title in _menu(page) if only is None or title in only]
    out: dict[str, tuple[float, float | None]] = {}
    landing = page.locator("h1").first.inner_text().strip()
    if menu:
        out[f"sign in (lands on {landing})"] = (signing_in, None)
    for index, (href, title) in enumerate(menu):
        first = _timed(page, lambda h=href: page.locator(f"a[href='{h}']").first.click())
        other = menu[index - 1][0] if len(menu) > 1 else href
        _timed(page, lambda h=other: page.locator(f"a[href='{h}']").first.click())
        warm = _timed(page, lambda h=href: page.locator(f"a[href='{h}']").first.click())
        out[title] = (first, warm)
    if not menu:
        # A role with one page (quality) has no menu: its page's first open is the sign-in's landing, and
        # the warm re-open comes back to it from the header's Password link with the browser's Back.
        _timed(page, page.get_by_role("link", name="Password").first.click)
        out[f"{landing} (lands on it at sign-in; warm: back from Password)"] = (signing_in, _timed(page, page.go_back))
    page.context.close()
    return out


def _open(page, title: str) -> None:
    _timed(page, page.locator("a[data-testid='stTopNavLink']", has_text=title).first.click)


def _succeeded(page, words: str) -> None:
    """The action's own success message is shown: a bench that times a refusal would time the wrong thing."""
    try:
        page.get_by_test_id("stAlertContentSuccess").filter(has_text=words).first.wait_for(timeout=5_000)
    except Exception as missing:
        shot = Path(tempfile.gettempdir()) / "bench-pages-failed.png"
        page.screenshot(path=str(shot), full_page=True)
        shown = [m.inner_text() for m in page.locator("[data-testid^='stAlertContent']").all()]
        raise RuntimeError(f"no success message with {words!r} (messages shown: {shown}; "
                           f"screenshot {shot})") from missing


def actions(browser, url: str) -> dict[tuple[str, str], float]:
    """Choosing another patient on the chart and acknowledging an alert, as the oncologist; saving a set
    and recording a dose, as the nurse. Each timed from the click until the page is done."""
    page, _ = _signed_in(browser, url, "oncologist")
    _open(page, "Patient chart")
    box = page.get_by_role("combobox", name="Patient", exact=True)
    box.click()
    options = page.get_by_role("option")
    chosen = options.nth(min(2, options.count() - 1))
    choose = _timed(page, chosen.click)
    _open(page, "Alert inbox")
    # The first card's own action (as tests/e2e/test_review.py), not the patient's "act on all".
    _timed(page, page.locator("[class*='st-key-alert_action_']").first.get_by_role("radio", name="Acknowledge",
                                                                                    exact=True).click)
    page.get_by_role("textbox", name="Action taken (required)").first.fill("reviewed at the bedside")
    act = _timed(page, page.get_by_role("button", name="Record acknowledgement", exact=True).click)
    _succeeded(page, "recorded for")
    page.context.close()

    page, _ = _signed_in(browser, url, "nurse")
    _open(page, "Record observations")
    # A full NEWS2 set, typed as a nurse does (each value committed with Tab, as the draft keeps it).
    for label, value in SET_VALUES:
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        _timed(page, lambda f=field: f.press("Tab"))
    for label, option in SET_CHOICES:
        page.get_by_role("combobox", name=label, exact=True).click()
        _timed(page, page.get_by_role("option", name=option, exact=True).click)
    save = _timed(page, page.get_by_role("button", name="Save observation set", exact=True).click)
    page.get_by_role("heading", name="Last set saved").wait_for(timeout=5_000)   # the set's feedback
    _open(page, "IL-2 doses")
    # The first patient in bed order with a dose to record: fewer given than planned ('3 of 14 doses given')
    # and a dose form shown (a stopped course has none).
    page.get_by_role("combobox", name="Patient", exact=True).click()
    labels = [o.inner_text() for o in page.get_by_role("option").all()]
    page.keyboard.press("Escape")
    candidates = [label for label in labels
                  if (m := re.search(r"(\d+) of (\d+) doses given", label)) and int(m[1]) < int(m[2])]
    for label in candidates:
        page.get_by_role("combobox", name="Patient", exact=True).click()
        _timed(page, page.get_by_role("option", name=label, exact=True).click)
        if page.get_by_text("Held", exact=True).count():
            break
    else:
        raise RuntimeError(f"no patient with a dose to record among {len(candidates)} on the nurse's doses page")
    # Held, with a reason typed: the same recording as 'given' (doses.record, its audit row, the next dose's
    # forecast) without the override a dose given hours early needs on the demo's schedule.
    _timed(page, page.get_by_text("Held", exact=True).click)
    page.get_by_label("Reason in your own words (or in addition)", exact=True).fill("benchmark: synthetic ward")
    dose = _timed(page, page.get_by_role("button", name="Save dose", exact=True).click)
    _succeeded(page, "recorded as held")
    page.context.close()
    return {("oncologist", CHOOSE): choose, ("oncologist", ACKNOWLEDGE): act, ("nurse", SAVE_SET): save,
            ("nurse", RECORD_DOSE): dose}


def hospital_database(folder: Path) -> str:
    """A copy of the kept hospital database: bench_browser's 40-patient ward (nurse's ward, DEMO) inside a
    synthetic hospital of HOSPITAL_COURSES more courses. Built once (a few minutes) into the temporary
    directory and kept for later runs (rebuilt after KEEP_HOURS: its data end when it was built); each
    run works on a copy, since the actions write."""
    from bench.bench_browser import build

    kept = Path(tempfile.gettempdir()) / f"il2-bench-pages-hospital-{HOSPITAL_COURSES}.db"
    if kept.exists() and time.time() - kept.stat().st_mtime > KEEP_HOURS * 3600:
        kept.unlink()
    if not kept.exists():
        started = time.perf_counter()
        build(kept.with_suffix(".building"), HOSPITAL_COURSES)
        kept.with_suffix(".building").rename(kept)
        print(f"bench_pages: hospital database built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    copy = folder / "hospital.db"
    shutil.copyfile(kept, copy)
    url = f"sqlite:///{copy}"
    _a_course_running(url)
    _oncologists(url)
    return url


def _oncologists(url: str) -> None:
    """The demo oncologist assigned to the benchmark ward (the ward measured); EVERY_WARD_ONCOLOGIST, assigned
    to none, sees every ward of the hospital."""
    from monitoring.services.auth import add_user, get_user, set_wards
    from monitoring.store.db import make_engine, session_scope

    engine = make_engine(url)
    with session_scope(engine) as session:
        set_wards(session=session, user=get_user(session=session, username="oncologist"), ward_codes=["DEMO"])
        add_user(session=session, username=EVERY_WARD_ONCOLOGIST, display_name="Oncologist of every ward (synthetic)",
                 role="oncologist", password=PASSWORD, created_by="bench_pages", enforce_policy=False)
    engine.dispose()


def _a_course_running(url: str) -> None:
    """The generated ward's 28 days have ended every course: a second cycle of its first high-dose course
    starts 2 h ago (screened and signed off as the demo does), so the nurse has a dose to record."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import select

    from monitoring.demo import seed
    from monitoring.services import courses
    from monitoring.store.db import make_engine, session_scope
    from monitoring.store.models import Patient, TreatmentCourse, Ward

    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with session_scope(engine) as session:
        first = session.scalars(select(TreatmentCourse).join(Patient, Patient.id == TreatmentCourse.patient_id)
                                .join(Ward, Ward.id == Patient.ward_id)
                                .where(Ward.code == "DEMO", TreatmentCourse.regimen == "hd-iv-bolus",
                                       TreatmentCourse.status == "completed").order_by(TreatmentCourse.id)).first()
        course = courses.next_cycle(session=session, course_id=int(first.id), start_at=now - timedelta(hours=2),
                                    baselines={}, role="oncologist", username=seed.SYNTHETIC_CLINICIAN)
        seed._screened(session=session, course_id=int(course.id), at=now)   # 'no' to every item, signed off
    engine.dispose()


def measure(runs: int = RUNS, wards: tuple[str, ...] = WARDS) -> list[dict]:
    """Every role's pages and the actions on each ward: {ward, role, page, first_s, warm_s (None for a
    sign-in or an action), runs}."""
    from playwright.sync_api import sync_playwright

    rows = []
    for ward in wards:
        with tempfile.TemporaryDirectory() as folder:
            url = demo_database(Path(folder)) if ward == "demo" else hospital_database(Path(folder))
            samples: dict[tuple[str, str], list[tuple[float, float | None]]] = {}
            with serve(url, Path(folder) / "streamlit.log") as app, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(runs):
                    for role in ROLES:
                        for title, pair in role_pages(browser, app, role).items():
                            samples.setdefault((role, title), []).append(pair)
                    if ward == "hospital":
                        for title, pair in role_pages(browser, app, EVERY_WARD_ONCOLOGIST, EVERY_WARD_PAGES).items():
                            samples.setdefault(("oncologist of every ward (2,040 patients)", title), []).append(pair)
                    for (role, name), seconds in actions(browser, app).items():
                        samples.setdefault((role, name), []).append((seconds, None))
                browser.close()
        for (role, title), pairs in samples.items():
            warm = [p[1] for p in pairs if p[1] is not None]
            rows.append({"ward": ward, "role": role, "page": title, "first_s": statistics.median(p[0] for p in pairs),
                         "warm_s": statistics.median(warm) if warm else None, "runs": len(pairs),
                         "action": title in ACTIONS})
    return rows


def targets(row: dict) -> tuple[float | None, float | None]:
    """(first-open or action target, warm target) in seconds; None where the issue sets no browser target
    (saving a set: 300 ms on the server, bench_entry's row)."""
    if row["page"] == SAVE_SET:
        return None, None
    if row["action"]:
        return ACTION_TARGET_S, None
    return (FIRST_TARGET_S, WARM_TARGET_S) if row["ward"] == "demo" else (HOSPITAL_FIRST_S, HOSPITAL_WARM_S)


def run(quick: bool = False) -> list[dict]:
    """The rows of bench.run's table: each page's first open and warm re-open, each action (medians)."""
    out = []
    for r in measure(1 if quick else RUNS, ("demo",) if quick else WARDS):
        what = f"{r['role']}: {r['page']}, {WARD_WORDS[r['ward']]}, in the browser, median of {r['runs']}"
        first, warm = targets(r)
        label = "" if r["action"] or r["warm_s"] is None else ": first open"
        out.append({"figure": what + label, "value": round(r["first_s"], 3), "unit": "s",
                    "target": "300 ms on the server (saving row)" if first is None else f"<= {first:g} s",
                    "met": None if first is None else r["first_s"] <= first})
        if r["warm_s"] is not None:
            out.append({"figure": f"{what}: warm re-open", "value": round(r["warm_s"], 3), "unit": "s",
                        "target": f"<= {warm:g} s", "met": r["warm_s"] <= warm})
    return out


def table(rows: list[dict]) -> str:
    lines = ["| Ward | Role | Page or action | First open (s) | Warm re-open (s) | Target | Met |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        first, warm = targets(r)
        if first is None:
            target, met = "300 ms on the server (bench_entry)", "–"
        elif warm is None or r["warm_s"] is None:
            target, met = f"<= {first:g} s", "yes" if r["first_s"] <= first else "**no**"
        else:
            target = f"<= {first:g} s / {warm:g} s"
            met = "yes" if r["first_s"] <= first and r["warm_s"] <= warm else "**no**"
        shown = "" if r["warm_s"] is None else f"{r['warm_s']:.2f}"
        lines.append(f"| {r['ward']} | {r['role']} | {r['page']} | {r['first_s']:.2f} | {shown} | {target} | {met} |")
    return "\n".join(lines)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    count = int(arguments[arguments.index("--runs") + 1]) if "--runs" in arguments else RUNS
    chosen = tuple(arguments[arguments.index("--ward") + 1].split(",")) if "--ward" in arguments else WARDS
    print(table(measure(count, chosen)))
