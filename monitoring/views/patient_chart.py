"""The patient chart's data: one patient, one period, every frame the chart page draws.

`chart_data` reads the store once per kind of record (observations of the period, doses, alerts,
the patient's courses) for one patient only, and derives the rest with the engine's own functions:
NEWS2 per observation set (monitoring.clinical.scores), fluid shifts (monitoring.clinical.fluids), daily CTCAE grades
(monitoring.clinical.toxicity.daily_highest), the SBP target (the capillary-leak rule's table). Every
clinical number comes from data/thresholds.toml through those modules; none is written here.

Periods (PERIODS):
* "24h": the last 24 hours;
* "cycle": this cycle. Each TreatmentCourse row is one cycle (its `cycle` number and `start_at`),
  the patient's latest row being the current one. If doses of that row are separated by a gap of
  more than CYCLE_GAP (a second cycle recorded on the same course row), the cycle starts at the
  first dose after the last such gap. The view opens BASELINE_LEAD before the cycle's start so the
  pre-treatment set, labs and weight are on the chart; it is never shorter than 24 h;
* "course": the whole course: from BASELINE_LEAD before the start of cycle 1 (the earliest of the
  consecutive cycle rows ending at the current one) or from the admission, whichever is earlier.
All periods end now. All times in the returned frames are timezone-aware UTC.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from monitoring.clinical.catalogue import Catalogue, default_catalogue
from monitoring.clinical.code_lists import LABS, SCORE_CODES, VITAL_SIGNS
from monitoring.clinical.ctcae import CtcaeThresholds
from monitoring.clinical.derived import NO_BASELINE, weight_gain_percent
from monitoring.clinical.fluids import shift_starts
from monitoring.clinical.rules.capillary_leak import target_sbp
from monitoring.clinical.rules.evidence import local_words
from monitoring.clinical.scores import NEWS2_PARAMETERS
from monitoring.clinical.sets import scored_sets
from monitoring.clinical.thresholds import Thresholds, default_thresholds
from monitoring.clinical.toxicity import GRADE_COLUMNS, daily_highest
from monitoring.config import load_settings
from monitoring.store.frames import weight_baselines
from monitoring.store.models import Patient, TreatmentCourse
from monitoring.store.repository import current_doses, current_observations
from monitoring.views.alerts import list_alerts

PERIODS: dict[str, str] = {"24h": "Last 24 h", "cycle": "This cycle", "course": "Whole course"}
# Display choices, not clinical numbers: the baseline before the first dose belongs on the chart,
# and a pause of more than 3 days between doses separates two cycles (HD IL-2 rests 9-14 days).
BASELINE_LEAD = timedelta(hours=24)
CYCLE_GAP = timedelta(days=3)
SHIFT_HOURS = 8  # monitoring.clinical.fluids.SHIFT_STARTS are 8 h apart

# The vital signs the chart draws: the entry form's round and MAP (monitoring.clinical.code_lists).
VITAL_CODES = (*VITAL_SIGNS, "map")
# The volumes of the category "fluid" (weight has its own panel), intake first as the balance reads
# (tests/clinical/test_code_lists.py checks it against the catalogue).
FLUID_CODES = ("fluid_intake", "urine_output")
# The labs IL-2 toxicity turns on first (always drawn when recorded), then the others in the entry
# form's order.
KEY_LAB_CODES = ("anc", "platelets", "creatinine", "bilirubin", "albumin")
LAB_CODES = (*KEY_LAB_CODES, *(c for c in LABS if c not in KEY_LAB_CODES))
_CODED = ("on_oxygen", "spo2_scale", "consciousness")
_SUBSCORE_NAMES = {"resp_rate": "RR", "spo2": "SpO₂", "on_oxygen": "O₂", "sbp": "SBP", "heart_rate": "HR",
                   "consciousness": "ACVPU", "temperature": "T"}

VITAL_COLUMNS = ["time", "code", "value_num", "value_code"]
NEWS2_COLUMNS = ["time", "news2", "band", "any3", "missing", "subscores"]
DOSE_COLUMNS = ["time", "status", "dose_number", "reason"]
ALERT_COLUMNS = ["onset_at", "rule_id", "level", "severity", "status", "evidence_text", "standard", "context"]
FLUID_COLUMNS = ["shift_start", "shift_end", "intake_ml", "urine_ml", "balance_ml"]
WEIGHT_COLUMNS = ["time", "weight_kg", "gain_kg", "gain_percent"]
LAB_COLUMNS = ["time", "code", "value_num", "ref_low", "ref_high"]
LAB_RANGE_COLUMNS = ["code", "ref_low", "ref_high", "source"]
_TIME_COLUMNS = {"time", "onset_at", "shift_start", "shift_end"}
# What the chart reads of each observation (a whole course is thousands of rows: no more than needed).
CHART_OBSERVATION_COLUMNS = ["patient_id", "set_id", "code", "value_num", "value_code", "ref_low", "ref_high",
                             "observed_at", "period_start"]


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[us, UTC]" if c in _TIME_COLUMNS else object)
                         for c in columns})


# --- reference lines read from the thresholds ------------------------------------------------------

def fever_lines(thresholds: Thresholds | None = None) -> tuple[tuple[float, str], ...]:
    """The febrile-neutropenia fever criteria (value °C, label): sustained, then single reading."""
    d = (thresholds or default_thresholds())["febrile_neutropenia"].definition
    hours = d.sustained.total_seconds() / 3600
    sustained = f"{'>' if d.sustained_strictly_longer else '≥'} {hours:g} h"
    return ((d.sustained_c, f"{d.sustained_c:.1f} °C: fever if sustained {sustained} ({d.label})"),
            (d.single_c, f"{d.single_c:.1f} °C: fever on one reading ({d.label})"))


def news2_bands(thresholds: Thresholds | None = None) -> tuple[tuple[str, int, int | None], ...]:
    """NEWS2 aggregate bands (RCP Chart 2) as (band, lowest score, highest score or None)."""
    t = (thresholds or default_thresholds())["news2"]
    bounds = [int(b) for b in t.aggregate_upper_bounds]
    lows = [0] + [b + 1 for b in bounds]
    return tuple((band, low, high) for band, low, high in zip(t.aggregate_bands, lows, [*bounds, None]))


def weight_gain_lines(thresholds: Thresholds | None = None) -> tuple[tuple[float, str], ...]:
    """The capillary-leak weight-gain levels (% from baseline, label)."""
    s = (thresholds or default_thresholds())["capillary_leak"]
    return ((s.warning_percent, f"+{s.warning_percent:g}%: capillary leak warning"),
            (s.relative_percent, f"+{s.relative_percent:g}%: capillary leak (Dutcher)"))


def sbp_target(usual_sbp: float | None, thresholds: Thresholds | None = None) -> float | None:
    """The patient's target SBP from the usual SBP, by the capillary-leak rule's table; None if unknown."""
    if usual_sbp is None or pd.isna(usual_sbp):
        return None
    target = target_sbp(np.array([float(usual_sbp)]), (thresholds or default_thresholds())["capillary_leak"])[0]
    return None if np.isnan(target) else float(target)


# --- CTCAE bands of a lab --------------------------------------------------------------------------

def _ctcae_table(thresholds: Any) -> CtcaeThresholds:
    if isinstance(thresholds, CtcaeThresholds):
        return thresholds
    return (thresholds or default_thresholds())["ctcae"]


def _known(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def ctcae_bands(code: str, *, ref_low: float | None, ref_high: float | None, thresholds: Any = None,
                catalogue: Catalogue | None = None) -> list[tuple[int, float, float]]:
    """CTCAE v5.0 grade bands of a lab in its canonical unit: [(grade, low, high)], by grade.

    Absolute cut-offs come from the term's thresholds in the canonical unit; grade 1 "<LLN" /
    ">ULN" and multiples of ULN need the reference range given (ref_low / ref_high, canonical unit;
    None = not known). The outermost band ends at the catalogue's plausible limit. Bands of two
    terms of one code (hypo- and hyperkalemia) are both listed. The baseline arm (creatinine x
    baseline) is left out: it depends on the patient, not on the value's scale. Empty when the
    code has no numeric CTCAE term, or its term cannot be placed without the missing limit.
    """
    table = _ctcae_table(thresholds)
    catalogue = catalogue or default_catalogue()
    if code not in catalogue or code not in table.by_code:
        return []
    entry = catalogue[code]
    floor, ceiling = entry.plausible or (0.0, math.inf)
    lln, uln = _known(ref_low), _known(ref_high)
    bands: list[tuple[int, float, float]] = []
    for term in table.by_code[code]:
        if term.relative:
            if uln is None:
                continue
            # Rounded like the grader's comparisons: 1.5 x 1.2 is 1.8, not 1.7999999999999998.
            edges = [round(k * uln, 9) for k in term.uln_multiples.bounds] + [ceiling]
            bands += [(g, lo, hi) for g, lo, hi in zip(term.uln_multiples.grades, edges, edges[1:])]
            if term.grade1_limit and uln < edges[0]:
                bands.append((1, uln, edges[0]))
            continue
        arm = term.thresholds.get(entry.unit)
        if arm is None:
            continue
        bounds = list(arm.bounds)
        if term.direction == "low":
            edges = bounds + [floor]
            bands += [(g, lo, hi) for g, hi, lo in zip(arm.grades, edges, edges[1:])]
            if term.grade1_limit and lln is not None and lln > bounds[0]:
                bands.append((1, bounds[0], lln))
        else:
            edges = bounds + [ceiling]
            bands += [(g, lo, hi) for g, lo, hi in zip(arm.grades, edges, edges[1:])]
            if term.grade1_limit and uln is not None and uln < bounds[0]:
                bands.append((1, uln, bounds[0]))
    return sorted(bands, key=lambda b: (b[0], b[1]))


def reference_range(code: str, ref_low: float | None, ref_high: float | None, *, thresholds: Any = None,
                    catalogue: Catalogue | None = None) -> tuple[float | None, float | None, str]:
    """The lab's range, each missing limit filled from [ctcae.default_reference_ranges] as the grader
    does (never against the lab's other limit). Returns (low, high, source)."""
    low, high = _known(ref_low), _known(ref_high)
    default = _ctcae_table(thresholds).default_ranges.get(code)
    filled = False
    if default is not None and (low is None or high is None):
        conversion = (catalogue or default_catalogue())[code].conversion(default.unit)
        d_low, d_high = conversion.to_canonical(default.low), conversion.to_canonical(default.high)
        if low is None and (high is None or d_low < high):
            low, filled = d_low, True
        if high is None and (low is None or d_high > low):
            high, filled = d_high, True
    given = ref_low is not None and not pd.isna(ref_low) or ref_high is not None and not pd.isna(ref_high)
    if low is None and high is None:
        return None, None, "none"
    source = ("laboratory and local default" if given else "local default") if filled else "laboratory"
    return low, high, source


# --- periods ---------------------------------------------------------------------------------------

def period_bounds(period: str, *, now: datetime, cycle_start: datetime | None = None,
                  course_start: datetime | None = None, admitted_at: datetime | None = None
                  ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(start, end) of a period in UTC; see the module docstring. Unknown starts fall back to 24 h."""
    if period not in PERIODS:
        raise ValueError(f"Unknown period '{period}'; known: {', '.join(PERIODS)}.")
    end = pd.Timestamp(now).tz_convert("UTC")
    day = end - pd.Timedelta(hours=24)
    starts: list[pd.Timestamp] = [day]
    if period == "cycle" and _known_time(cycle_start):
        starts.append(pd.Timestamp(cycle_start).tz_convert("UTC") - BASELINE_LEAD)
    if period == "course":
        if _known_time(course_start):
            starts.append(pd.Timestamp(course_start).tz_convert("UTC") - BASELINE_LEAD)
        if _known_time(admitted_at):
            starts.append(pd.Timestamp(admitted_at).tz_convert("UTC"))
    return min(starts), end


def _known_time(moment: Any) -> bool:
    return moment is not None and not pd.isna(moment)


def cycle_start(course: TreatmentCourse | None, doses: pd.DataFrame) -> pd.Timestamp | None:
    """Start of the current cycle: the course row's start, or the first dose after the last gap of
    more than CYCLE_GAP between its doses when that is later."""
    if course is None:
        return None
    start = pd.Timestamp(course.start_at).tz_convert("UTC")
    mine = doses[doses["course_id"] == course.id]
    times = mine["given_at"].fillna(mine["scheduled_at"]).sort_values().reset_index(drop=True)
    gaps = np.flatnonzero((times.diff() > CYCLE_GAP).to_numpy())
    if len(gaps):
        start = max(start, times.iloc[gaps[-1]])
    return start


def course_start(courses: Sequence[TreatmentCourse]) -> pd.Timestamp | None:
    """Start of cycle 1 of the current course: walk back over the cycle rows while the cycle number
    falls (the rows of one course), from the latest row."""
    if not courses:
        return None
    ordered = sorted(courses, key=lambda c: c.id)
    first = ordered[-1]
    for earlier in reversed(ordered[:-1]):
        if earlier.cycle >= first.cycle:
            break
        first = earlier
    return pd.Timestamp(first.start_at).tz_convert("UTC")


# --- the chart's data ------------------------------------------------------------------------------

@dataclass
class ChartData:
    """Everything the chart page draws for one patient and period (times UTC, tz-aware)."""

    start: pd.Timestamp
    end: pd.Timestamp
    period: str = "24h"
    patient_id: int | None = None
    vitals: pd.DataFrame = field(default_factory=lambda: _empty(VITAL_COLUMNS))
    news2: pd.DataFrame = field(default_factory=lambda: _empty(NEWS2_COLUMNS))
    doses: pd.DataFrame = field(default_factory=lambda: _empty(DOSE_COLUMNS))
    alerts: pd.DataFrame = field(default_factory=lambda: _empty(ALERT_COLUMNS))
    fluids: pd.DataFrame = field(default_factory=lambda: _empty(FLUID_COLUMNS))
    weights: pd.DataFrame = field(default_factory=lambda: _empty(WEIGHT_COLUMNS))
    labs: pd.DataFrame = field(default_factory=lambda: _empty(LAB_COLUMNS))
    lab_ranges: pd.DataFrame = field(default_factory=lambda: _empty(LAB_RANGE_COLUMNS))
    lab_bands: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)
    grades: pd.DataFrame = field(default_factory=lambda: _empty(GRADE_COLUMNS))
    usual_sbp: float | None = None
    sbp_target: float | None = None
    baseline_weight_kg: float | None = None
    baseline_weight_source: str = "none"
    fever_lines: tuple[tuple[float, str], ...] = field(default_factory=fever_lines)
    news2_bands: tuple[tuple[str, int, int | None], ...] = field(default_factory=news2_bands)
    weight_gain_lines: tuple[tuple[float, str], ...] = field(default_factory=weight_gain_lines)
    # Display values derived once and shared by the chart builders (the dose and alert strip every
    # chart opens with); never compared, never part of the data.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)


def lab_panels(data: ChartData) -> tuple[list[str], list[str]]:
    """(drawn at once, drawn on request): the key IL-2 labs and every other lab with a value outside
    its reference range in the period are drawn at once, so no abnormal result waits behind a click;
    the others, all within range, are drawn on request (fewer panels: the page shows faster)."""
    present = set(data.labs["code"])
    ordered = [c for c in LAB_CODES if c in present] + sorted(present - set(LAB_CODES))
    ranges = data.lab_ranges.set_index("code") if len(data.lab_ranges) else None
    outside: set[str] = set()
    for code, values in data.labs.groupby("code")["value_num"]:
        if ranges is None or code not in ranges.index:
            outside.add(code)  # no range to judge by: drawn at once
            continue
        low, high = ranges.at[code, "ref_low"], ranges.at[code, "ref_high"]
        if (not pd.isna(low) and (values < low).any()) or (not pd.isna(high) and (values > high).any()):
            outside.add(code)
    first = [c for c in ordered if c in KEY_LAB_CODES or c in outside]
    return first, [c for c in ordered if c not in first]


def news2_per_set(obs: pd.DataFrame) -> pd.DataFrame:
    """NEWS2 of each observation set holding at least one NEWS2 parameter, from that set's own
    values (as the nurse saw it on saving; missing stays missing: monitoring.clinical.sets).
    NEWS2_COLUMNS, time order."""
    rows = obs[obs["code"].isin(SCORE_CODES)]
    rows = rows[rows["set_id"].isin(rows.loc[rows["code"].isin(NEWS2_PARAMETERS), "set_id"].unique())]
    if rows.empty:
        return _empty(NEWS2_COLUMNS)
    scored = scored_sets(rows, "set_id", detail=True)
    subscores = [" · ".join(f"{short} {'–' if v is pd.NA else v}" for short, v in zip(_SUBSCORE_NAMES.values(), row))
                 for row in zip(*(scored[f"news2_{name}"] for name in _SUBSCORE_NAMES))]
    out = pd.DataFrame({"time": scored["time"].to_numpy(), "news2": scored["news2"].array,
                        "band": scored["news2_band"].astype(object).to_numpy(), "any3": scored["news2_any3"].array,
                        "missing": scored["news2_missing"].astype(str).to_numpy(),
                        "subscores": np.array(subscores, dtype=object)})
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def fluid_shifts(obs: pd.DataFrame, *, tz: tzinfo) -> pd.DataFrame:
    """Intake, urine output and balance (mL) per nursing shift (monitoring.clinical.fluids shifts). A volume
    belongs to the shift in which its period ended; a shift without a volume keeps it missing."""
    fluids = obs[obs["code"].isin(FLUID_CODES) & obs["value_num"].notna()]
    if fluids.empty:
        return _empty(FLUID_COLUMNS)
    fluids = fluids.assign(shift=shift_starts(fluids["observed_at"], tz).dt.tz_convert("UTC"))
    table = fluids.pivot_table(index="shift", columns="code", values="value_num", aggfunc="sum")
    table = table.reindex(columns=list(FLUID_CODES))
    out = pd.DataFrame({"shift_start": table.index, "shift_end": table.index + pd.Timedelta(hours=SHIFT_HOURS),
                        "intake_ml": table["fluid_intake"].to_numpy(), "urine_ml": table["urine_output"].to_numpy()})
    out["balance_ml"] = out["intake_ml"] - out["urine_ml"]
    return out.reset_index(drop=True)


def weight_gain(weights: pd.DataFrame, baseline_kg: float | None) -> pd.DataFrame:
    """Weight with the change from baseline (kg and %); WEIGHT_COLUMNS."""
    if weights.empty or baseline_kg is None:
        return _empty(WEIGHT_COLUMNS) if weights.empty else pd.DataFrame({
            "time": weights["observed_at"].to_numpy(), "weight_kg": weights["value_num"].to_numpy(),
            "gain_kg": np.nan, "gain_percent": np.nan})
    kg = weights["value_num"].to_numpy(dtype=float)
    return pd.DataFrame({"time": weights["observed_at"].to_numpy(), "weight_kg": kg, "gain_kg": kg - baseline_kg,
                         "gain_percent": weight_gain_percent(kg, baseline_kg)})


def _lab_ranges(labs: pd.DataFrame, thresholds: Any, catalogue: Catalogue) -> pd.DataFrame:
    """Per lab, the latest reference range given with a result in the period (filled as the grader does)."""
    if labs.empty:
        return _empty(LAB_RANGE_COLUMNS)
    latest = labs.groupby("code", sort=False)[["ref_low", "ref_high"]].last()  # last non-missing of each
    rows = [(code, *reference_range(code, r.ref_low, r.ref_high, thresholds=thresholds, catalogue=catalogue))
            for code, r in zip(latest.index, latest.itertuples())]
    return pd.DataFrame(rows, columns=LAB_RANGE_COLUMNS)


def chart_data(*, session: Session, patient_id: int, period: str, now: datetime, tz: tzinfo | None = None,
               thresholds: Thresholds | None = None) -> ChartData:
    """The chart's frames for one patient over one period (PERIODS), all times UTC.

    `tz` is the ward's display zone (default: the IL2_TIMEZONE setting); it decides the shifts and
    the local days of the CTCAE grid. Raises ValueError for an unknown patient or period.
    """
    if period not in PERIODS:
        raise ValueError(f"Unknown period '{period}'; known: {', '.join(PERIODS)}.")
    tz = tz or load_settings().timezone
    thresholds = thresholds or default_thresholds()
    catalogue = default_catalogue()
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise ValueError(f"Patient {patient_id} does not exist.")
    courses = list(session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient_id)
                                   .order_by(TreatmentCourse.id)).all())
    course = courses[-1] if courses else None
    all_doses = current_doses(session=session, patient_ids=[patient_id])
    start, end = period_bounds(period, now=now, cycle_start=cycle_start(course, all_doses),
                               course_start=course_start(courses), admitted_at=patient.admitted_at)

    obs = current_observations(session=session, patient_ids=[patient_id], since=start.to_pydatetime(),
                               columns=CHART_OBSERVATION_COLUMNS)
    obs = obs[obs["observed_at"] <= end]
    dose_time = all_doses["given_at"].fillna(all_doses["scheduled_at"])
    in_period = (dose_time >= start) & (dose_time <= end)
    doses = pd.DataFrame({"time": dose_time[in_period], "status": all_doses.loc[in_period, "status"],
                          "dose_number": all_doses.loc[in_period, "dose_number"],
                          "reason": all_doses.loc[in_period, "reason"]}).sort_values("time", kind="stable")
    alerts = list_alerts(session=session, patient_ids=[patient_id])
    alerts = alerts[(alerts["onset_at"] >= start) & (alerts["onset_at"] <= end) & (alerts["status"] != "retracted")]
    # The evidence in the ward's time, rendered from the alert's items (monitoring.clinical.rules.evidence).
    alerts = alerts.assign(evidence_text=[local_words(items, text, tz)
                                          for items, text in zip(alerts["evidence"], alerts["evidence_text"])])

    vitals = obs[obs["code"].isin(VITAL_CODES)].rename(columns={"observed_at": "time"})[VITAL_COLUMNS]
    labs = obs[obs["code"].isin(LAB_CODES) & obs["value_num"].notna()].rename(columns={"observed_at": "time"})
    labs = labs[LAB_COLUMNS]
    ranges = _lab_ranges(labs, thresholds, catalogue)
    bands = {r.code: ctcae_bands(r.code, ref_low=r.ref_low, ref_high=r.ref_high, thresholds=thresholds,
                                 catalogue=catalogue) for r in ranges.itertuples()}

    baseline_kg, source = None, NO_BASELINE
    if course:   # as the rules take it (monitoring.clinical.derived)
        found = weight_baselines(session=session, course_ids=[course.id]).iloc[0]
        baseline_kg, source = _known(found["baseline_kg"]), str(found["source"])
    weights = obs[(obs["code"] == "weight") & obs["value_num"].notna()]

    creatinine = _known(course.baseline_creatinine_mg_dl) if course else None
    grades = daily_highest(obs, tz=tz, catalogue=catalogue,
                           baseline_creatinine=None if creatinine is None else {patient_id: creatinine},
                           baseline_weight=None if baseline_kg is None else {patient_id: baseline_kg})
    usual = _known(course.usual_sbp_mm_hg) if course else None
    return ChartData(
        start=start, end=end, period=period, patient_id=patient_id,
        vitals=vitals.reset_index(drop=True), news2=news2_per_set(obs), doses=doses.reset_index(drop=True),
        alerts=alerts[ALERT_COLUMNS].sort_values("onset_at", kind="stable").reset_index(drop=True),
        fluids=fluid_shifts(obs, tz=tz), weights=weight_gain(weights, baseline_kg),
        labs=labs.reset_index(drop=True), lab_ranges=ranges, lab_bands=bands, grades=grades,
        usual_sbp=usual, sbp_target=sbp_target(usual, thresholds), baseline_weight_kg=baseline_kg,
        baseline_weight_source=source, fever_lines=fever_lines(thresholds), news2_bands=news2_bands(thresholds),
        weight_gain_lines=weight_gain_lines(thresholds))
