"""Observation sets (monitoring.clinical.sets): what makes a set, and NEWS2 from the set's own values.

Expected scores from the RCP NEWS2 chart (2017, Chart 1): every parameter in its 0 band scores 0; a
respiration rate of 25/min or more scores 3; a set without all seven parameters is not scored."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from monitoring.clinical.sets import scored_sets

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)
NORMAL = {"resp_rate": 16, "spo2": 97, "on_oxygen": "no", "sbp": 120, "heart_rate": 70, "consciousness": "A",
          "temperature": 37.0}


def rows(key_value, at, values: dict, key: str = "patient_id") -> list[dict]:
    return [{key: key_value, "observed_at": at, "code": code,
             "value_num": None if isinstance(v, str) else float(v), "value_code": v if isinstance(v, str) else None}
            for code, v in values.items()]


def frame(*parts: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([r for part in parts for r in part])


@pytest.mark.parametrize("resp_rate, news2", [(20, 0), (21, 2), (24, 2), (25, 3)])
def test_a_complete_set_is_scored_from_its_own_values(resp_rate, news2):
    """RCP Chart 1 respiration rate bands: 12-20 scores 0, 21-24 scores 2, >= 25 scores 3."""
    scored = scored_sets(frame(rows("p1", T0, {**NORMAL, "resp_rate": resp_rate})), "patient_id")
    assert len(scored) == 1 and int(scored["news2"].iloc[0]) == news2


def test_a_partial_set_has_no_news2_and_stays_a_set_of_its_own():
    scored = scored_sets(frame(rows("p1", T0, NORMAL), rows("p1", T0 + timedelta(hours=2), {"temperature": 38.6})),
                         "patient_id")
    assert list(scored["time"]) == [T0, T0 + timedelta(hours=2)]
    assert int(scored["news2"].iloc[0]) == 0 and pd.isna(scored["news2"].iloc[1])   # missing is never zero


def test_a_value_entered_twice_at_one_time_keeps_the_later_row_and_other_codes_are_ignored():
    twice = rows("p1", T0, NORMAL) + rows("p1", T0, {"resp_rate": 26, "creatinine": 3.0})
    scored = scored_sets(frame(twice), "patient_id")
    assert len(scored) == 1 and int(scored["news2"].iloc[0]) == 3 and "creatinine" not in scored


def test_sets_are_kept_apart_by_their_key_a_patient_or_a_course():
    both = frame(rows(11, T0, NORMAL, key="course_id"), rows(12, T0, {**NORMAL, "heart_rate": 135}, key="course_id"))
    scored = scored_sets(both, "course_id").set_index("course_id")
    assert int(scored.loc[11, "news2"]) == 0 and int(scored.loc[12, "news2"]) == 3   # HR >= 131 scores 3
