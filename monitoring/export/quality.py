"""Quality summaries across many courses: per course, per CTCAE term, per alert episode, per cohort.

Rules (README "Quality exports"):
* De-identified by default (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)): the patient is a pseudonym
  per export key (monitoring.export.deid), a course is that pseudonym and its number ("P-…-C1"), and every
  time is days from the course start (day 0). No database id, name, record number, birth date or
  calendar date, and the queries of the de-identified path never read PatientIdentity.
  identifiable=True (roles with export_identifiable only; the caller checks and audits) adds the
  record number, name, birth date and the calendar course start.
* Free text (hold and stop reasons, decline notes) is exported as typed only in an identifiable
  export; a de-identified one names the hold criteria stored with the dose and withholds every word
  typed (monitoring.export.deid.deid_reason). Formula injection is neutralised by the writers
  (monitoring.export.writers).
* Patient-days of a course: from the course start to the later of its last observation and its
  last dose (scheduled or given); a course with neither has none (0 in sums). Rates per 100
  patient-days divide by the sum over the courses of the group.
* Overdue observation sets (RCP 2017 Chart 4, as monitoring.clinical.observation_schedule.news2_due): each bedside set
  (not a lab import) makes the next set due at the interval of the latest complete set (all seven
  NEWS2 parameters) recorded at most 24 h before it, or after the low band's interval when there is
  none; continuous monitoring (interval 0) makes no set overdue. A set recorded after the due time
  of the set before it is overdue. The course's first set is never overdue. The IL-2 regimen's
  stricter intervals (monitoring.clinical.observation_schedule, shown on the ward) are not applied to this
  count yet: it measures adherence to NEWS2 alone (issue 15 note).
* Missing is never zero: a grade, latency or stage that could not be determined is NA.
* ICU transfer is not recorded in this system (no field in the model): the column says so.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from monitoring.clinical.alert_levels import level_rank
from monitoring.clinical.catalogue import ORGAN_SYSTEMS, default_catalogue
from monitoring.clinical.code_lists import SCORE_CODES
from monitoring.clinical.derived import course_weight_baselines, weight_gain_percent
from monitoring.clinical.rules import aki, febrile_neutropenia, sepsis
from monitoring.clinical.scores import news2_response
from monitoring.clinical.sets import scored_sets
from monitoring.clinical.toxicity import graded_observations
from monitoring.clinical.vocabulary import DECLINE_CHOICES
from monitoring.export.deid import days_from, deid_reason, pseudonyms, withheld
from monitoring.export.periods import BASES
from monitoring.services.alert_actions import acknowledgement_latency
from monitoring.store.db import time_as_stored
from monitoring.store.models import (
    Alert,
    AlertAction,
    DoseEvent,
    Observation,
    Patient,
    PatientIdentity,
    TreatmentCourse,
    Ward,
)

FN_RULE, SEPSIS_RULE, AKI_RULE, EXPECTED_RULE = (febrile_neutropenia.RULE.id, sepsis.RULE.id, aki.RULE.id,
                                                 sepsis.EXPECTED.id)
EPISODE_RULES = (FN_RULE, SEPSIS_RULE)
ICU_NOT_RECORDED = "not recorded"
ALL_REGIMENS = "all"
# A complete set older than this before a set no longer sets the interval (the ward overview's window).
COMPLETE_SET_WINDOW = pd.Timedelta(hours=24)
GRADE_PREFIX = "grade_"
# Observation codes the tables use: NEWS2 inputs (sets), graded values (CTCAE), weight and kidney values.
# Fluid intake, MAP, diastolic pressure and oxygen flow are none of these (no CTCAE grade, not in
# NEWS2): left unread, a quarter fewer rows.
UNUSED_CODES = ("fluid_intake", "map", "dbp", "o2_flow")


def observation_codes() -> list[str]:
    return [code for code in default_catalogue().codes() if code not in UNUSED_CODES]


def system_column(system: str) -> str:
    """'renal and fluid' -> 'grade_renal_and_fluid'."""
    return GRADE_PREFIX + system.replace(" ", "_")


GRADE_COLUMNS = [system_column(s) for s in ORGAN_SYSTEMS]

# Column -> (unit, meaning): the CSV data dictionary and the Excel headers. Every exported column is here.
COLUMN_DOCS: dict[str, tuple[str, str]] = {
    "course_ref": ("", "Course reference: the patient's pseudonym and the course's number among the patient's "
                       "courses (C1 = first)"),
    "pseudonym": ("", "Stable patient pseudonym for this export key (HMAC-SHA256; not reversible without the key)"),
    "ward_code": ("", "Code of the patient's ward"),
    "regimen": ("", "IL-2 regimen code (monitoring.clinical.vocabulary.REGIMENS); 'all' in cohort tables = "
                    "every regimen"),
    "cycle": ("count", "Treatment cycle number (1 = first)"),
    "course_status": ("", "Course status: planned, active, completed or stopped"),
    "is_synthetic": ("true/false", "Synthetic demo or benchmark patient"),
    "first_dose_day": ("days", "First given IL-2 dose, days from course start (day 0); NA when none given"),
    "patient_days": ("days", "Course start to the later of its last observation and last dose; NA when neither"),
    "doses_planned": ("count", "IL-2 doses planned for the course; NA when not recorded"),
    "doses_given": ("count", "IL-2 doses given"),
    "doses_held": ("count", "IL-2 doses held"),
    "doses_stopped": ("count", "IL-2 doses recorded as stopped (course stopped at that dose)"),
    "hold_reasons": ("text", "Reason for each held dose, 'dose N: reason', separated by ' | ': in a de-identified "
                             "export the hold criteria chosen (by name, from the criteria table) and a mark where "
                             "staff typed words, which are withheld; as typed in an identifiable one"),
    "stop_reasons": ("text", "Reason for each stopped dose, as hold_reasons"),
    **{system_column(s): ("CTCAE v5.0 grade 0-4", f"Highest CTCAE grade in the {s} organ system during the course; "
                                                   "NA when nothing gradable was recorded")
       for s in ORGAN_SYSTEMS},
    "peak_weight_gain_pct": ("%", "Highest weight relative to the baseline weight (course baseline, else the first "
                                  "weight of the course), minus 100; NA without weights"),
    "aki_highest_stage": ("KDIGO stage 0-3", "Highest KDIGO AKI stage of the course's aki alerts; 0 with creatinine or "
                                             "urine output recorded and no AKI alert; NA with neither"),
    "fn_episodes": ("count", "Febrile neutropenia alerts (rule febrile-neutropenia; retracted ones left out)"),
    "sepsis_screen_episodes": ("count", "Sepsis-screen alerts (rule sepsis-screen; retracted ones left out)"),
    "expected_effect_alerts": ("count", "Expected post-dose IL-2 effects (rule il2-expected-effect), counted apart "
                                        "from sepsis alerts"),
    "observation_sets": ("count", "Bedside observation sets (values recorded together; lab imports excluded)"),
    "overdue_sets": ("count", "Sets recorded after the time the previous sets made them due (RCP 2017 Chart 4; "
                              "see README)"),
    "icu_transfer": ("", "ICU transfer: 'not recorded' (this system has no field for it)"),
    "patient_id": ("", "IDENTIFIABLE: database id of the patient"),
    "mrn": ("", "IDENTIFIABLE: medical record number"),
    "family_name": ("", "IDENTIFIABLE: family name"),
    "given_name": ("", "IDENTIFIABLE: given name"),
    "birth_date": ("date", "IDENTIFIABLE: date of birth"),
    "course_start_utc": ("ISO 8601 UTC", "IDENTIFIABLE: calendar time of the course start"),
    "onset_utc": ("ISO 8601 UTC", "IDENTIFIABLE: calendar time of the alert onset"),
    "organ_system": ("", "Organ system of the catalogue"),
    "ctcae_term": ("", "CTCAE v5.0 term"),
    "highest_grade": ("CTCAE v5.0 grade 0-4", "Highest grade of the term during the course"),
    "onset_days_from_first_dose": ("days", "First observation reaching the highest grade, days from the first given "
                                           "dose (negative = before it); NA for grade 0 or without a given dose"),
    "onset_day": ("days", "Onset, days from course start (day 0)"),
    "rule_id": ("", "Alert rule id (README 'Alert rules')"),
    "level": ("", "Alert level within the rule"),
    "severity": ("", "Alert severity"),
    "status": ("", "Alert status when exported"),
    "first_response": ("", "First response to the alert: acknowledge, decline or escalate; NA when none"),
    "minutes_to_first_response": ("min", "First seen to first response; NA when unanswered (never 0)"),
    "minutes_from_onset_to_first_response": ("min", "Onset of the finding in the data to first response (longer "
                                                    "than from first seen when the data came late); NA when "
                                                    "unanswered"),
    "declined_day": ("days", "When the alert was declined, days from course start"),
    "decline_reason_code": ("", "The reason for declining chosen in the inbox (monitoring.clinical.vocabulary."
                                "DECLINE_CHOICES); NA for declines recorded before the list (migration 0019)"),
    "decline_reason_chosen": ("text", "The wording of decline_reason_code; kept in a de-identified export (chosen "
                                      "from a list, not typed)"),
    "hold_criteria": ("ids", "Hold criteria chosen for each held dose, 'dose N: id; id', separated by ' | ' "
                             "(monitoring/clinical/rules/hold_criteria.py); kept in a de-identified export"),
    "stop_criteria": ("ids", "Criteria chosen for each stopped dose, as hold_criteria"),
    "decline_reason": ("text", "Reason given for declining the alert: withheld in a de-identified export (free "
                               "text may name people), as typed in an identifiable one"),
    "measure": ("", "What is counted (see the README's quality exports section)"),
    "count": ("count", "Number of events or courses for the measure"),
    "courses": ("count", "Courses in the group"),
    "patients": ("count", "Distinct patients in the group"),
    "patient_days_total": ("days", "Sum of the courses' patient-days"),
    "per_course": ("per course", "count / courses"),
    "per_100_patient_days": ("per 100 patient-days", "count / patient_days_total x 100; NA with no patient-days"),
    "grade": ("CTCAE v5.0 grade 0-4", "Highest grade in the organ system; 'not graded' when nothing was gradable"),
    "percent_of_courses": ("%", "courses / courses of the regimen x 100"),
    "n": ("count", "Courses with a value"),
    "mean": ("unit of the measure", "Mean"),
    "min": ("unit of the measure", "Minimum"),
    "p25": ("unit of the measure", "25th percentile"),
    "median": ("unit of the measure", "Median"),
    "p75": ("unit of the measure", "75th percentile"),
    "max": ("unit of the measure", "Maximum"),
    "unit": ("", "Unit of the value"),
    "counted": ("", "What the measure counts under the report's period and basis: courses, or events dated in the "
                    "period, or every event of the courses (monitoring.export.periods)"),
    "value": ("see unit", "Value of the measure"),
    "alerts": ("count", "Alerts (retracted ones left out)"),
    "alerts_per_patient_day": ("per patient-day", "alerts / patient_days_total"),
    "responded": ("count", "Alerts with a first response"),
    "latency_median_min": ("min", "Median minutes from first seen to first response (answered alerts)"),
    "latency_p90_min": ("min", "90th percentile of minutes from first seen to first response (answered alerts)"),
    "declined": ("count", "Alerts whose first response was a decline"),
}


@dataclass(frozen=True)
class QualityFilter:
    """The period [start, end) (time zone-aware; None = open) on its `basis` (monitoring.export.periods.BASES):
    "events" selects the courses with an event in the period (or starting in it) and counts only the events
    inside it; "course-start" selects the courses that started in it and counts all their events. On these
    wards, with these regimens (None = all)."""

    start: datetime | None = None
    end: datetime | None = None
    ward_ids: Sequence[int] | None = None
    regimens: Sequence[str] | None = None
    basis: str = "events"
    period_label: str | None = None     # 'November 2026', shown on the report and in the audit row

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"basis '{self.basis}' is not known; accepted: {', '.join(BASES)}")

    def clips_events(self) -> bool:
        return self.basis == "events" and (self.start is not None or self.end is not None)

    def describe(self) -> dict:
        """The filter as JSON-friendly data, for the audit trail."""
        return {"start": None if self.start is None else self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(), "basis": self.basis,
                "period": self.period_label,
                "ward_ids": None if self.ward_ids is None else sorted(int(w) for w in self.ward_ids),
                "regimens": None if self.regimens is None else sorted(self.regimens)}


@dataclass
class CohortData:
    """Everything the tables are built from, read once (course_id is the join key; never exported)."""

    courses: pd.DataFrame
    doses: pd.DataFrame
    observations: pd.DataFrame
    alerts: pd.DataFrame
    declines: pd.DataFrame
    identities: pd.DataFrame | None = None
    derived: dict = field(default_factory=dict)
    # Patient-days count from here (the period's start when the filter clips events to it; else the course start).
    days_from_period: datetime | None = None
    basis: str = "events"
    period_bounded: bool = False        # the filter has a period (else every event of the courses counts)


# --- reading --------------------------------------------------------------------------------------

def _records(session: Session, query, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records([tuple(r) for r in session.execute(query).all()], columns=columns)


def _fast_records(session: Session, query, columns: list[str], numeric: Sequence[str] = ()) -> pd.DataFrame:
    """A large query through the driver's cursor, built column by column (observations: ~1 M rows).

    The query's only parameters are integers, catalogue codes and the period's bounds (rendered in UTC by the
    column type), rendered as literals.
    """
    connection = session.connection()
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    values = list(zip(*rows)) if rows else [()] * len(columns)
    return pd.DataFrame({name: (np.array(column, dtype=float) if name in numeric and len(column)
                                else np.array(column, dtype=object))
                         for name, column in zip(columns, values)}, columns=columns)


def _chunks(ids: list[int], size: int = 5000):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def load_cohort(*, session: Session, filters: QualityFilter, identifiable: bool = False) -> CohortData:
    """Read the selected courses and their doses, observations, alerts and declines (a few queries).

    PatientIdentity is read only when identifiable is True.
    """
    course_columns = ["course_id", "patient_id", "ward_id", "ward_code", "regimen", "cycle", "planned_doses",
                      "start_at", "course_status", "baseline_weight_kg", "baseline_creatinine_mg_dl", "is_synthetic",
                      "pseudo_id"]
    courses = _records(session, select(
        TreatmentCourse.id, TreatmentCourse.patient_id, Patient.ward_id, Ward.code, TreatmentCourse.regimen,
        TreatmentCourse.cycle, TreatmentCourse.planned_doses, TreatmentCourse.start_at, TreatmentCourse.status,
        TreatmentCourse.baseline_weight_kg, TreatmentCourse.baseline_creatinine_mg_dl, Patient.is_synthetic,
        Patient.pseudo_id)
        .join(Patient, Patient.id == TreatmentCourse.patient_id).outerjoin(Ward, Ward.id == Patient.ward_id)
        .order_by(TreatmentCourse.patient_id, TreatmentCourse.start_at, TreatmentCourse.id), course_columns)
    courses["start_at"] = pd.to_datetime(courses["start_at"], utc=True)
    # The course's number among all the patient's courses, before filtering: stable across exports.
    courses["course_number"] = courses.groupby("patient_id").cumcount() + 1
    keep = pd.Series(True, index=courses.index)
    # Either basis: a course that starts after the period has no event in it.
    if filters.end is not None:
        keep &= courses["start_at"] < pd.Timestamp(filters.end)
    if filters.start is not None and filters.basis == "course-start":
        keep &= courses["start_at"] >= pd.Timestamp(filters.start)
    if filters.ward_ids is not None:
        keep &= courses["ward_id"].isin(list(filters.ward_ids))
    if filters.regimens is not None:
        keep &= courses["regimen"].isin(list(filters.regimens))
    all_courses = courses
    courses = courses[keep].reset_index(drop=True)
    patient_ids = sorted(int(p) for p in courses["patient_id"].unique())
    everyone = len(patient_ids) == all_courses["patient_id"].nunique()

    def for_patients(query, column):
        # No IN list when every patient is selected (the usual cohort export): one plain scan.
        if everyone:
            return [query]
        return [query.where(column.in_(chunk)) for chunk in _chunks(patient_ids)]

    newer_dose = aliased(DoseEvent)
    dose_columns = ["course_id", "dose_number", "scheduled_at", "status", "given_at", "reason", "reason_criteria",
                    "reason_note", "check_decision", "decision_id", "override_by"]
    dose_query = (select(DoseEvent.course_id, DoseEvent.dose_number, DoseEvent.scheduled_at, DoseEvent.status,
                         DoseEvent.given_at, DoseEvent.reason, DoseEvent.reason_criteria, DoseEvent.reason_note,
                         DoseEvent.check_decision, DoseEvent.decision_id, DoseEvent.override_by)
                  .where(~exists().where(newer_dose.supersedes_id == DoseEvent.id))
                  .where(DoseEvent.record_status != "entered-in-error"))
    doses = pd.concat([_records(session, q, dose_columns) for q in for_patients(dose_query, DoseEvent.patient_id)]
                      or [pd.DataFrame(columns=dose_columns)], ignore_index=True)
    for column in ("scheduled_at", "given_at"):
        doses[column] = pd.to_datetime(doses[column], utc=True)

    newer = aliased(Observation)
    obs_columns = ["patient_id", "course_id", "code", "value_num", "value_code", "ref_low", "ref_high",
                   "observed_at", "period_start", "lab_import"]
    obs_query = (select(Observation.patient_id, Observation.course_id, Observation.code, Observation.value_num,
                        Observation.value_code, Observation.ref_low, Observation.ref_high,
                        time_as_stored(session, Observation.observed_at),
                        time_as_stored(session, Observation.period_start),
                        case((Observation.source == "lab-import", 1), else_=0))
                 .where(~exists().where(newer.supersedes_id == Observation.id))
                 .where(Observation.status != "entered-in-error")
                 .where(Observation.code.in_(observation_codes())))
    if filters.clips_events():
        # Only the period's observations count on this basis, and only they are read (_in_period clips the
        # other events): a month's report reads a month, however long the store's history (issue 21).
        if filters.start is not None:
            obs_query = obs_query.where(Observation.observed_at >= filters.start)
        if filters.end is not None:
            obs_query = obs_query.where(Observation.observed_at < filters.end)
    obs = pd.concat([_fast_records(session, q, obs_columns, numeric=("patient_id", "course_id", "value_num",
                                                                      "ref_low", "ref_high", "lab_import"))
                     for q in for_patients(obs_query, Observation.patient_id)]
                    or [pd.DataFrame(columns=obs_columns)], ignore_index=True)
    obs["observed_at"] = pd.to_datetime(obs["observed_at"], utc=True, format="ISO8601")
    obs["period_start"] = pd.to_datetime(obs["period_start"], utc=True, format="ISO8601")
    obs["course_id"] = _course_of(obs["patient_id"], obs["course_id"], obs["observed_at"], all_courses)

    alert_columns = ["alert_id", "patient_id", "course_id", "rule_id", "onset_at", "level", "severity", "status",
                     "first_seen_at"]
    alert_query = (select(Alert.id, Alert.patient_id, Alert.course_id, Alert.rule_id, Alert.onset_at, Alert.level,
                          Alert.severity, Alert.status, Alert.first_seen_at).where(Alert.status != "retracted"))
    alerts = pd.concat([_records(session, q, alert_columns) for q in for_patients(alert_query, Alert.patient_id)]
                       or [pd.DataFrame(columns=alert_columns)], ignore_index=True)
    for column in ("onset_at", "first_seen_at"):
        alerts[column] = pd.to_datetime(alerts[column], utc=True)
    alerts["course_id"] = _course_of(alerts["patient_id"], alerts["course_id"], alerts["onset_at"], all_courses)
    latency = acknowledgement_latency(session=session, patient_ids=None if everyone else patient_ids)
    alerts = alerts.merge(latency[["alert_id", "first_response", "first_response_at", "latency_minutes"]],
                          on="alert_id", how="left")

    decline_query = (select(AlertAction.alert_id, AlertAction.at, AlertAction.note, AlertAction.reason_code)
                     .join(Alert, Alert.id == AlertAction.alert_id).where(AlertAction.action == "decline")
                     .order_by(AlertAction.id))
    decline_columns = ["alert_id", "declined_at", "decline_reason", "decline_reason_code"]
    declines = pd.concat([_records(session, q, decline_columns) for q in for_patients(decline_query, Alert.patient_id)]
                         or [pd.DataFrame(columns=decline_columns)], ignore_index=True)
    declines["declined_at"] = pd.to_datetime(declines["declined_at"], utc=True)

    if filters.clips_events():
        courses, doses, obs, alerts = _in_period(filters, courses, doses, obs, alerts)
    selected = set(courses["course_id"])
    data = CohortData(courses=courses, doses=doses[doses["course_id"].isin(selected)].reset_index(drop=True),
                      observations=obs[obs["course_id"].isin(selected)].reset_index(drop=True),
                      alerts=alerts[alerts["course_id"].isin(selected)].reset_index(drop=True),
                      declines=declines, days_from_period=filters.start if filters.clips_events() else None,
                      basis=filters.basis, period_bounded=filters.start is not None or filters.end is not None)
    if identifiable:
        identity_query = select(PatientIdentity.patient_id, PatientIdentity.mrn, PatientIdentity.family_name,
                                PatientIdentity.given_name, PatientIdentity.birth_date)
        data.identities = pd.concat(
            [_records(session, identity_query.where(PatientIdentity.patient_id.in_(chunk)),
                      ["patient_id", "mrn", "family_name", "given_name", "birth_date"])
             for chunk in _chunks(patient_ids)]
            or [pd.DataFrame(columns=["patient_id", "mrn", "family_name", "given_name", "birth_date"])],
            ignore_index=True)
    return data


def selected_course_ids(*, session: Session, filters: QualityFilter) -> list[int]:
    """The ids of the courses `filters` selects, without reading their records (the FHIR export, which
    exports each selected course whole, and its small-cell count). Basis "events": the courses that
    started in the period or have a dose (given, else scheduled), an alert (onset) or an observation of
    their patient from the course start on, dated in the period."""
    query = select(TreatmentCourse.id).join(Patient, Patient.id == TreatmentCourse.patient_id)
    if filters.ward_ids is not None:
        query = query.where(Patient.ward_id.in_(list(filters.ward_ids)))
    if filters.regimens is not None:
        query = query.where(TreatmentCourse.regimen.in_(list(filters.regimens)))
    if filters.end is not None:
        query = query.where(TreatmentCourse.start_at < filters.end)
    if filters.start is not None and not filters.clips_events():
        query = query.where(TreatmentCourse.start_at >= filters.start)
    if filters.clips_events():
        def dated(column):
            bounds = [column >= filters.start] if filters.start is not None else []
            return bounds + ([column < filters.end] if filters.end is not None else [])

        dose_at = func.coalesce(DoseEvent.given_at, DoseEvent.scheduled_at)
        query = query.where(or_(
            *([TreatmentCourse.start_at >= filters.start] if filters.start is not None else []),
            exists().where(DoseEvent.course_id == TreatmentCourse.id, *dated(dose_at)),
            exists().where(Alert.course_id == TreatmentCourse.id, Alert.status != "retracted", *dated(Alert.onset_at)),
            exists().where(Observation.patient_id == TreatmentCourse.patient_id,
                           Observation.observed_at >= TreatmentCourse.start_at, *dated(Observation.observed_at))))
    return [int(i) for i in session.scalars(query.order_by(TreatmentCourse.id)).all()]


def _in_period(filters: QualityFilter, courses: pd.DataFrame, doses: pd.DataFrame, obs: pd.DataFrame,
               alerts: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """Basis "events": the doses (given, else scheduled time) and alerts (onset) inside the period (the
    observations were read for the period only), and the courses that started in it or have one of those
    events."""
    def inside(times: pd.Series) -> pd.Series:
        mask = times.notna()
        if filters.start is not None:
            mask &= times >= pd.Timestamp(filters.start)
        if filters.end is not None:
            mask &= times < pd.Timestamp(filters.end)
        return mask

    doses = doses[inside(doses["given_at"].fillna(doses["scheduled_at"]))]
    # The observations were read for the period only (load_cohort's query, the same bounds): not filtered twice.
    alerts = alerts[inside(alerts["onset_at"])]
    active = set(doses["course_id"]) | set(obs["course_id"].dropna().astype(int)) | set(
        alerts["course_id"].dropna().astype(int))
    courses = courses[inside(courses["start_at"]) | courses["course_id"].isin(active)].reset_index(drop=True)
    return courses, doses, obs, alerts


def _course_of(patient_ids: pd.Series, course_ids: pd.Series, times: pd.Series, courses: pd.DataFrame) -> pd.Series:
    """The stored course id, else the patient's latest course started at or before the time (else the first)."""
    out = pd.to_numeric(course_ids).astype("Float64")
    missing = out.isna().to_numpy()
    if missing.any() and not courses.empty:
        rows = pd.DataFrame({"row": np.flatnonzero(missing), "patient_id": patient_ids[missing].astype("int64"),
                             "time": times[missing]}).sort_values("time")
        starts = (courses[["patient_id", "start_at", "course_id"]].astype({"patient_id": "int64"})
                  .sort_values("start_at"))
        found = pd.merge_asof(rows, starts, left_on="time", right_on="start_at", by="patient_id",
                              direction="backward")
        first = starts.drop_duplicates("patient_id").set_index("patient_id")["course_id"]
        found["course_id"] = found["course_id"].fillna(found["patient_id"].map(first))
        values = out.to_numpy(dtype=float, na_value=np.nan)
        values[found["row"].to_numpy()] = found["course_id"].to_numpy(dtype=float)
        out = pd.Series(values, index=course_ids.index)
    return pd.Series(out.to_numpy(dtype=float, na_value=np.nan), index=course_ids.index)


