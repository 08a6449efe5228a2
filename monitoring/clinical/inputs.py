"""The long observation format read by `grade` and `evaluate`: one row per observed value.

Input columns (a CSV read with pandas, or a frame built in code):

=========== ======== ================================================================================
column      required meaning
=========== ======== ================================================================================
patient_id  yes      patient identifier (text; numbers are read as their text)
time        yes      ISO 8601 date and time WITH a zone (Z or +01:00); naive times are refused
code        yes      observation code from the catalogue (data/catalogue.toml)
value       yes      the value as entered: a number, a coded value ("A") or a CTCAE grade (0-4)
unit        no       UCUM unit of the value (or its label, e.g. "µmol/L"); empty = canonical unit
ref_low     no       the lab's own lower reference limit (LLN), in the unit of the value
ref_high    no       the lab's own upper reference limit (ULN), in the unit of the value
baseline    no       the patient's baseline (pre-treatment) value, in the unit of the value
=========== ======== ================================================================================

`read_long_frame` checks every row against the catalogue (`Catalogue.validate_frame`: unknown code,
unknown unit, missing or unparseable value, physiologically impossible value) and the other
columns, collects ALL problems and raises one `InputError` naming each row (1-based data row, as a
spreadsheet user counts) and column. Everything is vectorised: a million rows parse in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from monitoring.clinical.catalogue import NUMBER_PATTERN, Catalogue, ObservationValueError, default_catalogue
from monitoring.clinical.thresholds import SectionModel, default_thresholds, section
from monitoring.errors import InputError, RowProblems

REQUIRED_COLUMNS: tuple[str, ...] = ("patient_id", "time", "code", "value")
OPTIONAL_COLUMNS: tuple[str, ...] = ("unit", "ref_low", "ref_high", "baseline")
# Order in which problems of one row are listed.
_COLUMN_ORDER = REQUIRED_COLUMNS[:3] + ("unit", "value") + OPTIONAL_COLUMNS[1:]

OUTPUT_COLUMNS: tuple[str, ...] = (
    "row", "patient_id", "time", "code", "value_num", "value_code", "unit", "value_in", "unit_in",
    "ref_low", "ref_high", "baseline", "ref_low_c", "ref_high_c", "baseline_c",
)

# A time of day followed by a zone: Z, +01, +0100 or +01:00 (a bare date such as 2026-03-02 has
# no time and so no zone; its "-02" is not an offset).
_ZONE_PATTERN = r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_TIME_EXAMPLE = "2026-03-02T08:00:00Z or 2026-03-02T09:00:00+01:00"


def _texts(series: pd.Series) -> pd.Series:
    """Stripped text of each cell ("" where missing), as a pandas string Series (same index)."""
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(series.dtype):
        return series.fillna("").str.strip()
    return series.astype(object).where(series.notna(), "").astype("str").str.strip()


def str_array(vocabulary, indices: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A pandas "str" array of vocabulary[indices] (NA where the index is -1), built in Arrow.

    Much faster than converting an object array of a million strings that repeat a few values.
    """
    indices = np.asarray(indices, dtype=np.int64)
    words = pa.array([str(w) for w in vocabulary], type=pa.large_string())
    if len(words) == 0:
        return pd.array(pa.nulls(len(indices), pa.large_string()), dtype="str")
    taken = words.take(pa.array(np.where(indices < 0, 0, indices), mask=indices < 0))
    return pd.array(taken, dtype="str")


def _numbers(series: pd.Series, column: str, problems: RowProblems) -> np.ndarray:
    """Optional numeric column: floats, NaN where empty; text that is not a plain number is a problem."""
    if pd.api.types.is_bool_dtype(series.dtype):
        problems.add(series.notna().to_numpy(), column, f"{column} must be a number, not true/false")
        return np.full(len(series), np.nan)
    if pd.api.types.is_numeric_dtype(series.dtype):
        numbers = series.to_numpy(dtype=float, na_value=np.nan).copy()
        bad = np.isinf(numbers)
        problems.add(bad, column, f"{column} must be a finite number")
        numbers[bad] = np.nan
        return numbers
    # Parse each distinct text once (reference limits repeat across a whole import).
    ids, distinct = _texts(series).factorize()
    words = pd.Series(distinct, dtype="str")
    plain = words.str.fullmatch(NUMBER_PATTERN).to_numpy(dtype=bool, na_value=False)
    parsed = np.full(len(words) + 1, np.nan)
    parsed[:-1][plain] = words[plain].astype(float).to_numpy()
    # A plain number too long for a float (400 digits) parses as infinity: refused, never stored.
    huge = plain & np.isinf(parsed[:-1])
    parsed[:-1][huge] = np.nan
    plain = plain & ~huge
    ids = np.where(ids < 0, len(words), ids)
    numbers = parsed[ids]
    bad_word = np.append(~plain & (words != "").to_numpy(dtype=bool), False)
    bad = bad_word[ids]
    if bad.any():
        messages = np.array([f"{column} '{w}' is far too large (too many digits for a measurement)" if h else
                             f"{column} '{w}' is not a number (write e.g. 3.5, with a decimal point)"
                             for w, h in zip(words, huge)] + [""], dtype=object)
        problems.add(bad, column, messages[ids[bad]])
    return numbers


