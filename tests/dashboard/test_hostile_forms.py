"""Hostile input through the forms themselves (issue 16): the sign-in, Users, Record observations and
Reports forms under Streamlit's AppTest. Each hostile value gets a message naming what is accepted,
never an exception or a traceback, and nothing is half saved. (The validation behind these forms is
generated at scale in tests/clinical/test_hostile_input.py.)"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from monitoring.services import auth
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import Observation, User
from tests.app_helpers import APP, signed_in
from tests.conftest import seed_demo_ward

HOSTILE_TEXTS = ["x" * 65, "x" * 5000, "=HYPERLINK(\"http://evil\")", "Robert'); DROP TABLE \"user\";--", "\u202eevil",
                 "ünïcödé " * 20, " "]


@pytest.fixture
def ward_url(app_db_url):
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    seed_demo_ward(app_db_url, patients=2, days=1, seed=5, end=end)
    return app_db_url


def count(url, model) -> int:
    engine = make_engine(url)
    with session_scope(engine) as session:
        n = session.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return n


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_the_sign_in_form_answers_any_user_name_with_the_one_message(ward_url, text):
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="sign_in_username").input(text)
    at.text_input(key="sign_in_password").input(text)
    at.button[0].click().run()
    assert not at.exception and [e.value for e in at.error] == [auth.WRONG_CREDENTIALS]


@pytest.mark.parametrize("field, text, refusal", [
    ("new_username", "x" * 65, "username has 65 characters; at most 64"),
    ("new_username", "Robert'); DROP TABLE \"user\";--", "must be letters, digits"),
    ("new_display_name", "x" * 121, "display name has 121 characters; at most 120"),
    ("new_email", "x" * 250 + "@h.example", "email has 260 characters; at most 254"),
    ("new_password", "short", "at least 8 are needed"),
])
def test_the_users_form_refuses_a_hostile_field_by_name_and_adds_nobody(ward_url, field, text, refusal):
    at = signed_in("admin", page="app_pages/users.py")
    before = count(ward_url, User)
    values = {"new_username": "night.nurse", "new_display_name": "Night Nurse", "new_email": "",
              "new_password": "night-shift-7", field: text}
    for key, value in values.items():
        at.text_input(key=key).input(value)
    at.multiselect(key="new_wards").select(at.multiselect(key="new_wards").options[0])   # a nurse needs one
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception
    assert any(refusal in e.value for e in at.error), [e.value for e in at.error]
    assert count(ward_url, User) == before


@pytest.mark.parametrize("code, value, accepted", [
    ("spo2", 1e308, "plausible range"), ("temperature", -1e308, "plausible range"),
    ("heart_rate", 1e-300, "plausible range"), ("resp_rate", 10_000_000, "plausible range"),
])
def test_the_record_form_refuses_an_extreme_number_and_saves_nothing(ward_url, code, value, accepted):
    at = signed_in("nurse", page="app_pages/record.py")
    before = count(ward_url, Observation)
    at.number_input(key=f"obs_{code}_0").set_value(value)
    at.number_input(key="obs_heart_rate_0" if code != "heart_rate" else "obs_resp_rate_0").set_value(80.0)
    at.button(key="obs_save_0").click().run()
    assert not at.exception
    assert any(accepted in e.value for e in at.error) and "Nothing was saved." in [e.value for e in at.error]
    assert count(ward_url, Observation) == before


def test_the_reports_page_has_no_key_field_and_says_when_its_pseudonyms_are_one_off(ward_url):
    """Issue 20 item 2: the export key is never typed into a page; without a team key the page says its
    pseudonyms match no other export."""
    at = signed_in("quality", page="app_pages/reports.py")
    assert not at.exception
    assert not [t for t in at.text_input if "key" in t.label.lower()]
    assert any("one-off key of this session" in w.value for w in at.warning)
