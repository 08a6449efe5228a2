"""NEWS2, qSOFA and SIRS (monitoring/clinical/scores.py).

Expected values come from the published tables (tests/data/*.csv, written by hand from RCP 2017
Chart 1/2/4, Sepsis-3 and ACCP/SCCM 1992 as quoted in clinical.md), never from the implementation;
vitalscore 0.1.1 is a second, independent oracle for random complete sets.
"""
from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vitalscore import score_news2, score_qsofa

from monitoring.clinical import scores, thresholds
from monitoring.clinical.scores import (
    NEWS2_BANDS,
    NEWS2_PARAMETERS,
    load_score_thresholds,
    news2_response,
    score_frame,
)
from monitoring.clinical.thresholds import ThresholdsError, parse_section
from monitoring.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
THRESHOLDS_FILE = ROOT / "data" / "thresholds.toml"

NORMAL_SET = {"patient_id": "P1", "time": "2026-11-27T10:00:00Z", "resp_rate": 16, "spo2": 97, "spo2_scale": 1,
              "on_oxygen": "no", "sbp": 120, "heart_rate": 70, "consciousness": "A", "temperature": 37.0}


@pytest.fixture(scope="module")
def limits():
    return load_score_thresholds(THRESHOLDS_FILE)


def read_cases(name: str) -> list[dict]:
    frame = pd.read_csv(DATA / name, comment="#", dtype=str, keep_default_na=False)
    return frame.to_dict("records")


def one_set(**changes) -> pd.DataFrame:
    return pd.DataFrame([{**NORMAL_SET, **changes}])


# --- NEWS2 ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", read_cases("news2_boundaries.csv"),
                         ids=lambda c: f"{c['parameter']}={c['value']}-scale{c['spo2_scale']}-o2:{c['on_oxygen']}")
def test_news2_sub_score_at_every_chart1_band_edge(case, limits):
    frame = one_set(**{"spo2_scale": case["spo2_scale"], "on_oxygen": case["on_oxygen"],
                       case["parameter"]: case["value"]})
    row = score_frame(frame, limits, detail=True).iloc[0]
    expected = int(case["expected_points"])
    assert row[f"news2_{case['parameter']}"] == expected, case["chart_band"]
    oxygen_points = 2 if case["on_oxygen"] == "yes" and case["parameter"] != "on_oxygen" else 0  # Chart 1: oxygen 2
    assert row["news2"] == expected + oxygen_points


@pytest.mark.parametrize("case", read_cases("news2_bands.csv"), ids=lambda c: c["case"])
def test_news2_total_and_band(case, limits):
    columns = ["resp_rate", "spo2", "spo2_scale", "on_oxygen", "sbp", "heart_rate", "consciousness", "temperature"]
    row = score_frame(one_set(**{c: case[c] for c in columns}), limits).iloc[0]
    assert row["news2"] == int(case["expected_news2"])
    assert row["news2_band"] == case["expected_band"]
    assert row["news2_missing"] == ""


@pytest.mark.parametrize("band, news2, expected", [
    ("low", 0, ("minimum 12-hourly", 12)),
    ("low", 3, ("minimum 4-6-hourly", 4)),
    ("low", None, ("minimum 4-6-hourly", 4)),
    ("low-medium", 3, ("minimum 1-hourly", 1)),
    ("medium", 5, ("minimum 1-hourly", 1)),
    ("high", 9, ("continuous", 0)),
])
def test_news2_response_follows_chart4(band, news2, expected, limits):
    frequency, hours, response = news2_response(band, news2, limits)
    assert (frequency, hours) == expected
    assert response


def test_news2_response_texts_are_chart4_wording(limits):
    assert news2_response("low", 0, limits)[2] == "Continue routine NEWS monitoring"
    assert "inform medical team" in news2_response("low-medium", 3, limits)[2]
    assert "urgent assessment" in news2_response("medium", 6, limits)[2]
    assert "level 2 or 3" in news2_response("high", 7, limits)[2]
    with pytest.raises(ValueError, match="unknown NEWS2 band 'red'"):
        news2_response("red", 3, limits)