def _patient_ids(series: pd.Series, problems: RowProblems) -> pd.Series:
    if pd.api.types.is_float_dtype(series.dtype):
        numbers = series.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(numbers)
        if np.all(numbers[finite] == np.floor(numbers[finite])):
            series = series.astype("Int64")
    ids = _texts(series)
    problems.add((ids == "").to_numpy(dtype=bool), "patient_id", "patient_id is missing")
    return ids


# No observation of this monitor is older: a year such as 0026 or 1925 (a birth date in the wrong
# column) is a typing error, and year-0026 rows broke every FHIR export (issue 16 item 10).
EARLIEST_TIME = pd.Timestamp("2000-01-01", tz="UTC")


@section("entry_limits")
class EntryLimits(SectionModel):
    """[entry_limits]: bounds on what is entered, against typing errors and for the bedside workflow
    (local choices, not clinical thresholds; in the thresholds file so a hospital sets them with the rest)."""

    late_entry_after_minutes: float = Field(gt=0, le=1440, description=(
        "A set entered more than this long after its observation time is a late entry and needs a reason (min)"))
    future_tolerance_minutes: float = Field(ge=0, le=60, description=(
        "A time further in the future than this is refused: device clocks drift (min)"))
    max_dose_number: int = Field(ge=1, le=100_000, description="The highest IL-2 dose number accepted")
    max_period_hours: float = Field(gt=0, le=72, description="The longest collection period of a urine record (h)")
    max_dose_interval_hours: float = Field(gt=0, le=8760, description=(
        "The longest interval between two doses of a course (h)"))

    late_entry_after = property(lambda self: timedelta(minutes=self.late_entry_after_minutes))
    future_tolerance = property(lambda self: timedelta(minutes=self.future_tolerance_minutes))


def entry_limits() -> EntryLimits:
    """The [entry_limits] in force (the configured thresholds file)."""
    return default_thresholds()["entry_limits"]


@dataclass(frozen=True)
class ObservationInput:
    """One value as entered: code, value and unit as typed, plus a lab reference range if any."""

    code: str
    value: Any
    unit: str | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    period_start: datetime | None = None
    import_key: str | None = None


def _times(series: pd.Series, problems: RowProblems) -> pd.Series:
    """UTC timestamps; naive times and text that is not ISO 8601 are problems."""
    n = len(series)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        problems.add(series.isna().to_numpy(), "time", "time is missing")
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        problems.add(series.isna().to_numpy(), "time", "time is missing")
        problems.add(series.notna().to_numpy(), "time",
                     f"time has no time zone: add Z (UTC) or an offset, e.g. {_TIME_EXAMPLE}")
        return pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
    text = _texts(series)
    missing = (text == "").to_numpy(dtype=bool)
    problems.add(missing, "time", "time is missing")
    parsed = pd.to_datetime(text.where(~missing, None), format="ISO8601", utc=True, errors="coerce")
    unparsed = parsed.isna().to_numpy() & ~missing
    if unparsed.any():
        shown = text[unparsed].to_numpy(dtype=object)
        problems.add(unparsed, "time", np.array(
            [f"time '{t}' is not an ISO 8601 date and time (e.g. {_TIME_EXAMPLE})" for t in shown], dtype=object))
    zoned = pc.match_substring_regex(pa.array(text.array), _ZONE_PATTERN).to_numpy(zero_copy_only=False)
    naive = ~zoned & ~missing & ~unparsed
    if naive.any():
        shown = text[naive].to_numpy(dtype=object)
        problems.add(naive, "time", np.array(
            [f"time '{t}' has no time zone: add Z (UTC) or an offset, e.g. {_TIME_EXAMPLE}" for t in shown],
            dtype=object))
    early = (parsed < EARLIEST_TIME).to_numpy(dtype=bool, na_value=False) & ~naive
    if early.any():
        shown = text[early].to_numpy(dtype=object)
        problems.add(early, "time", np.array(
            [f"time '{t}' is before {EARLIEST_TIME:%Y-%m-%d}: check the year" for t in shown], dtype=object))
    result = pd.Series(parsed, index=series.index)
    if n == 0:
        result = result.astype("datetime64[ns, UTC]")
    return result


