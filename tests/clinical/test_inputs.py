"""The long observation format (monitoring/clinical/inputs.py): typed, canonical, and every problem named."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.clinical.inputs import OUTPUT_COLUMNS, read_long_frame
from monitoring.errors import InputError

T = "2026-03-02T08:00:00Z"


def _frame(rows: list[dict], **columns) -> pd.DataFrame:
    base = [{"patient_id": "p1", "time": T, "unit": "", **row} for row in rows]
    return pd.DataFrame(base).assign(**columns)


def _problems(frame: pd.DataFrame) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InputError) as error:
        read_long_frame(frame)
    return error.value.problems


def test_a_valid_frame_is_typed_and_converted_to_canonical_units():
    frame = pd.DataFrame({
        "patient_id": ["p1", "p1", "p2", "p2", "p3"],
        "time": [T, "2026-03-02T09:30:00+01:00", "2026-03-02T08:00:00.5-05:00", "2026-03-02 10:00:00Z", T],
        "code": ["creatinine", "temperature", "anc", "consciousness", "nausea"],
        "value": ["176.8", "100.4", "1500", "alert", "2"],
        "unit": ["µmol/L", "[degF]", "/uL", "", ""],
        "ref_low": ["53", "", "1800", "", ""],
        "ref_high": ["106.08", "", "7500", "", ""],
        "baseline": ["88.4", "", "", "", ""],
    })
    out = read_long_frame(frame)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert out["row"].tolist() == [1, 2, 3, 4, 5]
    assert out["patient_id"].tolist() == ["p1", "p1", "p2", "p2", "p3"]
    assert str(out["time"].dtype).startswith("datetime64") and str(out["time"].dt.tz) == "UTC"
    assert out["time"].tolist() == [pd.Timestamp(x) for x in (
        "2026-03-02T08:00:00Z", "2026-03-02T08:30:00Z", "2026-03-02T13:00:00.5Z", "2026-03-02T10:00:00Z", T)]
    assert out["unit"].tolist() == ["mg/dL", "Cel", "10*9/L", "{code}", "{grade}"]
    assert out["unit_in"].tolist() == ["umol/L", "[degF]", "/uL", "{code}", "{grade}"]  # label µmol/L -> UCUM code
    np.testing.assert_allclose(out["value_num"].to_numpy()[[0, 1, 2, 4]], [2.0, 38.0, 1.5, 2.0])
    assert np.isnan(out["value_num"][3]) and out["value_code"][3] == "A"
    assert out["value_code"].isna().sum() == 4
    np.testing.assert_array_equal(out["value_in"].to_numpy()[[0, 1, 2, 4]], [176.8, 100.4, 1500.0, 2.0])
    assert np.isnan(out["value_in"][3])
    assert (out["ref_low"][0], out["ref_high"][0], out["baseline"][0]) == (53.0, 106.08, 88.4)
    assert (out["ref_high_c"][0], out["baseline_c"][0]) == (1.2, 1.0)
    assert out["ref_low_c"][0] == pytest.approx(0.599548, abs=1e-6)
    assert (out["ref_low_c"][2], out["ref_high_c"][2]) == (1.8, 7.5)
    assert out[["ref_low", "ref_high", "baseline", "ref_low_c", "ref_high_c", "baseline_c"]].iloc[1].isna().all()


def test_rows_keep_their_order_and_index_and_the_input_is_untouched():
    frame = _frame([{"code": "anc", "value": 0.5}, {"code": "heart_rate", "value": 80},
                    {"code": "anc", "value": 2.5}])
    frame.index = ["c", "a", "a"]  # duplicate labels too
    before = frame.copy()
    out = read_long_frame(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert list(out.index) == ["c", "a", "a"]
    assert out["value_num"].tolist() == [0.5, 80.0, 2.5]
    assert out["row"].tolist() == [1, 2, 3]


def test_numbers_given_as_numbers_or_text_read_the_same():
    as_numbers = _frame([{"code": "potassium", "value": 3.2, "ref_low": 3.5, "ref_high": 5.1}])
    as_text = _frame([{"code": "potassium", "value": " 3.2 ", "ref_low": "3.5", "ref_high": "5.1 "}])
    pd.testing.assert_frame_equal(read_long_frame(as_numbers), read_long_frame(as_text))


def test_optional_columns_may_be_absent():
    frame = pd.DataFrame({"patient_id": [1001, 1002], "time": [T, T], "code": ["sodium", "magnesium"],
                          "value": [131, 0.6]})
    out = read_long_frame(frame)
    assert out["patient_id"].tolist() == ["1001", "1002"]  # numbers read as their text
    assert out["unit"].tolist() == out["unit_in"].tolist() == ["mmol/L", "mg/dL"]
    assert out[["ref_low", "ref_high", "baseline", "ref_low_c", "ref_high_c", "baseline_c"]].isna().all().all()


def test_timezone_aware_datetimes_are_accepted_and_naive_ones_refused():
    aware = _frame([{"code": "anc", "value": 1.0}]).assign(
        time=pd.Series([pd.Timestamp("2026-03-02T09:00:00+01:00")]))
    assert read_long_frame(aware)["time"][0] == pd.Timestamp("2026-03-02T08:00:00Z")
    naive = _frame([{"code": "anc", "value": 1.0}]).assign(time=pd.Series([pd.Timestamp("2026-03-02T09:00:00")]))
    problems = _problems(naive)
    assert [(r, c) for r, c, _ in problems] == [(1, "time")]
    assert "no time zone" in problems[0][2]


def test_missing_required_columns_are_named_with_the_columns_found():
    frame = pd.DataFrame({"patient": ["p1"], "code": ["anc"], "value": [1.0]})
    with pytest.raises(InputError) as error:
        read_long_frame(frame)
    problems = error.value.problems
    assert [(r, c) for r, c, _ in problems] == [(None, "patient_id"), (None, "time")]
    assert "columns found: patient, code, value" in problems[0][2]
    assert "column patient_id: required column 'patient_id' is missing" in str(error.value)


def test_every_bad_row_is_named_with_its_column_and_all_problems_are_collected():
    frame = _frame([
        {"code": "anc", "value": "1.2"},                                           # 1 fine
        {"code": "neutrophils", "value": "1.2"},                                   # 2 unknown code
        {"code": "anc", "value": "lots"},                                          # 3 not a number
        {"code": "anc", "value": "1.2", "time": "2026-03-02T08:00:00"},            # 4 no zone
        {"code": "anc", "value": "1.2", "time": "yesterday"},                      # 5 not a time
        {"code": "anc", "value": "1.2", "unit": "g/L"},                            # 6 unknown unit
        {"code": "temperature", "value": "98.6"},                                  # 7 impossible (°F as °C)
        {"code": "potassium", "value": "4.0", "ref_low": "5.1", "ref_high": "3.5"},  # 8 ref_low > ref_high
        {"code": "potassium", "value": "4.0", "ref_high": "<5.1"},                 # 9 ref not a number
        {"code": "anc", "value": "1.2", "patient_id": ""},                         # 10 no patient
        {"code": "creatinine", "value": "1.0", "baseline": "300"},                 # 11 impossible baseline
        {"code": "anc", "value": ""},                                              # 12 missing value
        {"code": "anc", "value": "38,3", "time": "", "ref_low": "x"},              # 13 three problems
        {"code": "", "value": "1"},                                                # 14 no code
    ])
    problems = _problems(frame)
    assert [(r, c) for r, c, _ in problems] == [
        (2, "code"), (3, "value"), (4, "time"), (5, "time"), (6, "unit"), (7, "value"), (8, "ref_low"),
        (9, "ref_high"), (10, "patient_id"), (11, "baseline"), (12, "value"), (13, "time"), (13, "value"),
        (13, "ref_low"), (14, "code")]
    messages = dict(((r, c), m) for r, c, m in problems)
    assert "Unknown observation code 'neutrophils'" in messages[2, "code"]
    assert "'lots' is not a number" in messages[3, "value"]
    assert "no time zone" in messages[4, "time"]
    assert "not an ISO 8601 date and time" in messages[5, "time"]
    assert "Unit 'g/L' is not accepted" in messages[6, "unit"]
    assert "outside the plausible range" in messages[7, "value"]
    assert "ref_low 5.1 is not below ref_high 3.5: a reference range needs low < high" in messages[8, "ref_low"]
    assert "ref_high '<5.1' is not a number" in messages[9, "ref_high"]
    assert "plausible range" in messages[11, "baseline"]
    assert "missing" in messages[12, "value"]
    assert "decimal point, not a comma" in messages[13, "value"]
    assert "observation code is missing" in messages[14, "code"]


def test_the_error_message_names_row_and_column():
    with pytest.raises(InputError) as error:
        read_long_frame(_frame([{"code": "anc", "value": "1"}, {"code": "anc", "value": "-1"}]))
    assert str(error.value).startswith("row 2, column value: ")


def test_many_problems_are_all_collected_and_the_message_is_shortened():
    frame = _frame([{"code": "anc", "value": "bad"}] * 1000)
    with pytest.raises(InputError) as error:
        read_long_frame(frame)
    assert len(error.value.problems) == error.value.total == 1000
    assert [r for r, _, _ in error.value.problems] == list(range(1, 1001))
    assert "... and 980 more problems" in str(error.value)


def test_a_date_without_a_time_has_no_zone():
    problems = _problems(_frame([{"code": "anc", "value": 1.0, "time": "2026-03-02"}]))
    assert [(r, c) for r, c, _ in problems] == [(1, "time")]


def test_an_empty_frame_gives_an_empty_typed_frame():
    out = read_long_frame(pd.DataFrame(columns=["patient_id", "time", "code", "value", "unit"]))
    assert len(out) == 0 and tuple(out.columns) == OUTPUT_COLUMNS


def test_repeated_values_are_checked_once_but_reported_per_row():
    frame = _frame([{"code": "anc", "value": v} for v in ["1.0", "x", "1.0", "x", "500"]])
    problems = _problems(frame)
    assert [(r, c) for r, c, _ in problems] == [(2, "value"), (4, "value"), (5, "value")]
    ok = _frame([{"code": "anc", "value": v, "unit": u} for v, u in [("1.5", ""), ("1500", "/uL"), ("1.5", "")]])
    assert read_long_frame(ok)["value_num"].tolist() == [1.5, 1.5, 1.5]


def test_a_million_rows_parse_quickly():
    """Vectorised: a million-row import parses in a few seconds (bench/bench_ctcae.py measures it)."""
    import time

    from bench.bench_ctcae import make_lab_frame

    frame = make_lab_frame(200_000)
    started = time.perf_counter()
    out = read_long_frame(frame)
    elapsed = time.perf_counter() - started
    assert len(out) == 200_000
    assert elapsed < 5.0  # measured about 0.3 s; 5 s leaves room for a busy machine


def test_the_entry_limits_come_from_the_thresholds_file_as_local_choices(tmp_path, monkeypatch):
    """[entry_limits]: how late a set may be entered without a reason, how far ahead a time may be, the
    highest dose number, the longest urine period and dose interval (formerly constants in code)."""
    from monitoring.clinical.engine import _period_hours
    from monitoring.clinical.inputs import entry_limits
    from monitoring.clinical.thresholds import REPO_ROOT, load_thresholds

    limits = entry_limits()
    assert (limits.late_entry_after_minutes, limits.future_tolerance_minutes, limits.max_dose_number,
            limits.max_period_hours, limits.max_dose_interval_hours) == (60, 5, 1000, 24, 168)
    assert limits.source.status == "local-choice" and limits.late_entry_after.total_seconds() == 3600
    edited = tmp_path / "thresholds.toml"
    edited.write_text((REPO_ROOT / "data" / "thresholds.toml").read_text().replace("max_period_hours = 24",
                                                                                   "max_period_hours = 12"))
    monkeypatch.setattr("monitoring.clinical.inputs.default_thresholds", lambda: load_thresholds(edited))
    with pytest.raises(InputError, match="at most 12"):
        _period_hours(pd.Series(["13"]))
