"""Issue 15: a dose is recorded as given only when the pre-dose check allows it, on the oncologist's
decision to give that dose, or on an override naming the authorising clinician and the reason.
Enforced in monitoring.services.doses.record (the page, the CLI and these tests call the same rule); the
oncologist's decision (monitoring.services.dose_decisions.decide) is stored with the check it was made on,
and a decision to give lapses when a criterion appears after it. SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy import select

from monitoring.errors import RecordError
from monitoring.services import auth, dose_decisions, doses
from monitoring.store.db import session_scope
from monitoring.store.models import AuditEvent, DoseDecision, DoseEvent
from monitoring.views import dosing
from tests.factories import make_patient_with_course
from tests.services.test_dosing import START, observe, observe_complete

UTC = timezone.utc
DUE = START                                  # dose 1 is due at the course start
BEFORE = DUE - timedelta(minutes=30)         # the pre-dose set
DECIDED = DUE - timedelta(minutes=20)        # the oncologist decides
GIVEN = DUE + timedelta(minutes=5)


def give(engine, course: int, number: int = 1, **kwargs) -> DoseEvent:
    with session_scope(engine) as session:
        return doses.record(session=session, course_id=course, dose_number=number, status="given",
                             scheduled_at=DUE, given_at=GIVEN, dose=48e6, route="IV", recorded_by="nurse.a",
                             now=GIVEN + timedelta(minutes=2), **kwargs)


def decide(engine, course: int, decision: str, *, at=DECIDED, number: int = 1, role: str = "oncologist", **kwargs):
    with session_scope(engine) as session:
        return dose_decisions.decide(session=session, course_id=course, dose_number=number, decision=decision,
                                     role=role, decided_by="dr.onc", now=at, tz=UTC, **kwargs)


def stored(engine) -> tuple[list[DoseEvent], list[str]]:
    with session_scope(engine) as session:
        events = session.scalars(select(DoseEvent)).all()
        actions = [a.action for a in session.scalars(select(AuditEvent).where(
            AuditEvent.entity.in_(["dose", "dose-decision"])).order_by(AuditEvent.id)).all()]
        return events, actions


def refused(engine, course: int, match: str, **kwargs) -> str:
    before = stored(engine)
    with pytest.raises(RecordError) as caught:
        give(engine, course, **kwargs)
    assert stored(engine)[0] == before[0] and stored(engine)[1] == before[1]   # nothing half saved
    text = " ".join(caught.value.errors)
    assert match in text, text
    return text


# --- given on the check alone --------------------------------------------------------------------

# (values of the pre-dose set, the check's decision): only GIVE lets the nurse record 'given' alone.
@pytest.mark.parametrize("changes, decision", [
    ({}, "give"),
    ({"sbp": 84}, "hold"),               # label: SBP < 90 withhold
    ({"platelets": 29}, "hold"),         # Dutcher Table 3: platelets < 30,000/mm3 absolute
    ({"platelets": 30}, "discuss"),      # Dutcher Table 3: 30,000-50,000/mm3 relative
    ({"heart_rate": 125}, "discuss"),    # relative: sustained tachycardia 100-129 (Dutcher Table 3)
    ({"creatinine": None}, "incomplete"),   # a required input missing
])
def test_given_is_recorded_alone_only_on_give(engine, changes, decision):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE, **changes)
    if decision == "give":
        event = give(engine, course)
        assert (event.check_decision, event.override_by, event.decision_id) == ("give", None, None)
        return
    text = refused(engine, course, f"the pre-dose check says {decision.upper()}")
    assert "name the authorising clinician and give the reason" in text


def test_an_override_needs_both_the_authoriser_and_the_reason_and_is_stored_with_the_check(engine):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE, sbp=84)
    assert "give the reason" in refused(engine, course, "HOLD", override_by="Dr Reg (on call)")
    assert "name the authorising clinician" in refused(engine, course, "HOLD", override_reason="SBP 84 is usual")
    assert "name the authorising" in refused(engine, course, "HOLD", override_by="  ", override_reason="  x ")
    event = give(engine, course, override_by="Dr Reg (on call)", override_reason="usual SBP 85-90, asymptomatic")
    assert (event.check_decision, event.check_criteria, event.override_by, event.override_reason) == (
        "hold", ["sbp_below"], "Dr Reg (on call)", "usual SBP 85-90, asymptomatic")
    with session_scope(engine) as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "dose-given")).one()
    assert audit.after["override_by"] == "Dr Reg (on call)" and audit.after["check_decision"] == "hold"


def test_when_the_check_cannot_run_a_dose_is_given_only_on_an_override(engine, monkeypatch):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE)

    def broken(*_, **__):
        raise RuntimeError("thresholds unreadable")

    monkeypatch.setattr(dosing, "_check_of", broken)   # where every pre-dose check runs, one or several
    refused(engine, course, "the pre-dose check says could not run")
    event = give(engine, course, override_by="Dr Reg", override_reason="check down; assessed at the bedside")
    assert event.check_decision == "not run" and event.override_by == "Dr Reg"


# --- the oncologist's decision -------------------------------------------------------------------

def test_an_oncologists_decision_to_give_lets_the_nurse_give_over_a_hold(engine):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE, sbp=86)
    decided = decide(engine, course, "give", reason_note="usual SBP 85-90; asymptomatic, warm, passing urine")
    assert decided.check_decision == "hold" and "HOLD" in decided.text
    event = give(engine, course)
    with session_scope(engine) as session:
        decision = session.scalars(select(DoseDecision)).one()
    assert (event.decision_id, event.override_by, event.check_decision) == (decision.id, None, "hold")
    assert (decision.decided_by, decision.check_criteria, decision.check_decision) == ("dr.onc", ["sbp_below"], "hold")
    assert stored(engine)[1] == ["dose-decision-give", "dose-given"]


def test_a_decision_to_give_lapses_when_a_new_criterion_appears_after_it(engine):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE, sbp=86)
    decide(engine, course, "give", reason_note="usual SBP")
    observe(engine, patient, DUE - timedelta(minutes=5), platelets=40)   # after the decision
    text = refused(engine, course, "lapsed: the check now also finds relative: platelets 40")
    assert "oncologist dr.onc: GIVE" in text
    # The same values as when decided (SBP still 86, a new reading): the decision stands.
    observe(engine, patient, DUE - timedelta(minutes=4), platelets=150)
    observe(engine, patient, DUE - timedelta(minutes=3), sbp=85)
    assert give(engine, course).decision_id is not None


def test_a_decision_to_give_lapses_when_an_input_goes_missing_after_it(engine):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE, sbp=86)
    decide(engine, course, "give", reason_note="usual SBP", at=BEFORE)
    # At the time given, 5 h later, the SBP of the pre-dose set is stale (vital signs valid 4 h).
    with session_scope(engine) as session:
        with pytest.raises(RecordError, match="lapsed: the check now also finds no valid value for SBP"):
            doses.record(session=session, course_id=course, dose_number=1, status="given", scheduled_at=DUE,
                          given_at=BEFORE + timedelta(hours=5), dose=48e6, recorded_by="nurse.a",
                          now=BEFORE + timedelta(hours=5))


@pytest.mark.parametrize("decision", ["hold", "discuss", "stop"])
def test_a_decision_against_the_dose_needs_an_override_even_when_the_check_says_give(engine, decision):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE)
    decide(engine, course, decision, reason_note="rising creatinine trend; review at 14:00")
    text = refused(engine, course, f"oncologist dr.onc: {decision.upper()}")
    assert "rising creatinine trend" in text
    event = give(engine, course, override_by="Dr Onc by phone", override_reason="reviewed: give")
    assert event.check_decision == "give" and event.override_by == "Dr Onc by phone"


def test_a_later_decision_replaces_the_earlier_and_a_decision_is_for_one_dose_only(engine):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE, sbp=86)
    decide(engine, course, "hold", reason_criteria=["sbp_below"])
    decide(engine, course, "give", reason_note="fluid bolus given, SBP usual", at=DECIDED + timedelta(minutes=5))
    assert give(engine, course).decision_id is not None
    # Dose 2 (8 h later, SBP still 86): the decision for dose 1 does not carry over.
    observe_complete(engine, patient, DUE + timedelta(hours=7, minutes=30), sbp=86)
    with session_scope(engine) as session:
        with pytest.raises(RecordError, match="Dose 2 cannot be recorded as given: the pre-dose check says HOLD"):
            doses.record(session=session, course_id=course, dose_number=2, status="given",
                          scheduled_at=DUE + timedelta(hours=8), given_at=DUE + timedelta(hours=8), dose=48e6,
                          recorded_by="nurse.a", now=DUE + timedelta(hours=8, minutes=1))


# --- deciding ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["nurse", "quality", "admin"])
def test_only_the_oncologist_decides(engine, role):
    _, course = make_patient_with_course(engine, start=START)
    with pytest.raises(auth.PermissionDenied, match=f"Your role \\({role}\\) may not decide doses"):
        decide(engine, course, "hold", role=role, reason_note="x")
    assert stored(engine) == ([], [])


@pytest.mark.parametrize("decision, kwargs, message", [
    ("hold", {}, "A decision to hold needs a reason"),
    ("stop", {"reason_note": "  "}, "A decision to stop needs a reason"),
    ("give", {}, "The pre-dose check says HOLD (absolute: SBP 84 mmHg"),   # over a hold: say why
    ("pause", {"reason_note": "x"}, "Decision 'pause' is not known; accepted: give, hold, discuss, stop"),
])
def test_a_decision_without_its_reason_is_refused(engine, decision, kwargs, message):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE, sbp=84)
    with pytest.raises(RecordError) as caught:
        decide(engine, course, decision, **kwargs)
    assert any(message in e for e in caught.value.errors), caught.value.errors
    with session_scope(engine) as session:
        assert session.scalars(select(DoseDecision)).all() == []


def test_a_decision_is_for_the_next_dose_only(engine):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE)
    with pytest.raises(RecordError, match="Dose 2 is not the next dose of this course \\(dose 1 is\\)"):
        decide(engine, course, "hold", number=2, reason_note="x")


def test_the_decision_is_shown_to_the_nurse_in_words(engine):
    patient, course = make_patient_with_course(engine, start=START)
    observe_complete(engine, patient, BEFORE, sbp=84)
    decide(engine, course, "hold", reason_criteria=["sbp_below"], reason_note="fluids first")
    with session_scope(engine) as session:
        check = dosing.pre_dose_check(session=session, patient_id=patient, now=DUE, tz=UTC)
        text = dose_decisions.standing_text(session=session, course_id=course, dose_number=1, check=check,
                                            tz=UTC, now=DUE)
    assert text.startswith("oncologist dr.onc: HOLD at ") and "(20 min ago)" in text
    assert "absolute: SBP 84 mmHg" in text and text.endswith("; fluids first)")


@pytest.mark.parametrize("check, decision, applies, offered", [
    ("give", None, True, "given"),
    ("discuss", None, True, "given"),           # the check alone does not hold: 'given' asks for authority
    ("incomplete", None, True, "given"),
    ("hold", None, True, "held"),
    ("permanently discontinue", None, True, "held"),   # ending the course is the oncologist's decision
    ("give", "hold", True, "held"),
    ("give", "discuss", True, "held"),
    ("give", "stop", True, "stopped"),
    ("hold", "give", True, "held"),             # the check's hold is offered; a decision to give lets 'given' pass
    ("give", "give", False, "given"),           # a lapsed decision offers nothing of its own
    (None, None, True, "given"),                # the check could not run: 'given' asks for authority
])
def test_the_status_offered_first_is_the_safe_answer(check, decision, applies, offered):
    from types import SimpleNamespace

    from monitoring.views import dose_gate
    checked = None if check is None else SimpleNamespace(decision=check)
    standing = None if decision is None else SimpleNamespace(decision=decision, applies=applies)
    assert dose_gate.offered_status(checked, standing) == offered
