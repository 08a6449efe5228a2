"""The shift handover (issue 18 item 6): every patient of a ward in SBAR order, for one shift.

Assembled from what the other pages show, never derived again here:
- Situation: NEWS2 of the last complete set and when the next set is due (views.ward.ward_overview), the
  NEWS2 of the complete sets of the shift as a trend (clinical.sets.scored_sets, as the overview scores
  them), the alerts still needing someone (views.alerts.list_alerts: open, escalated, snoozed), and the
  next IL-2 dose (views.dosing.next_dose) with its pre-dose check and the oncologist's decision that
  stands for it: with IL-2 running, the ward's forecast (dosing.forecasts, one engine run for the ward,
  as the overview and the oncologist's doses-due list read it); otherwise dosing.check_or_none and
  dosing.standing_decision, as the doses pages. A 40-patient ward took 4.2 s with a check per patient,
  1.5 s so.
- Background: the course and its day, doses given and held, the eligibility answers that are not 'no'
  (views.dosing: course_text, course_progress, eligibility_flags).
- Assessment: CTCAE grades new or worse this shift (clinical.toxicity: graded_observations, grade_changes,
  against the latest grade before the shift: thresholds.toml [handover] grade_lookback_hours), the
  shift's fluid balance (clinical.fluids.balances_between) and the latest weight against the course's
  weight-gain baseline (clinical.fluids.weight_change, clinical.derived's baseline).
- Recommendation: the outgoing nurse's words for the patient (handovernote: the latest row stands).

The situation is as at the time of reading; 'this shift' runs from the shift's start to its end, or to
now while it lasts. Shifts: monitoring.clinical.shifts ([handover] of thresholds.toml).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.code_lists import SCORE_CODES
from monitoring.clinical.fluids import balances_between, weight_change
from monitoring.clinical.sets import scored_sets
from monitoring.clinical.shifts import HandoverShifts, Shift, handover_settings
from monitoring.clinical.toxicity import grade_changes, graded_observations
from monitoring.store import repository
from monitoring.store.frames import weight_baselines
from monitoring.store.models import Handover, HandoverAcknowledgement, HandoverNote, TreatmentCourse, User, Ward
from monitoring.timefmt import course_day, elapsed_text, local_text
from monitoring.views import dose_gate, dosing
from monitoring.views.alerts import NEEDS_ATTENTION, list_alerts
from monitoring.views.lists import ward_patient_list
from monitoring.views.ward import ward_overview

#: The alerts a handover names: every one still waiting for someone (a snoozed one too: it comes back).
HANDED_OVER_STATUSES = (*NEEDS_ATTENTION, "snoozed")
#: NEWS2 values of the shift shown in its trend (the latest ones; the count of earlier ones is said).
TREND_SHOWN = 6
HANDOVER_CODES = [*SCORE_CODES, "fluid_intake", "urine_output"]


# --- the stored handover ------------------------------------------------------------------------

def row_id(row: Handover | HandoverNote | HandoverAcknowledgement | TreatmentCourse) -> int:
    """The id of a stored row (None only before it is flushed)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has not been stored yet.")
    return row.id


@dataclass(frozen=True)
class Recommendation:
    """The outgoing nurse's recommendation for one patient that stands (the latest row)."""

    note_id: int
    text: str | None          # None: withdrawn
    written_by: str
    written_at: datetime


@dataclass(frozen=True)
class Acknowledgement:
    by: str
    at: datetime
    version: int


@dataclass(frozen=True)
class HandoverRecord:
    """What has been stored for a ward's shift: who saved it, the recommendations that stand, and
    who acknowledged which version (the number of recommendation rows at that time)."""

    handover_id: int | None = None
    started_by: str | None = None
    started_at: datetime | None = None
    notes: dict[int, Recommendation] = field(default_factory=dict)   # patient id -> standing recommendation
    version: int = 0
    writers: tuple[str, ...] = ()            # the starter and every writer of a recommendation, first first
    last_written_at: datetime | None = None
    acknowledgements: tuple[Acknowledgement, ...] = ()
    names: dict[str, str] = field(default_factory=dict)   # user name -> display name

    @property
    def saved(self) -> bool:
        return self.handover_id is not None

    def name(self, username: str) -> str:
        return self.names.get(username, username)

    def current_acknowledgements(self) -> list[Acknowledgement]:
        """The acknowledgements of the handover as it stands (none after a later change)."""
        return [a for a in self.acknowledgements if a.version == self.version]

    def acknowledged_by(self, username: str) -> Acknowledgement | None:
        return next((a for a in self.current_acknowledgements() if a.by == username), None)