def _random_complete_sets(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "patient_id": rng.integers(1, 50, n).astype(str),
        "time": "2026-11-27T10:00:00+01:00",
        "resp_rate": rng.integers(4, 41, n),
        "spo2": rng.integers(60, 101, n),
        "spo2_scale": rng.choice([1, 2], n),
        "on_oxygen": rng.choice([True, False], n),
        "sbp": rng.integers(60, 250, n),
        "heart_rate": rng.integers(30, 170, n),
        "consciousness": rng.choice(list("ACVPU"), n, p=[0.8, 0.05, 0.05, 0.05, 0.05]),
        "temperature": np.round(rng.uniform(33.0, 41.5, n), 1),
        "gcs": rng.integers(3, 16, n),
    })


def test_news2_agrees_with_vitalscore_on_random_complete_sets(limits):
    frame = _random_complete_sets(4000, seed=20261127)
    ours = score_frame(frame, limits, detail=True)
    pairs = {"rr_score": "news2_resp_rate", "spo2_score": "news2_spo2", "o2_score": "news2_on_oxygen",
             "sbp_score": "news2_sbp", "hr_score": "news2_heart_rate", "consciousness_score": "news2_consciousness",
             "temp_score": "news2_temperature"}
    mismatches = []
    for i, r in enumerate(frame.itertuples()):
        theirs = score_news2(int(r.resp_rate), float(r.spo2), bool(r.on_oxygen), int(r.sbp), int(r.heart_rate),
                             r.consciousness, float(r.temperature), use_spo2_scale2=r.spo2_scale == 2)
        row = ours.iloc[i]
        got = {"total": row["news2"], **{k: row[v] for k, v in pairs.items()}}
        want = {"total": theirs.total, **{k: getattr(theirs, k) for k in pairs}}
        # vitalscore calls a single red score "Medium"; RCP Chart 2 calls it low-medium.
        want_band = {"Low": {"low"}, "Medium": {"low-medium", "medium"}, "High": {"high"}}[theirs.risk.value]
        if got != want or row["news2_band"] not in want_band:
            mismatches.append((i, got, want, row["news2_band"], theirs.risk.value))
    assert mismatches == []
    assert set(ours["news2_band"]) == set(NEWS2_BANDS)  # the random sets reach every band
    assert set(frame["spo2_scale"]) == {1, 2}


def test_news2_any3_flags_a_red_score(limits):
    out = score_frame(pd.DataFrame([NORMAL_SET, {**NORMAL_SET, "resp_rate": 25},
                                    {**NORMAL_SET, "resp_rate": 25, "spo2": ""},
                                    {**NORMAL_SET, "spo2": ""}]), limits, detail=True)
    assert out["news2_any3"].tolist() == [False, True, True, pd.NA]


# --- qSOFA and SIRS ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", read_cases("qsofa_boundaries.csv"), ids=lambda c: c["case"])
def test_qsofa_boundaries(case, limits):
    frame = pd.DataFrame([{"patient_id": "P1", "time": "2026-11-27T10:00:00Z",
                           **{c: case[c] for c in ("resp_rate", "sbp", "gcs", "consciousness")}}])
    assert score_frame(frame, limits)["qsofa"].iloc[0] == int(case["expected_qsofa"])


@pytest.mark.parametrize("case", read_cases("sirs_boundaries.csv"), ids=lambda c: c["case"])
def test_sirs_boundaries(case, limits):
    frame = pd.DataFrame([{"patient_id": "P1", "time": "2026-11-27T10:00:00Z",
                           **{c: case[c] for c in ("temperature", "heart_rate", "resp_rate", "wbc")}}])
    assert score_frame(frame, limits)["sirs"].iloc[0] == int(case["expected_sirs"])


