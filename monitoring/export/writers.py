"""Writers for the quality export: CSV (zip), Excel and PDF, and the audit row of each export.

* Every text cell a spreadsheet could run as a formula (starting with =, +, -, @, tab or carriage
  return) gets a leading apostrophe (OWASP CSV injection; monitoring.views.audit.neutralise_formulas), in
  the CSV files and in the Excel cells alike. Numbers stay numbers.
* The CSV zip holds one tidy CSV per table (one row per observation unit, one column per
  variable, units in data_dictionary.csv) and a README.txt; empty cells are missing (never zero).
* The Excel workbook has a sheet per table (and one for the data dictionary), the header frozen,
  widths set, and the unit in each header ("patient_days (days)").
* The PDF has the cohort summary with its charts, then one page per course (at most
  MAX_COURSE_PAGES, the rest named in the note), every page marked "Synthetic data" when the data
  are synthetic and "De-identified" when they are. It is written uncompressed and invariant
  (same input, same bytes) so its text can be searched and tested.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import pandas as pd
from sqlmodel import Session

from monitoring.services import auth
from monitoring.store.repository import write_audit
from monitoring.views.audit import neutralise_formulas

TABLE_FORMATS = ("csv", "xlsx", "pdf")  # written from the summary tables (render)
# FHIR R4 formats are built from the store by monitoring.export.fhir (render_fhir).
FHIR_FORMATS = {"fhir": "bundle", "ndjson": "ndjson"}
FORMATS = (*TABLE_FORMATS, *FHIR_FORMATS)
MEDIA_TYPES = {"csv": "application/zip", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "pdf": "application/pdf", "fhir": "application/fhir+json", "ndjson": "application/fhir+ndjson"}
EXTENSIONS = {"csv": "zip", "xlsx": "xlsx", "pdf": "pdf", "fhir": "fhir.json", "ndjson": "ndjson"}
MAX_COURSE_PAGES = 50
MAX_EXCEL_WIDTH = 60
DICTIONARY = "data_dictionary"


class ExportError(ValueError):
    """A table has a column without documentation, or the export cannot be written."""


def _documented(tables: Mapping[str, pd.DataFrame], docs: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """The data dictionary: table, column, unit, meaning (refuses an undocumented column)."""
    rows, missing = [], []
    for name, frame in tables.items():
        for column in frame.columns:
            if column not in docs:
                missing.append(f"{name}.{column}")
                continue
            unit, meaning = docs[column]
            rows.append({"table": name, "column": column, "unit": unit, "meaning": meaning})
    if missing:
        raise ExportError(f"undocumented columns: {', '.join(missing)}")
    return pd.DataFrame(rows, columns=["table", "column", "unit", "meaning"])


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as written: booleans as true/false, formula-like text neutralised."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].map({True: "true", False: "false"})
    return neutralise_formulas(out)


def filename(fmt: str, now: datetime | None = None, *, identifiable: bool = False) -> str:
    """'il2-quality-export-deidentified.zip', or 'il2-quality-export-IDENTIFIABLE-20261127T1000Z.zip'.
    A de-identified file carries no export time, in its name or inside (issue 16 item 6): with the
    days from each course's start it would date the courses."""
    if not identifiable:
        return f"il2-quality-export-deidentified.{EXTENSIONS[fmt]}"
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%MZ")
    return f"il2-quality-export-IDENTIFIABLE-{stamp}.{EXTENSIONS[fmt]}"


# Every file inside a zip (the CSV archive, the xlsx package) is dated this, not the export time.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
OFFICE_TIME = "2000-01-01T00:00:00Z"


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = archive.compression
    archive.writestr(info, data, compresslevel=1)


