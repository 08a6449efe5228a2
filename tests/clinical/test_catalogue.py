"""The observation catalogue and unit conversion, as a nurse or a lab import would notice them.

Conversion pairs come from clinical.md §7.3 / §1.15 (CTCAE v5.0, KDIGO, SOFA), not from re-computed
factors.
"""
from __future__ import annotations

import math
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.clinical.catalogue import (
    CATEGORIES,
    DEFAULT_PATH,
    ORGAN_SYSTEMS,
    Catalogue,
    CatalogueError,
    ObservationValueError,
    UnknownCodeError,
    default_catalogue,
    load_catalogue,
)
from monitoring.clinical.units import Conversion, convert_array, parse_fraction


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


CATALOGUE = load_catalogue()
NUMERIC = [e for e in CATALOGUE if e.kind == "numeric"]
CONVERSIONS = [(e.code, unit) for e in NUMERIC for unit in e.accepted_units()]


# --- catalogue content -----------------------------------------------------------------------------

REQUIRED_CODES = {
    # code: (kind, canonical UCUM unit)
    "temperature": ("numeric", "Cel"), "heart_rate": ("numeric", "/min"), "sbp": ("numeric", "mm[Hg]"),
    "dbp": ("numeric", "mm[Hg]"), "map": ("numeric", "mm[Hg]"), "resp_rate": ("numeric", "/min"),
    "spo2": ("numeric", "%"), "on_oxygen": ("coded", "{code}"), "o2_flow": ("numeric", "L/min"),
    "spo2_scale": ("coded", "{code}"), "consciousness": ("coded", "{code}"), "gcs": ("numeric", "{score}"),
    "weight": ("numeric", "kg"), "urine_output": ("numeric", "mL"), "fluid_intake": ("numeric", "mL"),
    "anc": ("numeric", "10*9/L"), "wbc": ("numeric", "10*9/L"), "lymphocytes": ("numeric", "10*9/L"),
    "eosinophils": ("numeric", "10*9/L"), "platelets": ("numeric", "10*9/L"),
    "hemoglobin": ("numeric", "g/dL"), "creatinine": ("numeric", "mg/dL"), "bilirubin": ("numeric", "mg/dL"),
    "ast": ("numeric", "U/L"), "alt": ("numeric", "U/L"), "alp": ("numeric", "U/L"),
    "albumin": ("numeric", "g/dL"), "sodium": ("numeric", "mmol/L"), "potassium": ("numeric", "mmol/L"),
    "magnesium": ("numeric", "mg/dL"), "lactate": ("numeric", "mmol/L"), "crp": ("numeric", "mg/L"),
    **{code: ("grade", "{grade}") for code in (
        "diarrhea", "nausea", "vomiting", "rash", "pruritus", "dyspnea", "confusion", "rigors",
        "mucositis", "fatigue", "arrhythmia", "hypotension")},
}


@pytest.mark.parametrize("code,kind,unit", [(c, k, u) for c, (k, u) in REQUIRED_CODES.items()])
def test_required_code_is_present_with_its_canonical_unit(catalogue, code, kind, unit):
    entry = catalogue[code]
    assert (entry.kind, entry.unit) == (kind, unit)
    assert entry.label and entry.organ_system in ORGAN_SYSTEMS


@pytest.mark.parametrize("code,loinc,status", [
    ("temperature", "8310-5", "V"), ("heart_rate", "8867-4", "V"), ("sbp", "8480-6", "V"),
    ("map", "8478-0", "S"), ("o2_flow", "3151-8", "S"), ("gcs", "9269-2", "S"),
    ("consciousness", "67775-7", "M"), ("eosinophils", "711-2", "M"), ("lymphocytes", "731-0", "S"),
    ("anc", "751-8", "V2"), ("creatinine", "2160-0", "V"), ("magnesium", "19123-9", "V"),
])
def test_loinc_codes_and_evidence_tags_follow_clinical_reference(catalogue, code, loinc, status):
    assert (catalogue[code].loinc, catalogue[code].loinc_status) == (loinc, status)


@pytest.mark.parametrize("code,term,grades", [
    ("diarrhea", "Diarrhea", (1, 2, 3, 4)), ("nausea", "Nausea", (1, 2, 3)), ("vomiting", "Vomiting", (1, 2, 3, 4)),
    ("rash", "Rash maculo-papular", (1, 2, 3)), ("pruritus", "Pruritus", (1, 2, 3)),
    ("dyspnea", "Dyspnea", (1, 2, 3, 4)), ("confusion", "Confusion", (1, 2, 3, 4)),
    ("rigors", "Chills", (1, 2, 3)), ("mucositis", "Mucositis oral", (1, 2, 3, 4)),
    ("fatigue", "Fatigue", (1, 2, 3)), ("arrhythmia", "Supraventricular tachycardia", (1, 2, 3, 4)),
    ("hypotension", "Hypotension", (1, 2, 3, 4)),
])
def test_graded_symptoms_carry_ctcae_wording_for_defined_grades_only(catalogue, code, term, grades):
    entry = catalogue[code]
    assert entry.ctcae_term == term
    assert tuple(entry.grades) == grades
    assert entry.accepted_grades == (0, *grades)
    assert all(text.strip() for text in entry.grades.values())


def test_ctcae_wording_is_verbatim(catalogue):
    assert catalogue["diarrhea"].grades[2] == (
        "Increase of 4 - 6 stools per day over baseline; moderate increase in ostomy output compared to "
        "baseline; limiting instrumental ADL")
    assert catalogue["rigors"].grades[1] == "Mild sensation of cold; shivering; chattering of teeth"
    assert catalogue["hypotension"].grades[4] == "Life-threatening consequences and urgent intervention indicated"