def handover_record(*, session: Session, ward_id: int, shift_start: datetime) -> HandoverRecord:
    """The stored handover of a ward's shift (an empty record when none has been saved)."""
    header = session.scalars(select(Handover).where(col(Handover.ward_id) == ward_id,
                                                    col(Handover.shift_start) == shift_start)).first()
    if header is None:
        return HandoverRecord()
    notes = session.scalars(select(HandoverNote).where(col(HandoverNote.handover_id) == header.id)
                            .order_by(col(HandoverNote.id))).all()
    superseded = {n.supersedes_id for n in notes if n.supersedes_id is not None}
    standing = {n.patient_id: Recommendation(row_id(n), n.recommendation, n.written_by, n.written_at)
                for n in notes if n.id not in superseded}
    acks = session.scalars(select(HandoverAcknowledgement)
                           .where(col(HandoverAcknowledgement.handover_id) == header.id)
                           .order_by(col(HandoverAcknowledgement.id))).all()
    writers = tuple(dict.fromkeys([header.started_by, *(n.written_by for n in notes)]))
    people = {*writers, *(a.acknowledged_by for a in acks)}
    names: dict[str, str] = {str(u): str(d) for u, d in session.execute(
        select(col(User.username), col(User.display_name)).where(col(User.username).in_(people))).all()}
    return HandoverRecord(
        handover_id=header.id, started_by=header.started_by, started_at=header.started_at, notes=standing,
        version=len(notes), writers=writers, last_written_at=max((n.written_at for n in notes),
                                                                 default=header.started_at),
        acknowledgements=tuple(Acknowledgement(a.acknowledged_by, a.acknowledged_at, a.version) for a in acks),
        names=names)


# --- the SBAR of each patient -------------------------------------------------------------------

@dataclass(frozen=True)
class PatientHandover:
    patient_id: int
    bed: str
    name: str                      # '(synthetic)' added for a synthetic patient
    band: str | None               # NEWS2 band of the last complete set (for its colour)
    worst_severity: str | None     # of the alerts handed over
    situation: list[str]
    background: list[str]
    assessment: list[str]
    recommendation: Recommendation | None


@dataclass(frozen=True)
class WardHandover:
    ward_id: int
    ward: str
    shift: Shift
    now: datetime
    until: datetime                # the end of 'this shift': its end, or now while it lasts
    patients: list[PatientHandover]
    record: HandoverRecord


def _clock(moment, tz: tzinfo) -> str:
    """'14:05' in the installation's time zone (IL2_TIMEZONE)."""
    return f"{pd.Timestamp(moment).tz_convert(tz):%H:%M}"


def shift_times(shift: Shift, tz: tzinfo) -> Callable[[datetime], str]:
    """How the handover writes a time (the installation's time zone, named once on the page): '14:05' inside the
    shift, '03 Dec 09:57' outside it."""
    def when(moment) -> str:
        if moment is None or pd.isna(moment):
            return "–"
        at = pd.Timestamp(moment)
        return _clock(at, tz) if shift.holds(at.to_pydatetime()) else f"{at.tz_convert(tz):%d %b %H:%M}"
    return when


