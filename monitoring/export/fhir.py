"""FHIR R4 export: pseudonymous Patient, Observation, MedicationAdministration, DetectedIssue and
AdverseEvent resources as plain JSON dicts, written as a Bundle (type collection) or as ndjson.

What is emitted (issue 7):
* Patient: id = monitoring.export.deid.pseudonym(patient id, export key); gender only. No name,
  identifier or birth date (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)); sex is not one of the 18
  identifiers. PatientIdentity is read only when `identifiable=True`, and then only for the MRN.
* Observation per current observation (repository.current_observations: amended values once,
  entered-in-error ones left out): the catalogue's LOINC code (http://loinc.org, with its evidence
  tag from clinical.md §7.1 in an extension, since S and M codes still need checking against
  loinc.org) plus a local coding of the catalogue code; numeric values as valueQuantity in the
  canonical UCUM unit (http://unitsofmeasure.org), nurse-graded symptoms as valueInteger (the CTCAE
  grade), coded values as valueCodeableConcept; referenceRange from the lab's ref_low/ref_high.
* MedicationAdministration per dose event that stands: aldesleukin as text (clinical.md gives no
  RxNorm code, so none is invented); 'completed' when given, 'not-done' with the reason as
  statusReason when held or stopped; dose in the recorded unit when it is UCUM, else as text.
* DetectedIssue per alert that is not retracted: severity emergency/urgent -> high, warning ->
  moderate, info -> low; code = rule id and level; detail = evidence, IL-2 context and standard.
* AdverseEvent per (course, CTCAE v5.0 term) whose highest grade is >= 1
  (monitoring.clinical.toxicity.graded_observations): severity grade 1 mild, 2 moderate, 3-5 severe, and the
  exact grade in the extension CTCAE_GRADE_URL; date = first time the term reached grade 1.

Dates. De-identified (the default), every date of a patient is shifted so that the patient's first
exported course starts at EPOCH (2000-01-01T00:00:00Z): time = EPOCH + monitoring.export.deid.days_from
(time, course start) days, i.e. the same days-from-course-start (0.01 day) as the CSV export, written
as a FHIR dateTime. An alert's evidence is rendered from its structured items (Alert.evidence) with
its times shifted the same way; no text is searched for dates. Each resource says so in meta.tag
(DATE_SHIFT_TAG) and carries the HL7 security label PSEUDED.
Dose reasons: de-identified, the hold criteria chosen are named (stored structured with the dose)
and text typed by staff is withheld (monitoring.export.deid.deid_reason: it may name people or hold dates
no program can find); identifiable exports keep the reason as typed.

Validation. The tests validate every resource against fhir.resources.R4B (a test-only dependency;
nothing here imports it): there is no R4 (4.0.1) package for pydantic 2, and Patient, Observation,
MedicationAdministration, DetectedIssue, AdverseEvent and Bundle have the same shape in R4 and R4B
for every element emitted here.

Every resource id is a uuid5 over the export key and the database id (the Patient's is its
pseudonym), so ids are stable for a key, reveal no database id, and references resolve inside
one export. `fhir_resources` is a generator that reads the store a batch of patients at a time and
yields the resources grouped by type; keep the session open while iterating.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.clinical.catalogue import Catalogue, default_catalogue
from monitoring.clinical.code_lists import LABS, VITAL_SIGNS
from monitoring.clinical.rules.evidence import is_structured, render
from monitoring.clinical.toxicity import graded_observations
from monitoring.export.deid import days_from, deid_reason, patient_pseudonyms, pseudonym
from monitoring.store.models import Patient, PatientIdentity, TreatmentCourse
from monitoring.store.repository import current_doses, current_observations
from monitoring.views.alerts import list_alerts
from monitoring.views.patient_chart import BASELINE_LEAD

EPOCH = pd.Timestamp("2000-01-01T00:00:00Z")
PROJECT = "https://il2-monitor.example/fhir"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CTCAE_GRADE_URL = f"{PROJECT}/StructureDefinition/ctcae-grade"
LOINC_EVIDENCE_URL = f"{PROJECT}/StructureDefinition/loinc-evidence"
DOSE_NUMBER_URL = f"{PROJECT}/StructureDefinition/il2-dose-number"
ALERT_STATUS_URL = f"{PROJECT}/StructureDefinition/alert-status"
OBSERVATION_CODES = f"{PROJECT}/CodeSystem/observation-code"
MRN_SYSTEM = f"{PROJECT}/NamingSystem/mrn"
DATE_SHIFT_TAG = {"system": f"{PROJECT}/CodeSystem/export-flag", "code": "date-shifted",
                  "display": f"Dates shifted: the course starts at {EPOCH:%Y-%m-%dT%H:%M:%SZ}"}
# HL7 v3 ObservationValue security labels: pseudonymised data; test (synthetic) health data.
PSEUDONYMISED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "PSEUDED",
                 "display": "pseudonymized"}
SYNTHETIC_TAG = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST",
                 "display": "test health data"}
ALERT_SEVERITY = {"emergency": "high", "urgent": "high", "warning": "moderate", "info": "low"}
# http://terminology.hl7.org/CodeSystem/adverse-event-severity: CTCAE 1 mild, 2 moderate, 3-5 severe.
AE_SEVERITY = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}
# Dose units the project records that are valid UCUM (dosing.py; clinical.md §7.2): others go as text.
UCUM_DOSE_UNITS = frozenset({"[IU]", "[IU]/kg", "mg", "mg/kg", "ug", "ug/kg"})
ALDESLEUKIN = {"text": "aldesleukin (interleukin-2)"}
_GENDER = {"male": "male", "m": "male", "female": "female", "f": "female", "other": "other"}
RESOURCE_TYPES = ("Patient", "Observation", "MedicationAdministration", "DetectedIssue", "AdverseEvent")
BATCH_PATIENTS = 500  # patients read per query: bounds memory while streaming ndjson
FORMATS = ("bundle", "ndjson")

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, PROJECT)
# An ISO date-time as the rules write it ('2026-11-27 14:05Z') or a bare UTC clock ('14:05Z').
LEGACY_EVIDENCE_WITHHELD = "[evidence recorded before it was structured: withheld in a de-identified export]"


# --- ids, times and text ---------------------------------------------------------------------------

def resource_id(export_key: str, kind: str, key: Any) -> str:
    """A uuid5 over the export key and the database id: stable per key, no database id readable."""
    return str(uuid.uuid5(_NAMESPACE, f"{export_key}|{kind}|{key}"))


def full_url(resource_type: str, resource_id_: str) -> str:
    """'urn:uuid:...' for a resource: its id when that is a UUID, else a uuid5 of 'Type/id'."""
    try:
        return f"urn:uuid:{uuid.UUID(resource_id_)}"
    except ValueError:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{resource_type}/{resource_id_}')}"


def _reference(resource_type: str, resource_id_: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id_}"}


@dataclass(frozen=True)
class _Dates:
    """Real UTC times (identifiable) or times shifted so the patient's course starts at EPOCH."""

    starts: dict[int, pd.Timestamp] | None  # patient id -> start of the first exported course

    def times(self, times: pd.Series, patient_ids: pd.Series) -> list[str | None]:
        times = pd.to_datetime(times, utc=True)
        if self.starts is not None:
            start = pd.to_datetime(patient_ids.map(self.starts), utc=True)
            seconds = (days_from(times, start) * 86_400).round()  # whole seconds: 0.01 day = 864 s
            times = EPOCH + pd.to_timedelta(seconds, unit="s")
        return [None if pd.isna(t) else t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]

    def evidence(self, items: list | None, text: str | None, patient_id: int) -> str:
        """An alert's evidence in words, rendered from its structured items with every time shifted as
        the structured times are (real UTC when identifiable). Evidence stored before it was structured
        is shown as written when identifiable and withheld when not (its text holds real times)."""
        if not is_structured(items):
            return (text or "") if self.starts is None else LEGACY_EVIDENCE_WITHHELD
        if self.starts is None:
            return render(items)

        def when(at: str) -> str:
            shifted = self.times(pd.Series([pd.Timestamp(at)]), pd.Series([patient_id]))[0]
            return f"{shifted[:10]} {shifted[11:16]}Z"

        return render(items, when)