# --- derived per-course figures (computed once per CohortData) -----------------------------------

def _weight_baselines(data: CohortData) -> pd.Series:
    """Each course's weight-gain baseline (kg, NaN when none) as the rules take it (monitoring.clinical.derived)."""
    if "weight_baselines" not in data.derived:
        obs = data.observations
        found = course_weight_baselines(data.courses, obs[obs["code"] == "weight"])
        data.derived["weight_baselines"] = found.set_index("course_id")["baseline_kg"].astype(float)
    return data.derived["weight_baselines"]


def _graded(data: CohortData) -> pd.DataFrame:
    """Graded observations, keyed by course (the baseline creatinine is the course's)."""
    if "graded" not in data.derived:
        obs = data.observations
        courses = data.courses.set_index("course_id")
        baseline = courses["baseline_creatinine_mg_dl"].dropna().astype(float).to_dict()
        weight = _weight_baselines(data).dropna().to_dict()
        frame = obs.drop(columns="patient_id").rename(columns={"course_id": "patient_id"})
        graded = graded_observations(frame, baseline_creatinine=baseline, baseline_weight=weight)
        data.derived["graded"] = graded.rename(columns={"patient_id": "course_id"})
    return data.derived["graded"]


def _sets(data: CohortData) -> pd.DataFrame:
    """One row per bedside set (course, time) with its NEWS2 monitoring interval and whether it was overdue."""
    if "sets" in data.derived:
        return data.derived["sets"]
    obs = data.observations
    bedside = obs[(obs["lab_import"] == 0) & obs["code"].isin(SCORE_CODES)]
    columns = ["course_id", "time", "overdue"]
    if bedside.empty:
        data.derived["sets"] = pd.DataFrame(columns=columns)
        return data.derived["sets"]
    scored = scored_sets(bedside, "course_id")
    scored = scored.sort_values(["course_id", "time"], kind="stable").reset_index(drop=True)
    bands = scored["news2_band"].astype(object)
    pairs = {(b, int(n)) for b, n in zip(bands, scored["news2"]) if not pd.isna(b)}
    interval = {pair: news2_response(pair[0], pair[1])[1] for pair in pairs}
    hours = pd.Series([interval[(b, int(n))] if not pd.isna(b) else np.nan for b, n in zip(bands, scored["news2"])],
                      dtype=float)
    complete = scored["news2"].notna()
    by_course = scored["course_id"]
    # The latest complete set at or before each set, and its interval (forward-filled within the course).
    scored_at = scored["time"].where(complete).groupby(by_course).ffill()
    scored_hours = hours.where(complete).groupby(by_course).ffill()
    low_hours = news2_response("low")[1]
    recent = scored_at.notna() & (scored["time"] - scored_at <= COMPLETE_SET_WINDOW)
    due = (scored_at + pd.to_timedelta(scored_hours, unit="h")).where(
        recent, scored["time"] + pd.Timedelta(hours=low_hours))
    due = due.where(~(recent & (scored_hours == 0)))  # continuous monitoring: never overdue
    previous_due = due.groupby(by_course).shift(1)
    scored["overdue"] = (scored["time"] > previous_due).fillna(False).astype(bool)
    data.derived["sets"] = scored[columns]
    return data.derived["sets"]


