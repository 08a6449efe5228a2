"""Exact unit conversion to each observation's canonical unit.

A conversion is ``canonical = value * scale + offset`` with ``scale`` and ``offset`` held as exact
fractions (the factors and their sources are in data/catalogue.toml; clinical.md §7.3).

Results are rounded to 6 decimal places. This removes binary floating-point noise, so that
100.4 [degF] gives exactly 38.0 Cel and 26.52 umol/L creatinine exactly 0.3 mg/dL, and threshold
comparisons such as ">= 38.0" behave as a clinician reads them. Six decimals is far below any
clinical precision (the finest displayed precision in the catalogue is 2 decimals). Ties are
rounded half away from zero (150 [lb_av] = 68.0388555 kg -> 68.038856 kg).

Two paths give the same numbers: the scalar path (``Conversion.to_canonical``) uses Fraction
arithmetic on ``Fraction(str(value))``; the vectorised path (``convert_array``) uses float64
arithmetic and falls back to the exact path for the rare values whose float result lies within
rounding noise of a tie at the 6th decimal.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from numbers import Rational

import numpy as np

DECIMALS = 6
_QUANTUM = 10 ** DECIMALS
_FLOAT_QUANTUM = float(_QUANTUM)
# Relative error bound used to detect float results that may sit on the other side of a tie:
# float64 arithmetic errs by a few units of 2**-53; 2**-40 leaves a margin of several thousand.
_TIE_RELATIVE_TOLERANCE = 2.0 ** -40
# Beyond 2**50 a float no longer resolves halves of the 6th decimal: use the exact path.
_FLOAT_EXACT_LIMIT = 2.0 ** 50

Number = int | float | Fraction | Decimal | str


def parse_fraction(text: str | int) -> Fraction:
    """Parse an exact rational such as '5/9', '-160/9', '0.45359237' or '1'; raise ValueError."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(
            f"Invalid conversion factor {text!r}: write it as a string holding an exact rational "
            "such as '5/9', '-160/9' or '0.45359237' (not a float, which is inexact)."
        )
    try:
        value = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            f"Invalid conversion factor {text!r}: expected an exact rational such as "
            "'5/9', '-160/9' or '0.45359237'."
        ) from None
    return value


def exact(value: Number) -> Fraction:
    """The exact rational a user meant: floats go through their shortest repr (38.3 -> 383/10)."""
    if isinstance(value, bool):
        raise TypeError(f"{value!r} is not a number")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, (int, Rational, Decimal)):
        return Fraction(value)
    if isinstance(value, str):
        return Fraction(value.strip())
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return Fraction(repr(number))


def round_exact(value: Fraction) -> float:
    """Round an exact rational to 6 decimals, half away from zero, and return the nearest float."""
    scaled = abs(value) * _QUANTUM
    units = math.floor(scaled + Fraction(1, 2))
    return math.copysign(units / _QUANTUM, value) if units else 0.0


@dataclass(frozen=True)
class Conversion:
    """How to bring a value in `unit` to the canonical unit: canonical = value * scale + offset.

    `precision` is the number of decimals to display in this unit (None: the entry's precision).
    """

    unit: str
    label: str
    scale: Fraction
    offset: Fraction = Fraction(0)
    precision: int | None = None

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"Conversion from {self.unit}: scale must be positive, not {self.scale}")

    @classmethod
    def identity(cls, unit: str, label: str, precision: int | None = None) -> Conversion:
        """The conversion of the canonical unit to itself."""
        return cls(unit=unit, label=label, scale=Fraction(1), offset=Fraction(0), precision=precision)

    @property
    def is_identity(self) -> bool:
        return self.scale == 1 and self.offset == 0

    def to_canonical(self, value: Number) -> float:
        """Value in this unit -> canonical unit, exact then rounded to 6 decimals."""
        return round_exact(exact(value) * self.scale + self.offset)

    def from_canonical(self, value: Number) -> float:
        """Canonical value -> this unit, exact then rounded to 6 decimals."""
        return round_exact((exact(value) - self.offset) / self.scale)

    def to_canonical_array(self, values: np.ndarray) -> np.ndarray:
        """Vectorised `to_canonical` (NaN stays NaN)."""
        return convert_array(values, self.scale, self.offset)

    def from_canonical_array(self, values: np.ndarray) -> np.ndarray:
        """Vectorised `from_canonical` (NaN stays NaN)."""
        return convert_array(values, 1 / self.scale, -self.offset / self.scale)


def convert_array(values: np.ndarray, scale: Fraction, offset: Fraction) -> np.ndarray:
    """Vectorised ``values * scale + offset`` rounded to 6 decimals, equal to the scalar path.

    float64 arithmetic for millions of rows; the few results within float noise of a rounding tie
    (or too large for float to resolve the 6th decimal) are recomputed exactly, once per distinct
    value. NaN stays NaN; infinities stay infinite.
    """
    values = np.asarray(values, dtype=np.float64)
    float_scale, float_offset = float(scale), float(offset)
    with np.errstate(over="ignore"):  # |value| near 1e308: infinite, as implausible as the exact result
        product = values * float_scale
        scaled = (product + float_offset) * _FLOAT_QUANTUM
    result = np.rint(scaled) / _FLOAT_QUANTUM
    with np.errstate(invalid="ignore", over="ignore"):
        distance_to_tie = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5)
        tolerance = (np.abs(product) + abs(float_offset)) * _FLOAT_QUANTUM * _TIE_RELATIVE_TOLERANCE
        doubtful = np.isfinite(scaled) & ((distance_to_tie <= tolerance) | (np.abs(scaled) >= _FLOAT_EXACT_LIMIT))
    if doubtful.any():
        positions = np.flatnonzero(doubtful)
        distinct, inverse = np.unique(values[positions], return_inverse=True)
        exact_results = np.array([round_exact(exact(float(v)) * scale + offset) for v in distinct])
        result[positions] = exact_results[inverse]
    # Keep -0.0 out of the results, as the scalar path does.
    result[result == 0] = 0.0
    return result
