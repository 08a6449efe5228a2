"""The quality export as an Excel workbook a person reads.

* A first sheet, "about", says IDENTIFIABLE (in red) or De-identified in its first row, then the
  period, the wards, the regimens, the pseudonym key's generation and what each sheet holds; every
  sheet's printed header says it too.
* A sheet per table: a header row of readable names (monitoring.export.labels), frozen, with an
  autofilter over the table; regimens, alert rules, measures and organ systems in words as on the
  Reports page (the CSV files keep the codes; the code_labels sheet pairs them); numbers stay numbers,
  shown with a format by their unit (days to 2 decimals, percentages and minutes to 1; whole numbers
  as they are); missing values are empty cells (never zero).
* Then the data dictionary (table, column, label, unit, meaning) and the code labels (the readable
  name of each regimen and alert rule code).
* Text that a spreadsheet could run as a formula (starting with =, +, -, @, tab or carriage return;
  OWASP CSV injection) is written as a text cell with the quotePrefix style: Excel shows it as typed
  and never runs it, without the leading apostrophe the CSV files need.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from monitoring.export import labels
from monitoring.export.about import ExportAbout
from monitoring.views.audit import FORMULA_PREFIXES

MAX_WIDTH, MIN_WIDTH = 60, 8
ABOUT = "about"
# Excel number format of a column by its unit (quality.COLUMN_DOCS); other columns keep 'General'.
UNIT_FORMATS = {"count": "0", "days": "0.00", "%": "0.0", "min": "0.0", "per course": "0.000",
                "per 100 patient-days": "0.0", "per patient-day": "0.0000", "CTCAE v5.0 grade 0-4": "0",
                "KDIGO stage 0-3": "0", "unit of the measure": "0.00"}
RED = "C00000"


def number_format(column: str, docs: Mapping[str, tuple[str, str]]) -> str:
    return UNIT_FORMATS.get(docs.get(column, ("", ""))[0], "General")


def _cell_value(value: object) -> object:
    """A value openpyxl can write: None for missing, Python scalars for numpy ones, bools as true/false."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and np.isnan(value):
            return None
    return value


def _writer(sheet, fmt: str) -> Callable[[object], object]:
    """A function writing one column's values. A plain value is appended as it is (openpyxl's fast path);
    a cell object only where it needs a style: a number with this column's format (one cell reused: a
    write-only sheet writes each row as it is appended), formula-like text as a text cell with the
    quotePrefix style, and text openpyxl would read as an error code ('#N/A') as a text cell."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES

    number = WriteOnlyCell(sheet)
    number.number_format = fmt
    guarded = WriteOnlyCell(sheet)
    guarded.quotePrefix = True
    formatted = fmt != "General"

    def write(value: object) -> object:
        value = _cell_value(value)
        if isinstance(value, str):
            if value.startswith(FORMULA_PREFIXES):
                guarded.value = value
                guarded.data_type = "s"     # never a formula
                return guarded
            if value in ERROR_CODES:
                text = WriteOnlyCell(sheet, value=value)
                text.data_type = "s"
                return text
            return value
        # A whole number shows whole under Excel's General format: only fractions need this column's.
        if value is None or not formatted or (isinstance(value, int) and fmt == "0"):
            return value
        number.value = value
        return number

    return write


def _width(header: str, values: pd.Series) -> int:
    longest = values.astype(str).str.len().max() if len(values) else 0
    return max(MIN_WIDTH, min(MAX_WIDTH, max(len(header), int(0 if pd.isna(longest) else longest)) + 2))


def _marked(sheet, about: ExportAbout) -> None:
    """The printed header of the sheet: the mark on every page it prints on."""
    sheet.oddHeader.left.text = about.mark
    sheet.oddHeader.left.color = RED
    sheet.oddHeader.left.size = 12
    sheet.oddHeader.right.text = "IL-2 Toxicity Monitor quality export: &A, page &P of &N"


def _table_sheet(book, name: str, frame: pd.DataFrame, headers: list[str], formats: list[str],
                 about: ExportAbout) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title=name[:31])
    _marked(sheet, about)
    for i, (header, column) in enumerate(zip(headers, frame.columns), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = _width(header, frame[column])
    sheet.freeze_panes = "A2"
    last = get_column_letter(max(1, len(headers)))
    sheet.auto_filter.ref = f"A1:{last}{len(frame) + 1}"
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    row = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.data_type = "s"
        cell.font, cell.alignment = bold, wrap
        row.append(cell)
    sheet.append(row)
    writers = [_writer(sheet, fmt) for fmt in formats]
    for record in frame.itertuples(index=False, name=None):
        sheet.append([write(value) for write, value in zip(writers, record)])


def _about_sheet(book, about: ExportAbout, tables: Mapping[str, pd.DataFrame], titles: Mapping[str, str]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    sheet = book.create_sheet(title=ABOUT)
    _marked(sheet, about)
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 110
    first = WriteOnlyCell(sheet, value=about.warning)
    first.font = Font(bold=True, size=13, color=RED)
    sheet.append([first])
    title = WriteOnlyCell(sheet, value="IL-2 Toxicity Monitor quality export")
    title.font = Font(bold=True, size=12)
    sheet.append([title])
    for label, value in about.facts():
        sheet.append([label, value])
    sheet.append([])
    sheet.append(["Sheet", "What it holds"])
    for name in tables:
        sheet.append([name[:31], titles.get(name, name)])
    sheet.append([])
    sheet.append(["Reading", "Empty cells are missing values (never zero). Times are days from the course start "
                             "(day 0). The data_dictionary sheet gives each column's unit and meaning, code_labels "
                             "the name of each regimen and alert rule code."])


def to_excel(tables: Mapping[str, pd.DataFrame], docs: Mapping[str, tuple[str, str]], *, dictionary: pd.DataFrame,
             codes: pd.DataFrame, about: ExportAbout, titles: Mapping[str, str]) -> bytes:
    """The workbook (see the module doc); `dictionary` and `codes` as the CSV zip holds them."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    book.properties.title = f"IL-2 quality export ({about.mark})"
    _about_sheet(book, about, tables, titles)
    for name, frame in tables.items():
        _table_sheet(book, name, labels.labelled_values(frame), labels.column_labels(frame.columns),
                     [number_format(c, docs) for c in frame.columns], about)
    for name, frame in (("data_dictionary", dictionary), ("code_labels", codes)):
        _table_sheet(book, name, frame, [c.replace("_", " ").capitalize() for c in frame.columns],
                     ["General"] * len(frame.columns), about)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
