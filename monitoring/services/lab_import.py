"""Lab results import: check a laboratory export row by row, then store the good rows (or nothing).

The file is the long format of the CLI (monitoring.clinical.inputs), as the laboratory system writes it:

=========== ======== ================================================================================
column      required meaning
=========== ======== ================================================================================
patient_id  yes      the hospital record number (MRN), as the laboratory system knows the patient
time        yes      ISO 8601 date and time WITH a zone (specimen time), e.g. 2026-03-02T08:00:00Z
code        yes      a laboratory code of the catalogue (LAB_CODES)
value       yes      the result, a plain number with a decimal point
unit        no       UCUM unit or its label (e.g. umol/L or µmol/L); empty = the canonical unit
ref_low     no       the laboratory's lower reference limit, in the unit of the value
ref_high    no       the laboratory's upper reference limit, in the unit of the value
=========== ======== ================================================================================

Other columns (e.g. the CLI's baseline, or a patient name) are ignored and listed as such.

Two steps, so the user sees everything before anything is saved:

* `check_import` reads no more than it needs and writes nothing. Every data row gets a status: ok,
  error (every problem of the row, each naming the column, the value, the unit and what is
  accepted: the catalogue's and `read_long_frame`'s own messages) or duplicate (the same result was
  already imported, or appears earlier in the same file). It never stops at the first error.
* `commit_import` stores the ok rows through `repository.add_observations_bulk` (source
  "lab-import", canonical units, the laboratory's reference range converted alike, the value and
  unit as the laboratory wrote them), writes one "lab-import" audit row with the counts and
  re-evaluates the alerts of the patients concerned. Mode "all-or-nothing" refuses the whole file
  when any row has an error; "good-rows" imports the ok rows and skips the others.

A result already imported is a duplicate even when it was since corrected or marked entered in
error: importing the file again never brings a withdrawn value back.

A laboratory correction (the same record number, code and specimen time as a result imported
before, with another value) is status "correction": it is stored as an amendment that supersedes the
earlier result (repository.correct_imported_result), so the patient's record holds one current value
and the earlier one stays in the history with who imported it and when; the reason names the file.
Two different values for the same test and time within one file are an error: the file does not say
which is right.

Identity of a result (so that a file imported twice stores each result once): `import_key`, the
first 32 hex digits of SHA-256 over (record number, code, time in UTC, value in the canonical unit to
KEY_SIGNIFICANT_DIGITS significant digits, canonical unit). The same result sent in another unit
(88 µmol/L and 0.995475 mg/dL) therefore has the same identity. Observation.import_key is unique in
the database, so even two imports racing each other cannot store a result twice.

Size: `read_csv_chunks` reads a file CHUNK_ROWS rows at a time as text (csv module, line by line)
and stops as soon as it passes MAX_IMPORT_ROWS data rows, so an oversized file is refused without
being parsed to the end, and validation works on one chunk at a time. (The dashboard's uploader
already holds the uploaded bytes in memory, up to Streamlit's server.maxUploadSize, 200 MB by
default; the chunks bound the parsed frames and the validation, not the upload.) Measured on the
limit, 200,000 rows for 50 patients: checking takes about 6 s and storing about 20 s on SQLite,
most of it the insert and the alert re-evaluation of every result of those patients. 200,000 rows is
about a month of full blood counts and chemistry for a busy ward, far above one day's laboratory
export, and keeps the preview (one table
row per data row, kept in the user's session) responsive; a larger file is refused with a message
asking to split it, by date for example.
"""
from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import IO, Any

import numpy as np
import pandas as pd
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from monitoring.clinical.catalogue import Catalogue, default_catalogue
from monitoring.clinical.code_lists import LABS
from monitoring.clinical.inputs import REQUIRED_COLUMNS, entry_limits, read_long_frame
from monitoring.errors import InputError, RecordError
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.models import Alert, Observation, Patient, PatientIdentity, TreatmentCourse, Ward
from monitoring.store.repository import write_audit
from monitoring.timefmt import local_text

