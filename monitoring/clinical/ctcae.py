"""CTCAE v5.0 grading of laboratory values, temperature and nurse-graded symptoms.

Every number comes from the `[ctcae]` section of data/thresholds.toml (declared here by the model
`CtcaeThresholds`, registered with monitoring.clinical.thresholds); this module names them, it never repeats
them. The conventions (clinical.md §1.2, those of pharmaverse/admiral unless said otherwise):

* Ranges are half-open and read from the worse end: Neutrophil count decreased grade 2
  "<1.5 - 1.0 x 10e9/L" is 1.0 <= ANC < 1.5. A value below an absolute cut-off reaches that grade
  whatever the lab's LLN ("a value < 1500 is at least grade 2 even if the lab LLN is lower").
* Grade 1 "<LLN" / ">ULN" uses the lab's own reference range given with the value. When the value
  has none, the local default range of `[ctcae.default_reference_ranges]` is used (a default is
  never used against the lab's other limit when it would contradict it). Without either, grade 1
  cannot be decided and a value that reaches no absolute cut-off is graded NA ("not gradable"),
  as admiral does, unless the other limit settles it (a value at or above the ULN is below no
  LLN); grades 2-4 on absolute cut-offs never depend on a reference range.
* Multiples of ULN use strict '>' (">3.0 x ULN"); bounds CTCAE prints as inclusive ("38.0 - 39.0",
  "1.5 - 3.0 x baseline") are marked ">=" in the thresholds file.
* Creatinine: highest grade of the ULN arm and the baseline arm (">1.5 - 3.0 x baseline" grade 2,
  ">3.0 x baseline" grade 3); the baseline arm cannot give grade 4.
* Bilirubin, AST, ALT, ALP "if baseline was abnormal": when a baseline is given and it is above
  the ULN, the multiples apply to the baseline instead of the ULN.
* A number alone cannot separate some grades (clinical.md §1.2 item 6): the engine returns the
  lower grade with a note saying what would raise it (hypokalemia 1 vs 2, hyponatremia 2 vs 3,
  fever 3 vs 4). admiral assumes the worse case for hypokalemia and hyponatremia; we do not.
* Comparisons are exact for decimal input: the difference value - bound (bound = cut-off, or
  k x ULN, or k x baseline) is rounded to 9 decimals before its sign is read, so 1.8 mg/dL is
  exactly 1.5 x ULN 1.2 (float arithmetic gives 1.7999999999999998 for the product) and grade 1.
  Values carry at most 6 decimals after unit conversion (monitoring.clinical.units), far above 1e-9.
* Units: cut-offs are stored per unit exactly as CTCAE prints them (both unit systems are CTCAE's
  own rounded pairs, never converted from each other). A value in a unit with printed cut-offs is
  graded in that unit; otherwise value, reference range and baseline are converted to the
  catalogue's canonical unit first. Multiples of ULN/baseline are graded in the unit as given.
* Nurse-graded symptoms (catalogue kind "grade") keep the grade entered, with the catalogue's
  CTCAE term. Codes without a numeric CTCAE definition (heart rate, blood pressure, SpO2, coded
  values) get grade NA and an empty term: those CTCAE terms depend on symptoms and interventions.

Two levels:

* `grade_frame(df)` grades the long observation format (monitoring.clinical.inputs) and returns the input
  rows unchanged plus ctcae_term, ctcae_grade (Int64), ctcae_version and ctcae_note.
* `grade_canonical(codes, values_in, units_in, ref_low, ref_high, baseline)` is the vectorised
  core the engine calls on already validated arrays; see its docstring.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import gt, lt
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from monitoring.clinical import thresholds as thresholds_module
from monitoring.clinical.catalogue import Catalogue, default_catalogue
from monitoring.clinical.inputs import read_long_frame, str_array
from monitoring.clinical.thresholds import (
    Increasing,
    Refused,
    SectionModel,
    Source,
    Text,
    ThresholdsError,
    ThresholdsModel,
)

SECTION = "ctcae"
SUPPORTED_VERSIONS = ("5.0",)
DIRECTIONS = ("low", "high")
BASELINE_APPLIES = ("always", "if_baseline_above_uln")
COMPARISON_DECIMALS = 9
OUTPUT_COLUMNS = ("ctcae_term", "ctcae_grade", "ctcae_version", "ctcae_note")

_OPERATORS = {"low": ("<", "<="), "high": (">", ">=")}
_CODE_PATTERN = r"^[a-z][a-z0-9_]*$"


# --- the section's models ----------------------------------------------------------------------------

Operator = Literal["<", "<=", ">", ">="]
Grade = Annotated[int, Field(ge=1, le=4)]
Cutoffs = Annotated[list[float], Field(min_length=1)]


@dataclass(frozen=True)
class Arm:
    """Cut-offs of one kind: value OP bound[i] gives grades[i] (the highest grade reached wins)."""

    bounds: tuple[float, ...]
    grades: tuple[int, ...]
    operators: tuple[str, ...]


def _arm(bounds: list[float], grades: list[int] | None, operators: list[str] | None, *, first: int,
         direction: str, origin: str) -> Arm:
    """An arm with its grades (default first, first + 1, ...) and operators (default '<' low, '>' high);
    Refused names `origin` (the cut-offs) or the list that does not fit them."""
    count = len(bounds)
    if grades is None:
        grades = list(range(first, first + count))
        if grades[-1] > 4:
            raise Refused(origin, f"{count} cut-offs give grades {first} to {grades[-1]}: CTCAE grades stop at 4 "
                                  "(remove cut-offs or give a 'grades' list)")
    elif len(grades) != count or not all(a < b for a, b in zip(grades, grades[1:])):
        raise Refused("grades", f"expected {count} grades from 1 to 4, increasing strictly, found {grades}")
    allowed = _OPERATORS[direction]
    if operators is None:
        operators = [allowed[0]] * count
    elif len(operators) != count or not all(op in allowed for op in operators):
        raise Refused("operators", f"expected {count} of {' or '.join(repr(a) for a in allowed)} "
                                   f"(direction {direction}), found {operators}")
    return Arm(tuple(bounds), tuple(grades), tuple(operators))


class BaselineArm(ThresholdsModel):
    """Multiples of the patient's baseline, and when they apply (see the module docstring)."""

    applies: Literal[BASELINE_APPLIES] = Field(description=(  # type: ignore[valid-type]
        "always: the highest grade of the ULN and baseline arms; if_baseline_above_uln: the baseline arm "
        "replaces the ULN arm when the baseline is above the ULN"))
    multiples: Annotated[Increasing, Field(min_length=1)] = Field(description="Positive multiples of the baseline")
    grades: list[Grade] | None = Field(None, description="Grade of each multiple (default 2, 3, ...)")
    operators: list[Operator] | None = Field(None, description="Comparison of each multiple (default '>')")

    @model_validator(mode="after")
    def _fits_its_multiples(self) -> BaselineArm:
        if self.multiples[0] <= 0:
            raise Refused("multiples", f"expected positive multiples, found {self.multiples}")
        _ = self.arm
        return self

    @functools.cached_property
    def arm(self) -> Arm:
        return _arm(self.multiples, self.grades, self.operators, first=2, direction="high", origin="multiples")


