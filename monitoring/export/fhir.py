"""FHIR R4 export: pseudonymous Patient, Observation, MedicationAdministration, DetectedIssue and
AdverseEvent resources as plain JSON dicts, written as a Bundle (type collection) or as ndjson.
docs/fhir.md describes every profile, code system and code with its source (fhir_terminology).

What is emitted (issues 7 and 20):
* Patient: id = monitoring.export.deid.pseudonym(patient id, export key); gender only. No name,
  identifier or birth date (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)); sex is not one of the 18
  identifiers. PatientIdentity is read only when `identifiable=True`, and then only for the MRN.
* Observation per current observation (repository.current_observations: amended values once,
  entered-in-error ones left out), built by fhir_observations: the systolic and diastolic pressure of
  one set as one R4 blood-pressure panel (85354-9, components 8480-6 and 8462-4); every vital sign
  with its R4 vital-signs profile in meta.profile (SpO2 coded 2708-6, then 59408-5); LOINC codes with
  their evidence tag (docs/clinical.md §7.1) and the catalogue code; UCUM quantities; nurse-graded
  symptoms as valueInteger (the CTCAE grade); ACVPU answers in SNOMED CT and yes/no in LOINC answers;
  referenceRange from the lab's ref_low/ref_high.
* MedicationAdministration per dose event that stands: aldesleukin as ATC L03AC01, the route in
  SNOMED CT; 'completed' when given, 'not-done' with the reason as statusReason when held or stopped;
  dose in the recorded unit when it is UCUM, else as text.
* DetectedIssue per alert that is not retracted: severity emergency/urgent -> high, warning ->
  moderate, info -> low; code = rule id and level; detail = evidence, IL-2 context and standard;
  evidence.detail = references to the exported Observations the alert's structured evidence names
  (matched on patient, code and time to the second; a value that is not exported is not referenced).
* AdverseEvent per (course, CTCAE v5.0 term) whose highest grade is >= 1
  (monitoring.clinical.toxicity.graded_observations): event coded in MedDRA (the code docs/clinical.md
  lists for the term; none when it lists none), severity mild/moderate/severe (CTCAE grades 1, 2,
  3-5), the exact grade in the ae-grade extension of HL7's Adverse Event Clinical Research R4 Backport
  IG (NCI Thesaurus grade codes); date = first time the term reached grade 1.

Dates. De-identified (the default), every date of a patient is shifted so that the patient's first
exported course starts at EPOCH (2000-01-01T00:00:00Z): time = EPOCH + monitoring.export.deid.days_from
(time, course start) days, i.e. the same days-from-course-start (0.01 day) as the CSV export, written
as a FHIR dateTime. An alert's evidence is rendered from its structured items (Alert.evidence) with
its times shifted the same way; no text is searched for dates. Each resource says so in meta.tag
(date-shifted) and carries the HL7 security label PSEUDED.
Dose reasons: de-identified, the hold criteria chosen are named (stored structured with the dose)
and text typed by staff is withheld (monitoring.export.deid.deid_reason: it may name people or hold dates
no program can find); identifiable exports keep the reason as typed.

Validation. The tests validate every resource against fhir.resources.R4B (a test-only dependency;
nothing here imports it): there is no R4 (4.0.1) package for pydantic 2, and Patient, Observation,
MedicationAdministration, DetectedIssue, AdverseEvent and Bundle have the same shape in R4 and R4B
for every element emitted here. tests/export/fhir_checker.py checks the vital-signs profiles and that
every code emitted is in docs/fhir.md.

Every resource id is a uuid5 over the export key and the database id (the Patient's is its
pseudonym), so ids are stable for a key, reveal no database id, and references resolve inside
one export. `fhir_resources` is a generator that reads the store a batch of patients at a time and
yields the resources grouped by type; keep the session open while iterating.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.clinical.catalogue import Catalogue, default_catalogue
from monitoring.clinical.toxicity import graded_observations
from monitoring.export import fhir_terminology as terms
from monitoring.export.deid import deid_reason, patient_pseudonyms, pseudonym
from monitoring.export.fhir_base import EPOCH, Dates, full_url, meta, number, reference, resource_id, with_meta
from monitoring.export.fhir_observations import observation_resources
from monitoring.store.models import Patient, PatientIdentity, TreatmentCourse
from monitoring.store.repository import current_doses, current_observations
from monitoring.views.alerts import list_alerts
from monitoring.views.patient_chart import BASELINE_LEAD

LOINC, UCUM = terms.LOINC, terms.UCUM
MRN_SYSTEM = f"{terms.PROJECT}/NamingSystem/mrn"
ALERT_SEVERITY = {"emergency": "high", "urgent": "high", "warning": "moderate", "info": "low"}
_GENDER = {"male": "male", "m": "male", "female": "female", "f": "female", "other": "other"}
RESOURCE_TYPES = ("Patient", "Observation", "MedicationAdministration", "DetectedIssue", "AdverseEvent")
BATCH_PATIENTS = 500  # patients read per query: bounds memory while streaming ndjson
FORMATS = ("bundle", "ndjson")
__all__ = ["EPOCH", "LOINC", "UCUM", "fhir_export_bytes", "fhir_resources", "full_url", "resource_id", "to_bundle",
           "to_ndjson"]


# --- course selection ------------------------------------------------------------------------------

COURSE_COLUMNS = ["course_id", "patient_id", "start_at", "regimen", "cycle", "baseline_creatinine_mg_dl"]


def select_courses(*, session: Session, course_ids: Sequence[int] | None = None,
                   ward_ids: Sequence[int] | None = None, regimens: Sequence[str] | None = None,
                   period: tuple[datetime | None, datetime | None] | None = None) -> pd.DataFrame:
    """Courses to export (COURSE_COLUMNS), each filter optional: ids, the patient's ward, regimen,
    and period = (from, to) on the course start, from inclusive, to exclusive."""
    query = select(TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.start_at,
                   TreatmentCourse.regimen, TreatmentCourse.cycle, TreatmentCourse.baseline_creatinine_mg_dl)
    if course_ids is not None:
        query = query.where(TreatmentCourse.id.in_(list(course_ids)))
    if regimens is not None:
        query = query.where(TreatmentCourse.regimen.in_(list(regimens)))
    if ward_ids is not None:
        query = query.join(Patient, Patient.id == TreatmentCourse.patient_id).where(Patient.ward_id.in_(list(ward_ids)))
    low, high = period or (None, None)
    if low is not None:
        query = query.where(TreatmentCourse.start_at >= low)
    if high is not None:
        query = query.where(TreatmentCourse.start_at < high)
    frame = pd.DataFrame.from_records([tuple(r) for r in session.execute(query.order_by(TreatmentCourse.id)).all()],
                                      columns=COURSE_COLUMNS)
    frame["start_at"] = pd.to_datetime(frame["start_at"], utc=True)
    return frame


def attribute_to_course(frame: pd.DataFrame, time_column: str, courses: pd.DataFrame) -> pd.Series:
    """Course of each row: its own course_id when set, else the patient's latest course started by
    the row's time + BASELINE_LEAD (pre-course baseline values belong to the course, as on the chart)."""
    own = frame["course_id"] if "course_id" in frame else pd.Series(pd.NA, index=frame.index)
    if frame.empty or courses.empty:
        return own.astype("Int64")
    # merge_asof needs one datetime resolution on both sides.
    when = (pd.to_datetime(frame[time_column], utc=True) + BASELINE_LEAD).to_numpy("datetime64[ns]")
    left = pd.DataFrame({"row": np.arange(len(frame)), "patient_id": frame["patient_id"].astype("int64").to_numpy(),
                         "key": when})
    right = pd.DataFrame({"patient_id": courses["patient_id"].astype("int64").to_numpy(),
                          "key": courses["start_at"].to_numpy("datetime64[ns]"),
                          "asof_course": courses["course_id"].astype("int64").to_numpy()})
    merged = pd.merge_asof(left.sort_values("key"), right.sort_values("key"), on="key", by="patient_id",
                           direction="backward").sort_values("row")
    guessed = pd.Series(merged["asof_course"].to_numpy(), index=frame.index).astype("Int64")
    return own.astype("Int64").fillna(guessed)


