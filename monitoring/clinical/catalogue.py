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
from typing import Any

import numpy as np
import pandas as pd

from monitoring.clinical.units import Conversion, parse_fraction
from monitoring.config import REPO_ROOT

DEFAULT_PATH = REPO_ROOT / "data" / "catalogue.toml"  # the checkout's copy (tests); _default_path() in use

ORGAN_SYSTEMS: tuple[str, ...] = (
    "cardiovascular",
    "pulmonary",
    "renal and fluid",
    "hepatic",
    "hematologic",
    "neurological",
    "gastrointestinal",
    "skin",
    "constitutional and infection",
    "metabolic",
)
KINDS: tuple[str, ...] = ("numeric", "coded", "grade")
LOINC_STATUSES: tuple[str, ...] = ("V", "V2", "S", "M")  # clinical.md §7.1 evidence tags
GRADE_KEYS: tuple[str, ...] = ("1", "2", "3", "4")  # CTCAE v5.0 grades a nurse may record (5 = death)

# Column sizes of the Observation table (monitoring/store/models.py): the loader refuses longer values.
MAX_CODE_LENGTH = 40
MAX_VALUE_CODE_LENGTH = 16
MAX_UNIT_LENGTH = 24
MAX_ORIGINAL_VALUE_LENGTH = 64

# A plain decimal number: optional sign, digits, optional decimal point. No exponent, no comma.
NUMBER_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_NUMBER_RE = re.compile(NUMBER_PATTERN)
_CODE_RE = re.compile(r"[a-z][a-z0-9_]*")
_LOINC_RE = re.compile(r"(\d{1,7})-(\d)")

_ENTRY_KEYS = {
    "label", "organ_system", "loinc", "loinc_status", "kind", "unit", "unit_label", "plausible",
    "expected", "precision", "integer", "allowed", "synonyms", "requires_period", "grades",
    "ctcae_term", "alternative_units", "confirm_change_per_24h",
}
_ALTERNATIVE_KEYS = {"label", "scale", "offset", "precision"}


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

    def codes(self) -> tuple[str, ...]:
        return tuple(self.entries)

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