def read_long_frame(df: pd.DataFrame, *, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Validate the long observation format and return it typed, in canonical units.

    Returns a new frame with the original index and row order and the columns `OUTPUT_COLUMNS`:
    row (1-based data row), patient_id (str), time (datetime64 UTC), code, value_num (float,
    canonical unit; NaN for coded values), value_code (str for coded values, else NA), unit
    (canonical UCUM unit), value_in (the number as given, in the input unit; NaN for coded),
    unit_in (the input unit as its UCUM code; the canonical unit when empty), ref_low, ref_high,
    baseline (floats in the input unit, NaN when empty) and ref_low_c, ref_high_c, baseline_c
    (the same converted to the canonical unit, with the catalogue's exact conversion).

    Raises InputError listing every problem as (row, column, message): missing required columns
    (the message lists the columns found), unknown code, unknown unit, missing, unparseable or
    impossible value (the catalogue's messages), missing or unparseable time, time without a zone,
    missing patient_id, non-numeric ref_low/ref_high/baseline, ref_low above ref_high, impossible
    baseline.
    """
    catalogue = catalogue if catalogue is not None else default_catalogue()
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        found = ", ".join(str(c) for c in df.columns) or "none"
        raise InputError([(None, c, f"required column '{c}' is missing (columns found: {found})")
                          for c in missing])
    n = len(df)
    problems = RowProblems(_COLUMN_ORDER)
    patient_ids = _patient_ids(df["patient_id"], problems)
    times = _times(df["time"], problems)

    # Distinct (code, unit) groups, and distinct (code, unit, value) triples: the catalogue checks
    # each distinct triple once (a lab import repeats values), and the results are spread back.
    codes = _texts(df["code"])
    units = _texts(df["unit"]) if "unit" in df.columns else pd.Series("", index=df.index, dtype="str")
    code_ids, code_values = codes.factorize()
    unit_ids, unit_values = units.factorize()
    group_ids, group_keys = pd.factorize(code_ids.astype(np.int64) * max(len(unit_values), 1) + unit_ids)
    if pd.api.types.is_object_dtype(df["value"].dtype):
        # Python objects: 1, 1.0 and True hash alike but are not the same entry; check each row.
        value_ids, value_count = np.arange(n), n
    else:
        value_ids, value_values = pd.factorize(df["value"])
        value_count = len(value_values)
        value_ids = np.where(value_ids < 0, value_count, value_ids)
    triple_ids, _ = pd.factorize(group_ids.astype(np.int64) * (value_count + 1) + value_ids)
    first = np.zeros(triple_ids.max() + 1 if n else 0, dtype=np.int64)
    first[triple_ids[::-1]] = np.arange(n - 1, -1, -1)
    checked = catalogue.validate_frame(pd.DataFrame({
        "code": codes.iloc[first].to_numpy(dtype=object), "value": df["value"].iloc[first].to_numpy(),
        "unit": units.iloc[first].to_numpy(dtype=object)}))

    # Per (code, unit) group: the catalogue entry and conversion (None when code or unit is unknown).
    group_code = np.asarray(group_keys) // max(len(unit_values), 1)
    group_unit = np.asarray(group_keys) % max(len(unit_values), 1)
    known_code = np.zeros(len(group_keys), bool)
    known_unit = np.zeros(len(group_keys), bool)
    conversions = []
    for g in range(len(group_keys)):
        code, unit = code_values[group_code[g]], unit_values[group_unit[g]]
        conversion = None
        if code in catalogue:
            known_code[g] = True
            try:
                conversion = catalogue[code].conversion(unit or None)
                known_unit[g] = True
            except ObservationValueError:
                pass
        conversions.append(conversion)
    distinct_errors = checked["error"].to_numpy(dtype=object, na_value=None)
    has_error = pd.notna(distinct_errors)[triple_ids]
    row_known_code = known_code[group_ids]
    row_known_unit = known_unit[group_ids]
    if has_error.any():
        for mask, column in ((has_error & ~row_known_code, "code"),
                             (has_error & row_known_code & ~row_known_unit, "unit"),
                             (has_error & row_known_unit, "value")):
            problems.add(mask, column, distinct_errors[triple_ids[mask]])

    ref_low = _numbers(df["ref_low"], "ref_low", problems) if "ref_low" in df.columns else np.full(n, np.nan)
    ref_high = _numbers(df["ref_high"], "ref_high", problems) if "ref_high" in df.columns else np.full(n, np.nan)
    baseline = _numbers(df["baseline"], "baseline", problems) if "baseline" in df.columns else np.full(n, np.nan)
    # An empty or inverted range, or a limit below zero, would grade every value (ALT 30 with 0-0 was
    # grade 4): refused. Every laboratory value of the catalogue is a concentration or count >= 0.
    inverted = ref_low >= ref_high
    if inverted.any():
        problems.add(inverted, "ref_low", np.array(
            [f"ref_low {lo:g} is not below ref_high {hi:g}: a reference range needs low < high"
             for lo, hi in zip(ref_low[inverted], ref_high[inverted])], dtype=object))
    for limits, name, bad in ((ref_low, "ref_low", ref_low < 0), (ref_high, "ref_high", ref_high <= 0)):
        if bad.any():
            problems.add(bad, name, np.array([f"{name} {v:g} is not accepted: a reference limit is "
                                              f"{'0 or more' if name == 'ref_low' else 'more than 0'}"
                                              for v in limits[bad]], dtype=object))
    with_baseline = ~np.isnan(baseline) & row_known_unit
    if with_baseline.any():
        base_check = catalogue.validate_frame(pd.DataFrame({
            "code": codes[with_baseline].to_numpy(dtype=object), "value": baseline[with_baseline],
            "unit": units[with_baseline].to_numpy(dtype=object)}))
        base_errors = base_check["error"].to_numpy(dtype=object, na_value=None)
        bad = pd.notna(base_errors)
        problems.add(np.flatnonzero(with_baseline)[bad], "baseline",
                     np.array([f"baseline: {m}" for m in base_errors[bad]], dtype=object))
    problems.raise_if_any()

    # Every row is valid from here on.
    value_num = checked["value_num"].to_numpy(dtype=float, na_value=np.nan)[triple_ids]
    value_code_ids, value_code_values = checked["value_code"].factorize()
    group_entries = [catalogue[code_values[c]] for c in group_code]
    coded = np.array([entry.kind == "coded" for entry in group_entries], dtype=bool)
    value_in = _values_as_given(df["value"].iloc[first])[triple_ids]
    if n:
        value_in[coded[group_ids]] = np.nan
    ref_low_c, ref_high_c, baseline_c = ref_low.copy(), ref_high.copy(), baseline.copy()
    for g, conversion in enumerate(conversions):
        if conversion.is_identity:
            continue
        positions = np.flatnonzero(group_ids == g)
        for source, target in ((ref_low, ref_low_c), (ref_high, ref_high_c), (baseline, baseline_c)):
            values = source[positions]
            if not np.isnan(values).all():
                target[positions] = conversion.to_canonical_array(values)
    return pd.DataFrame({
        "row": np.arange(1, n + 1),
        "patient_id": patient_ids.array,
        "time": times.array,
        "code": codes.array,
        "value_num": value_num,
        "value_code": str_array(value_code_values, value_code_ids[triple_ids]),
        "unit": str_array([e.unit for e in group_entries], group_ids),
        "value_in": value_in,
        "unit_in": str_array([c.unit for c in conversions], group_ids),
        "ref_low": ref_low, "ref_high": ref_high, "baseline": baseline,
        "ref_low_c": ref_low_c, "ref_high_c": ref_high_c, "baseline_c": baseline_c,
    }, index=df.index, copy=False)


def _values_as_given(values: pd.Series) -> np.ndarray:
    """The value column as floats in the unit as given (NaN where not a number)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return np.full(len(values), np.nan)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=float, na_value=np.nan).copy()
    text = _texts(values)
    return pd.to_numeric(text.where(text.str.fullmatch(NUMBER_PATTERN).fillna(False), None),
                         errors="coerce").to_numpy(dtype=float, na_value=np.nan)
