"""NEWS2, qSOFA and SIRS over DataFrames: pure, vectorised, deterministic.

`score_frame` takes one row per observation set and adds the scores; `news2_response` gives the
RCP Chart 4 monitoring frequency and clinical response for a band. Every clinical number comes from
the [news2], [qsofa] and [sirs] sections of data/thresholds.toml (parsed here, at load, into the
typed objects below); the code only names them.

Rules common to the three scores:
* missing is never normal and never zero: NEWS2 is NA unless all seven parameters are present
  (`news2_missing` lists the absent ones); qSOFA and SIRS count the criteria that can be evaluated
  and are NA only when none can;
* values are in the catalogue's canonical units (/min, %, mmHg, °C, 10*9/L) and must lie inside its
  plausible ranges; bad input raises InputError naming the 1-based data row and the column.
"""
from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from monitoring.clinical.catalogue import NUMBER_PATTERN, Catalogue, as_entered_text, default_catalogue, format_number
from monitoring.clinical.severities import SEVERITIES
from monitoring.clinical.thresholds import (
    Increasing,
    Refused,
    SectionModel,
    Text,
    Thresholds,
    ThresholdsModel,
    default_thresholds,
    load_sections,
    section,
)
from monitoring.errors import InputError, RowProblems

try:  # Arrow parses a million ISO 8601 texts in ~40 ms and refuses those without a zone offset.
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # pragma: no cover - pandas 3 installs normally bring pyarrow
    pa = pc = None

# --- vocabulary (names, not clinical numbers) ------------------------------------------------------

#: The seven NEWS2 parameters (RCP 2017 Chart 1), in the order news2_missing lists them.
NEWS2_PARAMETERS: tuple[str, ...] = (
    "resp_rate", "spo2", "on_oxygen", "sbp", "heart_rate", "consciousness", "temperature")
#: NEWS2 clinical-risk bands (RCP 2017 Chart 2), least to most urgent.
NEWS2_BANDS: tuple[str, ...] = ("low", "low-medium", "medium", "high")
#: RCP 2017 Chart 4 rows: 'routine' is the aggregate-0 row of the low band.
CHART4_ROWS: tuple[str, ...] = ("routine", *NEWS2_BANDS)
#: ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive.
ACVPU_LEVELS: tuple[str, ...] = ("A", "C", "V", "P", "U")
#: Numeric input columns, each checked against the catalogue entry of the same code.
NUMERIC_COLUMNS: tuple[str, ...] = ("resp_rate", "spo2", "sbp", "heart_rate", "temperature", "wbc", "gcs")
#: Accepted spellings of on_oxygen (matched case-insensitively; booleans and 1/0 numbers too).
ON_OXYGEN_WORDS: dict[str, int] = {"true": 1, "yes": 1, "1": 1, "false": 0, "no": 0, "0": 0}
SPO2_SCALES: dict[str, int] = {"1": 1, "2": 2}
REQUIRED_COLUMNS: tuple[str, ...] = ("patient_id", "time")
INPUT_COLUMNS: tuple[str, ...] = (
    *REQUIRED_COLUMNS, "resp_rate", "spo2", "spo2_scale", "on_oxygen", "sbp", "heart_rate", "consciousness",
    "temperature", "wbc", "gcs")
OUTPUT_COLUMNS: tuple[str, ...] = ("news2", "news2_band", "news2_missing", "qsofa", "sirs")
DETAIL_COLUMNS: tuple[str, ...] = (
    *(f"news2_{name}" for name in NEWS2_PARAMETERS), "news2_any3", "qsofa_criteria_evaluated",
    "sirs_criteria_evaluated")

_MAX_PROBLEMS_PER_COLUMN = 100
_NUMBER_RE = re.compile(NUMBER_PATTERN)


# --- thresholds: typed sections ---------------------------------------------------------------------

Points = Annotated[int, Field(ge=0)]
Band = Literal[NEWS2_BANDS]  # type: ignore[valid-type]
AlertSeverity = Literal[SEVERITIES[1:]]  # type: ignore[valid-type]
Count = Annotated[int, Field(ge=1)]


