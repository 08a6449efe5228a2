"""The patient chart's data (one patient, one period) on SQLite and PostgreSQL, and the page itself."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import streamlit as st

from monitoring.clinical.inputs import ObservationInput as In
from monitoring.services import auth
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.views.alerts import list_alerts
from monitoring.views.patient_chart import (
    PERIODS,
    chart_data,
    course_start,
    ctcae_bands,
    cycle_start,
    period_bounds,
    reference_range,
)
from tests.app_helpers import signed_in
from tests.conftest import seed_demo_ward
from tests.factories import NOW

LONDON = ZoneInfo("Europe/London")  # GMT in November: local clock = UTC
NORMAL = [In("resp_rate", 16), In("spo2", 97), In("on_oxygen", "no"), In("sbp", 125), In("heart_rate", 80),
          In("consciousness", "A"), In("temperature", 37.0)]


def record(session, patient_id, course_id, at, values, source="manual"):
    repository.add_observation_set(session=session, patient_id=patient_id, course_id=course_id, values=values,
                                   observed_at=at, recorded_by="tester", source=source, now=at,
                                   confirmed={v.code for v in values})


@pytest.fixture
def patient(engine):
    """Cycle 1 three weeks ago, cycle 2 started two days ago; sets, labs, fluids, weight and doses."""
    with session_scope(engine) as s:
        ward = repository.get_or_create_ward(session=s, code="T", name="Test ward")
        p = repository.add_patient(session=s, mrn="SYN-CHART-1", given_name="Test", family_name="Person",
                                   recorded_by="tester", ward_id=ward.id, is_synthetic=True,
                                   admitted_at=NOW - timedelta(days=22))
        baselines = dict(baseline_weight_kg=80, baseline_creatinine_mg_dl=0.9, created_by="tester",
                         regimen="hd-iv-bolus")
        first = repository.add_course(session=s, patient_id=p.id, cycle=1, start_at=NOW - timedelta(days=21),
                                      usual_sbp_mm_hg=118, **baselines)
        second = repository.add_course(session=s, patient_id=p.id, cycle=2, start_at=NOW - timedelta(days=2),
                                       usual_sbp_mm_hg=125, **baselines)
        repository.record_dose(session=s, course_id=first.id, dose_number=1, status="given", recorded_by="tester",
                               scheduled_at=NOW - timedelta(days=21), given_at=NOW - timedelta(days=21))
        record(s, p.id, first.id, NOW - timedelta(days=10), [In("temperature", 37.2)])
        record(s, p.id, second.id, NOW - timedelta(hours=30), NORMAL)
        record(s, p.id, second.id, NOW - timedelta(hours=26), [In("platelets", 60, ref_low=150, ref_high=400),
                                                               In("creatinine", 1.5, ref_low=0.6, ref_high=1.2),
                                                               In("albumin", 2.8)], source="lab-import")
        record(s, p.id, second.id, NOW - timedelta(hours=4), [
            In("fluid_intake", 700, period_start=NOW - timedelta(hours=12)), In("weight", 84)])
        record(s, p.id, second.id, NOW - timedelta(hours=3), [In("resp_rate", 25), *NORMAL[1:]])
        record(s, p.id, second.id, NOW - timedelta(hours=2), [
            In("resp_rate", 21), In("spo2", 94), In("on_oxygen", "yes"), In("o2_flow", 2), In("sbp", 105),
            In("heart_rate", 111), In("consciousness", "A"), In("temperature", 39.2)])
        record(s, p.id, second.id, NOW - timedelta(hours=1), [
            In("temperature", 38.4), In("fluid_intake", 900, period_start=NOW - timedelta(hours=3)),
            In("urine_output", 300, period_start=NOW - timedelta(hours=3))])
        repository.record_dose(session=s, course_id=second.id, dose_number=1, status="given", recorded_by="tester",
                               scheduled_at=NOW - timedelta(hours=3.5), given_at=NOW - timedelta(hours=3.5))
        repository.record_dose(session=s, course_id=second.id, dose_number=2, status="held", recorded_by="tester",
                               scheduled_at=NOW - timedelta(minutes=30), reason="SBP 84 despite fluids")
        sync_alerts(session=s, patient_ids=[p.id], now=NOW)
        return SimpleNamespace(id=p.id, first=first.id, second=second.id)


def data_for(engine, patient, period):
    with session_scope(engine) as s:
        return chart_data(session=s, patient_id=patient.id, period=period, now=NOW, tz=LONDON)


def test_each_period_shows_its_own_span_and_nothing_outside_it(engine, patient):
    day, cycle, course = (data_for(engine, patient, p) for p in ("24h", "cycle", "course"))
    assert (day.start, day.end) == (NOW - timedelta(hours=24), NOW)
    assert cycle.start == NOW - timedelta(days=3)  # 24 h before cycle 2 began: its baseline is on the chart
    assert course.start == NOW - timedelta(days=22)  # from the admission, before cycle 1's start
    for data in (day, cycle, course):
        assert data.vitals["time"].between(data.start, data.end).all()
        assert str(data.vitals["time"].dt.tz) == "UTC"
    temperatures = {p: d.vitals.loc[d.vitals["code"] == "temperature", "value_num"].tolist()
                    for p, d in (("24h", day), ("cycle", cycle), ("course", course))}
    assert temperatures["24h"] == [37.0, 39.2, 38.4]
    assert temperatures["cycle"] == [37.0, 37.0, 39.2, 38.4]
    assert temperatures["course"] == [37.2, 37.0, 37.0, 39.2, 38.4]
    assert day.doses["dose_number"].tolist() == [1, 2] and cycle.doses["dose_number"].tolist() == [1, 2]
    assert course.doses["dose_number"].tolist() == [1, 1, 2]  # cycle 1's dose too
    assert day.doses["status"].tolist() == ["given", "held"]
    assert day.doses["reason"].tolist()[1] == "SBP 84 despite fluids"


def test_news2_per_set_with_its_band_and_the_incomplete_set_unscored(engine, patient):
    news2 = data_for(engine, patient, "cycle").news2
    # RCP Chart 1: normal set 0; RR 25 alone scores 3 (low-medium); RR 21 (2), SpO2 94 (1), oxygen (2),
    # SBP 105 (1), HR 111 (2), alert (0), T 39.2 (2) = 10 (high); a temperature alone is not scored.
    assert news2["news2"].tolist()[:3] == [0, 3, 10] and pd.isna(news2["news2"].iloc[3])
    assert news2["band"].tolist()[:3] == ["low", "low-medium", "high"]
    assert news2["any3"].tolist()[:3] == [False, True, False]
    assert "resp_rate" in news2["missing"].iloc[3]
    assert news2["subscores"].iloc[2].startswith("RR 2 · SpO₂ 1 · O₂ 2 · SBP 1 · HR 2 · ACVPU 0 · T 2")


def test_fluids_per_shift_keep_a_missing_volume_missing(engine, patient):
    fluids = data_for(engine, patient, "24h").fluids
    # 06:00 belongs to the night shift (23:00-07:00), 09:00 to the day shift (07:00-15:00).
    assert fluids["shift_start"].tolist() == [pd.Timestamp("2026-11-26T23:00Z"), pd.Timestamp("2026-11-27T07:00Z")]
    assert fluids["intake_ml"].tolist() == [700, 900]
    assert np.isnan(fluids["urine_ml"].iloc[0]) and np.isnan(fluids["balance_ml"].iloc[0])
    assert (fluids["urine_ml"].iloc[1], fluids["balance_ml"].iloc[1]) == (300, 600)


def test_weight_gain_is_measured_from_the_course_baseline(engine, patient):
    data = data_for(engine, patient, "24h")
    assert (data.baseline_weight_kg, data.baseline_weight_source) == (80.0, "course baseline")
    assert data.weights[["weight_kg", "gain_kg", "gain_percent"]].iloc[0].tolist() == [84.0, 4.0, 5.0]


def test_sbp_target_comes_from_the_current_cycles_usual_sbp(engine, patient):
    data = data_for(engine, patient, "24h")
    assert (data.usual_sbp, data.sbp_target) == (125.0, 90.0)  # HD card: usual > 120 -> target > 90


def test_labs_carry_their_range_and_the_published_ctcae_bands(engine, patient):
    data = data_for(engine, patient, "cycle")
    assert sorted(data.labs["code"]) == ["albumin", "creatinine", "platelets"]
    ranges = data.lab_ranges.set_index("code")
    assert ranges.loc["platelets", ["ref_low", "ref_high", "source"]].tolist() == [150.0, 400.0, "laboratory"]
    assert ranges.loc["albumin", "source"] == "local default"  # the result came without one
    assert data.lab_bands["platelets"] == [(1, 75.0, 150.0), (2, 50.0, 75.0), (3, 25.0, 50.0), (4, 0.0, 25.0)]
    assert [(g, lo, pytest.approx(hi)) for g, lo, hi in data.lab_bands["creatinine"][:3]] == [
        (1, 1.2, 1.8), (2, 1.8, 3.6), (3, 3.6, 7.2)]  # >ULN-1.5, >1.5-3.0, >3.0-6.0 x ULN 1.2 mg/dL


def test_daily_grades_use_the_courses_baseline_creatinine(engine, patient):
    grades = data_for(engine, patient, "cycle").grades.set_index(["day", "organ_system"])
    # Creatinine 1.5 is 1.25 x ULN (grade 1) but 1.67 x the baseline 0.9 (grade 2 by the baseline arm).
    assert grades.loc[(date(2026, 11, 26), "renal and fluid"), "grade"] == 2
    assert grades.loc[(date(2026, 11, 26), "hematologic"), "grade"] == 2  # platelets 60 x10^9/L
    assert grades.loc[(date(2026, 11, 27), "constitutional and infection"), "grade"] == 2  # 39.2 °C
    assert "39.2 °C grade 2" in grades.loc[(date(2026, 11, 27), "constitutional and infection"), "detail"]


def test_alerts_of_the_period_come_with_their_evidence(engine, patient):
    data = data_for(engine, patient, "24h")
    with session_scope(engine) as s:
        stored = list_alerts(session=s, patient_ids=[patient.id])
    expected = stored[(stored["onset_at"] >= data.start) & (stored["status"] != "retracted")]
    assert len(data.alerts) == len(expected) > 0
    assert sorted(data.alerts["rule_id"]) == sorted(expected["rule_id"])
    assert (data.alerts["evidence_text"].str.len() > 0).all() and data.alerts["onset_at"].is_monotonic_increasing


def test_an_unknown_patient_or_period_is_refused(engine, patient):
    with session_scope(engine) as s:
        with pytest.raises(ValueError, match="Patient 999"):
            chart_data(session=s, patient_id=999, period="24h", now=NOW, tz=LONDON)
        with pytest.raises(ValueError, match="Unknown period 'week'"):
            chart_data(session=s, patient_id=patient.id, period="week", now=NOW, tz=LONDON)


# --- pure parts --------------------------------------------------------------------------------------

def test_platelet_bands_are_the_ctcae_v5_cut_offs():
    # CTCAE v5.0 Platelet count decreased: 1 <LLN-75; 2 <75-50; 3 <50-25; 4 <25 x10^9/L.
    assert ctcae_bands("platelets", ref_low=150, ref_high=450) == [
        (1, 75.0, 150.0), (2, 50.0, 75.0), (3, 25.0, 50.0), (4, 0.0, 25.0)]
    # Without the LLN, grade 1 cannot be drawn; grades 2-4 are absolute.
    assert [b[0] for b in ctcae_bands("platelets", ref_low=None, ref_high=None)] == [2, 3, 4]


def test_creatinine_bands_need_the_uln():
    # CTCAE v5.0 Creatinine increased: 1 >ULN-1.5; 2 >1.5-3.0; 3 >3.0-6.0; 4 >6.0 x ULN.
    bands = ctcae_bands("creatinine", ref_low=0.7, ref_high=1.0)
    assert [(g, pytest.approx(lo), pytest.approx(hi)) for g, lo, hi in bands[:3]] == [
        (1, 1.0, 1.5), (2, 1.5, 3.0), (3, 3.0, 6.0)]
    assert bands[3][:2] == (4, 6.0)
    assert ctcae_bands("creatinine", ref_low=None, ref_high=None) == []
    assert ctcae_bands("crp", ref_low=0, ref_high=5) == []  # no numeric CTCAE term


def test_potassium_has_both_directions():
    grades_below = [g for g, lo, hi in ctcae_bands("potassium", ref_low=3.5, ref_high=5.1) if hi <= 3.5]
    grades_above = [g for g, lo, hi in ctcae_bands("potassium", ref_low=3.5, ref_high=5.1) if lo >= 5.1]
    assert grades_below == [1, 3, 4] and grades_above == [1, 2, 3, 4]  # hypokalemia has no numeric grade 2


def test_a_missing_reference_limit_is_filled_like_the_grader_does():
    assert reference_range("creatinine", None, None) == (0.6, 1.2, "local default")
    assert reference_range("creatinine", 0.5, None) == (0.5, 1.2, "laboratory and local default")
    assert reference_range("crp", None, None) == (None, None, "none")


def test_period_bounds():
    now = NOW
    assert period_bounds("24h", now=now) == (pd.Timestamp(now - timedelta(hours=24)), pd.Timestamp(now))
    assert period_bounds("cycle", now=now, cycle_start=now - timedelta(days=5))[0] == now - timedelta(days=6)
    # A cycle planned to start in a few hours still shows the last 24 h.
    assert period_bounds("cycle", now=now, cycle_start=now + timedelta(hours=5))[0] == now - timedelta(hours=24)
    assert period_bounds("course", now=now, course_start=now - timedelta(days=20),
                         admitted_at=now - timedelta(days=19))[0] == now - timedelta(days=21)
    assert set(PERIODS) == {"24h", "cycle", "course"}
    with pytest.raises(ValueError):
        period_bounds("month", now=now)


def test_a_gap_of_more_than_three_days_between_doses_starts_a_new_cycle():
    course = SimpleNamespace(id=1, start_at=NOW - timedelta(days=20))
    times = [NOW - timedelta(days=20), NOW - timedelta(days=19), NOW - timedelta(days=5), NOW - timedelta(days=4)]
    doses = pd.DataFrame({"course_id": 1, "given_at": pd.to_datetime(times, utc=True),
                          "scheduled_at": pd.to_datetime(times, utc=True)})
    assert cycle_start(course, doses) == NOW - timedelta(days=5)
    assert cycle_start(course, doses.iloc[:2]) == NOW - timedelta(days=20)


def test_course_start_walks_back_over_the_cycles_of_one_course():
    row = lambda i, cycle, days: SimpleNamespace(id=i, cycle=cycle, start_at=NOW - timedelta(days=days))  # noqa: E731
    assert course_start([row(1, 1, 90), row(2, 1, 30), row(3, 2, 15)]) == NOW - timedelta(days=30)
    assert course_start([row(5, 2, 3)]) == NOW - timedelta(days=3)  # cycle 1 not recorded here
    assert course_start([]) is None


# --- the page ----------------------------------------------------------------------------------------

@pytest.fixture
def ward_url(app_db_url):
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    seed_demo_ward(app_db_url, patients=2, days=4, seed=5, end=end, sync=True)
    return app_db_url


def chart_specs(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_the_chart_page_draws_every_chart_and_switches_period(ward_url):
    at = signed_in("oncologist", page="app_pages/chart.py")
    assert not at.exception
    assert at.title[0].value == "Patient chart"
    specs = chart_specs(at)
    assert len(specs) == 5
    assert [c.value for c in at.subheader] == ["Vital signs", "NEWS2", "Fluids and weight", "Laboratory results",
                                               "Toxicity grid"]
    names = {trace.get("name") for trace in specs[0]["data"]}
    assert {"Temperature", "IL-2 dose given"} <= names  # the demo patient has vital signs and doses
    assert any(c.value.startswith("Decision support: shows the basis") for c in at.caption)
    assert any("last 24 h:" in c.value for c in at.caption)
    day_start = specs[0]["layout"]["xaxis"]["range"][0]

    at.radio(key="chart_period").set_value("course").run()
    assert not at.exception
    assert any("whole course:" in c.value for c in at.caption)
    assert not any("last 24 h:" in c.value for c in at.caption)
    course_start_shown = chart_specs(at)[0]["layout"]["xaxis"]["range"][0]
    assert course_start_shown < day_start  # the axis now reaches back to the course's start

    at.selectbox(key="chart_patient").select_index(1).run()
    assert not at.exception and len(chart_specs(at)) == 5


def test_the_other_labs_all_within_range_are_one_toggle_away(ward_url):
    at = signed_in("oncologist", page="app_pages/chart.py")
    at.radio(key="chart_period").set_value("course").run()
    toggle = at.toggle(key="chart_other_labs")
    assert toggle.label.startswith("Show the ") and "all within their reference range" in toggle.label
    shown = len(chart_specs(at))
    toggle.set_value(True).run()
    assert not at.exception and len(chart_specs(at)) == shown + 1
    extra = {a.get("text", "").split(" (")[0] for a in chart_specs(at)[-2]["layout"].get("annotations", [])}
    first = {a.get("text", "").split(" (")[0] for a in chart_specs(at)[3]["layout"].get("annotations", [])}
    assert "Neutrophils" not in " ".join(extra) and not ({"Sodium", "Potassium"} & first & extra)


def test_a_nurse_without_patients_with_a_course_is_told_so(app_db_url):
    engine = make_engine(app_db_url)
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="DEMO", name="Demo ward")
        patient = repository.add_patient(session=session, mrn="SYN-NO-COURSE", given_name="No", family_name="Course",
                                         recorded_by="tester", ward_id=ward.id, is_synthetic=True)
        record(session, patient.id, None, NOW, NORMAL)  # observed, but no IL-2 course: nothing to chart
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    engine.dispose()
    at = signed_in("nurse", page="app_pages/chart.py")
    assert not at.exception and not at.get("plotly_chart")
    assert "No patients with an IL-2 course yet." in [i.value for i in at.info]
    st.cache_resource.clear()