# --- resource builders (pure) ----------------------------------------------------------------------

def patient_resource(*, pseudonym_id: str, sex: str | None, synthetic: bool,
                     mrn: str | None = None) -> dict[str, Any]:
    """Pseudonymous Patient (its id: monitoring.export.deid.pseudonym); the MRN identifier only when `mrn` is
    given (identifiable mode)."""
    resource: dict[str, Any] = {"resourceType": "Patient", "id": pseudonym_id}
    if mrn is not None:
        resource["identifier"] = [{"type": {"coding": [terms.MRN_TYPE.coding()]}, "system": MRN_SYSTEM, "value": mrn}]
    resource["gender"] = _GENDER.get((sex or "").strip().casefold(), "unknown")
    return with_meta(resource, meta(identifiable=mrn is not None, synthetic=synthetic))


def _medication() -> dict[str, Any]:
    return {"coding": [terms.ALDESLEUKIN.coding()], "text": "aldesleukin (interleukin-2)"}


def medication_administration(row: Any, *, subject: str, effective: str, reason: str, export_key: str,
                              identifiable: bool) -> dict[str, Any]:
    """One IL-2 dose event: completed when given, not-done with the reason when held or stopped."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "id": resource_id(export_key, "MedicationAdministration", row.id),
        "extension": [{"url": terms.DOSE_NUMBER_URL, "valuePositiveInt": int(row.dose_number)}],
        "status": "completed" if row.status == "given" else "not-done",
    }
    if row.status != "given":
        resource["statusReason"] = [{"coding": [{"system": terms.DOSE_STATUS, "code": row.status}],
                                     "text": reason or row.status}]
    resource |= {"medicationCodeableConcept": _medication(), "subject": reference("Patient", subject),
                 "effectiveDateTime": effective}
    dosage: dict[str, Any] = {}
    if isinstance(row.route, str):
        route = terms.ROUTES.get(row.route)
        dosage["route"] = {"coding": [route.coding()], "text": row.route} if route else {"text": row.route}
    if not pd.isna(row.dose):
        unit = row.dose_unit if isinstance(row.dose_unit, str) else ""
        if unit in terms.DOSE_UNITS:
            dosage["dose"] = {"value": number(row.dose), "unit": unit.replace("[", "").replace("]", ""),
                              "system": UCUM, "code": unit}
        else:
            dosage["text"] = f"{number(row.dose)} {unit}".strip()
    if dosage:
        resource["dosage"] = dosage
    return with_meta(resource, meta(identifiable=identifiable))


def detected_issue(row: Any, *, subject: str, identified: str, detail: str, export_key: str, identifiable: bool,
                   evidence: Sequence[str] = ()) -> dict[str, Any]:
    """One alert: rule and level as code, evidence in words as detail and, as evidence.detail, references
    to the Observations (ids in `evidence`) it names; severity mapped to high/moderate/low."""
    resource: dict[str, Any] = {
        "resourceType": "DetectedIssue", "id": resource_id(export_key, "DetectedIssue", row.id),
        "extension": [{"url": terms.ALERT_STATUS_URL, "valueCode": row.status}],
        "status": "final",
        "code": {"coding": [{"system": terms.ALERT_RULES, "code": row.rule_id}], "text": f"{row.rule_id}: {row.level}"},
        "severity": ALERT_SEVERITY.get(row.severity, "low"),
        "patient": reference("Patient", subject),
        "identifiedDateTime": identified,
    }
    if evidence:
        resource["evidence"] = [{"detail": [reference("Observation", rid) for rid in evidence]}]
    resource["detail"] = detail
    return with_meta(resource, meta(identifiable=identifiable))


def adverse_event(*, course_id: int, term: str, grade: int, subject: str, date: str, export_key: str,
                  identifiable: bool) -> dict[str, Any]:
    """Highest CTCAE v5.0 grade of a term in a course: the term in MedDRA (when docs/clinical.md gives its
    code), severity mild/moderate/severe and the exact grade in the AE Clinical Research IG's ae-grade."""
    grade = int(grade)
    code = terms.meddra(term)
    severity = terms.SEVERITIES[terms.GRADE_SEVERITY[grade]]
    resource = {
        "resourceType": "AdverseEvent", "id": resource_id(export_key, "AdverseEvent", f"{course_id}|{term}"),
        "extension": [{"url": terms.AE_GRADE_URL, "valueCodeableConcept": {
            "coding": [terms.GRADES[grade].coding()], "text": f"CTCAE v5.0 grade {grade}"}}],
        "actuality": "actual",
        "event": {"coding": [code.coding()], "text": term} if code else {"text": term},
        "subject": reference("Patient", subject),
        "date": date,
        "severity": {"coding": [severity.coding()], "text": f"CTCAE v5.0 grade {grade}"},
    }
    return with_meta(resource, meta(identifiable=identifiable))


