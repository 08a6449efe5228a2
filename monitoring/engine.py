"""evaluate(): observations and IL-2 doses in, one row per alert out. Pure and deterministic.

The same data give the same alerts with the same alert_key (patient + rule + onset), so alerts can be
stored and re-evaluated without losing acknowledgements. Every alert carries its evidence (values,
units and times), the standard it applies with its source, and the IL-2 dose context.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.errors import InputError
from monitoring.inputs import read_long_frame
from monitoring.rules import ENGINE_RULES
from monitoring.rules.common import ALERT_COLUMNS, SEVERITY_RANK, alert_key
from monitoring.rules.context import prepare
from monitoring.thresholds import Thresholds, default_thresholds

OUTPUT_COLUMNS = ["patient_id", "rule", "onset", "level", "severity", "evidence", "standard", "context"]
DOSE_STATUSES = ("given", "held", "stopped")


def read_doses(doses: pd.DataFrame) -> pd.DataFrame:
    """Check the doses table (patient_id, time, status[, dose_number]); InputError names row and column."""
    problems: list[tuple[int | None, str | None, str]] = []
    missing = [c for c in ("patient_id", "time", "status") if c not in doses.columns]
    if missing:
        raise InputError([(None, c, f"required column missing (found: {', '.join(map(str, doses.columns))})")
                          for c in missing])
    frame = pd.DataFrame({"patient_id": doses["patient_id"].astype("str").str.strip()})
    raw_time = doses["time"]
    times = pd.to_datetime(raw_time, utc=True, errors="coerce", format="ISO8601")
    text = raw_time.astype("str")
    naive = text.str.fullmatch(r"\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*")
    if not pd.api.types.is_datetime64_any_dtype(raw_time):
        times = times.where(~naive.fillna(False))
    status = doses["status"].astype("str").str.strip().str.lower()
    for i in np.flatnonzero(times.isna().to_numpy()):
        problems.append((i + 1, "time", f"'{raw_time.iloc[i]}' is not an ISO 8601 time with a time zone"))
    for i in np.flatnonzero((~status.isin(DOSE_STATUSES)).to_numpy()):
        problems.append((i + 1, "status", f"'{doses['status'].iloc[i]}' is not one of {', '.join(DOSE_STATUSES)}"))
    for i in np.flatnonzero((frame["patient_id"].isin(["", "nan", "<NA>"])).to_numpy()):
        problems.append((i + 1, "patient_id", "empty"))
    if problems:
        problems.sort(key=lambda p: (p[0] or 0))
        raise InputError(problems)
    frame["time"] = times
    frame["status"] = status
    if "dose_number" in doses.columns:
        frame["dose_number"] = pd.to_numeric(doses["dose_number"], errors="coerce").astype("Int64")
    return frame


def evaluate(observations: pd.DataFrame, doses: pd.DataFrame | None = None, *,
             courses: pd.DataFrame | None = None, thresholds: Thresholds | None = None,
             canonical: bool = False, detail: bool = False) -> pd.DataFrame:
    """Run every rule; return one row per alert, most severe and newest first within each patient.

    observations: the long format of `il2-monitor grade` (patient_id, time, code, value, unit, ...),
    or, with canonical=True, the store's frame (patient_id, time, code, value_num, value_code, ...,
    period_start). doses: patient_id, time, status (given, held, stopped). courses (optional):
    patient_id, baseline_weight_kg, baseline_creatinine_mg_dl, usual_sbp_mm_hg.
    Columns: patient_id, rule, onset, level, severity, evidence, standard, context; with detail=True
    also rule_version, last_seen, findings (how many moments met the rule) and alert_key.
    """
    thresholds = thresholds or default_thresholds()
    obs = observations if canonical else _canonical(observations)
    dose_frame = None if doses is None else (doses if canonical else read_doses(doses))
    # Rules run on integer patient numbers: joins on Arrow strings cost several times more.
    labels, obs, dose_frame, courses = _number_patients(obs, dose_frame, courses)
    data = prepare(obs, dose_frame, courses, validity=thresholds["validity"], schedule=thresholds["il2_schedule"],
                   now=None)
    parts = [module.evaluate(data, thresholds) for module in ENGINE_RULES]
    parts = [p for p in parts if len(p)]
    alerts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ALERT_COLUMNS)
    if len(alerts):
        alerts["patient_id"] = labels[alerts["patient_id"].to_numpy(int)]
        alerts["alert_key"] = [alert_key(p, r, o) for p, r, o in zip(alerts["patient_id"], alerts["rule"],
                                                                    alerts["onset"])]
    if len(alerts):
        alerts["_rank"] = alerts["severity"].map(SEVERITY_RANK)
        alerts = alerts.sort_values(["patient_id", "onset", "rule"], kind="stable").drop(columns="_rank") \
            .reset_index(drop=True)
        for column in ("onset", "last_seen"):
            alerts[column] = pd.to_datetime(alerts[column], utc=True)
    return alerts[ALERT_COLUMNS if detail else OUTPUT_COLUMNS]


def _number_patients(obs: pd.DataFrame, doses: pd.DataFrame | None, courses: pd.DataFrame | None):
    """Replace patient_id by its position in `labels` (int64) in every frame."""
    ids = [obs["patient_id"].astype("str")]
    if doses is not None:
        ids.append(doses["patient_id"].astype("str"))
    labels = pd.Index(pd.concat(ids, ignore_index=True).unique())
    obs = obs.assign(patient_id=labels.get_indexer(obs["patient_id"].astype("str")))
    if doses is not None:
        doses = doses.assign(patient_id=labels.get_indexer(doses["patient_id"].astype("str")))
    if courses is not None and len(courses):
        numbers = labels.get_indexer(courses["patient_id"].astype("str"))
        courses = courses.assign(patient_id=numbers)[numbers >= 0]
    return labels.to_numpy(dtype=object), obs, doses, courses


def _canonical(observations: pd.DataFrame) -> pd.DataFrame:
    """CLI/analyst long format -> canonical frame; urine volumes need `period_hours` or default to a shift."""
    frame = read_long_frame(observations)
    obs = frame[["patient_id", "time", "code", "value_num", "value_code"]].copy()
    if "period_hours" in observations.columns:
        hours = pd.to_numeric(observations["period_hours"], errors="coerce").to_numpy()
    else:
        hours = np.full(len(obs), np.nan)
    # A volume with no stated period is taken as one 8-h nursing shift (documented choice).
    hours = np.where(np.isnan(hours), 8.0, hours)
    obs["period_start"] = obs["time"] - pd.to_timedelta(hours, unit="h")
    obs.loc[~obs["code"].isin(["urine_output", "fluid_intake"]), "period_start"] = pd.NaT
    return obs
