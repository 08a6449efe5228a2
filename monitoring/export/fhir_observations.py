"""Observation resources of the FHIR export: one per stored value, except systolic and diastolic blood
pressure of one set, which form one R4 blood-pressure panel (85354-9 with components 8480-6 and
8462-4). Vital signs claim their R4 vital-signs profile in meta.profile and meet it (category
vital-signs, LOINC code the profile fixes, UCUM quantity); codes and sources in fhir_terminology.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from monitoring.clinical.catalogue import Catalogue, CatalogueEntry
from monitoring.export import fhir_terminology as terms
from monitoring.export.fhir_base import meta, number, reference, resource_id, with_meta

# What a value records, as Observation.category names it (R4 observation-category): the vital signs of
# an R4 profile; laboratory results and blood cultures; what was given (treatment and oxygen); the rest
# (nurse-graded symptoms, ACVPU, GCS, the NEWS2 SpO2 scale, fluids, a clinician's judgement) as exam.
OXYGEN_THERAPY = ("on_oxygen", "o2_flow", "fio2")


def category_name(code: str, entry: CatalogueEntry | None) -> str:
    """The Observation.category code of a catalogue code (see OXYGEN_THERAPY's comment)."""
    if code in terms.VITAL_PROFILES:
        return "vital-signs"
    kind = entry.category if entry else ""
    if kind in ("lab", "microbiology"):
        return "laboratory"
    return "therapy" if kind == "treatment" or code in OXYGEN_THERAPY else "exam"


def _quantity(value: float, unit: str, label: str) -> dict[str, Any]:
    return {"value": number(value), "unit": label or unit, "system": terms.UCUM, "code": unit}


def _code(row_code: str, entry: CatalogueEntry | None) -> dict[str, Any]:
    """Observation.code: the profile's fixed LOINC code first when the catalogue's is another (SpO2:
    2708-6, then the pulse-oximetry 59408-5), the catalogue's LOINC code with its evidence tag, the
    project's catalogue code."""
    label = entry.label if entry else row_code
    codings: list[dict[str, Any]] = []
    profile = terms.VITAL_PROFILES.get(row_code)
    if profile is not None and profile.loinc == terms.SAO2.code and entry and entry.loinc != profile.loinc:
        codings.append(terms.SAO2.coding())
    if entry and entry.loinc:
        codings.append({"extension": [{"url": terms.LOINC_EVIDENCE_URL, "valueCode": entry.loinc_status}],
                        "system": terms.LOINC, "code": entry.loinc})
    codings.append({"system": terms.OBSERVATION_CODES, "code": row_code, "display": label})
    return {"coding": codings, "text": label}


def _coded_value(row_code: str, value: str, entry: CatalogueEntry | None) -> dict[str, Any]:
    """valueCodeableConcept: SNOMED CT or LOINC answer codes where they exist, else the project's."""
    standard = terms.answer(row_code, value, entry.allowed if entry else ())
    coding = standard.coding() if standard else {"system": terms.answer_system(row_code), "code": value}
    return {"coding": [coding], "text": value}


def observation_resource(row: Any, *, subject: str, effective: str | None, period_start: str | None,
                         export_key: str, identifiable: bool, catalogue: Catalogue) -> dict[str, Any]:
    """One Observation from a current_observations row (canonical unit)."""
    entry = catalogue[row.code] if row.code in catalogue else None
    unit = row.unit if isinstance(row.unit, str) and row.unit else (entry.unit if entry else "")
    unit_label = entry.unit_label if entry and entry.unit == unit else unit
    category = terms.CATEGORIES[category_name(row.code, entry)]
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": resource_id(export_key, "Observation", row.id),
        "status": "amended" if row.status == "amended" else "final",
        "category": [{"coding": [category.coding()]}],
        "code": _code(row.code, entry),
        "subject": reference("Patient", subject),
    }
    if period_start:  # a volume over a period (urine output, intake): observed_at is its end
        resource["effectivePeriod"] = {"start": period_start, "end": effective}
    else:
        resource["effectiveDateTime"] = effective
    if isinstance(row.value_code, str):
        resource["valueCodeableConcept"] = _coded_value(row.code, row.value_code, entry)
    elif pd.isna(row.value_num):
        resource["dataAbsentReason"] = {"coding": [terms.DATA_ABSENT_UNKNOWN.coding()]}
    elif entry and entry.kind == "grade":
        resource["valueInteger"] = int(round(row.value_num))  # the CTCAE v5.0 grade the nurse recorded
    else:
        resource["valueQuantity"] = _quantity(row.value_num, unit, unit_label)
    if "valueQuantity" in resource:
        # value == value: not NaN (pd.isna per value cost a tenth of the export's time)
        bounds = {name: _quantity(value, unit, unit_label) for name, value in (("low", row.ref_low),
                                                                               ("high", row.ref_high))
                  if value is not None and value == value}
        if bounds:
            resource["referenceRange"] = [bounds]
    profile = terms.VITAL_PROFILES.get(row.code)
    return with_meta(resource, meta(identifiable=identifiable, profile=profile.url if profile else None))