def _counts(frame: pd.DataFrame, key: str, index: pd.Index) -> pd.Series:
    if frame.empty:
        return pd.Series(0, index=index, dtype="int64")
    return frame.groupby(key).size().reindex(index, fill_value=0).astype("int64")


def _per_course(data: CohortData) -> pd.DataFrame:
    """Course figures indexed by course_id (internal; course_table presents them)."""
    if "per_course" in data.derived:
        return data.derived["per_course"]
    courses = data.courses.set_index("course_id")
    index = courses.index
    out = pd.DataFrame(index=index)
    doses, obs, alerts = data.doses, data.observations, data.alerts
    given = doses[doses["status"] == "given"]
    first_dose = given.groupby("course_id")["given_at"].min().reindex(index)
    out["first_dose_at"] = first_dose
    dose_times = doses["given_at"].fillna(doses["scheduled_at"])
    last = pd.concat([obs.groupby("course_id")["observed_at"].max(),
                      dose_times.groupby(doses["course_id"]).max()], axis=1).max(axis=1).reindex(index)
    # Within a period (basis "events"), from the later of the course start and the period's start.
    origin = courses["start_at"] if data.days_from_period is None else courses["start_at"].clip(
        lower=pd.Timestamp(data.days_from_period))
    out["patient_days"] = days_from(last, origin).clip(lower=0)
    out["doses_planned"] = courses["planned_doses"].astype("Int64")
    for status in ("given", "held", "stopped"):
        out[f"doses_{status}"] = _counts(doses[doses["status"] == status], "course_id", index)
    # Doses given although the pre-dose check did not say GIVE (issue 15): on the oncologist's decision
    # to give that dose, or on an override naming the authoriser (monitoring.views.dose_gate).
    out["doses_given_on_decision"] = _counts(given[given["decision_id"].notna()], "course_id", index)
    out["doses_given_by_override"] = _counts(given[given["override_by"].notna()], "course_id", index)
    for status, column in (("held", "hold_reasons"), ("stopped", "stop_reasons")):
        part = doses[doses["status"] == status].sort_values(["course_id", "dose_number"])
        reasons = (part["reason"] if data.identities is not None else
                   pd.Series([deid_reason(c, n, r) for c, n, r in zip(part["reason_criteria"], part["reason_note"],
                                                                      part["reason"])], index=part.index, dtype=object))
        text = "dose " + part["dose_number"].astype(str) + ": " + reasons.fillna("").astype(str)
        out[column] = text.groupby(part["course_id"]).agg(" | ".join).reindex(index)
        # The criteria by their ids (issue 20 item 3): structured, so they survive de-identification whole.
        listed = part["reason_criteria"].map(lambda c: bool(c) if isinstance(c, list) else False).astype(bool)
        chosen = part.loc[listed]
        ids = "dose " + chosen["dose_number"].astype(str) + ": " + chosen["reason_criteria"].map("; ".join)
        out[column.replace("_reasons", "_criteria")] = ids.groupby(chosen["course_id"]).agg(" | ".join).reindex(index)
    graded = _graded(data)
    if graded.empty:
        systems = pd.DataFrame(index=index)
    else:
        systems = graded.groupby(["course_id", "organ_system"])["grade"].max().astype("int64").unstack("organ_system")
    for system in ORGAN_SYSTEMS:
        column = systems[system] if system in systems else pd.Series(dtype=float)
        out[system_column(system)] = pd.array(column.reindex(index).to_numpy(dtype=float, na_value=np.nan),
                                              dtype="Float64").astype("Int64")
    weights = obs[(obs["code"] == "weight") & obs["value_num"].notna()].sort_values("observed_at")
    baseline = _weight_baselines(data).reindex(index)
    peak = weights.groupby("course_id")["value_num"].max().reindex(index)
    out["peak_weight_gain_pct"] = pd.Series(weight_gain_percent(peak.to_numpy(float), baseline.to_numpy(float)),
                                            index=index).round(1)
    aki_alerts = alerts[alerts["rule_id"] == AKI_RULE]
    stages = aki_alerts["level"].map(lambda level: level_rank(AKI_RULE, level)).groupby(aki_alerts["course_id"]).max()
    kidney = obs[obs["code"].isin(["creatinine", "urine_output"]) & obs["value_num"].notna()]["course_id"].unique()
    stage = stages.reindex(index)
    stage = stage.where(stage.notna() | ~index.isin(kidney), 0)
    out["aki_highest_stage"] = pd.array(stage.to_numpy(dtype=float, na_value=np.nan), dtype="Float64").astype("Int64")
    out["fn_episodes"] = _counts(alerts[alerts["rule_id"] == FN_RULE], "course_id", index)
    out["sepsis_screen_episodes"] = _counts(alerts[alerts["rule_id"] == SEPSIS_RULE], "course_id", index)
    out["expected_effect_alerts"] = _counts(alerts[alerts["rule_id"] == EXPECTED_RULE], "course_id", index)
    sets = _sets(data)
    out["observation_sets"] = _counts(sets, "course_id", index)
    out["overdue_sets"] = _counts(sets[sets["overdue"]], "course_id", index)
    data.derived["per_course"] = out
    return out


