"""Patient summary for the oncologist: the course, the eligibility screen, baseline values, the dose
history with every hold and stop and its reason, and how fresh each kind of data is.

Freshness uses the validity windows of data/thresholds.toml [validity] (the same ones the rules
use): a value older than its window is not used by any rule, and the summary says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.code_lists import FLUIDS, LABS, VITAL_SIGNS
from monitoring.clinical.thresholds import Thresholds, default_thresholds
from monitoring.clinical.vocabulary import ELIGIBILITY_ITEMS, REGIMENS
from monitoring.store.models import EligibilityAnswer, TreatmentCourse
from monitoring.store.repository import current_doses, current_observations
from monitoring.timefmt import course_day, elapsed_text, local_text


@dataclass
class PatientSummary:
    course: dict[str, str]            # label -> text, in display order
    eligibility: pd.DataFrame         # Item, Answer, Note, Answered
    baseline: pd.DataFrame            # Value, Baseline, Source
    doses: pd.DataFrame               # Dose, Scheduled, Status, Given, Amount, Reason, Recorded by
    freshness: pd.DataFrame           # Data, Last value, Age, Valid for, State
    held: int
    given: int


def _nurse_grades() -> tuple[str, ...]:
    catalogue = default_catalogue()
    return tuple(c for c in catalogue.codes() if catalogue[c].kind == "grade")


def patient_summary(*, session: Session, patient_id: int, now: datetime, tz: tzinfo,
                    thresholds: Thresholds | None = None) -> PatientSummary | None:
    """Everything the summary page shows for the patient's latest course; None without a course."""
    course = session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
                             .order_by(TreatmentCourse.id.desc()).limit(1)).first()
    if course is None:
        return None
    thresholds = thresholds or default_thresholds()
    catalogue = default_catalogue()
    doses = current_doses(session=session, patient_ids=[patient_id])
    doses = doses[doses["course_id"] == course.id]
    given, held = int((doses["status"] == "given").sum()), int((doses["status"] == "held").sum())
    planned = "not set" if course.planned_doses is None else str(course.planned_doses)
    info = {
        "Regimen": REGIMENS.get(course.regimen, course.regimen),
        "Cycle · day": f"cycle {course.cycle}, day {course_day(course.start_at, now)} (started "
                       f"{local_text(course.start_at, tz, '%d %b %Y %H:%M')})",
        "Status": course.status,
        "Dose": ("not set" if course.dose_per_kg is None else f"{course.dose_per_kg:,.0f} {course.dose_unit}")
                + ("" if course.dose_interval_hours is None else f" every {course.dose_interval_hours:g} h"),
        "Doses": f"{given} given of {planned} planned; {held} held; "
                 f"{int((doses['status'] == 'stopped').sum())} stopped",
        "After lymphodepleting chemotherapy": "yes (true neutropenia expected)" if course.after_lymphodepletion
                                              else "no",
    }
    answers = session.scalars(select(EligibilityAnswer).where(EligibilityAnswer.course_id == course.id)
                              .order_by(EligibilityAnswer.answered_at, EligibilityAnswer.id)).all()
    latest = {a.item: a for a in answers}  # a changed answer is a new row: the latest wins
    eligibility = pd.DataFrame([{
        "Item": label,
        "Answer": latest[item].answer if item in latest else "not answered",
        "Note": (latest[item].note or "") if item in latest else "",
        "Answered": (f"{latest[item].answered_by}, {local_text(latest[item].answered_at, tz)}"
                     if item in latest else ""),
    } for item, label in ELIGIBILITY_ITEMS.items()], columns=["Item", "Answer", "Note", "Answered"])

    obs = current_observations(session=session, patient_ids=[patient_id])
    first = obs.drop_duplicates("code") if len(obs) else obs
    first_of = {r.code: r for r in first.itertuples(index=False)}
    baseline_rows = [
        ("Weight", course.baseline_weight_kg, "kg", "weight"),
        ("Creatinine", course.baseline_creatinine_mg_dl, "mg/dL", "creatinine"),
        ("Usual systolic blood pressure", course.usual_sbp_mm_hg, "mmHg", "sbp"),
    ]
    baseline = []
    for label, value, unit, code in baseline_rows:
        if value is not None:
            baseline.append({"Value": label, "Baseline": f"{value:g} {unit}", "Source": "course record"})
        elif code in first_of:
            row = first_of[code]
            baseline.append({"Value": label, "Baseline": catalogue[code].format_value(row.value_num),
                             "Source": f"first value recorded, {local_text(row.observed_at, tz)} (no baseline "
                                       "on the course record)"})
        else:
            baseline.append({"Value": label, "Baseline": "not recorded", "Source": ""})
    baseline = pd.DataFrame(baseline, columns=["Value", "Baseline", "Source"])

    dose_table = pd.DataFrame({
        "Dose": doses["dose_number"].astype(int).to_numpy(),
        "Scheduled": [local_text(t, tz) for t in doses["scheduled_at"]],
        "Status": doses["status"].to_numpy(),
        "Given": [local_text(t, tz) if not pd.isna(t) else "" for t in doses["given_at"]],
        "Amount": [("" if pd.isna(d) else f"{d:,.0f} {u or ''}".strip()) for d, u in zip(doses["dose"],
                                                                                       doses["dose_unit"])],
        "Reason": doses["reason"].fillna("").to_numpy(),
        "Recorded by": doses["recorded_by"].to_numpy(),
    }, columns=["Dose", "Scheduled", "Status", "Given", "Amount", "Reason", "Recorded by"])

    validity = thresholds["validity"]
    kinds = (("Vital signs", VITAL_SIGNS, validity.vital_signs), ("Laboratory results", LABS, validity.labs),
             ("Fluids and weight", FLUIDS, validity.fluids), ("Nurse symptom grades", _nurse_grades(),
                                                              validity.nurse_grades))
    freshness = []
    for label, codes, valid_for in kinds:
        rows = obs[obs["code"].isin(codes)]
        hours = f"{valid_for.total_seconds() / 3600:g} h"
        if rows.empty:
            freshness.append({"Data": label, "Last value": "none recorded", "Age": "", "Valid for": hours,
                              "State": "missing"})
            continue
        last = rows["observed_at"].max()
        age = now - last
        freshness.append({"Data": label, "Last value": local_text(last, tz), "Age": f"{elapsed_text(age)} ago",
                          "Valid for": hours, "State": "current" if age <= valid_for else
                          "stale: not used by the rules"})
    freshness = pd.DataFrame(freshness, columns=["Data", "Last value", "Age", "Valid for", "State"])
    return PatientSummary(course=info, eligibility=eligibility, baseline=baseline, doses=dose_table,
                          freshness=freshness, held=held, given=given)
