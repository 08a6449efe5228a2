"""CTCAE v5.0 grading of laboratory values, temperature and nurse-graded symptoms.

Every number comes from the `[ctcae]` section of data/thresholds.toml (parsed here by
`parse_ctcae`, registered with monitoring.clinical.thresholds); this module names them, it never repeats
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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitoring.clinical import thresholds as thresholds_module
from monitoring.clinical.catalogue import Catalogue, default_catalogue
from monitoring.clinical.inputs import read_long_frame, str_array
from monitoring.clinical.thresholds import Section, Source, ThresholdsError

SECTION = "ctcae"
SUPPORTED_VERSIONS = ("5.0",)
DIRECTIONS = ("low", "high")
BASELINE_APPLIES = ("always", "if_baseline_above_uln")
COMPARISON_DECIMALS = 9
OUTPUT_COLUMNS = ("ctcae_term", "ctcae_grade", "ctcae_version", "ctcae_note")

_TERM_KEYS = {"code", "term", "direction", "thresholds", "uln_multiples", "grades", "operators",
              "grade1_below_lln", "grade1_above_uln", "baseline", "notes", "source_note"}
_BASELINE_KEYS = {"applies", "multiples", "grades", "operators"}
_SECTION_KEYS = {"source", "version", "terms", "default_reference_ranges"}
_RANGE_KEYS = {"low", "high", "unit"}
_OPERATORS = {"low": ("<", "<="), "high": (">", ">=")}
_CODE_RE = re.compile(r"[a-z][a-z0-9_]*")


# --- the parsed section ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Arm:
    """Cut-offs of one kind: value OP bound[i] gives grades[i] (the highest grade reached wins)."""

    bounds: tuple[float, ...]
    grades: tuple[int, ...]
    operators: tuple[str, ...]


@dataclass(frozen=True)
class BaselineArm:
    """Multiples of the patient's baseline, and when they apply (see the module docstring)."""

    arm: Arm
    applies: str


@dataclass(frozen=True)
class Term:
    """One CTCAE term graded from numbers (a [ctcae.terms.<key>] table)."""

    key: str
    code: str
    name: str
    direction: str
    grade1_limit: bool                      # grade 1 "<LLN" (low) or ">ULN" (high)
    thresholds: Mapping[str, Arm] = field(default_factory=dict, hash=False)  # unit -> absolute cut-offs
    uln_multiples: Arm | None = None
    baseline: BaselineArm | None = None
    notes: Mapping[int, str] = field(default_factory=dict, hash=False)
    source_note: str | None = None

    @property
    def relative(self) -> bool:
        """Graded as multiples of ULN/baseline (unit-free) rather than on absolute cut-offs."""
        return self.uln_multiples is not None


@dataclass(frozen=True)
class DefaultRange:
    low: float
    high: float
    unit: str


@dataclass(frozen=True)
class CtcaeThresholds:
    """The parsed [ctcae] section: terms by code, default reference ranges, version and sources."""

    version: str
    source: Source
    terms: tuple[Term, ...]
    default_ranges: Mapping[str, DefaultRange] = field(default_factory=dict, hash=False)
    default_ranges_source: Source | None = None

    @functools.cached_property
    def by_code(self) -> dict[str, tuple[Term, ...]]:
        result: dict[str, list[Term]] = {}
        for term in self.terms:
            result.setdefault(term.code, []).append(term)
        return {code: tuple(terms) for code, terms in result.items()}


def _grades(section: Section, parts: tuple[str, ...], count: int, first_default: int,
            origin: tuple[str, ...]) -> tuple[int, ...]:
    """The 'grades' list at `parts`, or the default first_default, first_default + 1, ... ."""
    if not section.has(*parts):
        grades = tuple(range(first_default, first_default + count))
        if grades and grades[-1] > 4:
            raise section.fail(f"{count} cut-offs give grades {first_default} to {grades[-1]}: CTCAE grades stop at 4 "
                               "(remove cut-offs or give a 'grades' list)", *origin)
        return grades
    raw = section.raw(*parts)
    if (not isinstance(raw, list) or len(raw) != count
            or not all(isinstance(g, int) and not isinstance(g, bool) and 1 <= g <= 4 for g in raw)
            or not all(a < b for a, b in zip(raw, raw[1:]))):
        raise section.fail(f"expected {count} grades from 1 to 4, increasing strictly, found {raw!r}", *parts)
    return tuple(raw)


def _operators(section: Section, parts: tuple[str, ...], count: int, direction: str) -> tuple[str, ...]:
    allowed = _OPERATORS[direction]
    if not section.has(*parts):
        return (allowed[0],) * count
    raw = section.raw(*parts)
    if not isinstance(raw, list) or len(raw) != count or not all(op in allowed for op in raw):
        raise section.fail(f"expected {count} of {' or '.join(repr(a) for a in allowed)} "
                           f"(direction {direction}), found {raw!r}", *parts)
    return tuple(raw)


def _check_keys(section: Section, parts: tuple[str, ...], known: set[str]) -> None:
    table = section.raw(*parts) if parts else {k: None for k in section.keys()}
    if not isinstance(table, dict):
        raise section.fail("expected a table", *parts)
    unknown = sorted(set(table) - known)
    if unknown:
        raise section.fail(f"unknown key (known keys: {', '.join(sorted(known))})", *parts, unknown[0])