def _meta(*, identifiable: bool, synthetic: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    tags = ([] if identifiable else [DATE_SHIFT_TAG]) + ([SYNTHETIC_TAG] if synthetic else [])
    if tags:
        meta["tag"] = [dict(t) for t in tags]
    if not identifiable:
        meta["security"] = [dict(PSEUDONYMISED)]
    return meta


def _with_meta(resource: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": resource.pop("resourceType"), "id": resource.pop("id"),
            **({"meta": meta} if meta else {}), **resource}


def _number(value: Any) -> int | float:
    """A JSON number (numpy scalars are not); integers without '.0'."""
    value = float(value)
    return int(value) if value.is_integer() else value


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
        resource["identifier"] = [{
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": MRN_SYSTEM, "value": mrn}]
    resource["gender"] = _GENDER.get((sex or "").strip().casefold(), "unknown")
    return _with_meta(resource, _meta(identifiable=mrn is not None, synthetic=synthetic))


def _category(code: str) -> dict[str, Any]:
    category = "vital-signs" if code in VITAL_SIGNS or code == "weight" else "laboratory" if code in LABS else "exam"
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}


def _quantity(value: float, unit: str, label: str) -> dict[str, Any]:
    return {"value": _number(value), "unit": label or unit, "system": UCUM, "code": unit}


def observation_resource(row: Any, *, subject: str, effective: str | None, period_start: str | None,
                         export_key: str, identifiable: bool, catalogue: Catalogue) -> dict[str, Any]:
    """One Observation from a current_observations row (canonical unit)."""
    entry = catalogue[row.code] if row.code in catalogue else None
    label = entry.label if entry else row.code
    unit = row.unit if isinstance(row.unit, str) and row.unit else (entry.unit if entry else "")
    unit_label = entry.unit_label if entry and entry.unit == unit else unit
    codings = []
    if entry and entry.loinc:
        codings.append({"extension": [{"url": LOINC_EVIDENCE_URL, "valueCode": entry.loinc_status}],
                        "system": LOINC, "code": entry.loinc})
    codings.append({"system": OBSERVATION_CODES, "code": row.code, "display": label})
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": resource_id(export_key, "Observation", row.id),
        "status": "amended" if row.status == "amended" else "final",
        "category": [_category(row.code)],
        "code": {"coding": codings, "text": label},
        "subject": _reference("Patient", subject),
    }
    if period_start:  # a volume over a period (urine output, intake): observed_at is its end
        resource["effectivePeriod"] = {"start": period_start, "end": effective}
    else:
        resource["effectiveDateTime"] = effective
    if isinstance(row.value_code, str):
        resource["valueCodeableConcept"] = {
            "coding": [{"system": f"{PROJECT}/CodeSystem/{row.code}", "code": row.value_code}], "text": row.value_code}
    elif pd.isna(row.value_num):
        resource["dataAbsentReason"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]}
    elif entry and entry.kind == "grade":
        resource["valueInteger"] = int(round(row.value_num))  # the CTCAE v5.0 grade the nurse recorded
    else:
        resource["valueQuantity"] = _quantity(row.value_num, unit, unit_label)
    bounds = {name: _quantity(value, unit, unit_label) for name, value in (("low", row.ref_low), ("high", row.ref_high))
              if not pd.isna(value)}
    if bounds and "valueQuantity" in resource:
        resource["referenceRange"] = [bounds]
    return _with_meta(resource, _meta(identifiable=identifiable))


