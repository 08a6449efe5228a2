"""The observation catalogue: what can be recorded, in which unit, and which values are credible.

data/catalogue.toml holds one entry per observation code (organ system, LOINC, canonical UCUM
unit, alternative units with exact conversion factors, plausible and expected ranges, CTCAE v5.0
grade wording). This module loads and validates that file, and validates observation values
against it: one way in for every value, whether typed by a nurse (`Catalogue.validate`) or
imported in bulk (`Catalogue.validate_frame`, vectorised).

Rules applied to every value:
* missing is never zero: an empty value is refused as missing, never stored as 0;
* a value outside the entry's plausible range is refused (impossible, or a typing/unit error);
* a value inside plausible but outside expected is accepted with a `confirmation` message the UI
  must have the user confirm before saving;
* numbers use a decimal point: "38,3" is refused rather than guessed at.
"""
from __future__ import annotations

import difflib
import functools
import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from monitoring.clinical.units import Conversion, parse_fraction
from monitoring.config import REPO_ROOT

DEFAULT_PATH = REPO_ROOT / "data" / "catalogue.toml"  # the checkout's copy (tests); _default_path() in use

OrganSystem = Literal["cardiovascular", "pulmonary", "renal and fluid", "hepatic", "hematologic", "neurological",
                      "gastrointestinal", "skin", "constitutional and infection", "metabolic"]
# What a code records (data/catalogue.toml's header says which codes each holds, and why).
Category = Literal["vital sign", "lab", "microbiology", "symptom", "fluid", "treatment", "assessment"]
Kind = Literal["numeric", "coded", "grade"]
LoincStatus = Literal["V", "V2", "S", "M"]  # clinical.md §7.1 evidence tags
GradeKey = Literal["1", "2", "3", "4"]  # CTCAE v5.0 grades a nurse may record (5 = death)
ORGAN_SYSTEMS: tuple[str, ...] = get_args(OrganSystem)
CATEGORIES: tuple[str, ...] = get_args(Category)
KINDS: tuple[str, ...] = get_args(Kind)
LOINC_STATUSES: tuple[str, ...] = get_args(LoincStatus)
GRADE_KEYS: tuple[str, ...] = get_args(GradeKey)

# Column sizes of the Observation table (monitoring/store/models.py): the loader refuses longer values.
MAX_CODE_LENGTH = 40
MAX_VALUE_CODE_LENGTH = 16
MAX_UNIT_LENGTH = 24
MAX_ORIGINAL_VALUE_LENGTH = 64

# A plain decimal number: optional sign, digits, optional decimal point. No exponent, no comma.
NUMBER_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_NUMBER_RE = re.compile(NUMBER_PATTERN)
_LOINC_RE = re.compile(r"^(\d{1,7})-(\d)$")


class CatalogueError(ValueError):
    """The catalogue file is invalid; the message names the file, the code and the key."""