class Term(ThresholdsModel):
    """One CTCAE term graded from numbers (a [ctcae.terms.<key>] table; keys explained in thresholds.toml)."""

    key: SkipJsonSchema[str] = Field("", exclude=True)  # the table's key, set by CtcaeThresholds
    code: str = Field(pattern=_CODE_PATTERN, description="Observation code (data/catalogue.toml)")
    name: Text = Field(alias="term", description="CTCAE v5.0 term, verbatim")
    direction: Literal[DIRECTIONS] = Field(description=(  # type: ignore[valid-type]
        "low: a value below a cut-off is abnormal; high: above"))
    unit_cutoffs: dict[Text, Cutoffs] | None = Field(None, alias="thresholds", description=(
        "Absolute cut-offs per UCUM unit, as CTCAE prints them: low decrease strictly, high increase strictly"))
    uln_cutoffs: Annotated[Increasing, Field(min_length=1)] | None = Field(None, alias="uln_multiples", description=(
        "Instead of thresholds: multiples of the ULN (at least 1, strict '>'); direction high only"))
    grades: list[Grade] | None = Field(None, description="Grade of each cut-off (default [2, 3, ...] with a grade-1 "
                                                         "limit, else [1, 2, ...])")
    operators: list[Operator] | None = Field(None, description="Comparison of each cut-off (default '<' low, '>' "
                                                               "high; '>=' or '<=' where CTCAE includes the bound)")
    grade1_below_lln: bool = Field(False, description="Grade 1 when the value is below the lab's LLN (low only)")
    grade1_above_uln: bool = Field(False, description="Grade 1 when the value is above the lab's ULN (high only)")
    baseline: BaselineArm | None = Field(None, description="Baseline-relative arm (with uln_multiples)")
    grade_notes: dict[Literal["0", "1", "2", "3", "4"], Text] = Field({}, alias="notes", description=(
        "Shown with that grade: what a number alone cannot decide"))
    source_note: Text | None = Field(None, description="Where the term's numbers come from when not clinical.md")

    grade1_limit = property(lambda self: self.grade1_below_lln or self.grade1_above_uln)
    relative = property(lambda self: self.uln_cutoffs is not None)  # multiples of ULN/baseline, unit-free

    @model_validator(mode="after")
    def _consistent(self) -> Term:
        flag, other = (("grade1_below_lln", "grade1_above_uln") if self.direction == "low"
                       else ("grade1_above_uln", "grade1_below_lln"))
        if other in self.model_fields_set:
            raise Refused(other, f"does not apply to direction {self.direction} (use {flag})")
        if (self.unit_cutoffs is None) == (self.uln_cutoffs is None):
            raise Refused(None, "give either thresholds (absolute cut-offs per unit) or uln_multiples")
        if self.unit_cutoffs is not None:
            self._check_units(self.unit_cutoffs)
        elif self.direction != "high":
            raise Refused("uln_multiples", "multiples of ULN apply to direction high only")
        elif self.uln_cutoffs[0] < 1:
            raise Refused("uln_multiples", f"expected multiples of at least 1, found {self.uln_cutoffs}")
        grades = (self.uln_multiples or next(iter(self.thresholds.values()))).grades
        if self.grade1_limit and grades[0] < 2:
            raise Refused("grades", f"grade 1 comes from {flag}: cut-offs give grades 2-4")
        if self.baseline is not None and self.uln_cutoffs is None:
            raise Refused("baseline", "a baseline arm needs uln_multiples")
        return self

    def _check_units(self, units: dict[str, list[float]]) -> None:
        if not units:
            raise Refused("thresholds", "needs at least one unit")
        word, ordered = ("increase", lt) if self.direction == "high" else ("decrease", gt)
        count = None
        for unit, bounds in units.items():
            if not all(ordered(a, b) for a, b in zip(bounds, bounds[1:])):
                raise Refused(f"thresholds.{unit}", f"numbers must {word} strictly: {bounds}")
            if count is None:
                count = len(bounds)
                _ = self.thresholds  # grades and operators fit the first unit's cut-offs
            elif len(bounds) != count:
                raise Refused(f"thresholds.{unit}", f"expected {count} cut-offs like the other units, found "
                                                    f"{len(bounds)}")

    @functools.cached_property
    def thresholds(self) -> dict[str, Arm]:
        """Unit -> absolute cut-offs."""
        return {unit: _arm(bounds, self.grades, self.operators, first=2 if self.grade1_limit else 1,
                           direction=self.direction, origin=f"thresholds.{unit}")
                for unit, bounds in (self.unit_cutoffs or {}).items()}

    @functools.cached_property
    def uln_multiples(self) -> Arm | None:
        if self.uln_cutoffs is None:
            return None
        return _arm(self.uln_cutoffs, self.grades, self.operators, first=2 if self.grade1_limit else 1,
                    direction=self.direction, origin="uln_multiples")

    @functools.cached_property
    def notes(self) -> dict[int, str]:
        return {int(grade): note for grade, note in self.grade_notes.items()}


