"""Issue 15: the oncologist's part in the dose: the doses due, the last 24 h beside the check, the
decision recorded on the oncologist's page and shown to the nurse (doses page, ward overview)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from sqlalchemy import select

from monitoring.errors import RecordError
from monitoring.services import auth, dose_decisions, doses
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import DoseDecision
from monitoring.views import dosing, lists
from monitoring.views.ward import ward_overview
from tests.app_helpers import signed_in
from tests.factories import make_patient_with_course
from tests.services.test_dose_gate import decide
from tests.services.test_dosing import AUTHORISED, START, observe, observe_complete

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")
ONCOLOGIST_PAGE = "app_pages/dose_decisions.py"
NURSE_PAGE = "app_pages/doses.py"


def give_first_dose(engine, course: int) -> None:
    with session_scope(engine) as session:
        doses.record(session=session, course_id=course, dose_number=1, status="given", scheduled_at=START,
                      given_at=START, dose=48e6, recorded_by="nurse.a", now=START, **AUTHORISED)


def test_the_doses_due_list_each_patient_with_its_check_and_decision_soonest_first(engine):
    soon, soon_course = make_patient_with_course(engine, mrn="SYN-SOON", start=START)
    later, later_course = make_patient_with_course(engine, mrn="SYN-LATER", start=START + timedelta(hours=3))
    give_first_dose(engine, soon_course)                   # dose 2 due START + 8 h
    now = START + timedelta(hours=7)
    observe_complete(engine, soon, now - timedelta(minutes=30), sbp=84)
    decide(engine, soon_course, "hold", number=2, at=now - timedelta(minutes=10), reason_criteria=["sbp_below"])
    with session_scope(engine) as session:
        wards = [w.id for w in lists.list_wards(session=session)]
        due = dose_decisions.due_doses(session=session, ward_ids=wards, now=now, tz=UTC, within_hours=8)
        narrow = dose_decisions.due_doses(session=session, ward_ids=wards, now=now, tz=UTC, within_hours=0.5)
    assert due["patient_id"].tolist() == [later, soon]          # dose 1 of the later course is overdue
    first, second = due.iloc[0], due.iloc[1]
    assert (first["Dose"], first["Check"], first["Oncologist"]) == ("1 (0 of 14 given)", "INCOMPLETE", "–")
    assert first["Due"].endswith("overdue by 4 h 0 min")
    assert (second["Dose"], second["Check"]) == ("2 (1 of 14 given)", "HOLD")
    assert second["Oncologist"].startswith("HOLD (dr.onc, ") and second["Due"].endswith("due in 1 h 0 min")
    assert narrow["patient_id"].tolist() == [later]             # due in 1 h: outside a 30-min window


def test_the_last_24_hours_give_latest_lowest_highest_and_say_what_is_missing(engine):
    patient, _ = make_patient_with_course(engine, start=START)
    now = START + timedelta(hours=7)
    observe(engine, patient, now - timedelta(hours=30), sbp=75)          # older than 24 h: not counted
    observe(engine, patient, now - timedelta(hours=6), sbp=118, weight=84.0)
    observe(engine, patient, now - timedelta(hours=1), sbp=92, period_hours=8, urine_output=240)
    observe(engine, patient, now - timedelta(minutes=30), consciousness="C")
    with session_scope(engine) as session:
        table = dose_decisions.last_24h(session=session, patient_id=patient, now=now, tz=UTC).set_index("Measure")
    assert table.loc["Systolic blood pressure", ["Latest", "Range 24 h", "n"]].tolist() == [
        "92 mmHg at 16:00 UTC", "92 mmHg – 118 mmHg", 2]
    assert table.loc["Weight", "Latest"] == "84.0 kg (+5.0% from 80.0 kg) at 11:00 UTC"
    assert table.loc["Urine output", "Latest"] == "240 mL in 24 h (30 mL/h over the 8 h measured) at 16:00 UTC"
    assert table.loc["Consciousness (ACVPU)", "Range 24 h"] == "not A: C"
    assert table.loc["Creatinine", "Latest"] == "none in 24 h" and table.loc["Creatinine", "n"] == 0


def test_the_ward_overview_shows_the_dose_due_and_the_oncologists_decision(engine):
    patient, course = make_patient_with_course(engine, start=START)
    give_first_dose(engine, course)
    now = START + timedelta(hours=7)
    observe_complete(engine, patient, now - timedelta(minutes=30), sbp=84)
    decide(engine, course, "hold", number=2, at=now - timedelta(minutes=10), reason_note="fluids first")
    with session_scope(engine) as session:
        wards = [w.id for w in lists.list_wards(session=session)]
        frame = ward_overview(session=session, ward_ids=wards, now=now, tz=UTC)
    row = frame.iloc[0]
    assert row["Next dose"] == "dose 2 due 18:00: HOLD · oncologist: hold"
    assert row["forecast"].endswith("oncologist dr.onc: HOLD at 26 Nov 16:50 UTC (fluids first)")


@pytest.mark.parametrize("planned, given, forecast", [(2, 1, True), (2, 2, False), (2, 3, False)])
def test_the_ward_overview_forecasts_no_dose_once_every_planned_dose_is_given(engine, planned, given, forecast):
    """The doses page offers no next dose once the planned doses are given (dosing.next_dose); the
    overview said 'dose 15 due 06:00 (overdue): give' for a course at 14 of 14."""
    from monitoring.store.models import TreatmentCourse

    patient, course = make_patient_with_course(engine, start=START)
    with session_scope(engine) as session:
        session.get(TreatmentCourse, course).planned_doses = planned
    for number in range(1, given + 1):
        at = START + timedelta(hours=8 * (number - 1))
        with session_scope(engine) as session:
            doses.record(session=session, course_id=course, dose_number=number, status="given", scheduled_at=at,
                          given_at=at, dose=48e6, recorded_by="nurse.a", now=at, **AUTHORISED)
    now = START + timedelta(hours=8 * given - 1)
    with session_scope(engine) as session:
        row = ward_overview(session=session, ward_ids=[w.id for w in lists.list_wards(session=session)], now=now,
                            tz=UTC).iloc[0]
        assert (dosing.next_dose(session=session, course_id=course, now=now) is not None) is forecast
    assert (row["Next dose"] != "–") is forecast
    assert row["Last dose"].startswith("given")


def test_a_decision_to_give_that_lapsed_says_so_on_the_ward_overview(engine):
    patient, course = make_patient_with_course(engine, start=START)
    give_first_dose(engine, course)
    now = START + timedelta(hours=7)
    observe_complete(engine, patient, now - timedelta(minutes=40), sbp=86)
    decide(engine, course, "give", number=2, at=now - timedelta(minutes=30), reason_note="usual SBP")
    observe(engine, patient, now - timedelta(minutes=5), platelets=20)      # a new absolute criterion
    with session_scope(engine) as session:
        wards = [w.id for w in lists.list_wards(session=session)]
        row = ward_overview(session=session, ward_ids=wards, now=now, tz=UTC).iloc[0]
    assert row["Next dose"].endswith("· oncologist: give (lapsed)")
    assert "lapsed: the check now also finds absolute: platelets 20" in row["forecast"]


# --- the pages ------------------------------------------------------------------------------------

@pytest.fixture
def page_db(db_url, monkeypatch):
    """A course started 7 h ago on the demo ward (dose 2 due in 1 h), dose 1 given, SBP 84 ten minutes
    ago: HOLD."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    st.cache_resource.clear()
    engine = make_engine(db_url)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    patient, course = make_patient_with_course(engine, start=now - timedelta(hours=7))
    with session_scope(engine) as session:
        auth.ensure_demo_accounts(session=session, ward_codes=["T"])
        doses.record(session=session, course_id=course, dose_number=1, status="given",
                      scheduled_at=now - timedelta(hours=7), given_at=now - timedelta(hours=7), dose=48e6,
                      recorded_by="nurse", now=now - timedelta(hours=7), **AUTHORISED)
    observe_complete(engine, patient, now - timedelta(minutes=10), sbp=84)
    yield engine, course
    engine.dispose()
    st.cache_resource.clear()