def medication_administration(row: Any, *, subject: str, effective: str, reason: str, export_key: str,
                              identifiable: bool) -> dict[str, Any]:
    """One IL-2 dose event: completed when given, not-done with the reason when held or stopped."""
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "id": resource_id(export_key, "MedicationAdministration", row.id),
        "extension": [{"url": DOSE_NUMBER_URL, "valuePositiveInt": int(row.dose_number)}],
        "status": "completed" if row.status == "given" else "not-done",
    }
    if row.status != "given":
        resource["statusReason"] = [{"coding": [{"system": f"{PROJECT}/CodeSystem/dose-status", "code": row.status}],
                                     "text": reason or row.status}]
    resource |= {"medicationCodeableConcept": dict(ALDESLEUKIN), "subject": _reference("Patient", subject),
                 "effectiveDateTime": effective}
    dosage: dict[str, Any] = {}
    if isinstance(row.route, str):
        dosage["route"] = {"text": row.route}
    if not pd.isna(row.dose):
        unit = row.dose_unit if isinstance(row.dose_unit, str) else ""
        if unit in UCUM_DOSE_UNITS:
            dosage["dose"] = {"value": _number(row.dose), "unit": unit.replace("[", "").replace("]", ""),
                              "system": UCUM, "code": unit}
        else:
            dosage["text"] = f"{_number(row.dose)} {unit}".strip()
    if dosage:
        resource["dosage"] = dosage
    return _with_meta(resource, _meta(identifiable=identifiable))