def test_only_volumes_over_a_period_require_a_period(catalogue):
    assert {e.code for e in catalogue if e.requires_period} == {"urine_output", "fluid_intake"}


def test_organ_systems_are_grouped_in_the_fixed_order(catalogue):
    groups = catalogue.by_organ_system()
    assert list(groups) == [s for s in ORGAN_SYSTEMS if s in groups]
    assert set(groups) == set(ORGAN_SYSTEMS)  # every system has at least one observation
    assert sum(len(v) for v in groups.values()) == len(catalogue)
    assert [e.code for e in groups["cardiovascular"]][:3] == ["heart_rate", "sbp", "dbp"]


@pytest.mark.parametrize("entry", NUMERIC, ids=lambda e: e.code)
def test_numeric_ranges_are_consistent(entry):
    low, high = entry.plausible
    assert low <= high
    if entry.expected:
        assert low <= entry.expected[0] <= entry.expected[1] <= high


def test_catalogue_is_a_mapping_of_codes(catalogue):
    assert "temperature" in catalogue and "temp" not in catalogue and 3 not in catalogue
    assert [e.code for e in catalogue][:1] == [next(iter(catalogue.entries))]
    assert len(catalogue) == len(catalogue.entries) >= len(REQUIRED_CODES)
    assert catalogue.version == "1.0.0"
    assert catalogue["creatinine"].accepted_units() == ("mg/dL", "umol/L")
    assert catalogue["platelets"].accepted_units()[0] == "10*9/L"


def test_default_catalogue_is_loaded_once():
    assert default_catalogue() is default_catalogue()
    assert default_catalogue().entries.keys() == CATALOGUE.entries.keys()


# --- exact conversion --------------------------------------------------------------------------------

@pytest.mark.parametrize("code,unit,value,canonical", [
    # CTCAE v5.0 Fever: 38.0 °C = 100.4 °F, 39.0 = 102.2, 40.0 = 104.0 (clinical.md §1.15)
    ("temperature", "[degF]", "100.4", 38.0),
    ("temperature", "[degF]", "102.2", 39.0),
    ("temperature", "[degF]", "104.0", 40.0),
    ("temperature", "[degF]", "98.6", 37.0),
    # CTCAE Anemia: 10.0 g/dL = 100 g/L, 8.0 = 80; Hypoalbuminemia 3 g/dL = 30 g/L, 2 = 20
    ("hemoglobin", "g/L", "100", 10.0),
    ("hemoglobin", "g/L", "80", 8.0),
    ("albumin", "g/L", "30", 3.0),
    ("albumin", "g/L", "20", 2.0),
    # Creatinine ÷ 88.4: KDIGO 0.3 mg/dL = 26.5 µmol/L (26.52 exactly), 4.0 mg/dL = 353.6 µmol/L
    ("creatinine", "umol/L", "26.52", 0.3),
    ("creatinine", "umol/L", "353.6", 4.0),
    ("creatinine", "umol/L", "88.4", 1.0),
    # Bilirubin ÷ 17.1
    ("bilirubin", "umol/L", "17.1", 1.0),
    ("bilirubin", "umol/L", "342", 20.0),
    # Cell counts: 1500/mm³ = 1.5 ×10⁹/L; 10³/µL = 10⁹/L (CTCAE pairs)
    ("anc", "/uL", "1500", 1.5),
    ("anc", "/mm3", "1000", 1.0),
    ("anc", "/mm3", "500", 0.5),
    ("anc", "10*3/uL", "1.5", 1.5),
    ("platelets", "/uL", "75000", 75.0),
    ("platelets", "/mm3", "25000", 25.0),
    ("wbc", "/uL", "3000", 3.0),
    ("lymphocytes", "/mm3", "800", 0.8),
    ("eosinophils", "10*3/uL", "0.5", 0.5),
    # Magnesium: 1 mmol/L = 2.4305 mg/dL (molar mass 24.305 g/mol); divalent, so 1 mEq/L = 0.5 mmol/L
    ("magnesium", "mmol/L", "0.5", 1.21525),
    ("magnesium", "mmol/L", "0.4", 0.9722),
    ("magnesium", "mmol/L", "1", 2.4305),
    ("magnesium", "meq/L", "1", 1.21525),
    # Avoirdupois pound = 0.45359237 kg exactly; ties at the 6th decimal round half away from zero
    ("weight", "[lb_av]", "100", 45.359237),
    ("weight", "[lb_av]", "1", 0.453592),
    ("weight", "[lb_av]", "150", 68.038856),
    ("weight", "[lb_av]", "50", 22.679619),
    # Definitions of the units
    ("crp", "mg/dL", "1.2", 12.0),
    ("urine_output", "L", "0.45", 450.0),
    ("sodium", "meq/L", "140", 140.0),
])
def test_alternative_units_convert_exactly_on_published_pairs(catalogue, code, unit, value, canonical):
    conversion = catalogue[code].conversion(unit)
    assert conversion.to_canonical(value) == canonical
    assert conversion.to_canonical(float(value)) == canonical
    low, high = catalogue[code].plausible
    if low <= canonical <= high:
        assert catalogue.validate(code, value, unit).value_num == canonical


def test_pound_weight_conversion_is_close_to_published_value(catalogue):
    assert catalogue["weight"].conversion("[lb_av]").to_canonical(176.3699) == pytest.approx(80.0, abs=1e-4)


