"""The oncologist's decision on the next IL-2 dose (issue 15): the doses due, the last 24 hours beside
the pre-dose check, and recording give, hold, discuss or stop with who, when and why.

- `due_doses`: every patient of the wards with IL-2 running whose next dose is due within the next
  hours (or overdue), with what the check would say and the decision that stands.
- `last_24h`: the vital signs, laboratory results, weight gain and urine output of the last 24 h,
  one line each (latest, lowest, highest, count), for the decision.
- `decide`: the decision on the next dose, with the pre-dose check it was made on (stored with it,
  so a decision to give lapses on a criterion found after it: monitoring.views.dose_gate); only the
  oncologist role may decide (monitoring.services.auth 'decide_doses').

No Streamlit here: dashboard/app_pages/dose_decisions.py is a thin page over these functions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.vocabulary import DOSE_DECISIONS, REGIMEN_SHORT
from monitoring.errors import RecordError
from monitoring.services import auth
from monitoring.store import repository
from monitoring.store.models import TreatmentCourse
from monitoring.timefmt import elapsed_text, local_text
from monitoring.views import dose_gate, dosing, lists

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
    patients = lists.ward_patient_list(session=session, ward_ids=ward_ids)
    patients = patients[patients["course_id"].notna()]
    if patients.empty:
        return pd.DataFrame(columns=DUE_COLUMNS)
    found = dosing.forecasts(session=session, patient_ids=[int(p) for p in patients["patient_id"]], now=now, tz=tz)
    course_ids = [int(c) for c in patients["course_id"]]
    decisions = repository.latest_dose_decisions(session=session, course_ids=course_ids)
    # One read of the ward's doses for every course's progress (issue 21), not one per patient.
    courses = session.scalars(select(TreatmentCourse).where(TreatmentCourse.id.in_(course_ids))).all()
    progress = dosing.course_progresses(session=session, courses=courses)
    due = []
    for p in patients.itertuples(index=False):
        upcoming = dosing.next_dose_of(progress[int(p.course_id)], now=now)
        if upcoming is not None and upcoming.scheduled_at is not None \
                and upcoming.scheduled_at <= now + timedelta(hours=within_hours):
            due.append((p, upcoming))
    # IL-2 not running yet or paused (the first dose, or an interval over 24 h): the check itself, read for
    # all of them at once (dosing.checks_or_none).
    checked = dosing.checks_or_none(session=session, patient_ids=[int(p.patient_id) for p, _ in due
                                                                  if int(p.patient_id) not in found], now=now, tz=tz)
    rows = []
    for p, upcoming in due:
        forecast = found.get(int(p.patient_id))
        row = repository.standing_row(decisions, int(p.course_id), upcoming.dose_number)
        if forecast is not None:
            check = forecast.decision
            standing_words = forecast.oncologist    # 'give (lapsed)' when the check found something new
        else:   # IL-2 not running yet or paused (the first dose, or an interval over 24 h): the check itself
            found_now, _ = checked[int(p.patient_id)]
            check = None if found_now is None else found_now.decision
            standing = None if row is None else dose_gate.standing(row, found_now)
            standing_words = None if standing is None else standing.short
        rows.append({"patient_id": int(p.patient_id), "course_id": int(p.course_id),
                     "Bed": p.bed if isinstance(p.bed, str) and p.bed else "no bed",
                     "Patient": f"{p.name} (synthetic)" if p.is_synthetic else p.name,
                     "Course": REGIMEN_SHORT.get(p.regimen, p.regimen),
                     "Dose": f"{upcoming.dose_number} ({upcoming.given} of {upcoming.planned or '?'} given)",
                     "Due": f"{local_text(upcoming.scheduled_at, tz)} · {upcoming.due_text(now)}",
                     "Check": "could not run" if check is None else check.upper(),
                     "Oncologist": "–" if row is None else
                     f"{_decision_words(standing_words or row.decision)} ({row.decided_by}, "
                     f"{local_text(row.decided_at, tz)})",
                     "due_at": upcoming.scheduled_at,
                     "check_decision": check})
    frame = pd.DataFrame(rows, columns=DUE_COLUMNS)
    return frame.sort_values(["due_at", "Bed"]).reset_index(drop=True)


def _decision_words(words: str) -> str:
    """'give (lapsed)' -> 'GIVE (lapsed)': the decision in capitals, as the checks are shown."""
    decision, _, rest = words.partition(" ")
    return decision.upper() + (f" {rest}" if rest else "")


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
            latest = _urine_text(part, now)
            spread = f"last {entry.format_value(last['value_num'])}"
        else:
            spread = f"{entry.format_value(numbers.min())} – {entry.format_value(numbers.max())}"
        rows.append({"Measure": entry.label, "Latest": f"{latest} at {when}", "Range 24 h": spread, "n": len(part)})
    return pd.DataFrame(rows, columns=LAST_24H_COLUMNS)


def _urine_text(urine: pd.DataFrame, now: datetime) -> str:
    """'1365 mL in 24 h (80 mL/h over the 17 h measured)'. The volume in the 24 h counts each
    measurement period's share inside them (a 12-h period with 4 h inside counts a third); the rate is
    the volumes over their whole periods, so a period that began before the 24 h never inflates it
    (oliguria stays visible). A volume without a period counts in the total, never in the rate."""
    start = pd.Timestamp(now) - pd.Timedelta(hours=24)
    timed = urine[urine["period_start"].notna()]
    in_window = measured_volume = measured_hours = 0.0
    for begin, end, volume in zip(timed["period_start"], timed["observed_at"], timed["value_num"].astype(float)):
        length = (end - begin).total_seconds() / 3600
        if length <= 0:
            continue
        inside = (min(end, pd.Timestamp(now)) - max(begin, start)).total_seconds() / 3600
        in_window += volume * max(inside, 0) / length
        measured_volume += volume
        measured_hours += length
    untimed = urine[urine["period_start"].isna()]
    total = in_window + float(untimed["value_num"].astype(float).sum())
    text = f"{total:.0f} mL in 24 h"
    if measured_hours:
        text += f" ({measured_volume / measured_hours:.0f} mL/h over the {measured_hours:g} h measured)"
    if len(untimed):
        text += f"; {len(untimed)} volume(s) without a period, not in the rate"
    return text


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
           tz: tzinfo, seen: tuple[list[str], list[str]] | None = None) -> Decided:
    """Record the oncologist's decision on the next dose of a course, with the pre-dose check at `now`.

    Refused: a role other than the oncologist's; a dose other than the next one; a hold or stop
    without a reason (criteria or words); a decision to give over a check that does not say GIVE
    without the reason in words (the nurse reads it beside the dose); and, when `seen` gives the
    criteria ids and missing input codes of the check the oncologist was looking at, a check that now
    finds more (a value recorded while the page was open): a decision is made on what was seen."""
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
    if seen is not None and check is not None:
        seen_criteria, seen_missing = set(seen[0]), set(seen[1])
        new = ([c.reason for c in check.criteria if c.id not in seen_criteria]
               + [f"no valid value for {label}" for code, label in zip(check.missing_codes, check.missing)
                  if code not in seen_missing])
        if new:
            errors.append("The pre-dose check changed while the page was open: it now also finds "
                          + "; ".join(new) + ". Look at it again before deciding.")
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