def news2_trend(sets: pd.DataFrame, *, start: datetime, until: datetime, when: Callable[[datetime], str]) -> str:
    """'this shift 1 at 07:10 → 3 at 11:00 → 5 at 15:00: rising (2 at 03:00 before the shift)' from the
    complete sets of one patient (scored_sets rows); the words compare the shift's latest NEWS2 with the
    last before the shift, or with the shift's first when there was none before."""
    complete = sets[sets["news2"].notna()]
    # Plain (time, score) pairs: a ward's handover calls this once per patient, and a pandas filter per
    # step cost more than the rest of the trend (issue 21).
    points = sorted(zip(pd.to_datetime(complete["time"], utc=True), (int(v) for v in complete["news2"])))
    start_at, until_at = pd.Timestamp(start), pd.Timestamp(until)
    shift = [(t, v) for t, v in points if start_at <= t < until_at]
    before = [(t, v) for t, v in points if t < start_at]
    if not shift:
        return "no complete set this shift" + ("" if not before else
                                               f" (last: {before[-1][1]} at {when(before[-1][0])})")
    values = [f"{v} at {when(t)}" for t, v in shift]
    earlier = len(values) - TREND_SHOWN
    text = "this shift " + ("… " if earlier > 0 else "") + " → ".join(values[-TREND_SHOWN:])
    latest = shift[-1][1]
    reference = before[-1][1] if before else shift[0][1]
    word = "rising" if latest > reference else "falling" if latest < reference else "unchanged"
    if before:
        word += f" ({reference} at {when(before[-1][0])} before the shift)"
    elif len(shift) == 1:
        word = "no earlier set to compare"
    return f"{text}: {word}"


def alert_lines(alerts: pd.DataFrame, when: Callable[[datetime], str]) -> list[str]:
    """'URGENT · aki · stage 2 since 03 Dec 14:00 (escalated)', in the order given, one per alert."""
    lines = []
    for a in alerts.itertuples(index=False):
        status = "" if a.status == "open" else f" ({a.status})"
        lines.append(f"{a.severity.upper()} · {a.rule_id} · {a.level} since {when(a.onset_at)}{status}")
    return lines


def grade_lines(changes: pd.DataFrame, graded_in_shift: bool, when: Callable[[datetime], str]) -> list[str]:
    """'New this shift: Neutrophil count decreased grade 3 (ANC 0.4 10*9/L at 14:00; grade 0 before, at
    06:00)', then the worse ones, then the ongoing ones in one line; says when nothing was graded."""
    catalogue = default_catalogue()
    if changes.empty:
        return ["CTCAE: no grade of 1 or above this shift" if graded_in_shift else "CTCAE: nothing graded this shift"]
    lines = []
    for change, title in (("new", "New this shift"), ("worse", "Worse this shift")):
        for c in changes[changes["change"] == change].itertuples(index=False):
            entry = catalogue[c.code]
            value = "" if entry.kind == "grade" else f"{entry.label} {entry.format_value(c.value_num)} "
            before = ("none in the days before" if pd.isna(c.before_grade) else
                      f"grade {int(c.before_grade)} before, at {when(c.before_time)}")
            lines.append(f"{title}: {c.term} grade {int(c.grade)} ({value}at {when(c.time)}; {before})")
    ongoing = changes[changes["change"] == "ongoing"]
    if len(ongoing):
        lines.append("Ongoing: " + ", ".join(f"{t} grade {int(g)}" for t, g in zip(ongoing["term"], ongoing["grade"])))
    return lines


def _check_words(forecast: dosing.Forecast) -> str:
    """A forecast's check as the doses page words a check: 'HOLD (SBP 84 mmHg ...; no valid value for ...)'."""
    found = list(forecast.reasons) + ([f"no valid value for {', '.join(forecast.missing)}"] if forecast.missing else [])
    return forecast.decision.upper() + (f" ({'; '.join(found)})" if found else "")