class DefaultRange(ThresholdsModel):
    low: float = Field(description="Lower limit of normal")
    high: float = Field(description="Upper limit of normal")
    unit: Text = Field(description="Unit of both limits (UCUM)")

    @model_validator(mode="after")
    def _low_below_high(self) -> DefaultRange:
        if not self.low < self.high:
            raise Refused(None, f"low {self.low:g} must be below high {self.high:g}")
        return self


class DefaultRanges(SectionModel):
    """One typical adult interval per observation code (`anc = { low = 1.8, high = 7.5, unit = "10*9/L" }`)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, DefaultRange]


@thresholds_module.section(SECTION)
class CtcaeThresholds(SectionModel):
    """The [ctcae] section: terms by code, default reference ranges, version and sources."""

    version: Literal[SUPPORTED_VERSIONS] = Field(description="CTCAE version the terms transcribe")  # type: ignore
    terms_by_key: dict[str, Term] = Field(alias="terms", min_length=1, description="One table per graded term")
    ranges: DefaultRanges | None = Field(None, alias="default_reference_ranges", description=(
        "Used only for grade 1 and ULN multiples when a result comes without the lab's range"))

    @field_validator("terms_by_key", mode="before")
    @classmethod
    def _terms_know_their_key(cls, terms: Any) -> Any:
        if not isinstance(terms, dict):
            return terms
        return {key: {**term, "key": key} if isinstance(term, dict) else term for key, term in terms.items()}

    @functools.cached_property
    def terms(self) -> tuple[Term, ...]:
        return tuple(self.terms_by_key.values())

    @functools.cached_property
    def default_ranges(self) -> Mapping[str, DefaultRange]:
        return dict(self.ranges.model_extra or {}) if self.ranges is not None else {}

    @property
    def default_ranges_source(self) -> Source | None:
        return self.ranges.source if self.ranges is not None else None

    @functools.cached_property
    def by_code(self) -> dict[str, tuple[Term, ...]]:
        result: dict[str, list[Term]] = {}
        for term in self.terms:
            result.setdefault(term.code, []).append(term)
        return {code: tuple(terms) for code, terms in result.items()}


def load_ctcae(path: Path | str | None = None) -> CtcaeThresholds:
    """Only the [ctcae] section of a thresholds file (default: the configured thresholds.toml), for tools
    and tests that need the CTCAE grades alone (the application passes the whole validated file)."""
    return thresholds_module.load_sections([SECTION], path)[SECTION]


@functools.cache
def _default_ctcae() -> CtcaeThresholds:
    return load_ctcae()


def _resolve(thresholds: Any) -> CtcaeThresholds:
    if thresholds is None:
        return _default_ctcae()
    if isinstance(thresholds, CtcaeThresholds):
        return thresholds
    return thresholds[SECTION]  # a monitoring.clinical.thresholds.Thresholds


# --- vectorised grading ----------------------------------------------------------------------------

def _compare(values: np.ndarray, bound: np.ndarray | float, operator: str) -> np.ndarray:
    """values OP bound, decided on the difference rounded to 9 decimals (NaN compares False)."""
    with np.errstate(invalid="ignore"):
        difference = np.round(values - bound, COMPARISON_DECIMALS)
        if operator == "<":
            return difference < 0
        if operator == "<=":
            return difference <= 0
        if operator == ">":
            return difference > 0
        return difference >= 0


def _apply_arm(grade: np.ndarray, values: np.ndarray, arm: Arm, scale: np.ndarray | float = 1.0,
               where: np.ndarray | None = None) -> np.ndarray:
    """Raise `grade` to the arm's grade wherever the value passes the arm's bound (x scale)."""
    for bound, level, operator in zip(arm.bounds, arm.grades, arm.operators):
        hit = _compare(values, np.multiply(bound, scale), operator)
        if where is not None:
            hit &= where
        grade = np.where(hit & (grade < level), np.int8(level), grade)
    return grade


def _fmt(number: float) -> str:
    """A multiple as CTCAE prints it: 1.5, 3.0, 20.0."""
    return repr(float(number))


# Why a row reached its grade, when the reason belongs in the note.
_PLAIN, _DEFAULT_LIMIT, _BASELINE_ARM, _ABNORMAL_BASELINE = 0, 1, 2, 3


class _Vocabulary:
    """Distinct output texts (terms and notes) and their ids; id 0 is the empty text."""

    def __init__(self) -> None:
        self.words: list[str] = [""]
        self._ids: dict[str, int] = {"": 0}

    def id(self, text: str) -> int:
        if text not in self._ids:
            self._ids[text] = len(self.words)
            self.words.append(text)
        return self._ids[text]


@dataclass
class _TermResult:
    grade: np.ndarray      # int8, -1 = not gradable
    reason: np.ndarray     # int8, one of _PLAIN, _DEFAULT_LIMIT, _BASELINE_ARM, _ABNORMAL_BASELINE


def _grade_term(term: Term, unit: str, values: np.ndarray, lln: np.ndarray, uln: np.ndarray, base: np.ndarray,
                lln_is_default: np.ndarray, uln_is_default: np.ndarray) -> _TermResult:
    """Grade one term on arrays in one grading unit; *_is_default mark limits taken from the defaults."""
    m = len(values)
    grade = np.zeros(m, np.int8)
    reason = np.zeros(m, np.int8)
    if not term.relative:
        grade = _apply_arm(grade, values, term.thresholds[unit])
        undecided = np.zeros(m, bool)
        if term.grade1_limit:
            low = term.direction == "low"
            limit, from_default = (lln, lln_is_default) if low else (uln, uln_is_default)
            first = _compare(values, limit, "<" if low else ">") & (grade < 1)
            grade[first] = 1
            reason[first & from_default] = _DEFAULT_LIMIT
            undecided = _limit_unknown(values, lln, uln, low)
    else:
        uln_arm = np.zeros(m, np.int8)
        if term.grade1_limit:
            uln_arm[_compare(values, uln, ">")] = 1
        uln_arm = _apply_arm(uln_arm, values, term.uln_multiples, uln)
        undecided = _limit_unknown(values, lln, uln, False)
        grade = uln_arm
        reason[uln_is_default & (grade > 0)] = _DEFAULT_LIMIT
        if term.baseline is not None:
            has_base = ~np.isnan(base)
            base_arm = _apply_arm(np.zeros(m, np.int8), values, term.baseline.arm, base, where=has_base)
            if term.baseline.applies == "always":
                grade = np.maximum(uln_arm, base_arm)
                reason[base_arm > uln_arm] = _BASELINE_ARM
            else:
                abnormal = has_base & _compare(base, uln, ">")
                grade = np.where(abnormal, base_arm, uln_arm)
                reason[abnormal] = _ABNORMAL_BASELINE
    grade[undecided & (grade == 0)] = -1
    grade[np.isnan(values)] = -1
    reason[grade <= 0] = _PLAIN
    return _TermResult(grade, reason)


def _limit_unknown(values: np.ndarray, lln: np.ndarray, uln: np.ndarray, low: bool) -> np.ndarray:
    """Rows whose grade-1 limit is missing and cannot be bounded by the other limit (LLN <= ULN):
    a value at or above the ULN is not below any LLN, a value at or below the LLN not above any ULN."""
    if low:
        return np.isnan(lln) & ~_compare(values, uln, ">=")
    return np.isnan(uln) & ~_compare(values, lln, "<=")


def _note(term: Term, grade: int, reason: int, default_limit: str) -> str:
    """The note for one term, grade and reason (term notes first: they say what would change it)."""
    parts = [term.notes[grade]] if grade in term.notes else []
    if reason == _DEFAULT_LIMIT:
        if term.relative:
            parts.append(f"ULN {default_limit} is the local default (the result came without a reference range)")
        else:
            which = "LLN" if term.direction == "low" else "ULN"
            parts.append(f"Grade 1 by the local default {which} {default_limit} "
                         "(the result came without a reference range)")
    elif reason == _BASELINE_ARM:
        arm = term.baseline.arm
        i = arm.grades.index(grade)
        parts.append(f"Grade {grade} by the baseline arm ({arm.operators[i]} {_fmt(arm.bounds[i])} x baseline)")
    elif reason == _ABNORMAL_BASELINE:
        parts.append("Baseline above the ULN: graded as multiples of the baseline")
    return "; ".join(parts)


def _as_float(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    array = np.asarray(values)
    if array.dtype.kind in "fiu":
        return array.astype(float, copy=False)
    return pd.to_numeric(pd.Series(array, dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _factorize_text(values: Any, n: int) -> tuple[np.ndarray, list[str]]:
    """Ids and distinct stripped texts ("" for missing) of a column of codes or units."""
    if values is None:
        return np.zeros(n, np.int64), [""]
    ids, uniques = pd.factorize(values if isinstance(values, (pd.Series, pd.api.extensions.ExtensionArray))
                                else np.asarray(values, dtype=object))
    words = ["" if pd.isna(u) else str(u).strip() for u in uniques] + [""]
    return np.where(ids < 0, len(words) - 1, ids), words


def grade_canonical(codes: Sequence[str], values_in: Sequence[float], units_in: Sequence[str] | None = None,
                    ref_low: Sequence[float] | None = None, ref_high: Sequence[float] | None = None,
                    baseline: Sequence[float] | None = None, *, thresholds: Any = None,
                    catalogue: Catalogue | None = None
                    ) -> tuple[pd.api.extensions.ExtensionArray, pd.api.extensions.ExtensionArray,
                               pd.api.extensions.ExtensionArray]:
    """Grade arrays of validated observations; return (terms, grades, notes), one entry per row.

    codes are catalogue codes; values_in are numbers in units_in (a UCUM code or label the
    catalogue accepts for the code; empty or None = the canonical unit); ref_low, ref_high and
    baseline are in the same unit as the value (NaN = not given). The output of
    `monitoring.clinical.inputs.read_long_frame` fits: code, value_in, unit_in, ref_low, ref_high, baseline.
    Any array-like works (numpy, pandas, lists).

    Returns pandas arrays: terms ("str": the CTCAE term; "" for codes without a numeric CTCAE
    definition, and for grade 0 or NA of codes with two terms, e.g. potassium), grades (Int64:
    NA = no definition, or grade 1 undecidable without any reference range) and notes ("str", ""
    when none). `thresholds` is a CtcaeThresholds, a loaded Thresholds, or None for the [ctcae]
    section of the configured thresholds file. Raises ThresholdsError when a code's term has no
    cut-offs in the canonical unit (a thresholds file that does not fit the catalogue).
    """
    table = _resolve(thresholds)
    catalogue = catalogue if catalogue is not None else default_catalogue()
    n = len(codes)
    code_ids, code_words = _factorize_text(codes, n)
    unit_ids, unit_words = _factorize_text(units_in, n)
    values = _as_float(values_in, n)
    lows, highs, bases = _as_float(ref_low, n), _as_float(ref_high, n), _as_float(baseline, n)
    vocabulary = _Vocabulary()
    term_ids = np.zeros(n, np.int64)
    note_ids = np.zeros(n, np.int64)
    grades = np.full(n, -1, dtype=np.int8)
    if n:
        width = len(unit_words)
        group_ids, group_keys = pd.factorize(code_ids * width + unit_ids)
        order = np.argsort(group_ids, kind="stable")
        for positions in np.split(order, np.flatnonzero(np.diff(group_ids[order])) + 1):
            key = group_keys[group_ids[positions[0]]]
            code, unit = code_words[key // width], unit_words[key % width]
            term_ids[positions], grades[positions], note_ids[positions] = _grade_group(
                table, catalogue, vocabulary, code, unit, values[positions], lows[positions], highs[positions],
                bases[positions])
    return (str_array(vocabulary.words, term_ids), pd.arrays.IntegerArray(grades.astype(np.int64), grades < 0),
            str_array(vocabulary.words, note_ids))


def _grade_group(table: CtcaeThresholds, catalogue: Catalogue, vocabulary: _Vocabulary, code: str, unit: str,
                 values: np.ndarray, lows: np.ndarray, highs: np.ndarray, bases: np.ndarray):
    """Grade the rows of one (code, unit); returns (term ids, grades int8 with -1 = NA, note ids)."""
    m = len(values)
    nothing = (0, np.full(m, -1, np.int8), 0)
    if code not in catalogue:
        return nothing
    entry = catalogue[code]
    if entry.kind == "grade":
        grade = np.where(np.isnan(values), -1, np.nan_to_num(values, nan=-1)).astype(np.int8)
        return vocabulary.id(entry.ctcae_term or ""), grade, 0
    terms = table.by_code.get(code, ())
    if entry.kind != "numeric" or not terms:
        return nothing
    conversion = entry.conversion(unit or None)
    default = table.default_ranges.get(code)
    results, default_texts = [], []
    for term in terms:
        if term.relative or conversion.unit in term.thresholds:
            grading = conversion
            v, lo, hi, b = values, lows, highs, bases
        else:
            if entry.unit not in term.thresholds:
                raise ThresholdsError(f"{SECTION}.terms.{term.key}.thresholds: no cut-offs for the canonical unit "
                                      f"'{entry.unit}' of {code} (units given: {', '.join(term.thresholds)})")
            grading = entry.conversion(None)
            if conversion.is_identity:
                v, lo, hi, b = values, lows, highs, bases
            else:
                v, lo, hi, b = (conversion.to_canonical_array(a) for a in (values, lows, highs, bases))
        default_low = default_high = math.nan
        default_text = ""
        if default is not None:
            to_canonical = entry.conversion(default.unit)
            default_low = grading.from_canonical(to_canonical.to_canonical(default.low))
            default_high = grading.from_canonical(to_canonical.to_canonical(default.high))
            shown = default.low if term.direction == "low" and not term.relative else default.high
            default_text = entry.format_value(shown, default.unit)
        # A default fills a missing limit unless it contradicts the lab's other limit.
        with np.errstate(invalid="ignore"):
            fill_low = np.isnan(lo) & (not math.isnan(default_low)) & ~(hi <= default_low)
            fill_high = np.isnan(hi) & (not math.isnan(default_high)) & ~(lo >= default_high)
        lln = np.where(fill_low, default_low, lo)
        uln = np.where(fill_high, default_high, hi)
        results.append(_grade_term(term, grading.unit, v, lln, uln, b, fill_low, fill_high))
        default_texts.append(default_text)
    if len(results) == 1:
        best = np.zeros(m, np.int64)
        grade, reason = results[0].grade, results[0].reason
        term_id = np.full(m, vocabulary.id(terms[0].name), np.int64)
    else:
        stacked = np.vstack([r.grade for r in results])
        best = np.argmax(stacked, axis=0)
        rows = np.arange(m)
        grade = stacked[best, rows]
        reason = np.vstack([r.reason for r in results])[best, rows]
        abnormal = grade > 0
        grade = np.where(~abnormal & (stacked < 0).any(axis=0), np.int8(-1), grade)
        names = np.array([vocabulary.id(t.name) for t in terms], np.int64)
        term_id = np.where(abnormal, names[best], 0)
    # One note per distinct (term, reason, grade).
    keys = (best * 4 + reason) * 6 + (grade.astype(np.int64) + 1)
    key_ids, distinct = pd.factorize(keys)
    texts = np.array([vocabulary.id(_note(terms[k // 24], int(k % 6) - 1, int(k // 6 % 4), default_texts[k // 24]))
                      for k in distinct], dtype=np.int64)
    return term_id, grade.astype(np.int8), texts[key_ids]


def grade_frame(df: pd.DataFrame, thresholds: Any = None, *, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Grade the long observation format (see monitoring.clinical.inputs) with CTCAE v5.0.

    Returns a copy of `df` (rows unchanged, same order and index) with four columns added:
    ctcae_term (str), ctcae_grade (Int64; 0 = not abnormal, NA = no numeric CTCAE definition or
    not gradable), ctcae_version ("5.0") and ctcae_note (str, "" when none). Raises InputError
    naming every bad row and column.
    """
    table = _resolve(thresholds)
    catalogue = catalogue if catalogue is not None else default_catalogue()
    parsed = read_long_frame(df, catalogue=catalogue)
    terms, grades, notes = grade_canonical(
        parsed["code"].array, parsed["value_in"].to_numpy(), parsed["unit_in"].array, parsed["ref_low"].to_numpy(),
        parsed["ref_high"].to_numpy(), parsed["baseline"].to_numpy(), thresholds=table, catalogue=catalogue)
    out = df.copy()
    out["ctcae_term"] = terms
    out["ctcae_grade"] = grades
    out["ctcae_version"] = str_array([table.version], np.zeros(len(df), np.int64))
    out["ctcae_note"] = notes
    return out