def test_qsofa_agrees_with_vitalscore_on_random_sets(limits):
    frame = _random_complete_sets(3000, seed=7).drop(columns=["consciousness"])
    ours = score_frame(frame, limits)["qsofa"].tolist()
    theirs = [score_qsofa(int(r.gcs), int(r.resp_rate), int(r.sbp)).total for r in frame.itertuples()]
    assert ours == theirs


# --- partial sets: missing is never zero ------------------------------------------------------------

def test_missing_spo2_makes_news2_na_and_is_named(limits):
    out = score_frame(one_set(spo2=""), limits, detail=True).iloc[0]
    assert pd.isna(out["news2"]) and pd.isna(out["news2_band"])
    assert out["news2_missing"] == "spo2"
    assert pd.isna(out["news2_spo2"]) and out["news2_resp_rate"] == 0


def test_news2_missing_lists_parameters_in_fixed_order(limits):
    frame = pd.DataFrame([{"patient_id": "P1", "time": "2026-11-27T10:00:00Z", "temperature": 37.2, "sbp": None,
                           "heart_rate": 80}])
    out = score_frame(frame, limits).iloc[0]
    assert out["news2_missing"] == "resp_rate, spo2, on_oxygen, sbp, consciousness"
    nothing = score_frame(pd.DataFrame({"patient_id": ["P1"], "time": ["2026-11-27T10:00:00Z"]}), limits).iloc[0]
    assert nothing["news2_missing"] == ", ".join(NEWS2_PARAMETERS)
    assert pd.isna(nothing["news2"]) and pd.isna(nothing["qsofa"]) and pd.isna(nothing["sirs"])


@pytest.mark.parametrize("parameter", ["consciousness", "on_oxygen", "temperature", "resp_rate"])
@pytest.mark.parametrize("empty", ["", "  ", None])
def test_an_empty_cell_is_missing(parameter, empty, limits):
    out = score_frame(one_set(**{parameter: empty}), limits).iloc[0]
    assert pd.isna(out["news2"]) and out["news2_missing"] == parameter


def test_a_set_that_would_score_0_if_missing_were_0_is_still_na(limits):
    # Everything normal but heart rate missing: a "missing = 0" bug would give news2 0 (low).
    out = score_frame(one_set(heart_rate=None), limits).iloc[0]
    assert pd.isna(out["news2"]) and out["news2_missing"] == "heart_rate"


def test_qsofa_and_sirs_count_only_what_can_be_evaluated(limits):
    frame = pd.DataFrame([
        {"patient_id": "P1", "time": "2026-11-27T10:00:00Z", "resp_rate": 24},                  # RR only: 1 of 1
        {"patient_id": "P1", "time": "2026-11-27T11:00:00Z", "sbp": 130},                       # SBP only: 0 of 1
        {"patient_id": "P1", "time": "2026-11-27T12:00:00Z", "wbc": 2.0, "temperature": 38.5},  # SIRS 2 of 2
        {"patient_id": "P1", "time": "2026-11-27T13:00:00Z", "on_oxygen": "yes"},               # nothing for either
    ])
    out = score_frame(frame, limits, detail=True)
    assert out["qsofa"].tolist() == [1, 0, pd.NA, pd.NA]
    assert out["qsofa_criteria_evaluated"].tolist() == [1, 1, 0, 0]
    assert out["sirs"].tolist() == [1, pd.NA, 2, pd.NA]
    assert out["sirs_criteria_evaluated"].tolist() == [1, 0, 2, 0]


def test_spo2_scale_defaults_to_1_and_scale2_needs_the_oxygen_status_above_92(limits):
    out = score_frame(pd.DataFrame([
        {**NORMAL_SET, "spo2": 93, "spo2_scale": ""},                       # scale 1: 93 -> 2
        {**NORMAL_SET, "spo2": 93, "spo2_scale": None},
        {**NORMAL_SET, "spo2": 86, "spo2_scale": 2, "on_oxygen": ""},      # 86-87 -> 1 on air or oxygen
        {**NORMAL_SET, "spo2": 95, "spo2_scale": 2, "on_oxygen": ""},      # 95: 0 on air, 2 on oxygen
    ]), limits, detail=True)
    assert out["news2_spo2"].tolist() == [2, 2, 1, pd.NA]
    assert out["news2"].tolist() == [2, 2, pd.NA, pd.NA]
    assert out["news2_missing"].tolist() == ["", "", "on_oxygen", "spo2, on_oxygen"]
    without_column = score_frame(one_set(spo2=93).drop(columns=["spo2_scale"]), limits)
    assert without_column["news2"].iloc[0] == 2


