"""The prescribed IL-2 dose of a course (issue 15): dose per kg x the dosing weight, or a fixed dose.

The dosing weight is recorded with the course, by default the pre-treatment (baseline) weight: the
weight gained through capillary leak during a course is fluid, and a dose worked out on today's
weight would rise with the toxicity it should respect (a nurse saw 61.68 MIU proposed against
59.3 MIU for doses 1-13). A dose given that differs from the prescription by more than
[prescription] confirm_difference_percent of data/thresholds.toml needs the difference confirmed.
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from monitoring.clinical.thresholds import SectionModel, section


@section("prescription")
class PrescriptionSettings(SectionModel):
    """[prescription]: a dose given that differs from the prescribed one by more than this needs the
    difference confirmed (local choice; NHS England dose banding allows 5 %, from memory)."""

    confirm_difference_percent: float = Field(ge=0, le=50, description="Largest difference (%) between the dose "
                                                                       "given and the prescribed dose without a "
                                                                       "confirmation")


def unit_text(unit: str | None) -> str:
    """UCUM annotation to display: '[IU]' -> 'IU', '[IU]/kg' -> 'IU/kg'."""
    return (unit or "").replace("[", "").replace("]", "")


def amount_text(dose: float | None, unit: str | None) -> str:
    if dose is None or dose != dose:
        return "–"
    return f"{dose:,.0f} {unit_text(unit)}".strip()


@dataclass(frozen=True)
class Prescribed:
    dose: float | None          # None: no prescription to work from (the nurse types the dose)
    unit: str | None            # of the dose, UCUM ('[IU]')
    weight_kg: float | None     # the dosing weight used
    basis: str                  # how it was worked out, or why there is none

    def difference_percent(self, given: float | None) -> float | None:
        """(given - prescribed) / prescribed x 100, or None when either is unknown."""
        if given is None or self.dose is None or not self.dose:
            return None
        return (given - self.dose) / self.dose * 100

    def difference_text(self, given: float, limit_percent: float) -> str | None:
        """The words asking for confirmation when `given` differs by more than `limit_percent`, else None."""
        change = self.difference_percent(given)
        if change is None or abs(change) <= limit_percent:
            return None
        return (f"The dose {amount_text(given, self.unit)} differs from the prescribed "
                f"{amount_text(self.dose, self.unit)} "
                f"({self.basis}) by {change:+.1f}%, more than {limit_percent:g}%: confirm the difference, or correct "
                "the dose.")


def prescribed_dose(*, dose_per_kg: float | None, dose_unit: str | None, fixed_dose: float | None,
                    dosing_weight_kg: float | None, baseline_weight_kg: float | None) -> Prescribed:
    """The course's prescribed dose: the fixed dose when the course has one (low-dose SC), else dose per
    kg x the dosing weight (the baseline weight when no dosing weight was recorded)."""
    per_kg_unit = dose_unit or "[IU]/kg"
    unit = per_kg_unit[:-3] if per_kg_unit.endswith("/kg") else per_kg_unit
    if fixed_dose is not None:
        return Prescribed(float(fixed_dose), unit, None, f"fixed dose of the course, {amount_text(fixed_dose, unit)}")
    if dose_per_kg is None or not per_kg_unit.endswith("/kg"):
        return Prescribed(None, unit, None, "the course has no dose per kg and no fixed dose: type the dose prescribed")
    weight, which = ((dosing_weight_kg, "dosing weight") if dosing_weight_kg else
                     (baseline_weight_kg, "dosing weight = pre-treatment weight") if baseline_weight_kg else
                     (None, None))
    if weight is None:
        return Prescribed(None, unit, None, "the course has no dosing weight and no pre-treatment weight: type the "
                                            "dose prescribed")
    dose = dose_per_kg * weight
    return Prescribed(dose, unit, float(weight), f"{dose_per_kg:,.0f} {unit_text(per_kg_unit)} × {weight:.1f} kg "
                                                 f"{which} = {amount_text(dose, unit)}")