class PointsTable(ThresholdsModel):
    """A value at or below upper_bounds[i] (and above the previous bound) scores points[i]; a value
    above the last bound scores points[-1]. RCP 2017 Chart 1 rows are written this way."""

    upper_bounds: Increasing = Field(description="Upper bound of each band, in the catalogue's canonical unit")
    points: list[Points] = Field(description="Points of each band: one more than upper_bounds (the last is "
                                             "for values above the last bound)")

    @model_validator(mode="after")
    def _one_more_point_than_bounds(self) -> PointsTable:
        if len(self.points) != len(self.upper_bounds) + 1:
            raise Refused("points", f"expected {len(self.upper_bounds) + 1} numbers, found {len(self.points)}")
        return self

    def score(self, values: np.ndarray) -> np.ndarray:
        """Points for each value (int8); NaN scores like the lowest band, so mask it afterwards.

        Start from the lowest band's points and add each step where the value is above its bound:
        the same as points[np.searchsorted(upper_bounds, values)], several times faster."""
        result = np.full(len(values), self.points[0], dtype=np.int8)
        above = np.empty(len(values), dtype=bool)
        for bound, before, after in zip(self.upper_bounds, self.points, self.points[1:]):
            if after != before:
                np.greater(values, bound, out=above)
                result += above.view(np.int8) * np.int8(after - before)
        return result


class SupplementalOxygen(ThresholdsModel):
    on_oxygen: Points = Field(description="Points for a set taken on supplemental oxygen")
    on_air: Points = Field(description="Points for a set taken on air")


class AcvpuPoints(ThresholdsModel):
    A: Points = Field(description="Alert")
    C: Points = Field(description="New confusion")
    V: Points = Field(description="Responds to voice")
    P: Points = Field(description="Responds to pain")
    U: Points = Field(description="Unresponsive")


class Consciousness(ThresholdsModel):
    points: AcvpuPoints = Field(description="Points of each ACVPU level")


class News2Bands(SectionModel):
    """RCP 2017 Chart 2: the clinical-risk band from the aggregate, raised by a red score."""

    aggregate_upper_bounds: Increasing = Field(description="Highest aggregate of each band but the last")
    aggregate_bands: list[Band] = Field(description="Band of each aggregate range, rising in urgency: one more "
                                                    "than aggregate_upper_bounds")
    red_score_points: Count = Field(description="Points in a single parameter that make a red score")
    red_score_band: Band = Field(description="The band a red score raises the set to (a higher aggregate band wins)")

    @model_validator(mode="after")
    def _one_band_per_range_rising(self) -> News2Bands:
        names, expected = self.aggregate_bands, len(self.aggregate_upper_bounds) + 1
        if len(names) != expected:
            raise Refused("aggregate_bands", f"expected {expected} band names (one more than the bounds), "
                                             f"found {len(names)}")
        ranks = [NEWS2_BANDS.index(n) for n in names]
        if not all(a < b for a, b in zip(ranks, ranks[1:])):
            raise Refused("aggregate_bands", f"bands must rise in urgency ({', '.join(NEWS2_BANDS)}): {names}")
        return self


class Chart4Response(ThresholdsModel):
    """One row of RCP 2017 Chart 4. frequency_hours: longest interval between sets (0 = continuous);
    alert_severity: the alert a set in this row raises (rule news2), None for none."""

    applies_to: Text = Field(description="The NEWS2 scores the row applies to, as the chart words them")
    frequency: Text = Field(description="Frequency of monitoring, as the chart words it")
    frequency_hours: float = Field(ge=0, description="Longest interval between sets in hours (the shorter end of "
                                                     "a range; 0 = continuous)")
    response: Text = Field(description="Clinical response, as the chart words it")
    alert_severity: AlertSeverity | None = Field(None, description="The alert a set in this row raises (rule "
                                                                   "news2); none when absent")


class RoutineResponse(Chart4Response):
    aggregate_at_or_below: float = Field(ge=0, description="Highest aggregate of the routine row (NEWS2 0)")


class Chart4(SectionModel):
    """RCP 2017 Chart 4, one row per band; the routine row is the aggregate-0 part of the low band."""

    routine: RoutineResponse
    low: Chart4Response
    low_medium: Chart4Response = Field(alias="low-medium")
    medium: Chart4Response
    high: Chart4Response

    @model_validator(mode="after")
    def _monitoring_not_rarer_with_urgency(self) -> Chart4:
        hours = [getattr(self, row.replace("-", "_")).frequency_hours for row in CHART4_ROWS]
        if not all(a >= b for a, b in zip(hours, hours[1:])):
            raise Refused(None, f"frequency_hours must not rise with urgency ({', '.join(CHART4_ROWS)}): {hours}")
        return self