# Codes a laboratory reports: blood counts, liver and kidney chemistry, electrolytes, lactate, CRP.
# Vital signs, fluid balance, weight and nurse-graded symptoms are entered at the bedside.
LAB_CODES: tuple[str, ...] = LABS   # the catalogue category "lab" (monitoring.clinical.code_lists)
IMPORT_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + ("unit", "ref_low", "ref_high")
MODES: dict[str, str] = {
    "good-rows": "Import the good rows, skip the others",
    "all-or-nothing": "Import nothing unless every row is good",
}
SOURCE = "lab-import"
CHUNK_ROWS = 50_000
MAX_IMPORT_ROWS = 200_000
# A laboratory row is a few hundred characters; a longer line is not a laboratory export (one
# 100 MB line of commas would otherwise be read, and split into cells, whole).
MAX_LINE_CHARS = 10_000
# A chunk is also cut after this many characters, so long (but allowed) lines keep it bounded.
CHUNK_CHARS = 16_000_000
KEY_SIGNIFICANT_DIGITS = 9
STATUSES = ("ok", "correction", "error", "duplicate")
STORED_STATUSES = ("ok", "correction")  # rows an import stores
REPORT_COLUMNS = ["row", "status", "patient_id", "time", "code", "value", "unit", "ref_low", "ref_high",
                  "column", "message"]
RECORD_COLUMNS = ["row", "mrn", "patient_id", "observed_at", "code", "value_num", "unit", "ref_low", "ref_high",
                  "original_value", "original_unit", "import_key", "supersedes_id"]
_KEY_BATCH = 2_000  # import keys looked up per query (well under SQLite's 32,766 bound parameters)
_SET_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "il2-monitor:lab-import")


@dataclass
class ImportPreview:
    """What an import would do, row by row. Nothing has been written.

    `report` has one row per data row of the file (REPORT_COLUMNS: the cells as written, status ok /
    error / duplicate, the column(s) at fault and the message). `records` holds the ok rows ready to
    store (RECORD_COLUMNS, canonical units, UTC).
    """

    report: pd.DataFrame
    records: pd.DataFrame
    file_name: str | None = None
    ignored_columns: tuple[str, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        found = self.report["status"].value_counts()
        return {status: int(found.get(status, 0)) for status in STATUSES}

    @property
    def total(self) -> int:
        return len(self.report)

    @property
    def storable(self) -> int:
        """Rows an import would store: new results and laboratory corrections."""
        counts = self.counts
        return sum(counts[s] for s in STORED_STATUSES)


@dataclass
class ImportResult:
    """What an import stored: counts, the patients concerned and the alerts their re-evaluation raised."""

    imported: int
    duplicates: int
    refused: int
    mode: str
    corrected: int = 0
    file_name: str | None = None
    patient_ids: list[int] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)
    new_alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        results = "result" if self.imported == 1 else "results"
        patients = "patient" if len(self.patient_ids) == 1 else "patients"
        corrections = (f" ({self.corrected} of them laboratory corrections of earlier results)"
                       if self.corrected else "")
        return (f"Imported {self.imported} {results}{corrections} for {len(self.patient_ids)} {patients}; "
                f"skipped {self.duplicates} already imported, {self.refused} refused.")


# --- reading ---------------------------------------------------------------------------------------

LINE_PROBLEM = "_line_problem"  # column read_csv_chunks adds for lines that do not fit the header


def _text_stream(stream: str | IO) -> tuple[IO[str], bool]:
    """A text stream (UTF-8, byte-order mark dropped) over a path or a text or binary file; and
    whether it was opened here (and must be closed here)."""
    if isinstance(stream, str):
        return open(stream, encoding="utf-8-sig", newline=""), True
    if isinstance(stream, io.TextIOBase):
        return stream, False
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), False