@pytest.mark.parametrize("code,unit,value,rounded", [
    # SOFA pairs are rounded in the source: 1.2 mg/dL ~ 20 µmol/L, 6.0 ~ 102, 12.0 ~ 204
    ("bilirubin", "umol/L", 20, 1.2), ("bilirubin", "umol/L", 102, 6.0), ("bilirubin", "umol/L", 204, 12.0),
    # CTCAE Mg pairs are rounded: 1.2 mg/dL ~ 0.5 mmol/L, 0.9 ~ 0.4, 0.7 ~ 0.3
    ("magnesium", "mmol/L", 0.5, 1.2), ("magnesium", "mmol/L", 0.4, 1.0), ("magnesium", "mmol/L", 0.3, 0.7),
    # CTCAE 38.3 °C "≈ 101 °F"
    ("temperature", "[degF]", 101, 38.3),
])
def test_rounded_published_pairs_agree_to_their_printed_precision(catalogue, code, unit, value, rounded):
    assert catalogue[code].conversion(unit).to_canonical(value) == pytest.approx(rounded, abs=0.1)


@pytest.mark.parametrize("code,unit", CONVERSIONS)
def test_round_trip_shows_the_entered_value_again(catalogue, code, unit):
    """A value entered in any unit, stored canonically, displays again as entered (at that unit's precision)."""
    entry = catalogue[code]
    conversion = entry.conversion(unit)
    places = entry.display_precision(conversion)
    low, high = (conversion.from_canonical(b) for b in entry.plausible)
    for x in np.unique(np.round(np.linspace(low, high, 397), places)):
        x = float(x)
        back = conversion.from_canonical(conversion.to_canonical(x))
        assert round(back, places) == x
        # and the stored value is within the 6-decimal rounding of the exact result
        assert abs(back - x) <= float(Fraction(1, 2 * 10**6) / conversion.scale) + 1e-6


@pytest.mark.parametrize("entry", NUMERIC, ids=lambda e: e.code)
def test_canonical_unit_is_the_identity(entry):
    for unit in (None, "", entry.unit):
        conversion = entry.conversion(unit)
        assert conversion.is_identity and conversion.unit == entry.unit
    for x in np.linspace(*entry.plausible, 101):
        x = round(float(x), 4)
        assert entry.conversion(None).to_canonical(x) == x


@pytest.mark.parametrize("code,unit", [(c, u) for c, u in CONVERSIONS if u != CATALOGUE[c].unit])
def test_alternative_units_map_plausible_bounds_to_finite_ordered_values(catalogue, code, unit):
    entry = catalogue[code]
    conversion = entry.conversion(unit)
    low, high = (conversion.from_canonical(b) for b in entry.plausible)
    assert math.isfinite(low) and math.isfinite(high) and low < high
    # back to canonical within the 6-decimal rounding of the converted bound
    tolerance = 1e-6 * max(1.0, float(conversion.scale))
    assert conversion.to_canonical(low) == pytest.approx(entry.plausible[0], abs=tolerance)
    assert conversion.to_canonical(high) == pytest.approx(entry.plausible[1], abs=tolerance)


def _grid(entry, conversion) -> np.ndarray:
    low, high = (conversion.from_canonical(b) for b in entry.plausible)
    span = np.linspace(low - (high - low) * 0.1, high + (high - low) * 0.1, 301)
    grid = np.concatenate([span, *(np.round(span, p) for p in range(4)), [50.0, 150.0, 0.0, low, high]])
    return np.unique(grid)


@pytest.mark.parametrize("code,unit", CONVERSIONS)
def test_vectorised_conversion_equals_the_exact_scalar_path(catalogue, code, unit):
    entry = catalogue[code]
    conversion = entry.conversion(unit)
    grid = _grid(entry, conversion)
    vector = convert_array(grid, conversion.scale, conversion.offset)
    scalar = np.array([conversion.to_canonical(float(v)) for v in grid])
    np.testing.assert_array_equal(vector, scalar)
    back = conversion.from_canonical_array(scalar)
    np.testing.assert_array_equal(back, [conversion.from_canonical(float(v)) for v in scalar])


@pytest.mark.parametrize("values,scale,offset", [
    # exact ties at the 6th decimal, where float arithmetic alone could go either way
    ([50, 150, 250, 1050, -50], Fraction("0.45359237"), Fraction(0)),
    ([0.123, 0.375, 1.125, 2.0000005], Fraction("24305/10000"), Fraction(0)),
    ([38.1234565, -0.0000005, 0.0000015], Fraction(1), Fraction(0)),
    ([np.nan, np.inf, -np.inf], Fraction(5, 9), Fraction(-160, 9)),
])
def test_vectorised_conversion_rounds_ties_like_the_scalar_path(values, scale, offset):
    conversion = Conversion(unit="x", label="x", scale=scale, offset=offset)
    vector = convert_array(np.array(values, dtype=float), scale, offset)
    for v, got in zip(values, vector):
        if math.isfinite(v):
            assert got == conversion.to_canonical(v), v
        else:
            assert np.isnan(got) if np.isnan(v) else got == v * float(scale)


@pytest.mark.parametrize("text,expected", [
    ("5/9", Fraction(5, 9)), ("-160/9", Fraction(-160, 9)), ("0.45359237", Fraction(45359237, 10**8)),
    (" 10/884 ", Fraction(10, 884)), ("1", Fraction(1)), (3, Fraction(3)),
])
def test_parse_fraction_accepts_exact_rationals(text, expected):
    assert parse_fraction(text) == expected


