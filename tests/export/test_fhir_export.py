"""FHIR export (monitoring.export.fhir) on SQLite and PostgreSQL: every resource and the Bundle
validate with fhir.resources (R4B models: same shape as R4 for what is exported), references
resolve, codes and units are there, and the de-identified export holds no identifier or real date."""
from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from monitoring.clinical.inputs import ObservationInput
from monitoring.export.deid import FREE_TEXT_WITHHELD
from monitoring.export.fhir import LOINC, UCUM, fhir_export_bytes, resource_id, to_bundle, to_ndjson
from monitoring.export.fhir_terminology import AE_GRADE_URL, MEDDRA, NCIT, SNOMED
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.views.alerts import list_alerts
from tests.export.fhir_ward import (
    BIRTH,
    FAMILY,
    GIVEN,
    HOLD_REASON,
    KEY,
    MRN,
    OTHER_KEY,
    SET_AT,
    START,
    export,
    of_type,
    references,
    ward,
)

__all__ = ["ward"]  # the fixture, found by pytest through this import


def names(engine, patient_ids, key):
    from monitoring.export.deid import patient_pseudonyms
    with session_scope(engine) as session:
        return patient_pseudonyms(session=session, patient_ids=patient_ids, export_key=key)


def test_every_resource_and_the_bundle_validate_and_references_resolve(engine, ward):
    resources = export(engine, course_ids=[ward.course_id])
    kinds = [r["resourceType"] for r in resources]
    assert set(kinds) == {"Patient", "Observation", "MedicationAdministration", "DetectedIssue", "AdverseEvent"}
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    bundle = to_bundle(resources)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection" and len(bundle["entry"]) == len(resources)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert all(u.startswith("urn:uuid:") for u in urls) and len(set(urls)) == len(urls)
    refs = set(references(bundle))
    assert refs <= set(urls)
    patient_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    for entry in bundle["entry"][1:]:  # every resource but the Patient points at the patient
        assert (entry["resource"].get("subject") or entry["resource"]["patient"]) == {"reference": patient_url}


def test_numeric_observations_carry_loinc_and_ucum_and_the_lab_reference_range(engine, ward):
    observations = {o["code"]["text"]: o for o in of_type(export(engine, course_ids=[ward.course_id]), "Observation")}
    temperature, anc = observations["Temperature"], observations["Neutrophils (ANC)"]
    assert {"system": LOINC, "code": "8310-5"}.items() <= temperature["code"]["coding"][0].items()
    assert temperature["valueQuantity"] == {"value": 38.6, "unit": "°C", "system": UCUM, "code": "Cel"}
    assert temperature["category"][0]["coding"][0]["code"] == "vital-signs"
    assert anc["code"]["coding"][0]["code"] == "751-8" and anc["valueQuantity"]["code"] == "10*9/L"
    assert anc["referenceRange"] == [{"low": {**anc["valueQuantity"], "value": 1.8},
                                      "high": {**anc["valueQuantity"], "value": 7.5}}]
    assert anc["category"][0]["coding"][0]["code"] == "laboratory"
    numeric = [o for o in observations.values() if "valueQuantity" in o]
    assert len(numeric) == 3 and all(o["code"]["coding"][0]["system"] == LOINC for o in numeric)
    rigors = next(o for o in observations.values() if "valueInteger" in o)
    assert rigors["valueInteger"] == 2 and rigors["category"][0]["coding"][0]["code"] == "exam"
    avpu = next(o for o in observations.values() if "valueCodeableConcept" in o)
    # ACVPU 'A' in SNOMED CT, no project-made code system.
    assert avpu["valueCodeableConcept"] == {"coding": [{"system": SNOMED, "code": "248234008",
                                                        "display": "Mentally alert"}], "text": "A"}


