"""IL-2 doses: the schedule (elapsed time), the pre-dose check at the published boundaries (Proleukin
label Table 2, Dutcher 2014 Table 3), recording given/held/stopped with the user and the audit trail,
and the page under AppTest. Database tests run on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from monitoring.clinical.inputs import ObservationInput
from monitoring.clinical.rules import hold_criteria
from monitoring.clinical.thresholds import REPO_ROOT, load_thresholds
from monitoring.errors import RecordError
from monitoring.services import auth, doses
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent, DoseEvent, TreatmentCourse
from monitoring.views import dosing
from tests.app_helpers import disable_account, idle_past_the_time_out, signed_in
from tests.factories import NOW, make_patient_with_course, sign_off

START = NOW - timedelta(days=1)     # the factory's course start: 600,000 IU/kg q8h, 14 planned, 80 kg


def observe(engine, patient_id: int, at: datetime, period_hours: float | None = None, **values) -> None:
    """One observation set at `at`, entered at that moment (so never a late entry)."""
    inputs = [ObservationInput(code, value, period_start=at - timedelta(hours=period_hours)
                               if code == "urine_output" else None) for code, value in values.items()
              if value is not None]
    with session_scope(engine) as session:
        repository.add_observation_set(session=session, patient_id=patient_id, values=inputs, observed_at=at,
                                       recorded_by="nurse.a", now=at)


#: A complete pre-dose set and labs within every input's validity, all normal (the check can say GIVE).
NORMAL_BEFORE_DOSE = {"sbp": 120, "spo2": 97, "consciousness": "A", "heart_rate": 80, "creatinine": 1.0,
                      "platelets": 150}


def observe_complete(engine, patient_id: int, at: datetime, **changes) -> None:
    """A complete pre-dose set at `at` (the values of NORMAL_BEFORE_DOSE, changed by `changes`) and an 8-h
    urine output of 400 mL."""
    observe(engine, patient_id, at, **{**NORMAL_BEFORE_DOSE, **changes})
    observe(engine, patient_id, at - timedelta(minutes=1), period_hours=8, urine_output=400)


# Schedule and storage tests give doses to patients with no pre-dose observations (check INCOMPLETE):
# they are recorded over the check, as the gate requires, with an authoriser and a reason.
AUTHORISED = {"override_by": "Dr Test (oncologist)", "override_reason": "test: no pre-dose observations"}


def record(engine, course_id: int, number: int, status: str, *, at: datetime, **kwargs) -> DoseEvent:
    with session_scope(engine) as session:
        return doses.record(session=session, course_id=course_id, dose_number=number, status=status,
                             scheduled_at=START + (number - 1) * timedelta(hours=8), recorded_by="nurse.a",
                             now=at, **kwargs)


def upcoming(engine, course_id: int, now: datetime = NOW):
    with session_scope(engine) as session:
        return dosing.next_dose(session=session, course_id=course_id, now=now)


def check(engine, patient_id: int, now: datetime = NOW, thresholds=None) -> dosing.PreDoseCheck:
    with session_scope(engine) as session:
        return dosing.pre_dose_check(session=session, patient_id=patient_id, now=now, thresholds=thresholds)


def doses_and_audit(engine) -> tuple[list[DoseEvent], list[AuditEvent]]:
    with session_scope(engine) as session:
        return (session.scalars(select(DoseEvent).order_by(DoseEvent.id)).all(),
                session.scalars(select(AuditEvent).where(AuditEvent.entity == "dose")).all())


# --- the schedule ---------------------------------------------------------------------------------

def test_the_next_dose_is_every_8_hours_from_the_course_start_by_elapsed_time(engine):
    _, course = make_patient_with_course(engine, start=START)
    first = upcoming(engine, course)
    assert (first.dose_number, first.scheduled_at, first.given, first.planned) == (1, START, 0, 14)
    record(engine, course, 1, "given", at=START + timedelta(minutes=20), given_at=START + timedelta(minutes=12),
           dose=48e6, route="IV", **AUTHORISED)
    second = upcoming(engine, course)
    assert (second.dose_number, second.scheduled_at, second.given) == (2, START + timedelta(hours=8), 1)
    # A late dose does not shift the schedule: the next slot is counted from the course start.
    assert second.due_text(START + timedelta(hours=6)) == "due in 2 h 0 min"
    assert second.due_text(START + timedelta(hours=8, minutes=40)) == "overdue by 40 min"
    assert second.due_text(START + timedelta(hours=8, seconds=20)) == "due now"


def test_after_a_held_dose_the_next_number_and_slot_follow_it(engine):
    _, course = make_patient_with_course(engine, start=START)
    record(engine, course, 1, "given", at=START, given_at=START, dose=48e6, **AUTHORISED)
    record(engine, course, 2, "held", at=START + timedelta(hours=8), reason="SBP 85 mmHg")
    nxt = upcoming(engine, course)
    assert (nxt.dose_number, nxt.scheduled_at, nxt.given, nxt.held) == (3, START + timedelta(hours=16), 1, 1)


def test_after_a_stopped_dose_there_is_no_next_dose_and_no_further_dose_can_be_recorded(engine):
    _, course = make_patient_with_course(engine, start=START)
    record(engine, course, 1, "given", at=START, given_at=START, dose=48e6, **AUTHORISED)
    record(engine, course, 2, "stopped", at=START + timedelta(hours=8), reason="capillary leak not reversed")
    assert upcoming(engine, course) is None
    with session_scope(engine) as session:
        progress = dosing.course_progress(session=session, course_id=course)
    assert "stopped at dose 2" in dosing.stopped_text(progress, timezone.utc)
    with pytest.raises(RecordError, match="stopped at dose 2"):
        record(engine, course, 3, "given", at=START + timedelta(hours=16), given_at=START + timedelta(hours=16),
               dose=48e6, **AUTHORISED)


def test_when_the_planned_doses_are_given_there_is_no_next_dose_held_doses_do_not_count(engine):
    patient, _ = make_patient_with_course(engine, start=START)
    with session_scope(engine) as session:
        course = repository.add_course(session=session, patient_id=patient, regimen="hd-iv-bolus", start_at=START,
                                       created_by="tester", planned_doses=2, dose_per_kg=600_000,
                                       dose_interval_hours=8).id
        sign_off(session, course)
    record(engine, course, 1, "given", at=START, given_at=START, dose=48e6, **AUTHORISED)
    record(engine, course, 2, "held", at=START + timedelta(hours=8), reason="platelets 40")
    assert upcoming(engine, course).dose_number == 3
    record(engine, course, 3, "given", at=START + timedelta(hours=16), given_at=START + timedelta(hours=16),
           dose=48e6, **AUTHORISED)
    assert upcoming(engine, course) is None


def test_a_wards_courses_read_at_once_show_each_the_progress_and_next_dose_of_the_course_alone(engine):
    """views.dosing.course_progresses (the handover, the oncologist's doses due; issue 21; course_progress is
    the same for one course) gives each course its given and held counts, its stop, its events in schedule
    order and so its next dose."""
    _, stopped = make_patient_with_course(engine, mrn="SYN-TEST-1", start=START)
    _, running = make_patient_with_course(engine, mrn="SYN-TEST-2", start=START)
    _, untouched = make_patient_with_course(engine, mrn="SYN-TEST-3", start=START)
    record(engine, running, 2, "held", at=START + timedelta(hours=8), reason="platelets 40")
    record(engine, running, 1, "given", at=START + timedelta(hours=9), given_at=START, dose=48e6, **AUTHORISED)
    record(engine, stopped, 1, "given", at=START, given_at=START, dose=48e6, **AUTHORISED)
    record(engine, stopped, 2, "stopped", at=START + timedelta(hours=8), reason="capillary leak not reversed")
    with session_scope(engine) as session:
        courses = session.scalars(select(TreatmentCourse).order_by(TreatmentCourse.id)).all()
        together = dosing.course_progresses(session=session, courses=courses)
        alone = dosing.course_progress(session=session, course_id=running)
    assert set(together) == {stopped, running, untouched}
    assert [(p.given, p.held) for p in together.values()] == [(1, 0), (1, 1), (0, 0)]
    assert together[stopped].stopped["dose_number"] == 2 and together[running].stopped is None
    assert list(together[running].events["dose_number"]) == [1, 2]   # schedule order, not the order recorded
    assert together[untouched].events.empty
    assert (alone.given, alone.held, list(alone.events["dose_number"])) == (1, 1, [1, 2])
    assert dosing.next_dose_of(together[stopped], now=NOW) is None
    assert dosing.next_dose_of(together[running], now=NOW).dose_number == 3
    assert dosing.next_dose_of(together[untouched], now=NOW).dose_number == 1


# --- the pre-dose check at the published boundaries ------------------------------------------------

@pytest.mark.parametrize("values, decision", [
    ({"sbp": 89}, "hold"),              # label Table 2: SBP < 90 mmHg -> withhold
    ({"sbp": 90}, "give"),
    ({"platelets": 29}, "hold"),        # Dutcher Table 3: platelets < 30,000/mm3 absolute
    ({"platelets": 30}, "discuss"),     # 30,000-50,000 relative
    ({"platelets": 49}, "discuss"),
    ({"platelets": 50}, "give"),
    ({"spo2": 89}, "hold"),             # label: SpO2 < 90%
    ({"platelets": 40, "creatinine": 2.6, "bilirubin": 7.5}, "hold"),   # three relative criteria
])
def test_pre_dose_decision_at_the_published_boundaries(engine, values, decision):
    patient, _ = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, NOW - timedelta(minutes=15), **values)
    result = check(engine, patient)
    assert result.decision == decision
    assert (result.criteria == []) is (decision == "give")
    found = {i.code: i.found for i in result.checklist}
    assert result.complete
    if decision == "give":
        assert not any(found.values())
    else:
        assert all(found[code] for code in values)   # the checklist marks the input that met a criterion


def test_the_criteria_found_carry_value_and_time_and_are_offered_as_reasons(engine):
    patient, _ = make_patient_with_course(engine, start=START)
    observe(engine, patient, NOW - timedelta(minutes=15), sbp=85, platelets=40)
    result = check(engine, patient)
    assert result.decision == "hold"
    kinds = {c.kind: c.text for c in result.criteria}
    assert kinds["absolute"].startswith("SBP 85 mmHg at 27 Nov 09:45 UTC (< 90: label: withhold)")
    assert kinds["relative"].startswith("platelets 40")
    assert result.reason_options() == [f"absolute: {kinds['absolute']}", f"relative: {kinds['relative']}"]
    sbp = next(i for i in result.checklist if i.code == "sbp")
    assert (sbp.status, sbp.found, sbp.value) == ("valid", ("absolute",), "85 mmHg")
    assert sbp.text == "SBP 85 mmHg at 27 Nov 09:45 UTC (15 min ago): valid"


def test_every_input_of_the_criteria_table_is_listed_and_missing_ones_make_the_check_incomplete(engine):
    patient, _ = make_patient_with_course(engine, start=START)
    observe(engine, patient, NOW - timedelta(minutes=15), sbp=112, heart_rate=96, spo2=97, consciousness="A")
    result = check(engine, patient)
    assert result.decision == "incomplete"      # nothing met, but the check could not be completed
    codes = [i.code for i in result.checklist]
    assert codes == list(hold_criteria.INPUTS) and codes[-1] == "held_doses"
    urine = next(i for i in result.checklist if i.code == "urine_per_8h")
    assert urine.status == "missing" and urine.text == "no urine output recorded in the last 24 h"
    assert "urine output" in result.missing and urine in result.needs_attention() and not result.complete
    assert "no valid value for platelets, creatinine, urine output" in result.summary()


def test_a_stale_sbp_is_named_stale_and_not_used(engine):
    patient, _ = make_patient_with_course(engine, start=START)
    observe(engine, patient, NOW - timedelta(hours=5), sbp=85)       # vital signs valid 4 h
    observe(engine, patient, NOW - timedelta(minutes=10), platelets=120)
    result = check(engine, patient)
    sbp = next(i for i in result.checklist if i.code == "sbp")
    assert sbp.status == "stale" and sbp.found == ()
    assert sbp.text == "SBP last measured 5 h 0 min ago (85 mmHg at 27 Nov 05:00 UTC): stale (valid for 4 h), not used"
    assert result.decision == "incomplete" and "SBP" in result.missing  # the old 85 did not hold the dose


def test_urine_output_is_read_per_8_hours_and_a_low_volume_holds(engine):
    patient, _ = make_patient_with_course(engine, start=START)
    observe(engine, patient, NOW - timedelta(minutes=5), period_hours=4, urine_output=35)   # 70 mL per 8 h
    result = check(engine, patient)
    urine = next(i for i in result.checklist if i.code == "urine_per_8h")
    assert result.decision == "hold" and urine.found == ("absolute",)
    assert "35 mL over 4 h = 70 mL per 8 h" in urine.text


def test_the_numbers_come_from_the_thresholds_file(engine, tmp_path):
    text = (REPO_ROOT / "data" / "thresholds.toml").read_text()
    assert "sbp_below = 90 " in text
    changed = tmp_path / "thresholds.toml"
    changed.write_text(text.replace("sbp_below = 90 ", "sbp_below = 95 "))
    thresholds = load_thresholds(changed)
    patient, _ = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, NOW - timedelta(minutes=15), sbp=92)
    assert check(engine, patient).decision == "give"
    local = check(engine, patient, thresholds=thresholds)
    assert local.decision == "hold"
    assert next(i for i in local.checklist if i.code == "sbp").rule.startswith("absolute: < 95 mmHg")


# --- recording ------------------------------------------------------------------------------------

def test_a_given_dose_is_stored_with_the_user_and_one_audit_row(engine):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, START - timedelta(minutes=30))   # the check says GIVE
    given_at = START + timedelta(minutes=7)
    event = record(engine, course, 1, "given", at=START + timedelta(minutes=10), given_at=given_at, dose=48e6,
                   route="IV")
    stored, audit = doses_and_audit(engine)
    assert [(d.dose_number, d.status, d.dose, d.dose_unit, d.route, d.recorded_by) for d in stored] == \
        [(1, "given", 48e6, "[IU]", "IV", "nurse.a")]
    assert stored[0].given_at == given_at
    # Given on the check: its decision is stored with the dose, and nothing was overridden.
    assert (stored[0].check_decision, stored[0].check_criteria, stored[0].decision_id, stored[0].override_by) == \
        ("give", None, None, None)
    assert [(a.action, a.username, a.entity_id) for a in audit] == [("dose-given", "nurse.a", str(event.id))]


def test_a_held_dose_needs_a_reason_and_stores_it(engine):
    patient, course = make_patient_with_course(engine, start=START)
    with pytest.raises(RecordError, match="held dose needs a reason"):
        record(engine, course, 1, "held", at=START, reason="  ")
    assert doses_and_audit(engine) == ([], [])
    observe(engine, patient, START - timedelta(minutes=20), sbp=84)
    with session_scope(engine) as session:
        found = dosing.pre_dose_check(session=session, patient_id=patient, now=START)
    reason = doses.compose_reason(found.reason_options(), "fluid bolus given, reassess at next dose")
    record(engine, course, 1, "held", at=START, reason=reason)
    stored, audit = doses_and_audit(engine)
    assert stored[0].reason.startswith("absolute: SBP 84 mmHg") and stored[0].reason.endswith("next dose")
    assert [(a.action, a.username) for a in audit] == [("dose-held", "nurse.a")]


def test_a_stopped_dose_is_stored_and_refusals_save_nothing(engine):
    _, course = make_patient_with_course(engine, start=START)
    with pytest.raises(RecordError, match="needs the amount given"):
        record(engine, course, 1, "given", at=START, given_at=START)   # the dose is never assumed
    with pytest.raises(RecordError, match="in the future"):
        record(engine, course, 1, "given", at=START, given_at=START + timedelta(hours=1), dose=48e6, **AUTHORISED)
    record(engine, course, 1, "given", at=START, given_at=START, dose=48e6, **AUTHORISED)
    with pytest.raises(RecordError, match="Dose 1 is already recorded as given"):
        record(engine, course, 1, "given", at=START, given_at=START, dose=48e6, **AUTHORISED)
    record(engine, course, 2, "stopped", at=START + timedelta(hours=8), reason="mental status change")
    stored, audit = doses_and_audit(engine)
    assert [(d.status, d.reason) for d in stored] == [("given", None), ("stopped", "mental status change")]
    assert [a.action for a in audit] == ["dose-given", "dose-stopped"]


def test_the_prescribed_dose_uses_the_dosing_weight_never_a_weight_gained_in_the_course(engine):
    """Issue 15: 61.68 MIU proposed on a capillary-leak weight against 59.3 MIU for doses 1-13. The dose
    is dose per kg x the course's dosing weight (by default the pre-treatment weight), or a fixed dose;
    today's weight is shown beside it and never used."""
    patient, course = make_patient_with_course(engine, start=START)
    with session_scope(engine) as session:
        baseline = dosing.suggested_dose(session=session, course_id=course, now=NOW)
    assert (baseline.dose, baseline.unit, baseline.weight_kg) == (600_000 * 80, "[IU]", 80)
    assert baseline.basis == "600,000 IU/kg × 80.0 kg dosing weight = 48,000,000 IU" and baseline.latest_weight is None
    observe(engine, patient, NOW - timedelta(hours=2), weight=82.5)
    with session_scope(engine) as session:
        latest = dosing.suggested_dose(session=session, course_id=course, now=NOW)
        chosen = repository.add_course(session=session, patient_id=patient, regimen="hd-iv-bolus", start_at=START,
                                       created_by="tester", dose_per_kg=720_000, baseline_weight_kg=80,
                                       dosing_weight_kg=78.4).id
        fixed = repository.add_course(session=session, patient_id=patient, regimen="low-dose-sc", start_at=START,
                                      created_by="tester", fixed_dose=3_000_000, dose_unit="[IU]").id
        other = repository.add_patient(session=session, mrn="SYN-TEST-2", given_name="No", family_name="Weight",
                                       recorded_by="tester", is_synthetic=True)
        unweighed = repository.add_course(session=session, patient_id=other.id, regimen="hd-iv-bolus",
                                          start_at=START, created_by="tester", dose_per_kg=600_000).id
    assert latest.dose == 600_000 * 80                             # not 600,000 x 82.5
    assert latest.latest_weight.startswith("latest weight 82.5 kg at ")
    assert latest.latest_weight.endswith("(+3.1% from the dosing weight; not used for the dose)")
    with session_scope(engine) as session:
        recorded = dosing.suggested_dose(session=session, course_id=chosen, now=NOW)
        assert (recorded.dose, recorded.weight_kg) == (pytest.approx(720_000 * 78.4), 78.4)
        assert dosing.suggested_dose(session=session, course_id=fixed, now=NOW).dose == 3_000_000
        none = dosing.suggested_dose(session=session, course_id=unweighed, now=NOW)
    assert none.dose is None and "type the dose" in none.basis