def test_the_oncologist_decides_and_the_nurse_sees_it_and_may_then_give(page_db):
    engine, course = page_db
    at = signed_in("oncologist", page=ONCOLOGIST_PAGE)
    assert at.title[0].value == "IL-2 doses"
    assert any("decisions on the next dose" in c.value for c in at.caption)
    due = at.dataframe[0].value
    assert due[["Dose", "Check", "Oncologist"]].values.tolist() == [["2 (1 of 14 given)", "HOLD", "–"]]
    assert any("<b>HOLD</b>" in m.value for m in at.markdown)
    recent = at.dataframe[1].value.set_index("Measure")
    assert recent.loc["Systolic blood pressure", "Latest"].startswith("84 mmHg at ")
    at.button(key="FormSubmitter:decision_form_0-Save decision").click().run()
    assert any("Choose the decision" in e.value for e in at.error)         # nothing is chosen for them
    at.radio(key="decision_0").set_value("give")
    at.button(key="FormSubmitter:decision_form_0-Save decision").click().run()
    assert any("write why the dose is to be given" in e.value for e in at.error)
    at.text_area(key="decision_note_0").input("usual SBP 85-90; warm, passing urine: give")
    at.button(key="FormSubmitter:decision_form_0-Save decision").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("Decision recorded for dose 2: GIVE (the check said HOLD (absolute: SBP 84")
    assert at.dataframe[0].value["Oncologist"].iloc[0].startswith("GIVE (oncologist, ")
    with session_scope(engine) as session:
        stored = session.scalars(select(DoseDecision)).one()
    assert (stored.decision, stored.decided_by, stored.check_decision, stored.check_criteria) == (
        "give", "oncologist", "hold", ["sbp_below"])

    nurse = signed_in("nurse", page=NURSE_PAGE)
    assert any("Dose 2: Oncologist oncologist: GIVE at" in s.value and "usual SBP 85-90" in s.value
               for s in nurse.success)
    status_radio(nurse).set_value("Given").run()
    assert not any("'Given' needs the oncologist's decision" in e.value for e in nurse.error)
    nurse.checkbox(key="dose_confirm_0").check()
    nurse.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert not nurse.exception and nurse.success[0].value == (
        "Dose 2 recorded as given on the oncologist's decision by Demo nurse.")