@section("news2")
class News2Thresholds(SectionModel):
    """[news2]: Chart 1 points tables, Chart 2 bands, Chart 4 responses (RCP, December 2017)."""

    note: Text | None = Field(None, description="Where NEWS2 does not apply")
    alert_episode_gap_hours: float = Field(ge=1, le=720, description="Rule news2: sets closer than this belong to "
                                                                     "one alert (local choice)")
    resp_rate: PointsTable = Field(description="Respiration rate (/min)")
    spo2_scale1: PointsTable = Field(description="SpO2 scale 1 (%)")
    spo2_scale2_on_air: PointsTable = Field(description="SpO2 scale 2 (%) breathing air")
    spo2_scale2_on_oxygen: PointsTable = Field(description="SpO2 scale 2 (%) on oxygen")
    sbp: PointsTable = Field(description="Systolic blood pressure (mmHg)")
    heart_rate: PointsTable = Field(description="Pulse (/min)")
    temperature: PointsTable = Field(description="Temperature (°C)")
    supplemental_oxygen: SupplementalOxygen = Field(description="Air or oxygen")
    consciousness: Consciousness = Field(description="Consciousness (ACVPU)")
    bands: News2Bands = Field(description="Chart 2: thresholds and triggers")
    response: Chart4 = Field(description="Chart 4: frequency of monitoring and clinical response")

    # The names the scores and the rules read.
    on_oxygen_points = property(lambda self: self.supplemental_oxygen.on_oxygen)
    on_air_points = property(lambda self: self.supplemental_oxygen.on_air)
    consciousness_points = property(lambda self: self.consciousness.points.model_dump())
    aggregate_upper_bounds = property(lambda self: self.bands.aggregate_upper_bounds)
    aggregate_bands = property(lambda self: tuple(self.bands.aggregate_bands))
    red_score_points = property(lambda self: self.bands.red_score_points)
    red_score_band = property(lambda self: self.bands.red_score_band)
    bands_source = property(lambda self: self.bands.source)
    response_source = property(lambda self: self.response.source)
    routine_at_or_below = property(lambda self: self.response.routine.aggregate_at_or_below)

    @functools.cached_property
    def responses(self) -> dict[str, Chart4Response]:
        return {row: getattr(self.response, row.replace("-", "_")) for row in CHART4_ROWS}

    @functools.cached_property
    def band_ranks(self) -> PointsTable:
        """Chart 2 as a points table whose points are band ranks (positions in NEWS2_BANDS)."""
        return PointsTable(upper_bounds=list(self.aggregate_upper_bounds),
                           points=[NEWS2_BANDS.index(b) for b in self.aggregate_bands])


@section("qsofa")
class QsofaThresholds(SectionModel):
    """[qsofa]: Sepsis-3 (Singer 2016) quick SOFA: RR >= x, SBP <= y, GCS < z or an ACVPU level not Alert;
    positive at >= n of the 3 criteria."""

    note: Text | None = Field(None, description="How the criteria are read")
    resp_rate_at_or_above: float = Field(ge=0, description="Respiratory rate criterion (/min)")
    sbp_at_or_below: float = Field(ge=0, description="Systolic blood pressure criterion (mmHg)")
    gcs_below: float = Field(ge=3, description="Altered mentation: GCS below this")
    altered_consciousness: list[Literal[ACVPU_LEVELS]] = Field(  # type: ignore[valid-type]
        min_length=1, description="Altered mentation: these ACVPU levels (distinct)")
    positive_at_or_above: Count = Field(le=3, description="Criteria met for a positive qSOFA (of 3)")

    @model_validator(mode="after")
    def _distinct_levels(self) -> QsofaThresholds:
        if len(set(self.altered_consciousness)) != len(self.altered_consciousness):
            raise Refused("altered_consciousness", f"expected distinct levels, found {self.altered_consciousness}")
        return self


