"""A patient's IL-2 courses as the Courses page shows them (issue 19 items 2 and 3), and the dose gate's
sign-off rule: whether a course may have a dose recorded, and if not, what is missing and who can give it.

- `BASELINES`: the baselines of a course (weight, creatinine, usual SBP, ANC, bilirubin, ALT, AST), each with
  its catalogue code and its course column.
- `latest_results`: each baseline's latest stored result for the patient, with its time, to offer.
- `signoff_problem`: why no dose may be recorded yet (no screen answered, no sign-off, 'not eligible', the
  screen changed after the sign-off, the course ended), or None.
- `patient_courses`: every course of the patient, newest first, with its indication, baselines and their
  sources, screen, sign-off and end.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.prescription import unit_text
from monitoring.clinical.vocabulary import (
    COMBINATIONS,
    ELIGIBILITY_ITEMS,
    END_REASONS,
    INDICATION_STAGES,
    REGIMEN_ROUTE,
    REGIMENS,
    SIGN_OFF_OUTCOMES,
)
from monitoring.permissions import PERMISSIONS
from monitoring.store import repository
from monitoring.store.models import EligibilityAnswer, EligibilitySignOff, TreatmentCourse
from monitoring.timefmt import local_text

# Outcomes under which a dose may be recorded.
DOSES_ALLOWED = ("eligible", "eligible-after-discussion")


@dataclass(frozen=True)
class BaselineSpec:
    name: str        # key of TreatmentCourse.baseline_sources and of the services' arguments
    code: str        # catalogue code of the result it is taken from
    column: str      # TreatmentCourse column, in the catalogue's canonical unit
    label: str


BASELINES = (
    BaselineSpec("weight", "weight", "baseline_weight_kg", "Weight"),
    BaselineSpec("creatinine", "creatinine", "baseline_creatinine_mg_dl", "Creatinine"),
    BaselineSpec("sbp", "sbp", "usual_sbp_mm_hg", "Usual systolic BP"),
    BaselineSpec("anc", "anc", "baseline_anc_10e9_l", "Neutrophils (ANC)"),
    BaselineSpec("bilirubin", "bilirubin", "baseline_bilirubin_mg_dl", "Bilirubin"),
    BaselineSpec("alt", "alt", "baseline_alt_u_l", "ALT"),
    BaselineSpec("ast", "ast", "baseline_ast_u_l", "AST"),
)
BASELINE_BY_NAME = {b.name: b for b in BASELINES}


def who_signs_off() -> str:
    """'an oncologist' (the roles holding manage_courses, from monitoring.permissions)."""
    roles = sorted(PERMISSIONS["manage_courses"])
    return " or ".join(f"an {r}" if r[0] in "aeiou" else f"a {r}" for r in roles)


@dataclass(frozen=True)
class LatestResult:
    value: float                 # canonical unit
    unit: str                    # its display label
    observed_at: datetime
    observation_id: int

    def text(self, tz: tzinfo) -> str:
        return f"{self.value:g} {self.unit} ({local_text(self.observed_at, tz)})"


def latest_results(*, session: Session, patient_id: int, before: datetime | None = None) -> dict[str, LatestResult]:
    """The latest valid result of each baseline for the patient (up to `before`); a baseline with no
    result is absent: missing stays missing."""
    catalogue = default_catalogue()
    frame = repository.current_observations(session=session, patient_ids=[patient_id],
                                            codes=sorted({b.code for b in BASELINES}))
    if before is not None:
        frame = frame[frame["observed_at"] <= pd.Timestamp(before)]
    frame = frame[frame["value_num"].notna()]
    out = {}
    for spec in BASELINES:
        rows = frame[frame["code"] == spec.code]
        if len(rows):
            row = rows.iloc[-1]
            out[spec.name] = LatestResult(float(row["value_num"]), catalogue[spec.code].unit_label,
                                          row["observed_at"].to_pydatetime(), int(row["id"]))
    return out


def current_answer_ids(answers: dict[str, EligibilityAnswer]) -> dict[str, int]:
    return {item: int(row.id or 0) for item, row in answers.items()}


def signoff_problem(*, session: Session, course: TreatmentCourse, tz: tzinfo) -> str | None:
    """Why no dose may be recorded on this course yet, naming what is missing and who can give it; None
    when its eligibility screen is signed off 'eligible' or 'eligible after discussion' on the answers
    that stand (a sign-off by the migration of 0017 stands on whatever the course had)."""
    return signoff_problem_of(
        course=course, tz=tz, answers=repository.latest_eligibility(session=session, course_id=int(course.id or 0)),
        signoff=repository.latest_eligibility_signoff(session=session, course_id=int(course.id or 0)))


def signoff_problem_of(*, course: TreatmentCourse, tz: tzinfo, answers: dict[str, EligibilityAnswer],
                       signoff: EligibilitySignOff | None) -> str | None:
    """signoff_problem from the course's answers and sign-off already read (the patient banner reads them)."""
    who = who_signs_off()
    label = f"Course {course.id} (cycle {course.cycle})"
    if signoff is None:
        unanswered = [ELIGIBILITY_ITEMS[i] for i in ELIGIBILITY_ITEMS if i not in answers]
        missing = (f"its eligibility screen is not answered ({len(unanswered)} of {len(ELIGIBILITY_ITEMS)} items "
                   "open) nor signed off" if unanswered else "its eligibility screen is answered but not signed off")
        return f"{label}: {missing}; no dose can be recorded until {who} signs it off as eligible on the Courses page."
    by = f"{signoff.signed_by}, {local_text(signoff.signed_at, tz)}"
    if signoff.outcome not in DOSES_ALLOWED:
        return (f"{label} was signed off '{SIGN_OFF_OUTCOMES[signoff.outcome].lower()}' ({by}); no dose can be "
                f"recorded unless {who} signs it off as eligible after a new screen.")
    if signoff.answer_ids is not None and signoff.answer_ids != current_answer_ids(answers):
        return (f"{label}: the eligibility screen was changed after its sign-off ({by}); no dose can be recorded "
                f"until {who} signs the changed screen off on the Courses page.")
    return None


