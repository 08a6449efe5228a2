"""The oncologist's decision on the next IL-2 dose (issue 15): the doses due, the last 24 hours beside
the pre-dose check, and recording give, hold, discuss or stop with who, when and why.

- `due_doses`: every patient of the wards with IL-2 running whose next dose is due within the next
  hours (or overdue), with what the check would say and the decision that stands.
- `last_24h`: the vital signs, laboratory results, weight gain and urine output of the last 24 h,
  one line each (latest, lowest, highest, count), for the decision.
- `decide`: the decision on the next dose, with the pre-dose check it was made on (stored with it,
  so a decision to give lapses on a criterion found after it: monitoring.dose_gate); only the
  oncologist role may decide (monitoring.auth 'decide_doses').

No Streamlit here: dashboard/app_pages/dose_decisions.py is a thin page over these functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring import auth, dose_gate, dosing, repository
from monitoring.catalogue import default_catalogue
from monitoring.models import DOSE_DECISIONS, REGIMEN_SHORT, TreatmentCourse
from monitoring.repository import RecordError
from monitoring.timefmt import elapsed_text, local_text

#: The decisions as the oncologist reads them on the page, in the order offered.
DECISION_LABELS = {"give": "Give", "hold": "Hold", "discuss": "Discuss at the bedside first",
                   "stop": "Stop IL-2 for this course"}
#: The last 24 h shown beside the check, in reading order.
LAST_24H_CODES = ("temperature", "heart_rate", "sbp", "dbp", "map", "resp_rate", "spo2", "consciousness",
                  "platelets", "anc", "creatinine", "bilirubin", "lactate", "weight", "urine_output")


# --- the doses due ---------------------------------------------------------------------------------

DUE_COLUMNS = ["patient_id", "course_id", "Bed", "Patient", "Course", "Dose", "Due", "Check", "Oncologist",
               "due_at", "check_decision"]


def due_doses(*, session: Session, ward_ids: list[int], now: datetime, tz: tzinfo, within_hours: float = 8
              ) -> pd.DataFrame:
    """Patients of these wards whose next IL-2 dose is due within `within_hours` (or overdue): bed, name,
    course, dose number and due time, what the pre-dose check would say now, and the oncologist's
    decision that stands for that dose. Soonest first."""
    patients = repository.ward_patient_list(session=session, ward_ids=ward_ids)
    patients = patients[patients["course_id"].notna()]
    if patients.empty:
        return pd.DataFrame(columns=DUE_COLUMNS)
    found = dosing.forecasts(session=session, patient_ids=[int(p) for p in patients["patient_id"]], now=now, tz=tz)
    course_ids = [int(c) for c in patients["course_id"]]
    decisions = repository.latest_dose_decisions(session=session, course_ids=course_ids)
    rows = []
    for p in patients.itertuples(index=False):
        upcoming = dosing.next_dose(session=session, course_id=int(p.course_id), now=now)
        if upcoming is None or upcoming.scheduled_at is None:
            continue
        if upcoming.scheduled_at > now + timedelta(hours=within_hours):
            continue
        forecast = found.get(int(p.patient_id))
        if forecast is not None:
            check = forecast.decision
        else:   # IL-2 not running yet or paused (the first dose, or an interval over 24 h): the check itself
            found_now, _ = dosing.check_or_none(session=session, patient_id=int(p.patient_id), now=now, tz=tz)
            check = None if found_now is None else found_now.decision
        row = decisions.get((int(p.course_id), upcoming.dose_number))
        rows.append({"patient_id": int(p.patient_id), "course_id": int(p.course_id),
                     "Bed": p.bed if isinstance(p.bed, str) and p.bed else "no bed",
                     "Patient": f"{p.name} (synthetic)" if p.is_synthetic else p.name,
                     "Course": REGIMEN_SHORT.get(p.regimen, p.regimen),
                     "Dose": f"{upcoming.dose_number} ({upcoming.given} of {upcoming.planned or '?'} given)",
                     "Due": f"{local_text(upcoming.scheduled_at, tz)} · {upcoming.due_text(now)}",
                     "Check": "could not run" if check is None else check.upper(),
                     "Oncologist": "–" if row is None else
                     f"{row.decision.upper()} ({row.decided_by}, {local_text(row.decided_at, tz)})",
                     "due_at": upcoming.scheduled_at,
                     "check_decision": check})
    frame = pd.DataFrame(rows, columns=DUE_COLUMNS)
    return frame.sort_values(["due_at", "Bed"]).reset_index(drop=True)


# --- the last 24 hours -----------------------------------------------------------------------------

LAST_24H_COLUMNS = ["Measure", "Latest", "Range 24 h", "n"]


def last_24h(*, session: Session, patient_id: int, now: datetime, tz: tzinfo) -> pd.DataFrame:
    """One line per measure recorded in the 24 h before `now`: the latest value and its time, the
    lowest to highest, and how many readings. Weight says its change from the dosing weight; urine
    output is the total over the periods that ended in the 24 h, with mL/h. Measures with nothing in
    the 24 h are listed as 'none in 24 h' (never left out, never zero)."""
    catalogue = default_catalogue()
    obs = repository.current_observations(session=session, patient_ids=[patient_id], codes=list(LAST_24H_CODES),
                                          since=now - timedelta(hours=24))
    obs = obs[obs["observed_at"] <= pd.Timestamp(now)]
    course = _course(session, patient_id)
    reference = None if course is None else (course.dosing_weight_kg or course.baseline_weight_kg)
    rows = []
    for code in LAST_24H_CODES:
        if code not in catalogue:
            continue
        entry = catalogue[code]
        part = obs[obs["code"] == code].sort_values("observed_at")
        if part.empty:
            rows.append({"Measure": entry.label, "Latest": "none in 24 h", "Range 24 h": "", "n": 0})
            continue
        last = part.iloc[-1]
        when = local_text(last["observed_at"], tz, "%H:%M")
        if entry.kind == "coded":
            values = part["value_code"].astype(str)
            others = sorted(set(values) - {"A"}) if code == "consciousness" else []
            rows.append({"Measure": entry.label, "Latest": f"{entry.format_value(last['value_code'])} at {when}",
                         "Range 24 h": ("not A: " + ", ".join(others)) if others else "", "n": len(part)})
            continue
        numbers = part["value_num"].astype(float)
        latest = entry.format_value(last["value_num"])
        if code == "weight" and reference:
            latest += f" ({(last['value_num'] - reference) / reference * 100:+.1f}% from {reference:.1f} kg)"
        if code == "urine_output":
            hours = _hours_covered(part, now)
            total = float(numbers.sum())
            latest = f"{total:.0f} mL in 24 h" + (f" ({total / hours:.0f} mL/h over {hours:g} h)" if hours else "")
            spread = f"last {entry.format_value(last['value_num'])}"
        else:
            spread = f"{entry.format_value(numbers.min())} – {entry.format_value(numbers.max())}"
        rows.append({"Measure": entry.label, "Latest": f"{latest} at {when}", "Range 24 h": spread, "n": len(part)})
    return pd.DataFrame(rows, columns=LAST_24H_COLUMNS)


def _hours_covered(urine: pd.DataFrame, now: datetime) -> float:
    """Hours of the 24 h covered by the urine measurement periods (overlaps not double counted)."""
    start = pd.Timestamp(now) - pd.Timedelta(hours=24)
    spans = sorted((max(s, start), e) for s, e in zip(urine["period_start"], urine["observed_at"]) if not pd.isna(s))
    covered, reach = pd.Timedelta(0), start
    for s, e in spans:
        s = max(s, reach)
        if e > s:
            covered += e - s
            reach = e
    return round(covered.total_seconds() / 3600, 1)


def _course(session: Session, patient_id: int) -> TreatmentCourse | None:
    return session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
                           .order_by(TreatmentCourse.start_at.desc(), TreatmentCourse.id.desc())).first()


# --- the decision ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Decided:
    decision: str
    dose_number: int
    check_decision: str | None
    text: str            # what the page confirms


def decide(*, session: Session, course_id: int, dose_number: int, decision: str, role: str, decided_by: str,
           reason_criteria: list[str] | None = None, reason_note: str | None = None, now: datetime,
           tz: tzinfo) -> Decided:
    """Record the oncologist's decision on the next dose of a course, with the pre-dose check at `now`.

    Refused: a role other than the oncologist's; a dose other than the next one; a hold or stop
    without a reason (criteria or words); a decision to give over a check that does not say GIVE
    without the reason in words (the nurse reads it beside the dose)."""
    auth.require(role, "decide_doses")
    course = session.get(TreatmentCourse, course_id)
    if course is None:
        raise RecordError([f"Treatment course {course_id} does not exist."])
    upcoming = dosing.next_dose(session=session, course_id=course_id, now=now)
    errors = []
    if decision not in DOSE_DECISIONS:
        errors.append(f"Decision '{decision}' is not known; accepted: {', '.join(DOSE_DECISIONS)}.")
    if upcoming is None:
        errors.append("This course has no further dose to decide on.")
    elif dose_number != upcoming.dose_number:
        errors.append(f"Dose {dose_number} is not the next dose of this course (dose {upcoming.dose_number} is); "
                      "a decision is made for the next dose only.")
    check, why_not = dosing.check_or_none(session=session, patient_id=course.patient_id, now=now, tz=tz)
    note = (reason_note or "").strip()
    if decision in ("hold", "stop") and not (reason_criteria or note):
        errors.append(f"A decision to {decision} needs a reason: choose the criteria or write it.")
    if decision == "give" and (check is None or check.decision != "give") and not note:
        errors.append(f"The pre-dose check says {dose_gate.check_words(check)}: write why the dose is to be given "
                      "(the nurse reads it beside the dose).")
    if errors:
        raise RecordError(errors)
    repository.record_dose_decision(
        session=session, course_id=course_id, dose_number=dose_number, decision=decision, decided_by=decided_by,
        check_decision=check.decision if check is not None else dose_gate.CHECK_NOT_RUN,
        check_criteria=[c.id for c in check.criteria] if check is not None else (),
        check_missing=check.missing_codes if check is not None else (),
        reason_criteria=reason_criteria, reason_note=note, now=now)
    check_text = dose_gate.check_words(check) if check is not None else f"could not run ({why_not})"
    return Decided(decision, dose_number, check.decision if check is not None else None,
                   f"Decision recorded for dose {dose_number}: {decision.upper()} (the check said {check_text}).")


def standing_text(*, session: Session, course_id: int, dose_number: int, check, tz: tzinfo,
                  now: datetime) -> str | None:
    """The decision that stands for this dose in the words the nurse reads, or None."""
    standing = dosing.standing_decision(session=session, course_id=course_id, dose_number=dose_number, check=check,
                                        now=now)
    if standing is None:
        return None
    return standing.words(lambda at: f"{local_text(at, tz)} ({elapsed_text(now - at)} ago)")
