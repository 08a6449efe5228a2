"""Bedside entry through the real page (AppTest): valid, refused, confirmed, late, corrected."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import Observation
from tests.app_helpers import disable_account, idle_past_the_time_out, signed_in
from tests.conftest import seed_demo_ward

APP = "../../dashboard/app.py"
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
    return at.button(key=f"obs_save_{at.session_state['record_form_version']}").click().run()


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


def test_a_refusal_stays_while_the_form_is_as_refused_and_goes_when_a_value_is_changed(ward_url):
    """A refusal left up over corrected values would read as a second failure."""
    at = record_page()
    fill(at, spo2=140.0, heart_rate=80.0)
    save(at)
    assert "Nothing was saved." in [e.value for e in at.error]
    at.run()                                            # nothing changed: still said
    assert "Nothing was saved." in [e.value for e in at.error]
    fill(at, spo2=96.0)
    at.run()
    assert not at.error and not at.exception


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


def choose_value(at: AppTest, fix: int, *words: str) -> None:
    box = at.selectbox(key=f"correct_value_{fix}")
    box.select(next(o for o in box.options if all(w in o for w in words))).run()


def test_a_value_is_amended_and_another_marked_entered_in_error_keeping_the_originals(ward_url):
    at = record_page()
    fill(at, heart_rate=88.0, resp_rate=18.0)
    save(at)
    before = count_observations(ward_url)
    choose_value(at, 0, "Heart rate", "88")
    at.radio(key="correct_action_0").set_value("Amend the value").run()
    at.text_input(key="correct_new_0").input("86").run()
    at.text_input(key="correct_reason_0").input("Misread the monitor").run()
    assert any("**Will change:**" in i.value and "Heart rate" in i.value and "→ 86 /min" in i.value
               and "Misread the monitor" in i.value for i in at.info), [i.value for i in at.info]
    assert at.button(key="correct_save_0").disabled              # not before the confirmation
    at.checkbox(key="correct_confirm_0").check().run()
    at.button(key="correct_save_0").click().run()
    assert any("original stays in the history" in s.value for s in at.success), (
        [e.value for e in at.error], [e.stack_trace for e in at.exception])
    # The next correction starts empty: no value, no action, no reason carried over.
    assert at.selectbox(key="correct_value_1").value is None and at.radio(key="correct_action_1").value is None
    assert at.text_input(key="correct_reason_1").value == ""
    choose_value(at, 1, "Respiratory", "18")
    at.radio(key="correct_action_1").set_value("Entered in error").run()
    at.text_input(key="correct_reason_1").input("Wrong patient").run()
    at.checkbox(key="correct_confirm_1").check().run()
    at.button(key="correct_save_1").click().run()
    assert count_observations(ward_url) == before + 2  # two new rows; nothing overwritten or deleted


def test_a_correction_says_when_its_set_loses_the_news2(ward_url):
    at = record_page()
    fill(at, **SICK)
    save(at)
    choose_value(at, 0, "Respiratory", "25")
    at.radio(key="correct_action_0").set_value("Entered in error").run()
    assert any("**Effect:** this set loses its NEWS2 (12): missing then" in i.value and "resp_rate" in i.value
               or "respiratory" in i.value.lower() and "loses its NEWS2 (12)" in i.value for i in at.info)


def test_switching_patient_gives_an_empty_form_so_values_never_go_to_the_wrong_patient(ward_url):
    at = record_page()
    fill(at, heart_rate=88.0)
    other = [o for o in at.selectbox(key="record_patient").options if o != at.selectbox(key="record_patient").value][0]
    at.selectbox(key="record_patient").select(other).run()
    version = at.session_state["record_form_version"]
    assert version == 1 and at.number_input(key=f"obs_heart_rate_{version}").value is None


# --- issue 15: entry that saves only what the nurse means ------------------------------------------

def latest_set_time(url) -> datetime:
    engine = make_engine(url)
    with session_scope(engine) as session:
        at = session.scalar(select(func.max(Observation.observed_at)).where(Observation.recorded_by == "nurse"))
    engine.dispose()
    return at


def test_the_set_has_no_form_to_submit_so_enter_cannot_save_it(ward_url):
    """A value is committed (Enter, Tab) without saving anything: only the Save button saves."""
    at = record_page()
    before = count_observations(ward_url)
    fill(at, heart_rate=88.0)
    at.run()                                   # what Enter does: the value is committed, the page reruns
    assert count_observations(ward_url) == before
    assert at.number_input(key="obs_heart_rate_0").value == 88.0
    assert not [b for b in at.button if b.key and b.key.startswith("FormSubmitter:obs_form")]


def test_a_set_is_stamped_with_the_time_of_saving_unless_the_nurse_sets_one(ward_url):
    at = record_page()
    assert at.time_input(key="obs_time_0").value is None and at.date_input(key="obs_date_0").value is None
    fill(at, heart_rate=88.0)
    at.run()
    typed_until = datetime.now(timezone.utc)   # the form has been open since before this
    save(at)
    stamped = latest_set_time(ward_url)
    assert stamped >= typed_until - timedelta(seconds=1)       # the save's time, not the form's opening minute
    assert not any("late entry" in e.value for e in at.error)


def test_map_is_computed_from_sbp_and_dbp_and_a_measured_map_wins(ward_url):
    at = record_page()
    fill(at, sbp=84.0, dbp=48.0)
    at.run()
    assert any("MAP 60 mmHg computed from 84/48" in c.value for c in at.caption)
    save(at)
    engine = make_engine(ward_url)
    with session_scope(engine) as session:
        maps = session.scalars(select(Observation.value_num).where(Observation.code == "map",
                                                                   Observation.recorded_by == "nurse")).all()
    assert maps == [60.0]
    fill(at, 1, sbp=120.0, dbp=60.0, map=85.0)
    at.run()
    assert not any("computed from" in c.value for c in at.caption)
    save(at)
    with session_scope(engine) as session:
        maps = session.scalars(select(Observation.value_num).where(Observation.code == "map",
                                                                   Observation.recorded_by == "nurse")
                               .order_by(Observation.id)).all()
    engine.dispose()
    assert maps == [60.0, 85.0]


def test_a_draft_survives_a_page_change_and_a_refresh_and_is_offered_back(ward_url):
    at = record_page()
    fill(at, heart_rate=131.0, resp_rate=24.0)
    at.run()                                   # values entered: kept on the server as a draft
    at.switch_page("app_pages/ward.py").run()
    fresh = record_page()                      # a new browser session: what F5 gives
    assert any("**Unsaved draft** of 2 value(s)" in w.value for w in fresh.warning)
    assert fresh.number_input(key="obs_heart_rate_0").value is None     # nothing is put back unasked
    fresh.button(key="draft_restore_0").click().run()
    assert fresh.number_input(key="obs_heart_rate_0").value == 131.0
    assert fresh.number_input(key="obs_resp_rate_0").value == 24.0
    before = count_observations(ward_url)
    save(fresh)
    assert count_observations(ward_url) == before + 2
    again = record_page()                      # saved: the draft is gone
    assert not any("Unsaved draft" in w.value for w in again.warning)


def test_a_draft_can_be_discarded(ward_url):
    at = record_page()
    fill(at, heart_rate=131.0)
    at.run()
    fresh = record_page()
    fresh.button(key="draft_discard_0").click().run()
    assert not any("Unsaved draft" in w.value for w in fresh.warning)
    assert not any("Unsaved draft" in w.value for w in record_page().warning)


def test_a_draft_survives_the_time_out_and_the_page_shows_only_the_sign_in(ward_url):
    at = record_page()
    fill(at, heart_rate=131.0)
    at.run()
    before = count_observations(ward_url)
    idle_past_the_time_out(ward_url)
    save(at)                                   # Save after the time-out: signed out, nothing saved, nothing lost
    assert [t.label for t in at.text_input] == ["User name", "Password"] and not at.number_input
    assert any("kept as a draft" in i.value for i in at.info)
    assert count_observations(ward_url) == before
    again = record_page()
    assert any("**Unsaved draft** of 1 value(s)" in w.value for w in again.warning)


def test_a_set_saved_after_the_account_was_disabled_is_not_stored_and_the_page_shows_the_sign_in(ward_url):
    at = record_page()
    fill(at, **SICK)
    at.run()
    before = count_observations(ward_url)
    disable_account(ward_url, "nurse")
    save(at)
    assert not at.exception and not at.metric
    assert count_observations(ward_url) == before
    assert [t.label for t in at.text_input] == ["User name", "Password"] and not at.number_input


def patient_ids_in_order(url) -> list[int]:
    from monitoring.store.models import Patient

    engine = make_engine(url)
    with session_scope(engine) as session:
        found = list(session.scalars(select(Patient.id).order_by(Patient.id)))
    engine.dispose()
    return found


def test_the_address_names_the_patient_so_a_refresh_opens_the_same_one(ward_url):
    first, second = patient_ids_in_order(ward_url)[:2]
    at = record_page()
    shown = at.selectbox(key="record_patient").value
    at.selectbox(key="record_patient").select(next(o for o in at.selectbox(key="record_patient").options
                                                     if o != shown)).run()
    assert at.query_params["patient"] == [str(second)] or at.query_params["patient"] == str(second)
    fresh = AppTest.from_file(APP, default_timeout=60)        # F5: a new browser session on the same address
    fresh.query_params["patient"] = str(second)
    fresh.run()
    fresh.text_input(key="sign_in_username").input("nurse")
    fresh.text_input(key="sign_in_password").input("demo-il2")
    fresh.button[0].click().run()
    fresh.switch_page(PAGE).run()
    assert fresh.selectbox(key="record_patient").value == at.selectbox(key="record_patient").value != shown
    for unknown in ("999999", "12345678901234567890"):   # not a patient of the user, too long: the first one
        other = AppTest.from_file(APP, default_timeout=60)
        other.query_params["patient"] = unknown
        other.run()
        other.text_input(key="sign_in_username").input("nurse")
        other.text_input(key="sign_in_password").input("demo-il2")
        other.button[0].click().run()
        other.switch_page(PAGE).run()
        assert not other.exception and other.selectbox(key="record_patient").value == shown


def test_signing_out_leaves_nothing_of_the_user_in_the_browser_session(ward_url):
    at = record_page()
    fill(at, heart_rate=131.0)
    at.run()
    at.button(key="sign_out").click().run()
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert "selected_patient_id" not in at.session_state and "obs_heart_rate_0" not in at.session_state


def test_a_draft_offered_and_not_answered_is_still_there_after_leaving_again(ward_url):
    at = record_page()
    fill(at, heart_rate=131.0)
    at.run()
    offered = record_page()                    # F5: the draft is offered; the nurse goes elsewhere
    assert any("Unsaved draft" in w.value for w in offered.warning)
    offered.switch_page("app_pages/ward.py").run()
    again = record_page()
    assert any("**Unsaved draft** of 1 value(s)" in w.value for w in again.warning)


def test_a_restored_draft_keeps_the_time_it_was_typed_and_an_old_draft_is_not_offered(ward_url):
    from monitoring.store.models import EntryDraft

    at = record_page()
    fill(at, heart_rate=131.0)
    at.run()
    engine = make_engine(ward_url)
    with session_scope(engine) as session:     # typed 3 h ago: restored, it is a late entry of that time
        for row in session.scalars(select(EntryDraft)):
            row.updated_at = datetime.now(timezone.utc) - timedelta(hours=3)
    fresh = record_page()
    fresh.button(key="draft_restore_0").click().run()
    assert fresh.time_input(key="obs_time_0").value is not None
    save(fresh)
    assert any("late entry" in e.value.lower() for e in fresh.error)   # asks for the reason, as any late set
    with session_scope(engine) as session:     # a draft older than a shift (12 h) is not offered
        for row in session.scalars(select(EntryDraft)):
            row.updated_at = datetime.now(timezone.utc) - timedelta(hours=13)
    engine.dispose()
    assert not any("Unsaved draft" in w.value for w in record_page().warning)