# (dose given, whether a confirmation is needed): [prescription] confirm_difference_percent = 5, of 48 MIU.
@pytest.mark.parametrize("given, asks", [
    (48_000_000 * 1.05, False),            # at +5%: no
    (48_000_000 * 1.0501, True),           # just above: yes
    (48_000_000 * 0.95, False),            # at -5%: no
    (48_000_000 * 0.9499, True),           # just below -5%: yes
    (48_000_000, False),
])
def test_a_dose_that_differs_from_the_prescription_by_more_than_the_limit_needs_confirming(engine, given, asks):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, START - timedelta(minutes=30))
    if asks:
        with pytest.raises(RecordError, match=r"differs from the prescribed 48,000,000 IU \(600,000 IU/kg × 80.0 kg "
                                              r"dosing weight = 48,000,000 IU\) by [+-]5.0%, more than 5%"):
            record(engine, course, 1, "given", at=START, given_at=START, dose=given)
        assert doses_and_audit(engine) == ([], [])
    event = record(engine, course, 1, "given", at=START, given_at=START, dose=given, difference_confirmed=asks)
    assert event.dose == given


def test_the_history_lists_each_dose_newest_first(engine):
    _, course = make_patient_with_course(engine, start=START)
    record(engine, course, 1, "given", at=START, given_at=START, dose=48e6, route="IV", **AUTHORISED)
    record(engine, course, 2, "held", at=START + timedelta(hours=8), reason="platelets 40")
    with session_scope(engine) as session:
        history = dosing.dose_history(session=session, course_id=course, tz=timezone.utc)
    assert list(history.columns) == dosing.HISTORY_COLUMNS
    assert history[["Dose", "Status", "Amount", "Reason or basis"]].values.tolist() == [
        [2, "held", "–", "platelets 40"],
        [1, "given", "48,000,000 IU", f"override by {AUTHORISED['override_by']}: {AUTHORISED['override_reason']} "
                                      "(check: INCOMPLETE)"]]
    assert history["Recorded"].str.startswith("nurse.a, ").all()


