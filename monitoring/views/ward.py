"""The ward as clinicians read it: one row per patient, display-ready.

`ward_overview` (queries) and `overview_rows` (pure) are the clinicians' overview: NEWS2 of the last
set, open alerts, today's CTCAE grades per organ system, due and overdue sets, riskiest first.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.clinical.catalogue import ORGAN_SYSTEMS
from monitoring.clinical.code_lists import SCORE_CODES
from monitoring.clinical.observation_schedule import next_set
from monitoring.clinical.rules.common import SEVERITY_RANK
from monitoring.clinical.scores import news2_response
from monitoring.clinical.sets import scored_sets
from monitoring.clinical.toxicity import daily_highest
from monitoring.clinical.vocabulary import REGIMEN_SHORT
from monitoring.store.frames import weight_baselines
from monitoring.store.models import TreatmentCourse
from monitoring.store.repository import OBSERVATION_COLUMNS, current_observations
from monitoring.timefmt import course_day, elapsed_text
from monitoring.views.alerts import open_alert_counts
from monitoring.views.dosing import forecasts
from monitoring.views.lists import ward_patient_list

SEVERITY_ORDER = ("emergency", "urgent", "warning")


def open_alert_text(counts: dict[str, int]) -> str:
    """'1 emergency, 2 urgent' from counts by severity; 'none' when there are none."""
    parts = [f"{counts[s]} {s}" for s in SEVERITY_ORDER if counts.get(s)]
    return ", ".join(parts) or "none"


# --- the ward overview (issue 6) ----------------------------------------------------------------

OVERVIEW_SYSTEMS = ORGAN_SYSTEMS  # one column per organ system, catalogue order
SYSTEM_SHORT = {"cardiovascular": "CV", "pulmonary": "Resp", "renal and fluid": "Renal", "hepatic": "Liver",
                "hematologic": "Heme", "neurological": "Neuro", "gastrointestinal": "GI", "skin": "Skin",
                "constitutional and infection": "Const", "metabolic": "Metab"}
BAND_RANK = {"low": 0, "low-medium": 1, "medium": 2, "high": 3}
LAST_SET_COLUMNS = ["patient_id", "last_set_at", "scored_at", "news2", "news2_band", "frequency_hours"]
# What the overview reads of each observation: sets (source), NEWS2 values and gradable values.
WARD_OBSERVATION_COLUMNS = ["patient_id", "code", "value_num", "value_code", "ref_low", "ref_high", "observed_at",
                            "period_start", "source"]


def last_sets(obs: pd.DataFrame) -> pd.DataFrame:
    """Per patient: when the last bedside set was recorded, and the NEWS2 of the last COMPLETE set.

    A set is the values a nurse recorded at one time (lab imports are not sets). NEWS2 is scored
    from each set's own values, so a partial set (a post-dose temperature) has none; the current
    NEWS2 is that of the latest set with all seven parameters, and the next full set is due that
    set's monitoring interval after it (RCP 2017 Chart 4). `obs` is repository.current_observations
    output. Returns LAST_SET_COLUMNS, one row per patient with any bedside value: last_set_at,
    scored_at (NaT without a complete set), news2 (Int64), news2_band, frequency_hours (NaN without).
    """
    bedside = obs[(obs["source"] != "lab-import") & obs["code"].isin(SCORE_CODES)]
    if bedside.empty:
        return pd.DataFrame(columns=LAST_SET_COLUMNS)
    scored = scored_sets(bedside, "patient_id")
    scored = scored.assign(news2_band=scored["news2_band"].astype(object))
    last_at = scored.groupby("patient_id")["time"].max()
    complete = scored[scored["news2"].notna()].sort_values("time").groupby("patient_id").tail(1).set_index("patient_id")
    out = pd.DataFrame({"patient_id": last_at.index, "last_set_at": last_at.to_numpy()})
    # reindex, not map: a ward with no complete set at all gives an empty frame (map would fail on it).
    out["scored_at"] = complete["time"].reindex(out["patient_id"]).to_numpy()
    out["news2"] = pd.array(complete["news2"].reindex(out["patient_id"]).to_numpy(), dtype="Int64")
    out["news2_band"] = complete["news2_band"].reindex(out["patient_id"]).to_numpy()
    out["frequency_hours"] = [np.nan if pd.isna(band) else news2_response(band, int(score))[1]
                              for band, score in zip(out["news2_band"], out["news2"])]
    return out[LAST_SET_COLUMNS]


def grades_text(cells: dict[str, object]) -> str:
    """'Heme 3 · Renal 2' (grades 1 and above, worst first); 'all 0' when everything graded today is
    normal; '–' when nothing was graded today (missing is never zero)."""
    graded = {system: int(g) for system, g in cells.items() if not pd.isna(g)}
    if not graded:
        return "–"
    abnormal = sorted(((g, system) for system, g in graded.items() if g > 0), key=lambda x: -x[0])
    return " · ".join(f"{system} {g}" for g, system in abnormal) or "all 0"


def ward_overview(*, session: Session, ward_ids: Sequence[int], now: datetime, tz: tzinfo,
                  running: dict | None = None) -> pd.DataFrame:
    """Every patient of these wards with what the overview shows (OVERVIEW_COLUMNS), riskiest first.
    `running`: the wards' dosing.forecasts when the caller has them already (the handover: one engine run).

    Four queries whatever the number of patients: the ward list, the observations since the
    earlier of 24 h ago and local midnight, the open alerts, the course baselines.
    """
    patients = ward_patient_list(session=session, ward_ids=list(ward_ids))
    ids = [int(p) for p in patients["patient_id"]]
    # The last complete set of the last 24 h (due_text says so) and today's grades since local midnight.
    local_midnight = pd.Timestamp(now).tz_convert(tz).normalize().tz_convert("UTC").to_pydatetime()
    since = min(local_midnight, now - timedelta(hours=24))
    obs = current_observations(session=session, patient_ids=ids, since=since, columns=WARD_OBSERVATION_COLUMNS
                               ) if ids else None
    open_alerts = open_alert_counts(session=session, patient_ids=ids)
    baselines, weights = {}, {}
    course_ids = [int(c) for c in patients["course_id"].dropna()]
    if course_ids:
        rows = session.execute(select(TreatmentCourse.id, TreatmentCourse.patient_id,
                                      TreatmentCourse.baseline_creatinine_mg_dl)
                               .where(TreatmentCourse.id.in_(course_ids))).all()
        baselines = {pid: cr for _, pid, cr in rows if cr is not None}
        # The weight-gain baseline as every rule takes it (monitoring.clinical.derived).
        patient_of = {course: pid for course, pid, _ in rows}
        known = weight_baselines(session=session, course_ids=course_ids).dropna(subset=["baseline_kg"])
        weights = {patient_of[int(c)]: float(kg) for c, kg in zip(known["course_id"], known["baseline_kg"])}
    frame = overview_rows(patients, obs, open_alerts=open_alerts, baseline_creatinine=baselines,
                          baseline_weight=weights, now=now, tz=tz)
    found = running if running is not None else forecasts(session=session, patient_ids=ids, now=now, tz=tz)
    return with_forecasts(frame, found, tz)


def with_forecasts(frame: pd.DataFrame, found: dict, tz: tzinfo) -> pd.DataFrame:
    """The overview with each patient's next-dose forecast (IL-2 running only): 'dose 6 due 14:00: HOLD' in
    `Next dose` ('–' without IL-2 running), and the whole sentence with its criteria in `forecast`
    (listed under the table)."""
    if frame.empty:
        return frame.assign(**{"Next dose": pd.Series(dtype=object)}, forecast=pd.Series(dtype=object),
                            forecast_decision=pd.Series(dtype=object))
    of = [found.get(int(p)) for p in frame["patient_id"]]
    frame = frame.copy()
    frame["Next dose"] = ["–" if f is None else f.short(tz) for f in of]
    frame["forecast"] = [None if f is None else f.sentence(tz) for f in of]
    frame["forecast_decision"] = [None if f is None else f.decision for f in of]
    return frame


OVERVIEW_COLUMNS = ["patient_id", "Bed", "Patient", "Course", "Last dose", "NEWS2",
                    "band", "Open alerts", "Last set", "Next set", "overdue", "risk",
                    *[SYSTEM_SHORT[s] for s in OVERVIEW_SYSTEMS], "CTCAE today", "worst_grade", "grade_detail"]


def overview_rows(patients: pd.DataFrame, obs: pd.DataFrame | None, *, open_alerts: dict[int, dict[str, int]],
                  baseline_creatinine: dict[int, float], now: datetime, tz: tzinfo,
                  baseline_weight: dict[int, float] | None = None) -> pd.DataFrame:
    """The overview table from its inputs (pure): one row per patient, riskiest first.

    Risk order: the most severe open alert (emergency > urgent > warning), then the NEWS2 band and
    score of the last complete set, then an overdue set, then the bed. Grades are the highest CTCAE v5.0
    grade per organ system since local midnight (monitoring.clinical.toxicity); empty = nothing graded today
    (never 0). A set is overdue when the last set's NEWS2 interval (RCP Chart 4) has elapsed, or
    when there is no set at all, or the last set has no NEWS2 and is older than the low band's
    shorter interval (NEWS2 1-4). NEWS2 is that of the last complete set (last_sets); "Last set"
    gives the age of the complete set too when a partial set came after it.
    """
    if patients.empty:
        return pd.DataFrame(columns=OVERVIEW_COLUMNS)
    obs = obs if obs is not None else pd.DataFrame(columns=OBSERVATION_COLUMNS)
    sets = last_sets(obs).set_index("patient_id")
    today = pd.Timestamp(now).tz_convert(tz).date()
    # Only today's values are graded (the 24 h of sets above reach into yesterday): half the work.
    midnight = pd.Timestamp(now).tz_convert(tz).normalize()
    todays = obs[pd.to_datetime(obs["observed_at"], utc=True) >= midnight] if len(obs) else obs
    grades = daily_highest(todays, tz=tz, baseline_creatinine=baseline_creatinine,
                           baseline_weight=baseline_weight) if len(todays) else None
    if grades is not None and len(grades):
        grades = grades[grades["day"] == today]
    set_of = {int(pid): row for pid, row in zip(sets.index, sets.itertuples(index=False))}
    grades_of: dict[int, list] = {}
    if grades is not None:
        for g in grades.itertuples(index=False):
            grades_of.setdefault(int(g.patient_id), []).append(g)
    rows = []
    for p in patients.itertuples(index=False):
        pid = int(p.patient_id)
        has_course = isinstance(p.regimen, str)
        s = set_of.get(pid)
        last_at = None if s is None else s.last_set_at
        scored_at = None if s is None or pd.isna(s.scored_at) else s.scored_at
        news2 = None if scored_at is None else int(s.news2)
        band = None if scored_at is None else str(s.news2_band)
        hours = None if scored_at is None else float(s.frequency_hours)
        # The stricter of the NEWS2 interval and the IL-2 regimen's (monitoring.clinical.observation_schedule).
        schedule = next_set(last_set_at=last_at, scored_at=scored_at, news2=news2, news2_hours=hours,
                            regimen=p.regimen if has_course else None,
                            last_dose_status=p.last_dose_status if isinstance(p.last_dose_status, str) else None,
                            last_dose_at=None if pd.isna(p.last_dose_at) else p.last_dose_at, now=now, tz=tz)
        due = schedule.at
        overdue = last_at is None or (due is not None and due <= now)
        alerts = open_alerts.get(pid, {})
        worst = max((SEVERITY_RANK[s_] for s_, n in alerts.items() if n and s_ in SEVERITY_RANK), default=-1)
        cells = {SYSTEM_SHORT[system]: pd.NA for system in OVERVIEW_SYSTEMS}
        detail = []
        for g in grades_of.get(pid, []):
            cells[SYSTEM_SHORT[g.organ_system]] = int(g.grade)
            detail.append(f"{SYSTEM_SHORT[g.organ_system]}: {g.detail}")
        planned = "?" if pd.isna(p.planned_doses) else int(p.planned_doses)
        rows.append({
            "patient_id": pid, "Bed": p.bed if isinstance(p.bed, str) and p.bed else "no bed",
            "Patient": f"{p.name} (synthetic)" if p.is_synthetic else p.name,
            "Course": (" · ".join([REGIMEN_SHORT.get(p.regimen, p.regimen),
                                   *([] if pd.isna(p.cycle)
                                     else [f"C{int(p.cycle)} D{course_day(p.course_start, now)}"]),
                                   f"{int(p.doses_given)}/{planned}"]) if has_course else "no course"),
            "Last dose": (f"{p.last_dose_status} {elapsed_text(now - p.last_dose_at)}"
                          if isinstance(p.last_dose_status, str) else "none"),
            "NEWS2": ("–" if news2 is None else f"{news2}" + (" (3 in one)" if band == "low-medium" else "")),
            "band": band,
            "Open alerts": open_alert_text(alerts),
            "Last set": ("none recorded" if last_at is None else f"{elapsed_text(now - last_at)}" + (
                "" if scored_at == last_at else " (none complete)" if scored_at is None else
                f" (full {elapsed_text(now - scored_at)})")),
            "Next set": ("due now: no set recorded" if last_at is None else
                    "continuous monitoring" if due is None else
                    (f"overdue {elapsed_text(now - due)}" if due <= now else f"in {elapsed_text(due - now)}")
                    + f" ({schedule.short_reason})"),
            "overdue": bool(overdue),
            "risk": (worst, BAND_RANK.get(band, -1), -1 if news2 is None else news2, bool(overdue)),
            **cells, "CTCAE today": grades_text(cells), "worst_grade": max(
                (g for g in cells.values() if not pd.isna(g)), default=pd.NA),
            "grade_detail": "\n".join(detail),
        })
    frame = pd.DataFrame(rows)
    order = sorted(range(len(frame)), key=lambda i: (tuple(-x for x in frame["risk"].iat[i][:3]),
                                                     not frame["risk"].iat[i][3], str(frame["Bed"].iat[i])))
    frame = frame.iloc[order].reset_index(drop=True)
    for short in (SYSTEM_SHORT[s] for s in OVERVIEW_SYSTEMS):
        frame[short] = frame[short].astype("Int64")
    return frame[OVERVIEW_COLUMNS]