def highest_grades(graded: pd.DataFrame) -> pd.DataFrame:
    """Per (course_id, term) with a grade >= 1: the highest grade and the first time of grade >= 1."""
    graded = graded[graded["grade"].fillna(0) >= 1]
    if graded.empty:
        return pd.DataFrame(columns=["course_id", "term", "grade", "first_at"])
    return (graded.groupby(["course_id", "term"], sort=True)
            .agg(grade=("grade", "max"), first_at=("observed_at", "min")).reset_index())


# --- alerts and the Observations they cite --------------------------------------------------------

def cited_observations(items: Any, patient_id: int) -> list[tuple[int, str, int]]:
    """(patient, code, UTC second) of each observation an alert's structured evidence names: an item's
    code at its time (and at the earlier reading it compares with), and each value of a set item at
    its own time or the set's. Items without a time (derived scores, counts) name none."""
    keys: list[tuple[int, str, int]] = []

    def add(code: Any, at: Any) -> None:
        if isinstance(code, str) and isinstance(at, str):
            key = (int(patient_id), code, int(datetime.fromisoformat(at).timestamp()))
            if key not in keys:
                keys.append(key)

    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        for time_key in ("at", "from_at", "previous_at"):
            add(item.get("code"), item.get(time_key))
        for value in item.get("values") or []:
            if isinstance(value, dict):
                add(value.get("code"), value.get("at") or item.get("at"))
    return keys


