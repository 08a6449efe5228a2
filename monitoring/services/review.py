"""Daily organ-system review: nurse-graded symptoms (CTCAE-style 0-4), compared with the last review.

A review is an observation set of grade codes. 'No change since yesterday' repeats the previous grades
as a new set (recorded now, by the nurse), so the record shows the review was done, not assumed.
One review per patient per ward day (issue 15): a later review the same day amends the grades that
differ (each amendment a new row with a reason; the first stays in the history), and saving the same
grades again records nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import pandas as pd
from sqlmodel import Session

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.inputs import ObservationInput
from monitoring.errors import RecordError
from monitoring.store.repository import add_observation_set, amend_observation, current_observations

REVIEW_CODES = ("diarrhea", "nausea", "vomiting", "mucositis", "rash", "pruritus", "dyspnea", "confusion", "rigors",
                "fatigue", "arrhythmia", "hypotension")
# The previous review counts as 'yesterday' while it is younger than this (one day and a late shift).
PREVIOUS_WITHIN = timedelta(hours=36)


@dataclass(frozen=True)
class Change:
    code: str
    label: str
    before: int | None
    now: int

    def text(self) -> str:
        if self.before is None:
            return f"{self.label}: new, grade {self.now}"
        return f"{self.label}: worse, grade {self.before} → {self.now}"


def review_codes() -> list[str]:
    catalogue = default_catalogue()
    return [c for c in REVIEW_CODES if c in catalogue]


def previous_grades(*, session: Session, patient_id: int, now: datetime) -> dict[str, tuple[int, datetime]]:
    """The latest grade of each symptom within PREVIOUS_WITHIN, with its time."""
    frame = current_observations(session=session, patient_ids=[patient_id], codes=review_codes(),
                                 since=now - PREVIOUS_WITHIN)
    frame = frame[frame["observed_at"] <= now].sort_values("observed_at")
    latest = frame.groupby("code").tail(1)
    return {r.code: (int(r.value_num), r.observed_at) for r in latest.itertuples()}


def changes(previous: dict[str, tuple[int, datetime]], current: dict[str, int]) -> list[Change]:
    """Symptoms that are new (no previous grade, now >= 1) or worse than at the previous review."""
    catalogue = default_catalogue()
    out = []
    for code, grade in current.items():
        before = previous.get(code, (None, None))[0]
        if grade >= 1 and (before is None or grade > before):
            out.append(Change(code, catalogue[code].label, before, grade))
    return out


def grade_table(previous: dict[str, tuple[int, datetime]]) -> pd.DataFrame:
    """Each symptom with its CTCAE term and the previous grade (for the page)."""
    catalogue = default_catalogue()
    rows = [{"code": c, "symptom": catalogue[c].label, "ctcae_term": catalogue[c].ctcae_term,
             "previous": previous.get(c, (None,))[0]} for c in review_codes()]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class TodaysReview:
    at: datetime                     # the review's time
    by: str
    grades: dict[str, tuple[int, int]]   # code -> (grade, observation id)


def todays_review(*, session: Session, patient_id: int, now: datetime, tz: tzinfo) -> TodaysReview | None:
    """The review recorded on the ward's calendar day of `now` (the first of the day: later reviews
    amend it), with its current grades; None when there is none yet."""
    midnight = pd.Timestamp(now).tz_convert(tz).normalize().tz_convert("UTC")
    frame = current_observations(session=session, patient_ids=[patient_id], codes=review_codes(),
                                 since=midnight.to_pydatetime())
    frame = frame[frame["observed_at"] <= pd.Timestamp(now)]
    if frame.empty:
        return None
    # A review holds every review code at one time; single grades typed with a bedside set are not one.
    full = frame.groupby("observed_at")["code"].nunique()
    times = full[full >= len(review_codes())].index
    if len(times) == 0:
        return None
    first = frame[frame["observed_at"] == times.min()]
    return TodaysReview(at=times.min().to_pydatetime(), by=str(first["recorded_by"].iloc[0]),
                        grades={r.code: (int(r.value_num), int(r.id)) for r in first.itertuples()})


@dataclass(frozen=True)
class ReviewSaved:
    kind: str                # new, amended, unchanged
    at: datetime             # the review's time
    amended: list[str]       # labels of the grades amended


def save_review(*, session: Session, patient_id: int, grades: dict[str, int], recorded_by: str, now: datetime,
                tz: tzinfo, course_id: int | None = None) -> ReviewSaved:
    """Today's review: a new set when there is none today; otherwise each grade that differs amends
    today's (reason 'daily review amended at HH:MM by <user>'), and nothing is recorded when none does.
    A review grades every symptom (0 = none): one left ungraded (None or absent) refuses the whole
    review. What is stored is re-evaluated in the same transaction (the alerts follow the grades)."""
    from monitoring.services.alerting import sync_alerts

    catalogue = default_catalogue()
    ungraded = [catalogue[code].label for code in review_codes() if grades.get(code) is None]
    if ungraded:
        raise RecordError([f"Grade every symptom before saving (0 = none); not graded: {', '.join(ungraded)}. "
                           "Nothing was saved."])
    saved = _store_review(session=session, patient_id=patient_id, grades=grades, recorded_by=recorded_by, now=now,
                          tz=tz, course_id=course_id, catalogue=catalogue)
    if saved.kind != "unchanged":
        sync_alerts(session=session, patient_ids=[patient_id], username=recorded_by)
    return saved


def _store_review(*, session: Session, patient_id: int, grades: dict[str, int], recorded_by: str, now: datetime,
                  tz: tzinfo, course_id: int | None, catalogue) -> ReviewSaved:
    today = todays_review(session=session, patient_id=patient_id, now=now, tz=tz)
    if today is None:
        add_observation_set(session=session, patient_id=patient_id, observed_at=now, recorded_by=recorded_by,
                            values=[ObservationInput(code, grade) for code, grade in grades.items()],
                            course_id=course_id, now=now)
        return ReviewSaved("new", now, [])
    stamp = pd.Timestamp(now).tz_convert(tz)
    amended = []
    for code, grade in grades.items():
        before = today.grades.get(code)
        if before is not None and before[0] != grade:
            amend_observation(session=session, observation_id=before[1], value=grade, recorded_by=recorded_by,
                              reason=f"daily review amended at {stamp:%H:%M} by {recorded_by}", now=now)
            amended.append(f"{catalogue[code].label} {before[0]} → {grade}")
    return ReviewSaved("amended" if amended else "unchanged", today.at, amended)
