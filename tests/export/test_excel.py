"""The Excel workbook as a person opens it (issue 20 item 4): readable headers, frozen and filtered;
numbers as numbers with a format by unit; formula-like text as a text cell with the quotePrefix style and
no apostrophe; IDENTIFIABLE or De-identified on its first sheet and every printed page."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from monitoring.export import labels, quality
from monitoring.export import writers as export
from monitoring.export.about import ExportAbout

RISKY = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3 expected after IL-2", "@SUM(1)", "\t=1"]


def tables() -> dict[str, pd.DataFrame]:
    courses = pd.DataFrame({
        "course_ref": ["P-aaaaaaaaaa-C1", "P-bbbbbbbbbb-C1", "P-cccccccccc-C2", "P-dddddddddd-C1", "P-eeeeeeeeee-C1"],
        "regimen": ["biochemotherapy", "hd-iv-bolus", "hd-iv-bolus", "withheld (<5)", "low-dose-sc"],
        "cycle": [1, 1, 2, 1, 1],
        "is_synthetic": [True] * 5,
        "patient_days": [5.541, np.nan, 3.0, 1.25, 0.5],
        "doses_held": pd.array([0, 2, 1, 0, 3], dtype="Int64"),
        "peak_weight_gain_pct": [1.9, np.nan, 13.5, 0.0, 2.25],
        "hold_reasons": RISKY,
    })
    counts = pd.DataFrame({"regimen": ["hd-iv-bolus", "all"], "measure": ["doses_held", "doses_held"],
                           "count": ["<5", 6], "per_100_patient_days": ["withheld (<5)", 58.254]})
    return {"courses": courses, "cohort_counts": counts}


def workbook(about: ExportAbout | None = None, data: dict | None = None):
    content = export.to_excel(data or tables(), quality.COLUMN_DOCS, about=about)
    return load_workbook(io.BytesIO(content)), content


def test_each_table_sheet_has_a_frozen_header_of_readable_names_and_an_autofilter():
    book, _ = workbook()
    data = tables()
    assert book.sheetnames == ["about", "courses", "cohort_counts", "data_dictionary", "code_labels"]
    for name, frame in data.items():
        sheet = book[name]
        assert [c.value for c in sheet[1]] == labels.column_labels(frame.columns)
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(frame.columns)).column_letter}{len(frame) + 1}"
        assert all(c.font.bold for c in sheet[1])
    dictionary = book["data_dictionary"]
    assert [c.value for c in dictionary[1]] == ["Table", "Column", "Label", "Unit", "Meaning"]
    assert dictionary.freeze_panes == "A2" and dictionary.auto_filter.ref


@pytest.mark.parametrize("column, row, value, fmt", [
    ("Patient-days", 2, 5.541, "0.00"),                   # days: 2 decimals, the value kept whole
    ("Cycle", 3, 1, "General"),                           # a count: a whole number, shown whole
    ("Doses held", 3, 2, "General"),
    ("Peak weight gain (%)", 4, 13.5, "0.0"),
    ("Patient-days", 3, None, None),                      # missing stays an empty cell, never 0
])
def test_numbers_stay_numbers_with_a_format_by_unit(column, row, value, fmt):
    book, _ = workbook()
    sheet = book["courses"]
    headers = [c.value for c in sheet[1]]
    cell = sheet.cell(row, headers.index(column) + 1)
    assert cell.value == value
    if value is not None:
        assert cell.data_type == "n" and cell.number_format == fmt and type(cell.value) is type(value)


def test_withheld_cells_and_codes_read_as_on_the_reports_page():
    book, _ = workbook()
    counts = book["cohort_counts"]
    assert [c.value for c in counts[2]] == ["HD IV bolus q8h", "Doses held", "<5", "withheld (<5)"]
    assert counts.cell(3, 4).value == pytest.approx(58.254) and counts.cell(3, 4).number_format == "0.0"
    regimens = [row[1].value for row in book["courses"].iter_rows(min_row=2)]
    assert regimens == ["IL-2 + IFN + TMZ", "HD IV bolus q8h", "HD IV bolus q8h", "withheld (<5)", "Low-dose SC"]


def test_formula_like_text_is_a_text_cell_with_quote_prefix_and_no_apostrophe():
    book, content = workbook()
    sheet = book["courses"]
    column = [c.value for c in sheet[1]].index("Hold reasons") + 1
    cells = [sheet.cell(row, column) for row in range(2, 2 + len(RISKY))]
    assert [c.value for c in cells] == RISKY                  # as typed: no apostrophe added
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)
    plain = sheet.cell(2, 1)
    assert plain.data_type == "s" and not plain.quotePrefix   # ordinary text keeps the plain style
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = b"".join(archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/"))
    assert b"<f>" not in xml and b"'=HYPERLINK" not in xml and b"'@SUM" not in xml   # never a formula


@pytest.mark.parametrize("identifiable, mark", [(True, "IDENTIFIABLE"), (False, "De-identified")])
def test_the_workbook_says_identifiable_or_de_identified_first_and_on_every_printed_page(identifiable, mark):
    about = ExportAbout(identifiable=identifiable, synthetic=True, period_text="November 2026",
                        key_generation=None if identifiable else 3)
    book, _ = workbook(about)
    first = book.worksheets[0]
    assert first.title == "about" and book.active.title == "about"
    assert first["A1"].value.startswith(mark + ":") and first["A1"].font.color.rgb.endswith("C00000")
    facts = {row[0].value: row[1].value for row in first.iter_rows(min_row=3, max_row=7)}
    assert facts["Period"] == "November 2026"
    assert facts["Pseudonyms"] == ("Key generation not recorded" if identifiable else "Key generation 3")
    assert [s.title for s in book.worksheets if s.oddHeader.left.text != mark] == []
