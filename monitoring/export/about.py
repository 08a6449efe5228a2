"""What every quality export says about itself: IDENTIFIABLE or de-identified, the period, the wards,
the regimens, the pseudonym key's generation, synthetic data.

The same words in each format: the README of the CSV zip, the first sheet of the Excel workbook, the
cover and every page of the PDF report, and the file's name (writers.filename). The period and the
key generation come from the caller (the tables do not know them); when not given the export says
so ("Period not stated", "key generation not recorded") rather than leaving a blank.
"""
from __future__ import annotations

from dataclasses import dataclass

IDENTIFIABLE = "IDENTIFIABLE"
DEIDENTIFIED = "De-identified"
PERIOD_NOT_STATED = "Period not stated"
KEY_NOT_RECORDED = "key generation not recorded"
ALL_WARDS, ALL_REGIMENS = "all wards", "all regimens"
IDENTIFIABLE_WARNING = ("IDENTIFIABLE: this export names patients (names, record numbers, dates of birth, calendar "
                        "dates). Handle it as patient records and keep it within the care team.")
DEIDENTIFIED_NOTE = ("De-identified: patients appear as pseudonyms and every time as days from the start of its "
                     "course; no name, record number, birth date or calendar date, and text typed by staff is "
                     "withheld.")


@dataclass(frozen=True)
class ExportAbout:
    """The facts an export states about itself (see the module doc)."""

    identifiable: bool = False
    synthetic: bool = False
    period_text: str | None = None
    wards_text: str | None = None
    regimens_text: str | None = None
    key_generation: int | None = None

    @property
    def mark(self) -> str:
        return IDENTIFIABLE if self.identifiable else DEIDENTIFIED

    @property
    def warning(self) -> str:
        return IDENTIFIABLE_WARNING if self.identifiable else DEIDENTIFIED_NOTE

    @property
    def period(self) -> str:
        return self.period_text or PERIOD_NOT_STATED

    @property
    def key(self) -> str:
        """'key generation 3' (of the pseudonym key), or KEY_NOT_RECORDED."""
        return KEY_NOT_RECORDED if self.key_generation is None else f"key generation {self.key_generation}"

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) lines: period, wards, regimens, key, data."""
        return [("Period", self.period), ("Wards", self.wards_text or ALL_WARDS),
                ("Regimens", self.regimens_text or ALL_REGIMENS), ("Pseudonyms", self.key[:1].upper() + self.key[1:]),
                ("Data", "Synthetic: invented patients, not real people" if self.synthetic else "Ward record")]