def test_doses_given_and_held_become_medication_administrations(engine, ward):
    given, held = of_type(export(engine, course_ids=[ward.course_id]), "MedicationAdministration")
    assert given["status"] == "completed"
    assert given["dosage"]["dose"] == {"value": 48_000_000, "unit": "IU", "system": UCUM, "code": "[IU]"}
    assert given["medicationCodeableConcept"]["coding"] == [{"system": "http://www.whocc.no/atc", "code": "L03AC01",
                                                             "display": "aldesleukin"}]
    assert given["dosage"]["route"] == {"coding": [{"system": SNOMED, "code": "47625008",
                                                    "display": "Intravenous route"}], "text": "IV"}
    assert held["status"] == "not-done" and "dosage" not in held
    # De-identified: a reason typed by the nurse may name people or dates: withheld (deid.scrub_reason).
    assert held["statusReason"][0]["text"] == FREE_TEXT_WITHHELD
    assert held["statusReason"][0]["coding"][0]["code"] == "held"
    _, typed = of_type(export(engine, course_ids=[ward.course_id], identifiable=True), "MedicationAdministration")
    assert typed["statusReason"][0]["text"] == HOLD_REASON


def test_alerts_become_detected_issues_with_mapped_severity(engine, ward):
    with session_scope(engine) as session:
        alerts = list_alerts(session=session, patient_ids=[ward.patient_id])
    issues = of_type(export(engine, course_ids=[ward.course_id]), "DetectedIssue")
    assert len(issues) == len(alerts) >= 1
    fn = next(i for i in issues if i["code"]["coding"][0]["code"] == "febrile-neutropenia")
    stored = alerts[alerts["rule_id"] == "febrile-neutropenia"].iloc[0]
    assert fn["severity"] == {"emergency": "high", "urgent": "high", "warning": "moderate"}[stored["severity"]]
    assert fn["code"]["text"] == f"febrile-neutropenia: {stored['level']}"
    assert "ANC 0.40" in fn["detail"] and "IDSA 2010" in fn["detail"]
    assert fn["identifiedDateTime"].startswith("2000-01-02T")


def cited(issue, resources) -> list[dict]:
    by_id = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    return [by_id[ref["reference"]] for part in issue.get("evidence", []) for ref in part["detail"]]


def test_detected_issues_reference_the_observations_behind_each_alert(engine, ward):
    resources = export(engine, course_ids=[ward.course_id])
    issues = {i["code"]["coding"][0]["code"]: i for i in of_type(resources, "DetectedIssue")}
    fn = cited(issues["febrile-neutropenia"], resources)
    assert [(o["code"]["text"], o["valueQuantity"]["value"], o["effectiveDateTime"]) for o in fn] == [
        ("Temperature", 38.6, "2000-01-02T06:00:00Z"), ("Neutrophils (ANC)", 0.4, "2000-01-02T06:00:00Z")]
    # NEWS2 names every value of the set; the systolic pressure is cited through its blood-pressure panel.
    news2 = cited(issues["news2"], resources)
    assert [o["code"]["text"] for o in news2] == ["Temperature", "Heart rate", "Blood pressure",
                                                  "Consciousness (ACVPU)"]
    assert news2[2]["component"][0]["valueQuantity"]["value"] == 95
    # An alert whose evidence names no stored value (inputs missing at the first dose) cites none.
    assert "evidence" not in issues["il2-incomplete-check"]


def test_an_amended_value_is_cited_as_amended(engine, ward):
    with session_scope(engine) as session:
        temperature = repository.current_observations(session=session, patient_ids=[ward.patient_id],
                                                      codes=["temperature"])
        repository.amend_observation(session=session, observation_id=int(temperature["id"].iloc[0]), value="38.9",
                                     reason="misread", recorded_by="nurse.a")
        sync_alerts(session=session, patient_ids=[ward.patient_id], now=SET_AT + timedelta(hours=1))
    resources = export(engine, course_ids=[ward.course_id])
    fn = next(i for i in of_type(resources, "DetectedIssue") if i["code"]["coding"][0]["code"] == "febrile-neutropenia")
    first = cited(fn, resources)[0]
    assert (first["code"]["text"], first["valueQuantity"]["value"], first["status"]) == ("Temperature", 38.9, "amended")