def _dose_line(session: Session, progress: dosing.Progress, forecast: dosing.Forecast | None, now: datetime,
               tz: tzinfo, when: Callable[[datetime], str]) -> str:
    """'Next IL-2: dose 6 at 22:00 (due in 2 h 50 min) · check: HOLD (...) · oncologist ...'. IL-2 running:
    the ward's forecast (dosing.forecasts: the pre-dose check judged now as at the time of dosing, one
    engine run for the ward, as the overview and the oncologist's doses-due list read it); otherwise
    the check itself (dosing.check_or_none) and the decision that stands (dosing.standing_decision)."""
    course_id = row_id(progress.course)
    upcoming = dosing.next_dose_of(progress, now=now)
    if upcoming is None:
        return "Next IL-2: none. " + (dosing.stopped_text(progress, tz) or "No further dose is scheduled.")
    at = "" if upcoming.scheduled_at is None else f" at {when(upcoming.scheduled_at)}"
    text = f"Next IL-2: dose {upcoming.dose_number}{at} ({upcoming.due_text(now)})"
    if forecast is not None:
        return (f"{text} · check: {_check_words(forecast)} · "
                + (forecast.oncologist_words or "no oncologist's decision for it"))
    check, problem = dosing.check_or_none(session=session, patient_id=progress.course.patient_id, now=now, tz=tz)
    text += f" · check: {dose_gate.check_words(check)}" + (f" ({problem})" if check is None else "")
    standing = dosing.standing_decision(session=session, course_id=course_id, dose_number=upcoming.dose_number,
                                        check=check, now=now)
    return text + (" · no oncologist's decision for it" if standing is None else
                   f" · {standing.words(when)}")


def _background(session: Session, progress: dosing.Progress, now: datetime, tz: tzinfo) -> list[str]:
    course = progress.course
    lines = [f"{dosing.course_text(course, tz)} · day {course_day(course.start_at, now)}",
             f"Doses: {progress.given_text()}"]
    last = progress.last
    if last is not None:
        at = last["given_at"] if not pd.isna(last["given_at"]) else last["scheduled_at"]
        lines[-1] += f" · last: dose {int(last['dose_number'])} {last['status']} {elapsed_text(now - at)} ago"
    answers = repository.latest_eligibility(session=session, course_id=row_id(course))
    flags = dosing.eligibility_flags_of(answers)
    if not answers:
        lines.append("Eligibility: the screen has not been answered")
    elif not flags:
        lines.append("Eligibility: no flags (every answer 'no')")
    else:
        lines.append("Eligibility flags: " + "; ".join(f"{f.label}: {f.answer}" + (f" ({f.note})" if f.note else "")
                                                       for f in flags))
    return lines


def _by_patient(frame: pd.DataFrame) -> Callable[[int], pd.DataFrame]:
    """The frame's rows of one patient, in the frame's order (none: the frame's empty slice), from one split."""
    parts = {int(k): part for k, part in frame.groupby("patient_id", sort=False)} if len(frame) else {}
    return lambda patient_id: parts.get(patient_id, frame.iloc[:0])


