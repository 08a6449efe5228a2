"""The quantities derived from several observations (monitoring.clinical.derived), one definition
each: the weight-gain baseline, weight gain and urine output per 8 h. Tables from the definitions
(Dutcher 2014 Table 3: weight gain from the pre-treatment weight, urine per 8-h shift)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from monitoring.clinical.derived import (
    COURSE_BASELINE,
    FIRST_WEIGHT,
    NO_BASELINE,
    course_weight_baselines,
    urine_ml_per_8h,
    weight_baseline_kg,
    weight_gain_percent,
)

NAN = float("nan")


@pytest.mark.parametrize(("course_kg", "first_kg", "expected"), [
    (80.0, 75.0, 80.0),     # recorded: the course's baseline, whatever was weighed first
    (NAN, 75.0, 75.0),      # not recorded: the course's first weight
    (NAN, NAN, NAN),        # neither: no baseline (never zero)
    (80.0, NAN, 80.0),
])
def test_the_baseline_is_the_recorded_one_else_the_first_weight_of_the_course(course_kg, first_kg, expected):
    found = weight_baseline_kg(np.array([course_kg]), np.array([first_kg]))[0]
    assert (math.isnan(found) and math.isnan(expected)) or found == expected


@pytest.mark.parametrize(("weight_kg", "baseline_kg", "percent"), [
    (88.0, 80.0, 10.0),     # the capillary-leak warning level exactly
    (92.0, 80.0, 15.0),     # Dutcher's relative criterion is > 15 %: exactly 15 is not above it
    (92.08, 80.0, 15.1),
    (76.0, 80.0, -5.0),     # a loss is negative, not zero
    (80.0, NAN, NAN),       # no baseline: no gain
])
def test_weight_gain_is_the_change_from_the_baseline_in_percent(weight_kg, baseline_kg, percent):
    found = weight_gain_percent(weight_kg, baseline_kg)
    assert (math.isnan(found) and math.isnan(percent)) or round(found, 9) == pytest.approx(percent)


@pytest.mark.parametrize(("volume_ml", "hours", "per_8h"), [
    (80.0, 8.0, 80.0),      # Dutcher's absolute limit: < 80 mL per 8 h
    (79.0, 8.0, 79.0),
    (40.0, 4.0, 80.0),      # a 4-h collection at the same rate
    (120.0, 12.0, 80.0),    # a 12-h collection at the same rate
    (0.0, 8.0, 0.0),        # anuria is 0 mL, a real value
    (100.0, 0.0, NAN),      # a period of no length is no rate
    (100.0, NAN, NAN),      # a volume without its period is no rate (missing is never zero)
])
def test_urine_output_is_scaled_to_the_8_hour_shift_of_the_criteria(volume_ml, hours, per_8h):
    found = urine_ml_per_8h(volume_ml, hours)
    assert (math.isnan(found) and math.isnan(per_8h)) or found == pytest.approx(per_8h)


def test_each_course_is_measured_from_its_own_first_weight_not_the_patients_first_ever():
    courses = pd.DataFrame({"course_id": [1, 2, 3], "baseline_weight_kg": [NAN, NAN, 70.0]})
    weights = pd.DataFrame({"course_id": [1, 1, 2, 2, None],
                            "observed_at": pd.to_datetime(["2026-10-01T06:00Z", "2026-10-03T06:00Z",
                                                           "2026-11-02T06:00Z", "2026-11-01T06:00Z",
                                                           "2026-09-01T06:00Z"]),
                            "value_num": [70.0, 75.0, 84.0, 80.0, 60.0]})
    found = course_weight_baselines(courses, weights).set_index("course_id")
    assert found.loc[1, "baseline_kg"] == 70.0 and found.loc[1, "source"] == FIRST_WEIGHT
    assert found.loc[2, "baseline_kg"] == 80.0 and found.loc[2, "source"] == FIRST_WEIGHT   # earliest, not first listed
    assert found.loc[3, "baseline_kg"] == 70.0 and found.loc[3, "source"] == COURSE_BASELINE


def test_a_course_without_weights_or_a_baseline_has_none():
    courses = pd.DataFrame({"course_id": [7], "baseline_weight_kg": [None]})
    found = course_weight_baselines(courses, pd.DataFrame(columns=["course_id", "observed_at", "value_num"]))
    assert math.isnan(found.loc[0, "baseline_kg"]) and found.loc[0, "source"] == NO_BASELINE
