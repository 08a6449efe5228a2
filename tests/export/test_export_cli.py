"""`il2-monitor export` as a scheduled job runs it, and the Reports page for quality and oncologist."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import select

from monitoring.services import auth
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent
from tests.app_helpers import signed_in

ROOT = Path(__file__).resolve().parents[2]


KEY = "export-test-key-2b7e9c4a1f6d8e30"
KEY1 = "export-test-key-one-6a3f8c1e9b2d7e4"


# Each key is its own generation (issue 20 item 2: a generation names one key; a changed key under the same
# number is refused).
GENERATION = {KEY: "1", KEY1: "2"}


def run_cli(*args: str, url: str, env: dict | None = None, stdin: str = "", key: str | None = KEY
            ) -> subprocess.CompletedProcess:
    """The CLI with the export key in IL2_EXPORT_KEY (never on the command line) unless `key` is None, and
    that key's generation."""
    environment = {**os.environ, "DATABASE_URL": url, **(env or {})}
    if env is None:
        environment.pop("IL2_EXPORT_KEY", None)
        if key is not None:
            environment["IL2_EXPORT_KEY"] = key
    used = environment.get("IL2_EXPORT_KEY") or stdin.split("\n")[0]
    environment["IL2_EXPORT_KEY_GENERATION"] = GENERATION.get(used, "1")
    return subprocess.run([sys.executable, "-m", "monitoring", *args], capture_output=True, text=True, cwd=ROOT,
                          env=environment, timeout=300, input=stdin)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('export') / 'demo.db'}"
    assert run_cli("db", "upgrade", url=url).returncode == 0
    result = run_cli("demo", "--end", "2026-11-27T08:00:00Z", url=url)
    assert result.returncode == 0, result.stderr
    # Both test keys recorded with their generations up front, as a team that rotated once has them: tests
    # use either in any order (a new key under an older generation is refused: test_team_key.py).
    from monitoring.export import team_key
    engine = make_engine(url)
    with session_scope(engine) as session:
        for key_used, generation in GENERATION.items():
            team_key.team_key(session=session, key=key_used, generation=int(generation), username="test")
    engine.dispose()
    return url


def audit_rows(url: str) -> list[AuditEvent]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            rows = session.scalars(select(AuditEvent).where(AuditEvent.entity == "quality-export")
                                   .order_by(AuditEvent.id)).all()
            return [(r.username, r.action, r.after) for r in rows]
    finally:
        engine.dispose()


def test_fhir_export_from_the_cli_is_a_valid_pseudonymous_bundle_and_audited(demo_url, tmp_path):
    import json

    from fhir.resources.R4B.bundle import Bundle

    out = tmp_path / "q.fhir.json"
    result = run_cli("export", "--format", "fhir", "--output", str(out), "--quiet", url=demo_url,
                     env={"IL2_EXPORT_KEY": KEY1})
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    bundle = json.loads(text)
    Bundle.model_validate(bundle)
    kinds = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "Observation", "MedicationAdministration", "DetectedIssue", "AdverseEvent"} <= kinds
    assert "SYN-0" not in text  # no record number of the demo ward
    out_nd = tmp_path / "q.ndjson"
    assert run_cli("export", "--format", "ndjson", "--output", str(out_nd), "--quiet", url=demo_url,
                   env={"IL2_EXPORT_KEY": KEY1}).returncode == 0
    lines = out_nd.read_text().splitlines()
    assert len(lines) == len(bundle["entry"]) and json.loads(lines[0])["resourceType"] == "Patient"
    assert [after["format"] for _, _, after in audit_rows(demo_url)[-2:]] == ["fhir", "ndjson"]


def test_csv_export_writes_the_zip_shows_progress_and_is_audited(demo_url, tmp_path):
    out = tmp_path / "q.zip"
    result = run_cli("export", "--format", "csv", "--output", str(out), "--regimen", "hd-iv-bolus",
                     "--period", "2026-11", url=demo_url, env={"IL2_EXPORT_KEY": KEY1})
    assert result.returncode == 0, result.stderr
    assert "4/4" in result.stderr and "[####" in result.stderr      # the text progress bar
    names = zipfile.ZipFile(out).namelist()
    assert {"courses.csv", "data_dictionary.csv", "monitoring.csv", "README.txt"} <= set(names)
    courses = zipfile.ZipFile(out).read("courses.csv").decode()
    assert "SYN-0" not in courses and "hd-iv-bolus" in courses and "low-dose-sc" not in courses
    user, action, after = audit_rows(demo_url)[-1]
    assert user.startswith("cli:") and action == "export" and after["format"] == "csv"
    assert after["filters"]["regimens"] == ["hd-iv-bolus"] and after["identifiable"] is False
    assert (after["filters"]["period"], after["filters"]["basis"], after["filters"]["key_generation"]) == (
        "November 2026", "events", 2)