def detected_issue(row: Any, *, subject: str, identified: str, detail: str, export_key: str,
                   identifiable: bool) -> dict[str, Any]:
    """One alert: rule and level as code, evidence as detail, severity mapped to high/moderate/low."""
    resource = {
        "resourceType": "DetectedIssue", "id": resource_id(export_key, "DetectedIssue", row.id),
        "extension": [{"url": ALERT_STATUS_URL, "valueCode": row.status}],
        "status": "final",
        "code": {"coding": [{"system": f"{PROJECT}/CodeSystem/alert-rule", "code": row.rule_id}],
                 "text": f"{row.rule_id}: {row.level}"},
        "severity": ALERT_SEVERITY.get(row.severity, "low"),
        "patient": _reference("Patient", subject),
        "identifiedDateTime": identified,
        "detail": detail,
    }
    return _with_meta(resource, _meta(identifiable=identifiable))


def adverse_event(*, course_id: int, term: str, grade: int, subject: str, date: str, export_key: str,
                  identifiable: bool) -> dict[str, Any]:
    """Highest CTCAE v5.0 grade of a term in a course: severity class plus the exact grade."""
    resource = {
        "resourceType": "AdverseEvent", "id": resource_id(export_key, "AdverseEvent", f"{course_id}|{term}"),
        "extension": [{"url": CTCAE_GRADE_URL, "valueInteger": int(grade)}],
        "actuality": "actual",
        "event": {"text": term},
        "subject": _reference("Patient", subject),
        "date": date,
        "severity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adverse-event-severity",
                                 "code": AE_SEVERITY[int(grade)]}],
                     "text": f"CTCAE v5.0 grade {int(grade)}"},
    }
    return _with_meta(resource, _meta(identifiable=identifiable))


def highest_grades(graded: pd.DataFrame) -> pd.DataFrame:
    """Per (course_id, term) with a grade >= 1: the highest grade and the first time of grade >= 1."""
    graded = graded[graded["grade"].fillna(0) >= 1]
    if graded.empty:
        return pd.DataFrame(columns=["course_id", "term", "grade", "first_at"])
    return (graded.groupby(["course_id", "term"], sort=True)
            .agg(grade=("grade", "max"), first_at=("observed_at", "min")).reset_index())


# --- the export ------------------------------------------------------------------------------------

