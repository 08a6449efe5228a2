"""Issue 18 item 6: the handover's SBAR for a ward and a shift, assembled from the views the other pages
show (never derived again): NEWS2 and its trend over the shift, the open alerts, the next dose with the
same pre-dose check as the doses page, the course, CTCAE grades new or worse this shift, the shift's
fluid balance and the weight. On SQLite and PostgreSQL (the `engine` fixture)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitoring.clinical.inputs import ObservationInput
from monitoring.clinical.shifts import shift_at
from monitoring.services import dose_decisions, doses
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.views import dose_gate, dosing, lists
from monitoring.views.alerts import list_alerts
from monitoring.views.handover import ward_handover
from tests.factories import make_patient_with_course

LONDON = ZoneInfo("Europe/London")                     # GMT in November: ward times read as UTC
UTC = timezone.utc
COURSE_START = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)        # in the day shift, 07:00-19:00
DAY = shift_at(NOW, LONDON)
FULL_SET = dict(resp_rate=16, spo2=97, on_oxygen="no", sbp=120, heart_rate=80, consciousness="A", temperature=37.0)
AUTHORISED = {"override_by": "Dr Test (oncologist)", "override_reason": "test: no pre-dose observations"}


def observe(engine, patient_id: int, at: datetime, period_hours: float | None = None, **values) -> None:
    inputs = [ObservationInput(code, value, period_start=at - timedelta(hours=period_hours) if period_hours else None)
              for code, value in values.items()]
    with session_scope(engine) as session:
        repository.add_observation_set(session=session, patient_id=patient_id, values=inputs, observed_at=at,
                                       recorded_by="nurse.a", now=at, confirmed=list(values))


def give(engine, course_id: int, number: int) -> None:
    at = COURSE_START + (number - 1) * timedelta(hours=8)
    with session_scope(engine) as session:
        doses.record(session=session, course_id=course_id, dose_number=number, status="given", scheduled_at=at,
                     given_at=at, dose=48e6, recorded_by="nurse.a", now=at, **AUTHORISED)


@pytest.fixture
def ward(engine):
    """A patient two doses into IL-2, whose neutrophils fall to grade 3 and SBP to 84 in the day shift."""
    patient, course = make_patient_with_course(engine, start=COURSE_START)
    give(engine, course, 1)
    give(engine, course, 2)
    observe(engine, patient, datetime(2026, 11, 27, 5, 0, tzinfo=UTC), **FULL_SET, anc=2.0)   # before the shift
    observe(engine, patient, datetime(2026, 11, 27, 8, 0, tzinfo=UTC), weight=84.0)
    observe(engine, patient, datetime(2026, 11, 27, 10, 0, tzinfo=UTC), **FULL_SET)
    observe(engine, patient, datetime(2026, 11, 27, 12, 0, tzinfo=UTC), anc=0.8)
    observe(engine, patient, datetime(2026, 11, 27, 12, 5, tzinfo=UTC), period_hours=4, fluid_intake=1000)
    observe(engine, patient, datetime(2026, 11, 27, 14, 0, tzinfo=UTC), period_hours=6, urine_output=300)
    observe(engine, patient, datetime(2026, 11, 27, 15, 30, tzinfo=UTC), **{**FULL_SET, "sbp": 84})
    with session_scope(engine) as session:
        sync_alerts(session=session, now=NOW)
        ward_id = lists.list_wards(session=session)[0].id
    return ward_id, patient, course


def handover(engine, ward_id: int, shift=DAY, now=NOW):
    with session_scope(engine) as session:
        return ward_handover(session=session, ward_id=ward_id, shift=shift, now=now, tz=LONDON)


def test_the_situation_gives_news2_with_its_trend_the_open_alerts_and_the_next_dose_with_its_check(engine, ward):
    ward_id, patient, course = ward
    found = handover(engine, ward_id)
    assert (found.ward, found.until, len(found.patients)) == ("Test ward", NOW, 1)
    p = found.patients[0]
    assert (p.bed, p.name, p.band, p.worst_severity) == ("B1", "Person, Test (synthetic)", "low-medium", "urgent")
    with session_scope(engine) as session:
        stored = list_alerts(session=session, patient_ids=[patient], include_info=False)
        check, _ = dosing.check_or_none(session=session, patient_id=patient, now=NOW, tz=LONDON)
    assert sorted(stored.loc[stored["status"] == "open", "rule_id"]) == [
        "il2-hold", "il2-incomplete-check", "il2-incomplete-check", "news2"]
    assert check.decision == "hold"
    assert p.situation == [
        "NEWS2 3 (3 in one) (low-medium band) · this shift 0 at 10:00 → 3 at 15:30: rising (0 at 27 Nov 05:00 before "
        "the shift)",
        "Next set: in 30 min (NEWS2)",
        # Every alert still open, most severe first, then newest; times inside the shift without the date.
        "Open alerts (4): URGENT · il2-hold · hold since 15:30",
        "WARNING · news2 · red score: a single parameter scoring 3 since 15:30",
        "WARNING · il2-incomplete-check · given on an incomplete check since 09:00",
        "WARNING · il2-incomplete-check · given on an incomplete check since 27 Nov 01:00",
        # IL-2 running: the pre-dose check as the ward's forecast judges it (one engine run for the ward), the
        # doses page's decision and criteria (there with each criterion's kind: 'absolute: SBP 84 ...').
        "Next IL-2: dose 3 at 17:00 (due in 1 h 0 min) · check: HOLD (SBP 84 mmHg at 27 Nov 15:30 GMT (< 90: label: "
        "withhold); no valid value for platelets, creatinine) · no oncologist's decision for it"]
    assert dose_gate.check_words(check) == ("HOLD (absolute: SBP 84 mmHg at 27 Nov 15:30 GMT (< 90: label: withhold); "
                                            "no valid value for platelets, creatinine)")


def test_before_the_first_dose_the_next_dose_shows_the_doses_pages_own_check_and_the_oncologists_decision(engine):
    """IL-2 not running yet (no dose in the last 24 h): the check itself (dosing.check_or_none) and the
    decision that stands for the dose (dosing.standing_decision)."""
    patient, course = make_patient_with_course(engine, start=NOW + timedelta(hours=2))
    observe(engine, patient, NOW - timedelta(minutes=30), **{**FULL_SET, "sbp": 84})
    with session_scope(engine) as session:
        dose_decisions.decide(session=session, course_id=course, dose_number=1, decision="hold", role="oncologist",
                              decided_by="dr.onc", reason_note="fluids first, then recheck", now=NOW, tz=LONDON)
        ward_id = lists.list_wards(session=session)[0].id
        check, _ = dosing.check_or_none(session=session, patient_id=patient, now=NOW, tz=LONDON)
    [p] = handover(engine, ward_id).patients
    assert p.situation[-1] == (f"Next IL-2: dose 1 at 18:00 (due in 2 h 0 min) · check: {dose_gate.check_words(check)}"
                               " · oncologist dr.onc: HOLD at 16:00 (fluids first, then recheck)")
    assert check.decision == "hold"


def test_background_and_assessment_say_the_course_the_new_grade_3_the_fluids_and_the_weight(engine, ward):
    ward_id, _, _ = ward
    p = handover(engine, ward_id).patients[0]
    assert p.background == ["HD IV bolus q8h · cycle 1 · started 27 Nov 01:00 GMT · 600,000 IU/kg every 8 h · day 1",
                            "Doses: 2 of 14 given, 0 held · last: dose 2 given 7 h 0 min ago",
                            "Eligibility: the screen has not been answered"]
    assert p.assessment == [
        # ANC 2.0 before the shift (grade 0), 0.8 in it: grade 3, new this shift.
        "New this shift: Neutrophil count decreased grade 3 (Neutrophils (ANC) 0.80 ×10⁹/L at 12:00; grade 0 before, "
        "at 27 Nov 05:00)",
        "New this shift: Weight gain grade 1 (Weight 84.0 kg at 08:00; none in the days before)",
        # Until now while the shift lasts.
        "Fluids this shift (07:00–16:00): intake 1000 mL, urine output 300 mL: balance +700 mL",
        "Weight: 84.0 kg, +4.0 kg (+5.0%) from the course baseline 80.0 kg, weighed 08:00"]
    assert p.recommendation is None


def test_a_grade_already_there_before_the_shift_is_ongoing_not_new(engine, ward):
    ward_id, patient, _ = ward
    night = shift_at(DAY.start - timedelta(minutes=1), LONDON)
    # In the night shift the ANC was 2.0 (grade 0): nothing graded 1 or above then.
    p = handover(engine, ward_id, shift=night).patients[0]
    assert "CTCAE: no grade of 1 or above this shift" in p.assessment
    assert p.situation[0].endswith("this shift 0 at 05:00: no earlier set to compare")
    assert ("Fluids this shift (19:00–07:00): intake none recorded, urine output none recorded: no balance"
            in p.assessment)
    # The next shift's view of the same grade-3 ANC, measured again: ongoing, not new.
    observe(engine, patient, datetime(2026, 11, 27, 20, 0, tzinfo=UTC), anc=0.7)
    evening = shift_at(DAY.end, LONDON)
    p = handover(engine, ward_id, shift=evening, now=DAY.end + timedelta(hours=2)).patients[0]
    assert "Ongoing: Neutrophil count decreased grade 3" in p.assessment


def test_a_shift_not_begun_is_refused_and_a_ward_without_patients_has_no_blocks(engine, ward):
    ward_id, _, _ = ward
    with pytest.raises(ValueError, match="has not begun"):
        handover(engine, ward_id, shift=shift_at(DAY.end, LONDON))
    with session_scope(engine) as session:
        empty = repository.get_or_create_ward(session=session, code="E", name="Empty ward").id
    assert handover(engine, empty).patients == []



def _sets(*points):
    """Complete sets of one patient (hour on 27 Nov, NEWS2), and one partial set (no score) that never counts."""
    import pandas as pd
    rows = [{"time": datetime(2026, 11, 27, h, 0, tzinfo=UTC), "news2": v} for h, v in points]
    return pd.DataFrame(rows + [{"time": datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "news2": None}])


@pytest.mark.parametrize(("points", "expected"), [
    # The shift is 07:00-19:00; the trend compares the shift's latest with the last set before the shift.
    ([(5, 4), (9, 2)], "this shift 2 at 09:00: falling (4 at 27 Nov 05:00 before the shift)"),
    ([(6, 3), (7, 3)], "this shift 3 at 07:00: unchanged (3 at 27 Nov 06:00 before the shift)"),
    # Without a set before the shift, with the shift's first.
    ([(8, 1), (10, 5)], "this shift 1 at 08:00 → 5 at 10:00: rising"),
    ([(6, 2)], "no complete set this shift (last: 2 at 27 Nov 06:00)"),
    ([], "no complete set this shift"),
    # A set at the shift's end belongs to the next shift; only the last six of the shift are written out.
    ([(h, h - 7) for h in range(7, 15)] + [(19, 9)],
     "this shift … 2 at 09:00 → 3 at 10:00 → 4 at 11:00 → 5 at 12:00 → 6 at 13:00 → 7 at 14:00: rising"),
])
def test_the_news2_trend_of_a_shift_says_which_way_it_goes_and_against_what(points, expected):
    from monitoring.views.handover import news2_trend, shift_times

    assert news2_trend(_sets(*points), start=DAY.start, until=DAY.end, when=shift_times(DAY, LONDON)) == expected