@dataclass(frozen=True)
class CourseView:
    course: TreatmentCourse
    summary: dict[str, str]              # label -> text, in display order
    baselines: pd.DataFrame              # Baseline, Value, Source
    answers: dict[str, EligibilityAnswer]
    signoff: EligibilitySignOff | None
    dose_problem: str | None             # signoff_problem, or the course's end
    ended: bool


def _yes_no(value: bool | None) -> str:
    return "not recorded" if value is None else ("yes" if value else "no")


def _source_text(source: dict | None, tz: tzinfo) -> str:
    if not source:
        return "course record"
    kind = source.get("source")
    if kind == "result":
        return f"result of {local_text(pd.Timestamp(source['observed_at']).to_pydatetime(), tz)}"
    if kind == "carried":
        return f"carried from cycle {source.get('from_cycle')}, confirmed"
    return "entered by the oncologist"


def course_view(*, session: Session, course: TreatmentCourse, tz: tzinfo) -> CourseView:
    catalogue = default_catalogue()
    sources = course.baseline_sources or {}
    rows = []
    for spec in BASELINES:
        value = getattr(course, spec.column)
        rows.append({"Baseline": spec.label,
                     "Value": "not recorded" if value is None else f"{value:g} {catalogue[spec.code].unit_label}",
                     "Source": "" if value is None else _source_text(sources.get(spec.name), tz)})
    if course.fixed_dose is not None:
        dose = f"fixed {course.fixed_dose:,.0f} {unit_text(course.dose_unit.removesuffix('/kg'))}"
    elif course.dose_per_kg is not None:
        weight = course.dosing_weight_kg or course.baseline_weight_kg
        dose = (f"{course.dose_per_kg:,.0f} {unit_text(course.dose_unit)}"
                + (f" × dosing weight {weight:g} kg" if weight else " (no dosing weight)"))
    else:
        dose = "not prescribed"
    ended = course.ended_at is not None or course.status in ("stopped", "completed")
    summary = {
        "Indication": (f"{INDICATION_STAGES.get(course.indication_stage or '', 'stage not recorded')}; "
                       f"{COMBINATIONS.get(course.combination or '', 'combination not recorded')}; prior surgery "
                       f"{_yes_no(course.prior_surgery)}; after TIL {_yes_no(course.after_til)}"),
        "Regimen": (f"{REGIMENS.get(course.regimen, course.regimen)} ({REGIMEN_ROUTE.get(course.regimen, '?')}), "
                    f"cycle {course.cycle}" + (" after lymphodepletion" if course.after_lymphodepletion else "")),
        "Dose": f"{dose}; {course.planned_doses if course.planned_doses is not None else '?'} doses"
                + (f" every {course.dose_interval_hours:g} h" if course.dose_interval_hours else ""),
        "Started": f"{local_text(course.start_at, tz)} by {course.created_by}",
        "Status": (f"{course.status}: {END_REASONS.get(course.end_reason or '', course.end_reason or '')} "
                   f"({course.ended_by}, {local_text(course.ended_at, tz)})"
                   + (f": {course.end_note}" if course.end_note else "")
                   if course.ended_at is not None else course.status),
    }
    answers = repository.latest_eligibility(session=session, course_id=int(course.id or 0))
    signoff = repository.latest_eligibility_signoff(session=session, course_id=int(course.id or 0))
    problem = (f"This course is {course.status}; no further dose is recorded." if ended
               else signoff_problem(session=session, course=course, tz=tz))
    return CourseView(course, summary, pd.DataFrame(rows, columns=["Baseline", "Value", "Source"]), answers, signoff,
                      problem, ended)


def patient_courses(*, session: Session, patient_id: int, tz: tzinfo) -> list[CourseView]:
    """Every course of the patient, the latest first (the one the other pages show)."""
    courses = session.scalars(select(TreatmentCourse).where(col(TreatmentCourse.patient_id) == patient_id)
                              .order_by(col(TreatmentCourse.start_at).desc(), col(TreatmentCourse.id).desc())).all()
    return [course_view(session=session, course=c, tz=tz) for c in courses]


def signoff_text(signoff: EligibilitySignOff | None, tz: tzinfo) -> str:
    if signoff is None:
        return "Not signed off."
    text = f"{SIGN_OFF_OUTCOMES[signoff.outcome]} — {signoff.signed_by}, {local_text(signoff.signed_at, tz)}"
    return text + (f": {signoff.reason}" if signoff.reason else "")