@pytest.mark.parametrize("fmt, magic", [("xlsx", b"PK"), ("pdf", b"%PDF")])
def test_excel_and_pdf_exports(demo_url, tmp_path, fmt, magic):
    out = tmp_path / f"q.{fmt}"
    result = run_cli("export", "--format", fmt, "--key-stdin", "--output", str(out), "--ward", "DEMO", "--quiet",
                     url=demo_url, key=None, stdin=KEY1 + "\n")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(magic) and result.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["--ward", "NOWHERE"], "ward NOWHERE does not exist"),
    (["--regimen", "iv-magic"], "regimen iv-magic is not known"),
    (["--from", "yesterday"], "is not a date"),
    (["--from", "2026-11-10", "--to", "2026-11-01"], "--to is before --from"),
    (["--from", "2026-11-01"], "--from and --to are for identifiable exports only"),
    (["--period", "2026-13"], "period '2026-13' is not known; accepted: last-month"),
    (["--period", "last-month", "--from", "2026-11-01"], "not both"),
    (["--identifiable"], "--identifiable needs --user"),
    (["--identifiable", "--user", "quality"], "may not export identifiable"),
    (["--user", "ghost"], "no active account named 'ghost'"),
])
def test_bad_input_exits_2_with_a_clear_message(demo_url, tmp_path, args, message):
    result = run_cli("export", "--format", "csv", "--output", str(tmp_path / "x.zip"), *args,
                     url=demo_url)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "x.zip").exists()


def test_a_missing_key_exits_2(demo_url, tmp_path):
    result = run_cli("export", "--format", "csv", "--output", str(tmp_path / "x.zip"), url=demo_url, key=None)
    assert result.returncode == 2 and "IL2_EXPORT_KEY" in result.stderr


def test_the_export_key_is_never_taken_from_the_command_line(demo_url, tmp_path):
    """Issue 17: --key put the secret in the process list and the shell history."""
    result = run_cli("export", "--format", "csv", "--key", KEY, "--output", str(tmp_path / "x.zip"), url=demo_url,
                     key=None)
    assert result.returncode == 2 and "--key-stdin" in result.stderr and not (tmp_path / "x.zip").exists()


def test_identifiable_export_for_an_oncologist_is_flagged_in_the_audit(demo_url, tmp_path):
    import getpass
    out = tmp_path / "id.zip"
    # Issue 16 item 11: the account's name alone no longer exports identities; its password is needed.
    for stdin, flag in (("", []), ("wrong-password\n", ["--password-stdin"])):
        refused = run_cli("export", "--format", "csv", "--identifiable", "--user", "oncologist",
                          *flag, "--output", str(out), "--quiet", url=demo_url, stdin=stdin)
        assert refused.returncode == 2 and not out.exists(), refused.stderr
    assert "needs the password of oncologist" in run_cli(
        "export", "--format", "csv", "--identifiable", "--user", "oncologist", "--output", str(out),
        url=demo_url).stderr
    result = run_cli("export", "--format", "csv", "--identifiable", "--user", "oncologist",
                     "--password-stdin", "--output", str(out), "--quiet", url=demo_url, stdin="demo-il2\n")
    assert result.returncode == 0, result.stderr
    assert "SYN-0" in zipfile.ZipFile(out).read("courses.csv").decode()
    user, action, after = audit_rows(demo_url)[-1]
    assert (user, action, after["identifiable"]) == ("oncologist", "export-identifiable", True)
    assert (after["os_user"], after["password_confirmed"]) == (getpass.getuser(), True)


# --- the Reports page ------------------------------------------------------------------------------