# --- the frame: rows, order, columns, accepted spellings --------------------------------------------

def test_rows_order_index_and_input_columns_are_kept(limits):
    frame = _random_complete_sets(500, seed=3)
    frame.index = np.random.default_rng(1).permutation(np.arange(1000, 1500))
    frame["note"] = "kept"
    before = frame.copy()
    out = score_frame(frame, limits)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not modified
    pd.testing.assert_frame_equal(out[list(frame.columns)], before)
    assert list(out.columns) == [*frame.columns, "news2", "news2_band", "news2_missing", "qsofa", "sirs"]
    assert str(out["news2"].dtype) == "Int64" and str(out["qsofa"].dtype) == "Int64"
    assert out["news2_band"].cat.ordered and list(out["news2_band"].cat.categories) == list(NEWS2_BANDS)


def test_duplicate_index_labels_are_kept_positionally(limits):
    frame = pd.DataFrame([{**NORMAL_SET, "resp_rate": 25}, NORMAL_SET, {**NORMAL_SET, "spo2": None}], index=[7, 7, 7])
    out = score_frame(frame, limits)
    assert out.index.tolist() == [7, 7, 7] and out["news2"].tolist() == [3, 0, pd.NA]


def test_empty_frame_gives_empty_scores(limits):
    out = score_frame(pd.DataFrame(columns=["patient_id", "time", "resp_rate"]), limits, detail=True)
    assert len(out) == 0 and "news2" in out.columns and "news2_any3" in out.columns


@pytest.mark.parametrize("column, values, expected", [
    ("on_oxygen", ["TRUE", "yes", "1", "No", "false", "0"], [2, 2, 2, 0, 0, 0]),
    ("on_oxygen", [True, True, False, False, True, False], [2, 2, 0, 0, 2, 0]),
    ("on_oxygen", [1.0, 1, 0, 0.0, 1, 0], [2, 2, 0, 0, 2, 0]),
    ("consciousness", ["a", "A", " c ", "v", "P", "u"], [0, 0, 3, 3, 3, 3]),
])
def test_coded_columns_accept_their_spellings(column, values, expected, limits):
    frame = pd.DataFrame([{**NORMAL_SET, column: v} for v in values])
    if isinstance(values[0], bool):
        frame[column] = frame[column].astype(bool)
    assert score_frame(frame, limits, detail=True)[f"news2_{column}"].tolist() == expected


def test_numbers_may_arrive_as_text_and_times_as_aware_datetimes(limits):
    frame = one_set(resp_rate=" 25 ", temperature="38.1", sbp="120")
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    out = score_frame(frame, limits).iloc[0]
    assert out["news2"] == 4 and out["news2_band"] == "low-medium"
    mixed_zones = pd.DataFrame([{**NORMAL_SET, "time": "2026-03-29T00:30:00+00:00"},
                                {**NORMAL_SET, "time": "2026-03-29T02:30:00+01:00"},
                                {**NORMAL_SET, "time": " 2026-03-29 03:30:00+0100 "}])
    assert score_frame(mixed_zones, limits)["news2"].tolist() == [0, 0, 0]


# --- bad input --------------------------------------------------------------------------------------

