"""The monthly report a committee reads (issue 20 item 4), read back as its pages print with poppler
(tests/export/pdf_pages.py): the cover, the one-page summary, IDENTIFIABLE or De-identified in red on
every page, no text cut, every course chart on a page naming its course; the summary's figures; the
file names. On SQLite and PostgreSQL."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from monitoring.export import quality
from monitoring.export import writers as export
from monitoring.export.about import ExportAbout
from monitoring.export.monthly_report import TITLE, report_summary
from monitoring.export.monthly_report.document import course_order
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import PatientIdentity
from tests.conftest import seed_demo_ward
from tests.export.pdf_pages import cut_text, needs_poppler, page_texts, words

KEY = "report-test-key-9d3b6e1a7c4f2e80"
END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)
CHART_TITLE = ": highest CTCAE grade per organ system"


@pytest.fixture
def ward(db_url):
    """A synthetic ward of 12 patients with synced alerts: its released tables both ways, and the
    identifiers the store holds."""
    seed_demo_ward(db_url, patients=12, days=5, seed=2026, end=END, sync=True)
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            tables = {identifiable: export.for_release(
                quality.export_tables(session=session, filters=quality.QualityFilter(), export_key=KEY,
                                      identifiable=identifiable), identifiable=identifiable)
                for identifiable in (False, True)}
            people = session.execute(select(PatientIdentity.mrn, PatientIdentity.family_name,
                                            PatientIdentity.given_name, PatientIdentity.birth_date)).all()
    finally:
        engine.dispose()
    # Record numbers, birth dates and names as the identifiable report writes them (a synthetic patient's
    # family name alone may be a word of the report, such as 'Synthetic').
    identifiers = sorted({str(v) for mrn, _, _, birth in people for v in (mrn, birth) if v is not None}
                         | {f"{family}, {given}" for _, family, given, _ in people})
    return tables, identifiers


def report(tables, *, identifiable: bool, **kwargs) -> bytes:
    return export.render(tables, "pdf", docs=quality.COLUMN_DOCS, synthetic=quality.is_synthetic(tables),
                         deidentified=not identifiable, **kwargs)


def red_headers(data: bytes) -> list[bool]:
    """For each page: is there red (the mark's colour) in the band of the page's header?"""
    found = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.pdf"
        path.write_bytes(data)
        subprocess.run(["pdftoppm", "-r", "50", str(path), str(Path(folder) / "page")], check=True, timeout=120)
        for image in sorted(Path(folder).glob("page*.ppm")):
            raw = image.read_bytes()
            _, size, _, pixels = raw.split(b"\n", 3)
            width, height = (int(v) for v in size.split())
            rgb = np.frombuffer(pixels, dtype=np.uint8)[:width * height * 3].reshape(height, width, 3).astype(int)
            band = rgb[:int(height * 0.07)]
            red = (band[..., 0] > 150) & (band[..., 0] - band[..., 1] > 80) & (band[..., 0] - band[..., 2] > 80)
            found.append(bool(red.sum() >= 5))
    return found


needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")


@needs_poppler
@pytest.mark.parametrize("identifiable, mark, key_generation, key_text", [
    (False, "De-identified", 4, "Key generation 4"),
    (True, "IDENTIFIABLE", None, "Key generation not recorded"),
])
def test_the_cover_states_the_period_wards_key_and_whether_it_is_identifiable(ward, identifiable, mark,
                                                                              key_generation, key_text):
    tables, _ = ward
    data = report(tables[identifiable], identifiable=identifiable, period_text="November 2026",
                  wards_text="DEMO · Demo ward", key_generation=key_generation)
    cover = page_texts(data, layout=False)[0]
    for text in (TITLE, mark, "November 2026", "DEMO · Demo ward", key_text, "all regimens",
                 f"{len(tables[identifiable]['courses'])} courses of", "Synthetic: invented patients"):
        assert text in cover, text


@needs_poppler
def test_without_a_period_or_key_the_report_says_so(ward):
    tables, _ = ward
    cover = page_texts(report(tables[False], identifiable=False), layout=False)[0]
    assert "Period not stated" in cover and "Key generation not recorded" in cover and "all wards" in cover


@needs_poppler
@needs_pdftoppm
@pytest.mark.parametrize("identifiable, mark", [(True, "IDENTIFIABLE"), (False, "De-identified")])
def test_every_page_says_identifiable_or_de_identified_in_red(ward, identifiable, mark):
    tables, _ = ward
    data = report(tables[identifiable], identifiable=identifiable, period_text="November 2026")
    texts = page_texts(data, layout=False)
    assert len(texts) >= 6
    assert [n for n, text in enumerate(texts, start=1) if mark not in text.split("\n", 2)[0] + text] == []
    other = "De-identified" if identifiable else "IDENTIFIABLE"
    assert [n for n, text in enumerate(texts, start=1) if other in text] == []
    assert red_headers(data) == [True] * len(texts)
    if identifiable:   # and the footer of every page says what handling it needs
        assert all("Handle as patient records" in text for text in texts)
    assert [f"page {n} of {len(texts)}" in text for n, text in enumerate(texts, start=1)] == [True] * len(texts)


@needs_poppler
@pytest.mark.parametrize("identifiable", [False, True])
def test_no_text_is_cut_or_drawn_over_other_text(ward, identifiable):
    tables, _ = ward
    data = report(tables[identifiable], identifiable=identifiable, period_text="November 2026",
                  wards_text="DEMO · Demo ward", key_generation=2)
    assert cut_text(words(data)) == []


@needs_poppler
@pytest.mark.parametrize("pages", [50, 3])
def test_every_course_chart_is_on_a_page_that_names_its_course(ward, pages):
    tables, _ = ward
    courses = tables[False]["courses"]
    data = export.to_pdf(tables[False], about=ExportAbout(period_text="November 2026"), max_course_pages=pages)
    charted = []
    for text in page_texts(data, layout=False):
        for ref in re.findall(r"(P-[0-9a-f]{10}-C\d+)" + re.escape(CHART_TITLE), text):
            charted.append(ref)
            assert f"Course {ref}" in text, ref                     # the page's header and heading
            assert "Organ system" in text and "Highest CTCAE grade (0-4)" in text   # both axes named
    # A chart for each course shown, the highest grades first.
    assert charted == course_order(courses)["course_ref"].head(pages).tolist()
    cover = page_texts(data, layout=False)[0]
    assert f"Course pages: {min(pages, len(courses))} of {len(courses)} courses" in cover


@needs_poppler
def test_the_summary_is_one_page_with_every_measure_the_committee_reads(ward):
    tables, _ = ward
    texts = page_texts(report(tables[False], identifiable=False), layout=False)
    summary = texts[1]
    for heading in ("Summary", "Courses, doses and events", "Doses given", "Doses held",
                    "Grade 3-4 toxicities by organ system", "Constitutional and infection",
                    "Alerts per 100 patient-days by rule", "Febrile neutropenia", "Sepsis screen",
                    "time from first seen to first response", "Expected IL-2 effects: share of",
                    "Doses given over the pre-dose check by override", "Overdue observation sets"):
        assert heading in summary, heading
    assert "Charts" in texts[2]
    for chart in ("Courses with a CTCAE grade 3 or 4, by organ system", "Alerts per 100 patient-days, by alert rule",
                  "Time from first seen to first response, median"):
        assert chart in texts[2], chart


@needs_poppler
def test_a_de_identified_report_names_nobody_and_an_identifiable_one_does(ward):
    tables, identifiers = ward
    assert len(identifiers) > 20
    hidden = " ".join(" ".join(page_texts(report(tables[False], identifiable=False), layout=False)).split())
    assert [i for i in identifiers if i in hidden] == []
    named = " ".join(" ".join(page_texts(report(tables[True], identifiable=True), layout=False)).split())
    courses = tables[True]["courses"]
    shown = [f"{family}, {given} · MRN {mrn}" for family, given, mrn in
             courses[["family_name", "given_name", "mrn"]].itertuples(index=False)]
    assert [name for name in shown if name not in named] == []   # every course has its page here (fewer than 50)


# --- the summary's figures, from tables made by hand ----------------------------------------------------

def summary_tables(held: object = 10, grade_4: object = 2) -> dict[str, pd.DataFrame]:
    measures = ["doses_given", "doses_held", "doses_stopped", "doses_given_on_decision", "doses_given_by_override"]
    counts = pd.DataFrame({"regimen": "all", "measure": measures, "count": [100, held, 0, 1, 1], "courses": 20,
                           "patients": 18, "patient_days_total": 50.0, "per_course": 0.5,
                           "per_100_patient_days": [200.0, 20.0, 0.0, 2.0, 2.0]})
    grades = pd.DataFrame({"regimen": "all", "organ_system": ["renal and fluid"] * 2, "grade": ["3", "4"],
                           "courses": [3, grade_4], "percent_of_courses": [15.0, 10.0]})
    rules = pd.DataFrame({"rule_id": ["il2-expected-effect", "sepsis-screen", "all rules except expected effects"],
                          "alerts": [30, 10, 25], "patient_days_total": 50.0, "alerts_per_patient_day": [0.6, 0.2, 0.5],
                          "responded": [0, 8, 20], "latency_median_min": [np.nan, 12.5, 10.0],
                          "latency_p90_min": [np.nan, 40.0, 30.0], "declined": [0, 1, 2]})
    monitoring = pd.DataFrame({"measure": ["patient_days_total", "acknowledgement latency, median",
                                           "acknowledgement latency, 90th percentile", "alerts without a response"],
                               "value": [50.0, 10.0, 30.0, 5.0], "unit": ["days", "min", "min", "count"]})
    return {"cohort_counts": counts, "grade_distribution": grades, "alerts_by_rule": rules, "monitoring": monitoring}


def check(summary, measure: str):
    return summary.checks.set_index("measure").loc[measure, "value"]


def test_the_summary_figures_computed_from_the_tables():
    summary = report_summary(summary_tables())
    assert (summary.courses, summary.patients, summary.patient_days) == (20, 18, 50.0)
    rates = summary.alerts.set_index("rule_id")["per_100_patient_days"]
    assert rates["sepsis-screen"] == pytest.approx(20.0)            # 10 alerts / 50 patient-days x 100
    assert rates["il2-expected-effect"] == pytest.approx(60.0)
    assert check(summary, "Expected IL-2 effects: share of expected effects and sepsis-screen alerts") == \
        pytest.approx(75.0)                                         # 30 / (30 + 10)
    assert check(summary, "Doses given over the pre-dose check, share of doses given") == pytest.approx(2.0)
    assert check(summary, "Alerts without a response, share of alerts") == pytest.approx(20.0)   # 5 of 25
    assert summary.grades.iloc[0]["percent_grade_3_or_4"] == pytest.approx(25.0)                # 5 of 20
    latency = summary.alerts.set_index("rule_id")["latency_median_min"]
    assert pd.isna(latency["il2-expected-effect"]) and latency["sepsis-screen"] == 12.5   # never answered: not 0


def test_a_figure_from_a_withheld_cell_is_withheld_too():
    summary = report_summary(summary_tables(held="<5", grade_4="<5"))
    counts = summary.counts.set_index("measure")
    assert counts.loc["doses_held", "count"] == "<5"
    row = summary.grades.iloc[0]
    assert row["grade_4"] == "<5" and row["percent_grade_3_or_4"] == "withheld (<5)"


# --- file names: IDENTIFIABLE or de-identified, outside and inside --------------------------------------

@pytest.mark.parametrize("fmt, identifiable, period, pattern", [
    ("csv", False, None, r"il2-quality-export-de-identified\.zip"),
    ("xlsx", False, None, r"il2-quality-export-de-identified\.xlsx"),
    ("pdf", False, "2026-11", r"il2-quality-report-2026-11-de-identified\.pdf"),
    ("pdf", False, "Nov 2026 / Q4", r"il2-quality-report-Nov-2026---Q4-de-identified\.pdf"),
    ("csv", True, None, r"il2-quality-export-IDENTIFIABLE-20261127T0800Z\.zip"),
    ("pdf", True, "2026-11", r"il2-quality-report-2026-11-IDENTIFIABLE-20261127T0800Z\.pdf"),
    ("fhir", True, None, r"il2-quality-export-IDENTIFIABLE-20261127T0800Z\.fhir\.json"),
])
def test_file_names_say_identifiable_or_de_identified(fmt, identifiable, period, pattern):
    assert re.fullmatch(pattern, export.filename(fmt, END, identifiable=identifiable, period=period))


def test_an_unknown_format_has_no_file_name():
    with pytest.raises(export.ExportError, match="format 'docx' is not known; accepted: csv"):
        export.filename("docx")


@needs_poppler
@pytest.mark.parametrize("identifiable, mark", [(True, "IDENTIFIABLE"), (False, "De-identified")])
def test_every_format_says_identifiable_or_de_identified_inside(ward, identifiable, mark):
    tables, _ = ward
    files = {fmt: export.render(tables[identifiable], fmt, docs=quality.COLUMN_DOCS, synthetic=True,
                                deidentified=not identifiable, key_generation=7) for fmt in export.TABLE_FORMATS}
    readme = zipfile.ZipFile(io.BytesIO(files["csv"])).read("README.txt").decode()
    assert readme.startswith(mark + ":") and "Key generation 7" in readme
    assert load_workbook(io.BytesIO(files["xlsx"]))["about"]["A1"].value.startswith(mark + ":")
    assert all(mark in text for text in page_texts(files["pdf"], layout=False))


@needs_poppler
def test_a_figure_too_wide_for_its_bar_is_a_footnote_not_text_over_its_neighbours():
    from reportlab.graphics import renderPDF
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    from monitoring.export.monthly_report.charts import Series, bar_chart

    withheld = "withheld (protects a small cell)"
    chart = bar_chart(title="Courses with a CTCAE grade 3 or 4", categories=["Hepatic", "Hematologic", "Skin"],
                      series=[Series("Grade 3", [withheld, withheld, 6], "#E08A2C"),
                              Series("Grade 4", ["<5", 0, None], "#B22222")],
                      x_title="Organ system", y_title="Courses", width=300, height=200)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=0)
    renderPDF.draw(chart, canvas, 40, 500)
    canvas.showPage()
    canvas.save()
    data = buffer.getvalue()
    text = " ".join(page_texts(data, layout=False)[0].split())
    assert "*: withheld (protects a small cell)" in text and "<5" in text and "Organ system" in text
    assert cut_text(words(data), margin=0) == []