def test_a_hold_decision_is_offered_as_held_to_the_nurse(page_db):
    engine, course = page_db
    at = signed_in("oncologist", page=ONCOLOGIST_PAGE)
    at.radio(key="decision_0").set_value("hold")
    at.multiselect(key="decision_reasons_0").select("sbp_below")
    at.button(key="FormSubmitter:decision_form_0-Save decision").click().run()
    assert not at.exception and at.success[0].value.startswith("Decision recorded for dose 2: HOLD")
    nurse = signed_in("nurse", page=NURSE_PAGE)
    assert any("Dose 2: Oncologist oncologist: HOLD at" in w.value and "absolute: SBP 84" in w.value
               for w in nurse.warning)
    assert status_radio(nurse).value == "Held"
    assert nurse.text_input(key="dose_reason_text_0").value == "oncologist's decision: hold"


def test_only_the_oncologist_has_the_decisions_page(page_db):
    for role in ("nurse", "quality", "admin"):
        other = signed_in(role)
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            other.switch_page(ONCOLOGIST_PAGE)


def status_radio(at):
    """The doses page's Given / Held / Stopped choice (keyed by the form's version)."""
    return at.radio(key=f"dose_status_{at.session_state['dose_form_version']}")


# --- found on a second read (session 7): each would let a dose through that should not pass -------

def test_a_time_given_long_before_the_dose_was_due_is_refused_unless_authorised(engine):
    """Backdating the time given to before the check's window would judge the dose on a forecast."""
    patient, course = make_patient_with_course(engine, start=START)
    give_first_dose(engine, course)
    due = START + timedelta(hours=8)
    observe_complete(engine, patient, due - timedelta(minutes=20), sbp=84)     # HOLD at dosing time
    with session_scope(engine) as session:
        with pytest.raises(RecordError, match=r"more than 2 h before dose 2 was due"):
            doses.record(session=session, course_id=course, dose_number=2, status="given", scheduled_at=due,
                          given_at=due - timedelta(hours=3), dose=48e6, recorded_by="nurse.a", now=due, tz=UTC)
        with pytest.raises(RecordError, match=r"is not after the previous dose given"):
            doses.record(session=session, course_id=course, dose_number=2, status="given", scheduled_at=due,
                          given_at=START, dose=48e6, recorded_by="nurse.a", now=due, tz=UTC, **AUTHORISED)
        event = doses.record(session=session, course_id=course, dose_number=2, status="given", scheduled_at=due,
                              given_at=due - timedelta(hours=3), dose=48e6, recorded_by="nurse.a", now=due, tz=UTC,
                              **AUTHORISED)
    assert event.override_by == AUTHORISED["override_by"]