def test_retracted_alerts_are_not_exported(engine, ward):
    with session_scope(engine) as session:
        anc = repository.current_observations(session=session, patient_ids=[ward.patient_id], codes=["anc"])
        repository.mark_entered_in_error(session=session, observation_id=int(anc["id"].iloc[0]),
                                         reason="wrong patient", recorded_by="lab")
        sync_alerts(session=session, patient_ids=[ward.patient_id], now=SET_AT + timedelta(hours=1))
    issues = of_type(export(engine, course_ids=[ward.course_id]), "DetectedIssue")
    assert "febrile-neutropenia" not in {i["code"]["coding"][0]["code"] for i in issues}


def test_adverse_events_carry_the_highest_ctcae_grade(engine, ward):
    earlier = START + timedelta(hours=12)  # -> 2000-01-01T12:00:00Z
    with session_scope(engine) as session:  # a milder ANC before the grade 4: the event starts there
        repository.add_observation_set(
            session=session, patient_id=ward.patient_id, course_id=ward.course_id, recorded_by="lab",
            observed_at=earlier, now=earlier, source="lab-import",
            values=[ObservationInput("anc", "1.2", ref_low=1.8, ref_high=7.5)])
    events = {e["event"]["text"]: e for e in of_type(export(engine, course_ids=[ward.course_id]), "AdverseEvent")}
    assert set(events) == {"Neutrophil count decreased", "Fever", "Chills"}
    neutropenia, chills = events["Neutrophil count decreased"], events["Chills"]
    # The term in MedDRA (docs/clinical.md: "Neutrophil count decreased (10029366)"), the grade in the AE
    # Clinical Research IG's ae-grade (NCI Thesaurus C41337 = grade 4), the severity class in severity.
    assert neutropenia["event"]["coding"] == [{"system": MEDDRA, "code": "10029366",
                                               "display": "Neutrophil count decreased"}]
    assert neutropenia["extension"] == [{"url": AE_GRADE_URL, "valueCodeableConcept": {
        "coding": [{"system": NCIT, "code": "C41337", "display": "Life Threatening or Disabling Adverse Event"}],
        "text": "CTCAE v5.0 grade 4"}}]
    assert neutropenia["severity"]["coding"][0]["code"] == "severe"
    assert neutropenia["date"] == "2000-01-01T12:00:00Z"
    assert chills["event"]["coding"][0]["code"] == "10008531"
    assert chills["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "C41339"
    assert chills["severity"]["coding"][0]["code"] == "moderate"
    assert events["Fever"]["severity"]["coding"][0]["code"] == "mild"
    assert events["Fever"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "C41338"


def test_deidentified_export_holds_no_identifier_and_no_real_date(engine, ward):
    with session_scope(engine) as session:
        bundle = fhir_export_bytes(session=session, export_key=KEY).decode()
        ndjson = fhir_export_bytes(session=session, export_key=KEY, fmt="ndjson").decode()
    for text in (bundle, ndjson):
        for identifier in (MRN, "SYN-OTHER-2", GIVEN, FAMILY, "Person", BIRTH.isoformat()):
            assert identifier not in text
        # No real date: course start, observation, dose and alert times, evidence and the hold reason
        # (a bare '2026' may occur inside a uuid).
        assert re.findall(r"2026-\d\d-\d\d", text) == [] and "2000-01-01" in text
    patients = of_type([e["resource"] for e in json.loads(bundle)["entry"]], "Patient")
    assert {p["id"] for p in patients} == set(names(engine, [ward.patient_id, ward.other_patient_id], KEY).values())
    assert all(set(p) == {"resourceType", "id", "meta", "gender"} for p in patients)


def test_dates_are_shifted_so_the_course_starts_at_the_epoch(engine, ward):
    resources = export(engine, course_ids=[ward.course_id])
    times = {o["code"]["text"]: o["effectiveDateTime"] for o in of_type(resources, "Observation")}
    assert set(times.values()) == {"2000-01-02T06:00:00Z"}
    given, held = of_type(resources, "MedicationAdministration")
    assert (given["effectiveDateTime"], held["effectiveDateTime"]) == ("2000-01-01T00:00:00Z", "2000-01-01T07:55:12Z")
    assert all(any(t["code"] == "date-shifted" for t in r["meta"]["tag"]) for r in resources)


def test_pseudonyms_and_ids_are_stable_for_a_key_and_differ_for_another(engine, ward):
    first, again = export(engine), export(engine)
    other = export(engine, export_key=OTHER_KEY)
    assert [r["id"] for r in first] == [r["id"] for r in again]
    assert not {r["id"] for r in first} & {r["id"] for r in other}
    assert of_type(other, "Patient")[0]["id"] == names(engine, [ward.patient_id], OTHER_KEY)[ward.patient_id]
    with pytest.raises(ValueError, match="export key"):
        export(engine, export_key="")


@pytest.mark.parametrize("kind, key", [("Observation", 1), ("AdverseEvent", "3|Fever"), ("DetectedIssue", 12),
                                       ("Observation", "bp|1|5f0c|1796390760000000000")])
def test_resource_ids_stay_the_uuid5_of_earlier_exports(kind, key):
    """A registry matches resources across monthly exports by id: ids are uuid5 over the export key and
    the record, as they were before the export computed them without uuid's objects."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://il2-monitor.example/fhir")
    assert resource_id(KEY, kind, key) == str(uuid.uuid5(namespace, f"{KEY}|{kind}|{key}"))


def test_identifiable_mode_carries_the_mrn_and_real_dates(engine, ward):
    resources = export(engine, course_ids=[ward.course_id], identifiable=True)
    patient, = of_type(resources, "Patient")
    get_fhir_model_class("Patient").model_validate(patient)
    assert patient["identifier"][0]["value"] == MRN and "name" not in patient and "birthDate" not in patient
    assert {o["effectiveDateTime"] for o in of_type(resources, "Observation")} == {"2026-11-21T14:00:00Z"}
    held = of_type(resources, "MedicationAdministration")[1]
    assert held["statusReason"][0]["text"] == HOLD_REASON
    assert all("date-shifted" not in json.dumps(r.get("meta", {})) for r in resources)


def test_filters_select_courses_by_id_ward_regimen_and_period(engine, ward):
    def patients(**filters):
        return {p["id"] for p in of_type(export(engine, **filters), "Patient")}

    both = names(engine, [ward.patient_id, ward.other_patient_id], KEY)
    mine, theirs = both[ward.patient_id], both[ward.other_patient_id]
    assert patients() == {mine, theirs}
    assert patients(course_ids=[ward.other_course_id]) == {theirs}
    assert patients(period=(START + timedelta(days=1), None)) == {theirs}
    assert patients(period=(None, START + timedelta(days=1))) == {mine}
    assert patients(regimens=["low-dose-sc"]) == set()
    assert patients(ward_ids=[9_999]) == set()
    assert patients(course_ids=[ward.course_id], regimens=["hd-iv-bolus"]) == {mine}


def test_ndjson_is_one_valid_resource_per_line_grouped_by_type(engine, ward):
    with session_scope(engine) as session:
        lines = fhir_export_bytes(session=session, export_key=KEY, fmt="ndjson").decode().splitlines()
        bundle = json.loads(fhir_export_bytes(session=session, export_key=KEY))
    resources = [json.loads(line) for line in lines]
    assert [r["id"] for r in resources] == [e["resource"]["id"] for e in bundle["entry"]]
    kinds = [r["resourceType"] for r in resources]
    assert kinds == sorted(kinds, key=["Patient", "Observation", "MedicationAdministration", "DetectedIssue",
                                       "AdverseEvent"].index)
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    # ndjson keeps relative references (FHIR bulk data): each names a Patient or an Observation in the file.
    assert set(references(resources)) <= {f"{r['resourceType']}/{r['id']}" for r in resources
                                          if r["resourceType"] in ("Patient", "Observation")}


def test_ndjson_refuses_resources_that_are_not_grouped_by_type():
    mixed = [{"resourceType": "Patient", "id": "a"}, {"resourceType": "Observation", "id": "b"},
             {"resourceType": "Patient", "id": "c"}]
    with pytest.raises(ValueError, match="not grouped"):
        list(to_ndjson(mixed))


def test_an_unknown_format_is_refused(engine, ward):
    with session_scope(engine) as session, pytest.raises(ValueError, match="ndjson"):
        fhir_export_bytes(session=session, export_key=KEY, fmt="xml")
