"""Readable names (issue 20 item 4): every exported column, measure, regimen and alert rule has one, the
same on the Reports page, in Excel and in the CSV data dictionary; the CSV files keep the codes."""
from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone

import pandas as pd
import pytest

from monitoring.clinical.rules import RULES
from monitoring.clinical.vocabulary import REGIMEN_SHORT, REGIMENS
from monitoring.export import labels, quality
from monitoring.export import writers as export
from monitoring.store.db import make_engine, session_scope
from tests.conftest import seed_demo_ward

KEY = "labels-test-key-4c1e7a9b2d5f8e30"
END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)


def test_every_exported_column_has_a_readable_label_of_its_own():
    missing = [c for c in quality.COLUMN_DOCS if c not in labels.COLUMN_LABELS]
    assert missing == []
    shown = {c: labels.column_label(c) for c in quality.COLUMN_DOCS}
    assert [c for c, label in shown.items() if "_" in label or label == c] == []
    # Two columns of one table never read alike.
    assert len(set(shown.values())) == len(shown)


@pytest.mark.parametrize("unit, word", [("days", "day"), ("%", "%"), ("min", "min")])
def test_a_label_names_the_unit_its_figure_reads_in(unit, word):
    columns = [c for c, (u, _) in quality.COLUMN_DOCS.items() if u == unit]
    assert columns, unit
    assert [c for c in columns if word not in labels.column_label(c).lower()] == []


@pytest.mark.parametrize("read, code, shown", [
    (labels.column_label, "patient_days_total", "Patient-days (total)"),
    (labels.column_label, "per_100_patient_days", "per 100 patient-days"),
    (labels.column_label, "grade_renal_and_fluid", "Highest CTCAE grade: renal and fluid"),
    (labels.column_label, "a_new_column", "A new column"),            # a column added later still reads
    (labels.regimen_label, "biochemotherapy", "IL-2 + IFN + TMZ"),     # as the ward says it
    (labels.regimen_label, "hd-iv-bolus", "HD IV bolus q8h"),
    (labels.regimen_label, quality.ALL_REGIMENS, "All regimens"),
    (labels.regimen_label, "withheld (<5)", "withheld (<5)"),          # a small cell stays withheld
    (labels.rule_label, "febrile-neutropenia", "Febrile neutropenia"),
    (labels.rule_label, "il2-expected-effect", "Expected IL-2 effect"),
    (labels.measure_label, "courses_with_grade_3_or_more", "Courses with a CTCAE grade 3 or 4"),
    (labels.measure_label, "doses_held", "Doses held"),
    (labels.measure_label, "patient_days_total", "Patient-days (total)"),
    (labels.measure_label, "overdue observation sets", "Overdue observation sets"),
    (labels.organ_system_label, "constitutional and infection", "Constitutional and infection"),
])
def test_codes_read_in_words(read, code, shown):
    assert read(code) == shown


def test_every_regimen_reads_as_on_the_ward_and_every_rule_has_a_name():
    assert {code: labels.regimen_label(code) for code in REGIMENS} == REGIMEN_SHORT
    assert [rule for rule in RULES if labels.rule_label(rule) == rule] == []


@pytest.fixture
def demo_tables(db_url):
    """The export tables of a synthetic ward of 8 patients (alerts synced), on SQLite and PostgreSQL."""
    seed_demo_ward(db_url, patients=8, days=4, seed=7, end=END, sync=True)
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            yield quality.export_tables(session=session, filters=quality.QualityFilter(), export_key=KEY)
    finally:
        engine.dispose()


def test_every_measure_and_code_of_the_tables_reads_in_words(demo_tables):
    for name in ("cohort_counts", "distributions", "monitoring"):
        measures = demo_tables[name]["measure"].drop_duplicates()
        assert len(measures) > 3, name
        assert [m for m in measures if "_" in str(labels.measure_label(m))] == [], name
    shown = labels.labelled_values(demo_tables["cohort_counts"])
    assert set(shown["regimen"]) <= {*REGIMEN_SHORT.values(), "All regimens"}
    rules = labels.labelled_values(demo_tables["alerts_by_rule"])["rule_id"]
    assert [r for r in rules if r in RULES] == []


def test_the_csv_keeps_the_codes_and_its_dictionary_gives_each_column_its_label(demo_tables):
    archive = zipfile.ZipFile(io.BytesIO(export.to_csv_zip(demo_tables, quality.COLUMN_DOCS)))
    dictionary = pd.read_csv(archive.open("data_dictionary.csv"))
    assert list(dictionary.columns) == ["table", "column", "label", "unit", "meaning"]
    assert (dictionary["label"] == dictionary["column"].map(labels.column_label)).all()
    counts = pd.read_csv(archive.open("cohort_counts.csv"))
    assert "doses_held" in set(counts["measure"]) and "regimen" in counts.columns   # codes a program reads
    codes = pd.read_csv(archive.open("code_labels.csv")).set_index(["column", "code"])["label"]
    assert codes[("regimen", "biochemotherapy")] == "IL-2 + IFN + TMZ"
    assert codes[("rule_id", "sepsis-screen")] == "Sepsis screen"
    assert set(counts["regimen"]) <= {code for column, code in codes.index if column == "regimen"}
