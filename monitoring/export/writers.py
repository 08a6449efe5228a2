"""Writers for the quality export: CSV (zip), Excel and the PDF monthly report, and the audit row of each export.

* Every text cell a spreadsheet could run as a formula (starting with =, +, -, @, tab or carriage
  return) gets a leading apostrophe in the CSV files (OWASP CSV injection;
  monitoring.views.audit.neutralise_formulas); in Excel it is a text cell with the quotePrefix style
  instead (monitoring.export.excel). Numbers stay numbers.
* The CSV zip holds one tidy CSV per table (one row per observation unit, one column per variable,
  the column names and codes a program reads), data_dictionary.csv (each column's readable label,
  unit and meaning: monitoring.export.labels), code_labels.csv (the name of each regimen and alert
  rule code) and a README.txt; empty cells are missing (never zero).
* The Excel workbook: monitoring.export.excel. The PDF: the monthly report
  (monitoring.export.monthly_report).
* Every format says whether it is IDENTIFIABLE or de-identified: the file's name, the zip's README,
  the workbook's first sheet and printed headers, every page of the PDF (monitoring.export.about).
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import pandas as pd
from sqlmodel import Session

from monitoring.export import labels
from monitoring.export.about import ExportAbout
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
DICTIONARY, CODES = "data_dictionary", "code_labels"


class ExportError(ValueError):
    """A table has a column without documentation, or the export cannot be written."""


def _documented(tables: Mapping[str, pd.DataFrame], docs: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """The data dictionary: table, column, label, unit, meaning (refuses an undocumented column)."""
    rows, missing = [], []
    for name, frame in tables.items():
        for column in frame.columns:
            if column not in docs:
                missing.append(f"{name}.{column}")
                continue
            unit, meaning = docs[column]
            rows.append({"table": name, "column": column, "label": labels.column_label(column), "unit": unit,
                         "meaning": meaning})
    if missing:
        raise ExportError(f"undocumented columns: {', '.join(missing)}")
    return pd.DataFrame(rows, columns=["table", "column", "label", "unit", "meaning"])


def code_labels() -> pd.DataFrame:
    """The readable name of every regimen and alert rule code the tables hold (column, code, label)."""
    rows = [("regimen", code, label) for code, label in labels.REGIMEN_LABELS.items()]
    rows += [("rule_id", code, label) for code, label in labels.RULE_LABELS.items()]
    return pd.DataFrame(rows, columns=["column", "code", "label"])


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as written: booleans as true/false, formula-like text neutralised."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].map({True: "true", False: "false"})
    return neutralise_formulas(out)


FILE_STEMS = {"pdf": "il2-quality-report"}   # the PDF is the monthly report; the rest are exports
FILE_STEM = "il2-quality-export"


def filename(fmt: str, now: datetime | None = None, *, identifiable: bool = False, period: str | None = None) -> str:
    """'il2-quality-export-de-identified.zip', 'il2-quality-report-2026-11-de-identified.pdf', or
    'il2-quality-export-IDENTIFIABLE-20261127T1000Z.zip'. A de-identified file carries no export
    time, in its name or inside (issue 16 item 6): with the days from each course's start it would
    date the courses. `period` (for example '2026-11') is put in the name with every character other
    than letters, digits and '-' made '-'."""
    if fmt not in EXTENSIONS:
        raise ExportError(f"format '{fmt}' is not known; accepted: {', '.join(EXTENSIONS)}")
    stem = FILE_STEMS.get(fmt, FILE_STEM)
    if period:
        stem += "-" + "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in period).strip("-")
    if not identifiable:
        return f"{stem}-de-identified.{EXTENSIONS[fmt]}"
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%MZ")
    return f"{stem}-IDENTIFIABLE-{stamp}.{EXTENSIONS[fmt]}"


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

def readme(about: ExportAbout, notes: str = "") -> str:
    """The zip's README.txt: IDENTIFIABLE or de-identified first, then what the export holds."""
    facts = "".join(f"{label}: {value}\n" for label, value in about.facts())
    return (f"{about.warning}\n\nIL-2 Toxicity Monitor quality export ({about.mark}).\n{facts}\n"
            "One CSV per table; data_dictionary.csv gives the readable label, unit and meaning of every column, "
            "code_labels.csv the name of each regimen and alert rule code. Empty cells are missing values (never "
            "zero). Times are days from the course start (day 0). Text cells that a spreadsheet could run as a "
            "formula start with an apostrophe.\n" + (notes + "\n" if notes else ""))


def to_csv_zip(tables: Mapping[str, pd.DataFrame], docs: Mapping[str, tuple[str, str]], *,
               notes: str = "", about: ExportAbout | None = None) -> bytes:
    """One CSV per table plus data_dictionary.csv and code_labels.csv (and README.txt with `notes`), zipped."""
    about = about or ExportAbout()
    dictionary = _documented(tables, docs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, frame in {**tables, DICTIONARY: dictionary, CODES: code_labels()}.items():
            text = _cells(frame).to_csv(index=False, lineterminator="\n")
            _add(archive, f"{name}.csv", text.encode("utf-8"))
        _add(archive, "README.txt", readme(about, notes).encode("utf-8"))
    return buffer.getvalue()


# --- Excel and PDF --------------------------------------------------------------------------------

def to_excel(tables: Mapping[str, pd.DataFrame], docs: Mapping[str, tuple[str, str]], *,
             about: ExportAbout | None = None) -> bytes:
    """The workbook (monitoring.export.excel), its entries dated ZIP_TIME like every zip of the export."""
    from monitoring.export import excel
    from monitoring.export.quality import TABLE_TITLES

    workbook = excel.to_excel(tables, docs, dictionary=_documented(tables, docs), codes=code_labels(),
                              about=about or ExportAbout(), titles=TABLE_TITLES)
    return _timeless(workbook)


def to_pdf(tables: Mapping[str, pd.DataFrame], *, about: ExportAbout, max_course_pages: int | None = None) -> bytes:
    """The monthly report (monitoring.export.monthly_report) of these released tables."""
    from monitoring.export.monthly_report import MAX_COURSE_PAGES, monthly_report_pdf

    return monthly_report_pdf(tables, about, max_course_pages=MAX_COURSE_PAGES if max_course_pages is None
                              else max_course_pages)


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


def render(tables: Mapping[str, pd.DataFrame], fmt: str, *, docs: Mapping[str, tuple[str, str]], synthetic: bool,
           deidentified: bool, filters_text: str = "", period_text: str | None = None, wards_text: str | None = None,
           regimens_text: str | None = None, key_generation: int | None = None) -> bytes:
    """The export in one of the table formats (csv, xlsx, pdf); FHIR formats go through render_fhir.

    period_text: the period in words ("November 2026"); key_generation: the generation of the pseudonym
    key the tables were made with. Both are stated in every format; None says "not stated" / "not recorded".
    """
    about = ExportAbout(identifiable=not deidentified, synthetic=synthetic, period_text=period_text,
                        wards_text=wards_text, regimens_text=regimens_text, key_generation=key_generation)
    if fmt == "csv":
        return to_csv_zip(tables, docs, notes=filters_text, about=about)
    if fmt == "xlsx":
        return to_excel(tables, docs, about=about)
    if fmt == "pdf":
        return to_pdf(tables, about=about)
    raise ExportError(f"format '{fmt}' is not a table format; accepted: {', '.join(TABLE_FORMATS)} "
                      f"(FHIR formats {', '.join(FHIR_FORMATS)} go through render_fhir)")
