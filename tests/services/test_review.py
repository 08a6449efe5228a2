"""Daily organ-system review: grades with CTCAE wording, 'no change since yesterday', new or worse."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from monitoring.clinical.inputs import ObservationInput
from monitoring.services import review
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import Observation
from monitoring.store.repository import add_observation_set
from tests.app_helpers import signed_in
from tests.dashboard.test_record_page import ward_url  # noqa: F401  (fixture: a demo ward with accounts)

APP = "../../dashboard/app.py"
T = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


def test_changes_name_what_is_new_or_worse_and_ignore_what_is_better_or_absent():
    previous = {"diarrhea": (1, T), "nausea": (2, T), "rash": (0, T)}
    found = review.changes(previous, {"diarrhea": 3, "nausea": 1, "rash": 0, "rigors": 2, "fatigue": 0})
    assert [c.text() for c in found] == ["Diarrhea: worse, grade 1 → 3", "Rigors: new, grade 2"] or \
        sorted(c.code for c in found) == ["diarrhea", "rigors"]
    assert {c.code: (c.before, c.now) for c in found} == {"diarrhea": (1, 3), "rigors": (None, 2)}


def test_previous_grades_are_the_latest_within_36_hours(engine):
    from tests.factories import make_patient_with_course
    patient_id, _ = make_patient_with_course(engine)
    for hours, grade in ((40, 3), (20, 1), (2, 2)):
        at = T - timedelta(hours=hours)
        with session_scope(engine) as session:
            add_observation_set(session=session, patient_id=patient_id, values=[ObservationInput("diarrhea", grade)],
                                observed_at=at, recorded_by="n", now=at)
    with session_scope(engine) as session:
        previous = review.previous_grades(session=session, patient_id=patient_id, now=T)
    assert previous["diarrhea"][0] == 2
    with session_scope(engine) as session:
        older = review.previous_grades(session=session, patient_id=patient_id, now=T - timedelta(hours=3))
    assert older["diarrhea"][0] == 1


def grade_box(at: AppTest, code: str):
    """The grade box of a symptom (keyed by symptom and patient)."""
    return next(box for box in at.selectbox if str(box.key).startswith(f"review_{code}_"))


def review_page() -> AppTest:
    return signed_in("nurse", page="app_pages/review.py")


def count_grades(url) -> int:
    engine = make_engine(url)
    with session_scope(engine) as session:
        n = session.scalar(select(func.count()).select_from(Observation)
                           .where(Observation.code.in_(review.REVIEW_CODES)))
    engine.dispose()
    return n


def test_a_review_with_a_worse_symptom_is_saved_and_the_change_is_shown(ward_url):  # noqa: F811
    at = review_page()
    before = count_grades(ward_url)
    for code in review.review_codes():
        box = grade_box(at, code)
        if box.value is None:
            box.select(0)
    current = grade_box(at, "diarrhea").value or 0
    grade_box(at, "diarrhea").select(min(current + 2, 4) if current < 3 else 4)
    at.button(key="review_save").click().run()
    assert not at.exception
    assert "Review saved." in at.success[0].value
    assert count_grades(ward_url) == before + len(review.review_codes())
    if current < 4:
        assert any("Diarrhea" in w.value for w in at.warning)


def test_an_incomplete_review_is_refused_whole(ward_url):  # noqa: F811
    from monitoring.store import repository
    engine = make_engine(ward_url)
    with session_scope(engine) as session:  # a new patient: no previous review, nothing pre-filled
        ward = repository.get_or_create_ward(session=session, code="DEMO", name="unused")
        bed = repository.get_or_create_bed(session=session, ward_id=ward.id, label="Bed 99")
        repository.add_patient(session=session, mrn="SYN-NEW-1", given_name="New", family_name="Admission",
                               recorded_by="t", ward_id=ward.id, bed_id=bed.id, is_synthetic=True)
    engine.dispose()
    at = review_page()
    at.selectbox(key="review_patient").select(next(o for o in at.selectbox(key="review_patient").options
                                                   if "Admission" in o)).run()
    before = count_grades(ward_url)
    grade_box(at, "diarrhea").select(1)
    at.button(key="review_save").click().run()
    assert any("not graded" in e.value and "Fatigue" in e.value for e in at.error)
    assert count_grades(ward_url) == before


def yesterdays_review(url, patient_id: int, grade: int = 0) -> None:
    """A review on the ward's previous calendar day, 2 h before today's midnight (20 h before now fell on
    the same day when the suite ran after 20:00: the test then failed by the clock)."""
    from monitoring.config import load_settings

    tz = load_settings().timezone
    midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    at = (midnight - timedelta(hours=2)).astimezone(timezone.utc)
    engine = make_engine(url)
    with session_scope(engine) as session:
        add_observation_set(session=session, patient_id=patient_id, observed_at=at, recorded_by="nurse.b", now=at,
                            values=[ObservationInput(code, grade) for code in review.review_codes()])
    engine.dispose()


def test_no_change_since_yesterday_is_one_click_and_recorded_as_a_new_review(ward_url):  # noqa: F811
    at = review_page()
    yesterdays_review(ward_url, at.session_state["selected_patient_id"])
    at = review_page()
    before = count_grades(ward_url)
    at.button(key="review_same").click().run()
    assert "no change since yesterday" in at.success[0].value
    assert count_grades(ward_url) == before + len(review.review_codes())


def test_one_review_per_patient_per_day_and_a_later_one_amends_it(ward_url):  # noqa: F811
    """Issue 15: 'No change since yesterday' could be saved several times in a row."""
    at = review_page()
    yesterdays_review(ward_url, at.session_state["selected_patient_id"])
    review_page().button(key="review_same").click().run()
    after_first = count_grades(ward_url)
    again = review_page()
    assert any("Today's review was saved at" in i.value for i in again.info)
    assert not [b for b in again.button if b.key == "review_same"]      # no second 'no change' today
    again.button(key="review_save").click().run()
    assert "already has these grades: nothing was recorded" in again.success[0].value
    assert count_grades(ward_url) == after_first
    # Today's diarrhoea grade is the previous one carried over: 0 from yesterday's review, or the demo's own
    # grade when the demo ward (seeded up to the last hour) graded symptoms this morning. Change it.
    before = grade_box(again, "diarrhea").value
    after = 2 if before != 2 else 1
    grade_box(again, "diarrhea").select(after)
    again.button(key="review_save").click().run()
    assert f"amended: Diarrhea {before} → {after}" in again.success[0].value
    assert count_grades(ward_url) == after_first + 1       # one amendment row; the first review stays
    with session_scope(make_engine(ward_url)) as session:
        amended = session.scalars(select(Observation).where(Observation.code == "diarrhea",
                                                            Observation.status == "amended")).all()
    assert [(o.value_num, o.reason.startswith("daily review amended at")) for o in amended] == [(float(after), True)]


def test_save_review_is_new_then_unchanged_then_amended_on_the_same_ward_day(engine):
    from zoneinfo import ZoneInfo

    from tests.factories import make_patient_with_course
    london = ZoneInfo("Europe/London")
    patient_id, _ = make_patient_with_course(engine)
    grades = {code: 0 for code in review.review_codes()}
    steps = [(T, grades, "new"), (T + timedelta(hours=3), grades, "unchanged"),
             (T + timedelta(hours=5), {**grades, "rash": 2}, "amended")]
    for at, given, kind in steps:
        with session_scope(engine) as session:
            saved = review.save_review(session=session, patient_id=patient_id, grades=given, recorded_by="n",
                                       now=at, tz=london)
        assert (saved.kind, saved.at) == (kind, T)
    # The next ward day (after midnight, London time) is a new review.
    with session_scope(engine) as session:
        tomorrow = review.save_review(session=session, patient_id=patient_id, grades=grades, recorded_by="n",
                                      now=T + timedelta(hours=15, minutes=1), tz=london)
    assert tomorrow.kind == "new"


def test_a_long_ctcae_definition_chosen_is_written_out_in_full_under_its_box(ward_url):  # noqa: F811
    """A closed choice box shows about 70 characters; pruritus grade 2 has 185 (CTCAE v5.0)."""
    from monitoring.clinical.catalogue import default_catalogue

    definition = default_catalogue()["pruritus"].grades[2]
    at = review_page()
    grade_box(at, "pruritus").select(2).run()
    assert f"2 – {definition}" in [c.value for c in at.caption]
    grade_box(at, "pruritus").select(0).run()
    assert not any(definition in c.value for c in at.caption)


def test_switching_patient_shows_and_saves_the_new_patients_grades_not_the_last_ones(ward_url):  # noqa: F811
    """Each grade box belongs to one patient: switching patient never carries a grade over, on the
    server or in the browser (the boxes are new widgets)."""
    at = review_page()
    first = at.selectbox(key="review_patient").value
    grade_box(at, "diarrhea").select(4).run()
    first_key = grade_box(at, "diarrhea").key
    other = next(o for o in at.selectbox(key="review_patient").options if o != first)
    at.selectbox(key="review_patient").select(other).run()
    assert grade_box(at, "diarrhea").key != first_key
    assert grade_box(at, "diarrhea").value != 4 or "previous 4" in grade_box(at, "diarrhea").label


def test_a_review_is_whole_or_refused_and_its_alerts_follow_it_without_the_page(engine):
    """Issue 17: 'grade every symptom' and the re-evaluation lived in the page; the service does both,
    so any caller (page, CLI, script) gets the same review."""
    from zoneinfo import ZoneInfo

    import pytest

    from monitoring.errors import RecordError
    from monitoring.store import repository
    from monitoring.store.models import Alert
    from tests.factories import make_patient_with_course
    london = ZoneInfo("Europe/London")
    patient_id, course_id = make_patient_with_course(engine)
    grades = {code: 0 for code in review.review_codes()}
    with pytest.raises(RecordError, match=r"not graded: Rash\. Nothing was saved\."):
        with session_scope(engine) as session:
            review.save_review(session=session, patient_id=patient_id, grades={**grades, "rash": None},
                               recorded_by="n", now=T, tz=london)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == 0
        repository.record_dose(session=session, course_id=course_id, dose_number=1, status="given",
                               scheduled_at=T - timedelta(hours=7), given_at=T - timedelta(hours=7),
                               recorded_by="n", now=T)
    with session_scope(engine) as session:
        review.save_review(session=session, patient_id=patient_id, grades={**grades, "diarrhea": 4},
                           recorded_by="n", now=T, tz=london)
    with session_scope(engine) as session:   # grade 4 diarrhoea on IL-2: a hold, stored by the review itself
        held = session.scalars(select(Alert).where(Alert.patient_id == patient_id, Alert.rule_id == "il2-hold")).all()
    assert len(held) == 1
