"""What the downtime print holds for each patient of a ward, read from the store (no reportlab here).

Everything comes from the functions the pages use, so the paper says what the screen says: the patient
banner (views.patient_banner), the observation sets scored from their own values (clinical.sets, the
ward overview's definition: a set is a patient's bedside values at one time, lab imports are not
sets), the dose history and the next dose (views.dosing), the pre-dose check's forecast (views.dosing
forecasts, the ward overview's) and the alerts needing attention (services.alert_actions.inbox).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.code_lists import SCORE_CODES
from monitoring.clinical.scores import NEWS2_PARAMETERS
from monitoring.clinical.sets import scored_sets
from monitoring.services import alert_actions
from monitoring.store.models import Ward
from monitoring.store.repository import current_observations
from monitoring.timefmt import local_text
from monitoring.views import dosing
from monitoring.views.lists import holds_synthetic_data, ward_patient_list
from monitoring.views.patient_banner import PatientBanner, patient_banner

#: The grid's rows: NEWS2's seven parameters in the order of the RCP 2017 chart, with their units.
GRID_ROWS: tuple[tuple[str, str, str], ...] = (
    ("resp_rate", "Respiration rate", "/min"), ("spo2", "SpO2", "%"), ("on_oxygen", "Air or oxygen", ""),
    ("sbp", "Systolic BP", "mmHg"), ("heart_rate", "Pulse", "/min"), ("consciousness", "Consciousness", "ACVPU"),
    ("temperature", "Temperature", "°C"))
NOT_RECORDED = "–"
OXYGEN_TEXT = {"yes": "O2", "no": "Air"}
#: Dose events listed (newest first); the others are counted, never dropped silently.
MAX_DOSE_ROWS = 16
#: Upcoming doses listed for writing by hand: those due within the next day, at most this many.
NEXT_DOSES = 3
OBSERVATION_COLUMNS = ["patient_id", "code", "value_num", "value_code", "observed_at", "source"]


@dataclass(frozen=True)
class GridCell:
    text: str                 # the value as charted ('–' when the set did not record it)
    points: int | None        # its NEWS2 points (None when not recorded)


@dataclass(frozen=True)
class SetColumn:
    """One recorded set: its time, each parameter's value and points, and the set's NEWS2."""
    at: datetime
    cells: dict[str, GridCell]
    news2: int | None         # None for a partial set (NEWS2 needs all seven parameters)
    band: str | None          # low, low-medium, medium, high
    missing: str              # the parameters a partial set lacks


@dataclass(frozen=True)
class AlertLine:
    severity: str
    rule: str
    level: str
    onset_at: datetime
    status: str
    evidence: str
    context: str
    last_action: str


@dataclass(frozen=True)
class NextDose:
    number: int
    due_at: datetime | None


@dataclass
class PatientSheet:
    patient_id: int
    ward_name: str
    banner: PatientBanner
    sets: list[SetColumn]
    course: str | None = None                  # 'HD IV bolus q8h · cycle 1 · started ...'; None: no course
    progress: str | None = None                # '6 of 14 given, 1 held'
    doses: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=dosing.HISTORY_COLUMNS))
    earlier_doses: str | None = None           # the dose events not listed, counted
    next_doses: list[NextDose] = field(default_factory=list)
    no_next_dose: str | None = None            # why there is none (stopped, completed, all given)
    forecast: str | None = None                # what the pre-dose check says now for the next dose
    alerts: list[AlertLine] = field(default_factory=list)
    expected_effects: int = 0                  # open expected IL-2 effects (not listed, counted)


@dataclass
class WardSheet:
    wards: list[tuple[str, str]]               # (code, name) of the wards printed
    printed_at: datetime
    tz: tzinfo
    hours: float
    synthetic: bool
    patients: list[PatientSheet]

    @property
    def since(self) -> datetime:
        return self.printed_at - timedelta(hours=self.hours)


def _value_text(code: str, value: Any, scale: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return NOT_RECORDED
    if code == "on_oxygen":
        return OXYGEN_TEXT.get(str(value), str(value))
    if code == "consciousness":
        return str(value)
    text = f"{float(value):.{default_catalogue()[code].precision}f}"
    # SpO2 scale 2 (hypercapnic respiratory failure, a clinician's decision) is scored differently: said.
    return f"{text} S2" if code == "spo2" and str(scale) == "2" else text


def grid_columns(scored: pd.DataFrame) -> list[SetColumn]:
    """The recorded columns of the NEWS2 grid from one patient's scored sets (clinical.sets.scored_sets
    with detail), in time order; sets without any NEWS2 parameter (a lone GCS) are not columns."""
    columns = []
    for row in scored.sort_values("time", kind="stable").to_dict("records"):
        if all(row.get(code) is None or (isinstance(row.get(code), float) and row[code] != row[code])
               for code in NEWS2_PARAMETERS):
            continue
        cells = {}
        for code, _, _ in GRID_ROWS:
            points = row.get(f"news2_{code}")
            cells[code] = GridCell(_value_text(code, row.get(code), row.get("spo2_scale")),
                                   None if points is None or pd.isna(points) else int(points))
        news2 = row["news2"]
        columns.append(SetColumn(
            at=pd.Timestamp(row["time"]).to_pydatetime(), cells=cells,
            news2=None if pd.isna(news2) else int(news2),
            band=None if pd.isna(news2) else str(row["news2_band"]),
            missing="" if not pd.isna(news2) else str(row["news2_missing"])))
    return columns


def ward_sets(*, session: Session, patient_ids: Sequence[int], since: datetime, until: datetime) -> pd.DataFrame:
    """Every bedside set of these patients in (since, until], scored with the points per parameter."""
    obs = current_observations(session=session, patient_ids=list(patient_ids), since=since,
                               columns=OBSERVATION_COLUMNS)
    times = pd.to_datetime(obs["observed_at"], utc=True)
    bedside = obs[(obs["source"] != "lab-import") & obs["code"].isin(SCORE_CODES) & (times > pd.Timestamp(since))
                  & (times <= pd.Timestamp(until))]
    if bedside.empty:
        return pd.DataFrame(columns=["patient_id", "time"])
    return scored_sets(bedside, "patient_id", detail=True)


def _upcoming(first: dosing.NextDose, now: datetime) -> list[NextDose]:
    """The next dose and those after it due within a day of now (the schedule's slots), within the
    planned number of doses still to give."""
    remaining = None if first.planned is None else max(first.planned - first.given, 1)
    out = [NextDose(first.dose_number, first.scheduled_at)]
    if first.scheduled_at is None or not first.interval_hours:
        return out
    step = timedelta(hours=first.interval_hours)
    while len(out) < NEXT_DOSES and (remaining is None or len(out) < remaining):
        due = first.scheduled_at + len(out) * step
        if due > now + timedelta(hours=24):
            break
        out.append(NextDose(first.dose_number + len(out), due))
    return out


def _alert_lines(rows: pd.DataFrame, tz: tzinfo) -> list[AlertLine]:
    lines = []
    for a in rows.itertuples(index=False):
        if isinstance(a.last_action, str):
            note = f": {a.last_action_note}" if isinstance(a.last_action_note, str) and a.last_action_note else ""
            last = f"{a.last_action} by {a.last_action_by_name}, {local_text(a.last_action_at, tz)}{note}"
        else:
            last = "no action yet"
        context = a.context if isinstance(a.context, str) else ""
        if isinstance(getattr(a, "check_now", None), str):
            context = (context + "; " if context else "") + f"pre-dose check at print time: {a.check_now}"
        lines.append(AlertLine(severity=str(a.severity), rule=str(a.rule_id), level=str(a.level),
                               onset_at=a.onset_at.to_pydatetime(), status=str(a.status_text),
                               evidence=str(a.evidence_text or ""), context=context, last_action=last))
    return lines


def _dose_part(sheet: PatientSheet, *, session: Session, course_id: int, now: datetime, tz: tzinfo,
               forecast: dosing.Forecast | None) -> None:
    progress = dosing.course_progress(session=session, course_id=course_id)
    sheet.course = dosing.course_text(progress.course, tz)
    sheet.progress = progress.given_text()
    history = dosing.dose_history(session=session, course_id=course_id, tz=tz)
    sheet.doses = history.head(MAX_DOSE_ROWS)
    if len(history) > MAX_DOSE_ROWS:
        rest = history.iloc[MAX_DOSE_ROWS:]["Status"].value_counts()
        sheet.earlier_doses = (f"{len(history) - MAX_DOSE_ROWS} earlier dose events not listed ("
                               + ", ".join(f"{n} {status}" for status, n in rest.items())
                               + "): see the live system")
    first = dosing.next_dose(session=session, course_id=course_id, now=now)
    if first is None:
        sheet.no_next_dose = dosing.stopped_text(progress, tz) or "No further dose is scheduled."
    else:
        sheet.next_doses = _upcoming(first, now)
    if forecast is not None:
        sheet.forecast = forecast.sentence(tz)


def ward_sheet(*, session: Session, ward_ids: Sequence[int], now: datetime, tz: tzinfo,
               hours: float = 24) -> WardSheet:
    """Everything the print shows for these wards' patients, in ward then bed order (a binder's order)."""
    wards = [(w.code, w.name) for w in session.scalars(select(Ward).where(col(Ward.id).in_(list(ward_ids)))
                                                       .order_by(Ward.name)).all()]
    patients = ward_patient_list(session=session, ward_ids=list(ward_ids))
    ids = [int(p) for p in patients["patient_id"]]
    sheet = WardSheet(wards=wards, printed_at=now, tz=tz, hours=hours,
                      synthetic=holds_synthetic_data(session=session), patients=[])
    if not ids:
        return sheet
    sets = ward_sets(session=session, patient_ids=ids, since=sheet.since, until=now)
    alerts = alert_actions.inbox(session=session, patient_ids=ids, now=now, include_info=True, tz=tz)
    forecasts = dosing.forecasts(session=session, patient_ids=ids, now=now, tz=tz)
    for p in patients.itertuples(index=False):
        pid = int(p.patient_id)
        mine = alerts[alerts["patient_id"] == pid]
        patient = PatientSheet(
            patient_id=pid, ward_name=p.ward or "no ward",
            banner=patient_banner(session=session, patient_id=pid, now=now, tz=tz),
            sets=grid_columns(sets[sets["patient_id"] == pid]) if len(sets) else [],
            alerts=_alert_lines(mine[mine["severity"] != "info"], tz),
            expected_effects=int((mine["severity"] == "info").sum()))
        if not pd.isna(p.course_id):
            _dose_part(patient, session=session, course_id=int(p.course_id), now=now, tz=tz,
                       forecast=forecasts.get(pid))
        sheet.patients.append(patient)
    return sheet