# --- the page -------------------------------------------------------------------------------------

APP = "../../dashboard/app.py"
PAGE = "app_pages/doses.py"


@pytest.fixture
def page_db(db_url, monkeypatch):
    """A course started 20 h ago on the demo nurse's ward, with an SBP of 84 ten minutes ago."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    st.cache_resource.clear()
    engine = make_engine(db_url)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    patient, course = make_patient_with_course(engine, start=now - timedelta(hours=20))
    with session_scope(engine) as session:
        auth.ensure_demo_accounts(session=session, ward_codes=["T"])
    observe(engine, patient, now - timedelta(minutes=10), sbp=84, platelets=120)
    yield engine, course
    engine.dispose()
    st.cache_resource.clear()


def doses_page(username: str = "nurse") -> AppTest:
    return signed_in(username, page=PAGE)


def test_the_nurse_sees_the_pre_dose_check_and_records_a_held_dose_with_a_criterion(page_db):
    engine, course = page_db
    at = doses_page()
    assert at.title[0].value == "IL-2 doses"
    assert any("<b>HOLD</b>" in m.value for m in at.markdown)
    assert any("**absolute**: SBP 84 mmHg" in m.value for m in at.markdown)
    assert any("Next: dose 1" in m.value and "overdue by 20 h" in m.value for m in at.markdown)
    checklist = at.dataframe[0].value
    assert "no urine output recorded in the last 24 h" in checklist["Check"].tolist()
    assert checklist["Check"].iloc[-1] == "0 scheduled doses held this course (discontinue once held on 3 occasions)"
    assert any("urine output" in w.value for w in at.warning)
    status_radio(at).set_value("Held").run()
    options = at.multiselect(key="dose_reasons_0").options   # shown as words, chosen by criterion id
    sbp = next(o for o in options if o.startswith("absolute: SBP 84"))
    at.multiselect(key="dose_reasons_0").select("sbp_below")
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Dose 1 recorded as held by Demo nurse."
    history = at.dataframe[-1].value
    assert history[["Dose", "Status"]].values.tolist() == [[1, "held"]]
    assert history.loc[0, "Recorded"].startswith("nurse, ")
    assert history.loc[0, "Reason or basis"] == sbp
    assert any("Next: dose 2" in m.value for m in at.markdown)
    stored, audit = doses_and_audit(engine)
    assert [(d.status, d.recorded_by, d.reason, d.reason_criteria) for d in stored] == [
        ("held", "nurse", sbp, ["sbp_below"])]
    assert [(a.action, a.username) for a in audit] == [("dose-held", "nurse")]


def test_a_given_dose_needs_the_confirmation_and_a_held_one_a_reason(page_db):
    engine, _ = page_db
    at = doses_page()
    assert status_radio(at).value == "Held"          # the check says HOLD: held is offered first
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert any("held dose needs a reason" in e.value for e in at.error) and not at.exception
    status_radio(at).set_value("Given").run()
    assert at.number_input(key="dose_amount_0").value == 600_000 * 80   # the prescription: the dosing weight
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert any("confirm you have checked the dose" in e.value for e in at.error)
    assert doses_and_audit(engine)[0] == []


def test_a_save_records_only_what_the_form_showed_never_a_status_chosen_after_it_was_drawn(page_db):
    """The dose is recorded in the Save button's callback from the form as drawn (issue 21: one run instead of
    two). A status changed after the form was drawn, sent with the click, records nothing and says why."""
    engine, _ = page_db
    at = doses_page()
    assert status_radio(at).value == "Held"
    at.multiselect(key="dose_reasons_0").select("sbp_below")
    status_radio(at).set_value("Given")     # changed, and Save clicked before the form was drawn again
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert any("The form changed after it was drawn" in e.value for e in at.error)
    assert at.error[-1].value == "Nothing was saved." and not at.success and not at.exception
    assert doses_and_audit(engine)[0] == []
    status_radio(at).set_value("Held").run()    # the form of what is chosen: saved as shown
    at.multiselect(key="dose_reasons_0").select("sbp_below")
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert at.success[0].value == "Dose 1 recorded as held by Demo nurse." and not at.error
    assert [d.status for d in doses_and_audit(engine)[0]] == ["held"]


@pytest.mark.parametrize("ended", ["idle past the time-out", "account disabled"])
def test_a_dose_saved_after_the_sign_in_ended_records_nothing_and_shows_the_sign_in(page_db, db_url, ended):
    """The dose is recorded in the Save button's callback, which runs before the page checks the sign-in:
    the callback checks it itself (a screen left open past the time-out, or of an account disabled
    meanwhile, until the 20-s watch replaces it)."""
    engine, _ = page_db
    at = doses_page()
    assert status_radio(at).value == "Held"
    at.multiselect(key="dose_reasons_0").select("sbp_below")
    idle_past_the_time_out(db_url) if ended.startswith("idle") else disable_account(db_url, "nurse")
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert not at.exception and not at.success
    assert doses_and_audit(engine)[0] == []
    assert [t.label for t in at.text_input] == ["User name", "Password"]


def test_a_nurse_cannot_record_given_over_hold_without_an_authoriser_and_a_reason(page_db):
    engine, _ = page_db
    at = doses_page()
    status_radio(at).set_value("Given").run()
    assert any("The check says HOLD (absolute: SBP 84 mmHg" in e.value for e in at.error)
    at.checkbox(key="dose_confirm_0").check()
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert any("Dose 1 cannot be recorded as given: the pre-dose check says HOLD" in e.value for e in at.error)
    assert any("name the authorising clinician and give the reason" in e.value for e in at.error)
    assert doses_and_audit(engine)[0] == []                    # nothing saved
    at.text_input(key="dose_override_by_0").input("Dr Reg (oncology registrar)")
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert any("override: give the reason" in e.value for e in at.error) and doses_and_audit(engine)[0] == []
    at.text_input(key="dose_override_reason_0").input("usual SBP 85-90, asymptomatic; reviewed by phone")
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert not at.exception
    assert at.success[0].value == ("Dose 1 recorded as given over the check, authorised by Dr Reg (oncology "
                                   "registrar) by Demo nurse.")
    stored, audit = doses_and_audit(engine)
    assert [(d.status, d.check_decision, d.override_by, d.override_reason) for d in stored] == [
        ("given", "hold", "Dr Reg (oncology registrar)", "usual SBP 85-90, asymptomatic; reviewed by phone")]
    assert audit[0].after["override_by"] == "Dr Reg (oncology registrar)"


def test_a_dose_that_differs_from_the_prescription_asks_for_confirmation_with_the_difference(page_db):
    engine, course = page_db
    observe(engine, course_patient(engine, course), datetime.now(timezone.utc) - timedelta(minutes=5), weight=85.6)
    at = doses_page()
    status_radio(at).set_value("Given").run()
    caption = next(c.value for c in at.caption if c.value.startswith("Prescribed dose:"))
    assert "600,000 IU/kg × 80.0 kg dosing weight = 48,000,000 IU" in caption
    assert "Latest weight 85.6 kg at" in caption and "(+7.0% from the dosing weight; not used for the dose)" in caption
    at.text_input(key="dose_override_by_0").input("Dr Reg")
    at.text_input(key="dose_override_reason_0").input("reviewed")
    at.checkbox(key="dose_confirm_0").check()
    at.number_input(key="dose_amount_0").set_value(51_360_000)    # today's weight x 600,000: +7%
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert any("The dose 51,360,000 IU differs from the prescribed 48,000,000 IU" in e.value and "by +7.0%, more "
               "than 5%" in e.value for e in at.error)
    assert doses_and_audit(engine)[0] == []
    at.checkbox(key="dose_differs_0").check()
    at.button(key="FormSubmitter:dose_form_0-Save dose").click().run()
    assert not at.exception and at.success
    assert [d.dose for d in doses_and_audit(engine)[0]] == [51_360_000]


def course_patient(engine, course_id: int) -> int:
    with session_scope(engine) as session:
        return session.get(TreatmentCourse, course_id).patient_id


def test_only_the_nurse_role_has_the_doses_page(page_db):
    at = doses_page()
    assert at.title[0].value == "IL-2 doses"
    for role in ("oncologist", "quality", "admin"):
        other = AppTest.from_file(APP, default_timeout=60).run()
        other.text_input(key="sign_in_username").input(role)
        other.text_input(key="sign_in_password").input(auth.DEMO_PASSWORD)
        other.button[0].click().run()
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            other.switch_page(PAGE)
        alone = AppTest.from_file(f"../../dashboard/{PAGE}", default_timeout=60)
        alone.session_state["signed_in_user"] = other.session_state["signed_in_user"]
        alone.run()
        assert not alone.exception and "may not open this page" in alone.error[0].value


def test_a_patient_without_any_observation_gets_every_input_missing_and_no_confirmed_give(engine):
    patient, _ = make_patient_with_course(engine, start=START)
    result = check(engine, patient)
    assert result.decision == "incomplete" and not result.complete and result.criteria == []
    required = [i for i in result.checklist if i.required]
    assert {i.status for i in required} == {"missing"}
    held = result.checklist[-1]
    assert (held.code, held.value) == ("held_doses", "0 held")  # counted from the dose record: never missing
    assert result.missing == ["SBP", "SpO2", "consciousness", "heart rate", "platelets", "creatinine", "urine output"]


def test_between_doses_the_check_is_a_forecast_and_the_heart_rate_is_not_yet_due(engine):
    """The heart rate counts only at the time of dosing (Dutcher 2014 Table 3: 'persistent at the time
    of dosing'): 5 h before the dose its absence does not make the forecast incomplete; within the 2 h
    before the dose it does."""
    started = NOW - timedelta(hours=3)
    patient, course = make_patient_with_course(engine, start=started)
    with session_scope(engine) as session:   # dose 1 on time, 3 h ago: dose 2 is due at NOW + 5 h
        doses.record(session=session, course_id=course, dose_number=1, status="given", scheduled_at=started,
                      given_at=started, dose=48e6, recorded_by="nurse.a", now=started, **AUTHORISED)
    observe_complete(engine, patient, NOW - timedelta(minutes=30), heart_rate=None)   # no heart rate now
    ahead = check(engine, patient)                                                     # next dose due NOW + 5 h
    assert (ahead.decision, ahead.at_dosing, ahead.missing) == ("give", False, [])
    observe(engine, patient, NOW + timedelta(hours=3, minutes=30), sbp=120, spo2=97, consciousness="A")
    due_soon = check(engine, patient, now=NOW + timedelta(hours=3, minutes=40))       # 1 h 20 min before it
    assert due_soon.at_dosing and due_soon.decision == "incomplete" and due_soon.missing == ["heart rate"]


def test_the_check_is_for_the_scheduled_dose_even_after_a_late_one(engine):
    """A dose given 40 min late does not shift the schedule: the check is for the next scheduled dose,
    the one the page names."""
    patient_id, course = make_patient_with_course(engine, start=START)
    record(engine, course, 1, "given", at=START + timedelta(minutes=40), given_at=START + timedelta(minutes=40),
           dose=48e6, **AUTHORISED)
    at = START + timedelta(hours=7)
    nxt = upcoming(engine, course, now=at)
    assert check(engine, patient_id, now=at).due_at == nxt.scheduled_at == START + timedelta(hours=8)


@pytest.mark.parametrize("check, decision_id, override_by, override_reason, shown", [
    ("give", None, None, None, "check: GIVE"),
    ("hold", 7, None, None, "oncologist's decision to give (check: HOLD)"),
    ("discuss", None, "Dr Reg", "reviewed by phone", "override by Dr Reg: reviewed by phone (check: DISCUSS)"),
    ("not run", None, "Dr Reg", "check down", "override by Dr Reg: check down (check: NOT RUN)"),
    (None, None, None, None, "–"),      # recorded before the check was stored with each dose
])
def test_a_given_dose_shows_the_basis_it_was_given_on(check, decision_id, override_by, override_reason, shown):
    from types import SimpleNamespace

    event = SimpleNamespace(check_decision=check, decision_id=decision_id, override_by=override_by,
                            override_reason=override_reason)
    assert dosing.basis_text(event) == shown


@pytest.mark.parametrize("label, value, said", [
    ("confusion grade", "grade 0", "confusion grade 0"),
    ("SBP", "120 mmHg", "SBP 120 mmHg"),
    ("weight gain from baseline", "102.6 kg", "weight gain from baseline 102.6 kg"),
])
def test_a_checklist_line_says_a_grade_once(label, value, said):
    assert dosing._said(label, value) == said


def status_radio(at):
    """The doses page's Given / Held / Stopped choice (keyed by the form's version)."""
    return at.radio(key=f"dose_status_{at.session_state['dose_form_version']}")


def test_the_inbox_reads_several_checks_at_once_each_the_same_as_the_patients_own_check(engine):
    """views.dosing.checks_or_none (the inbox's cards, issue 21: one read of the store for the cards drawn)
    says for each patient what pre_dose_check says for that patient alone: HOLD, GIVE, INCOMPLETE."""
    holding, _ = make_patient_with_course(engine, mrn="SYN-TEST-1", start=START)
    giving, _ = make_patient_with_course(engine, mrn="SYN-TEST-2", start=START)
    empty, _ = make_patient_with_course(engine, mrn="SYN-TEST-3", start=START)
    observe_complete(engine, holding, NOW - timedelta(minutes=15), sbp=85)
    observe_complete(engine, giving, NOW - timedelta(minutes=15))
    with session_scope(engine) as session:
        together = dosing.checks_or_none(session=session, patient_ids=[empty, holding, giving, holding], now=NOW)
    assert list(together) == sorted({holding, giving, empty})
    assert {p: c.decision for p, (c, _) in together.items()} == {holding: "hold", giving: "give", empty: "incomplete"}
    for patient, (found, problem) in together.items():
        alone = check(engine, patient)
        assert problem is None
        assert found.summary() == alone.summary()
        assert [i.text for i in found.checklist] == [i.text for i in alone.checklist]
        assert [c.text for c in found.criteria] == [c.text for c in alone.criteria]
        assert found.missing == alone.missing and found.due_at == alone.due_at


def test_a_check_that_cannot_run_says_why_and_the_other_patients_checks_still_run(engine, monkeypatch):
    first, _ = make_patient_with_course(engine, mrn="SYN-TEST-1", start=START)
    second, _ = make_patient_with_course(engine, mrn="SYN-TEST-2", start=START)
    observe_complete(engine, second, NOW - timedelta(minutes=15))
    real = dosing._check_of

    def failing_for_first(session, patient_id, *rest):
        if patient_id == first:
            raise ValueError("the course's interval is unreadable")
        return real(session, patient_id, *rest)

    monkeypatch.setattr(dosing, "_check_of", failing_for_first)
    with session_scope(engine) as session:
        together = dosing.checks_or_none(session=session, patient_ids=[first, second], now=NOW)
    assert together[first] == (None, "ValueError: the course's interval is unreadable")
    assert together[second][0].decision == "give" and together[second][1] is None
