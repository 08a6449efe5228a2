"""Observation sets: the values a nurse recorded at one time, scored from their own values.

One definition for the ward overview (the last set and the last complete one), the quality report
(overdue sets) and anything else that needs NEWS2 per set: a set is every bedside value of one key
(a patient or a course) at one time; lab imports are not sets; a value entered twice keeps the later
row; a parameter not recorded stays missing, so a partial set (a post-dose temperature) has no NEWS2
(RCP 2017: NEWS2 needs all seven parameters).
"""
from __future__ import annotations

import pandas as pd

from monitoring.clinical.code_lists import SCORE_CODES
from monitoring.clinical.scores import score_frame


def scored_sets(bedside: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per (key, observed_at) of `bedside` rows (code, value_num, value_code, observed_at and
    the key column; lab imports already left out) with the set's values by code and its scores
    (monitoring.clinical.scores.score_frame: news2, news2_band, news2_missing, qsofa, sirs ...), in the
    order of the input. Codes other than the scores' inputs are ignored."""
    rows = bedside[bedside["code"].isin(SCORE_CODES)]
    value = rows["value_code"].astype(object).where(rows["value_code"].notna(), rows["value_num"])
    wide = (pd.DataFrame({key: rows[key], "time": rows["observed_at"], "code": rows["code"], "value": value})
            .drop_duplicates([key, "time", "code"], keep="last")
            .set_index([key, "time", "code"])["value"].unstack("code").reset_index())
    wide.columns = [str(c) for c in wide.columns]
    if key == "patient_id":
        return score_frame(wide)
    return score_frame(wide.rename(columns={key: "patient_id"})).rename(columns={"patient_id": key})