@pytest.mark.parametrize("text", ["5//9", "abc", "1/0", "", 0.1, None, True])
def test_parse_fraction_refuses_anything_inexact_or_malformed(text):
    with pytest.raises(ValueError, match="exact rational"):
        parse_fraction(text)


# --- refused values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code,value,unit,shown", [
    ("temperature", 52, None, ["52.0 °C", "25.0–45.0 °C"]),
    ("temperature", "24.9", None, ["24.9 °C", "25.0–45.0 °C"]),
    ("temperature", 45.1, None, ["45.1 °C", "25.0–45.0 °C"]),
    ("temperature", "45.04", None, ["45.04 °C", "25.0–45.0 °C"]),
    ("temperature", "125.6", "[degF]", ["125.6 °F (52.0 °C)", "77.0–113.0 °F (25.0–45.0 °C)"]),
    ("spo2", 101, None, ["101%", "40–100%"]),
    ("heart_rate", -1, None, ["-1 /min", "10–300 /min"]),
    ("heart_rate", 0, None, ["0 /min", "10–300 /min"]),
    ("weight", 0, None, ["0.0 kg", "20.0–350.0 kg"]),
    ("weight", "900", "[lb_av]", ["900.0 lb (408.2 kg)", "44.1–771.6 lb (20.0–350.0 kg)"]),
    ("anc", "-0.1", None, ["-0.10 ×10⁹/L", "0.00–100.00 ×10⁹/L"]),
    ("creatinine", "5000", "umol/L", ["5000 µmol/L (56.56 mg/dL)", "8.84–2652 µmol/L (0.10–30.00 mg/dL)"]),
    ("gcs", 2, None, ["2 is outside", "3–15"]),
])
def test_implausible_values_are_refused_naming_value_unit_and_range(catalogue, code, value, unit, shown):
    with pytest.raises(ObservationValueError) as caught:
        catalogue.validate(code, value, unit)
    message = str(caught.value)
    assert message.startswith(catalogue[code].label)
    assert "plausible range" in message and "not saved" in message
    for text in shown:
        assert text in message
    assert (caught.value.code, caught.value.value, caught.value.unit) == (code, value, unit)


@pytest.mark.parametrize("entry", NUMERIC, ids=lambda e: e.code)
def test_plausible_bounds_are_inclusive(catalogue, entry):
    low, high = entry.plausible
    for value in (low, high):
        assert catalogue.validate(entry.code, value).value_num == value
        assert catalogue.validate(entry.code, str(value)).value_num == value
    for value in (low - 0.01, high + 0.01):
        with pytest.raises(ObservationValueError):
            catalogue.validate(entry.code, value)


@pytest.mark.parametrize("code,unit,low,high", [
    ("temperature", "[degF]", "77.0", "113.0"),
    ("creatinine", "umol/L", "8.84", "2652"),
    ("platelets", "/uL", "0", "2000000"),
    ("albumin", "g/L", "5", "70"),
])
def test_plausible_bounds_are_inclusive_in_alternative_units(catalogue, code, unit, low, high):
    entry = catalogue[code]
    assert catalogue.validate(code, low, unit).value_num == entry.plausible[0]
    assert catalogue.validate(code, high, unit).value_num == entry.plausible[1]
    with pytest.raises(ObservationValueError):
        catalogue.validate(code, float(high) + 0.1, unit)


@pytest.mark.parametrize("code,value,unit,shown", [
    ("temperature", "35.0", None, ["Temperature 35.0 °C is unusual", "expected 35.1–41.0 °C", "Confirm"]),
    ("temperature", 41.1, None, ["41.1 °C", "35.1–41.0 °C"]),
    ("temperature", "95.0", "[degF]", ["95.0 °F (35.0 °C)", "(35.1–41.0 °C)"]),
    ("sbp", 70, None, ["Systolic blood pressure 70 mmHg is unusual", "71–219 mmHg"]),
    ("sbp", 220, None, ["220 mmHg"]),
    ("heart_rate", 40, None, ["40 /min", "41–179 /min"]),
    ("spo2", 79, None, ["79%", "80–100%"]),
    ("gcs", 8, None, ["Glasgow Coma Scale 8 is unusual"]),
    ("platelets", "1500", "/uL", ["1500 /µL (1.5 ×10⁹/L)"]),
])
def test_surprising_values_ask_for_confirmation(catalogue, code, value, unit, shown):
    result = catalogue.validate(code, value, unit)
    assert result.value_num is not None
    for text in shown:
        assert text in result.confirmation


@pytest.mark.parametrize("code,value,unit", [
    ("temperature", "35.1", None), ("temperature", 41.0, None), ("temperature", 38.3, None),
    ("sbp", 71, None), ("sbp", 219, None), ("heart_rate", 41, None), ("spo2", 80, None),
    ("temperature", "95.2", "[degF]"),
])
def test_values_inside_expected_need_no_confirmation(catalogue, code, value, unit):
    assert catalogue.validate(code, value, unit).confirmation is None


@pytest.mark.parametrize("value", [None, "", "   ", float("nan"), np.nan, pd.NA])
def test_missing_value_is_refused_never_zero(catalogue, value):
    with pytest.raises(ObservationValueError, match="the value is missing.*never saved as zero"):
        catalogue.validate("temperature", value)