def _timeless(package: bytes) -> bytes:
    """The same zip package (an xlsx) with every entry dated ZIP_TIME and the document's created and
    modified properties (docProps/core.xml) set to OFFICE_TIME."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                for element in (b"dcterms:created", b"dcterms:modified"):
                    data = _element_text(data, element, OFFICE_TIME.encode())
            _add(target, item.filename, data)
    return out.getvalue()


def _element_text(xml: bytes, element: bytes, text: bytes) -> bytes:
    """`xml` with the text of its first <element ...>...</element> replaced by `text`."""
    start = xml.find(b"<" + element)
    opened = xml.find(b">", start) + 1 if start >= 0 else -1
    closed = xml.find(b"</" + element + b">", opened) if opened > 0 else -1
    return xml if closed < 0 else xml[:opened] + text + xml[closed:]


# --- CSV -----------------------------------------------------------------------------------------

def to_csv_zip(tables: Mapping[str, pd.DataFrame], docs: Mapping[str, tuple[str, str]], *,
               notes: str = "") -> bytes:
    """One CSV per table plus data_dictionary.csv (and README.txt with `notes`), zipped."""
    dictionary = _documented(tables, docs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, frame in {**tables, DICTIONARY: dictionary}.items():
            text = _cells(frame).to_csv(index=False, lineterminator="\n")
            _add(archive, f"{name}.csv", text.encode("utf-8"))
        _add(archive, "README.txt", (
            "IL-2 Toxicity Monitor quality export. One CSV per table; data_dictionary.csv gives the unit and "
            "meaning of every column. Empty cells are missing values (never zero). Times are days from the "
            "course start (day 0). Text cells that a spreadsheet could run as a formula start with an "
            "apostrophe.\n" + (notes + "\n" if notes else "")).encode("utf-8"))
    return buffer.getvalue()


# --- Excel ---------------------------------------------------------------------------------------

def _header(column: str, docs: Mapping[str, tuple[str, str]]) -> str:
    unit = docs.get(column, ("", ""))[0]
    return f"{column} ({unit})" if unit else column


def to_excel(tables: Mapping[str, pd.DataFrame], docs: Mapping[str, tuple[str, str]]) -> bytes:
    """A workbook: a sheet per table and the data dictionary; frozen header with units, set widths."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    dictionary = _documented(tables, docs)
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, frame in {**tables, DICTIONARY: dictionary}.items():
        sheet = book.create_sheet(title=name[:31])
        headers = [_header(c, docs) if name != DICTIONARY else c for c in frame.columns]
        cells = _cells(frame)
        for i, (header, column) in enumerate(zip(headers, cells.columns), start=1):
            longest = cells[column].astype(str).str.len().max() if len(cells) else 0
            width = min(MAX_EXCEL_WIDTH, max(len(header), int(0 if pd.isna(longest) else longest)) + 2)
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A2"
        row = []
        for header in headers:
            cell = WriteOnlyCell(sheet, value=header)
            cell.font = bold
            row.append(cell)
        sheet.append(row)
        # Missing stays an empty cell; numpy scalars become Python values openpyxl can write.
        values = cells.astype(object).where(cells.notna(), None)
        for record in values.itertuples(index=False, name=None):
            sheet.append([v.item() if hasattr(v, "item") else v for v in record])
    buffer = io.BytesIO()
    book.save(buffer)
    return _timeless(buffer.getvalue())


# --- PDF -----------------------------------------------------------------------------------------

