"""Bedside entry through the real page (AppTest): valid, refused, confirmed, late, corrected."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from tests.app_helpers import signed_in


from monitoring.db import make_engine, session_scope
from monitoring.models import Observation

from tests.conftest import seed_demo_ward

APP = "../dashboard/app.py"
PAGE = "app_pages/record.py"


@pytest.fixture
def ward_url(app_db_url):
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    seed_demo_ward(app_db_url, patients=2, days=2, seed=5, end=end)
    return app_db_url


def count_observations(url) -> int:
    engine = make_engine(url)
    with session_scope(engine) as session:
        n = session.scalar(select(func.count()).select_from(Observation))
    engine.dispose()
    return n


def record_page() -> AppTest:
    return signed_in("nurse", page=PAGE)


def fill(at: AppTest, version: int = 0, **values) -> None:
    for code, value in values.items():
        widget = at.number_input(key=f"obs_{code}_{version}") if not isinstance(value, str) \
            else at.selectbox(key=f"obs_{code}_{version}")
        (widget.set_value(value) if not isinstance(value, str) else widget.select(value))


def save(at: AppTest) -> AppTest:
    return at.button(key=f"FormSubmitter:obs_form_{at.session_state['record_form_version']}-Save observation set") \
        .click().run()


SICK = dict(resp_rate=25, spo2=93, on_oxygen="no", sbp=88, heart_rate=125, consciousness="A", temperature=39.2)


def test_a_full_set_is_saved_and_the_nurse_sees_news2_its_band_and_the_alerts(ward_url):
    at = record_page()
    before = count_observations(ward_url)
    fill(at, **SICK)
    save(at)
    assert not at.exception
    assert count_observations(ward_url) == before + 7
    # RCP Chart 1: RR 25 -> 3, SpO2 93 -> 2, air -> 0, SBP 88 -> 3, HR 125 -> 2, Alert -> 0, T 39.2 -> 2
    assert at.metric[0].value == "12"
    assert any("HIGH" in m.value for m in at.markdown)
    assert any("sepsis-screen" in e.value for e in at.error)
    assert at.session_state["record_form_version"] == 1  # the form is fresh and empty for the next set


def test_an_implausible_value_is_refused_with_its_range_and_nothing_is_saved(ward_url):
    at = record_page()
    before = count_observations(ward_url)
    fill(at, spo2=140.0, heart_rate=80.0)
    save(at)
    assert any("140" in e.value and "%" in e.value for e in at.error)
    assert "Nothing was saved." in [e.value for e in at.error]
    assert count_observations(ward_url) == before


def test_a_surprising_value_needs_the_confirmation_box(ward_url):
    at = record_page()
    before = count_observations(ward_url)
    fill(at, temperature=35.0)
    save(at)
    assert any("35.0" in w.value for w in at.warning) and count_observations(ward_url) == before
    at.checkbox(key="obs_confirm_0").check()
    save(at)
    assert count_observations(ward_url) == before + 1


def test_a_late_entry_needs_a_reason(ward_url):
    at = record_page()
    before = count_observations(ward_url)
    two_hours_ago = (datetime.now(timezone.utc) - timedelta(hours=2)).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/London"))
    at.date_input(key="obs_date_0").set_value(two_hours_ago.date())
    at.time_input(key="obs_time_0").set_value(two_hours_ago.time().replace(second=0, microsecond=0))
    fill(at, heart_rate=88.0)
    save(at)
    assert any("late entry" in e.value for e in at.error) and count_observations(ward_url) == before
    at.text_input(key="obs_late_0").input("Patient was in theatre")
    save(at)
    assert count_observations(ward_url) == before + 1


def test_a_value_is_amended_and_another_marked_entered_in_error_keeping_the_originals(ward_url):
    at = record_page()
    fill(at, heart_rate=88.0, resp_rate=18.0)
    save(at)
    before = count_observations(ward_url)
    options = at.selectbox(key="correct_value").options
    heart = next(o for o in options if "Heart rate" in o and "88" in o)
    at.selectbox(key="correct_value").select(heart)
    at.text_input(key="correct_new").input("86")
    at.text_input(key="correct_reason").input("Misread the monitor")
    at.button(key="FormSubmitter:correct_form-Save correction").click().run()
    assert any("original stays in the history" in s.value for s in at.success)
    resp = next(o for o in at.selectbox(key="correct_value").options if "Respiratory" in o and "18" in o)
    at.selectbox(key="correct_value").select(resp)
    at.radio(key="correct_action").set_value("Entered in error")
    at.text_input(key="correct_reason").input("Wrong patient")
    at.button(key="FormSubmitter:correct_form-Save correction").click().run()
    assert count_observations(ward_url) == before + 2  # two new rows; nothing overwritten or deleted


def test_switching_patient_gives_an_empty_form_so_values_never_go_to_the_wrong_patient(ward_url):
    at = record_page()
    fill(at, heart_rate=88.0)
    other = [o for o in at.selectbox(key="record_patient").options if o != at.selectbox(key="record_patient").value][0]
    at.selectbox(key="record_patient").select(other).run()
    version = at.session_state["record_form_version"]
    assert version == 1 and at.number_input(key=f"obs_heart_rate_{version}").value is None