class UnknownCodeError(KeyError, ValueError):
    """An observation code that is not in the catalogue (a KeyError for mapping use, and a ValueError)."""

    def __init__(self, message: str, code: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class ObservationValueError(ValueError):
    """A refused value (missing, not a number, implausible, not an accepted code or unit)."""

    def __init__(self, message: str, *, code: str, value: Any, unit: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.value = value
        self.unit = unit

    def __str__(self) -> str:
        return self.message


# --- formatting ------------------------------------------------------------------------------------

def format_number(value: float, precision: int) -> str:
    """At least `precision` decimals, more if needed to show the value exactly (up to 6): 45.04 stays 45.04."""
    value = float(value) + 0.0  # no "-0.0"
    if not math.isfinite(value):
        return str(value)
    for places in range(precision, 7):
        if round(value, places) == value:
            return f"{value:.{places}f}"
    return f"{value:.6f}"


def format_derived(value: float, precision: int) -> str:
    """A converted (not typed) value: `precision` decimals, more if needed for 3 significant digits.

    1500 /µL shows as 1.5 ×10⁹/L (not 2), 5000 µmol/L creatinine as 56.56 mg/dL (not 56.561086).
    """
    value = float(value) + 0.0
    if not math.isfinite(value):
        return str(value)
    places = precision if value == 0 else max(precision, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{min(places, 6)}f}"
    if "." in text and places > precision:
        text = text.rstrip("0")
        decimals = len(text.split(".")[1])
        if decimals < precision:
            text += "0" * (precision - decimals)
        text = text.rstrip(".")
    return text


def _with_unit(number: str, label: str) -> str:
    """'38.3 °C', '96%' (no space before a percent sign), '12' (unitless scores)."""
    if not label:
        return number
    return f"{number}{label}" if label == "%" else f"{number} {label}"


def _normalise_unit(unit: str) -> str:
    """Key for matching a unit as written: case-insensitive, micro sign or Greek mu read as 'u'."""
    return unit.strip().replace("\u00b5", "u").replace("\u03bc", "u").casefold()


# --- catalogue entries -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CatalogueEntry:
    """One observation code as described in data/catalogue.toml."""

    code: str
    label: str
    category: str
    organ_system: str
    loinc: str | None
    loinc_status: str | None
    kind: str
    unit: str
    unit_label: str
    plausible: tuple[float, float] | None
    expected: tuple[float, float] | None
    precision: int
    allowed: tuple[str, ...] = ()
    requires_period: bool = False
    grades: Mapping[int, str] = field(default_factory=dict, hash=False)
    ctcae_term: str | None = None
    alternative_units: Mapping[str, Conversion] = field(default_factory=dict, hash=False)
    integer: bool = False
    synonyms: Mapping[str, str] = field(default_factory=dict, hash=False)
    # A change from the previous value within 24 h at least this large asks for confirmation.
    confirm_change_per_24h: float | None = None
    _unit_index: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)
    _code_index: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)
    _identity: Conversion = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        identity = Conversion.identity(self.unit, self.unit_label, self.precision)
        index = {_normalise_unit(self.unit): self.unit}
        for unit in self.alternative_units:
            index.setdefault(_normalise_unit(unit), unit)
        for unit, label in [(self.unit, self.unit_label)] + [(u, c.label) for u, c in self.alternative_units.items()]:
            if label:
                index.setdefault(_normalise_unit(label), unit)
        codes = {value.casefold(): value for value in self.allowed}
        for spelling, value in self.synonyms.items():
            codes.setdefault(spelling.strip().casefold(), value)
        object.__setattr__(self, "_identity", identity)
        object.__setattr__(self, "_unit_index", index)
        object.__setattr__(self, "_code_index", codes)

    @property
    def accepted_grades(self) -> tuple[int, ...]:
        """0 (none) and the CTCAE v5.0 grades defined for the term."""
        return (0, *sorted(self.grades)) if self.kind == "grade" else ()

    def accepted_units(self) -> tuple[str, ...]:
        """UCUM codes accepted for this entry, canonical first."""
        return (self.unit, *self.alternative_units)

    def conversion(self, unit: str | None = None) -> Conversion:
        """Conversion from `unit` (UCUM code or its label, any case) to the canonical unit.

        None, "" (or NaN from a frame) or the canonical unit give the identity; an unknown unit
        raises ObservationValueError.
        """
        if _is_missing(unit):
            return self._identity
        if isinstance(unit, str):
            resolved = self._unit_index.get(_normalise_unit(unit))
            if resolved == self.unit:
                return self._identity
            if resolved is not None:
                return self.alternative_units[resolved]
        accepted = ", ".join(
            f"{u} ({c.label})" if c.label and c.label != u else u
            for u, c in [(self.unit, self._identity), *self.alternative_units.items()]
        )
        raise ObservationValueError(
            f"Unit '{unit}' is not accepted for {self.label}; accepted: {accepted}.",
            code=self.code, value=None, unit=unit,
        )

    def display_precision(self, conversion: Conversion) -> int:
        """Decimals to display for a value in the conversion's unit."""
        return self.precision if conversion.precision is None else conversion.precision

    def format_value(self, value: Any, unit: str | None = None) -> str:
        """Display a stored value, e.g. '38.3 °C', 'A', 'grade 2' ('–' when missing).

        `value` is in `unit` (default: the canonical unit) and shown with that unit's precision.
        """
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return "–"
        if self.kind == "coded":
            return str(value)
        if self.kind == "grade":
            return f"grade {int(value)}"
        conversion = self.conversion(unit)
        places = self.display_precision(conversion)
        return _with_unit(f"{float(value) + 0.0:.{places}f}", conversion.label)

    # messages shared by the scalar and the vectorised validation -------------------------------

    def _quantity(self, conversion: Conversion, entered: float, canonical: float) -> str:
        shown = _with_unit(format_number(entered, self.display_precision(conversion)), conversion.label)
        if conversion.unit == self.unit:
            return shown
        return f"{shown} ({_with_unit(format_derived(canonical, self.precision), self.unit_label)})"

    def _range(self, conversion: Conversion, bounds: tuple[float, float]) -> str:
        low, high = bounds
        canonical = _with_unit(
            f"{format_number(low, self.precision)}–{format_number(high, self.precision)}", self.unit_label)
        if conversion.unit == self.unit:
            return canonical
        places = self.display_precision(conversion)
        converted = (format_derived(conversion.from_canonical(low), places) + "–"
                     + format_derived(conversion.from_canonical(high), places))
        return f"{_with_unit(converted, conversion.label)} ({canonical})"

    def _missing_message(self) -> str:
        return (f"{self.label}: the value is missing (nothing was entered). A missing value is never "
                "saved as zero: enter the value, or leave this observation out.")

    def _not_a_number_message(self, text: str) -> str:
        if "," in text:
            return (f"{self.label} '{text}' is not a number: use a decimal point, not a comma "
                    "(write 38.3, not 38,3), and no thousands separators.")
        return f"{self.label} '{text}' is not a number. Enter digits, with a decimal point if needed (e.g. 12.5)."

    def _implausible_message(self, conversion: Conversion, entered: float, canonical: float) -> str:
        check = "Check the value and the unit." if self.alternative_units else "Check the value."
        return (f"{self.label} {self._quantity(conversion, entered, canonical)} is outside the plausible "
                f"range {self._range(conversion, self.plausible)} and was not saved. {check}")

    def _not_whole_message(self, text: str) -> str:
        low, high = self.plausible
        return (f"{self.label} '{text}' is not accepted: enter a whole number from "
                f"{format_number(low, 0)} to {format_number(high, 0)}.")

    def _too_large_message(self, text: str) -> str:
        return (f"{self.label} '{text}' is far outside the plausible range "
                f"{self._range(self._identity, self.plausible)} (too many digits for a measurement) and was "
                "not saved. Check the value.")

    def _grade_message(self, text: str) -> str:
        grades = ", ".join(str(g) for g in self.accepted_grades)
        undefined = [g for g in range(1, 5) if g not in self.grades]
        note = (f" CTCAE v5.0 does not define grade {', '.join(map(str, undefined))} for {self.ctcae_term}."
                if undefined else "")
        return f"{self.label} grade '{text}' is not accepted: enter one of {grades} (0 = none).{note}"

    def _coded_message(self, text: str) -> str:
        return f"{self.label} '{text}' is not accepted. Accepted values: {', '.join(self.allowed)}."

    def _confirmation_message(self, conversion: Conversion, entered: float, canonical: float) -> str:
        return (f"{self.label} {self._quantity(conversion, entered, canonical)} is unusual "
                f"(expected {self._range(conversion, self.expected)}). Confirm to save.")

    def _outside_expected(self, canonical: float) -> bool:
        return self.expected is not None and not (self.expected[0] <= canonical <= self.expected[1])