def _identity_columns(data: CohortData, export_key: str) -> pd.DataFrame:
    """course_ref and pseudonym per course_id (and the identifiers when they were read)."""
    courses = data.courses.set_index("course_id")
    names = pseudonyms(courses["pseudo_id"], export_key).astype(object)
    out = pd.DataFrame({"course_ref": names + "-C" + courses["course_number"].astype(str), "pseudonym": names},
                       index=courses.index)
    if data.identities is not None:
        ids = data.identities.set_index("patient_id")
        out["patient_id"] = courses["patient_id"].astype("int64")
        for column in ("mrn", "family_name", "given_name"):
            out[column] = courses["patient_id"].map(ids[column])
        out["birth_date"] = courses["patient_id"].map(ids["birth_date"]).map(
            lambda d: None if d is None or pd.isna(d) else str(d))
        out["course_start_utc"] = courses["start_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


# --- the tables -----------------------------------------------------------------------------------

COURSE_COLUMNS = (["course_ref", "pseudonym", "ward_code", "regimen", "cycle", "course_status", "is_synthetic",
                   "first_dose_day", "patient_days", "doses_planned", "doses_given", "doses_held", "doses_stopped",
                   "hold_reasons", "hold_criteria", "stop_reasons", "stop_criteria"] + GRADE_COLUMNS
                  + ["peak_weight_gain_pct", "aki_highest_stage", "fn_episodes", "sepsis_screen_episodes",
                     "expected_effect_alerts", "observation_sets", "overdue_sets", "icu_transfer"])
IDENTIFIABLE_COLUMNS = ["patient_id", "mrn", "family_name", "given_name", "birth_date", "course_start_utc"]
TERM_COLUMNS = ["course_ref", "pseudonym", "regimen", "organ_system", "ctcae_term", "highest_grade", "onset_day",
                "onset_days_from_first_dose"]
EPISODE_COLUMNS = ["course_ref", "pseudonym", "regimen", "rule_id", "onset_day", "level", "severity", "status",
                   "first_response", "minutes_to_first_response", "minutes_from_onset_to_first_response"]
DECLINE_COLUMNS = ["course_ref", "pseudonym", "regimen", "rule_id", "level", "onset_day", "declined_day",
                   "decline_reason_code", "decline_reason_chosen", "decline_reason"]


def _courses_table(data: CohortData, export_key: str) -> pd.DataFrame:
    courses = data.courses.set_index("course_id")
    figures = _per_course(data)
    ids = _identity_columns(data, export_key)
    out = ids.join(figures)
    out["ward_code"] = courses["ward_code"]
    out["regimen"] = courses["regimen"]
    out["cycle"] = courses["cycle"].astype("int64")
    out["course_status"] = courses["course_status"]
    out["is_synthetic"] = courses["is_synthetic"].astype(bool)
    out["first_dose_day"] = days_from(figures["first_dose_at"], courses["start_at"])
    out["icu_transfer"] = ICU_NOT_RECORDED
    columns = COURSE_COLUMNS + ([c for c in IDENTIFIABLE_COLUMNS if c in out] if data.identities is not None else [])
    return out.sort_values(["regimen", "course_ref"])[columns].reset_index(drop=True)


def _terms_table(data: CohortData, export_key: str) -> pd.DataFrame:
    graded = _graded(data)
    graded = graded[graded["term"].astype(str) != ""]
    if graded.empty:
        return pd.DataFrame(columns=TERM_COLUMNS)
    courses = data.courses.set_index("course_id")
    graded = graded.assign(grade_int=graded["grade"].astype("int64"))
    top = (graded.sort_values(["course_id", "organ_system", "term", "grade_int", "observed_at"],
                              ascending=[True, True, True, False, True], kind="stable")
           .drop_duplicates(["course_id", "organ_system", "term"]))
    ids = _identity_columns(data, export_key)
    first_dose = _per_course(data)["first_dose_at"]
    course = top["course_id"]
    onset_day = days_from(top["observed_at"].reset_index(drop=True),
                          course.map(courses["start_at"]).reset_index(drop=True))
    from_dose = days_from(top["observed_at"].reset_index(drop=True), course.map(first_dose).reset_index(drop=True))
    grade0 = (top["grade_int"] == 0).to_numpy()
    out = pd.DataFrame({"course_ref": course.map(ids["course_ref"]).to_numpy(),
                        "pseudonym": course.map(ids["pseudonym"]).to_numpy(),
                        "regimen": course.map(courses["regimen"]).to_numpy(),
                        "organ_system": top["organ_system"].to_numpy(),
                        "ctcae_term": top["term"].astype(str).to_numpy(),
                        "highest_grade": top["grade_int"].to_numpy(),
                        "onset_day": onset_day.where(~grade0).to_numpy(),
                        "onset_days_from_first_dose": from_dose.where(~grade0).to_numpy()})
    return out.sort_values(["regimen", "course_ref", "organ_system", "ctcae_term"]).reset_index(drop=True)


def _alert_frame(data: CohortData, export_key: str, alerts: pd.DataFrame) -> pd.DataFrame:
    courses = data.courses.set_index("course_id")
    ids = _identity_columns(data, export_key)
    course = alerts["course_id"]
    return pd.DataFrame({"course_ref": course.map(ids["course_ref"]).to_numpy(),
                         "pseudonym": course.map(ids["pseudonym"]).to_numpy(),
                         "regimen": course.map(courses["regimen"]).to_numpy(),
                         "rule_id": alerts["rule_id"].to_numpy(),
                         "onset_day": days_from(alerts["onset_at"].reset_index(drop=True),
                                                course.map(courses["start_at"]).reset_index(drop=True)).to_numpy(),
                         "level": alerts["level"].to_numpy(), "severity": alerts["severity"].to_numpy(),
                         "status": alerts["status"].to_numpy()})


def _episodes_table(data: CohortData, export_key: str) -> pd.DataFrame:
    alerts = data.alerts[data.alerts["rule_id"].isin(EPISODE_RULES)]
    if alerts.empty:
        return pd.DataFrame(columns=EPISODE_COLUMNS + (["onset_utc"] if data.identities is not None else []))
    out = _alert_frame(data, export_key, alerts)
    out["first_response"] = alerts["first_response"].to_numpy()
    out["minutes_to_first_response"] = pd.array(alerts["latency_minutes"].to_numpy(dtype=float, na_value=np.nan),
                                                dtype="Float64").round(1)
    # From the onset in the data (earlier than first seen for a late entry or a lab import).
    from_onset = (pd.to_datetime(alerts["first_response_at"], utc=True) - alerts["onset_at"]).dt.total_seconds() / 60
    out["minutes_from_onset_to_first_response"] = pd.array(from_onset.to_numpy(dtype=float, na_value=np.nan),
                                                           dtype="Float64").round(1)
    if data.identities is not None:
        out["onset_utc"] = alerts["onset_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy()
    columns = EPISODE_COLUMNS + (["onset_utc"] if data.identities is not None else [])
    return out.sort_values(["regimen", "course_ref", "onset_day", "rule_id"])[columns].reset_index(drop=True)


def _declines_table(data: CohortData, export_key: str) -> pd.DataFrame:
    alerts = data.alerts.merge(data.declines, on="alert_id", how="inner")
    if alerts.empty:
        return pd.DataFrame(columns=DECLINE_COLUMNS)
    out = _alert_frame(data, export_key, alerts)
    start = alerts["course_id"].map(data.courses.set_index("course_id")["start_at"]).reset_index(drop=True)
    out["declined_day"] = days_from(alerts["declined_at"].reset_index(drop=True), start).to_numpy()
    reasons = alerts["decline_reason"] if data.identities is not None else alerts["decline_reason"].map(withheld)
    out["decline_reason"] = reasons.to_numpy()
    # The reason chosen from the list survives de-identification (issue 20 item 3): its id and its wording.
    codes = alerts["decline_reason_code"].astype(object).where(alerts["decline_reason_code"].notna(), None)
    out["decline_reason_code"] = codes.to_numpy()
    out["decline_reason_chosen"] = codes.map(lambda c: DECLINE_CHOICES.get(c) if c else None).to_numpy()
    return out.sort_values(["regimen", "course_ref", "declined_day"])[DECLINE_COLUMNS].reset_index(drop=True)


def _groups(courses: pd.DataFrame) -> list[tuple[str, pd.Index]]:
    """(regimen, course ids) for each regimen present, then 'all'."""
    groups = [(regimen, pd.Index(part["course_id"])) for regimen, part in courses.groupby("regimen", sort=True)]
    return groups + [(ALL_REGIMENS, pd.Index(courses["course_id"]))]


COUNT_MEASURES = {
    "doses_given": "doses_given", "doses_held": "doses_held", "doses_stopped": "doses_stopped",
    "doses_given_on_decision": "doses_given_on_decision", "doses_given_by_override": "doses_given_by_override",
    "fn_episodes": "fn_episodes", "sepsis_screen_episodes": "sepsis_screen_episodes",
    "expected_effect_alerts": "expected_effect_alerts", "overdue_sets": "overdue_sets",
}


def _cohort_counts(data: CohortData) -> pd.DataFrame:
    per = _per_course(data)
    grades = per[GRADE_COLUMNS]
    flags = pd.DataFrame({"courses_with_grade_3_or_more": (grades.fillna(0).max(axis=1) >= 3).astype("int64"),
                          "courses_with_aki": (per["aki_highest_stage"].fillna(0) >= 1).astype("int64"),
                          "courses_with_fn": (per["fn_episodes"] > 0).astype("int64"),
                          "courses_with_a_dose_held_or_stopped":
                              ((per["doses_held"] + per["doses_stopped"]) > 0).astype("int64")}, index=per.index)
    patients = data.courses.set_index("course_id")["patient_id"]
    rows = []
    for regimen, ids in _groups(data.courses):
        days = float(per.loc[ids, "patient_days"].fillna(0).sum())
        for measure, count in [*((m, int(per.loc[ids, c].sum())) for m, c in COUNT_MEASURES.items()),
                               *((m, int(flags.loc[ids, m].sum())) for m in flags.columns)]:
            rows.append({"regimen": regimen, "measure": measure, "count": count, "courses": len(ids),
                         "patients": int(patients.loc[ids].nunique()), "patient_days_total": round(days, 2),
                         "per_course": round(count / len(ids), 3) if len(ids) else np.nan,
                         "per_100_patient_days": round(count / days * 100, 3) if days > 0 else np.nan})
    return pd.DataFrame(rows, columns=["regimen", "measure", "count", "courses", "patients", "patient_days_total",
                                       "per_course", "per_100_patient_days"])


def _grade_distribution(data: CohortData) -> pd.DataFrame:
    per = _per_course(data)
    rows = []
    for regimen, ids in _groups(data.courses):
        for system in ORGAN_SYSTEMS:
            values = per.loc[ids, system_column(system)]
            counts = values.value_counts(dropna=False)
            for grade in (0, 1, 2, 3, 4, "not graded"):
                n = int(values.isna().sum()) if grade == "not graded" else int(counts.get(grade, 0))
                rows.append({"regimen": regimen, "organ_system": system, "grade": str(grade), "courses": n,
                             "percent_of_courses": round(n / len(ids) * 100, 1) if len(ids) else np.nan})
    return pd.DataFrame(rows, columns=["regimen", "organ_system", "grade", "courses", "percent_of_courses"])


DISTRIBUTION_MEASURES = {"patient_days": "days", "doses_given": "count", "peak_weight_gain_pct": "%",
                         "aki_highest_stage": "KDIGO stage", "observation_sets": "count", "overdue_sets": "count"}


def _distributions(data: CohortData) -> pd.DataFrame:
    per = _per_course(data)
    rows = []
    for regimen, ids in _groups(data.courses):
        for measure, unit in DISTRIBUTION_MEASURES.items():
            values = pd.to_numeric(per.loc[ids, measure].astype("Float64")).dropna().astype(float)
            q = values.quantile([0.25, 0.5, 0.75]) if len(values) else pd.Series([np.nan] * 3, index=[.25, .5, .75])
            rows.append({"regimen": regimen, "measure": measure, "unit": unit, "n": len(values),
                         "mean": round(values.mean(), 2) if len(values) else np.nan,
                         "min": values.min() if len(values) else np.nan, "p25": round(q[0.25], 2),
                         "median": round(q[0.5], 2), "p75": round(q[0.75], 2),
                         "max": values.max() if len(values) else np.nan})
    return pd.DataFrame(rows, columns=["regimen", "measure", "unit", "n", "mean", "min", "p25", "median", "p75", "max"])


def _latency(values: pd.Series, q: float) -> float:
    answered = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    return round(float(answered.quantile(q)), 1) if len(answered) else np.nan


def _alerts_by_rule(data: CohortData) -> pd.DataFrame:
    per = _per_course(data)
    days = float(per["patient_days"].fillna(0).sum())
    alerts = data.alerts
    rows = []
    for rule, part in [*sorted(alerts.groupby("rule_id"), key=lambda kv: kv[0]),
                       ("all rules except expected effects", alerts[alerts["rule_id"] != EXPECTED_RULE])]:
        rows.append({"rule_id": rule, "alerts": len(part), "patient_days_total": round(days, 2),
                     "alerts_per_patient_day": round(len(part) / days, 4) if days > 0 else np.nan,
                     "responded": int(part["first_response"].notna().sum()),
                     "latency_median_min": _latency(part["latency_minutes"], 0.5),
                     "latency_p90_min": _latency(part["latency_minutes"], 0.9),
                     "declined": int((part["first_response"] == "decline").sum())})
    return pd.DataFrame(rows, columns=["rule_id", "alerts", "patient_days_total", "alerts_per_patient_day",
                                       "responded", "latency_median_min", "latency_p90_min", "declined"])


def _monitoring(data: CohortData) -> pd.DataFrame:
    per = _per_course(data)
    alerts = data.alerts
    real = alerts[alerts["rule_id"] != EXPECTED_RULE]
    days = float(per["patient_days"].fillna(0).sum())
    sets, overdue = int(per["observation_sets"].sum()), int(per["overdue_sets"].sum())
    rows = [
        ("courses", len(per), "count"),
        ("patient_days_total", round(days, 2), "days"),
        ("alerts (all rules except expected effects)", len(real), "count"),
        ("alerts per patient-day (all rules except expected effects)",
         round(len(real) / days, 4) if days > 0 else np.nan, "per patient-day"),
        ("acknowledgement latency, median", _latency(real["latency_minutes"], 0.5), "min"),
        ("acknowledgement latency, 90th percentile", _latency(real["latency_minutes"], 0.9), "min"),
        ("alerts without a response", int(real["first_response"].isna().sum()), "count"),
        ("alerts declined", int(len(data.declines[data.declines["alert_id"].isin(alerts["alert_id"])])), "count"),
        ("doses given over the pre-dose check on the oncologist's decision", int(per["doses_given_on_decision"].sum()),
         "count"),
        ("doses given over the pre-dose check by override (authoriser and reason recorded)",
         int(per["doses_given_by_override"].sum()), "count"),
        ("sepsis-screen alerts", int((alerts["rule_id"] == SEPSIS_RULE).sum()), "count"),
        ("expected post-dose IL-2 effects (il2-expected-effect, not sepsis alerts)",
         int((alerts["rule_id"] == EXPECTED_RULE).sum()), "count"),
        ("observation sets", sets, "count"),
        ("overdue observation sets", overdue, "count"),
        ("overdue observation sets, percent of sets after the first of each course",
         round(overdue / (sets - (per["observation_sets"] > 0).sum()) * 100, 1)
         if sets - (per["observation_sets"] > 0).sum() > 0 else np.nan, "%"),
    ]
    frame = pd.DataFrame(rows, columns=["measure", "value", "unit"])
    frame["counted"] = [counted_as(data, course_measure=m == "courses") for m in frame["measure"]]
    return frame


def counted_as(data: CohortData, *, course_measure: bool) -> str:
    """What a measure counts under the filter's basis (issue 20 item 1: each measure says whether it counts by
    event date or by course)."""
    if not data.period_bounded:
        return "courses (every course)" if course_measure else "every event of the courses"
    if data.basis == "events":
        return ("courses with an event in the period" if course_measure
                else "events dated in the period (patient-days inside it)")
    return "courses started in the period" if course_measure else "every event of those courses, in or after the period"


# --- public API -----------------------------------------------------------------------------------

def course_table(*, session: Session, filters: QualityFilter, export_key: str, identifiable: bool = False
                 ) -> pd.DataFrame:
    """One row per course (COURSE_COLUMNS; IDENTIFIABLE_COLUMNS added when identifiable)."""
    return _courses_table(load_cohort(session=session, filters=filters, identifiable=identifiable), export_key)


def term_table(*, session: Session, filters: QualityFilter, export_key: str) -> pd.DataFrame:
    """One row per course and CTCAE term: highest grade, its first onset from course start and first dose."""
    return _terms_table(load_cohort(session=session, filters=filters), export_key)


def episode_table(*, session: Session, filters: QualityFilter, export_key: str, identifiable: bool = False
                  ) -> pd.DataFrame:
    """Febrile-neutropenia and sepsis-screen alerts with minutes from first seen to first response."""
    return _episodes_table(load_cohort(session=session, filters=filters, identifiable=identifiable), export_key)


def cohort_tables(*, session: Session, filters: QualityFilter, export_key: str) -> dict[str, pd.DataFrame]:
    """Cohort counts and rates, grade distribution, distributions, alerts by rule, monitoring, declines."""
    return _cohort(load_cohort(session=session, filters=filters), export_key)


def _cohort(data: CohortData, export_key: str) -> dict[str, pd.DataFrame]:
    return {"cohort_counts": _cohort_counts(data), "grade_distribution": _grade_distribution(data),
            "distributions": _distributions(data), "alerts_by_rule": _alerts_by_rule(data),
            "monitoring": _monitoring(data), "declined_alerts": _declines_table(data, export_key)}


TABLE_TITLES = {
    "courses": "Per course", "terms": "Highest grade per CTCAE term", "episodes": "FN and sepsis-screen episodes",
    "cohort_counts": "Counts and rates per regimen", "grade_distribution": "Highest grade per organ system",
    "distributions": "Distributions per regimen", "alerts_by_rule": "Alerts per rule and acknowledgement latency",
    "monitoring": "Monitoring performance", "declined_alerts": "Declined alerts and reasons",
}


def export_tables(*, session: Session, filters: QualityFilter, export_key: str, identifiable: bool = False
                  ) -> dict[str, pd.DataFrame]:
    """Every table of the export (TABLE_TITLES order), read from the store once."""
    data = load_cohort(session=session, filters=filters, identifiable=identifiable)
    tables = {"courses": _courses_table(data, export_key), "terms": _terms_table(data, export_key),
              "episodes": _episodes_table(data, export_key), **_cohort(data, export_key)}
    return {name: tables[name] for name in TABLE_TITLES}


def is_synthetic(tables: dict[str, pd.DataFrame]) -> bool:
    """True when every exported course is synthetic (the PDF then says so on every page)."""
    courses = tables.get("courses")
    return courses is not None and len(courses) > 0 and bool(courses["is_synthetic"].all())
