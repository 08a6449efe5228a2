"""Fluid balance by nursing shift and weight change from baseline."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from monitoring.clinical.fluids import balance_between, balances_between, shift_balance, shift_start, weight_change

LONDON = ZoneInfo("Europe/London")


def frame(*rows):
    return pd.DataFrame([{"code": c, "value_num": v, "observed_at": pd.Timestamp(t, tz="UTC")} for c, v, t in rows])


def test_shift_boundaries_in_ward_time():
    assert shift_start(pd.Timestamp("2026-11-27T06:59Z"), LONDON) == pd.Timestamp("2026-11-26T23:00", tz=LONDON)
    assert shift_start(pd.Timestamp("2026-11-27T07:00Z"), LONDON) == pd.Timestamp("2026-11-27T07:00", tz=LONDON)
    assert shift_start(pd.Timestamp("2026-07-01T14:30Z"), LONDON) == pd.Timestamp("2026-07-01T15:00", tz=LONDON)  # BST


def test_balance_per_shift_with_a_running_total_and_missing_never_zero():
    obs = frame(("fluid_intake", 900, "2026-11-27T14:59Z"), ("urine_output", 300, "2026-11-27T14:59Z"),
                ("fluid_intake", 600, "2026-11-27T22:59Z"))
    table = shift_balance(obs, tz=LONDON, now=datetime(2026, 11, 27, 23, 30, tzinfo=timezone.utc))
    assert table["Balance (mL)"].iloc[0] == 600 and table["Running balance (mL)"].iloc[0] == 600
    assert pd.isna(table["Urine output (mL)"].iloc[1]) and pd.isna(table["Balance (mL)"].iloc[1])


def test_weight_change_names_the_baseline_it_is_measured_from_and_never_a_gain_from_zero():
    obs = frame(("weight", 80.0, "2026-11-25T06:00Z"), ("weight", 88.4, "2026-11-27T06:00Z"))
    assert weight_change(obs, 80.0, "course baseline") == "88.4 kg, +8.4 kg (+10.5%) from the course baseline 80.0 kg"
    assert weight_change(obs, 80.0, "first weight of the course").endswith(
        "from the first weight of the course 80.0 kg")
    assert weight_change(obs, None, "none") == "88.4 kg (no baseline weight for this course)"
    assert weight_change(obs.iloc[0:0], 80.0, "course baseline") == "no weight recorded"


DAY_START, DAY_END = datetime(2026, 11, 27, 7, tzinfo=timezone.utc), datetime(2026, 11, 27, 19, tzinfo=timezone.utc)


@pytest.mark.parametrize(("rows", "expected"), [
    ([("fluid_intake", 900, "2026-11-27T12:00Z"), ("fluid_intake", 600, "2026-11-27T18:00Z"),
      ("urine_output", 400, "2026-11-27T15:00Z")], "intake 1500 mL, urine output 400 mL: balance +1100 mL"),
    ([("fluid_intake", 300, "2026-11-27T12:00Z"), ("urine_output", 500, "2026-11-27T15:00Z")],
     "intake 300 mL, urine output 500 mL: balance -200 mL"),
    # A period that ended at the shift's start belongs to it; one that ended at its end, to the next shift.
    ([("fluid_intake", 300, "2026-11-27T07:00Z"), ("urine_output", 500, "2026-11-27T19:00Z")],
     "intake 300 mL, urine output none recorded: no balance"),
    ([("fluid_intake", 300, "2026-11-27T06:59Z"), ("urine_output", 0, "2026-11-27T08:00Z")],
     "intake none recorded, urine output 0 mL: no balance"),
    ([("weight", 80, "2026-11-27T08:00Z")], "intake none recorded, urine output none recorded: no balance"),
])
def test_the_balance_of_a_shift_counts_the_periods_that_ended_in_it_and_never_makes_missing_zero(rows, expected):
    assert balance_between(frame(*rows), start=DAY_START, end=DAY_END) == expected
    # The ward's handover reads every patient's balance in one pass: the same sentence, whoever else is on the ward.
    ward = pd.concat([frame(*rows).assign(patient_id=7),
                      frame(("fluid_intake", 50, "2026-11-27T12:00Z"), ("urine_output", 20, "2026-11-27T12:00Z"),
                            ("urine_output", 999, "2026-11-27T20:00Z")).assign(patient_id=8)], ignore_index=True)
    assert balances_between(ward, patient_ids=[7, 8, 9], start=DAY_START, end=DAY_END) == {
        7: expected, 8: "intake 50 mL, urine output 20 mL: balance +30 mL",
        9: "intake none recorded, urine output none recorded: no balance"}