def _selected_alerts(*, session: Session, patient_ids: Sequence[int], courses: pd.DataFrame,
                     selected: set[int]) -> pd.DataFrame:
    """The batch's alerts that are not retracted and belong to a selected course, oldest first."""
    alerts = list_alerts(session=session, patient_ids=patient_ids)
    alerts = alerts[alerts["status"] != "retracted"]
    alerts = alerts.assign(course_id=attribute_to_course(alerts, "onset_at", courses)).sort_values(
        ["patient_id", "onset_at", "id"], kind="stable")
    return alerts[alerts["course_id"].isin(selected)]


# --- the export ------------------------------------------------------------------------------------

def fhir_resources(*, session: Session, export_key: str, identifiable: bool = False,
                   course_ids: Sequence[int] | None = None, ward_ids: Sequence[int] | None = None,
                   regimens: Sequence[str] | None = None,
                   period: tuple[datetime | None, datetime | None] | None = None,
                   catalogue: Catalogue | None = None) -> Iterator[dict[str, Any]]:
    """The selected courses as FHIR resources, grouped by type in RESOURCE_TYPES order (module doc).

    De-identified unless `identifiable` (callers check the role first). Reads PatientIdentity only
    when identifiable. Streams: the store is read BATCH_PATIENTS patients at a time; the alerts of a
    batch are read with its observations (to know which Observations they cite) and kept until the
    DetectedIssues are written, as the AdverseEvents are.
    """
    pseudonym("", export_key)  # refuse an empty or short key before anything is read
    catalogue = catalogue or default_catalogue()
    courses = select_courses(session=session, course_ids=course_ids, ward_ids=ward_ids, regimens=regimens,
                             period=period)
    if courses.empty:
        return
    patient_ids = sorted(int(p) for p in courses["patient_id"].unique())
    dates = Dates(None if identifiable else courses.groupby("patient_id")["start_at"].min().to_dict())
    subject = patient_pseudonyms(session=session, patient_ids=patient_ids, export_key=export_key)
    batches = [patient_ids[i:i + BATCH_PATIENTS] for i in range(0, len(patient_ids), BATCH_PATIENTS)]
    selected = set(courses["course_id"].astype(int))
    common = dict(export_key=export_key, identifiable=identifiable)

    for batch in batches:
        rows = session.execute(select(Patient.id, Patient.sex, Patient.is_synthetic)
                               .where(Patient.id.in_(batch)).order_by(Patient.id)).all()
        mrns = dict(session.execute(select(PatientIdentity.patient_id, PatientIdentity.mrn)
                                    .where(PatientIdentity.patient_id.in_(batch))).all()) if identifiable else {}
        for pid, sex, synthetic in rows:
            yield patient_resource(pseudonym_id=subject[pid], sex=sex, synthetic=bool(synthetic),
                                   mrn=mrns.get(pid) if identifiable else None)

    adverse: list[dict[str, Any]] = []  # one per (course, term): few, kept until the Observations are out
    alerts: list[tuple[pd.DataFrame, list[list[str]]]] = []  # per batch: alerts, the Observations each cites
    for batch in batches:
        all_courses = _patient_courses(session=session, patient_ids=batch)
        batch_alerts = _selected_alerts(session=session, patient_ids=batch, courses=all_courses, selected=selected)
        cited = [cited_observations(items, pid) for items, pid in zip(batch_alerts["evidence"],
                                                                      batch_alerts["patient_id"])]
        index: dict[tuple[int, str, int], str | None] = {key: None for keys in cited for key in keys}
        obs = current_observations(session=session, patient_ids=batch)
        obs = obs.assign(course_id=attribute_to_course(obs, "observed_at", all_courses))
        obs = obs[obs["course_id"].isin(selected)]
        yield from observation_resources(obs, subject=subject, effective=dates.times(obs["observed_at"],
                                                                                     obs["patient_id"]),
                                         starts=dates.times(obs["period_start"], obs["patient_id"]),
                                         catalogue=catalogue, index=index, **common)
        alerts.append((batch_alerts, [list(dict.fromkeys(rid for key in keys if (rid := index[key])))
                                      for keys in cited]))
        adverse += _adverse_events(obs, courses, dates=dates, subject=subject, catalogue=catalogue, **common)

    for batch in batches:
        doses = current_doses(session=session, patient_ids=batch)
        doses = doses[doses["course_id"].isin(selected)]
        effective = dates.times(doses["given_at"].fillna(doses["scheduled_at"]), doses["patient_id"])
        for row, when in zip(doses.itertuples(index=False), effective):
            typed = row.reason if isinstance(row.reason, str) else ""
            # De-identified: the hold criteria by name; typed words withheld (deid.deid_reason).
            reason = typed if identifiable else (deid_reason(row.reason_criteria, row.reason_note, row.reason) or "")
            yield medication_administration(row, subject=subject[row.patient_id], effective=when, reason=reason,
                                            **common)

    for batch_alerts, cited_ids in alerts:
        identified = dates.times(batch_alerts["onset_at"], batch_alerts["patient_id"])
        dates.prepare_evidence(batch_alerts["evidence"], batch_alerts["patient_id"])
        for row, when, evidence in zip(batch_alerts.itertuples(index=False), identified, cited_ids):
            detail = "\n".join(part for part in (
                dates.evidence(row.evidence, row.evidence_text, row.patient_id),
                f"IL-2 context: {row.context}" if row.context else "",
                f"Standard: {row.standard}" if row.standard else "") if part)
            yield detected_issue(row, subject=subject[row.patient_id], identified=when, detail=detail,
                                 evidence=evidence, **common)

    yield from adverse