@pytest.mark.parametrize("value,shown", [
    ("abc", "'abc' is not a number"),
    ("38,3", "use a decimal point, not a comma"),
    ("1,500", "use a decimal point, not a comma"),
    ("inf", "'inf' is not a number"),
    (float("inf"), "'inf' is not a number"),
    ("nan", "'nan' is not a number"),
    ("3.8e1", "'3.8e1' is not a number"),
    ("38.3 C", "'38.3 C' is not a number"),
    (True, "'True' is not a number"),
])
def test_text_that_is_not_a_plain_number_is_refused(catalogue, value, shown):
    with pytest.raises(ObservationValueError) as caught:
        catalogue.validate("temperature", value)
    assert shown in str(caught.value)


@pytest.mark.parametrize("value,expected", [
    ("38.3", 38.3), (" 38.3 ", 38.3), ("+38.3", 38.3), ("38", 38.0), ("38.", 38.0), (38, 38.0),
    (np.float64(38.3), 38.3), (np.int64(38), 38.0),
])
def test_plain_numbers_are_accepted_in_any_form(catalogue, value, expected):
    assert catalogue.validate("temperature", value).value_num == expected


def test_validated_value_keeps_what_was_entered(catalogue):
    result = catalogue.validate("temperature", " 100.4 ", "°F")
    assert (result.code, result.value_num, result.value_code, result.unit) == ("temperature", 38.0, None, "Cel")
    assert (result.original_value, result.original_unit, result.confirmation) == ("100.4", "[degF]", None)
    assert catalogue.validate("temperature", 38.3).original_unit == "Cel"


@pytest.mark.parametrize("code", ["temp", "Temperature ", "heartrate", "", None])
def test_unknown_code_is_refused_with_suggestions(catalogue, code):
    with pytest.raises(UnknownCodeError) as caught:
        catalogue.validate(code, 38)
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "Known codes:" in message and "temperature" in message and "heart_rate" in message
    with pytest.raises(KeyError):
        catalogue[code]


def test_unknown_code_suggests_the_closest_code(catalogue):
    assert "Did you mean 'temperature'?" in str(pytest.raises(UnknownCodeError, catalogue.validate, "temp", 38).value)
    assert "'heart_rate'" in str(pytest.raises(UnknownCodeError, catalogue.validate, "heartrate", 80).value)


@pytest.mark.parametrize("code,unit,accepted", [
    ("creatinine", "mg", "Unit 'mg' is not accepted for Creatinine; accepted: mg/dL, umol/L (µmol/L)."),
    ("temperature", "K", "accepted: Cel (°C), [degF] (°F)."),
    ("nausea", "mg", "accepted: {grade}."),
])
def test_unknown_unit_is_refused_listing_accepted_units(catalogue, code, unit, accepted):
    with pytest.raises(ObservationValueError) as caught:
        catalogue.validate(code, 1, unit)
    assert accepted in str(caught.value)
    assert (caught.value.code, caught.value.value, caught.value.unit) == (code, 1, unit)


@pytest.mark.parametrize("code,unit,canonical_unit", [
    ("temperature", "°F", "[degF]"), ("temperature", "°C", "Cel"), ("creatinine", "µmol/L", "umol/L"),
    ("creatinine", "UMOL/L", "umol/L"), ("creatinine", "μmol/L", "umol/L"), ("anc", "/µL", "/uL"),
    ("anc", "/mm³", "/mm3"), ("platelets", "10*3/uL", "10*3/uL"), ("platelets", "x", None),
])
def test_units_are_matched_by_ucum_code_or_label(catalogue, code, unit, canonical_unit):
    entry = catalogue[code]
    if canonical_unit is None:
        with pytest.raises(ObservationValueError):
            entry.conversion(unit)
    else:
        assert entry.conversion(unit).unit == canonical_unit


# --- coded values and grades -------------------------------------------------------------------------

@pytest.mark.parametrize("code,value,stored", [
    ("consciousness", "a", "A"), ("consciousness", " p ", "P"), ("consciousness", "Alert", "A"),
    ("consciousness", "new confusion", "C"), ("consciousness", "U", "U"),
    ("on_oxygen", "true", "yes"), ("on_oxygen", "1", "yes"), ("on_oxygen", "yes", "yes"), ("on_oxygen", "Y", "yes"),
    ("on_oxygen", True, "yes"), ("on_oxygen", 1, "yes"), ("on_oxygen", "false", "no"), ("on_oxygen", "0", "no"),
    ("on_oxygen", "No", "no"), ("on_oxygen", False, "no"), ("on_oxygen", 0, "no"),
    ("spo2_scale", 2, "2"), ("spo2_scale", "1", "1"), ("spo2_scale", 1.0, "1"),
])
def test_coded_values_are_stored_in_their_canonical_spelling(catalogue, code, value, stored):
    result = catalogue.validate(code, value)
    assert (result.value_code, result.value_num, result.unit) == (stored, None, "{code}")


@pytest.mark.parametrize("code,value,listed", [
    ("consciousness", "X", "Accepted values: A, C, V, P, U."),
    ("consciousness", "drowsy", "Accepted values: A, C, V, P, U."),
    ("on_oxygen", "maybe", "Accepted values: yes, no."),
    ("on_oxygen", 2, "Accepted values: yes, no."),
    ("spo2_scale", "3", "Accepted values: 1, 2."),
])
def test_unaccepted_codes_are_refused_listing_accepted_values(catalogue, code, value, listed):
    with pytest.raises(ObservationValueError) as caught:
        catalogue.validate(code, value)
    assert listed in str(caught.value) and f"'{value}'" in str(caught.value)