def _positive(reader: "_Reader", table: Mapping[str, Any], key: str, prefix: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise reader.fail(f"{prefix}.{key}", f"must be a positive number, not {value!r}")
    return float(value)


class _Reader:
    """Reads one catalogue file; every complaint names the file and the key."""

    def __init__(self, path: Path) -> None:
        self.where = _display_path(path)

    def fail(self, key: str, message: str) -> CatalogueError:
        return CatalogueError(f"{self.where}: {key}: {message}")

    def text(self, table: Mapping[str, Any], key: str, prefix: str, *, required: bool = True,
             allow_empty: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(f"{prefix}.{key}", "is missing")
            return None
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(f"{prefix}.{key}", f"must be a non-empty string, not {value!r}")
        return value

    def flag(self, table: Mapping[str, Any], key: str, prefix: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{prefix}.{key}", f"must be true or false, not {value!r}")
        return value

    def precision(self, table: Mapping[str, Any], prefix: str, *, required: bool,
                  default: int | None = None) -> int | None:
        if "precision" not in table:
            if required:
                raise self.fail(f"{prefix}.precision", "is missing")
            return default
        value = table["precision"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
            raise self.fail(f"{prefix}.precision", f"must be a whole number of decimals from 0 to 6, not {value!r}")
        return value

    def bounds(self, table: Mapping[str, Any], key: str, prefix: str) -> tuple[float, float] | None:
        value = table.get(key)
        if value is None:
            return None
        name = f"{prefix}.{key}"
        if not isinstance(value, list) or len(value) != 2:
            raise self.fail(name, f"must be [low, high], not {value!r}")
        for number in value:
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise self.fail(name, f"must hold two finite numbers, not {value!r}")
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise self.fail(name, f"low {format_number(low, 0)} is above high {format_number(high, 0)}")
        return low, high

    def fraction(self, value: Any, name: str) -> Fraction:
        try:
            return parse_fraction(value)
        except ValueError as exc:
            raise self.fail(name, str(exc)) from None


def _check_loinc(reader: _Reader, code: str, prefix: str) -> None:
    """LOINC codes end in a Mod 10 check digit (LOINC User's Guide): catches most typing errors."""
    match = _LOINC_RE.fullmatch(code)
    if not match:
        raise reader.fail(f"{prefix}.loinc", f"'{code}' is not a LOINC code such as '8310-5'")
    body, check = match.groups()
    from_right = body[::-1]
    doubled = str(int(from_right[0::2]) * 2)  # digits in odd positions from the right, doubled
    total = sum(int(d) for d in from_right[1::2] + doubled)
    if (10 - total % 10) % 10 != int(check):
        raise reader.fail(f"{prefix}.loinc", f"'{code}' has a wrong check digit")


def _read_entry(reader: _Reader, code: str, table: Any) -> CatalogueEntry:
    prefix = f"codes.{code}"
    if not _CODE_RE.fullmatch(code) or len(code) > MAX_CODE_LENGTH:
        raise reader.fail(prefix, f"code '{code}' must be lower-case letters, digits and '_' "
                                  f"(at most {MAX_CODE_LENGTH} characters), starting with a letter")
    if not isinstance(table, dict):
        raise reader.fail(prefix, "must be a table")
    unknown = sorted(set(table) - _ENTRY_KEYS)
    if unknown:
        raise reader.fail(f"{prefix}.{unknown[0]}", f"unknown key (known keys: {', '.join(sorted(_ENTRY_KEYS))})")

    kind = reader.text(table, "kind", prefix)
    if kind not in KINDS:
        raise reader.fail(f"{prefix}.kind", f"'{kind}' is not one of {', '.join(KINDS)}")
    organ_system = reader.text(table, "organ_system", prefix)
    if organ_system not in ORGAN_SYSTEMS:
        raise reader.fail(f"{prefix}.organ_system",
                          f"'{organ_system}' is not one of: {', '.join(ORGAN_SYSTEMS)}")
    unit = reader.text(table, "unit", prefix)
    if len(unit) > MAX_UNIT_LENGTH:
        raise reader.fail(f"{prefix}.unit", f"'{unit}' is longer than {MAX_UNIT_LENGTH} characters")
    loinc = reader.text(table, "loinc", prefix, required=False)
    loinc_status = reader.text(table, "loinc_status", prefix, required=loinc is not None)
    if loinc is not None:
        _check_loinc(reader, loinc, prefix)
    if loinc_status is not None and loinc_status not in LOINC_STATUSES:
        raise reader.fail(f"{prefix}.loinc_status", f"'{loinc_status}' is not one of {', '.join(LOINC_STATUSES)}")

    plausible = reader.bounds(table, "plausible", prefix)
    expected = reader.bounds(table, "expected", prefix)
    _check_ranges(reader, prefix, kind, plausible, expected)
    integer = reader.flag(table, "integer", prefix)
    if integer and kind != "numeric":
        raise reader.fail(f"{prefix}.integer", "applies to numeric observations only")
    allowed, synonyms = _read_coded(reader, prefix, kind, table)
    grades, ctcae_term = _read_grades(reader, prefix, kind, table)
    alternatives = _read_alternatives(reader, prefix, kind, unit, table)
    if kind == "grade":
        plausible = (0.0, 4.0)
    entry = CatalogueEntry(
        code=code,
        label=reader.text(table, "label", prefix),
        organ_system=organ_system,
        loinc=loinc,
        loinc_status=loinc_status,
        kind=kind,
        unit=unit,
        unit_label=reader.text(table, "unit_label", prefix, allow_empty=True),
        plausible=plausible,
        expected=expected,
        precision=reader.precision(table, prefix, required=kind == "numeric", default=0),
        allowed=allowed,
        requires_period=reader.flag(table, "requires_period", prefix),
        grades=grades,
        ctcae_term=ctcae_term,
        alternative_units=alternatives,
        integer=integer,
        synonyms=synonyms,
        confirm_change_per_24h=_positive(reader, table, "confirm_change_per_24h", prefix),
    )
    _check_unit_spellings(reader, prefix, entry)
    return entry


def _check_ranges(reader: _Reader, prefix: str, kind: str, plausible: tuple[float, float] | None,
                  expected: tuple[float, float] | None) -> None:
    if kind != "numeric":
        for key, value in (("plausible", plausible), ("expected", expected)):
            if value is not None:
                raise reader.fail(f"{prefix}.{key}", f"applies to numeric observations only, not {kind}")
        return
    if plausible is None:
        raise reader.fail(f"{prefix}.plausible", "is missing (every numeric observation needs [low, high])")
    if expected is not None and not (plausible[0] <= expected[0] and expected[1] <= plausible[1]):
        raise reader.fail(f"{prefix}.expected", f"{list(expected)} is not inside plausible {list(plausible)}")


def _read_coded(reader: _Reader, prefix: str, kind: str, table: Mapping[str, Any]
                ) -> tuple[tuple[str, ...], dict[str, str]]:
    allowed, synonyms = table.get("allowed"), table.get("synonyms", {})
    if kind != "coded":
        for key in ("allowed", "synonyms"):
            if key in table:
                raise reader.fail(f"{prefix}.{key}", f"applies to coded observations only, not {kind}")
        return (), {}
    if not isinstance(allowed, list) or not allowed:
        raise reader.fail(f"{prefix}.allowed", "must be a non-empty list of accepted values")
    for value in allowed:
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE_CODE_LENGTH:
            raise reader.fail(f"{prefix}.allowed",
                              f"{value!r} must be a non-empty string of at most {MAX_VALUE_CODE_LENGTH} characters")
    if len({v.casefold() for v in allowed}) != len(allowed):
        raise reader.fail(f"{prefix}.allowed", "values must differ (ignoring case)")
    if not isinstance(synonyms, dict):
        raise reader.fail(f"{prefix}.synonyms", "must be a table of spelling = accepted value")
    for spelling, value in synonyms.items():
        if value not in allowed:
            raise reader.fail(f"{prefix}.synonyms.{spelling}", f"'{value}' is not in allowed {allowed}")
    return tuple(allowed), dict(synonyms)


def _read_grades(reader: _Reader, prefix: str, kind: str, table: Mapping[str, Any]
                 ) -> tuple[dict[int, str], str | None]:
    if kind != "grade":
        for key in ("grades", "ctcae_term"):
            if key in table:
                raise reader.fail(f"{prefix}.{key}", f"applies to graded symptoms only, not {kind}")
        return {}, None
    grades = table.get("grades")
    if not isinstance(grades, dict) or not grades:
        raise reader.fail(f"{prefix}.grades", 'is missing (a table of "1" = "CTCAE v5.0 wording", ...)')
    for key, wording in grades.items():
        if key not in GRADE_KEYS:
            raise reader.fail(f"{prefix}.grades.{key}", f"grade keys must be one of {', '.join(GRADE_KEYS)}")
        if not isinstance(wording, str) or not wording.strip() or wording.strip() in {"-", "–"}:
            raise reader.fail(f"{prefix}.grades.{key}", "needs the CTCAE wording (omit grades CTCAE does not define)")
    return {int(k): grades[k] for k in sorted(grades)}, reader.text(table, "ctcae_term", prefix)


def _read_alternatives(reader: _Reader, prefix: str, kind: str, unit: str, table: Mapping[str, Any]
                       ) -> dict[str, Conversion]:
    alternatives = table.get("alternative_units", {})
    if alternatives and kind != "numeric":
        raise reader.fail(f"{prefix}.alternative_units", f"applies to numeric observations only, not {kind}")
    if not isinstance(alternatives, dict):
        raise reader.fail(f"{prefix}.alternative_units", "must be a table of unit tables")
    result: dict[str, Conversion] = {}
    for alt_unit, spec in alternatives.items():
        name = f'{prefix}.alternative_units."{alt_unit}"'
        if not isinstance(spec, dict):
            raise reader.fail(name, "must be a table with label, scale and offset")
        unknown = sorted(set(spec) - _ALTERNATIVE_KEYS)
        if unknown:
            raise reader.fail(f"{name}.{unknown[0]}",
                              f"unknown key (known keys: {', '.join(sorted(_ALTERNATIVE_KEYS))})")
        if alt_unit == unit or not alt_unit.strip() or len(alt_unit) > MAX_UNIT_LENGTH:
            raise reader.fail(name, f"must be a UCUM code other than the canonical unit, "
                                    f"at most {MAX_UNIT_LENGTH} characters")
        if "scale" not in spec:
            raise reader.fail(f"{name}.scale", "is missing")
        scale = reader.fraction(spec["scale"], f"{name}.scale")
        offset = reader.fraction(spec.get("offset", "0"), f"{name}.offset")
        if scale <= 0:
            raise reader.fail(f"{name}.scale", f"must be positive, not {spec['scale']!r}")
        result[alt_unit] = Conversion(unit=alt_unit, label=reader.text(spec, "label", name), scale=scale,
                                      offset=offset, precision=reader.precision(spec, name, required=False))
    return result


def _check_unit_spellings(reader: _Reader, prefix: str, entry: CatalogueEntry) -> None:
    """Each accepted unit (code or label, ignoring case and µ/u) must point at one unit only."""
    seen: dict[str, str] = {}
    for unit, label in [(entry.unit, entry.unit_label)] + [(u, c.label) for u, c in entry.alternative_units.items()]:
        for spelling in {_normalise_unit(unit), _normalise_unit(label)} - {""}:
            if seen.setdefault(spelling, unit) != unit:
                raise reader.fail(f"{prefix}.alternative_units",
                                  f"'{spelling}' would match both {seen[spelling]} and {unit}")


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Load and validate the catalogue (default: data/catalogue.toml, or IL2_DATA_DIR/catalogue.toml).

    Raises CatalogueError naming the file and the key for anything invalid.
    """
    path = Path(path) if path is not None else _default_path()
    reader = _Reader(path)
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise CatalogueError(f"{reader.where}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{reader.where}: not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"meta", "codes"})
    if unknown:
        raise reader.fail(unknown[0], "unknown table (expected [meta] and [codes.<code>] tables)")
    meta = document.get("meta")
    if not isinstance(meta, dict):
        raise reader.fail("meta", "is missing")
    version = reader.text(meta, "version", "meta")
    codes = document.get("codes")
    if not isinstance(codes, dict) or not codes:
        raise reader.fail("codes", "is missing (one [codes.<code>] table per observation)")
    entries = {code: _read_entry(reader, code, table) for code, table in codes.items()}
    return Catalogue(entries, version, path=path, meta=meta)


@functools.cache
def default_catalogue() -> Catalogue:
    """The catalogue at the default location, loaded once per process."""
    return load_catalogue()