def _patient_courses(*, session: Session, patient_ids: Sequence[int]) -> pd.DataFrame:
    """Every course of these patients (selected or not), to attribute rows that have no course id."""
    rows = session.execute(select(TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.start_at)
                           .where(TreatmentCourse.patient_id.in_(list(patient_ids)))).all()
    frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=["course_id", "patient_id", "start_at"])
    frame["start_at"] = pd.to_datetime(frame["start_at"], utc=True)
    return frame


def _adverse_events(obs: pd.DataFrame, courses: pd.DataFrame, *, dates: Dates, subject: dict[int, str],
                    catalogue: Catalogue, export_key: str, identifiable: bool) -> list[dict[str, Any]]:
    if obs.empty:
        return []
    # graded_observations keys the baseline creatinine by patient_id: grade per course instead, so a
    # patient's second course is graded against its own baseline.
    baseline = courses.dropna(subset=["baseline_creatinine_mg_dl"]).set_index("course_id")["baseline_creatinine_mg_dl"]
    by_course = obs.assign(patient_id=obs["course_id"].astype("int64"))
    graded = graded_observations(by_course, baseline_creatinine=baseline.astype(float).to_dict(), catalogue=catalogue)
    top = highest_grades(graded.assign(course_id=graded["patient_id"]))
    if top.empty:
        return []
    patient_of = courses.set_index("course_id")["patient_id"]
    top["patient_id"] = top["course_id"].map(patient_of).astype("int64")
    first = dates.times(top["first_at"], top["patient_id"])
    return [adverse_event(course_id=int(r.course_id), term=r.term, grade=int(r.grade), subject=subject[r.patient_id],
                          date=when, export_key=export_key, identifiable=identifiable)
            for r, when in zip(top.itertuples(index=False), first)]


