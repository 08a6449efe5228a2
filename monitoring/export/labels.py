"""Readable names for what the quality export holds: every column, measure, regimen and alert rule.

One table of words for every place a person reads the export: the Reports page's tables and charts,
the Excel headers, the CSV data dictionary and the monthly PDF report. The CSV files themselves keep
the column names and codes (`patient_days_total`, `hd-iv-bolus`): they are the data a program reads,
and the data dictionary gives each its label.

* A column's label carries its unit when the unit changes how the figure reads (days, %, minutes);
  counts carry none. The unit and meaning stay in quality.COLUMN_DOCS.
* Regimens read as on the ward (monitoring.clinical.vocabulary.REGIMEN_SHORT: "IL-2 + IFN + TMZ", not
  "biochemotherapy"); alert rules by the names of their definitions (monitoring.clinical.rules).
* A value withheld for a small cell ("withheld (<5)") or anything without a label is shown as it is:
  never dropped, never turned into a blank.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from monitoring.clinical.catalogue import ORGAN_SYSTEMS
from monitoring.clinical.vocabulary import REGIMEN_SHORT
from monitoring.export.quality import ALL_REGIMENS, system_column


def _system(system: str) -> str:
    return system[:1].upper() + system[1:]


COLUMN_LABELS: dict[str, str] = {
    "course_ref": "Course",
    "pseudonym": "Patient pseudonym",
    "ward_code": "Ward",
    "regimen": "Regimen",
    "cycle": "Cycle",
    "course_status": "Course status",
    "is_synthetic": "Synthetic patient",
    "first_dose_day": "First dose (day of course)",
    "patient_days": "Patient-days",
    "doses_planned": "Doses planned",
    "doses_given": "Doses given",
    "doses_held": "Doses held",
    "doses_stopped": "Doses stopped",
    "hold_reasons": "Hold reasons",
    "hold_criteria": "Hold criteria (ids)",
    "stop_criteria": "Stop criteria (ids)",
    "stop_reasons": "Stop reasons",
    **{system_column(s): f"Highest CTCAE grade: {s}" for s in ORGAN_SYSTEMS},
    "peak_weight_gain_pct": "Peak weight gain (%)",
    "aki_highest_stage": "Highest AKI stage (KDIGO)",
    "fn_episodes": "Febrile neutropenia episodes",
    "sepsis_screen_episodes": "Sepsis-screen alerts",
    "expected_effect_alerts": "Expected IL-2 effects",
    "observation_sets": "Observation sets",
    "overdue_sets": "Overdue observation sets",
    "icu_transfer": "ICU transfer",
    "patient_id": "Patient (database id)",
    "mrn": "Record number (MRN)",
    "family_name": "Family name",
    "given_name": "Given name",
    "birth_date": "Date of birth",
    "course_start_utc": "Course start (UTC)",
    "onset_utc": "Onset (UTC)",
    "organ_system": "Organ system",
    "ctcae_term": "CTCAE term",
    "highest_grade": "Highest CTCAE grade",
    "onset_days_from_first_dose": "Onset (days from first dose)",
    "onset_day": "Onset (day of course)",
    "rule_id": "Alert rule",
    "level": "Level",
    "severity": "Severity",
    "status": "Status",
    "first_response": "First response",
    "minutes_to_first_response": "Minutes from first seen to first response",
    "minutes_from_onset_to_first_response": "Minutes from onset to first response",
    "declined_day": "Declined (day of course)",
    "decline_reason": "Reason for declining",
    "decline_reason_code": "Decline reason (code)",
    "decline_reason_chosen": "Decline reason chosen",
    "measure": "Measure",
    "count": "Count",
    "courses": "Courses",
    "patients": "Patients",
    "patient_days_total": "Patient-days (total)",
    "per_course": "per course",
    "per_100_patient_days": "per 100 patient-days",
    "grade": "CTCAE grade",
    "percent_of_courses": "% of courses",
    "n": "Courses with a value",
    "mean": "Mean",
    "min": "Minimum",
    "p25": "25th percentile",
    "median": "Median",
    "p75": "75th percentile",
    "max": "Maximum",
    "unit": "Unit",
    "counted": "Counted",
    "value": "Value",
    "alerts": "Alerts",
    "alerts_per_patient_day": "Alerts per patient-day",
    "responded": "Alerts answered",
    "latency_median_min": "Time to first response, median (min)",
    "latency_p90_min": "Time to first response, 90th percentile (min)",
    "declined": "Alerts declined",
}

# The measures of the cohort tables that are codes (cohort_counts, distributions, monitoring); the
# monitoring table's other measures are already sentences and only gain a capital.
MEASURE_LABELS: dict[str, str] = {
    "doses_given_on_decision": "Doses given over the pre-dose check on the oncologist's decision",
    "doses_given_by_override": "Doses given over the pre-dose check by override",
    "expected_effect_alerts": "Expected IL-2 effects (not sepsis alerts)",
    "courses_with_grade_3_or_more": "Courses with a CTCAE grade 3 or 4",
    "courses_with_aki": "Courses with acute kidney injury",
    "courses_with_fn": "Courses with febrile neutropenia",
    "courses_with_a_dose_held_or_stopped": "Courses with a dose held or stopped",
    "patient_days": "Patient-days per course",
}

RULE_LABELS: dict[str, str] = {
    "febrile-neutropenia": "Febrile neutropenia",
    "news2": "NEWS2 response",
    "sepsis-screen": "Sepsis screen",
    "il2-expected-effect": "Expected IL-2 effect",
    "aki": "Acute kidney injury",
    "capillary-leak": "Capillary leak",
    "il2-hold": "IL-2 hold criteria",
    "il2-incomplete-check": "Dose on an incomplete pre-dose check",
    "all rules except expected effects": "All rules except expected effects",
}

REGIMEN_LABELS: dict[str, str] = {**REGIMEN_SHORT, ALL_REGIMENS: "All regimens"}
ORGAN_SYSTEM_LABELS: dict[str, str] = {s: _system(s) for s in ORGAN_SYSTEMS}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fallback(code: str) -> str:
    """A code no table names yet, made readable rather than shown raw: 'new_measure' -> 'New measure'."""
    return _capital(code.replace("_", " "))


def column_label(column: str) -> str:
    """The readable name of an exported column ('patient_days_total' -> 'Patient-days (total)')."""
    return COLUMN_LABELS.get(column) or _fallback(column)


def measure_label(measure: object) -> object:
    """The readable name of a cohort measure; a value that is not text is returned as it is."""
    if not isinstance(measure, str):
        return measure
    if measure in MEASURE_LABELS:
        return MEASURE_LABELS[measure]
    if measure in COLUMN_LABELS:
        return COLUMN_LABELS[measure]
    return _fallback(measure) if "_" in measure else _capital(measure)


def regimen_label(code: object) -> object:
    """'biochemotherapy' -> 'IL-2 + IFN + TMZ' (the ward's short name); anything else as it is."""
    return REGIMEN_LABELS.get(code, code) if isinstance(code, str) else code


def rule_label(rule_id: object) -> object:
    """'febrile-neutropenia' -> 'Febrile neutropenia'; anything else as it is."""
    return RULE_LABELS.get(rule_id, rule_id) if isinstance(rule_id, str) else rule_id


def organ_system_label(system: object) -> object:
    return ORGAN_SYSTEM_LABELS.get(system, system) if isinstance(system, str) else system


# Columns whose values are codes, and the label of each value.
VALUE_LABELS = {"regimen": regimen_label, "rule_id": rule_label, "measure": measure_label,
                "organ_system": organ_system_label}


def labelled_values(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its coded values (regimen, rule, measure, organ system) in words; columns unchanged."""
    out = frame.copy()
    for column, label in VALUE_LABELS.items():
        if column in out.columns:
            out[column] = out[column].astype(object).map(label)
    return out


def column_labels(columns: Iterable[str]) -> list[str]:
    return [column_label(c) for c in columns]


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a person reads it: values in words and readable column names."""
    out = labelled_values(frame)
    out.columns = column_labels(frame.columns)
    return out
