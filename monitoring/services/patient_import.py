"""Patients import (issue 19 item 5): a ward moving over from another system brings its patients in one file,
admitted and (when the row has a regimen) with their IL-2 course and baselines, through the same services as
the Patients and Courses pages (services.admission.admit, services.courses.start_course): the same checks,
the same messages, the same audit rows.

The file is CSV with a header row, one patient per row (columns in COLUMNS; an unknown column is refused,
so that a misspelt one is never silently dropped):

- identity and placement: record number, names, date of birth (YYYY-MM-DD), sex, ward code, bed label
  (empty: at home on the ward's list), allergies (empty: not recorded, never 'none'), admission time (ISO
  8601 with its zone; empty: now);
- the course, when `regimen` is given: indication, combination, prior surgery, after lymphodepletion (yes or
  no: never assumed), planned doses, hours between doses, start time, dose per kg with the dosing weight or
  a fixed dose; baselines in the catalogue's canonical units (the unit is in the column name; empty: not
  recorded).

All or nothing: every row is tried in order inside one transaction, each row in a savepoint of its own (a
refused row leaves nothing behind, and later rows are checked against the rows before them: a record number
or a bed used twice in the file is refused at its second use). When any row is refused, or when only
checking, the whole transaction is rolled back and nothing is saved; the report lists every row with its
outcome and every problem of a refused row. One audit row records the import (counts, never names).

Not imported, on purpose: the eligibility screen and its sign-off (the oncologist answers and signs off each
imported course on the Courses page before its first dose: the dose gate refuses a dose until then), and
doses given in the other system (the course starts at dose 1 here; a ward mid-course records the remaining
doses from the other system's chart).
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.clinical.vocabulary import REGIMENS
from monitoring.errors import RecordError
from monitoring.services import admission, auth, courses
from monitoring.store.models import Bed, Ward
from monitoring.store.repository import write_audit
from monitoring.views.courses import BASELINES

MAX_ROWS = 2000
IDENTITY_COLUMNS = ("mrn", "family_name", "given_name", "birth_date", "sex", "ward", "bed", "allergies",
                    "admitted_at")
REQUIRED_COLUMNS = ("mrn", "family_name", "given_name", "birth_date", "sex", "ward")
COURSE_COLUMNS = ("regimen", "indication_stage", "combination", "prior_surgery", "after_lymphodepletion",
                  "planned_doses", "dose_interval_hours", "start_at", "dose_per_kg", "dosing_weight_kg", "fixed_dose")
BASELINE_COLUMNS = {spec.column: spec.name for spec in BASELINES}
COLUMNS = IDENTITY_COLUMNS + COURSE_COLUMNS + tuple(BASELINE_COLUMNS)
YES_NO = {"yes": True, "no": False}


@dataclass(frozen=True)
class RowOutcome:
    line: int                      # the line of the file (the header is line 1)
    mrn: str
    ok: bool
    detail: str                    # what was done, or every problem of the row
    with_course: bool = False      # the row starts a course (when saved)
    patient_id: int | None = None  # ids of a saved row (None when nothing was saved)
    course_id: int | None = None


@dataclass(frozen=True)
class ImportReport:
    rows: tuple[RowOutcome, ...]
    saved: bool                    # False: refused or only checked; nothing was saved
    problems: tuple[str, ...] = field(default=())   # problems of the file itself (header, size)

    @property
    def refused(self) -> int:
        return sum(not r.ok for r in self.rows)

    def summary(self) -> str:
        if self.problems:
            return "File refused, nothing saved: " + " ".join(self.problems)
        courses_started = sum(r.with_course for r in self.rows)
        if self.refused:
            return (f"{self.refused} of {len(self.rows)} rows refused: nothing saved (the import is all or nothing; "
                    "correct those rows and import the whole file again).")
        if not self.saved:
            return (f"{len(self.rows)} rows checked, none refused: ready to import ({courses_started} with a "
                    "course). Nothing was saved: import again without --check.")
        return (f"{len(self.rows)} patients admitted, {courses_started} courses started"
                + (", each awaiting the oncologist's eligibility sign-off on the Courses page before its first dose."
                   if courses_started else "."))


def read_rows(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """The file's data rows as text (cells stripped), or the problems of the file itself: no header, a
    required column missing, an unknown column, no data row, more than MAX_ROWS rows."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in (reader.fieldnames or [])]
    problems = []
    if not header:
        return [], ["The file is empty; the first line must name the columns."]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems.append(f"Required column(s) missing: {', '.join(missing)}.")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        problems.append(f"Unknown column(s): {', '.join(unknown)}; accepted: {', '.join(COLUMNS)}.")
    rows: list[dict[str, str]] = []
    for raw in reader:
        if len(rows) >= MAX_ROWS:
            problems.append(f"More than {MAX_ROWS} patients; split the file (by ward, for example).")
            break
        rows.append({(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None})
    if not rows and not problems:
        problems.append("The file has a header but no patient rows.")
    return rows, problems


def _number(row: dict[str, str], name: str, errors: list[str], *, whole: bool = False) -> float | None:
    text = row.get(name, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or math.isinf(value) or (whole and value != int(value)):
        kind = "a whole number" if whole else "a plain number with a decimal point (e.g. 72.5)"
        errors.append(f"{name} '{text}' is not {kind}.")
        return None
    return value


def _moment(row: dict[str, str], name: str, errors: list[str]) -> datetime | None:
    text = row.get(name, "")
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        errors.append(f"{name} '{text}' is not an ISO 8601 date and time (e.g. 2026-03-02T08:00:00+00:00).")
        return None
    if value.utcoffset() is None:
        errors.append(f"{name} '{text}' has no time zone; add it (e.g. +00:00 or Z).")
        return None
    return value


def _choice(row: dict[str, str], name: str, accepted: Iterable[str], errors: list[str]) -> str | None:
    text = row.get(name, "")
    accepted = list(accepted)
    if text not in accepted:
        errors.append(f"{name} '{text}' is not accepted; accepted: {', '.join(accepted)}.")
        return None
    return text


def _birth_date(row: dict[str, str], errors: list[str]) -> date | None:
    text = row.get("birth_date", "")
    if not text:
        return None  # admission.admit says it is empty
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"birth_date '{text}' is not a date written YYYY-MM-DD.")
        return None


def _place(session: Session, row: dict[str, str], errors: list[str]) -> tuple[int | None, int | None]:
    """The ward (by code) and the bed (by label on that ward; empty: at home on the ward's list)."""
    code = row.get("ward", "")
    ward = session.scalars(select(Ward).where(col(Ward.code) == code)).first() if code else None
    if ward is None:
        known = ", ".join(session.scalars(select(col(Ward.code)).order_by(col(Ward.code))).all()) or "none yet"
        errors.append(f"ward '{code}' is not a ward code; known: {known}.")
        return None, None
    label = row.get("bed", "")
    if not label:
        return int(ward.id or 0), None
    bed = session.scalars(select(Bed).where(col(Bed.ward_id) == ward.id, col(Bed.label) == label)).first()
    if bed is None:
        labels = session.scalars(select(col(Bed.label)).where(col(Bed.ward_id) == ward.id,
                                                         col(Bed.retired_at).is_(None)).order_by(col(Bed.label))).all()
        errors.append(f"bed '{label}' is not a bed of ward {code}; its beds: {', '.join(labels) or 'none'} (leave "
                      "it empty for a patient at home on the ward's list).")
        return int(ward.id or 0), None
    return int(ward.id or 0), int(bed.id or 0)


def _plan(row: dict[str, str], errors: list[str]) -> tuple[courses.CoursePlan | None, dict[str, courses.Baseline]]:
    """The course plan and baselines of a row with a regimen (None: the row has no course, or its times or
    yes/no answers cannot be read). The regimen, indication, combination and amounts are checked by
    services.courses with the Courses page's messages."""
    if not row.get("regimen"):
        given = [c for c in COURSE_COLUMNS + tuple(BASELINE_COLUMNS) if row.get(c)]
        if given:
            errors.append(f"Course columns given without a regimen ({', '.join(given)}): give the regimen, or leave "
                          "them empty to admit without a course.")
        return None, {}
    surgery = _choice(row, "prior_surgery", YES_NO, errors)
    lymphodepletion = _choice(row, "after_lymphodepletion", YES_NO, errors)
    planned = _number(row, "planned_doses", errors, whole=True)
    start_at = _moment(row, "start_at", errors)
    if not row.get("start_at"):
        errors.append("start_at is empty; give the time of the first dose (ISO 8601 with its zone).")
    baselines = {name: courses.Baseline(_number(row, column, errors), "entered")
                 for column, name in BASELINE_COLUMNS.items() if row.get(column)}
    numbers = {name: _number(row, name, errors) for name in ("dose_interval_hours", "dose_per_kg",
                                                            "dosing_weight_kg", "fixed_dose")}
    # Built even when a time or an answer cannot be read, so that services.courses reports the rest of the
    # row's problems too (its messages about those two are left out: said above, naming the cell).
    plan = courses.CoursePlan(
        indication_stage=row.get("indication_stage"), combination=row.get("combination"),
        prior_surgery=None if surgery is None else YES_NO[surgery], after_til=row["regimen"] == "til-il2",
        regimen=row["regimen"], planned_doses=None if planned is None else int(planned),
        dose_interval_hours=numbers["dose_interval_hours"], start_at=start_at,  # type: ignore[arg-type]
        dose_per_kg=numbers["dose_per_kg"], fixed_dose=numbers["fixed_dose"],
        dosing_weight_kg=numbers["dosing_weight_kg"], after_lymphodepletion=lymphodepletion == "yes")
    return plan, baselines


# Messages of the services about cells this module has already reported, naming the cell and its value.
_SAID_ABOVE = {"birth_date": "Date of birth is empty", "start_at": "Start time must be",
               "prior_surgery": "Prior surgery:", "planned_doses": "Planned doses per cycle None"}


def _not_said(messages: list[str], said: list[str]) -> list[str]:
    """The services' messages, less those about a cell already reported in `said`."""
    cells = {cell for cell in _SAID_ABOVE if any(m.startswith(cell + " ") for m in said)}
    return [m for m in messages if not any(m.startswith(_SAID_ABOVE[cell]) for cell in cells)]


def _one_row(session: Session, row: dict[str, str], *, role: str, username: str, now: datetime, tz: tzinfo,
             ward_ids: list[int] | None) -> tuple[str, int, int | None]:
    """Admit the row's patient and start their course; RecordError with every problem of the row (the
    caller's savepoint undoes an admission whose course is refused)."""
    errors: list[str] = []
    birth_date = _birth_date(row, errors)
    admitted_at = _moment(row, "admitted_at", errors)
    ward_id, bed_id = _place(session, row, errors)
    plan, baselines = _plan(row, errors)
    if row.get("regimen") and not auth.may(role, "manage_courses"):
        errors.append("A course is started by an oncologist: import this file as one, or leave the course "
                      "columns empty.")
        plan = None
    done = None
    if ward_id is not None:
        try:
            done = admission.admit(
                session=session, role=role, username=username, mrn=row.get("mrn", ""),
                family_name=row.get("family_name", ""), given_name=row.get("given_name", ""), birth_date=birth_date,
                sex=row.get("sex") or None, allergies=row.get("allergies") or None, ward_id=ward_id, bed_id=bed_id,
                now=now, tz=tz, ward_ids=ward_ids, admitted_at=admitted_at)
        except RecordError as refused:
            errors += _not_said(refused.errors, errors)
    course = None
    if done is not None and plan is not None:
        try:
            course = courses.start_course(session=session, patient_id=done.patient_id, plan=plan, baselines=baselines,
                                          role=role, username=username, tz=tz)
        except RecordError as refused:
            errors += _not_said(refused.errors, errors)
    elif plan is not None:
        # Not admitted: the course's own problems are listed all the same (nothing to start it for).
        errors += _not_said(courses.plan_problems(plan, baselines), errors)
    if errors or done is None:
        raise RecordError(errors)
    if course is None:
        return done.text, done.patient_id, None
    return (f"{done.text} Course cycle 1 started ({REGIMENS[course.regimen]}), awaiting the eligibility sign-off.",
            done.patient_id, int(course.id or 0))


def import_patients(*, session: Session, text: str, role: str, username: str, now: datetime, tz: tzinfo,
                    ward_ids: list[int] | None = None, check_only: bool = False, file_name: str = "") -> ImportReport:
    """Check every row and, when none is refused and not `check_only`, keep them all (module docstring).
    A role without admit_patients is refused (PermissionDenied) before the file is read."""
    auth.require(role, "admit_patients")
    rows, problems = read_rows(text)
    if problems:
        return ImportReport((), False, tuple(problems))
    outcomes = []
    whole = session.begin_nested()
    for line, row in enumerate(rows, start=2):
        one = session.begin_nested()
        try:
            detail, patient_id, course_id = _one_row(session, row, role=role, username=username, now=now, tz=tz,
                                                     ward_ids=ward_ids)
        except RecordError as refused:
            one.rollback()
            outcomes.append(RowOutcome(line, row.get("mrn", ""), False, " ".join(refused.errors)))
            continue
        one.commit()
        outcomes.append(RowOutcome(line, row.get("mrn", ""), True, detail, course_id is not None, patient_id,
                                   course_id))
    saved = not check_only and all(o.ok for o in outcomes)
    if saved:
        whole.commit()
    else:
        whole.rollback()
        # The row outcomes keep the ids of rows that are no longer saved: they meant nothing.
        outcomes = [RowOutcome(o.line, o.mrn, o.ok, o.detail, o.with_course) for o in outcomes]
    report = ImportReport(tuple(outcomes), saved)
    write_audit(session=session, username=username, action="patients-import", entity="patient",
                after={"file": file_name, "rows": len(outcomes), "refused": report.refused, "saved": saved,
                       "check_only": check_only, "courses": sum(o.with_course for o in outcomes),
                       "patient_ids": [o.patient_id for o in outcomes if o.patient_id is not None]})
    return report