@pytest.mark.parametrize("code,value,grade", [
    ("diarrhea", "2", 2.0), ("diarrhea", 0, 0.0), ("diarrhea", 4, 4.0), ("diarrhea", 3.0, 3.0),
    ("nausea", "3", 3.0), ("rash", " 1 ", 1.0), ("arrhythmia", 4, 4.0),
])
def test_grades_are_whole_numbers_defined_by_ctcae(catalogue, code, value, grade):
    result = catalogue.validate(code, value)
    assert (result.value_num, result.value_code, result.unit) == (grade, None, "{grade}")


@pytest.mark.parametrize("code,value,shown", [
    ("diarrhea", "2.5", "grade '2.5' is not accepted: enter one of 0, 1, 2, 3, 4"),
    ("diarrhea", 5, "grade '5' is not accepted"),
    ("diarrhea", -1, "grade '-1' is not accepted"),
    ("nausea", 4, "CTCAE v5.0 does not define grade 4 for Nausea"),
    ("rash", "4", "enter one of 0, 1, 2, 3 (0 = none)"),
    ("fatigue", "two", "'two' is not a number"),
])
def test_grades_outside_ctcae_are_refused(catalogue, code, value, shown):
    with pytest.raises(ObservationValueError) as caught:
        catalogue.validate(code, value)
    assert shown in str(caught.value)


def test_gcs_accepts_whole_numbers_only(catalogue):
    assert catalogue.validate("gcs", "14").value_num == 14.0
    with pytest.raises(ObservationValueError, match="whole number from 3 to 15"):
        catalogue.validate("gcs", "12.5")


@pytest.mark.parametrize("code,value,unit,shown", [
    ("temperature", 38.3, None, "38.3 °C"), ("temperature", 38, None, "38.0 °C"),
    ("temperature", 100.4, "[degF]", "100.4 °F"), ("spo2", 96, None, "96%"), ("creatinine", 1.234, None, "1.23 mg/dL"),
    ("anc", 0.5, None, "0.50 ×10⁹/L"), ("gcs", 14, None, "14"), ("consciousness", "A", None, "A"),
    ("diarrhea", 2.0, None, "grade 2"), ("temperature", None, None, "–"), ("temperature", float("nan"), None, "–"),
])
def test_format_value_uses_precision_and_unit_label(catalogue, code, value, unit, shown):
    assert catalogue[code].format_value(value, unit) == shown


# --- invalid catalogue files ---------------------------------------------------------------------------

VALID_TOML = '''
[meta]
version = "test"

[codes.temperature]
label = "Temperature"
category = "vital sign"
organ_system = "constitutional and infection"
loinc = "8310-5"
loinc_status = "V"
kind = "numeric"
unit = "Cel"
unit_label = "°C"
plausible = [25.0, 45.0]
expected = [35.1, 41.0]
precision = 1

[codes.temperature.alternative_units."[degF]"]
label = "°F"
scale = "5/9"
offset = "-160/9"

[codes.on_oxygen]
label = "On oxygen"
category = "vital sign"
organ_system = "pulmonary"
kind = "coded"
unit = "{code}"
unit_label = ""
allowed = ["yes", "no"]

[codes.nausea]
label = "Nausea"
category = "symptom"
organ_system = "gastrointestinal"
kind = "grade"
unit = "{grade}"
unit_label = ""
ctcae_term = "Nausea"

[codes.nausea.grades]
"1" = "Loss of appetite without alteration in eating habits"
'''


