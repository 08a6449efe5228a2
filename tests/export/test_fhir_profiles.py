"""The FHIR export meets the R4 vital-signs profiles and lists every code it uses (tests/export/fhir_checker.py),
on the test ward and on a synthetic demo ward, SQLite and PostgreSQL; and the checker refuses what the
profiles refuse."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from monitoring.demo import seed as demo
from monitoring.export.fhir import to_bundle
from monitoring.export.fhir_terminology import LOINC, UCUM
from monitoring.services.alerting import sync_alerts
from monitoring.store.db import session_scope
from tests.export import fhir_checker
from tests.export.fhir_ward import add_full_set, export, of_type, ward

__all__ = ["ward"]  # the fixture, found by pytest through this import
R4 = "http://hl7.org/fhir/StructureDefinition"
DEMO_END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)


def by_text(resources) -> dict[str, dict]:
    return {o["code"]["text"]: o for o in of_type(resources, "Observation")}


def test_the_test_ward_meets_the_profiles_and_every_code_is_documented(engine, ward):
    add_full_set(engine, ward.patient_id, ward.course_id)
    for identifiable in (False, True):
        resources = export(engine, identifiable=identifiable)
        assert fhir_checker.problems(resources) == []
        assert fhir_checker.problems([e["resource"] for e in to_bundle(resources)["entry"]]) == []


def test_a_demo_ward_meets_the_profiles_and_every_code_is_documented(engine):
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=demo.generate_ward(patients=4, days=3, seed=5, end=DEMO_END))
    with session_scope(engine) as session:
        sync_alerts(session=session, username="test", now=DEMO_END)
    resources = export(engine)
    kinds = {r["resourceType"] for r in resources}
    assert kinds == {"Patient", "Observation", "MedicationAdministration", "DetectedIssue", "AdverseEvent"}
    assert fhir_checker.problems(resources) == []
    profiled = [o for o in of_type(resources, "Observation") if "profile" in o["meta"]]
    assert {p for o in profiled for p in o["meta"]["profile"]} >= {f"{R4}/bp", f"{R4}/oxygensat", f"{R4}/bodytemp",
                                                                   f"{R4}/heartrate", f"{R4}/resprate"}


def test_systolic_and_diastolic_pressure_of_a_set_are_one_panel(engine, ward):
    add_full_set(engine, ward.patient_id, ward.course_id)
    observations = of_type(export(engine, course_ids=[ward.course_id]), "Observation")
    assert not [o for o in observations if o["code"]["text"] in ("Systolic blood pressure", "Diastolic blood pressure")]
    panels = sorted((o for o in observations if o["code"]["text"] == "Blood pressure"),
                    key=lambda o: o["effectiveDateTime"])
    assert [p["effectiveDateTime"] for p in panels] == ["2000-01-02T06:00:00Z", "2000-01-02T12:00:00Z"]
    first, full = panels
    assert full["meta"]["profile"] == [f"{R4}/bp"] and "valueQuantity" not in full
    assert full["code"]["coding"][0] == {"system": LOINC, "code": "85354-9",
                                         "display": "Blood pressure panel with all children optional"}
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]) for c in full["component"]] == [
        ("8480-6", {"value": 104, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}),
        ("8462-4", {"value": 61, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"})]
    # The first set has no diastolic pressure: its component says so, and is never zero.
    systolic, diastolic = first["component"]
    assert systolic["valueQuantity"]["value"] == 95
    assert "valueQuantity" not in diastolic
    assert diastolic["dataAbsentReason"]["coding"][0]["code"] == "unknown"


def test_vital_signs_carry_their_profile_category_and_codes(engine, ward):
    add_full_set(engine, ward.patient_id, ward.course_id)
    full = {text: o for text, o in by_text(export(engine, course_ids=[ward.course_id])).items()
            if o.get("effectiveDateTime") == "2000-01-02T12:00:00Z"}
    expected = {"Temperature": ("bodytemp", "8310-5"), "Heart rate": ("heartrate", "8867-4"),
                "Respiratory rate": ("resprate", "9279-1"), "Oxygen saturation (SpO₂)": ("oxygensat", "2708-6"),
                "Weight": ("bodyweight", "29463-7")}
    for text, (profile, code) in expected.items():
        observation = full[text]
        assert observation["meta"]["profile"] == [f"{R4}/{profile}"], text
        assert observation["category"][0]["coding"][0]["code"] == "vital-signs", text
        assert observation["code"]["coding"][0]["code"] == code, text
    # SpO2: the profile's 2708-6 first, the pulse-oximetry code the catalogue holds kept as a second coding.
    assert [c["code"] for c in full["Oxygen saturation (SpO₂)"]["code"]["coding"]] == ["2708-6", "59408-5", "spo2"]
    # Not vital signs in the profiles' sense: no profile, another category.
    on_oxygen, acvpu = full["On supplemental oxygen"], full["Consciousness (ACVPU)"]
    assert "profile" not in on_oxygen["meta"] and on_oxygen["category"][0]["coding"][0]["code"] == "therapy"
    assert on_oxygen["valueCodeableConcept"] == {"coding": [{"system": LOINC, "code": "LA32-8", "display": "No"}],
                                                 "text": "no"}
    assert "profile" not in acvpu["meta"] and acvpu["category"][0]["coding"][0]["code"] == "exam"


def _valid_panel() -> dict:
    return {"resourceType": "Observation", "id": "p", "meta": {"profile": [f"{R4}/bp"]}, "status": "final",
            "category": [{"coding": [{"system": fhir_checker.CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "subject": {"reference": "Patient/x"},
            "effectiveDateTime": "2000-01-01T00:00:00Z",
            "component": [{"code": {"coding": [{"system": LOINC, "code": code}]},
                           "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}
                          for code, value in (("8480-6", 120), ("8462-4", 80))]}


def _valid_temperature() -> dict:
    return {"resourceType": "Observation", "id": "t", "meta": {"profile": [f"{R4}/bodytemp"]}, "status": "final",
            "category": [{"coding": [{"system": fhir_checker.CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": "8310-5"}]}, "subject": {"reference": "Patient/x"},
            "effectiveDateTime": "2000-01-01T00:00:00Z",
            "valueQuantity": {"value": 37.0, "unit": "°C", "system": UCUM, "code": "Cel"}}


def _edit(make, change):
    resource = make()
    change(resource)
    return resource


BROKEN = [
    ("no profile claimed", _valid_temperature, lambda r: r["meta"].pop("profile"), "claims 0 vital-signs profiles"),
    ("another profile than its code requires", _valid_temperature,
     lambda r: r["meta"].update(profile=[f"{R4}/heartrate"]), "requires"),
    ("no vital-signs category", _valid_temperature, lambda r: r.pop("category"), "no vital-signs category"),
    ("no status", _valid_temperature, lambda r: r.pop("status"), "status"),
    ("subject not a Patient", _valid_temperature, lambda r: r.update(subject={"reference": "Group/1"}),
     "not a Patient"),
    ("no effective time", _valid_temperature, lambda r: r.pop("effectiveDateTime"), "vs-1"),
    ("neither value nor absent reason", _valid_temperature, lambda r: r.pop("valueQuantity"), "neither"),
    ("a unit the profile does not take", _valid_temperature,
     lambda r: r["valueQuantity"].update(code="K"), "unit 'K'"),
    ("a quantity outside UCUM", _valid_temperature,
     lambda r: r["valueQuantity"].update(system="http://example.org/units"), "not UCUM"),
    ("a coded value", _valid_temperature,
     lambda r: r.update(valueCodeableConcept=r.pop("valueQuantity") and {"text": "warm"}), "takes a Quantity"),
    ("a panel without the diastolic component", _valid_panel, lambda r: r["component"].pop(), "0 diastolic"),
    ("a component with neither value nor reason", _valid_panel,
     lambda r: r["component"][0].pop("valueQuantity"), "systolic: neither"),
    ("a panel with a value of its own", _valid_panel,
     lambda r: r.update(valueQuantity={"value": 1, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}),
     "the panel has valueQuantity"),
    ("systolic pressure as an Observation of its own", _valid_temperature,
     lambda r: r.update(code={"coding": [{"system": LOINC, "code": "8480-6"}]}), "85354-9 panel carries"),
]


@pytest.mark.parametrize("make, change, message", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_the_checker_refuses_what_the_profiles_refuse(make, change, message):
    assert fhir_checker.vital_sign_problems(make()) == []
    problems = fhir_checker.vital_sign_problems(_edit(make, change))
    assert any(message in p for p in problems), problems


def test_the_checker_refuses_a_code_or_extension_the_docs_do_not_list():
    resource = _valid_temperature()
    assert fhir_checker.terminology_problems([resource]) == []
    unknown = copy.deepcopy(resource)
    unknown["code"]["coding"].append({"system": "http://example.org/codes", "code": "warm"})
    unknown["extension"] = [{"url": "http://example.org/ext", "valueString": "x"}]
    unknown["valueQuantity"]["code"] = "[degR]"
    assert fhir_checker.terminology_problems([unknown]) == [
        "code http://example.org/codes|warm is not in docs/fhir.md",
        f"code {UCUM}|[degR] is not in docs/fhir.md",
        "http://example.org/ext is not in docs/fhir.md"]