def test_a_decision_to_stop_stands_for_every_later_dose_of_the_course(engine):
    patient, course = make_patient_with_course(engine, start=START)
    give_first_dose(engine, course)
    decide(engine, course, "stop", number=2, at=START + timedelta(hours=7), reason_note="grade 4 diarrhoea")
    with session_scope(engine) as session:    # the nurse records dose 2 as held, not stopped
        doses.record(session=session, course_id=course, dose_number=2, status="held",
                      scheduled_at=START + timedelta(hours=8), reason="oncologist: stop", recorded_by="nurse.a",
                      now=START + timedelta(hours=8))
    due = START + timedelta(hours=16)
    observe_complete(engine, patient, due - timedelta(minutes=20))           # the check says GIVE
    with session_scope(engine) as session:
        check = dosing.pre_dose_check(session=session, patient_id=patient, now=due, tz=UTC)
        standing = dosing.standing_decision(session=session, course_id=course, dose_number=3, check=check, now=due)
        assert check.decision == "give" and standing.decision == "stop" and standing.applies
        with pytest.raises(RecordError, match="cannot be recorded as given"):
            doses.record(session=session, course_id=course, dose_number=3, status="given", scheduled_at=due,
                          given_at=due, dose=48e6, recorded_by="nurse.a", now=due, tz=UTC)
    decide(engine, course, "give", number=3, at=due - timedelta(minutes=5), reason_note="recovered: restart")
    with session_scope(engine) as session:    # a later decision for that dose replaces the stop
        later = dosing.standing_decision(session=session, course_id=course, dose_number=3, check=check, now=due)
    assert later.decision == "give"


def test_a_decision_is_refused_when_the_check_found_more_while_the_page_was_open(engine):
    patient, course = make_patient_with_course(engine, start=START)
    give_first_dose(engine, course)
    now = START + timedelta(hours=7)
    observe_complete(engine, patient, now - timedelta(minutes=30))           # GIVE when the page opened
    observe(engine, patient, now - timedelta(minutes=5), sbp=78)             # recorded while it was open
    with pytest.raises(RecordError, match=r"changed while the page was open: it now also finds .*SBP 78"):
        decide(engine, course, "give", number=2, at=now, seen=([], []))
    assert decide(engine, course, "hold", number=2, at=now, reason_note="SBP 78", seen=(["sbp_below"], [])).decision \
        == "hold"


def test_a_lapsed_decision_to_give_says_so_in_the_doses_due(engine):
    patient, course = make_patient_with_course(engine, start=START)
    give_first_dose(engine, course)
    now = START + timedelta(hours=7)
    observe_complete(engine, patient, now - timedelta(minutes=40))
    decide(engine, course, "give", number=2, at=now - timedelta(minutes=30))
    observe(engine, patient, now - timedelta(minutes=10), sbp=78)            # a new criterion after it
    with session_scope(engine) as session:
        wards = [w.id for w in lists.list_wards(session=session)]
        due = dose_decisions.due_doses(session=session, ward_ids=wards, now=now, tz=UTC, within_hours=8)
    assert due["Oncologist"].iloc[0].startswith("GIVE (lapsed) (dr.onc, ")


@pytest.mark.parametrize("periods, shown", [
    # (hours before now the period started, hours before now it ended, mL)
    ([(8, 0, 240)], "240 mL in 24 h (30 mL/h over the 8 h measured)"),
    # 240 mL over 12 h of which 4 h fall inside the 24 h: 80 mL counted, the rate 20 mL/h, not 60
    ([(32, 20, 240)], "80 mL in 24 h (20 mL/h over the 12 h measured)"),
    # 480 mL over 28 h: 17 mL/h
    ([(32, 20, 240), (20, 12, 160), (12, 4, 80)], "320 mL in 24 h (17 mL/h over the 28 h measured)"),
    ([(None, 2, 150), (8, 0, 240)], "390 mL in 24 h (30 mL/h over the 8 h measured); 1 volume(s) without a "
                                    "period, not in the rate"),
])
def test_urine_in_the_last_24_h_counts_only_what_fell_in_them_and_the_rate_over_whole_periods(periods, shown):
    import pandas as pd

    now = pd.Timestamp(START)
    frame = pd.DataFrame({
        "period_start": [pd.NaT if s is None else now - pd.Timedelta(hours=s) for s, _, _ in periods],
        "observed_at": [now - pd.Timedelta(hours=e) for _, e, _ in periods],
        "value_num": [v for _, _, v in periods]})
    assert dose_decisions._urine_text(frame, START) == shown