def fhir_resources(*, session: Session, export_key: str, identifiable: bool = False,
                   course_ids: Sequence[int] | None = None, ward_ids: Sequence[int] | None = None,
                   regimens: Sequence[str] | None = None,
                   period: tuple[datetime | None, datetime | None] | None = None,
                   catalogue: Catalogue | None = None) -> Iterator[dict[str, Any]]:
    """The selected courses as FHIR resources, grouped by type in RESOURCE_TYPES order (module doc).

    De-identified unless `identifiable` (callers check the role first). Reads PatientIdentity only
    when identifiable. Streams: the store is read BATCH_PATIENTS patients at a time.
    """
    pseudonym("", export_key)  # refuse an empty or short key before anything is read
    catalogue = catalogue or default_catalogue()
    courses = select_courses(session=session, course_ids=course_ids, ward_ids=ward_ids, regimens=regimens,
                             period=period)
    if courses.empty:
        return
    patient_ids = sorted(int(p) for p in courses["patient_id"].unique())
    dates = _Dates(None if identifiable else courses.groupby("patient_id")["start_at"].min().to_dict())
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
    for batch in batches:
        all_courses = _patient_courses(session=session, patient_ids=batch)
        obs = current_observations(session=session, patient_ids=batch)
        obs = obs.assign(course_id=attribute_to_course(obs, "observed_at", all_courses))
        obs = obs[obs["course_id"].isin(selected)]
        effective = dates.times(obs["observed_at"], obs["patient_id"])
        starts = dates.times(obs["period_start"], obs["patient_id"])
        for row, when, start in zip(obs.itertuples(index=False), effective, starts):
            yield observation_resource(row, subject=subject[row.patient_id], effective=when, period_start=start,
                                       catalogue=catalogue, **common)
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

    for batch in batches:
        alerts = list_alerts(session=session, patient_ids=batch)
        alerts = alerts[alerts["status"] != "retracted"]
        alerts = alerts.assign(course_id=attribute_to_course(alerts, "onset_at", _patient_courses(
            session=session, patient_ids=batch))).sort_values(["patient_id", "onset_at", "id"], kind="stable")
        alerts = alerts[alerts["course_id"].isin(selected)]
        identified = dates.times(alerts["onset_at"], alerts["patient_id"])
        for row, when in zip(alerts.itertuples(index=False), identified):
            detail = "\n".join(part for part in (
                dates.evidence(row.evidence, row.evidence_text, row.patient_id),
                f"IL-2 context: {row.context}" if row.context else "",
                f"Standard: {row.standard}" if row.standard else "") if part)
            yield detected_issue(row, subject=subject[row.patient_id], identified=when, detail=detail, **common)

    yield from adverse


def _patient_courses(*, session: Session, patient_ids: Sequence[int]) -> pd.DataFrame:
    """Every course of these patients (selected or not), to attribute rows that have no course id."""
    rows = session.execute(select(TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.start_at)
                           .where(TreatmentCourse.patient_id.in_(list(patient_ids)))).all()
    frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=["course_id", "patient_id", "start_at"])
    frame["start_at"] = pd.to_datetime(frame["start_at"], utc=True)
    return frame


def _adverse_events(obs: pd.DataFrame, courses: pd.DataFrame, *, dates: _Dates, subject: dict[int, str],
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

def _bundle_references(value: Any) -> Any:
    """A copy with every 'Type/id' reference turned into the urn:uuid fullUrl of that resource."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.count("/") == 1 and not item.startswith("urn:"):
                kind, rid = item.split("/")
                out[key] = full_url(kind, rid)
            else:
                out[key] = _bundle_references(item)
        return out
    if isinstance(value, list):
        return [_bundle_references(item) for item in value]
    return value


def to_bundle(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A Bundle of type collection; fullUrl urn:uuid:..., references rewritten to those fullUrls (a
    relative 'Patient/x' does not resolve against a urn:uuid fullUrl)."""
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": full_url(r["resourceType"], r["id"]), "resource": _bundle_references(r)}
                      for r in resources]}


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
    write a very large ndjson file, write to_ndjson(fhir_resources(...)) line by line instead."""
    if fmt not in FORMATS:
        raise ValueError(f"FHIR format '{fmt}' is not known; accepted: {', '.join(FORMATS)}.")
    resources = fhir_resources(session=session, export_key=export_key, identifiable=identifiable,
                               course_ids=course_ids, ward_ids=ward_ids, regimens=regimens, period=period)
    if fmt == "ndjson":
        return "".join(to_ndjson(resources)).encode("utf-8")
    return json.dumps(to_bundle(resources), ensure_ascii=False, allow_nan=False, indent=1).encode("utf-8")
