"""Profile and terminology checks of FHIR resources, written in the repository because the HL7 Java
validator and its packages cannot be fetched here (fhir.resources checks the structure only).

Written from the FHIR R4 specification, not from the export's own tables, so the export cannot pass by
agreeing with itself:
* vital signs (hl7.org/fhir/R4/observation-vitalsigns.html): an Observation of category vital-signs, or
  whose code is one of the profiles' LOINC codes, claims the profile in meta.profile and has what it
  requires: status, the vital-signs category, the profile's LOINC code, a Patient subject, an effective
  time to the day at least (vs-1), a UCUM valueQuantity in the profile's units or a dataAbsentReason
  (vs-2), and for the blood-pressure panel no value but one systolic (8480-6) and one diastolic
  (8462-4) component, each with a value or a dataAbsentReason (vs-3). Systolic or diastolic pressure
  alone as an Observation is refused: the panel carries them.
* terminology: every coding and quantity (system, code), every extension URL and every claimed profile
  is listed in docs/fhir.md.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "fhir.md"
R4 = "http://hl7.org/fhir/StructureDefinition"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
STATUSES = {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
# ValueSet ucum-vitals-common, the units the base profile binds (R4).
VITALS_UNITS = {"%", "cm", "[in_i]", "kg", "g", "[lb_av]", "Cel", "[degF]", "mm[Hg]", "/min", "kg/m2", "m2"}
# R4 profile -> (the LOINC code its pattern fixes, the UCUM units its value takes).
PROFILES: dict[str, tuple[str | None, set[str]]] = {
    f"{R4}/vitalsigns": (None, VITALS_UNITS),
    f"{R4}/bodytemp": ("8310-5", {"Cel", "[degF]"}),
    f"{R4}/heartrate": ("8867-4", {"/min"}),
    f"{R4}/resprate": ("9279-1", {"/min"}),
    f"{R4}/oxygensat": ("2708-6", {"%"}),
    f"{R4}/bodyweight": ("29463-7", {"kg", "g", "[lb_av]"}),
    f"{R4}/bodyheight": ("8302-2", {"cm", "[in_i]"}),
    f"{R4}/bmi": ("39156-5", {"kg/m2"}),
    f"{R4}/headcircum": ("9843-4", {"cm", "[in_i]"}),
    f"{R4}/vitalspanel": ("85353-1", set()),
    f"{R4}/bp": ("85354-9", {"mm[Hg]"}),
}
PROFILE_OF_CODE = {code: url for url, (code, _) in PROFILES.items() if code}
BP_COMPONENTS = {"8480-6": "systolic", "8462-4": "diastolic"}
VALUE_KEYS = ("valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger", "valueRange",
              "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod")


def _codes(concept: Any, system: str) -> list[str]:
    return [c.get("code") for c in (concept or {}).get("coding", []) if c.get("system") == system]


def _quantity_problems(quantity: dict, units: set[str], where: str) -> list[str]:
    problems = []
    if not isinstance(quantity.get("value"), (int, float)) or isinstance(quantity.get("value"), bool):
        problems.append(f"{where}: valueQuantity.value is not a number")
    if not quantity.get("unit"):
        problems.append(f"{where}: valueQuantity.unit is missing")
    if quantity.get("system") != UCUM:
        problems.append(f"{where}: valueQuantity.system is not UCUM")
    if quantity.get("code") not in units:
        problems.append(f"{where}: unit '{quantity.get('code')}' is not one the profile takes ({sorted(units)})")
    return problems


def _value_or_absent(element: dict, units: set[str], where: str) -> list[str]:
    values = [key for key in VALUE_KEYS if key in element]
    absent = "dataAbsentReason" in element
    if not values and not absent:
        return [f"{where}: neither a value nor a dataAbsentReason"]
    if values and absent:
        return [f"{where}: both a value and a dataAbsentReason"]
    if values and values != ["valueQuantity"]:
        return [f"{where}: {values[0]} where the profile takes a Quantity"]
    return _quantity_problems(element["valueQuantity"], units, where) if values else []


def vital_sign_problems(resource: dict) -> list[str]:
    """What keeps an Observation from the R4 vital-signs profile it must claim ([] when none, or when it
    is no vital sign)."""
    if resource.get("resourceType") != "Observation":
        return []
    where = f"Observation/{resource.get('id')}"
    loinc = _codes(resource.get("code"), LOINC)
    is_vital = "vital-signs" in [c for cat in resource.get("category", []) for c in _codes(cat, CATEGORY)]
    required = {PROFILE_OF_CODE[code] for code in loinc if code in PROFILE_OF_CODE}
    if set(loinc) & set(BP_COMPONENTS):
        return [f"{where}: systolic or diastolic pressure as an Observation of its own: the 85354-9 panel carries them"]
    claimed = [p for p in resource.get("meta", {}).get("profile", []) if p in PROFILES]
    if not is_vital and not required and not claimed:
        return []
    problems = []
    if len(claimed) != 1:
        problems.append(f"{where}: claims {len(claimed)} vital-signs profiles (one expected)")
    if required and set(claimed) != required:
        problems.append(f"{where}: its LOINC code requires {sorted(required)}, it claims {claimed}")
    if not is_vital:
        problems.append(f"{where}: no vital-signs category")
    if resource.get("status") not in STATUSES:
        problems.append(f"{where}: status '{resource.get('status')}'")
    if not loinc:
        problems.append(f"{where}: no LOINC code")
    if not str(resource.get("subject", {}).get("reference", "")).startswith(("Patient/", "urn:uuid:")):
        problems.append(f"{where}: subject is not a Patient")
    effective = resource.get("effectiveDateTime") or resource.get("effectivePeriod", {}).get("start")
    if not (isinstance(effective, str) and re.match(r"\d{4}-\d\d-\d\d", effective)):
        problems.append(f"{where}: no effective time to the day (vs-1)")
    for url in claimed:
        code, units = PROFILES[url]
        if code and code not in loinc:
            problems.append(f"{where}: {url} fixes code {code}, the Observation has {loinc}")
        if url == f"{R4}/bp":
            problems += _panel_problems(resource, units, where)
        elif "component" not in resource and "hasMember" not in resource:
            problems += _value_or_absent(resource, units, where)  # vs-2
    return problems


def _panel_problems(resource: dict, units: set[str], where: str) -> list[str]:
    problems = [f"{where}: the panel has {key}" for key in VALUE_KEYS if key in resource]
    components = resource.get("component", [])
    for code, name in BP_COMPONENTS.items():
        matching = [c for c in components if code in _codes(c.get("code"), LOINC)]
        if len(matching) != 1:
            problems.append(f"{where}: {len(matching)} {name} components ({code}), one required")
        problems += [p for c in matching for p in _value_or_absent(c, units, f"{where} {name}")]  # vs-3
    return problems


# --- terminology -------------------------------------------------------------------------------------

def documented(path: Path = DOCS) -> tuple[set[tuple[str, str]], set[str]]:
    """((system, code) pairs, profile and extension URLs) listed in the tables of docs/fhir.md."""
    codes, urls = set(), set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\| `([^`]+)` \| `([^`]+)` \|", line):
            codes.add((match[1], match[2]))
        elif match := re.match(r"\| `(https?://[^`]+)` \|", line):
            urls.add(match[1])
    return codes, urls


def codings(value: Any) -> Iterator[tuple[str, str]]:
    """(system, code) of every Coding and Quantity in a resource."""
    if isinstance(value, dict):
        if isinstance(value.get("system"), str) and isinstance(value.get("code"), str):
            yield value["system"], value["code"]
        for item in value.values():
            yield from codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from codings(item)


def extension_urls(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for extension in value.get("extension", []):
            yield extension["url"]
        for item in value.values():
            yield from extension_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from extension_urls(item)


def terminology_problems(resources: Iterable[dict], path: Path = DOCS) -> list[str]:
    """Every code, extension and profile of `resources` that docs/fhir.md does not list, once each."""
    codes, urls = documented(path)
    problems: dict[str, None] = {}
    for resource in resources:
        for system, code in codings(resource):
            if (system, code) not in codes:
                problems[f"code {system}|{code} is not in docs/fhir.md"] = None
        for url in [*extension_urls(resource), *resource.get("meta", {}).get("profile", [])]:
            if url not in urls:
                problems[f"{url} is not in docs/fhir.md"] = None
    return list(problems)


def problems(resources: list[dict], path: Path = DOCS) -> list[str]:
    """Every profile and terminology problem of these resources."""
    return [p for r in resources for p in vital_sign_problems(r)] + terminology_problems(resources, path)
