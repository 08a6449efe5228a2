"""Issue 19 items 2 and 3 (the course parts): the oncologist starts a course with its indication, regimen,
prescription and baselines (from the latest results with their dates, or typed; missing stays missing),
answers and signs off the eligibility screen; no dose before an eligible sign-off (the dose gate), none
after the course ends; the next cycle carries the baselines forward. On SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from monitoring.clinical.inputs import ObservationInput
from monitoring.clinical.vocabulary import ELIGIBILITY_ITEMS
from monitoring.errors import RecordError
from monitoring.permissions import PermissionDenied
from monitoring.services import courses, doses
from monitoring.services.courses import Baseline, CoursePlan
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.store.models import AuditEvent, EligibilitySignOff, TreatmentCourse
from monitoring.views.courses import latest_results, patient_courses
from monitoring.views.dosing import next_dose
from monitoring.views.patient_banner import patient_banner

UTC = timezone.utc
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
START = NOW + timedelta(hours=2)
PLAN = CoursePlan(indication_stage="IV", combination="il2-alone", prior_surgery=True, after_til=False,
                  regimen="hd-iv-bolus", planned_doses=14, dose_interval_hours=8, start_at=START,
                  dose_per_kg=600_000)
ALL_NO = {item: "no" for item in ELIGIBILITY_ITEMS}
ONC = {"role": "oncologist", "username": "dr.onc"}


@pytest.fixture
def patient(engine) -> int:
    """A patient with no course, weighed and with labs two days ago and yesterday."""
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="T", name="Test ward")
        patient_id = repository.add_patient(session=session, mrn="SYN-C1", given_name="Course", family_name="Test",
                                            recorded_by="nurse.a", ward_id=ward.id, is_synthetic=True).id
    for at, values in ((NOW - timedelta(days=2), {"weight": 81.0, "creatinine": 1.0}),
                       (NOW - timedelta(days=1), {"weight": 80.2, "creatinine": 0.9, "anc": 3.1, "alt": 30})):
        with session_scope(engine) as session:
            repository.add_observation_set(session=session, patient_id=patient_id, observed_at=at, now=at,
                                           values=[ObservationInput(c, v) for c, v in values.items()],
                                           recorded_by="nurse.a")
    return patient_id


def offered(engine, patient_id) -> dict[str, Baseline]:
    """The baselines as the page offers them: each latest result, confirmed."""
    with session_scope(engine) as session:
        found = latest_results(session=session, patient_id=patient_id)
    return {name: Baseline(r.value, "result", r.observation_id) for name, r in found.items()}


def start(engine, patient_id, plan=PLAN, baselines=None, **who) -> int:
    with session_scope(engine) as session:
        return int(courses.start_course(session=session, patient_id=patient_id, plan=plan,
                                        baselines=offered(engine, patient_id) if baselines is None else baselines,
                                        **(who or ONC)).id)


def screen(engine, course_id, answers=None, notes=None, at=NOW):
    with session_scope(engine) as session:
        courses.answer_screen(session=session, course_id=course_id, answers=answers or ALL_NO, notes=notes or {},
                              now=at, **ONC)


def sign(engine, course_id, outcome="eligible", reason=None, at=NOW):
    with session_scope(engine) as session:
        courses.sign_off(session=session, course_id=course_id, outcome=outcome, reason=reason, now=at, **ONC)


def hold_dose(engine, course_id, number=1):
    """Record a dose (held: the gate applies to every dose, and a held one needs no pre-dose check)."""
    with session_scope(engine) as session:
        return doses.record(session=session, course_id=course_id, dose_number=number, status="held",
                            scheduled_at=START + (number - 1) * timedelta(hours=8), recorded_by="nurse.a",
                            reason="test hold", now=START + (number - 1) * timedelta(hours=8))


def end(engine, course_id, reason="completed", at=None):
    with session_scope(engine) as session:
        courses.end_course(session=session, course_id=course_id, reason=reason, now=at or START + timedelta(days=5),
                           **ONC)


def course(engine, course_id) -> TreatmentCourse:
    with session_scope(engine) as session:
        row = session.get(TreatmentCourse, course_id)
        session.expunge(row)
        return row


# --- starting a course -------------------------------------------------------------------------------

def test_a_course_starts_with_its_indication_and_the_latest_results_as_baselines_with_their_dates(engine, patient):
    course_id = start(engine, patient)
    row = course(engine, course_id)
    assert (row.indication_stage, row.combination, row.prior_surgery, row.after_til) == ("IV", "il2-alone", True,
                                                                                         False)
    assert (row.baseline_weight_kg, row.baseline_creatinine_mg_dl, row.baseline_anc_10e9_l,
            row.baseline_alt_u_l) == (80.2, 0.9, 3.1, 30)
    # Missing stays missing: no bilirubin, AST or blood pressure was ever recorded.
    assert (row.baseline_bilirubin_mg_dl, row.baseline_ast_u_l, row.usual_sbp_mm_hg) == (None, None, None)
    assert row.baseline_sources["weight"]["source"] == "result"
    assert row.baseline_sources["weight"]["observed_at"] == (NOW - timedelta(days=1)).isoformat()
    assert row.dosing_weight_kg == 80.2 and row.status == "active" and row.cycle == 1
    with session_scope(engine) as session:
        view = patient_courses(session=session, patient_id=patient, tz=UTC)[0]
        audit = session.scalars(select(AuditEvent).where(AuditEvent.entity == "course")).all()
    shown = dict(zip(view.baselines["Baseline"], zip(view.baselines["Value"], view.baselines["Source"])))
    assert shown["Weight"] == ("80.2 kg", "result of 26 Nov 10:00 UTC")
    assert shown["Bilirubin"] == ("not recorded", "")
    assert [a.action for a in audit] == ["create"] and audit[0].username == "dr.onc"


def test_a_typed_baseline_is_checked_against_the_catalogue_and_kept_as_entered(engine, patient):
    typed = {**offered(engine, patient), "sbp": Baseline(118), "bilirubin": Baseline(0.6)}
    row = course(engine, start(engine, patient, baselines=typed))
    assert (row.usual_sbp_mm_hg, row.baseline_bilirubin_mg_dl) == (118, 0.6)
    assert row.baseline_sources["sbp"] == {"source": "entered"}
    with pytest.raises(RecordError) as refused:
        start(engine, patient, baselines={"sbp": Baseline(900)})
    assert any(e.startswith("Baseline Systolic blood pressure 900") for e in refused.value.errors)


def test_a_result_offered_must_be_the_patients_current_value(engine, patient):
    chosen = offered(engine, patient)
    wrong = {**chosen, "weight": replace(chosen["weight"], value=70.0)}
    with pytest.raises(RecordError) as refused:
        start(engine, patient, baselines=wrong)
    assert refused.value.errors == ["Weight 70: not a current result of this patient; choose the offered result "
                                    "again, or type the value."]


@pytest.mark.parametrize("change, message", [
    ({"indication_stage": "II"}, "Indication 'II' is not known; accepted: III, IV, recurrent (melanoma stage III, IV "
                                 "or recurrent)."),
    ({"combination": "il2-ifn-tmz"}, "IL-2 with interferon and temozolomide is not given as 'High-dose IV bolus "
                                     "every 8 h'; accepted regimens: biochemotherapy."),
    ({"regimen": "til-il2"}, "IL-2 after TIL is the regimen 'til-il2', and that regimen is always after TIL: choose "
                             "both or neither."),
    ({"after_til": True}, "IL-2 after TIL is the regimen 'til-il2', and that regimen is always after TIL: choose "
                          "both or neither."),
    ({"prior_surgery": None}, "Prior surgery: answer yes or no."),
    ({"fixed_dose": 3e6}, "Give either a dose per kg (with the dosing weight) or a fixed dose, not both."),
    ({"dose_per_kg": None}, "Give either a dose per kg (with the dosing weight) or a fixed dose, not neither."),
    ({"planned_doses": 0}, "Planned doses per cycle 0 is not accepted; give a whole number from 1 to 100."),
    ({"dose_interval_hours": 0}, "Dose interval 0 h is not accepted; give hours between doses (more than 0, at most "
                                 "672)."),
])
def test_an_inconsistent_plan_is_refused_naming_the_value(engine, patient, change, message):
    with pytest.raises(RecordError) as refused:
        start(engine, patient, plan=replace(PLAN, **change))
    assert refused.value.errors == [message]


def test_biochemotherapy_and_til_are_accepted_with_their_own_indications(engine, patient):
    bio = start(engine, patient, plan=replace(PLAN, combination="il2-ifn-tmz", regimen="biochemotherapy",
                                              dose_per_kg=None, fixed_dose=9e6))
    assert (course(engine, bio).regimen, course(engine, bio).fixed_dose) == ("biochemotherapy", 9e6)
    end(engine, bio, "toxicity")
    til = start(engine, patient, plan=replace(PLAN, regimen="til-il2", after_til=True, after_lymphodepletion=True,
                                              start_at=START + timedelta(days=30)))
    assert (course(engine, til).regimen, course(engine, til).after_lymphodepletion) == ("til-il2", True)


def test_a_per_kg_dose_without_any_weight_is_refused(engine, patient):
    with pytest.raises(RecordError) as refused:
        start(engine, patient, baselines={})
    assert refused.value.errors == ["A dose per kg needs a dosing weight (or the pre-treatment weight as a "
                                    "baseline)."]


def test_only_an_oncologist_starts_a_course_and_one_course_runs_at_a_time(engine, patient):
    with pytest.raises(PermissionDenied, match="may not manage courses; allowed: oncologist"):
        start(engine, patient, role="nurse", username="nurse.a")
    first = start(engine, patient)
    with pytest.raises(RecordError) as refused:
        start(engine, patient)
    assert refused.value.errors == [f"This patient's course {first} (cycle 1, started 27 Nov 12:00 UTC) has not "
                                    "ended; end it before starting another."]


# --- the eligibility screen, its sign-off and the dose gate --------------------------------------------------

def test_no_dose_before_the_screen_is_answered_and_signed_off_then_doses_are_recorded(engine, patient):
    course_id = start(engine, patient)
    with pytest.raises(RecordError) as refused:
        hold_dose(engine, course_id)
    assert refused.value.errors == [f"Course {course_id} (cycle 1): its eligibility screen is not answered (9 of 9 "
                                    "items open) nor signed off; no dose can be recorded until an oncologist signs "
                                    "it off as eligible on the Courses page."]
    screen(engine, course_id)
    with pytest.raises(RecordError, match="its eligibility screen is answered but not signed off; no dose"):
        hold_dose(engine, course_id)
    sign(engine, course_id)
    assert hold_dose(engine, course_id).status == "held"


def test_not_eligible_blocks_doses_and_a_changed_screen_needs_a_new_sign_off(engine, patient):
    course_id = start(engine, patient)
    screen(engine, course_id)
    sign(engine, course_id, "not-eligible")
    with pytest.raises(RecordError) as refused:
        hold_dose(engine, course_id)
    assert refused.value.errors == [f"Course {course_id} (cycle 1) was signed off 'not eligible' (dr.onc, 27 Nov "
                                    "10:00 UTC); no dose can be recorded unless an oncologist signs it off as "
                                    "eligible after a new screen."]
    sign(engine, course_id, "eligible", at=NOW + timedelta(minutes=5))
    screen(engine, course_id, {**ALL_NO, "on_steroids": "yes"}, {"on_steroids": "dexamethasone 4 mg"},
           at=NOW + timedelta(minutes=10))
    with pytest.raises(RecordError, match="the eligibility screen was changed after its sign-off"):
        hold_dose(engine, course_id)


def test_sign_off_rules(engine, patient):
    course_id = start(engine, patient)
    with pytest.raises(RecordError) as incomplete:
        sign(engine, course_id)
    assert incomplete.value.errors[0].startswith("The eligibility screen is not complete; answer first: Bedbound, ")
    with pytest.raises(RecordError) as no_note:
        screen(engine, course_id, {**ALL_NO, "heart_disease": "unknown"})
    assert no_note.value.errors == ["Significant heart disease: a 'unknown' answer needs a note (what it is, or how "
                                    "it is being found out)."]
    screen(engine, course_id, {**ALL_NO, "heart_disease": "unknown"}, {"heart_disease": "echo booked"})
    with pytest.raises(RecordError) as plain:
        sign(engine, course_id, "eligible")
    assert plain.value.errors == ["'Eligible' needs every answer 'no'; this screen has Significant heart disease "
                                  "(unknown): sign off 'eligible after discussion' with the reason, or 'not "
                                  "eligible'."]
    with pytest.raises(RecordError) as unexplained:
        sign(engine, course_id, "eligible-after-discussion", reason="  ")
    assert unexplained.value.errors == ["'Eligible after discussion' needs the reason (what was discussed, with "
                                        "whom, and why IL-2 goes ahead)."]
    sign(engine, course_id, "eligible-after-discussion", reason="Cardiology: normal stress echo last year")
    assert hold_dose(engine, course_id).status == "held"
    with session_scope(engine) as session:
        view = patient_courses(session=session, patient_id=patient, tz=UTC)[0]
    assert view.signoff.reason == "Cardiology: normal stress echo last year" and view.dose_problem is None


def test_sign_offs_are_append_only(engine, patient):
    course_id = start(engine, patient)
    screen(engine, course_id)
    sign(engine, course_id)
    for statement in ("UPDATE eligibilitysignoff SET outcome = 'not-eligible'", "DELETE FROM eligibilitysignoff"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as connection:
                connection.execute(text(statement))


# --- ending a course and the next cycle ------------------------------------------------------------------

@pytest.mark.parametrize("reason, status", [("completed", "completed"), ("toxicity", "stopped"),
                                            ("progression", "stopped"), ("patient-choice", "stopped"),
                                            ("death", "stopped")])
def test_an_ended_course_takes_no_more_doses(engine, patient, reason, status):
    course_id = start(engine, patient)
    screen(engine, course_id)
    sign(engine, course_id)
    hold_dose(engine, course_id)
    end(engine, course_id, reason)
    row = course(engine, course_id)
    assert (row.status, row.end_reason, row.ended_by) == (status, reason, "dr.onc")
    with session_scope(engine) as session:
        assert next_dose(session=session, course_id=course_id, now=START + timedelta(days=6)) is None
    with pytest.raises(RecordError) as refused:
        hold_dose(engine, course_id, 2)
    assert refused.value.errors[0].startswith(f"This course is {status} ({reason}, by dr.onc, ")
    with pytest.raises(RecordError, match="already ended"):
        end(engine, course_id, "completed")


def test_the_end_reason_must_be_known(engine, patient):
    course_id = start(engine, patient)
    with pytest.raises(RecordError) as refused:
        end(engine, course_id, "bored")
    assert refused.value.errors == ["End reason 'bored' is not known; accepted: completed, toxicity, progression, "
                                    "patient-choice, death."]


def test_the_next_cycle_carries_the_baselines_forward_and_needs_its_own_sign_off(engine, patient):
    first = start(engine, patient, baselines={**offered(engine, patient), "sbp": Baseline(118)})
    screen(engine, first)
    sign(engine, first)
    rest = START + timedelta(days=14)
    with session_scope(engine) as session, pytest.raises(RecordError, match="has not ended; end it"):
        courses.next_cycle(session=session, course_id=first, start_at=rest, baselines={}, **ONC)
    end(engine, first, "completed")
    previous = course(engine, first)
    with session_scope(engine) as session:
        second = courses.next_cycle(session=session, course_id=first, start_at=rest,
                                    baselines=courses.carried_baselines(previous), **ONC).id
    row = course(engine, second)
    assert (row.cycle, row.previous_course_id, row.regimen, row.planned_doses) == (2, first, "hd-iv-bolus", 14)
    assert (row.baseline_weight_kg, row.usual_sbp_mm_hg, row.baseline_bilirubin_mg_dl) == (80.2, 118, None)
    assert row.baseline_sources["weight"]["source"] == "carried"
    assert row.baseline_sources["weight"]["from_cycle"] == 1
    assert row.baseline_sources["weight"]["was"]["source"] == "result"
    with pytest.raises(RecordError, match=f"Course {second} \\(cycle 2\\): its eligibility screen is not answered"):
        hold_dose(engine, second)


def test_a_carried_baseline_must_be_the_previous_cycles_and_there_is_no_cycle_after_death(engine, patient):
    first = start(engine, patient)
    end(engine, first, "death")
    with session_scope(engine) as session, pytest.raises(RecordError) as refused:
        courses.next_cycle(session=session, course_id=first, start_at=START + timedelta(days=14),
                           baselines={"weight": Baseline(75.0, "carried")}, **ONC)
    assert refused.value.errors == [f"Course {first} ended with the patient's death; there is no next cycle.",
                                    "Weight 75: not the previous cycle's baseline; type it as a new value instead."]


# --- the migration -----------------------------------------------------------------------------------------

def test_migration_0017_signs_off_every_existing_course_so_its_doses_can_be_recorded(engine, db_url, patient):
    from alembic import command

    from monitoring.store.db import alembic_config, current_revision, upgrade
    with session_scope(engine) as session:
        course_id = repository.add_course(session=session, patient_id=patient, regimen="hd-iv-bolus",
                                          start_at=START, created_by="dr.before", planned_doses=14,
                                          dose_per_kg=600_000, dose_interval_hours=8, baseline_weight_kg=80).id
    with engine.begin() as connection:
        config = alembic_config(db_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0016")
    try:
        assert current_revision(engine) == "0016"
    finally:
        upgrade(db_url)
    assert current_revision(engine) == "0019"
    with session_scope(engine) as session:
        rows = session.scalars(select(EligibilitySignOff)).all()
    assert [(r.course_id, r.outcome, r.signed_by, r.answer_ids) for r in rows] == [(course_id, "eligible",
                                                                                    "migration", None)]
    assert rows[0].reason.startswith("Course started before the eligibility sign-off existed (migration 0017)")
    assert hold_dose(engine, course_id).status == "held"


def banner_eligibility(engine, patient_id) -> str | None:
    with session_scope(engine) as session:
        return patient_banner(session=session, patient_id=patient_id, now=NOW, tz=UTC).eligibility()


def test_the_patient_banner_keeps_a_positive_answer_and_a_missing_sign_off_in_view(engine, patient):
    """Issue 19 item 2: a positive answer stays visible on the banner (on every patient page), as in the
    pre-dose check; so does a course that may not take a dose yet. A screen all 'no' and signed off
    'eligible' adds nothing."""
    assert banner_eligibility(engine, patient) is None                   # no course: nothing to say
    course_id = start(engine, patient)
    assert banner_eligibility(engine, patient) == ("Eligibility: not signed off: no dose until the oncologist "
                                                   "signs it off")
    screen(engine, course_id)
    sign(engine, course_id)
    assert banner_eligibility(engine, patient) is None                   # eligible, every answer 'no'
    screen(engine, course_id, {**ALL_NO, "active_brain_metastases": "yes"},
           {"active_brain_metastases": "treated, stable on MRI"}, at=NOW + timedelta(minutes=5))
    assert banner_eligibility(engine, patient) == (
        "Eligibility: screen changed since its sign-off: no dose until signed off again · Active brain metastases: "
        "yes (treated, stable on MRI)")
    sign(engine, course_id, "eligible-after-discussion", reason="MDT 26 Nov: SRS done", at=NOW + timedelta(minutes=9))
    assert banner_eligibility(engine, patient) == ("Eligibility: eligible after discussion · Active brain metastases: "
                                                   "yes (treated, stable on MRI)")
    sign(engine, course_id, "not-eligible", at=NOW + timedelta(minutes=12))
    assert banner_eligibility(engine, patient).startswith("Eligibility: not eligible · Active brain metastases")