@pytest.mark.parametrize("column, value, message", [
    ("spo2", 140, "row 3, column spo2: 140 is outside the plausible range 40–100 %"),
    ("sbp", "abc", "row 3, column sbp: 'abc' is not a number"),
    ("temperature", "38,3", "row 3, column temperature: '38,3' is not a number (use a decimal point"),
    ("temperature", 46.2, "row 3, column temperature: 46.2 is outside the plausible range 25.0–45.0 °C"),
    ("wbc", -1, "row 3, column wbc: -1 is outside the plausible range"),
    ("resp_rate", "1e2", "row 3, column resp_rate: '1e2' is not a number"),
    ("gcs", 14.5, "row 3, column gcs: 14.5 is not a whole number"),
    ("gcs", 16, "row 3, column gcs: 16 is outside the plausible range 3–15"),
    ("consciousness", "X", "row 3, column consciousness: 'X' is not an ACVPU level (A, C, V, P, U)"),
    ("consciousness", "alert", "row 3, column consciousness: 'alert' is not an ACVPU level"),
    ("spo2_scale", 3, "row 3, column spo2_scale: '3' is not a NEWS2 SpO2 scale: use 1 or 2"),
    ("on_oxygen", "maybe", "row 3, column on_oxygen: 'maybe' is not accepted: use true/false, yes/no or 1/0"),
    ("time", "2026-11-27T10:00:00", "row 3, column time: '2026-11-27T10:00:00' has no time zone"),
    ("time", "2026-11-27", "row 3, column time: '2026-11-27' has no time zone"),
    ("time", "yesterday", "row 3, column time: 'yesterday' is not an ISO 8601 date and time"),
    ("time", "", "row 3, column time: the time is missing"),
    ("patient_id", " ", "row 3, column patient_id: the patient id is missing"),
])
def test_bad_input_is_refused_naming_row_and_column(column, value, message, limits):
    rows = [dict(NORMAL_SET) for _ in range(4)]
    rows[2][column] = value
    frame = pd.DataFrame(rows)
    with pytest.raises(InputError) as caught:
        score_frame(frame, limits)
    assert str(caught.value).startswith(message)
    assert caught.value.problems[0][:2] == (3, column)


def test_python_datetimes_need_a_zone_too(limits):
    from datetime import datetime, timezone
    frame = pd.DataFrame([NORMAL_SET, NORMAL_SET])
    frame["time"] = pd.Series([datetime(2026, 11, 27, 10, tzinfo=timezone.utc), datetime(2026, 11, 27, 11)],
                              dtype=object)
    with pytest.raises(InputError, match="row 2, column time: '2026-11-27 11:00:00' has no time zone") as caught:
        score_frame(frame, limits)
    assert caught.value.total == 1


def test_naive_datetime_column_is_refused(limits):
    frame = one_set()
    frame["time"] = pd.to_datetime(frame["time"]).dt.tz_localize(None)
    with pytest.raises(InputError, match="row 1, column time: .* has no time zone"):
        score_frame(frame, limits)


@pytest.mark.parametrize("missing", ["patient_id", "time"])
def test_required_columns(missing, limits):
    with pytest.raises(InputError, match=f"column {missing}: required column is missing"):
        score_frame(one_set().drop(columns=[missing]), limits)


def test_a_duplicated_column_is_refused(limits):
    frame = pd.concat([one_set(), one_set()[["sbp"]]], axis=1)
    with pytest.raises(InputError, match="column sbp: the column appears more than once"):
        score_frame(frame, limits)


def test_an_existing_output_column_is_refused(limits):
    with pytest.raises(InputError, match="column news2: the input already has this output column"):
        score_frame(one_set(news2=3), limits)


def test_all_problems_are_reported_together_in_row_order(limits):
    rows = [dict(NORMAL_SET) for _ in range(30)]
    rows[4]["sbp"] = "low"
    rows[1]["temperature"] = 50
    for row in rows[5:]:
        row["consciousness"] = "Z"
    with pytest.raises(InputError) as caught:
        score_frame(pd.DataFrame(rows), limits)
    error = caught.value
    assert error.total == 27
    assert [p[:2] for p in error.problems[:3]] == [(2, "temperature"), (5, "sbp"), (6, "consciousness")]
    assert str(error).endswith("... and 7 more problems")