def panel_key(row: Any) -> str:
    """The blood-pressure panel a systolic or diastolic value belongs to: its patient, set and time (ns)."""
    return f"{row.patient_id}|{row.set_id}|{row.observed_ns}"


def blood_pressure_panel(members: dict[str, Any], *, key: str, subject: str, effective: str | None,
                         export_key: str, identifiable: bool, catalogue: Catalogue) -> dict[str, Any]:
    """One R4 blood-pressure panel from the systolic and diastolic rows of one set (`members`: code ->
    current_observations row). A pressure the set lacks is a component with dataAbsentReason 'unknown'
    (the profile requires both components; missing is never zero)."""
    components = []
    for code in terms.BP_CODES:
        entry, row = catalogue[code], members.get(code)
        component: dict[str, Any] = {"code": {"coding": [
            terms.BP_COMPONENTS[code].coding(),
            {"system": terms.OBSERVATION_CODES, "code": code, "display": entry.label}], "text": entry.label}}
        if row is None or pd.isna(row.value_num):
            component["dataAbsentReason"] = {"coding": [terms.DATA_ABSENT_UNKNOWN.coding()]}
        else:
            component["valueQuantity"] = _quantity(row.value_num, entry.unit, entry.unit_label)
        components.append(component)
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": resource_id(export_key, "Observation", f"bp|{key}"),
        "status": "amended" if any(r.status == "amended" for r in members.values()) else "final",
        "category": [{"coding": [terms.CATEGORIES["vital-signs"].coding()]}],
        "code": {"coding": [terms.BP_PANEL.coding()], "text": "Blood pressure"},
        "subject": reference("Patient", subject),
        "effectiveDateTime": effective,
        "component": components,
    }
    return with_meta(resource, meta(identifiable=identifiable, profile=terms.BP.url))


# The columns of current_observations the Observations are built from, read as plain Python values
# (namedtuples over Series.tolist(): itertuples converted every time and text cell one at a time, a
# third of a large export's time), and the time in UTC nanoseconds since 1970.
_Row = namedtuple("_Row", ["id", "patient_id", "set_id", "code", "value_num", "value_code", "unit", "ref_low",
                           "ref_high", "status", "observed_ns"])
ROW_COLUMNS = _Row._fields[:-1]


def _rows(obs: pd.DataFrame) -> list[Any]:
    if obs.empty:
        return []
    nanoseconds = pd.to_datetime(obs["observed_at"], utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")
    columns = [obs[column].tolist() for column in ROW_COLUMNS] + [nanoseconds.astype(np.int64).tolist()]
    return [_Row._make(values) for values in zip(*columns)]


def observation_resources(obs: pd.DataFrame, *, subject: dict[int, str], effective: list[str | None],
                          starts: list[str | None], export_key: str, identifiable: bool, catalogue: Catalogue,
                          index: dict[tuple[int, str, int], str | None]) -> Iterator[dict[str, Any]]:
    """The Observations of current_observations rows (`effective`, `starts`: their times as exported).

    `index` maps (patient, code, UTC second) to a resource id: the keys it holds (the observations alerts
    cite) get the id of the Observation that carries that value (for SBP and DBP, their panel's)."""
    panels: dict[str, tuple[dict[str, Any], Any, str | None]] = {}  # key -> (members, first row, effective)
    for row, when, start in zip(_rows(obs), effective, starts):
        if row.code in terms.BP_CODES:
            key = panel_key(row)
            panels.setdefault(key, ({}, row, when))[0][row.code] = row
            rid = resource_id(export_key, "Observation", f"bp|{key}")
        else:
            resource = observation_resource(row, subject=subject[row.patient_id], effective=when, period_start=start,
                                            export_key=export_key, identifiable=identifiable, catalogue=catalogue)
            rid = resource["id"]
            yield resource
        cited = (row.patient_id, row.code, row.observed_ns // 1_000_000_000)  # whole seconds, as evidence has
        if cited in index:
            index[cited] = rid
    for key, (members, first, when) in panels.items():
        yield blood_pressure_panel(members, key=key, subject=subject[first.patient_id], effective=when,
                                   export_key=export_key, identifiable=identifiable, catalogue=catalogue)