def ward_handover(*, session: Session, ward_id: int, shift: Shift, now: datetime, tz: tzinfo,
                  settings: HandoverShifts | None = None) -> WardHandover:
    """The handover of one ward for one shift: every patient of the ward in bed order, SBAR, with the
    recommendations and acknowledgements stored for it. Refused (ValueError) for a shift not begun."""
    if shift.start > now:
        raise ValueError(f"The {shift.name} shift starting {local_text(shift.start, tz)} has not begun; a handover "
                         "is for a shift under way or over.")
    settings = settings or handover_settings()
    until = min(now, shift.end)
    ward = session.get(Ward, ward_id)
    if ward is None:
        raise ValueError(f"Ward {ward_id} does not exist.")
    patients = ward_patient_list(session=session, ward_ids=[ward_id])
    ids = [int(p) for p in patients["patient_id"]]
    record = handover_record(session=session, ward_id=ward_id, shift_start=shift.start)
    if not ids:
        return WardHandover(ward_id, ward.name, shift, now, until, [], record)
    # One engine run for the ward's forecasts, read by the overview's rows and by each dose line.
    running = dosing.forecasts(session=session, patient_ids=ids, now=now, tz=tz)
    overview = ward_overview(session=session, ward_ids=[ward_id], now=now, tz=tz,
                             running=running).set_index("patient_id")
    since = shift.start - settings.grade_lookback
    obs = repository.current_observations(session=session, patient_ids=ids, since=since)
    obs = obs[obs["observed_at"] < pd.Timestamp(until)]
    weights = repository.current_observations(session=session, patient_ids=ids, codes=["weight"])
    weights = weights[weights["observed_at"] < pd.Timestamp(until)]
    courses = {c.patient_id: c for c in session.scalars(select(TreatmentCourse).where(
        col(TreatmentCourse.id).in_([int(c) for c in patients["course_id"].dropna()]))).all()}
    # The weight-gain baseline of each course as every rule takes it (monitoring.clinical.derived).
    baselines = weight_baselines(session=session, course_ids=[row_id(c) for c in courses.values()])
    by_course = {int(c): (None if pd.isna(kg) else float(kg), str(source))
                 for c, kg, source in zip(baselines["course_id"], baselines["baseline_kg"], baselines["source"])}
    weight_of = {pid: by_course[row_id(c)] for pid, c in courses.items()}
    graded = graded_observations(
        obs, baseline_creatinine={pid: c.baseline_creatinine_mg_dl for pid, c in courses.items()
                                  if c.baseline_creatinine_mg_dl is not None},
        baseline_weight={pid: kg for pid, (kg, _) in weight_of.items() if kg is not None})
    changes = grade_changes(graded, start=shift.start, end=until, lookback=settings.grade_lookback)
    in_shift = set(graded.loc[pd.to_datetime(graded["observed_at"], utc=True) >= pd.Timestamp(shift.start),
                              "patient_id"].astype(int))
    bedside = obs[(obs["source"] != "lab-import") & obs["code"].isin(SCORE_CODES)]
    sets = scored_sets(bedside, "patient_id") if len(bedside) else pd.DataFrame(columns=["patient_id", "time", "news2"])
    alerts = list_alerts(session=session, patient_ids=ids, include_info=False)
    alerts = alerts[alerts["status"].isin(HANDED_OVER_STATUSES)]
    rank = {"emergency": 0, "urgent": 1, "warning": 2}
    # Most severe first, then newest (list_alerts' order, kept on ties).
    alerts = alerts.assign(rank=alerts["severity"].map(rank).fillna(3)).sort_values("rank", kind="stable")
    when = shift_times(shift, tz)
    progress_of = dosing.course_progresses(session=session, courses=list(courses.values()))
    # Each frame split by patient once (a boolean filter per patient and frame cost more than the rest).
    alerts_of, sets_of, changes_of, weights_of = (_by_patient(frame) for frame in (alerts, sets, changes, weights))
    balances = balances_between(obs, patient_ids=ids, start=shift.start, end=until)
    out = []
    for p in patients.itertuples(index=False):
        pid = int(p.patient_id)
        row = overview.loc[pid]
        mine = alerts_of(pid)
        band = row["band"] if isinstance(row["band"], str) else None
        news2 = ("NEWS2 – (no complete set in the last 24 h)" if row["NEWS2"] == "–" else
                 f"NEWS2 {row['NEWS2']} ({band} band)")
        trend = news2_trend(sets_of(pid), start=shift.start, until=until, when=when)
        named = alert_lines(mine, when)
        situation = [f"{news2} · {trend}", f"Next set: {row['Next set']}",
                     *([f"Open alerts ({len(named)}): {named[0]}", *named[1:]] if named else ["Open alerts: none"])]
        course = courses.get(pid)
        if course is None:
            background = ["No IL-2 course recorded"]
        else:
            progress = progress_of[row_id(course)]
            situation.append(_dose_line(session, progress, running.get(pid), now, tz, when))
            background = _background(session, progress, now, tz)
        assessment = grade_lines(changes_of(pid), pid in in_shift, when)
        assessment.append(f"Fluids this shift ({_clock(shift.start, tz)}–{_clock(until, tz)}): " + balances[pid])
        kg, source = weight_of.get(pid, (None, "none"))
        mine_w = weights_of(pid)
        weighed = "" if mine_w.empty else f", weighed {when(mine_w['observed_at'].iloc[-1])}"
        assessment.append(f"Weight: {weight_change(mine_w, kg, source)}{weighed}")
        out.append(PatientHandover(
            patient_id=pid, bed=p.bed if isinstance(p.bed, str) and p.bed else "no bed",
            name=f"{p.name} (synthetic)" if p.is_synthetic else str(p.name), band=band,
            worst_severity=None if mine.empty else str(mine["severity"].iloc[0]),
            situation=situation, background=background, assessment=assessment,
            recommendation=record.notes.get(pid)))
    return WardHandover(ward_id, ward.name, shift, now, until, out, record)