# --- thresholds -------------------------------------------------------------------------------------

def _section(name: str, change):
    """The section of the shipped file, changed, validated by its model as the file would be."""
    raw = tomllib.loads(THRESHOLDS_FILE.read_text(encoding="utf-8"))
    data = copy.deepcopy(raw[name])
    change(data)
    return parse_section(name, data, "thresholds.toml")


@pytest.mark.parametrize("name, change, key", [
    ("news2", lambda d: d["resp_rate"].update(upper_bounds=[8, 20, 11, 24]),
     "news2.resp_rate.upper_bounds: numbers must increase strictly"),
    ("news2", lambda d: d["sbp"].update(points=[3, 2, 1, 0]), "news2.sbp.points: expected 5 numbers, found 4"),
    ("news2", lambda d: d["temperature"].update(points=[3, 1, 0, 1.5, 2]),
     "news2.temperature.points: item 4: found 1.5, expected a whole number at least 0"),
    ("news2", lambda d: d["heart_rate"].pop("upper_bounds"), "news2.heart_rate.upper_bounds: missing"),
    ("news2", lambda d: d["heart_rate"].update(upper_bound=[1]),
     "news2.heart_rate.upper_bound: unknown key (known: points, upper_bounds)"),
    ("news2", lambda d: d["consciousness"]["points"].pop("U"), "news2.consciousness.points.U: missing"),
    ("news2", lambda d: d["bands"].update(aggregate_bands=["low", "high", "medium"]),
     "news2.bands.aggregate_bands: bands must rise in urgency"),
    ("news2", lambda d: d["bands"].update(red_score_band="red"),
     "news2.bands.red_score_band: found 'red', expected one of low, low-medium, medium, high"),
    ("news2", lambda d: d["bands"]["source"].update(status="probably"),
     "news2.bands.source.status: found 'probably', expected one of verified, secondary"),
    ("news2", lambda d: d["response"]["high"].update(frequency_hours=24),
     "news2.response: frequency_hours must not rise with urgency"),
    ("qsofa", lambda d: d.update(positive_at_or_above=4),
     "qsofa.positive_at_or_above: found 4, expected a whole number from 1 to 3"),
    ("qsofa", lambda d: d.update(altered_consciousness=["C", "X"]),
     "qsofa.altered_consciousness: item 2: found 'X', expected one of A, C, V, P, U"),
    ("qsofa", lambda d: d.update(altered_consciousness=["C", "C"]), "qsofa.altered_consciousness: expected distinct"),
    ("qsofa", lambda d: d.update(sbp_at_or_below="100"), "qsofa.sbp_at_or_below: found '100', expected a number"),
    ("sirs", lambda d: d.update(wbc_below=13.0), "sirs.wbc_below: must be below wbc_above"),
    ("sirs", lambda d: d.pop("heart_rate_above"), "sirs.heart_rate_above: missing"),
])
def test_invalid_thresholds_are_refused_naming_the_key(name, change, key):
    with pytest.raises(ThresholdsError, match="thresholds.toml: " + re.escape(key)):
        _section(name, change)


def test_thresholds_file_cites_each_source_with_its_status(limits):
    news2 = limits["news2"]
    assert news2.source.status == "verified" and "Chart 1" in news2.source.table
    assert news2.bands_source.status == "secondary" and "Chart 2" in news2.bands_source.table
    assert news2.response_source.status == "verified" and "Chart 4" in news2.response_source.table
    assert limits["qsofa"].source.status == "verified" and "Sepsis-3" in limits["qsofa"].source.document
    assert limits["sirs"].source.status == "verified" and "1992" in limits["sirs"].source.document


def test_the_scores_module_registers_its_sections():
    assert "monitoring.clinical.scores" in thresholds.RULE_MODULES
    assert {"news2", "qsofa", "sirs"} <= set(thresholds.SECTIONS)
    assert thresholds.SECTIONS["news2"] is scores.News2Thresholds