@section("sirs")
class SirsThresholds(SectionModel):
    """[sirs]: ACCP/SCCM 1992 SIRS: T > a or < b; HR > c; RR > d; WBC > e or < f; positive at >= n of 4."""

    note: Text | None = Field(None, description="What is not evaluated")
    temperature_above: float = Field(description="Temperature criterion, high side (°C)")
    temperature_below: float = Field(ge=0, description="Temperature criterion, low side (°C); below temperature_above")
    heart_rate_above: float = Field(ge=0, description="Heart rate criterion (/min)")
    resp_rate_above: float = Field(ge=0, description="Respiratory rate criterion (/min)")
    wbc_above: float = Field(description="White cell count criterion, high side (10*9/L)")
    wbc_below: float = Field(ge=0, description="White cell count criterion, low side (10*9/L); below wbc_above")
    positive_at_or_above: Count = Field(le=4, description="Criteria met for a positive SIRS (of 4)")

    @model_validator(mode="after")
    def _low_side_below_high_side(self) -> SirsThresholds:
        for name in ("temperature", "wbc"):
            above, below = getattr(self, f"{name}_above"), getattr(self, f"{name}_below")
            if not below < above:
                raise Refused(f"{name}_below", f"must be below {name}_above ({above:g}), found {below:g}")
        return self


SCORE_SECTIONS = ("news2", "qsofa", "sirs")


def load_score_thresholds(path: Path | str | None = None) -> Thresholds:
    """Only the [news2], [qsofa] and [sirs] sections of a thresholds file (default data/thresholds.toml),
    for tests and benchmarks that need no other rule. `load_thresholds` validates the whole file."""
    return load_sections(SCORE_SECTIONS, path)

# --- reading the input frame ------------------------------------------------------------------------

_shown = as_entered_text  # a cell as the user wrote it: 140.0 -> '140', ' abc ' -> 'abc'


def _is_blank(value: Any) -> bool:
    return (value is None or value is pd.NA or value is pd.NaT
            or (isinstance(value, str) and not value.strip())
            or (isinstance(value, (float, np.floating)) and math.isnan(value)))