def _bounded_lines(text: IO[str], limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The lines of `text`, refusing (InputError) a line longer than `limit` characters before it is
    read whole."""
    number = 0
    while line := text.readline(limit + 1):
        number += 1
        if len(line.rstrip("\r\n")) > limit:
            raise InputError([(None, None, f"Line {number:,} of the file is longer than {limit:,} characters: "
                                           "this is not a laboratory results file (one result per line).")])
        if "\x00" in line:  # binary, or UTF-16 read as UTF-8; PostgreSQL refuses NUL in text
            raise InputError([(None, None, f"Line {number:,} of the file contains a NUL character: it is not UTF-8 "
                                           "text (save it as 'CSV UTF-8').")])
        yield line


def read_csv_chunks(stream: str | IO, chunk_rows: int = CHUNK_ROWS, max_rows: int = MAX_IMPORT_ROWS
                    ) -> Iterator[pd.DataFrame]:
    """The CSV `stream` (path, text or binary file) as frames of at most `chunk_rows` rows of text.

    Read with the csv module one line at a time, so the file is never parsed whole. Cells are kept
    as written (no type guessing: record number 007 stays 007; an empty cell is missing, "NA" is text
    the checks will name). A line with more cells than the header (a decimal comma, say) is not a
    reason to refuse the file: it is kept, and column LINE_PROBLEM says what is wrong with it; a
    line with fewer cells has the rest missing. Raises InputError when the file is not UTF-8 CSV,
    has no header, a line longer than MAX_LINE_CHARS or more than `max_rows` data rows (reading
    stops at the first row over the limit). A chunk also ends after CHUNK_CHARS characters.
    """
    text, opened = _text_stream(stream)
    try:
        reader = csv.reader(_bounded_lines(text))
        try:
            header = next(reader, None)
            while header is not None and not any(cell.strip() for cell in header):
                header = next(reader, None)
            if header is None:
                raise InputError([(None, None, "The file is empty: it has no header row and no data.")])
            names = [cell.strip() for cell in header]
            while names and not names[-1]:
                names.pop()
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise InputError([(None, c, f"column '{c}' appears more than once in the header row")
                                  for c in repeated])
            width, seen, lines, size = len(names), 0, [], 0
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue  # blank line
                seen += 1
                if seen > max_rows:
                    raise InputError([(None, None, f"The file has more than {max_rows:,} data rows; import at most "
                                                   f"{max_rows:,} rows at a time (split the file, by date for "
                                                   "example).")])
                # Keep the header's cells and whether more followed (not the extra cells themselves).
                extra = len(cells) if any(c.strip() for c in cells[width:]) else 0
                lines.append((cells[:width], extra))
                size += sum(map(len, cells[:width]))
                if len(lines) == chunk_rows or size >= CHUNK_CHARS:
                    yield _chunk(lines, names, width)
                    lines, size = [], 0
            if lines or seen == 0:
                yield _chunk(lines, names, width)
        except (UnicodeDecodeError, csv.Error) as exc:
            reason = ("it is not UTF-8 text (save it as 'CSV UTF-8')" if isinstance(exc, UnicodeDecodeError)
                      else str(exc))
            raise InputError([(None, None, f"The file cannot be read as CSV: {reason}.")]) from None
    finally:
        if opened:
            text.close()
        elif isinstance(text, io.TextIOWrapper) and text is not stream:
            text.detach()  # leave the caller's binary stream open


def _chunk(lines: list[tuple[list[str], int]], names: list[str], width: int) -> pd.DataFrame:
    """A frame of text from (the header's cells of a line, the line's cell count when it had more)."""
    problems: list[str | None] = []
    fitted = []
    for cells, extra in lines:
        problems.append(None if not extra else
                        f"this line has {extra} cells where the header has {width}: a comma inside a value? "
                        "Write numbers with a decimal point (3.5, not 3,5) or put the value in quotes")
        fitted.append(cells + [""] * (width - len(cells)))
    columns = list(zip(*fitted)) if fitted else [()] * width
    frame = pd.DataFrame({name: pd.array([v if v.strip() else None for v in column], dtype="str")
                          for name, column in zip(names, columns)})
    frame[LINE_PROBLEM] = pd.array(problems, dtype="str")
    return frame


# --- checking --------------------------------------------------------------------------------------

def _text(series: pd.Series) -> pd.Series:
    """Each cell as written, stripped ("" where empty), as object strings; whole floats without '.0'."""
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(series.dtype):
        return series.fillna("").str.strip().astype(object)
    out = series.astype(object).where(series.notna(), "")
    return out.map(lambda v: v.strip() if isinstance(v, str) else _number_text(v)).astype(object)


def _number_text(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _key_number(value: float) -> str:
    return f"{value:.{KEY_SIGNIFICANT_DIGITS}g}"


def import_keys(mrn: Sequence[str], code: Sequence[str], time: pd.Series, value: Sequence[float],
                unit: Sequence[str]) -> list[str]:
    """The identity of each result: sha256(mrn, code, UTC time, canonical value, canonical unit)[:32]."""
    times = pd.to_datetime(pd.Series(time), utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").tolist()
    columns = [pd.Series(c).tolist() for c in (mrn, code, value, unit)]  # plain lists: fast to iterate
    return [hashlib.sha256("\x1f".join((m, c, t, _key_number(v), u)).encode()).hexdigest()[:32]
            for m, c, t, v, u in zip(columns[0], columns[1], times, columns[2], columns[3])]


def imported_keys(*, session: Session, keys: Iterable[str]) -> dict[str, tuple[datetime, str]]:
    """Which of these import keys are stored already: key -> (recorded_at, recorded_by)."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, tuple[datetime, str]] = {}
    for start in range(0, len(keys), _KEY_BATCH):
        batch = keys[start:start + _KEY_BATCH]
        query = select(Observation.import_key, Observation.recorded_at, Observation.recorded_by).where(
            Observation.import_key.in_(batch))
        for key, recorded_at, recorded_by in session.execute(query).all():
            found[key] = (recorded_at, recorded_by)
    return found


def _patients(*, session: Session, mrns: Iterable[str]) -> dict[str, tuple[int, int | None]]:
    """mrn -> (patient id, ward id) for the record numbers known on this system."""
    mrns = [m for m in dict.fromkeys(mrns) if m]
    found: dict[str, tuple[int, int | None]] = {}
    for start in range(0, len(mrns), _KEY_BATCH):
        query = (select(PatientIdentity.mrn, Patient.id, Patient.ward_id)
                 .join(Patient, Patient.id == PatientIdentity.patient_id)
                 .where(PatientIdentity.mrn.in_(mrns[start:start + _KEY_BATCH])))
        for mrn, patient_id, ward_id in session.execute(query).all():
            found[mrn] = (patient_id, ward_id)
    return found


class _Problems:
    """Problems per row position of one chunk, in the order found."""

    def __init__(self, n: int) -> None:
        self.columns: list[list[str]] = [[] for _ in range(n)]
        self.messages: list[list[str]] = [[] for _ in range(n)]

    def add(self, position: int, column: str, message: str) -> None:
        if column not in self.columns[position]:
            self.columns[position].append(column)
        self.messages[position].append(message)

    def bad(self) -> np.ndarray:
        return np.array([bool(m) for m in self.messages], dtype=bool)


@dataclass
class _State:
    """What carries from one chunk to the next: row numbering and the keys seen in the file."""

    catalogue: Catalogue
    tz: tzinfo
    now: datetime
    ward_ids: set[int] | None
    ward_names: str
    next_row: int = 1
    seen: dict[str, int] = field(default_factory=dict)
    # (record number, code, UTC time) -> (row, value as written) of the results kept so far.
    slots: dict[tuple[str, str, str], tuple[int, str]] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()


def _check_chunk(*, session: Session, frame: pd.DataFrame, state: _State) -> tuple[pd.DataFrame, pd.DataFrame]:
    line_problems = frame[LINE_PROBLEM] if LINE_PROBLEM in frame.columns else None
    frame = frame.drop(columns=[LINE_PROBLEM], errors="ignore")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        found = ", ".join(str(c) for c in frame.columns) or "none"
        raise InputError([(None, c, f"required column '{c}' is missing (columns found: {found}); the first line "
                                    "of the file must name the columns, separated by commas") for c in missing])
    state.ignored = tuple(str(c) for c in frame.columns if c not in IMPORT_COLUMNS)
    data = frame[[c for c in IMPORT_COLUMNS if c in frame.columns]].reset_index(drop=True)
    n = len(data)
    rows = np.arange(state.next_row, state.next_row + n)
    state.next_row += n
    problems = _Problems(n)
    shown = {c: (_text(data[c]) if c in data.columns else pd.Series([""] * n, dtype=object))
             for c in IMPORT_COLUMNS}
    mrns = _text(data["patient_id"])

    # 1. Format and catalogue checks of every row (the CLI's own validation and messages).
    try:
        read_long_frame(data, catalogue=state.catalogue)
    except InputError as exc:
        for row, column, message in exc.problems:
            problems.add(int(row) - 1, column or "", message)

    # 2. Only laboratory results come in this way.
    catalogue = state.catalogue
    for position in np.flatnonzero(shown["code"].isin([c for c in catalogue.codes() if c not in LAB_CODES])):
        code = shown["code"].iat[position]
        problems.add(position, "code", f"'{code}' ({catalogue[code].label}) is not a laboratory result; enter it "
                                       "on the observations page")

    # 3. The patient must be known here (and on the user's wards, when given).
    patients = _patients(session=session, mrns=mrns)
    patient_of = np.full(n, -1, dtype=np.int64)
    for position, mrn in enumerate(mrns):
        if not mrn:
            continue
        known = patients.get(mrn)
        if known is None:
            problems.add(position, "patient_id", f"No patient with record number {mrn} on this system")
        elif state.ward_ids is not None and known[1] not in state.ward_ids:
            problems.add(position, "patient_id", f"The patient with record number {mrn} is not on your wards "
                                                 f"({state.ward_names}); results of other wards are imported by "
                                                 "their staff")
        else:
            patient_of[position] = known[0]

    # A line with more cells than the header: its cells are shifted, so only that is reported.
    if line_problems is not None:
        for position in np.flatnonzero(line_problems.notna().to_numpy()):
            problems.columns[position], problems.messages[position] = [], []
            problems.add(position, "line", str(line_problems.iat[position]))

    # 4. The rows without problems, typed and in canonical units; results from the future are refused.
    good = np.flatnonzero(~problems.bad())
    typed = read_long_frame(data.iloc[good], catalogue=catalogue) if len(good) else None
    if typed is not None:
        future = (typed["time"] > pd.Timestamp(state.now + entry_limits().future_tolerance)).to_numpy()
        for position in good[future]:
            problems.add(position, "time", f"time '{shown['time'].iat[position]}' is in the future; "
                                           "check the date, the time and the zone")
        typed, good = typed[~future], good[~future]

    status = np.where(problems.bad(), "error", "ok").astype(object)
    message = np.array(["; ".join(text.rstrip(".") for text in m) for m in problems.messages], dtype=object)
    records = pd.DataFrame(columns=RECORD_COLUMNS)
    if typed is not None and len(typed):
        records = pd.DataFrame({
            "row": rows[good], "mrn": mrns.iloc[good].to_numpy(), "patient_id": patient_of[good],
            "observed_at": typed["time"].to_numpy(), "code": typed["code"].astype(object).to_numpy(),
            "value_num": typed["value_num"].to_numpy(dtype=float),
            "unit": typed["unit"].astype(object).to_numpy(),
            "ref_low": typed["ref_low_c"].to_numpy(dtype=float), "ref_high": typed["ref_high_c"].to_numpy(dtype=float),
            "original_value": shown["value"].iloc[good].to_numpy(),
            "original_unit": typed["unit_in"].astype(object).to_numpy(),
        })
        records["observed_at"] = pd.to_datetime(records["observed_at"], utc=True)
        records["import_key"] = import_keys(records["mrn"], records["code"], records["observed_at"],
                                            records["value_num"], records["unit"])
        # 5. Duplicates: earlier in this file, or imported before.
        stored = imported_keys(session=session, keys=records["import_key"])
        keep = np.ones(len(records), dtype=bool)
        when: dict[tuple[datetime, str], str] = {}  # one message per earlier import, not per row
        for i, (position, row, key) in enumerate(zip(good.tolist(), records["row"].tolist(),
                                                     records["import_key"].tolist())):
            if key in state.seen:
                status[position] = "duplicate"
                message[position] = f"same result as row {state.seen[key]} of this file; imported once"
                keep[i] = False
            elif key in stored:
                earlier = stored[key]
                if earlier not in when:
                    when[earlier] = (f"already imported on {local_text(earlier[0], state.tz, '%d %b %Y %H:%M')} "
                                     f"by {earlier[1]}")
                status[position] = "duplicate"
                message[position] = when[earlier]
                keep[i] = False
                state.seen[key] = int(row)
            else:
                state.seen[key] = int(row)
        records = records[keep].reset_index(drop=True)
        good = good[keep]
        # 6. The same test and time as another result: a second value in this file is an error; a
        # result imported before with another value is a laboratory correction.
        records, good = _corrections(session=session, records=records, good=good, status=status,
                                     message=message, problems=problems, state=state)

    report = pd.DataFrame({
        "row": rows, "status": status, "patient_id": mrns.to_numpy(), "time": shown["time"].to_numpy(),
        "code": shown["code"].to_numpy(), "value": shown["value"].to_numpy(), "unit": shown["unit"].to_numpy(),
        "ref_low": shown["ref_low"].to_numpy(), "ref_high": shown["ref_high"].to_numpy(),
        "column": [", ".join(c) for c in problems.columns], "message": message,
    })
    return report, records


def _slot_times(times: pd.Series) -> list[str]:
    return pd.to_datetime(times, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").tolist()


def _stored_results(*, session: Session, records: pd.DataFrame) -> dict[tuple[int, str, str], dict[str, Any]]:
    """The current (not superseded, not withdrawn) results at the records' patients, codes and times,
    imported or recorded at the bedside (two different values for one code and time cannot both
    stand: the engine refuses them): (patient id, code, UTC time) -> the stored row's id, value as
    written, source, who and when."""
    if records.empty:
        return {}
    newer = aliased(Observation)
    found: dict[tuple[int, str, str], dict[str, Any]] = {}
    patient_ids = sorted(int(p) for p in records["patient_id"].unique())
    codes = sorted(records["code"].unique().tolist())
    start, end = records["observed_at"].min(), records["observed_at"].max()
    for first in range(0, len(patient_ids), _KEY_BATCH):
        query = (select(Observation.id, Observation.patient_id, Observation.code, Observation.observed_at,
                        Observation.value_num, Observation.unit, Observation.original_value,
                        Observation.original_unit, Observation.recorded_at, Observation.recorded_by,
                        Observation.source)
                 .where(Observation.status != "entered-in-error",
                        Observation.patient_id.in_(patient_ids[first:first + _KEY_BATCH]),
                        Observation.code.in_(codes),
                        Observation.observed_at >= start.to_pydatetime(),
                        Observation.observed_at <= end.to_pydatetime(),
                        ~exists().where(newer.supersedes_id == Observation.id)))
        rows = session.execute(query).all()
        if not rows:
            continue
        times = _slot_times(pd.Series([r.observed_at for r in rows]))
        for row, time in zip(rows, times):
            found[(int(row.patient_id), row.code, time)] = row._asdict()
    return found


def _corrections(*, session: Session, records: pd.DataFrame, good: np.ndarray, status: np.ndarray,
                 message: np.ndarray, problems: _Problems, state: _State) -> tuple[pd.DataFrame, np.ndarray]:
    """Mark second values in the file as errors and laboratory corrections as such (see module doc)."""
    records["supersedes_id"] = pd.array([None] * len(records), dtype="Int64")
    if records.empty:
        return records, good
    stored = _stored_results(session=session, records=records)
    times = _slot_times(records["observed_at"])
    keep = np.ones(len(records), dtype=bool)
    supersedes: list[Any] = [None] * len(records)
    for i, (position, row, mrn, patient_id, code, time, value) in enumerate(zip(
            good.tolist(), records["row"].tolist(), records["mrn"].tolist(), records["patient_id"].tolist(),
            records["code"].tolist(), times, records["original_value"].tolist())):
        slot = (mrn, code, time)
        if slot in state.slots:
            earlier_row, earlier_value = state.slots[slot]
            problems.add(position, "value", f"row {earlier_row} of this file gives {earlier_value} for the same "
                                            f"test ({code}) and time; the file must hold one result per test "
                                            "and time (which one is right?)")
            status[position] = "error"
            message[position] = "; ".join(problems.messages[position])
            keep[i] = False
            continue
        state.slots[slot] = (int(row), value)
        earlier = stored.get((int(patient_id), code, time))
        if earlier is not None:
            supersedes[i] = int(earlier["id"])
            was = f"{earlier['original_value'] or _number_text(earlier['value_num'])} " \
                  f"{earlier['original_unit'] or earlier['unit'] or ''}".strip()
            status[position] = "correction"
            verb = "imported" if earlier["source"] == SOURCE else f"recorded ({earlier['source']})"
            message[position] = (f"laboratory correction: replaces {was} {verb} on "
                                 f"{local_text(earlier['recorded_at'], state.tz, '%d %b %Y %H:%M')} by "
                                 f"{earlier['recorded_by']}, which stays in the history")
    records["supersedes_id"] = pd.array(supersedes, dtype="Int64")
    return records[keep].reset_index(drop=True), good[keep]


def check_import(*, session: Session, frame: pd.DataFrame | Iterable[pd.DataFrame], file_name: str | None = None,
                 ward_ids: Iterable[int] | None = None, tz: tzinfo = timezone.utc, now: datetime | None = None,
                 catalogue: Catalogue | None = None) -> ImportPreview:
    """Check every row of a lab file; write nothing.

    `frame` is the whole file as one frame, or its chunks in order (`read_csv_chunks`): row numbers
    and duplicates within the file carry across chunks. `ward_ids`, when given, limits the import to
    patients of those wards (a nurse's wards). `tz` is for the dates in duplicate messages.
    Raises InputError for problems of the file as a whole (a required column missing, too many rows,
    not CSV); problems of single rows are in the preview's report.
    """
    wards = None if ward_ids is None else set(ward_ids)
    names = ""
    if wards is not None:
        names = ", ".join(session.scalars(select(Ward.name).where(Ward.id.in_(wards)).order_by(Ward.name)).all())
    state = _State(catalogue=catalogue or default_catalogue(), tz=tz, now=now or datetime.now(timezone.utc),
                   ward_ids=wards, ward_names=names or "none assigned")
    chunks = [frame] if isinstance(frame, pd.DataFrame) else frame
    reports, records = [], []
    for chunk in chunks:
        report, record = _check_chunk(session=session, frame=chunk, state=state)
        reports.append(report)
        records.append(record)
    if not reports:
        raise InputError([(None, None, "The file has no header row; the first line must name the columns "
                                       f"({', '.join(IMPORT_COLUMNS)}).")])
    return ImportPreview(report=pd.concat(reports, ignore_index=True),
                         records=pd.concat([r for r in records if len(r)] or [records[0]], ignore_index=True),
                         file_name=file_name, ignored_columns=state.ignored)


def check_file(*, session: Session, stream: str | IO, file_name: str | None = None,
               chunk_rows: int = CHUNK_ROWS, max_rows: int = MAX_IMPORT_ROWS, **kwargs: Any) -> ImportPreview:
    """`check_import` of a CSV path or stream, read in chunks (see `read_csv_chunks`)."""
    chunks = read_csv_chunks(stream, chunk_rows=chunk_rows, max_rows=max_rows)
    try:
        return check_import(session=session, frame=chunks, file_name=file_name, **kwargs)
    finally:
        chunks.close()  # now, while the caller's stream is open (not whenever it is garbage-collected)


# --- storing ---------------------------------------------------------------------------------------

def _optional(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _unique_violations() -> tuple[type[BaseException], ...]:
    """Errors a racing import's unique import_key raises (SQLAlchemy's, and psycopg's under COPY)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return (IntegrityError,)
    return (IntegrityError, psycopg.errors.UniqueViolation)


def commit_import(*, session: Session, preview: ImportPreview, mode: str, imported_by: str,
                  now: datetime | None = None) -> ImportResult:
    """Store the preview's good rows, attributed to `imported_by`, and re-evaluate those patients' alerts.

    mode "all-or-nothing" raises RecordError (and writes nothing) when any row has an error;
    "good-rows" stores the ok rows and skips the rest. Results imported since the preview was made
    are skipped as duplicates. The caller owns the transaction (monitoring.store.db.session_scope): the
    observations, the audit row and the alert updates are committed together or not at all.
    """
    if mode not in MODES:
        raise RecordError([f"Import mode '{mode}' is not known; accepted: {', '.join(MODES)}."])
    now = now or datetime.now(timezone.utc)
    counts = preview.counts
    if mode == "all-or-nothing" and counts["error"]:
        raise RecordError([f"{counts['error']} of {preview.total} rows have errors, so nothing was imported. "
                           "Correct them in the laboratory file, or import the good rows only."])
    records = preview.records
    stored = imported_keys(session=session, keys=records["import_key"]) if len(records) else {}
    late_duplicates = int(records["import_key"].isin(list(stored)).sum()) if stored else 0
    records = records[~records["import_key"].isin(list(stored))] if stored else records
    patient_ids = sorted(int(p) for p in records["patient_id"].unique())
    imported, corrected, alerts, new_alerts = 0, 0, {}, []
    if "supersedes_id" in records.columns and records["supersedes_id"].notna().any():
        corrections = records[records["supersedes_id"].notna()]
        records = records[records["supersedes_id"].isna()]
        reason = f"laboratory correction (file {preview.file_name or 'without a name'})"
        for row in corrections.itertuples(index=False):
            repository.correct_imported_result(
                session=session, observation_id=int(row.supersedes_id), value_num=float(row.value_num),
                unit=row.unit, original_value=row.original_value, original_unit=row.original_unit,
                ref_low=_optional(row.ref_low), ref_high=_optional(row.ref_high), import_key=row.import_key,
                reason=reason, recorded_by=imported_by, now=now)
        corrected = imported = len(corrections)
    if len(records):
        latest = dict(session.execute(
            select(TreatmentCourse.patient_id, func.max(TreatmentCourse.id))
            .where(TreatmentCourse.patient_id.in_(patient_ids)).group_by(TreatmentCourse.patient_id)).all())
        set_keys = records["mrn"].astype(str) + "|" + records["observed_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        set_ids = {k: str(uuid.uuid5(_SET_NAMESPACE, k)) for k in set_keys.unique().tolist()}
        bulk = pd.DataFrame({
            "patient_id": records["patient_id"].astype("int64"),
            "course_id": records["patient_id"].map(latest).astype("Int64"),
            "code": records["code"], "value_num": records["value_num"].astype(float),
            "value_code": None, "unit": records["unit"], "observed_at": records["observed_at"],
            "ref_low": records["ref_low"].astype(float), "ref_high": records["ref_high"].astype(float),
            # One set per patient and specimen time: results drawn together stay together.
            "set_id": set_keys.map(set_ids),
            "import_key": records["import_key"], "original_value": records["original_value"],
            "original_unit": records["original_unit"],
        })
        try:
            imported += repository.add_observations_bulk(session=session, frame=bulk, recorded_by=imported_by,
                                                        source=SOURCE, now=now)
        except _unique_violations():
            raise RecordError(["Some of these results were imported by someone else at the same moment, so "
                               "nothing was imported. Check the file again: those results now show as "
                               "duplicates."]) from None
    duplicates = counts["duplicate"] + late_duplicates
    refused = counts["error"]
    write_audit(session=session, username=imported_by, action="lab-import", entity="observation",
                entity_id=(preview.file_name or "")[:64] or None,
                after={"file": preview.file_name, "mode": mode, "rows": preview.total, "imported": imported,
                       "corrected": corrected,
                       "duplicates": duplicates, "refused": refused, "patients": patient_ids,
                       "refused_rows": preview.report.loc[preview.report["status"] == "error", "row"]
                       .head(100).astype(int).tolist()})
    if imported:
        before = set(session.scalars(select(Alert.alert_key).where(Alert.patient_id.in_(patient_ids))).all())
        alerts = sync_alerts(session=session, patient_ids=patient_ids, username=imported_by, now=now)
        if alerts.get("new"):
            rows = session.execute(
                select(Alert.alert_key, Alert.patient_id, PatientIdentity.mrn, Alert.rule_id, Alert.level,
                       Alert.severity, Alert.onset_at)
                .join(PatientIdentity, PatientIdentity.patient_id == Alert.patient_id)
                .where(Alert.patient_id.in_(patient_ids)).order_by(Alert.onset_at, Alert.id)).all()
            new_alerts = [{"patient_id": r.patient_id, "mrn": r.mrn, "rule_id": r.rule_id, "level": r.level,
                           "severity": r.severity, "onset_at": r.onset_at} for r in rows if r.alert_key not in before]
    return ImportResult(imported=imported, corrected=corrected, duplicates=duplicates, refused=refused, mode=mode,
                        file_name=preview.file_name, patient_ids=patient_ids, alerts=alerts, new_alerts=new_alerts)
