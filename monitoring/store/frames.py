"""The engine's input frames read from the store (observations, doses, course baselines), and the
courses' weight-gain baselines that every view shares."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from monitoring.clinical.derived import FIRST_WEIGHT, course_weight_baselines
from monitoring.store import repository
from monitoring.store.models import TreatmentCourse


def store_frames(*, session: Session, patient_ids: Sequence[int] | None = None, since: datetime | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The engine's inputs from the store: canonical observations (since `since`, when given: a
    forecast needs the recent record only; doses are always read whole, the course counts them),
    doses and course baselines."""
    obs = repository.current_observations(
        session=session, patient_ids=patient_ids, since=since,
        columns=["patient_id", "observed_at", "code", "value_num", "value_code", "period_start"])
    obs = obs.rename(columns={"observed_at": "time"})
    doses = repository.current_doses(session=session, patient_ids=patient_ids)
    doses = pd.DataFrame({"patient_id": doses["patient_id"], "time": doses["given_at"].fillna(doses["scheduled_at"]),
                          "status": doses["status"], "dose_number": doses["dose_number"].astype("Int64"),
                          "scheduled_at": doses["scheduled_at"]})
    latest = select(TreatmentCourse.patient_id, func.max(TreatmentCourse.id)).group_by(TreatmentCourse.patient_id)
    if patient_ids is not None:
        latest = latest.where(TreatmentCourse.patient_id.in_(list(patient_ids)))
    course_ids = [row[1] for row in session.execute(latest).all()]
    rows = session.scalars(select(TreatmentCourse).where(TreatmentCourse.id.in_(course_ids))).all()
    # neutropenia_expected follows from the course (after lymphodepletion, or the temozolomide regimen:
    # monitoring.clinical.rules.context), so the store has no column for it.
    columns = ["patient_id", "baseline_weight_kg", "baseline_creatinine_mg_dl", "usual_sbp_mm_hg", "regimen",
               "dose_interval_hours", "after_lymphodepletion", "course_id"]
    courses = pd.DataFrame([{"patient_id": c.patient_id, "baseline_weight_kg": c.baseline_weight_kg,
                             "baseline_creatinine_mg_dl": c.baseline_creatinine_mg_dl,
                             "usual_sbp_mm_hg": c.usual_sbp_mm_hg, "regimen": c.regimen,
                             "dose_interval_hours": c.dose_interval_hours,
                             "after_lymphodepletion": bool(c.after_lymphodepletion), "course_id": c.id} for c in rows],
                           columns=columns)
    # A course without a baseline weight is measured from its own first weight (monitoring.clinical.derived),
    # not from the patient's first weight ever (a cycle 2 from cycle 1's).
    known = weight_baselines(session=session, course_ids=courses["course_id"].tolist()).set_index("course_id")
    first = known["baseline_kg"].where(known["source"] == FIRST_WEIGHT)
    courses["first_weight_kg"] = pd.to_numeric(courses["course_id"].map(first)).astype(float)
    for frame in (obs, doses, courses):
        frame["patient_id"] = frame["patient_id"].astype(str)
    for column in ("baseline_weight_kg", "baseline_creatinine_mg_dl", "usual_sbp_mm_hg", "dose_interval_hours"):
        courses[column] = pd.to_numeric(courses[column])
    return obs, doses, courses


def weight_baselines(*, session: Session, course_ids: Sequence[int]) -> pd.DataFrame:
    """course_id, baseline_kg and source for each course (monitoring.clinical.derived.course_weight_baselines):
    the recorded baseline weight, else the first weight recorded for the course, else none (NaN)."""
    ids = [int(c) for c in course_ids]
    rows = session.execute(select(TreatmentCourse.id, TreatmentCourse.patient_id, TreatmentCourse.baseline_weight_kg)
                           .where(TreatmentCourse.id.in_(ids))).all() if ids else []
    courses = pd.DataFrame([{"course_id": c, "baseline_weight_kg": kg} for c, _, kg in rows],
                           columns=["course_id", "baseline_weight_kg"])
    missing = sorted({patient for _, patient, kg in rows if kg is None})
    weights = repository.current_observations(session=session, patient_ids=missing, codes=["weight"],
                                              columns=["course_id", "observed_at", "value_num"]) if missing else None
    if weights is None:
        weights = pd.DataFrame(columns=["course_id", "observed_at", "value_num"])
    return course_weight_baselines(courses, weights)