# --- writers ---------------------------------------------------------------------------------------

def _in_bundle(resource: dict[str, Any], urls: dict[str, str]) -> dict[str, Any]:
    """A copy of a resource with its references ('Type/id') as the urn:uuid fullUrls of the Bundle (a
    relative 'Patient/x' does not resolve against a urn:uuid fullUrl). References sit in subject or
    patient and in DetectedIssue.evidence.detail only."""
    def url(ref: dict[str, str]) -> dict[str, str]:
        target = ref["reference"]
        if target not in urls:
            kind, rid = target.split("/", 1)
            urls[target] = full_url(kind, rid)
        return {"reference": urls[target]}

    copy = dict(resource)
    for key in ("subject", "patient"):
        if key in copy:
            copy[key] = url(copy[key])
    if "evidence" in copy:
        copy["evidence"] = [{**part, "detail": [url(ref) for ref in part.get("detail", [])]}
                            for part in copy["evidence"]]
    return copy


def to_bundle(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A Bundle of type collection; fullUrl urn:uuid:..., references rewritten to those fullUrls."""
    urls: dict[str, str] = {}  # 'Type/id' -> fullUrl, each computed once
    entries = []
    for resource in resources:
        target = f"{resource['resourceType']}/{resource['id']}"
        if target not in urls:
            urls[target] = full_url(resource["resourceType"], resource["id"])
        entries.append({"fullUrl": urls[target], "resource": _in_bundle(resource, urls)})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def to_ndjson(resources: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One JSON line (with its newline) per resource, streaming; the input must come grouped by
    resourceType (fhir_resources does), since regrouping would hold the whole export in memory."""
    done: set[str] = set()
    current = None
    for resource in resources:
        kind = resource["resourceType"]
        if kind != current:
            if kind in done:
                raise ValueError(f"resources are not grouped by type: {kind} again after {current}")
            if current is not None:
                done.add(current)
            current = kind
        yield json.dumps(resource, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"


def fhir_export_bytes(*, session: Session, export_key: str, identifiable: bool = False, fmt: str = "bundle",
                      course_ids: Sequence[int] | None = None, ward_ids: Sequence[int] | None = None,
                      regimens: Sequence[str] | None = None,
                      period: tuple[datetime | None, datetime | None] | None = None) -> bytes:
    """The export as bytes for a download or a file: fmt 'bundle' (JSON, application/fhir+json) or
    'ndjson' (application/fhir+ndjson). Filters as fhir_resources. The bytes are held in memory: to
    write a very large ndjson file, write to_ndjson(fhir_resources(...)) line by line instead. JSON
    without indentation: json's C encoder writes it; an indented Bundle took Python's (several times
    slower, and 50 % larger)."""
    if fmt not in FORMATS:
        raise ValueError(f"FHIR format '{fmt}' is not known; accepted: {', '.join(FORMATS)}.")
    resources = fhir_resources(session=session, export_key=export_key, identifiable=identifiable,
                               course_ids=course_ids, ward_ids=ward_ids, regimens=regimens, period=period)
    if fmt == "ndjson":
        return "".join(to_ndjson(resources)).encode("utf-8")
    return json.dumps(to_bundle(resources), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
