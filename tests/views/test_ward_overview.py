"""Ward overview and patient summary, as a clinician reads them: riskiest patient first, the NEWS2 of
the last complete set, overdue sets, today's CTCAE grades per organ system (empty is not 0), and
the summary's course, doses with reasons and data freshness. Repository paths on SQLite and
PostgreSQL (the `engine` fixture); the pages under AppTest."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import streamlit as st

from monitoring.clinical.inputs import ObservationInput
from monitoring.services import auth, doses, entry
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.views import lists
from monitoring.views.summary import patient_summary
from monitoring.views.ward import grades_text, last_sets, overview_rows, ward_overview
from tests.app_helpers import signed_in
from tests.factories import make_patient_with_course

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
FULL_SET = dict(resp_rate=16, spo2=97, on_oxygen="no", sbp=120, heart_rate=80, consciousness="A", temperature=37.0)


def observe(engine, patient_id: int, at: datetime, **values) -> None:
    inputs = [ObservationInput(code, value) for code, value in values.items()]
    with session_scope(engine) as session:
        repository.add_observation_set(session=session, patient_id=patient_id, values=inputs, observed_at=at,
                                       recorded_by="nurse.a", now=at, confirmed=list(values))


def overview(engine, now=NOW) -> pd.DataFrame:
    with session_scope(engine) as session:
        wards = [w.id for w in lists.list_wards(session=session)]
        return ward_overview(session=session, ward_ids=wards, now=now, tz=LONDON)


# --- pure: last sets and the rows -------------------------------------------------------------------

def obs_frame(rows) -> pd.DataFrame:
    """Rows of (patient, minutes before NOW, code, value[, source])."""
    records = []
    for patient, minutes, code, value, *source in rows:
        coded = isinstance(value, str)
        records.append({"patient_id": patient, "code": code, "value_num": None if coded else float(value),
                        "value_code": value if coded else None, "ref_low": None, "ref_high": None,
                        "observed_at": NOW - timedelta(minutes=minutes), "source": source[0] if source else "manual"})
    return pd.DataFrame(records)


def full_set(patient, minutes, **changes):
    return [(patient, minutes, code, value) for code, value in {**FULL_SET, **changes}.items()]


def test_news2_is_that_of_the_last_complete_set_and_a_later_partial_set_counts_as_the_last_set():
    rows = full_set(1, 120, resp_rate=25) + [(1, 30, "temperature", 38.5)]  # RR 25 scores 3
    sets = last_sets(obs_frame(rows)).set_index("patient_id")
    assert sets.loc[1, "news2"] == 3 and sets.loc[1, "news2_band"] == "low-medium"  # 3 in one parameter
    assert sets.loc[1, "last_set_at"] == NOW - timedelta(minutes=30)
    assert sets.loc[1, "scored_at"] == NOW - timedelta(minutes=120)
    assert sets.loc[1, "frequency_hours"] == 1  # RCP Chart 4: 3 in one parameter -> minimum 1-hourly


def test_a_ward_with_only_partial_sets_has_no_news2_and_no_error():
    sets = last_sets(obs_frame([(1, 30, "temperature", 38.5), (2, 40, "sbp", 80)])).set_index("patient_id")
    assert sets["scored_at"].isna().all() and sets["news2"].isna().all()
    assert sets.loc[2, "last_set_at"] == NOW - timedelta(minutes=40)


def test_lab_results_are_not_observation_sets():
    rows = full_set(1, 300) + [(1, 10, "creatinine", 1.0, "lab-import")]
    sets = last_sets(obs_frame(rows)).set_index("patient_id")
    assert sets.loc[1, "last_set_at"] == NOW - timedelta(minutes=300)


def patients(*ids, last_dose_hours_ago: float = 30, regimen: str = "hd-iv-bolus",
             last_dose_status: str = "given") -> pd.DataFrame:
    """Ward-list rows. By default the last dose was 30 h ago: IL-2 no longer runs, so NEWS2 alone sets
    the next set (the regimen's intervals are tested on their own below)."""
    return pd.DataFrame([{"patient_id": i, "ward": "W", "bed": f"B{i}", "name": f"P{i}", "mrn": f"M{i}",
                          "is_synthetic": True, "course_id": i, "regimen": regimen, "cycle": 1,
                          "course_start": NOW - timedelta(days=2), "planned_doses": 14, "doses_given": 3,
                          "last_dose_status": last_dose_status,
                          "last_dose_at": NOW - timedelta(hours=last_dose_hours_ago),
                          "last_set_at": pd.NaT} for i in ids])


def rows_for(obs, open_alerts=None) -> pd.DataFrame:
    return overview_rows(patients(1, 2, 3, 4), obs, open_alerts=open_alerts or {}, baseline_creatinine={},
                         now=NOW, tz=LONDON)


def test_riskiest_first_open_alert_severity_then_news2_then_overdue():
    obs = obs_frame(full_set(1, 30) + full_set(2, 30, resp_rate=25, sbp=95) + full_set(3, 30, resp_rate=21)
                    + full_set(4, 13 * 60))  # 4: NEWS2 0, 12-hourly -> overdue by 1 h
    frame = rows_for(obs, open_alerts={1: {"warning": 1}})
    # 1 has an open alert; 2 NEWS2 5 (medium) > 3 NEWS2 2 (low) ... 4 NEWS2 0 but overdue.
    assert frame["Bed"].tolist() == ["B1", "B2", "B3", "B4"]
    assert frame.set_index("Bed").loc["B2", "band"] == "medium"
    assert frame.set_index("Bed").loc["B4", "overdue"]
    assert frame.set_index("Bed").loc["B4", "Next set"] == "overdue 1 h 0 min (NEWS2)"
    frame = rows_for(obs, open_alerts={3: {"emergency": 1}, 1: {"urgent": 2}})
    assert frame["Bed"].tolist()[:3] == ["B3", "B1", "B2"]


@pytest.mark.parametrize("minutes_ago, news2_changes, due, overdue", [
    (59, dict(resp_rate=25), "in 1 min (NEWS2)", False),        # 3 in one parameter: 1-hourly (RCP Chart 4)
    (60, dict(resp_rate=25), "overdue 0 min (NEWS2)", True),    # at the interval: due now, shown as overdue
    (61, dict(resp_rate=25), "overdue 1 min (NEWS2)", True),
    (4 * 60 - 1, dict(heart_rate=95), "in 1 min (NEWS2)", False),  # NEWS2 1 (low): 4-hourly
    (4 * 60 + 1, dict(heart_rate=95), "overdue 1 min (NEWS2)", True),
])
def test_due_and_overdue_by_elapsed_time_from_the_last_complete_set(minutes_ago, news2_changes, due, overdue):
    frame = overview_rows(patients(1), obs_frame(full_set(1, minutes_ago, **news2_changes)), open_alerts={},
                          baseline_creatinine={}, now=NOW, tz=LONDON)
    assert (frame.loc[0, "Next set"], bool(frame.loc[0, "overdue"])) == (due, overdue)


@pytest.mark.parametrize("last, scored, news2, hours, text", [
    (None, None, None, None, "no observation set recorded yet: due now"),
    (190, 190, 1, 4, "last set 3 h 10 min ago, next due in 50 min (NEWS2 1: minimum every 4 h)"),
    (190, 190, 5, 1, "last set 3 h 10 min ago, due 2 h 10 min ago (NEWS2 5: minimum hourly)"),
    (30, 190, 1, 4, "last set 30 min ago; last complete set 3 h 10 min ago, next due in 50 min "
                    "(NEWS2 1: minimum every 4 h)"),
    (30, None, None, None, "last set 30 min ago (no complete set with a NEWS2 in the last 24 h), next due in "
                           "3 h 30 min (no complete set: NEWS2 1-4 interval, every 4 h)"),
    (30, 30, 7, 0, "last set 30 min ago; continuous monitoring (NEWS2 7 or more)"),
])
def test_the_record_page_says_when_the_next_set_is_due_by_elapsed_time(last, scored, news2, hours, text):
    def ago(m):
        return None if m is None else NOW - timedelta(minutes=m)
    assert entry.due_text(ago(last), ago(scored), hours, NOW, news2=news2) == text


def test_on_il2_the_record_page_names_the_regimens_interval():
    """NEWS2 0 (12-hourly) 2 h after a bolus: the post-dose hourly check is due, and said so."""
    text = entry.due_text(NOW - timedelta(minutes=30), NOW - timedelta(minutes=30), 12, NOW, news2=0,
                          regimen="hd-iv-bolus", last_dose_status="given", last_dose_at=NOW - timedelta(hours=2),
                          tz=LONDON)
    assert text == ("last set 30 min ago, next due in 30 min (IL-2 post-dose hourly checks (1-4 h after the dose "
                    "given at 10:00))")


def test_a_patient_without_any_set_is_due_now_and_shows_no_news2():
    frame = overview_rows(patients(1), None, open_alerts={}, baseline_creatinine={}, now=NOW, tz=LONDON)
    assert (frame.loc[0, "NEWS2"], frame.loc[0, "Last set"], frame.loc[0, "Next set"]) == (
        "–", "none recorded", "due now: no set recorded")


def test_a_partial_set_after_the_complete_one_shows_both_ages():
    rows = full_set(1, 120, resp_rate=25) + [(1, 30, "temperature", 38.5)]
    frame = overview_rows(patients(1), obs_frame(rows), open_alerts={}, baseline_creatinine={}, now=NOW, tz=LONDON)
    assert (frame.loc[0, "NEWS2"], frame.loc[0, "Last set"]) == ("3 (3 in one)", "30 min (full 2 h 0 min)")
    assert frame.loc[0, "Next set"] == "overdue 1 h 0 min (NEWS2)"  # 1-hourly after the complete set
    assert frame.loc[0, "overdue"]


def test_todays_grades_per_organ_system_are_the_highest_and_empty_is_not_zero():
    obs = obs_frame([(1, 60, "platelets", 40), (1, 30, "platelets", 80), (1, 20, "diarrhea", 1)])
    obs.loc[obs["code"] == "platelets", ["ref_low", "ref_high"]] = (150, 400)
    frame = overview_rows(patients(1), obs, open_alerts={}, baseline_creatinine={}, now=NOW, tz=LONDON)
    row = frame.loc[0]
    assert row["Heme"] == 3          # platelets 40: CTCAE v5.0 grade 3 (<50,000-25,000/mm3)
    assert row["GI"] == 1
    assert pd.isna(row["Renal"])     # nothing graded: empty, never 0
    assert "Platelets 40 ×10⁹/L grade 3 at 11:00" in row["grade_detail"]
    assert row["CTCAE today"] == "Heme 3 · GI 1"


@pytest.mark.parametrize("cells, text", [
    ({"Heme": pd.NA, "GI": pd.NA}, "–"),              # nothing graded today
    ({"Heme": 0, "GI": pd.NA}, "all 0"),              # graded and normal
    ({"Heme": 1, "GI": 2, "Renal": 0}, "GI 2 · Heme 1"),  # worst first, grade 0 left out
])
def test_the_ctcae_column_names_abnormal_systems_worst_first_and_tells_normal_from_missing(cells, text):
    assert grades_text(cells) == text


def test_yesterdays_grades_are_not_todays():
    obs = obs_frame([(1, 13 * 60, "platelets", 40)])  # 23:00 yesterday, London time
    frame = overview_rows(patients(1), obs, open_alerts={}, baseline_creatinine={}, now=NOW, tz=LONDON)
    assert pd.isna(frame.loc[0, "Heme"])


# --- from the store ------------------------------------------------------------------------------------

def test_the_overview_from_the_store_shows_each_patient_with_news2_doses_and_alerts(engine):
    first, course = make_patient_with_course(engine, mrn="SYN-A", start=NOW - timedelta(hours=20))
    second, _ = make_patient_with_course(engine, mrn="SYN-B", start=NOW - timedelta(hours=20))
    observe(engine, first, NOW - timedelta(minutes=20), **{**FULL_SET, "resp_rate": 25, "sbp": 88,
                                                          "temperature": 38.9})
    observe(engine, second, NOW - timedelta(minutes=20), **FULL_SET)
    with session_scope(engine) as session:
        doses.record(session=session, course_id=course, dose_number=1, status="given",
                      scheduled_at=NOW - timedelta(hours=20), given_at=NOW - timedelta(hours=20), dose=48e6,
                      recorded_by="nurse.a", now=NOW - timedelta(hours=19),
                      override_by="Dr Test", override_reason="test set-up: no pre-dose observations")
    frame = overview(engine)
    assert frame["Patient"].tolist()[0] == "Person, Test (synthetic)"
    top = frame.iloc[0]
    assert (top["patient_id"] == first and top["band"] == "high"
            and top["NEWS2"] == "7")  # RR 25: 3, SBP 88: 3, T 38.9: 1
    assert top["Open alerts"] != "none" and top["Course"] == "HD IV bolus q8h · C1 D1 · 1/14"
    # IL-2 running (a dose 20 h ago): the next dose's forecast, 'hold' for SBP 88, in the cell and in words.
    assert top["Last dose"] == "given 20 h 0 min" and top["Next dose"] == "dose 2 due 00:00 (overdue): HOLD"
    assert top["forecast"].startswith("dose 2 due 00:00 (overdue): HOLD if these stay: SBP 88 mmHg at 27 Nov 11:40")
    assert "no valid value for" in top["forecast"]          # the test patient has no labs or urine output
    assert pd.isna(frame.iloc[1]["forecast"])                # no dose: no IL-2 running, no forecast
    assert frame.iloc[1]["NEWS2"] == "0" and frame.iloc[1]["Open alerts"] == "none"


def test_the_patient_summary_lists_course_eligibility_baselines_doses_with_reasons_and_freshness(engine):
    patient, course = make_patient_with_course(engine, start=NOW - timedelta(hours=20))
    with session_scope(engine) as session:
        repository.record_eligibility(session=session, course_id=course, answers={"on_steroids": "yes"},
                                      notes={"on_steroids": "prednisolone for rash"}, answered_by="dr.a",
                                      answered_at=NOW - timedelta(hours=21))
        doses.record(session=session, course_id=course, dose_number=1, status="given",
                      scheduled_at=NOW - timedelta(hours=20), given_at=NOW - timedelta(hours=20), dose=48e6,
                      recorded_by="nurse.a", now=NOW - timedelta(hours=19),
                      override_by="Dr Test", override_reason="test set-up: no pre-dose observations")
        doses.record(session=session, course_id=course, dose_number=2, status="held", reason="SBP 84 mmHg",
                      scheduled_at=NOW - timedelta(hours=12), recorded_by="nurse.a", now=NOW - timedelta(hours=12))
    observe(engine, patient, NOW - timedelta(hours=5), **FULL_SET)
    with session_scope(engine) as session:
        summary = patient_summary(session=session, patient_id=patient, now=NOW, tz=LONDON)
    assert summary.course["Doses"] == "1 given of 14 planned; 1 held; 0 stopped"
    steroids = summary.eligibility.set_index("Item").loc["On systemic steroids"]
    assert (steroids["Answer"], steroids["Note"]) == ("yes", "prednisolone for rash")
    assert summary.eligibility.set_index("Item").loc["Bedbound", "Answer"] == "not answered"
    assert summary.baseline.set_index("Value").loc["Creatinine", "Baseline"] == "0.9 mg/dL"
    assert summary.doses[["Dose", "Status", "Reason"]].values.tolist() == [[1, "given", ""], [2, "held", "SBP 84 mmHg"]]
    fresh = summary.freshness.set_index("Data")
    assert fresh.loc["Vital signs", "State"] == "stale: not used by the rules"  # 5 h old, valid 4 h
    assert fresh.loc["Laboratory results", "State"] == "missing"


# --- the pages -----------------------------------------------------------------------------------------

@pytest.fixture
def page_db(db_url, monkeypatch):
    """Two patients on the demo nurse's ward: one with a high NEWS2 set, one without any set."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    st.cache_resource.clear()
    engine = make_engine(db_url)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    sick, _ = make_patient_with_course(engine, mrn="SYN-SICK", start=now - timedelta(hours=20))
    make_patient_with_course(engine, mrn="SYN-QUIET", start=now - timedelta(hours=20))
    with session_scope(engine) as session:
        auth.ensure_demo_accounts(session=session, ward_codes=["T"])
    observe(engine, sick, now - timedelta(minutes=10), **{**FULL_SET, "resp_rate": 25, "sbp": 88})
    yield engine, sick
    engine.dispose()
    st.cache_resource.clear()


@pytest.mark.parametrize("role", ["nurse", "oncologist"])
def test_the_ward_overview_page_shows_every_patient_riskiest_first(page_db, role):
    at = signed_in(role)  # the overview is the first page of clinicians
    assert not at.exception and at.title[0].value == "Ward overview"
    table = at.dataframe[0].value
    assert len(table) == 2 and table["NEWS2"].iloc[0] == "6"  # RR 25: 3, SBP 88: 3 (medium band)
    assert table["Next set"].tolist()[1] == "due now: no set recorded"
    assert "2 patients · riskiest first" in at.caption[1].value or any(
        "2 patients · riskiest first" in c.value for c in at.caption)
    assert any("1 overdue set" in c.value for c in at.caption)


def test_the_patient_summary_page_shows_the_course_and_freshness(page_db):
    _, sick = page_db
    at = signed_in("oncologist", page="app_pages/summary.py")
    assert at.title[0].value == "Patient summary"
    headers = [s.value for s in at.subheader]
    assert headers[:4] == ["Course", "Data freshness", "Baseline values", "Eligibility screen"]
    assert headers[4].startswith("IL-2 doses (0 given, 0 held)")
    assert any("High-dose IV bolus every 8 h" in m.value for m in at.markdown)
    assert any("Not current" in w.value and "Laboratory results (missing)" in w.value for w in at.warning)


def test_selecting_a_patient_on_the_overview_opens_that_patients_chart(page_db):
    _, sick = page_db
    at = signed_in("oncologist")
    # What the browser sends when the first row's checkbox is ticked (st.dataframe on_select).
    at.session_state["overview_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.title[0].value == "Patient chart"
    assert at.session_state["selected_patient_id"] == sick


def test_a_cells_detail_names_the_values_at_its_grade_and_counts_the_others():
    from monitoring.clinical.toxicity import DETAIL_MAX, daily_highest
    rows = [(1, 600 - 20 * i, "temperature", 37.0 + 0.1 * i) for i in range(20)]  # 37.0 ... 38.9 °C
    (cell,) = daily_highest(obs_frame(rows), tz=LONDON).itertuples()
    assert cell.grade == 1  # CTCAE v5.0 fever grade 1: 38.0-39.0 °C
    lines = cell.detail.split("; ")
    assert len(lines) == DETAIL_MAX + 1 and all("grade 1" in line for line in lines[:DETAIL_MAX])
    assert lines[0].startswith("Temperature 38.0 °C grade 1")  # the first to reach the grade, in time order
    assert lines[-1] == "14 more values graded: 10 at grade 0, 4 at grade 1"


def test_the_table_colours_news2_by_band_alerts_by_severity_overdue_sets_and_todays_worst_grade():
    from dashboard.theme import BAND_COLOURS, GRADE_COLOURS, SEVERITY_TEXT_COLOURS
    from dashboard.ward_table import overview_styles

    obs = obs_frame(full_set(1, 30) + full_set(2, 30, resp_rate=25, sbp=95) + full_set(3, 30, resp_rate=21)
                    + full_set(4, 13 * 60) + [(1, 30, "platelets", 40)])
    frame = rows_for(obs, open_alerts={3: {"emergency": 1, "warning": 2}})
    shown = frame[["Bed", "NEWS2", "Open alerts", "Next set", "CTCAE today"]]
    styles = overview_styles(frame, shown).set_axis(frame["Bed"])
    # White on the medium band's orange read at 3.1:1 (below WCAG AA): black text now (6.8:1).
    assert styles.loc["B2", "NEWS2"] == f"background-color: {BAND_COLOURS['medium']}; color: black"
    assert styles.loc["B3", "Open alerts"] == f"color: {SEVERITY_TEXT_COLOURS['emergency']}; font-weight: bold"
    assert styles.loc["B1", "Open alerts"] == ""  # no open alert: no colour
    assert styles.loc["B4", "Next set"] == f"color: {SEVERITY_TEXT_COLOURS['emergency']}; font-weight: bold"
    assert styles.loc["B2", "Next set"] == ""
    assert styles.loc["B1", "CTCAE today"] == f"background-color: {GRADE_COLOURS[3]}; color: black"  # platelets 40
    assert styles.loc["B4", "CTCAE today"] == ""  # its set was yesterday (23:00 London): nothing graded today