def _parse_term(section: Section, key: str) -> Term:
    t = ("terms", key)
    _check_keys(section, t, _TERM_KEYS)
    code = section.text(*t, "code")
    if not _CODE_RE.fullmatch(code):
        raise section.fail(f"'{code}' is not an observation code", *t, "code")
    name = section.text(*t, "term")
    direction = section.text(*t, "direction", choices=DIRECTIONS)
    flag_key, other_flag = (("grade1_below_lln", "grade1_above_uln") if direction == "low"
                            else ("grade1_above_uln", "grade1_below_lln"))
    if section.has(*t, other_flag):
        raise section.fail(f"does not apply to direction {direction} (use {flag_key})", *t, other_flag)
    grade1_limit = section.flag(*t, flag_key) if section.has(*t, flag_key) else False
    first = 2 if grade1_limit else 1
    has_thresholds, has_multiples = section.has(*t, "thresholds"), section.has(*t, "uln_multiples")
    if has_thresholds == has_multiples:
        raise section.fail("give either thresholds (absolute cut-offs per unit) or uln_multiples", *t)
    thresholds: dict[str, Arm] = {}
    uln_multiples = None
    if has_thresholds:
        units = section.sub(*t, "thresholds")
        if not units.keys():
            raise section.fail("needs at least one unit", *t, "thresholds")
        count = None
        grades = operators = ()
        for unit in units.keys():
            if not unit.strip():
                raise section.fail("empty unit", *t, "thresholds")
            bounds = section.numbers(*t, "thresholds", unit, increasing=direction == "high")
            if not bounds:
                raise section.fail("expected at least one cut-off", *t, "thresholds", unit)
            if count is None:
                count = len(bounds)
                grades = _grades(section, (*t, "grades"), count, first, (*t, "thresholds", unit))
                operators = _operators(section, (*t, "operators"), count, direction)
            elif len(bounds) != count:
                raise section.fail(f"expected {count} cut-offs like the other units, found {len(bounds)}",
                                   *t, "thresholds", unit)
            thresholds[unit] = Arm(tuple(bounds), grades, operators)
    else:
        if direction != "high":
            raise section.fail("multiples of ULN apply to direction high only", *t, "uln_multiples")
        bounds = section.numbers(*t, "uln_multiples", increasing=True)
        if not bounds or bounds[0] < 1:
            raise section.fail(f"expected multiples of at least 1, increasing strictly, found {bounds}",
                               *t, "uln_multiples")
        uln_multiples = Arm(tuple(bounds), _grades(section, (*t, "grades"), len(bounds), first, (*t, "uln_multiples")),
                            _operators(section, (*t, "operators"), len(bounds), direction))
    grades_used = next(iter(thresholds.values())).grades if thresholds else uln_multiples.grades
    if grade1_limit and grades_used[0] < 2:
        raise section.fail(f"grade 1 comes from {flag_key}: cut-offs give grades 2-4", *t, "grades")
    baseline = None
    if section.has(*t, "baseline"):
        b = (*t, "baseline")
        _check_keys(section, b, _BASELINE_KEYS)
        if uln_multiples is None:
            raise section.fail("a baseline arm needs uln_multiples", *b)
        multiples = section.numbers(*b, "multiples", increasing=True)
        if not multiples or multiples[0] <= 0:
            raise section.fail(f"expected positive multiples, increasing strictly, found {multiples}", *b, "multiples")
        baseline = BaselineArm(
            Arm(tuple(multiples), _grades(section, (*b, "grades"), len(multiples), 2, (*b, "multiples")),
                _operators(section, (*b, "operators"), len(multiples), direction)),
            section.text(*b, "applies", choices=BASELINE_APPLIES))
    notes: dict[int, str] = {}
    if section.has(*t, "notes"):
        table = section.sub(*t, "notes")
        for grade in table.keys():
            if grade not in ("0", "1", "2", "3", "4"):
                raise section.fail("note keys are grades \"0\" to \"4\"", *t, "notes", grade)
            notes[int(grade)] = section.text(*t, "notes", grade)
    source_note = section.text(*t, "source_note") if section.has(*t, "source_note") else None
    return Term(key=key, code=code, name=name, direction=direction, grade1_limit=grade1_limit,
                thresholds=thresholds, uln_multiples=uln_multiples, baseline=baseline, notes=notes,
                source_note=source_note)


@thresholds_module.parser(SECTION)
def parse_ctcae(section: Section) -> CtcaeThresholds:
    """Validate the [ctcae] section; ThresholdsError names the key of the first problem."""
    _check_keys(section, (), _SECTION_KEYS)
    source = section.source
    version = section.text("version", choices=SUPPORTED_VERSIONS)
    terms_table = section.sub("terms")
    if not terms_table.keys():
        raise section.fail("needs at least one term", "terms")
    terms = tuple(_parse_term(section, key) for key in terms_table.keys())
    ranges: dict[str, DefaultRange] = {}
    ranges_source = None
    if section.has("default_reference_ranges"):
        d = ("default_reference_ranges",)
        table = section.sub(*d)
        ranges_source = table.source
        for code in table.keys():
            if code == "source":
                continue
            _check_keys(section, (*d, code), _RANGE_KEYS)
            low = section.number(*d, code, "low")
            high = section.number(*d, code, "high")
            if not low < high:
                raise section.fail(f"low {low:g} must be below high {high:g}", *d, code)
            ranges[code] = DefaultRange(low, high, section.text(*d, code, "unit"))
    return CtcaeThresholds(version=version, source=source, terms=terms, default_ranges=ranges,
                           default_ranges_source=ranges_source)


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