@pytest.mark.parametrize("old,new,key,problem", [
    ('organ_system = "constitutional and infection"', 'organ_system = "infectious"',
     "codes.temperature.organ_system", "'infectious' is not one of"),
    ("plausible = [25.0, 45.0]", "plausible = [45.0, 25.0]", "codes.temperature.plausible", "low 45 is above high 25"),
    ('scale = "5/9"', 'scale = "5//9"', 'codes.temperature.alternative_units."[degF]".scale', "exact rational"),
    ('scale = "5/9"', "scale = 0.5555", 'codes.temperature.alternative_units."[degF]".scale', "not a float"),
    ('scale = "5/9"', 'scale = "-5/9"', 'codes.temperature.alternative_units."[degF]".scale', "must be positive"),
    ('unit = "Cel"\n', "", "codes.temperature.unit", "is missing"),
    ("expected = [35.1, 41.0]", "expected = [35.1, 46.0]", "codes.temperature.expected", "not inside plausible"),
    ("plausible = [25.0, 45.0]\n", "", "codes.temperature.plausible", "is missing"),
    ("precision = 1", "plausable = [1, 2]\nprecision = 1", "codes.temperature.plausable", "unknown key"),
    ('loinc = "8310-5"', 'loinc = "8310-4"', "codes.temperature.loinc", "wrong check digit"),
    ('loinc_status = "V"', 'loinc_status = "verified"', "codes.temperature.loinc_status", "is not one of"),
    ('kind = "numeric"', 'kind = "number"', "codes.temperature.kind", "is not one of"),
    ('allowed = ["yes", "no"]', "allowed = []", "codes.on_oxygen.allowed", "non-empty list"),
    ('"1" = "Loss', '"5" = "Loss', "codes.nausea.grades.5", "grade keys must be one of 1, 2, 3, 4"),
    ('ctcae_term = "Nausea"\n', "", "codes.nausea.ctcae_term", "is missing"),
    ('version = "test"', "", "meta.version", "is missing"),
    ("[codes.temperature]", "[codes.Temperature]", "codes.Temperature", "lower-case"),
    ('category = "symptom"', 'category = "symptoms"', "codes.nausea.category", "'symptoms' is not one of"),
    ('category = "symptom"\n', "", "codes.nausea.category", "is missing"),
    ('loinc_status = "V"\n', "", "codes.temperature.loinc_status", "is missing"),
    ("precision = 1", "precision = 7", "codes.temperature.precision", "must be at most 6, not 7"),
    ("precision = 1", "precision = true", "codes.temperature.precision", "must be a whole number, not True"),
    ("precision = 1", "precision = 1\nallowed = ['a']", "codes.temperature.allowed", "applies to coded"),
    ('ctcae_term = "Nausea"', 'ctcae_term = "Nausea"\nplausible = [0, 4]', "codes.nausea.plausible",
     "applies to numeric observations only, not grade"),
    ('allowed = ["yes", "no"]', 'allowed = ["yes", "YES"]', "codes.on_oxygen.allowed", "must differ (ignoring case)"),
    ('allowed = ["yes", "no"]', 'allowed = ["yes", "no"]\nsynonyms = { "y" = "oui" }', "codes.on_oxygen.synonyms.y",
     "'oui' is not in allowed"),
    ('label = "°F"', 'label = "°F"\nfactor = 2', 'codes.temperature.alternative_units."[degF]".factor', "unknown key"),
    ('label = "°F"', 'label = "°C"', "codes.temperature.alternative_units", "'°c' would match both Cel and [degF]"),
    ('"1" = "Loss of appetite without alteration in eating habits"', '"1" = "–"', "codes.nausea.grades.1",
     "needs the CTCAE wording"),
    ("[meta]", "[metadata]\n[meta]", "metadata", "unknown key (known keys: codes, meta)"),
])
def test_invalid_catalogue_is_refused_naming_the_key(tmp_path, old, new, key, problem):
    assert old in VALID_TOML
    path = tmp_path / "catalogue.toml"
    path.write_text(VALID_TOML.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message


def test_every_invalid_key_is_named_one_line_each(tmp_path):
    path = tmp_path / "catalogue.toml"
    path.write_text(VALID_TOML.replace('kind = "numeric"', 'kind = "number"').replace('unit_label = ""\n', "", 1),
                    encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert str(caught.value).splitlines() == [
        f"{path}: codes.temperature.kind: 'number' is not one of 'numeric', 'coded' or 'grade'",
        f"{path}: codes.on_oxygen.unit_label: is missing",
    ]


def test_codes_are_listed_by_category_in_file_order(catalogue):
    assert catalogue.codes("fluid") == ("weight", "urine_output", "fluid_intake")
    assert catalogue["blood_culture"].category == "microbiology" and catalogue["crp"].category == "lab"
    assert sum(len(catalogue.codes(category)) for category in CATEGORIES) == len(catalogue.codes())
    with pytest.raises(ValueError, match="Unknown category 'vital signs'"):
        catalogue.codes("vital signs")


def test_minimal_valid_catalogue_loads(tmp_path):
    path = tmp_path / "catalogue.toml"
    path.write_text(VALID_TOML, encoding="utf-8")
    loaded = load_catalogue(path)
    assert loaded.version == "test" and list(loaded.entries) == ["temperature", "on_oxygen", "nausea"]
    assert loaded["temperature"].conversion("[degF]").precision is None
    assert loaded.validate("temperature", "100.4", "[degF]").value_num == 38.0


def test_unreadable_catalogue_files_are_refused(tmp_path):
    with pytest.raises(CatalogueError, match="file not found"):
        load_catalogue(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[codes.temperature\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid TOML"):
        load_catalogue(broken)


def test_default_catalogue_is_the_project_data_file():
    assert DEFAULT_PATH == Path(__file__).resolve().parents[2] / "data" / "catalogue.toml"
    assert load_catalogue().path == DEFAULT_PATH


def test_data_directory_can_be_overridden(tmp_path, monkeypatch):
    shutil.copy(DEFAULT_PATH, tmp_path / "catalogue.toml")
    text = (tmp_path / "catalogue.toml").read_text(encoding="utf-8").replace('version = "1.0.0"', 'version = "local"')
    (tmp_path / "catalogue.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("IL2_DATA_DIR", str(tmp_path))
    assert load_catalogue().version == "local"
    monkeypatch.setenv("IL2_DATA_DIR", "data")  # relative to the project directory, as in config.py
    assert load_catalogue().version == "1.0.0"


# --- validate_frame ------------------------------------------------------------------------------------

MIXED_ROWS = [
    # code, value, unit
    ("temperature", "38.3", None),
    ("temperature", "100.4", "[degF]"),
    ("temperature", "125.6", "[degF]"),
    ("temperature", "35.0", None),
    ("temperature", "38,3", None),
    ("temperature", "", None),
    ("temperature", None, None),
    ("creatinine", "88.4", "umol/L"),
    ("creatinine", "5000", "umol/L"),
    ("creatinine", "1.2", "mg"),
    ("anc", "1500", "/uL"),
    ("anc", "-0.1", None),
    ("platelets", "1500", "/uL"),
    ("consciousness", "a", None),
    ("consciousness", "X", None),
    ("on_oxygen", "true", None),
    ("nausea", "4", None),
    ("diarrhea", "2", None),
    ("diarrhea", "2.5", None),
    ("gcs", "12.5", None),
    ("temp", "37", None),
]


def _scalar_outcome(catalogue, code, value, unit):
    try:
        result = catalogue.validate(code, value, unit)
    except (ObservationValueError, UnknownCodeError) as exc:
        return None, None, None, str(exc), None
    return result.value_num, result.value_code, result.unit, None, result.confirmation


@pytest.mark.parametrize("as_type", ["object", "str"])
def test_validate_frame_gives_the_scalar_outcome_for_every_row(catalogue, as_type):
    frame = pd.DataFrame(MIXED_ROWS, columns=["code", "value", "unit"])
    frame["value"] = frame["value"].astype(as_type)
    checked = catalogue.validate_frame(frame)
    assert len(checked) == len(frame) and list(checked.columns[:3]) == ["code", "value", "unit"]
    for (code, value, unit), (_, row) in zip(MIXED_ROWS, checked.iterrows()):
        num, value_code, unit_canonical, error, confirmation = _scalar_outcome(catalogue, code, value, unit)
        got_num = None if pd.isna(row["value_num"]) else row["value_num"]
        got = (got_num, *(None if pd.isna(row[c]) else row[c]
                          for c in ("value_code", "unit_canonical", "error", "confirmation")))
        assert got == (num, value_code, unit_canonical, error, confirmation), (code, value, unit)


def test_validate_frame_messages_name_the_row_value_unit_and_range(catalogue):
    frame = pd.DataFrame(MIXED_ROWS, columns=["code", "value", "unit"])
    errors = catalogue.validate_frame(frame).set_index(frame.index)["error"]
    assert "125.6 °F (52.0 °C)" in errors[2] and "77.0–113.0 °F" in errors[2]
    assert "5000 µmol/L" in errors[8] and "8.84–2652 µmol/L" in errors[8]
    assert "Unit 'mg' is not accepted for Creatinine" in errors[9]
    assert "Unknown observation code 'temp'" in errors[20]
    assert errors[[0, 1, 3, 7, 10, 13, 15, 17]].isna().all()


def test_validate_frame_converts_valid_rows_to_canonical_units(catalogue):
    frame = pd.DataFrame(MIXED_ROWS, columns=["code", "value", "unit"])
    checked = catalogue.validate_frame(frame)
    assert checked.loc[[0, 1, 7, 10, 12], "value_num"].tolist() == [38.3, 38.0, 1.0, 1.5, 1.5]
    assert checked.loc[[0, 7, 10], "unit_canonical"].tolist() == ["Cel", "mg/dL", "10*9/L"]
    assert checked.loc[[13, 15], "value_code"].tolist() == ["A", "yes"]
    assert checked.loc[17, "value_num"] == 2.0
    assert checked.loc[3, "confirmation"].startswith("Temperature 35.0 °C is unusual")
    assert checked["error"].notna().sum() == 12


def test_validate_frame_accepts_numeric_columns_and_no_unit_column(catalogue):
    frame = pd.DataFrame({"code": ["temperature", "spo2", "spo2_scale", "diarrhea", "spo2"],
                          "value": [38.3, 97.0, 2.0, 1.0, np.nan]})
    checked = catalogue.validate_frame(frame)
    assert checked["value_num"].tolist()[:2] == [38.3, 97.0]
    assert checked.loc[2, "value_code"] == "2" and checked.loc[3, "value_num"] == 1.0
    assert "value is missing" in checked.loc[4, "error"]


def test_validate_frame_keeps_the_index_and_input_untouched(catalogue):
    frame = pd.DataFrame({"code": ["temperature", "sbp"], "value": ["38.3", "120"], "unit": [None, None]},
                         index=[10, 20])
    before = frame.copy()
    checked = catalogue.validate_frame(frame)
    assert checked.index.tolist() == [10, 20]
    pd.testing.assert_frame_equal(frame, before)


def test_validate_frame_handles_200k_rows_vectorised(catalogue):
    rng = np.random.default_rng(20250101)
    n = 200_000
    codes = np.array(["temperature", "temperature", "heart_rate", "anc", "creatinine", "weight", "consciousness"])
    units = np.array([None, "[degF]", None, "/uL", "umol/L", "[lb_av]", None], dtype=object)
    pick = rng.integers(0, len(codes), n)
    values = np.select(
        [pick == 0, pick == 1, pick == 2, pick == 3, pick == 4, pick == 5],
        [np.round(rng.uniform(35.5, 40.5, n), 1), np.round(rng.uniform(96, 104, n), 1), rng.integers(50, 150, n),
         np.round(rng.uniform(0, 8000, n)), np.round(rng.uniform(40, 400, n), 1), np.round(rng.uniform(90, 300, n), 1)],
        default=np.nan).astype(object)
    values[pick == 6] = rng.choice(np.array(["A", "c", "V", "P", "u"], dtype=object), int((pick == 6).sum()))
    values[:5] = ["abc", 52.0, "", "38,3", None]
    codes_column = codes[pick]
    codes_column[:5] = "temperature"
    frame = pd.DataFrame({"code": codes_column, "value": values, "unit": units[pick]})
    frame.loc[:4, "unit"] = None
    checked = catalogue.validate_frame(frame)
    assert len(checked) == n
    assert checked["error"].notna().sum() == 5
    accepted = checked["error"].isna()
    assert (checked.loc[accepted, "value_num"].notna() | checked.loc[accepted, "value_code"].notna()).all()
    assert checked.loc[accepted, "unit_canonical"].notna().all()
    sample = checked.iloc[5:].sample(300, random_state=1)
    for _, row in sample.iterrows():
        expected = catalogue.validate(row["code"], row["value"], row["unit"])
        assert (row["value_num"] if expected.value_num is not None else row["value_code"]) == (
            expected.value_num if expected.value_num is not None else expected.value_code)