@dataclass(frozen=True)
class ValidatedValue:
    """A value accepted by the catalogue, in the canonical unit, with what the user entered."""

    code: str
    value_num: float | None
    value_code: str | None
    unit: str
    original_value: str
    original_unit: str
    confirmation: str | None = None


# --- scalar value parsing --------------------------------------------------------------------------

def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return False


def _is_number(value: Any) -> bool:
    """A number type (bools are not numbers here: True is not a temperature)."""
    return (isinstance(value, (int, float, Decimal, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def as_entered_text(value: Any) -> str:
    """What the user entered, as text: numbers without a spurious '.0' (2.0 -> '2')."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        try:
            return str(int(value))
        except ValueError:  # beyond Python's 4300-digit limit for int -> str
            return f"{Decimal(int(value)):.6E}"
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def _parse_number(entry: CatalogueEntry, value: Any) -> float:
    """A float from a number or a plain decimal string; ObservationValueError otherwise.

    A number too large for a float (a 400-digit string, 10**400) gives an infinity of its sign,
    which the numeric check refuses as too large (and the grade check as not a grade).
    """
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER_RE.fullmatch(text):
            return float(text)
    elif _is_number(value):
        try:
            number = float(value)
        except OverflowError:  # an int beyond the float range
            return math.inf if value > 0 else -math.inf
        except ValueError:  # Decimal('sNaN')
            number = math.nan
        if math.isfinite(number):
            return number
    raise ObservationValueError(entry._not_a_number_message(as_entered_text(value)), code=entry.code, value=value,
                                unit=None)


def _original_value(value: Any, number: float | None = None) -> str:
    text = as_entered_text(value)
    if len(text) <= MAX_ORIGINAL_VALUE_LENGTH:
        return text
    return repr(number) if number is not None else text[:MAX_ORIGINAL_VALUE_LENGTH]


# --- the catalogue ---------------------------------------------------------------------------------

class Catalogue:
    """All observation codes; look up entries by code and validate values against them."""

    def __init__(self, entries: Mapping[str, CatalogueEntry], version: str, *,
                 path: Path | None = None, meta: Mapping[str, Any] | None = None) -> None:
        self.entries: dict[str, CatalogueEntry] = dict(entries)
        self.version = version
        self.path = path
        self.meta: dict[str, Any] = dict(meta or {})

    def __repr__(self) -> str:
        return f"Catalogue(version={self.version!r}, {len(self.entries)} codes)"

    def __getitem__(self, code: str) -> CatalogueEntry:
        try:
            return self.entries[code]
        except (KeyError, TypeError):
            raise UnknownCodeError(self._unknown_code_message(code), code) from None

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self.entries

    def __iter__(self) -> Iterator[CatalogueEntry]:
        """Entries in file order."""
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def codes(self, category: str | None = None) -> tuple[str, ...]:
        """Codes in file order; with `category` (one of CATEGORIES), that category's codes only."""
        if category is not None and category not in CATEGORIES:
            raise ValueError(f"Unknown category {category!r}; categories: {', '.join(CATEGORIES)}.")
        return tuple(code for code, entry in self.entries.items() if category in (None, entry.category))

    def by_organ_system(self) -> dict[str, list[CatalogueEntry]]:
        """Entries grouped by organ system, systems in ORGAN_SYSTEMS order (empty ones left out)."""
        groups: dict[str, list[CatalogueEntry]] = {system: [] for system in ORGAN_SYSTEMS}
        for entry in self.entries.values():
            groups[entry.organ_system].append(entry)
        return {system: entries for system, entries in groups.items() if entries}

    def _unknown_code_message(self, code: Any) -> str:
        if code is None or (isinstance(code, str) and not code.strip()):
            return f"The observation code is missing. Known codes: {', '.join(sorted(self.entries))}."
        text = str(code)
        folded = text.strip().casefold()
        names = {c: c for c in self.entries} | {e.label.casefold(): e.code for e in self.entries.values()}
        suggestions = [c for c in self.entries if folded and folded in c]
        suggestions += [names[c] for c in difflib.get_close_matches(folded, list(names), n=3, cutoff=0.6)]
        suggestions = list(dict.fromkeys(suggestions))[:3]
        hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        return f"Unknown observation code '{text}'.{hint} Known codes: {', '.join(sorted(self.entries))}."

    # single values ----------------------------------------------------------------------------

    def validate(self, code: str, value: Any, unit: str | None = None) -> ValidatedValue:
        """Check one value as entered; return it in the canonical unit or raise.

        Raises UnknownCodeError for an unknown code and ObservationValueError for a refused value
        (the message names the value, the unit and the accepted range or values).
        """
        entry = self[code.strip() if isinstance(code, str) else code]
        try:
            conversion = entry.conversion(unit)
            if _is_missing(value):
                raise ObservationValueError(entry._missing_message(), code=code, value=value, unit=unit)
            if entry.kind == "coded":
                return self._validate_coded(entry, conversion, value)
            number = _parse_number(entry, value)
            if entry.kind == "grade":
                return self._validate_grade(entry, conversion, value, number)
            return self._validate_numeric(entry, conversion, value, number)
        except ObservationValueError as exc:
            raise ObservationValueError(exc.message, code=entry.code, value=value, unit=unit) from None

    @staticmethod
    def _validate_coded(entry: CatalogueEntry, conversion: Conversion, value: Any) -> ValidatedValue:
        text = as_entered_text(value)
        canonical = entry._code_index.get(text.casefold())
        if canonical is None:
            raise ObservationValueError(entry._coded_message(text), code=entry.code, value=value, unit=None)
        return ValidatedValue(code=entry.code, value_num=None, value_code=canonical, unit=entry.unit,
                              original_value=_original_value(value), original_unit=conversion.unit)

    @staticmethod
    def _validate_grade(entry: CatalogueEntry, conversion: Conversion, value: Any, number: float) -> ValidatedValue:
        if not number.is_integer() or int(number) not in entry.accepted_grades:
            raise ObservationValueError(entry._grade_message(as_entered_text(value)), code=entry.code, value=value,
                                        unit=None)
        return ValidatedValue(code=entry.code, value_num=float(int(number)), value_code=None, unit=entry.unit,
                              original_value=_original_value(value, number), original_unit=conversion.unit)

    @staticmethod
    def _validate_numeric(entry: CatalogueEntry, conversion: Conversion, value: Any, number: float) -> ValidatedValue:
        if not math.isfinite(number):
            raise ObservationValueError(entry._too_large_message(as_entered_text(value)), code=entry.code,
                                        value=value, unit=None)
        if entry.integer and not number.is_integer():
            raise ObservationValueError(entry._not_whole_message(as_entered_text(value)), code=entry.code,
                                        value=value, unit=None)
        canonical = conversion.to_canonical(number)
        low, high = entry.plausible
        if not low <= canonical <= high:
            raise ObservationValueError(entry._implausible_message(conversion, number, canonical),
                                        code=entry.code, value=value, unit=None)
        confirmation = (entry._confirmation_message(conversion, number, canonical)
                        if entry._outside_expected(canonical) else None)
        return ValidatedValue(code=entry.code, value_num=canonical, value_code=None, unit=entry.unit,
                              original_value=_original_value(value, number), original_unit=conversion.unit,
                              confirmation=confirmation)

    # frames -----------------------------------------------------------------------------------

    def validate_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """Validate many values at once (lab import, synthetic data), vectorised by code and unit.

        `df` has columns code, value and optionally unit. Returns a copy with value_num,
        value_code, unit_canonical, error (message naming the row's value, unit and accepted range,
        or NA) and confirmation (NA unless the value is outside the expected range). Rows are
        never dropped and unknown codes become errors, not exceptions. The messages are the
        ones `validate` raises.
        """
        return _FrameValidation(self, df).run()


# --- vectorised validation -------------------------------------------------------------------------

class _FrameValidation:
    """State for one validate_frame call: per-row inputs and outputs as numpy arrays."""

    def __init__(self, catalogue: Catalogue, df: pd.DataFrame) -> None:
        missing_columns = [c for c in ("code", "value") if c not in df.columns]
        if missing_columns:
            raise ValueError(f"validate_frame needs columns code and value; missing: {', '.join(missing_columns)}")
        self.catalogue = catalogue
        self.df = df
        n = len(df)
        self.numbers, self.texts = _split_values(df["value"])
        self.value_num = np.full(n, np.nan)
        self.value_code = np.full(n, None, dtype=object)
        self.unit_canonical = np.full(n, None, dtype=object)
        self.error = np.full(n, None, dtype=object)
        self.confirmation = np.full(n, None, dtype=object)

    def run(self) -> pd.DataFrame:
        codes = self.df["code"].astype(object).where(self.df["code"].notna(), "").astype(str).str.strip()
        if "unit" in self.df.columns:
            units = self.df["unit"].astype(object).where(self.df["unit"].notna(), "").astype(str).str.strip()
        else:
            units = pd.Series("", index=self.df.index, dtype=object)
        keys = pd.DataFrame({"code": codes.to_numpy(dtype=object), "unit": units.to_numpy(dtype=object)})
        for (code, unit), positions in keys.groupby(["code", "unit"], sort=False).indices.items():
            self._group(code, unit, np.asarray(positions))
        out = self.df.copy()
        out["value_num"] = self.value_num
        for name in ("value_code", "unit_canonical", "error", "confirmation"):
            out[name] = pd.Series(getattr(self, name), index=self.df.index, dtype="str")
        return out

    def _messages(self, target: np.ndarray, rows: np.ndarray, keys: list | np.ndarray, make) -> None:
        """target[rows] = make(key), calling `make` once per distinct key (errors repeat in imports)."""
        if len(rows) == 0:
            return
        codes, distinct = pd.factorize(pd.Series(list(keys), dtype=object))
        messages = np.array([make(key) for key in distinct] + [None], dtype=object)
        target[rows] = messages[codes]

    def _group(self, code: str, unit: str, rows: np.ndarray) -> None:
        if code not in self.catalogue:
            self.error[rows] = self.catalogue._unknown_code_message(code)
            return
        entry = self.catalogue[code]
        try:
            conversion = entry.conversion(unit or None)
        except ObservationValueError as exc:
            self.error[rows] = exc.message
            return
        texts = self.texts[rows] if self.texts is not None else np.full(len(rows), None, dtype=object)
        numbers = self.numbers[rows].copy()
        has_text = pd.notna(texts) & (texts != "")
        missing = ~has_text & np.isnan(numbers)
        self.error[rows[missing]] = entry._missing_message()
        # What the user entered, as text, for messages: typed text, or the number written plainly.
        shown = np.where(has_text, texts, None)
        if entry.kind == "coded":
            present = ~missing
            self._coded(entry, rows[present], _shown(shown[present], numbers[present]))
            return
        bad = ~has_text & ~missing & ~np.isfinite(numbers)
        if has_text.any():
            typed = pd.Series(texts[has_text], dtype=object)
            numeric = typed.str.fullmatch(NUMBER_PATTERN).to_numpy(dtype=bool)
            parsed = np.full(len(typed), np.nan)
            parsed[numeric] = typed[numeric].astype(float).to_numpy()
            numbers[has_text] = parsed
            bad[has_text] = ~numeric
        self._messages(self.error, rows[bad], _shown(shown[bad], numbers[bad]), entry._not_a_number_message)
        good = ~missing & ~bad
        if entry.kind == "grade":
            self._grades(entry, rows[good], numbers[good], _shown(shown[good], numbers[good]))
        else:
            self._numeric(entry, conversion, rows[good], numbers[good], _shown(shown[good], numbers[good]))

    def _coded(self, entry: CatalogueEntry, rows: np.ndarray, shown: np.ndarray) -> None:
        mapped = pd.Series(shown, dtype=object).str.casefold().map(entry._code_index).to_numpy(dtype=object)
        accepted = pd.notna(mapped)
        self.value_code[rows[accepted]] = mapped[accepted]
        self.unit_canonical[rows[accepted]] = entry.unit
        self._messages(self.error, rows[~accepted], shown[~accepted], entry._coded_message)

    def _grades(self, entry: CatalogueEntry, rows: np.ndarray, numbers: np.ndarray, shown: np.ndarray) -> None:
        accepted = np.isin(numbers, np.asarray(entry.accepted_grades, dtype=float))
        self.value_num[rows[accepted]] = numbers[accepted]
        self.unit_canonical[rows[accepted]] = entry.unit
        self._messages(self.error, rows[~accepted], shown[~accepted], entry._grade_message)

    def _numeric(self, entry: CatalogueEntry, conversion: Conversion, rows: np.ndarray,
                 numbers: np.ndarray, shown: np.ndarray) -> None:
        # Typed numbers too large for a float (400 digits) parse as infinities: too large, not converted.
        finite = np.isfinite(numbers)
        self._messages(self.error, rows[~finite], shown[~finite], entry._too_large_message)
        whole = finite & (numbers == np.floor(numbers) if entry.integer else finite)
        self._messages(self.error, rows[finite & ~whole], shown[finite & ~whole], entry._not_whole_message)
        canonical = conversion.to_canonical_array(numbers)
        low, high = entry.plausible
        plausible = whole & (canonical >= low) & (canonical <= high)
        # Messages use the exact scalar conversion, so they are the ones `Catalogue.validate` raises.
        def implausible_message(number: float) -> str:
            return entry._implausible_message(conversion, number, conversion.to_canonical(number))

        def confirmation_message(number: float) -> str:
            return entry._confirmation_message(conversion, number, conversion.to_canonical(number))

        implausible = whole & ~plausible
        self._messages(self.error, rows[implausible], numbers[implausible], implausible_message)
        self.value_num[rows[plausible]] = canonical[plausible]
        self.unit_canonical[rows[plausible]] = entry.unit
        if entry.expected is not None:
            surprising = plausible & ((canonical < entry.expected[0]) | (canonical > entry.expected[1]))
            self._messages(self.confirmation, rows[surprising], numbers[surprising], confirmation_message)


def _shown(texts: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Typed text where there is some, else the number as the user would write it (2.0 -> '2')."""
    result = texts.copy()
    need = pd.isna(result)
    if need.any():
        codes, distinct = pd.factorize(numbers[need])
        written = np.array([as_entered_text(number) for number in distinct] + [None], dtype=object)
        result[need] = written[codes]
    return result


def _split_values(values: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Split a value column into numbers (NaN where none) and stripped texts (None where none).

    Numeric columns need no texts; string columns no numbers; object columns are sorted per value
    (numbers stay numbers, strings are parsed later, anything else is read as its text).
    """
    n = len(values)
    if pd.api.types.is_bool_dtype(values.dtype):
        return np.full(n, np.nan), values.astype(object).map(as_entered_text).to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=float, na_value=np.nan), None
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        texts = values.str.strip().to_numpy(dtype=object, na_value=None)
        return np.full(n, np.nan), texts
    numbers = np.full(n, np.nan)
    texts = np.full(n, None, dtype=object)
    for i, value in enumerate(values.to_numpy(dtype=object)):
        if _is_missing(value):
            continue
        if _is_number(value):
            try:
                numbers[i] = float(value)
            except (OverflowError, ValueError):  # an int beyond the float range; Decimal('sNaN')
                texts[i] = as_entered_text(value)
        else:
            texts[i] = as_entered_text(value)
    return numbers, texts


# --- loading ---------------------------------------------------------------------------------------

def _default_path() -> Path:
    """The shipped catalogue.toml (data/ in a checkout), or the one in IL2_DATA_DIR (config.data_file)."""
    from monitoring.config import data_file

    return data_file("catalogue.toml")


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# --- the file, described by pydantic models ----------------------------------------------------------
# The models say what data/catalogue.toml may hold; docs/catalogue.md and the JSON Schema in
# docs/schemas/ are generated from them (monitoring.clinical.catalogue_docs), and load_catalogue turns
# a validated file into the CatalogueEntry objects the monitor uses.

def _range(value: Any) -> tuple[float, float]:
    """[low, high]: two finite numbers, low not above high (both bounds inclusive)."""
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"must be [low, high], not {value!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise ValueError(f"must hold two finite numbers, not {value!r}")
    low, high = float(value[0]), float(value[1])
    if low > high:
        raise ValueError(f"low {format_number(low, 0)} is above high {format_number(high, 0)}")
    return low, high


def _check_loinc(code: str) -> str:
    """LOINC codes end in a Mod 10 check digit (LOINC User's Guide): catches most typing errors."""
    match = _LOINC_RE.fullmatch(code)
    if not match:
        raise ValueError(f"{code!r} is not a LOINC code such as '8310-5'")
    body, check = match.groups()
    from_right = body[::-1]
    doubled = str(int(from_right[0::2]) * 2)  # digits in odd positions from the right, doubled
    total = sum(int(d) for d in from_right[1::2] + doubled)
    if (10 - total % 10) % 10 != int(check):
        raise ValueError(f"{code!r} has a wrong check digit")
    return code


def _ctcae_wording(text: str) -> str:
    if text.strip() in {"", "-", "\u2013"}:
        raise ValueError(f"needs the CTCAE wording, not {text!r} (omit grades CTCAE does not define)")
    return text


_VISIBLE = r"\S"  # at least one character that is not a space
Text = Annotated[str, StringConstraints(pattern=_VISIBLE)]
Decimals = Annotated[int, Field(ge=0, le=6)]
Range = Annotated[tuple[float, float], PlainValidator(_range), WithJsonSchema(
    {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2})]
# Exact rationals as strings ('5/9', '0.45359237') or whole numbers: a float would be inexact.
Rational = Annotated[Fraction, PlainValidator(parse_fraction), WithJsonSchema(
    {"type": ["string", "integer"], "pattern": r"^\s*[+-]?([0-9]+/[0-9]+|[0-9]*\.?[0-9]+)\s*$"})]
Loinc = Annotated[str, AfterValidator(_check_loinc), WithJsonSchema({"type": "string", "pattern": _LOINC_RE.pattern})]
CodeName = Annotated[str, StringConstraints(pattern=rf"^[a-z][a-z0-9_]{{0,{MAX_CODE_LENGTH - 1}}}$")]
UnitCode = Annotated[str, StringConstraints(pattern=_VISIBLE, max_length=MAX_UNIT_LENGTH)]
ValueCode = Annotated[str, StringConstraints(pattern=_VISIBLE, max_length=MAX_VALUE_CODE_LENGTH)]
Wording = Annotated[str, AfterValidator(_ctcae_wording)]

# Keys that belong to one kind of observation, and what each kind needs (key: what it holds).
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "numeric": ("plausible", "expected", "integer", "alternative_units"),
    "coded": ("allowed", "synonyms"),
    "grade": ("grades", "ctcae_term"),
}
KIND_NEEDS: dict[str, dict[str, str]] = {
    "numeric": {"plausible": "[low, high]", "precision": "the decimals displayed"},
    "coded": {"allowed": "a non-empty list of accepted values"},
    "grade": {"grades": 'a table of "1" = "CTCAE v5.0 wording", ...', "ctcae_term": "the CTCAE v5.0 term"},
}
_TABLE = ConfigDict(extra="forbid", strict=True, frozen=True)


def _kind_rules(schema: dict[str, Any]) -> None:
    """The same rules in the JSON Schema: each kind's required keys, and no key of another kind."""
    schema["allOf"] = [
        {"if": {"properties": {"kind": {"enum": [kind]}}},
         "then": {"required": list(KIND_NEEDS[kind]),
                  "properties": {key: {"not": {}} for other in KIND_KEYS if other != kind for key in KIND_KEYS[other]}}}
        for kind in KIND_KEYS
    ] + [{"if": {"required": ["loinc"]}, "then": {"required": ["loinc_status"]}}]


class AlternativeUnitTable(BaseModel):
    """Another accepted unit: canonical = value × scale + offset."""

    model_config = _TABLE
    label: Text = Field(description="How the unit is displayed, e.g. °F.")
    scale: Rational = Field(description='Exact rational as a string, e.g. "5/9"; positive.')
    offset: Rational = Field("0", validate_default=True, description='Exact rational as a string (default "0").')
    precision: Decimals | None = Field(None, description="Decimals displayed in this unit (default: the entry's).")

    @field_validator("scale")
    @classmethod
    def _positive(cls, scale: Fraction) -> Fraction:
        if scale <= 0:
            raise ValueError(f"must be positive, not '{scale}'")
        return scale


class CodeTable(BaseModel):
    """One observation code: [codes.<code>]."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, json_schema_extra=_kind_rules)
    label: Text = Field(description="Nurse-facing name.")
    category: Category = Field(description="What the code records; the code lists are checked against it.")
    organ_system: OrganSystem = Field(description="The entry form's section and the chart's grouping.")
    loinc: Loinc | None = Field(None, description="LOINC code, omitted where none is known; check digit verified.")
    loinc_status: LoincStatus | None = Field(None, description="Required with a LOINC code: its evidence "
                                             "(clinical.md §7.1), V authoritative FHIR artefact, V2 two independent "
                                             "sources, S public code base, M from memory.")
    kind: Kind = Field(description="numeric, coded, or grade (a nurse-graded CTCAE v5.0 grade 0-4).")
    unit: UnitCode = Field(description="Canonical UCUM unit: every value is stored in it.")
    unit_label: str = Field(description="How the canonical unit is displayed (may be empty).")
    plausible: Range | None = Field(None, description="[low, high], inclusive, canonical unit: a value outside is "
                                                      "refused (impossible, or a typing or unit error).")
    expected: Range | None = Field(None, description="[low, high] inside plausible: a value outside is saved only "
                                                     "once the user confirms it.")
    precision: Decimals | None = Field(None, description="Decimals displayed in the canonical unit (0-6).")
    integer: bool = Field(False, description="true when only whole numbers exist (GCS).")
    allowed: list[ValueCode] = Field([], json_schema_extra={"minItems": 1}, description="Accepted values, stored "
                                     "in this spelling (they must differ ignoring case).")
    synonyms: dict[str, str] = Field({}, description="Other spellings (any case) = the allowed value they stand for.")
    requires_period: bool = Field(False, description="true when the value is a volume over a stated period.")
    grades: dict[GradeKey, Wording] = Field({}, json_schema_extra={"minProperties": 1}, description='"1" to "4" = '
                                            'CTCAE v5.0 wording, verbatim; grades CTCAE marks "–" are left out.')
    ctcae_term: Text | None = Field(None, description="The CTCAE v5.0 term the grades come from.")
    alternative_units: dict[UnitCode, AlternativeUnitTable] = Field(
        {}, json_schema_extra={"additionalProperties": False}, description="Other accepted UCUM units.")
    confirm_change_per_24h: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="A change at least this large from a value of the previous 24 h asks for confirmation.")

    @model_validator(mode="after")
    def _consistent(self) -> CodeTable:
        """The rules between keys, each problem placed on the key it is about."""
        for key, problem in self._problems():
            raise PydanticCustomError("catalogue", "{problem}", {"problem": problem, "key": key})
        return self

    def _problems(self) -> Iterator[tuple[tuple[str, ...], str]]:
        for kind, keys in KIND_KEYS.items():
            yield from (((key,), f"applies to {kind} observations only, not {self.kind}") for key in keys
                        if kind != self.kind and key in self.model_fields_set)
        for key, holds in KIND_NEEDS[self.kind].items():
            if key not in self.model_fields_set:
                yield (key,), f"is missing (every {self.kind} observation needs {holds})"
            elif getattr(self, key) in ([], {}):
                yield (key,), f"must be {holds}, not {getattr(self, key)!r}"
        if self.loinc is not None and self.loinc_status is None:
            yield ("loinc_status",), f"is missing (every LOINC code needs one of {', '.join(LOINC_STATUSES)})"
        if self.expected and self.plausible and not (
                self.plausible[0] <= self.expected[0] and self.expected[1] <= self.plausible[1]):
            yield ("expected",), f"{list(self.expected)} is not inside plausible {list(self.plausible)}"
        if len({value.casefold() for value in self.allowed}) != len(self.allowed):
            yield ("allowed",), f"values must differ (ignoring case), not {self.allowed!r}"
        yield from ((("synonyms", spelling), f"{value!r} is not in allowed {self.allowed}")
                    for spelling, value in self.synonyms.items() if value not in self.allowed)
        if self.unit in self.alternative_units:
            yield ("alternative_units", self.unit), "must be a UCUM code other than the canonical unit"
        yield from self._ambiguous_spellings()

    def _ambiguous_spellings(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """Each accepted unit (code or label, ignoring case and µ/u) must point at one unit only."""
        seen: dict[str, str] = {}
        for unit, label in [(self.unit, self.unit_label), *((u, a.label) for u, a in self.alternative_units.items())]:
            for spelling in {_normalise_unit(unit), _normalise_unit(label)} - {""}:
                if seen.setdefault(spelling, unit) != unit:
                    yield ("alternative_units",), f"'{spelling}' would match both {seen[spelling]} and {unit}"

    def entry(self, code: str) -> CatalogueEntry:
        """The CatalogueEntry the monitor uses: grades keyed by number, units as Conversions."""
        return CatalogueEntry(
            code=code, label=self.label, category=self.category, organ_system=self.organ_system, loinc=self.loinc,
            loinc_status=self.loinc_status, kind=self.kind, unit=self.unit, unit_label=self.unit_label,
            # A grade is a number from 0 to 4: the plausible range of every graded symptom.
            plausible=(0.0, 4.0) if self.kind == "grade" else self.plausible, expected=self.expected,
            precision=self.precision or 0, allowed=tuple(self.allowed), requires_period=self.requires_period,
            grades={int(grade): self.grades[grade] for grade in sorted(self.grades)}, ctcae_term=self.ctcae_term,
            alternative_units={unit: Conversion(unit, a.label, a.scale, a.offset, a.precision)
                               for unit, a in self.alternative_units.items()},
            integer=self.integer, synonyms=dict(self.synonyms), confirm_change_per_24h=self.confirm_change_per_24h)


class MetaTable(BaseModel):
    """[meta]: about the file as a whole."""

    model_config = _TABLE
    version: Text = Field(description="Version of the catalogue, shown with every validation.")
    description: Text | None = Field(None, description="What the catalogue covers.")
    ctcae_version: Text | None = Field(None, description="CTCAE version of the grade wording.")
    loinc_note: Text | None = Field(None, description="What remains to be verified about the LOINC codes.")


class CatalogueFile(BaseModel):
    """data/catalogue.toml: [meta] and one [codes.<code>] table per observation, in display order."""

    model_config = _TABLE
    meta: MetaTable
    codes: dict[CodeName, CodeTable] = Field(min_length=1, json_schema_extra={"additionalProperties": False})


# --- pydantic's errors in the catalogue's words ----------------------------------------------------

# Keys of a table pydantic checks with a type of its own: what such a key must be.
_KEY_RULES = {
    "codes": f"code {{found}} must be lower-case letters, digits and '_' (at most {MAX_CODE_LENGTH} characters), "
             "starting with a letter",
    "grades": f"grade keys must be one of {', '.join(GRADE_KEYS)}, not {{found}}",
    "alternative_units": f"must be a UCUM code of at most {MAX_UNIT_LENGTH} characters, not {{found}}",
}
# The tables whose keys an 'unknown key' message lists, by the depth of the unknown key.
_TABLE_AT_DEPTH: dict[int, type[BaseModel]] = {1: CatalogueFile, 2: MetaTable, 3: CodeTable, 5: AlternativeUnitTable}
# What a value must be, by the type of pydantic's error about it.
_MUST_BE = {"string_type": "a string", "string_pattern_mismatch": "a non-empty string", "bool_type": "true or false",
            "int_type": "a whole number", "float_type": "a number", "finite_number": "a finite number",
            "list_type": "a list", "dict_type": "a table", "model_type": "a table", "greater_than": "above {gt}",
            "greater_than_equal": "at least {ge}", "less_than_equal": "at most {le}"}
_PROBLEMS = {"missing": "is missing", "too_short": "must not be empty", "literal_error": "{found} is not one of "
             "{expected}", "string_too_long": "{found} is longer than {max_length} characters",
             **{kind: f"must be {what}, not {{found}}" for kind, what in _MUST_BE.items()}}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(loc: tuple[str | int, ...]) -> str:
    """codes.temperature.alternative_units."[degF]".scale: the key as TOML writes it."""
    return ".".join(str(p) if _BARE_KEY.fullmatch(str(p)) else f'"{p}"' for p in loc if not isinstance(p, int))


def _problem(error: ErrorDetails) -> str:
    """One pydantic error as '<key>: <problem>', naming the value found and what is accepted."""
    loc, context = error["loc"], error.get("ctx", {})
    if error["type"] == "catalogue":
        loc, problem = (*loc, *context["key"]), context["problem"]
    elif loc[-1:] == ("[key]",):
        loc = loc[:-1]
        problem = _KEY_RULES.get(str(loc[-2]), "{found} is not accepted here").format(found=repr(loc[-1]))
    elif error["type"] == "value_error":
        problem = error["msg"].removeprefix("Value error, ")
    elif error["type"] == "extra_forbidden":
        problem = f"unknown key (known keys: {', '.join(sorted(_TABLE_AT_DEPTH[len(loc)].model_fields))})"
    elif error["type"] in _PROBLEMS:
        problem = _PROBLEMS[error["type"]].format(found=repr(error["input"]), **context)
    else:  # a type of error this catalogue has not met yet: pydantic's words, and the value
        problem = f"{error['msg']}, not {error['input']!r}"
    return f"{_toml_key(loc)}: {problem}"


def _read_toml(path: Path, where: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise CatalogueError(f"{where}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{where}: not valid TOML: {exc}") from None


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Load and validate the catalogue (default: data/catalogue.toml, or IL2_DATA_DIR/catalogue.toml).

    Raises CatalogueError naming the file, then each key found invalid with its value (one line each).
    """
    path = Path(path) if path is not None else _default_path()
    where = _display_path(path)
    document = _read_toml(path, where)
    try:
        model = CatalogueFile.model_validate(document)
    except ValidationError as invalid:
        raise CatalogueError("\n".join(f"{where}: {_problem(e)}" for e in invalid.errors())) from None
    entries = {code: table.entry(code) for code, table in model.codes.items()}
    return Catalogue(entries, model.meta.version, path=path, meta=document["meta"])


@functools.cache
def default_catalogue() -> Catalogue:
    """The catalogue at the default location, loaded once per process."""
    return load_catalogue()