def _parse_unique_numbers(uniques: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Floats and a not-a-number mask for the distinct cells of a text or mixed column.
    Plain decimals only, as the catalogue accepts them: no exponent, no comma."""
    if uniques.dtype != object:  # str dtype: vectorised
        texts = pd.Series(uniques, dtype="str").str.strip()
        numeric = texts.str.fullmatch(NUMBER_PATTERN).to_numpy(dtype=bool)
        values = np.full(len(texts), np.nan)
        values[numeric] = texts[numeric].astype(float).to_numpy()
        return values, ~numeric & (texts != "").to_numpy(dtype=bool)
    values, bad = np.full(len(uniques), np.nan), np.zeros(len(uniques), dtype=bool)
    for i, value in enumerate(uniques):
        if _is_blank(value):
            continue
        if isinstance(value, str):
            if _NUMBER_RE.fullmatch(value.strip()):
                values[i] = float(value)
            else:
                bad[i] = True
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            values[i], bad[i] = float(value), not math.isfinite(float(value))
        else:
            bad[i] = True
    return values, bad


def _read_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN where the cell is empty: missing, never zero) and a mask of cells that are not numbers."""
    if pd.api.types.is_bool_dtype(column.dtype):  # True is not a heart rate
        return np.full(len(column), np.nan), column.notna().to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        return values, np.isinf(values)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values, bad = _parse_unique_numbers(uniques)
    # index -1 (an empty cell) picks the appended NaN / False
    return np.append(values, np.nan)[codes], np.append(bad, False)[codes]


def _arrow_strings(column: pd.Series) -> Any:
    """The column's Arrow array when it is Arrow-backed text (pandas 3's default str dtype), else None."""
    if pa is None or not isinstance(column.dtype, pd.StringDtype) or column.dtype.storage != "pyarrow":
        return None
    return pa.array(column)


def _code_key(value: Any) -> str | None:
    if _is_blank(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).casefold()
    return _shown(value).casefold()


def _read_codes(column: pd.Series, accepted: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int8; -1 where empty) and a mask of cells that are not accepted. Each distinct cell is
    looked up once (case-insensitive, spaces stripped), so a million rows cost one factorize; Arrow
    text written exactly as the keys of `accepted` ('A', 'yes') is matched without it."""
    texts = _arrow_strings(column)
    if texts is not None:
        found = pc.index_in(texts, value_set=pa.array(list(accepted)))
        if found.null_count == texts.null_count:  # every written cell is spelt exactly as a key
            lookup = np.array([*accepted.values(), -1], dtype=np.int8)
            index = found.to_numpy() if found.null_count == 0 else pc.fill_null(found, -1).to_numpy()
            return lookup[index], np.zeros(len(column), dtype=bool)
    accepted = {key.casefold(): code for key, code in accepted.items()}
    if column.dtype == bool and {"true", "false"} <= set(accepted):
        return np.where(column.to_numpy(), accepted["true"], accepted["false"]).astype(np.int8), np.zeros(
            len(column), dtype=bool)
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        mapped = np.where(np.isnan(values), -1, -2).astype(np.int8)
        for key, code in accepted.items():
            if _NUMBER_RE.fullmatch(key):
                mapped[values == float(key)] = code
        bad = mapped == -2
        mapped[bad] = -1
        return mapped, bad
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    keys = [_code_key(u) for u in uniques]
    lookup = np.array([-1 if k is None else accepted.get(k, -2) for k in keys] + [-1], dtype=np.int8)
    mapped = lookup[codes]
    bad = mapped == -2
    mapped[bad] = -1
    return mapped, bad


def _time_problem(value: Any) -> str | None:
    """Why a time cell is refused (None when it is an ISO 8601 date and time with a zone)."""
    if _is_blank(value):
        return "the time is missing"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return f"'{value.strip()}' is not an ISO 8601 date and time (e.g. 2026-11-27T10:00:00Z)"
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, np.datetime64):
        moment = pd.Timestamp(value).to_pydatetime()
    else:
        return f"'{_shown(value)}' is not a date and time"
    if moment.tzinfo is None or moment.utcoffset() is None:
        return f"'{_shown(value)}' has no time zone: add Z (UTC) or an offset such as +01:00"
    return None


def _times_parse_fast(column: pd.Series) -> bool:
    """True when every cell is ISO 8601 text with a zone offset (Arrow refuses naive texts)."""
    if pa is None:
        return False
    try:
        texts = pa.array(column, from_pandas=True)
        if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
            return False
        if texts.null_count:
            return False
        try:
            pc.cast(texts, pa.timestamp("ns", tz="UTC"))
        except pa.ArrowInvalid:  # perhaps surrounding spaces
            pc.cast(pc.utf8_trim_whitespace(texts), pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return False
    return True


def _check_times(column: pd.Series, problems: RowProblems) -> None:
    """Times must carry a zone: a naive time cannot be placed on the UTC timeline (DESIGN.md)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        problems.add(column.isna().to_numpy(), "time", "the time is missing")
        return
    if pd.api.types.is_datetime64_dtype(column.dtype):
        missing = column.isna().to_numpy()
        problems.add(missing, "time", "the time is missing")
        problems.add(~missing, "time", lambda p: f"'{column.iloc[p]}' has no time zone: add Z (UTC) or an offset "
                                                    "such as +01:00")
        return
    if _times_parse_fast(column):
        return
    positions, messages = [], []
    for position, cell in enumerate(column.to_numpy(dtype=object)):
        message = _time_problem(cell)
        if message is not None:
            positions.append(position)
            if len(messages) < _MAX_PROBLEMS_PER_COLUMN:
                messages.append(message)
    problems.add(np.asarray(positions, dtype=np.int64), "time", messages)


@dataclass
class _Vitals:
    """The input as arrays: numbers are float (NaN = missing); codes are int8 (-1 = missing)."""

    numbers: dict[str, np.ndarray]
    present: dict[str, np.ndarray]  # ~isnan(numbers[name]), computed once
    consciousness: np.ndarray  # index into ACVPU_LEVELS
    on_oxygen: np.ndarray      # 1 oxygen, 0 air
    spo2_scale: np.ndarray     # 1 or 2


def _read_input(df: pd.DataFrame, catalogue: Catalogue) -> _Vitals:
    """Check every cell against the catalogue and parse the columns to arrays; raise InputError
    listing the problems (all of them counted, the first ones per column named)."""
    duplicated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if duplicated:
        raise InputError([(None, c, "the column appears more than once") for c in duplicated])
    absent = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if absent:
        raise InputError([(None, c, "required column is missing") for c in absent])
    clashes = [c for c in (*OUTPUT_COLUMNS, *DETAIL_COLUMNS) if c in df.columns]
    if clashes:
        raise InputError([(None, c, "the input already has this output column; remove it first") for c in clashes])
    n, problems = len(df), RowProblems(INPUT_COLUMNS, shown_per_check=_MAX_PROBLEMS_PER_COLUMN)

    def flag(column: str, bad: np.ndarray, describe: Callable[[Any], str]) -> None:
        """Rows where `bad` is true; describe(cell) words the message (for the rows shown only)."""
        cells = df[column]
        problems.add(bad, column, lambda p: describe(cells.iloc[p]))

    problems.add(_blank_ids(df["patient_id"]), "patient_id", "the patient id is missing")
    _check_times(df["time"], problems)

    numbers = {}
    for name in NUMERIC_COLUMNS:
        if name not in df.columns:
            numbers[name] = np.full(n, np.nan)
            continue
        values, not_number = _read_numbers(df[name])
        flag(name, not_number, _not_a_number_message)
        entry = catalogue[name]
        low, high = entry.plausible
        implausible = (values < low) | (values > high)  # NaN compares False: missing is not implausible
        unit = f" {entry.unit_label}" if entry.unit_label else ""
        shown_range = f"{format_number(low, entry.precision)}–{format_number(high, entry.precision)}{unit}"
        flag(name, implausible,
                     lambda cell, r=shown_range: f"{_shown(cell)} is outside the plausible range {r}")
        if entry.integer:
            flag(name, ~implausible & (values != np.floor(values)) & ~np.isnan(values),
                         lambda cell: f"{_shown(cell)} is not a whole number")
        numbers[name] = values

    def codes(name: str, accepted: dict[str, int], message: Callable[[Any], str]) -> np.ndarray:
        if name not in df.columns:
            return np.full(n, -1, dtype=np.int8)
        values, bad = _read_codes(df[name], accepted)
        flag(name, bad, message)
        return values

    consciousness = codes("consciousness", {level: i for i, level in enumerate(ACVPU_LEVELS)},
                          lambda cell: f"'{_shown(cell)}' is not an ACVPU level ({', '.join(ACVPU_LEVELS)})")
    on_oxygen = codes("on_oxygen", ON_OXYGEN_WORDS,
                      lambda cell: f"'{_shown(cell)}' is not accepted: use true/false, yes/no or 1/0")
    spo2_scale = codes("spo2_scale", SPO2_SCALES,
                       lambda cell: f"'{_shown(cell)}' is not a NEWS2 SpO2 scale: use 1 or 2")
    problems.raise_if_any()
    spo2_scale[spo2_scale < 0] = 1  # scale 1 unless scale 2 is recorded (RCP: scale 2 must be prescribed)
    present = {name: ~np.isnan(values) for name, values in numbers.items()}
    return _Vitals(numbers, present, consciousness, on_oxygen, spo2_scale)


def _blank_ids(column: pd.Series) -> np.ndarray:
    """Where the patient id is empty, None or only spaces."""
    texts = _arrow_strings(column)
    if texts is not None:
        blank = pc.or_(pc.equal(pc.binary_length(texts), 0), pc.utf8_is_space(texts))
        return pc.fill_null(blank, True).to_numpy(zero_copy_only=False)
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.isna().to_numpy()
    ids, uniques = pd.factorize(column, use_na_sentinel=True)
    return np.array([_is_blank(u) for u in uniques] + [True], dtype=bool)[ids]


def _not_a_number_message(cell: Any) -> str:
    text = _shown(cell)
    hint = " (use a decimal point, not a comma)" if "," in text else ""
    return f"'{text}' is not a number{hint}"


# --- scores -----------------------------------------------------------------------------------------

# news2_missing text for each 7-bit mask of missing parameters (bit i = NEWS2_PARAMETERS[i]).
_MISSING_TEXT = tuple(", ".join(p for i, p in enumerate(NEWS2_PARAMETERS) if mask >> i & 1)
                      for mask in range(1 << len(NEWS2_PARAMETERS)))


def _news2_subscores(v: _Vitals, t: News2Thresholds) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Chart 1 points per parameter (int8; meaningless where unknown) and where each is known."""
    rr, spo2, sbp = v.numbers["resp_rate"], v.numbers["spo2"], v.numbers["sbp"]
    hr, temp = v.numbers["heart_rate"], v.numbers["temperature"]
    oxygen_known = v.on_oxygen >= 0
    on_oxygen = v.on_oxygen == 1
    # SpO2: scale 1, or scale 2 on air / on oxygen. With oxygen unrecorded a scale 2 value is known
    # only where both tables agree (at or below 92% on the RCP chart).
    spo2_points, spo2_known = t.spo2_scale1.score(spo2), v.present["spo2"].copy()
    scale2 = np.flatnonzero(v.spo2_scale == 2)
    if len(scale2):
        values = spo2[scale2]
        on_air, with_oxygen = t.spo2_scale2_on_air.score(values), t.spo2_scale2_on_oxygen.score(values)
        spo2_points[scale2] = np.where(on_oxygen[scale2], with_oxygen, on_air)
        spo2_known[scale2] &= oxygen_known[scale2] | (on_air == with_oxygen)
    consciousness_points = np.array([t.consciousness_points[level] for level in ACVPU_LEVELS], dtype=np.int8)
    points = {
        "resp_rate": t.resp_rate.score(rr),
        "spo2": spo2_points,
        "on_oxygen": np.where(on_oxygen, t.on_oxygen_points, t.on_air_points).astype(np.int8),
        "sbp": t.sbp.score(sbp),
        "heart_rate": t.heart_rate.score(hr),
        "consciousness": consciousness_points[v.consciousness],  # -1 (missing) is masked below
        "temperature": t.temperature.score(temp),
    }
    known = {
        "resp_rate": v.present["resp_rate"], "spo2": spo2_known, "on_oxygen": oxygen_known, "sbp": v.present["sbp"],
        "heart_rate": v.present["heart_rate"], "consciousness": v.consciousness >= 0,
        "temperature": v.present["temperature"],
    }
    return points, known


def _int_array(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(values.astype(np.int64), missing)


def _news2(v: _Vitals, t: News2Thresholds, detail: bool) -> dict[str, Any]:
    """NEWS2 total (RCP Chart 1), band (Chart 2): the higher of the aggregate band and, when any
    single parameter scores red_score_points, the red-score band; NA unless all seven are present."""
    points, known = _news2_subscores(v, t)
    missing_mask = np.zeros(len(v.consciousness), dtype=np.uint8)
    for bit, name in enumerate(NEWS2_PARAMETERS):
        missing_mask |= (~known[name]).astype(np.uint8) << bit
    incomplete = missing_mask != 0
    total = np.zeros(len(missing_mask), dtype=np.int16)
    for name in NEWS2_PARAMETERS:
        total += points[name]
    any_red = np.zeros(len(total), dtype=bool)
    for name in NEWS2_PARAMETERS:
        any_red |= known[name] & (points[name] >= t.red_score_points)
    band_rank = t.band_ranks.score(total)
    band_rank = np.maximum(band_rank, np.where(any_red, NEWS2_BANDS.index(t.red_score_band), 0)).astype(np.int8)
    band_rank[incomplete] = -1
    columns: dict[str, Any] = {
        "news2": _int_array(total, incomplete),
        "news2_band": pd.Categorical.from_codes(band_rank, categories=NEWS2_BANDS, ordered=True),
        "news2_missing": pd.Categorical.from_codes(missing_mask, categories=_MISSING_TEXT),
    }
    if detail:
        for name in NEWS2_PARAMETERS:
            columns[f"news2_{name}"] = _int_array(points[name], ~known[name])
        # True: a red score is present; False: complete set without one; NA: incomplete, none seen.
        columns["news2_any3"] = pd.arrays.BooleanArray(any_red, incomplete & ~any_red)
    return columns


def _qsofa(v: _Vitals, t: QsofaThresholds) -> tuple[np.ndarray, np.ndarray]:
    """Sepsis-3 qSOFA: RR >= 22, SBP <= 100, altered mentation (GCS < 15 or ACVPU not A) — numbers from
    [qsofa]. Returns (criteria met, criteria evaluable)."""
    rr, sbp, gcs = v.numbers["resp_rate"], v.numbers["sbp"], v.numbers["gcs"]
    altered_levels = np.array([level in t.altered_consciousness for level in ACVPU_LEVELS] + [False])
    consciousness_known = v.consciousness >= 0
    mentation_known = v.present["gcs"] | consciousness_known
    altered = (gcs < t.gcs_below) | (consciousness_known & altered_levels[v.consciousness])
    met = (rr >= t.resp_rate_at_or_above).astype(np.int8) + (sbp <= t.sbp_at_or_below) + altered
    evaluable = v.present["resp_rate"].astype(np.int8) + v.present["sbp"] + mentation_known
    return met, evaluable


def _sirs(v: _Vitals, t: SirsThresholds) -> tuple[np.ndarray, np.ndarray]:
    """ACCP/SCCM 1992 SIRS: T > 38 or < 36 °C, HR > 90, RR > 20, WBC > 12 or < 4 ×10⁹/L — numbers from
    [sirs]; PaCO2 and band forms are not recorded. Returns (criteria met, criteria evaluable)."""
    temp, hr, rr, wbc = (v.numbers[c] for c in ("temperature", "heart_rate", "resp_rate", "wbc"))
    met = (((temp > t.temperature_above) | (temp < t.temperature_below)).astype(np.int8) + (hr > t.heart_rate_above)
           + (rr > t.resp_rate_above) + ((wbc > t.wbc_above) | (wbc < t.wbc_below)))
    evaluable = sum(v.present[c].astype(np.int8) for c in ("temperature", "heart_rate", "resp_rate", "wbc"))
    return met, evaluable


def score_frame(df: pd.DataFrame, thresholds: Thresholds | None = None, *, detail: bool = False,
                catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Score each observation set (row): NEWS2 (RCP 2017), qSOFA (Sepsis-3), SIRS (ACCP/SCCM 1992).

    Input columns: patient_id, time (ISO 8601 text with a zone, or tz-aware datetimes) and any of
    resp_rate, spo2, spo2_scale (1 or 2; 1 when absent or empty), on_oxygen (true/false, yes/no,
    1/0), sbp, heart_rate, consciousness (A, C, V, P, U), temperature (°C), wbc (10⁹/L), gcs.
    Output: the same rows, index and order, input columns unchanged, plus
    * news2 (Int64 0-20; NA unless all seven NEWS2_PARAMETERS are present);
    * news2_band (ordered categorical low < low-medium < medium < high; NA with news2);
    * news2_missing (categorical text: the missing parameters in NEWS2_PARAMETERS order,
      ", "-separated; "" when none);
    * qsofa (Int64 0-3) and sirs (Int64 0-4): criteria met among those that can be evaluated; NA
      when none can.
    detail=True adds the seven news2_<parameter> sub-scores (Int64), news2_any3 (boolean; NA when
    the set is incomplete and no parameter scores 3) and qsofa/sirs_criteria_evaluated (Int64).

    Raises InputError naming the row (1-based data row) and column for bad input, and
    ThresholdsError when the thresholds file is invalid.
    """
    columns = score_columns(df, thresholds, detail=detail, catalogue=catalogue)
    out = df.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    for name in (*OUTPUT_COLUMNS, *(DETAIL_COLUMNS if detail else ())):
        out[name] = columns[name]  # positional: duplicate index labels are fine
    return out


def score_columns(df: pd.DataFrame, thresholds: Thresholds | None = None, *, detail: bool = False,
                  catalogue: Catalogue | None = None) -> dict[str, Any]:
    """score_frame's output columns as arrays (same checks, same InputError), without building the
    output frame: the alert engine scores every observation set and reads a few columns back."""
    thresholds = thresholds if thresholds is not None else default_thresholds()
    vitals = _read_input(df, catalogue if catalogue is not None else default_catalogue())
    columns = _news2(vitals, thresholds["news2"], detail)
    qsofa_met, qsofa_evaluable = _qsofa(vitals, thresholds["qsofa"])
    sirs_met, sirs_evaluable = _sirs(vitals, thresholds["sirs"])
    columns["qsofa"] = _int_array(qsofa_met, qsofa_evaluable == 0)
    columns["sirs"] = _int_array(sirs_met, sirs_evaluable == 0)
    if detail:
        columns["qsofa_criteria_evaluated"] = _int_array(qsofa_evaluable, np.zeros(len(df), dtype=bool))
        columns["sirs_criteria_evaluated"] = _int_array(sirs_evaluable, np.zeros(len(df), dtype=bool))
    return columns


def news2_response(band: str, news2: int | None = None,
                   thresholds: Thresholds | None = None) -> tuple[str, float, str]:
    """(frequency of monitoring, its interval in hours, clinical response) from RCP 2017 Chart 4.

    The low band has two rows: aggregate 0 ('routine', minimum 12-hourly) and 1-4 (minimum
    4-6-hourly). Without `news2` the low band gets the 1-4 row, the more frequent of the two.
    """
    if band not in NEWS2_BANDS:
        raise ValueError(f"unknown NEWS2 band {band!r}; known: {', '.join(NEWS2_BANDS)}")
    t: News2Thresholds = (thresholds if thresholds is not None else default_thresholds())["news2"]
    row = t.responses[band]
    if band == "low" and news2 is not None and not pd.isna(news2) and news2 <= t.routine_at_or_below:
        row = t.responses["routine"]
    return row.frequency, row.frequency_hours, row.response