@pytest.fixture
def app_db(demo_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


LABELS = ["Download CSV (zip)", "Download Excel", "Download PDF", "Download FHIR R4 (Bundle)",
          "Download FHIR R4 (ndjson)"]


def download_buttons(at):
    return [(b.proto.label, b.proto.id.rsplit("-", 1)[-1]) for b in at.get("download_button")]


def test_quality_sees_tables_charts_and_three_downloads_without_identifiable_option(app_db):
    at = signed_in("quality", page="app_pages/reports.py")
    at.selectbox(key="reports_period").select("All time").run()
    assert [t.value for t in at.title] == ["Reports"]
    assert len(at.dataframe) >= 2 and len(at.get("plotly_chart")) == 2
    assert download_buttons(at) == list(zip(LABELS, ["reports_download_csv", "reports_download_xlsx",
                                                     "reports_download_pdf", "reports_download_fhir",
                                                     "reports_download_ndjson"]))
    assert not [c for c in at.checkbox if "Identifiable" in c.label]
    shown = " ".join(str(df.value.to_csv()) for df in at.dataframe)
    assert "SYN-0" not in shown  # no record number on the page
    # A figure that could not be determined reads "–", never "None" (the demo has no answered alert yet).
    assert not any(df.value.isna().any().any() for df in at.dataframe)
    assert "–" in at.dataframe[0].value.to_csv()
    monitoring = at.dataframe[0].value.set_index("measure")["value"]
    # 13: the 12 demo courses and the cycle-2 patient's ended cycle 1; a count reads 13, not 13.0
    assert monitoring["Courses"] == "13"
    specs = " ".join(chart.proto.spec for chart in at.get("plotly_chart"))
    for title in ("Organ system", "CTCAE grade", "Alert rule", "Alerts per 100 patient-days"):
        assert f'"text":"{title}"' in specs  # axis titles in words, not column names


def test_the_reports_page_names_columns_regimens_and_rules_as_the_exports_do(app_db):
    import json

    from monitoring.export import labels
    at = signed_in("quality", page="app_pages/reports.py")
    headers = {column: config["label"] for df in at.dataframe
               for column, config in json.loads(df.proto.columns).items() if column != "_index"}
    assert headers and {c: labels.column_label(c) for c in headers} == headers
    assert headers["patient_days_total"] == "Patient-days (total)"
    assert headers["per_100_patient_days"] == "per 100 patient-days"
    shown = " ".join(df.value.to_csv(index=False, header=False) for df in at.dataframe)   # the cells
    assert "IL-2 + IFN + TMZ" in shown and "biochemotherapy" not in shown     # as the ward names it
    assert "Febrile neutropenia" in shown and "febrile-neutropenia" not in shown
    assert "Doses held" in shown and "doses_held" not in shown


def test_oncologist_may_tick_identifiable(app_db):
    at = signed_in("oncologist", page="app_pages/reports.py")
    box = at.checkbox(key="reports_identifiable")
    box.check().run()
    assert not at.exception
    assert [label for label, _ in download_buttons(at)] == LABELS
    assert auth.may("oncologist", "export_identifiable")


def test_the_reports_page_on_a_database_without_courses_says_so(app_db_url):
    from monitoring.store.repository import get_or_create_ward

    engine = make_engine(app_db_url)
    with session_scope(engine) as session:
        get_or_create_ward(session=session, code="DEMO", name="Demo ward")
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    engine.dispose()
    at = signed_in("quality")  # the quality role has one page: Reports opens directly
    assert not at.exception and at.title[0].value == "Reports"
    assert "No treatment courses match these filters." in at.info[0].value
    assert not at.get("download_button")


# --- issue 16 item 6: nothing that re-identifies in a de-identified view --------------------------------

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("text, label, start, end", [
    ("2026-11", "November 2026", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
    ("2026-12", "December 2026", "2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),   # rolls the year
    ("2026-06", "June 2026", "2026-06-01T00:00:00+01:00", "2026-07-01T00:00:00+01:00"),      # BST, local midnight
    ("2026-Q4", "Q4 2026 (October to December)", "2026-10-01T00:00:00+01:00", "2027-01-01T00:00:00+00:00"),
    ("2026-q1", "Q1 2026 (January to March)", "2026-01-01T00:00:00+00:00", "2026-04-01T00:00:00+01:00"),
    ("last-month", "November 2026", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
    ("this month", "December 2026", "2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
    ("last quarter", "Q3 2026 (July to September)", "2026-07-01T00:00:00+01:00", "2026-10-01T00:00:00+01:00"),
    ("this-quarter", "Q4 2026 (October to December)", "2026-10-01T00:00:00+01:00", "2027-01-01T00:00:00+00:00"),
    ("all time", "all time", None, None),
])
def test_report_periods_are_whole_calendar_months_and_quarters_in_the_wards_time_zone(text, label, start, end):
    """Issue 20 item 1: months and quarters with presets, midnight to midnight in the installation's zone."""
    from monitoring.export import periods
    found = periods.parse(text, now=datetime(2026, 12, 4, 22, tzinfo=timezone.utc), tz=LONDON)
    assert (found.label, found.whole) == (label, True)
    assert (None if found.start is None else found.start.isoformat(),
            None if found.end is None else found.end.isoformat()) == (start, end)


def test_last_quarter_in_january_is_the_previous_years_fourth_and_the_offer_does_not_depend_on_data():
    from monitoring.export import periods
    january = datetime(2027, 1, 2, tzinfo=timezone.utc)
    assert periods.preset("last quarter", now=january, tz=LONDON).label == "Q4 2026 (October to December)"
    assert periods.preset("last month", now=january, tz=LONDON).label == "December 2026"
    offered = list(periods.choices(now=datetime(2026, 12, 4, tzinfo=timezone.utc), tz=LONDON))
    assert offered[:5] == ["Last month (November 2026)", "This month (December 2026)",
                           "Last quarter (Q3 2026 (July to September))", "This quarter (Q4 2026 (October to December))",
                           "All time"]
    assert "November 2026" in offered and "Q4 2026 (October to December)" in offered and len(offered) == 5 + 20 + 60


def test_a_range_of_days_is_for_identifiable_exports_only():
    from datetime import date

    from monitoring.export import periods
    days = periods.custom(date(2026, 11, 3), date(2026, 11, 17), LONDON)
    assert not days.whole and days.label == "03 Nov 2026 to 17 Nov 2026"
    assert days.end.isoformat() == "2026-11-18T00:00:00+00:00"            # the last day inclusive
    assert periods.for_report(days, identifiable=True) is days
    with pytest.raises(ValueError, match="whole months or quarters"):
        periods.for_report(days, identifiable=False)
    with pytest.raises(ValueError, match="ends .* before it starts"):
        periods.custom(date(2026, 11, 17), date(2026, 11, 3), LONDON)


def _tables(courses_per_regimen: dict[str, int]):
    import pandas as pd
    rows = [{"course_ref": f"P-{regimen[:3]}{i}-C1", "ward_code": "W1", "regimen": regimen, "cycle": 1}
            for regimen, count in courses_per_regimen.items() for i in range(count)]
    grades = pd.DataFrame({"regimen": ["a"] * 4, "organ_system": ["renal"] * 4, "grade": ["0", "1", "2", "3"],
                           "courses": [0, 4, 5, 9], "percent_of_courses": [0.0, 22.2, 27.8, 50.0]})
    return {"courses": pd.DataFrame(rows), "grade_distribution": grades,
            "terms": pd.DataFrame({"course_ref": [r["course_ref"] for r in rows],
                                   "regimen": [r["regimen"] for r in rows]})}


@pytest.mark.parametrize("count, small", [(4, True), (5, False), (6, False)])
def test_small_cells_of_fewer_than_5_courses_are_withheld(count, small):
    from monitoring.export.small_cells import suppress, too_few_courses
    tables = _tables({"hd-iv-bolus": count, "til-il2": 5})
    out = suppress(tables, k=5)
    grades = out["grade_distribution"].set_index("grade")
    assert grades.loc["1", "courses"] == "<5" and grades.loc["1", "percent_of_courses"] == "withheld (<5)"   # 4: below
    assert grades.loc["3", "courses"] == 9 and grades.loc["0", "courses"] == 0                     # 9 and 0 stay
    # 18 courses in the group: the 4 would be 18 - 9 - 5, so the smallest other cell goes with it.
    assert grades.loc["2", "courses"] == "withheld (protects a small cell)"
    bolus = out["courses"][out["courses"]["course_ref"].str.startswith("P-hd-")]
    assert bool((bolus["ward_code"] == "withheld (<5)").all()) is small
    assert bool((bolus["regimen"] == "withheld (<5)").all()) is small
    assert (out["terms"]["regimen"] == "withheld (<5)").sum() == (count if small else 0)
    message = too_few_courses(_tables({"a": count}), k=5)
    assert (message is not None) is small
    assert message is None or message.startswith("Fewer than 5 courses match these filters")


def test_the_quality_role_sees_no_day_filter_and_no_small_cell(app_db):
    at = signed_in("quality", page="app_pages/reports.py")
    assert not at.date_input   # a day-by-day filter dated each course's start
    assert [s.label for s in at.selectbox][:1] == ["Period"]
    assert "Custom dates (identifiable export only)" not in at.selectbox(key="reports_period").options
    at.selectbox(key="reports_period").select("All time").run()
    shown = {name: df.value for name, df in zip(range(len(at.dataframe)), at.dataframe)}
    for frame in shown.values():
        for column in ("courses", "patients", "n", "count"):
            if column in frame.columns:
                counts = pd.to_numeric(frame[column], errors="coerce")
                assert not ((counts > 0) & (counts < 5)).any(), frame[column].tolist()
    # Of the demo's 12 courses, the bolus courses of cycle 1 share ward, regimen and cycle; the others'
    # ward and cycle are withheld: every ward shown is shared by at least 5 courses.
    per_course = next(f for f in shown.values() if "course_ref" in f.columns and "ward_code" in f.columns)
    withheld = per_course["ward_code"] == "withheld (<5)"
    assert 0 < withheld.sum() < len(per_course)
    assert per_course[~withheld].groupby(["ward_code", "regimen", "cycle"]).size().min() >= 5


def test_a_selection_of_fewer_than_5_courses_is_not_exported_de_identified(demo_url, tmp_path):
    out = tmp_path / "x.zip"
    few = run_cli("export", "--format", "csv", "--regimen", "til-il2", "--output", str(out),
                  url=demo_url)
    assert few.returncode == 2 and "Fewer than 5 courses match" in few.stderr and not out.exists()


def test_a_lone_small_cell_of_one_regimen_is_not_found_from_the_all_regimens_row():
    import pandas as pd

    from monitoring.export.quality import ALL_REGIMENS
    from monitoring.export.small_cells import suppress
    grades = pd.DataFrame({"regimen": ["a", "a", "b", "b", ALL_REGIMENS, ALL_REGIMENS],
                           "organ_system": ["renal"] * 6, "grade": ["1", "2"] * 3,
                           "courses": [3, 9, 6, 8, 9, 17], "percent_of_courses": [25.0, 75.0, 43.0, 57.0, 35.0, 65.0]})
    out = suppress({"courses": pd.DataFrame(columns=["course_ref", "ward_code", "regimen", "cycle"]),
                    "grade_distribution": grades}, k=5)["grade_distribution"]
    by = out.set_index(["regimen", "grade"])["courses"]
    assert by[("a", "1")] == "<5"
    # 'all, grade 1' (9) minus 'b, grade 1' (6) would give 'a, grade 1' back: withheld too.
    assert by[(ALL_REGIMENS, "1")] == "withheld (protects a small cell)"
    # ... and then 'all, grade 2' too, or the all-regimens total would give grade 1 back in its turn.
    assert by[(ALL_REGIMENS, "2")] == "withheld (protects a small cell)"
    assert by[("b", "1")] == 6 and by[("b", "2")] == 8


def test_the_reports_page_keeps_its_tables_for_a_minute_and_reads_them_again_for_other_filters(app_db):
    """Issue 21: a rerun (a widget, a re-open) within a minute shows the tables read before, and says when;
    other filters read them again."""
    at = signed_in("quality", page="app_pages/reports.py")
    at.selectbox(key="reports_period").select("All time").run()
    read = at.session_state["reports_tables"]
    assert "figures read at " in " ".join(m.value for m in at.markdown)
    at.run()
    assert at.session_state["reports_tables"][1] == read[1]          # the same read, not a new one
    at.radio(key="reports_basis").set_value("course-start").run()
    assert not at.exception and at.session_state["reports_tables"][1] > read[1]
