"""Daily organ-system review: nurse-graded symptoms (CTCAE-style 0-4), compared with the last review.

A review is an observation set of grade codes. 'No change since yesterday' repeats the previous grades
as a new set (recorded now, by the nurse), so the record shows the review was done, not assumed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlmodel import Session

from monitoring.catalogue import default_catalogue
from monitoring.repository import current_observations

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
