"""De-identified cohort summaries for quality teams: counts only, never a name or record number.

The queries read no identifier table (PatientIdentity is never joined), so nothing identifying can
leak into these summaries.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from monitoring.models import REGIMEN_SHORT, Alert, DoseEvent, TreatmentCourse

SUMMARY_COLUMNS = ["Regimen", "Courses", "Doses given", "Doses held", "Doses stopped", "Alerts (not expected effects)",
                   "Sepsis-screen alerts", "Febrile neutropenia", "Expected IL-2 effects"]


def cohort_summary(*, session: Session) -> pd.DataFrame:
    """One row per regimen: courses, dose delivery and alerts, with a total row."""
    courses = pd.DataFrame(session.execute(select(TreatmentCourse.id, TreatmentCourse.patient_id,
                                                  TreatmentCourse.regimen)).all(),
                           columns=["course_id", "patient_id", "regimen"])
    doses = pd.DataFrame(session.execute(select(DoseEvent.course_id, DoseEvent.status, func.count())
                                         .where(DoseEvent.record_status != "entered-in-error")
                                         .group_by(DoseEvent.course_id, DoseEvent.status)).all(),
                         columns=["course_id", "status", "n"])
    alerts = pd.DataFrame(session.execute(select(Alert.course_id, Alert.rule_id, func.count())
                                          .where(Alert.status != "retracted")
                                          .group_by(Alert.course_id, Alert.rule_id)).all(),
                          columns=["course_id", "rule_id", "n"])
    if courses.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    regimen_of = courses.set_index("course_id")["regimen"]
    doses["regimen"] = doses["course_id"].map(regimen_of)
    alerts["regimen"] = alerts["course_id"].map(regimen_of)
    dose_counts = doses.pivot_table(index="regimen", columns="status", values="n", aggfunc="sum", fill_value=0)
    rule_counts = alerts.pivot_table(index="regimen", columns="rule_id", values="n", aggfunc="sum", fill_value=0)
    table = courses.groupby("regimen").size().rename("Courses").to_frame()

    def column(frame: pd.DataFrame, name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series(0, index=frame.index, dtype=int)

    table["Doses given"] = column(dose_counts, "given")
    table["Doses held"] = column(dose_counts, "held")
    table["Doses stopped"] = column(dose_counts, "stopped")
    expected = column(rule_counts, "il2-expected-effect")
    table["Alerts (not expected effects)"] = rule_counts.sum(axis=1) - expected
    table["Sepsis-screen alerts"] = column(rule_counts, "sepsis-screen")
    table["Febrile neutropenia"] = column(rule_counts, "febrile-neutropenia")
    table["Expected IL-2 effects"] = expected
    table = table.fillna(0).astype(int)
    table.loc["total"] = table.sum()
    table = table.reset_index().rename(columns={"index": "Regimen", "regimen": "Regimen"})
    table["Regimen"] = table["Regimen"].map(lambda r: REGIMEN_SHORT.get(r, "All regimens" if r == "total" else r))
    return table[SUMMARY_COLUMNS]
