"""Issue 18 item 6: CTCAE grades new or worse this shift, for the handover's assessment: each term graded
1 or above in the shift against the latest grade of the same term before it (clinical.toxicity.grade_changes)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from monitoring.clinical.toxicity import CHANGE_COLUMNS, grade_changes, graded_observations

UTC = timezone.utc
START, END = datetime(2026, 11, 27, 7, tzinfo=UTC), datetime(2026, 11, 27, 19, tzinfo=UTC)
LOOKBACK = timedelta(hours=72)
ANC = "Neutrophil count decreased"


def graded(*rows) -> pd.DataFrame:
    """Rows of (hours after the shift's start, grade) for the ANC of patient 1."""
    return pd.DataFrame([{"patient_id": 1, "term": ANC, "code": "anc", "value_num": 1.0, "grade": grade,
                          "observed_at": START + timedelta(hours=hours)} for hours, grade in rows]
                        ).astype({"grade": "Int64"})


@pytest.mark.parametrize(("rows", "change", "grade", "before"), [
    ([(5, 3)], "new", 3, None),                           # nothing graded before the shift
    ([(-2, 0), (5, 3)], "new", 3, 0),                     # grade 0 before
    ([(-2, 1), (5, 3)], "worse", 3, 1),
    ([(-30, 3), (-2, 2), (5, 3)], "worse", 3, 2),         # the latest before counts, not the highest
    ([(-2, 3), (5, 3)], "ongoing", 3, 3),
    ([(-2, 4), (5, 3)], "ongoing", 3, 4),                 # better, still graded: ongoing
    ([(-2, 1), (2, 3), (8, 1)], "worse", 3, 1),           # the shift's highest, not its latest
    ([(-73, 3), (5, 3)], "new", 3, None),                 # before the look-back: not known
    ([(-1, 1), (0, 2)], "worse", 2, 1),                   # a value at the shift's start is in it
])
def test_each_term_of_the_shift_is_new_worse_or_ongoing_against_its_latest_grade_before(rows, change, grade, before):
    out = grade_changes(graded(*rows), start=START, end=END, lookback=LOOKBACK)
    assert list(out.columns) == CHANGE_COLUMNS and len(out) == 1
    row = out.iloc[0]
    assert (row["change"], row["grade"]) == (change, grade)
    assert (pd.isna(row["before_grade"]) if before is None else row["before_grade"] == before)


@pytest.mark.parametrize("rows", [[(-2, 3), (5, 0)], [(12, 3)], [(-1, 3)], []])
def test_a_term_not_graded_1_or_above_in_the_shift_is_not_listed(rows):
    """Back to grade 0, graded only after the shift's end, or only before it."""
    frame = graded(*rows) if rows else graded((0, 0)).iloc[0:0]
    assert grade_changes(frame, start=START, end=END, lookback=LOOKBACK).empty


def test_new_come_first_then_worse_then_ongoing_the_highest_grade_first_and_each_patient_apart():
    rows = [{"patient_id": p, "term": t, "code": "anc", "value_num": 1.0, "grade": g,
             "observed_at": START + timedelta(hours=h)} for p, t, h, g in [
        (1, "A", 2, 1), (1, "B", -1, 1), (1, "B", 2, 2), (1, "C", 2, 4), (1, "D", -1, 2), (1, "D", 2, 2),
        (1, "E", 2, 2), (2, "A", -1, 2), (2, "A", 2, 2)]]
    out = grade_changes(pd.DataFrame(rows).astype({"grade": "Int64"}), start=START, end=END, lookback=LOOKBACK)
    assert out[["patient_id", "term", "change"]].values.tolist() == [
        [1, "C", "new"], [1, "E", "new"], [1, "A", "new"], [1, "B", "worse"], [1, "D", "ongoing"],
        [2, "A", "ongoing"]]


def test_it_reads_what_the_chart_and_overview_grade():
    """From observations, through graded_observations: ANC 2.0 before the shift (grade 0), 0.8 in it (grade 3)."""
    obs = pd.DataFrame([
        {"patient_id": 1, "code": "anc", "value_num": 2.0, "ref_low": None, "ref_high": None,
         "observed_at": START - timedelta(hours=2)},
        {"patient_id": 1, "code": "anc", "value_num": 0.8, "ref_low": None, "ref_high": None,
         "observed_at": START + timedelta(hours=5)}])
    out = grade_changes(graded_observations(obs), start=START, end=END, lookback=LOOKBACK)
    assert out[["term", "change", "grade", "before_grade", "value_num"]].values.tolist() == [
        [ANC, "new", 3, 0, 0.8]]
