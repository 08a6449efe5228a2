"""The patient banner (issue 15): who this is and where they are in the course, on every patient page.

Two identifiers (NHS and Joint Commission practice: name and date of birth or record number, never the
bed alone): bed, name, record number, date of birth and age; then regimen, course day and dose,
dosing weight, allergies as recorded (not recorded is said so, never 'none'), and the synthetic label;
and where the patient is (ward and bed, home on the ward's list, or out of the service) since when.
When the latest course's eligibility screen has an answer that is not 'no', or is not signed off for
doses, the banner says so on every patient page (issue 19 item 2), as the pre-dose check does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo

from sqlalchemy import func, select
from sqlmodel import Session

from monitoring.clinical.vocabulary import ELIGIBILITY_ITEMS, REGIMEN_SHORT, SIGN_OFF_OUTCOMES
from monitoring.store import repository
from monitoring.store.models import Bed, DoseEvent, Patient, PatientIdentity, TreatmentCourse, Ward
from monitoring.timefmt import course_day
from monitoring.views.courses import signoff_problem_of
from monitoring.views.dosing import no_next_dose


def age_on(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class PatientBanner:
    bed: str
    name: str
    mrn: str
    birth_date: date | None
    age: int | None
    regimen: str | None
    course_day: int | None
    doses_given: int
    planned_doses: int | None
    next_dose: int | None
    dosing_weight: str
    allergies: str
    synthetic: bool
    ward: str | None = None         # None: out of the service (on no ward's list)
    admitted_at: datetime | None = None
    screen_flags: tuple[str, ...] = ()      # 'Active brain metastases: yes (treated, stable on MRI)'
    sign_off: str | None = None             # 'eligible after discussion', 'not eligible', 'not signed off'
    doses_allowed: bool = True              # the sign-off lets doses be recorded (views.courses)

    def eligibility(self) -> str | None:
        """'Eligibility: eligible after discussion · Active brain metastases: yes (treated)'; None when the
        screen is all 'no' and signed off 'eligible' (nothing to flag), or there is no course."""
        if not self.screen_flags and self.doses_allowed:
            return None
        return " · ".join((f"Eligibility: {self.sign_off}", *self.screen_flags))

    def placement(self) -> str:
        """'Melanoma unit · admitted 12 Mar 2026', 'left the service · admitted 12 Mar 2026' (the bed, or
        Home, leads the identity line)."""
        admitted = ("admission date not recorded" if self.admitted_at is None
                    else f"admitted {self.admitted_at:%d %b %Y}")
        return f"{self.ward or 'left the service'} · {admitted}"

    def identity(self) -> str:
        """'Bed 02 · PLACEHOLDER, Drew · MRN SYN-0002 · born 14 Mar 1961 (65 y)'."""
        born = ("date of birth not recorded" if self.birth_date is None else
                f"born {self.birth_date:%d %b %Y} ({self.age} y)")
        return f"{self.bed} · {self.name} · MRN {self.mrn} · {born}"

    def course(self) -> str:
        """'HD IV bolus q8h · day 3 · 6 of 14 given, next dose 7 · dosing weight 80.0 kg'."""
        if self.regimen is None:
            return "no IL-2 course"
        planned = "?" if self.planned_doses is None else self.planned_doses
        parts = [self.regimen, f"day {self.course_day}" if self.course_day else "not started",
                 f"{self.doses_given} of {planned} given" + (f", next dose {self.next_dose}" if self.next_dose else ""),
                 self.dosing_weight]
        return " · ".join(parts)


def patient_banner(*, session: Session, patient_id: int, now: datetime, tz: tzinfo) -> PatientBanner:
    row = session.execute(
        select(Patient.is_synthetic, Patient.allergies, Bed.label, PatientIdentity.family_name,
               PatientIdentity.given_name, PatientIdentity.mrn, PatientIdentity.birth_date, Ward.name,
               Patient.admitted_at)
        .join(PatientIdentity, PatientIdentity.patient_id == Patient.id).outerjoin(Bed, Bed.id == Patient.bed_id)
        .outerjoin(Ward, Ward.id == Patient.ward_id)
        .where(Patient.id == patient_id)).one()
    synthetic, allergies, bed, family, given, mrn, birth, ward, admitted_at = row
    course = session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
                             .order_by(TreatmentCourse.start_at.desc(), TreatmentCourse.id.desc())).first()
    given_count, next_number, weight = 0, None, "no dosing weight recorded"
    if course is not None:
        live = (DoseEvent.course_id == course.id, DoseEvent.record_status != "entered-in-error")
        given_count = session.scalar(select(func.count()).where(*live, DoseEvent.status == "given")) or 0
        highest = session.scalar(select(func.max(DoseEvent.dose_number)).where(*live)) or 0
        stopped = session.scalar(select(func.count()).where(*live, DoseEvent.status == "stopped")) or 0
        finished = no_next_dose(status=course.status, planned=course.planned_doses, given=int(given_count),
                                stopped=bool(stopped))
        next_number = None if finished else highest + 1
        if course.fixed_dose is not None:
            weight = "fixed dose"
        elif course.dosing_weight_kg or course.baseline_weight_kg:
            weight = f"dosing weight {(course.dosing_weight_kg or course.baseline_weight_kg):.1f} kg"
    today = now.astimezone(tz).date()
    flags, sign_off, allowed = _screen(session, course)
    return PatientBanner(
        bed=bed or ("Home" if ward else "no bed"), name=f"{family.upper()}, {given}", mrn=mrn, birth_date=birth,
        age=age_on(birth, today),
        regimen=None if course is None else REGIMEN_SHORT.get(course.regimen, course.regimen),
        course_day=None if course is None else course_day(course.start_at, now), doses_given=int(given_count),
        planned_doses=None if course is None else course.planned_doses, next_dose=next_number,
        dosing_weight=weight, allergies=allergies or "allergies not recorded", synthetic=bool(synthetic),
        ward=ward, admitted_at=None if admitted_at is None else admitted_at.astimezone(tz), screen_flags=flags,
        sign_off=sign_off, doses_allowed=allowed)


def _screen(session: Session, course: TreatmentCourse | None) -> tuple[tuple[str, ...], str | None, bool]:
    """The latest course's answers that are not 'no', its sign-off in words, and whether doses may be
    recorded on it (views.courses.signoff_problem decides; this only words it for the banner)."""
    if course is None:
        return (), None, True
    answers = repository.latest_eligibility(session=session, course_id=int(course.id or 0))
    flags = tuple(f"{ELIGIBILITY_ITEMS[item]}: {a.answer}" + (f" ({a.note})" if a.note else "")
                  for item, a in sorted(answers.items(), key=lambda kv: list(ELIGIBILITY_ITEMS).index(kv[0]))
                  if item in ELIGIBILITY_ITEMS and a.answer != "no")
    signoff = repository.latest_eligibility_signoff(session=session, course_id=int(course.id or 0))
    problem = signoff_problem_of(course=course, tz=timezone.utc, answers=answers, signoff=signoff)
    if signoff is None:
        words = "not signed off: no dose until the oncologist signs it off"
    elif problem is not None and signoff.outcome != "not-eligible":
        words = "screen changed since its sign-off: no dose until signed off again"
    else:
        words = SIGN_OFF_OUTCOMES[signoff.outcome].lower()
    return flags, words, problem is None