def _bar_chart(labels: list[str], values: list[float], *, title: str, value_max: float | None = None,
               width: float = 460, height: float = 190):
    """A horizontal-label bar chart drawn with reportlab.graphics (vector, no image files)."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, title, fontName="Helvetica-Bold", fontSize=9))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 55, width - 60, height - 80
    chart.data = [[0 if pd.isna(v) else float(v) for v in values] or [0]]
    chart.categoryAxis.categoryNames = labels or ["(none)"]
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    top = value_max if value_max is not None else max([0, *chart.data[0]])
    chart.valueAxis.valueMax = top if top > 0 else 1
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#4C72B0")
    drawing.add(chart)
    return drawing


def _pdf_table(frame: pd.DataFrame, *, max_rows: int = 40, font_size: float = 6.5):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    shown = frame.head(max_rows)
    data = [list(shown.columns)] + [["" if pd.isna(v) else str(v) for v in row]
                                    for row in shown.itertuples(index=False, name=None)]
    table = Table(data, repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Helvetica", font_size),
                               ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", font_size),
                               ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8E8E8")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def to_pdf(tables: Mapping[str, pd.DataFrame], *, title: str, synthetic: bool, deidentified: bool,
           filters_text: str = "", max_course_pages: int = MAX_COURSE_PAGES) -> bytes:
    """Cohort summary (monitoring performance, counts, grade and alert charts) then a page per course."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    from monitoring.export.quality import GRADE_COLUMNS, ORGAN_SYSTEMS, TABLE_TITLES

    marks = " · ".join(m for m, on in (("Synthetic data", synthetic), ("De-identified", deidentified)) if on)
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    page_size = landscape(A4)

    def decorate(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 9)
        canvas.drawString(15 * mm, page_size[1] - 10 * mm, marks or "IDENTIFIABLE: handle as patient records")
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(page_size[0] - 15 * mm, 8 * mm, f"{title} · page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(buffer, pagesize=page_size, title=title, invariant=1, pageCompression=0,
                            leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    story = [Paragraph(title, styles["Title"])]
    if filters_text:
        story.append(Paragraph(filters_text, styles["Normal"]))
    courses = tables["courses"]
    story.append(Paragraph(f"{len(courses)} courses. Times are days from the course start (day 0). "
                           "ICU transfer is not recorded in this system.", styles["Normal"]))
    story.append(Spacer(1, 4 * mm))
    story += [Paragraph(TABLE_TITLES["monitoring"], styles["Heading3"]), _pdf_table(tables["monitoring"])]
    grade3 = [(courses[c] >= 3).sum() for c in GRADE_COLUMNS] if len(courses) else [0] * len(GRADE_COLUMNS)
    story.append(_bar_chart(list(ORGAN_SYSTEMS), [float(v) for v in grade3],
                            title="Courses with CTCAE grade 3 or more, per organ system"))
    rules = tables["alerts_by_rule"]
    story.append(_bar_chart(rules["rule_id"].astype(str).tolist(), rules["alerts_per_patient_day"].tolist(),
                            title="Alerts per patient-day, by rule"))
    story.append(PageBreak())
    counts = tables["cohort_counts"]
    story += [Paragraph(TABLE_TITLES["cohort_counts"], styles["Heading3"]),
              _pdf_table(counts[counts["regimen"] == "all"]),
              Paragraph(TABLE_TITLES["alerts_by_rule"], styles["Heading3"]), _pdf_table(rules)]
    for ref, course in list(courses.groupby("course_ref", sort=True))[:max_course_pages]:
        row = course.iloc[0]
        story.append(PageBreak())
        story.append(Paragraph(f"Course {ref}", styles["Heading2"]))
        facts = pd.DataFrame({"measure": [c for c in courses.columns if c not in GRADE_COLUMNS],
                              "value": [row[c] for c in courses.columns if c not in GRADE_COLUMNS]})
        story.append(_pdf_table(facts, max_rows=60))
        story.append(_bar_chart(list(ORGAN_SYSTEMS), [row[c] for c in GRADE_COLUMNS], value_max=4,
                                title="Highest CTCAE grade per organ system (empty = not graded)"))
        episodes = tables["episodes"]
        mine = episodes[episodes["course_ref"] == ref]
        if len(mine):
            story += [Paragraph(TABLE_TITLES["episodes"], styles["Heading4"]), _pdf_table(mine)]
    if len(courses) > max_course_pages:
        story += [PageBreak(), Paragraph(f"Course pages shown for the first {max_course_pages} of {len(courses)} "
                                         "courses (by course reference); every course is in the CSV and Excel "
                                         "exports.", styles["Normal"])]
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


# --- permission and audit ------------------------------------------------------------------------

def authorise(role: str | None, *, identifiable: bool) -> None:
    """Raise auth.PermissionDenied unless the role may export (identifiable: export_identifiable)."""
    auth.require(role, "view_reports")
    if identifiable:
        auth.require(role, "export_identifiable")


def record_export(*, session: Session, username: str, fmt: str, filters: dict, identifiable: bool,
                  rows: int, os_user: str | None = None, confirmed: bool | None = None) -> None:
    """One audit row per export: who, the format, the filters and the row count; identifiable ones flagged.
    From the command line also the operating-system user and whether the account's password confirmed it."""
    cli = {"os_user": os_user, "password_confirmed": bool(confirmed)} if os_user is not None else {}
    write_audit(session=session, username=username,
                action="export-identifiable" if identifiable else "export", entity="quality-export",
                after={"format": fmt, "filters": filters, "identifiable": bool(identifiable), "rows": int(rows), **cli})


def for_release(tables: Mapping[str, pd.DataFrame], *, identifiable: bool) -> dict[str, pd.DataFrame]:
    """The tables as they may leave the system: identifiable ones as they are (an oncologist's, audited);
    de-identified ones only for a selection of at least k courses, with small cells withheld
    (monitoring.export.small_cells). Raises ExportError naming the rule when the selection is too small."""
    from monitoring.export import small_cells
    if identifiable:
        return dict(tables)
    too_few = small_cells.too_few_courses(dict(tables))
    if too_few:
        raise ExportError(too_few)
    return small_cells.suppress(dict(tables))


def render_fhir(*, session, fmt: str, filters, export_key: str, identifiable: bool,
                course_ids: Sequence[int] | None = None) -> bytes:
    """A FHIR R4 export (Bundle or ndjson) of the courses `filters` (a quality.QualityFilter) selects, each
    course whole (a registry loads records, not a period's slice of them); `course_ids`: that selection,
    when the caller has it already (quality.selected_course_ids)."""
    from monitoring.export.fhir import fhir_export_bytes
    from monitoring.export.quality import selected_course_ids

    ids = selected_course_ids(session=session, filters=filters) if course_ids is None else course_ids
    return fhir_export_bytes(session=session, export_key=export_key, identifiable=identifiable,
                             fmt=FHIR_FORMATS[fmt], course_ids=ids)


def render(tables: Mapping[str, pd.DataFrame], fmt: str, *, docs: Mapping[str, tuple[str, str]], title: str,
           synthetic: bool, deidentified: bool, filters_text: str = "") -> bytes:
    """The export in one of the table formats (csv, xlsx, pdf); FHIR formats go through render_fhir."""
    if fmt == "csv":
        return to_csv_zip(tables, docs, notes=filters_text)
    if fmt == "xlsx":
        return to_excel(tables, docs)
    if fmt == "pdf":
        return to_pdf(tables, title=title, synthetic=synthetic, deidentified=deidentified,
                      filters_text=filters_text)
    raise ExportError(f"format '{fmt}' is not a table format; accepted: {', '.join(TABLE_FORMATS)} "
                      f"(FHIR formats {', '.join(FHIR_FORMATS)} go through render_fhir)")
