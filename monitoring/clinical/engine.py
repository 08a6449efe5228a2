"""evaluate(): observations and IL-2 doses in, one row per alert out. Pure and deterministic.

The same data give the same alerts with the same alert_key (patient + rule + onset), so alerts can be
stored and re-evaluated without losing acknowledgements. Every alert carries its evidence (values,
units and times), the standard it applies with its source, and the IL-2 dose context.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager

import numpy as np
import pandas as pd

from monitoring.clinical.inputs import entry_limits, read_long_frame
from monitoring.clinical.rules import ENGINE_RULES
from monitoring.clinical.rules.common import ALERT_COLUMNS, alert_keys
from monitoring.clinical.rules.context import COURSE_COLUMNS, prepare
from monitoring.clinical.thresholds import Thresholds, default_thresholds
from monitoring.errors import InputError

OUTPUT_COLUMNS = ["patient_id", "rule", "onset", "level", "severity", "evidence", "standard", "context",
                  "evidence_items"]
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
    if "dose_number" in doses.columns:
        entered = doses["dose_number"].astype("str").str.strip().where(doses["dose_number"].notna(), "")
        numbers = pd.to_numeric(entered.where(entered != "", None), errors="coerce").to_numpy(dtype=float)
        highest = entry_limits().max_dose_number
        whole = (np.isfinite(numbers) & (numbers >= 1) & (numbers <= highest)
                 & (numbers == np.floor(numbers)))
        for i in np.flatnonzero((entered != "").to_numpy() & ~whole):
            problems.append((i + 1, "dose_number", f"'{entered.iloc[i]}' is not a dose number: a whole number from 1 "
                                                   f"to {highest}"))
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
    """Run every rule; return one row per alert, ordered by patient, onset and rule.

    observations: the long format of `il2-monitor grade` (patient_id, time, code, value, unit, ...),
    or, with canonical=True, the store's frame (patient_id, time, code, value_num, value_code, ...,
    period_start). doses: patient_id, time, status (given, held, stopped). courses (optional):
    patient_id, baseline_weight_kg, baseline_creatinine_mg_dl, usual_sbp_mm_hg.
    Columns: patient_id, rule, onset, level, severity, evidence (words), standard, context and
    evidence_items (the evidence as structured items, monitoring.clinical.rules.evidence); with detail=True
    also rule_version, last_seen, findings (how many moments met the rule) and alert_key.
    Two different values for one patient, code and time raise InputError naming both.

    Patients are independent: evaluating one patient's rows gives exactly that patient's rows of
    the whole ward's evaluation (tests/clinical/test_engine_perf_equivalence.py checks it).
    """
    with _without_cyclic_gc():
        return _evaluate(observations, doses, courses, thresholds, canonical, detail)


@contextmanager
def _without_cyclic_gc():
    """The cyclic garbage collector paused while the engine runs: the evidence is built as many small
    dicts (no reference cycles, freed by reference counting), and each generation-2 collection walks
    every live object, which took 40 % of a hospital-wide evaluation. Restored afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _evaluate(observations, doses, courses, thresholds, canonical: bool, detail: bool) -> pd.DataFrame:
    thresholds = thresholds or default_thresholds()
    obs = observations if canonical else _canonical(observations)
    dose_frame = None if doses is None else (doses if canonical else read_doses(doses))
    # Rules run on integer patient numbers: joins on Arrow strings cost several times more.
    labels, obs_numbers, dose_arrays, course_arrays = _number_patients(obs, dose_frame, courses)
    parts, unit = _run_rules(obs, obs_numbers, dose_arrays, course_arrays, len(labels), thresholds)
    if not parts:
        return pd.DataFrame(columns=ALERT_COLUMNS)[ALERT_COLUMNS if detail else OUTPUT_COLUMNS]
    return _alert_frame(parts, labels, unit)[ALERT_COLUMNS if detail else OUTPUT_COLUMNS]


def _run_rules(obs: pd.DataFrame, obs_numbers: np.ndarray, doses: dict | None, courses: dict | None,
               n_patients: int, thresholds: Thresholds) -> tuple[list[dict], str]:
    """Every rule's alerts (arrays, patient numbers) and the time unit. Patients are independent, so
    when too many patients over too long a time do not fit one (patient, time) key, the patients are
    evaluated in two halves (recursively) with the same result."""
    try:
        data = prepare(obs, doses, courses, thresholds=thresholds, n_patients=n_patients, obs_pid=obs_numbers)
    except OverflowError:
        if n_patients <= 1:
            raise
        parts, unit = [], None
        half = n_patients // 2
        for low, high in ((0, half), (half, n_patients)):
            def pick(arrays: dict | None) -> dict | None:
                if arrays is None:
                    return None
                rows = (arrays["patient_id"] >= low) & (arrays["patient_id"] < high)
                picked = {k: v[rows] for k, v in arrays.items()}
                picked["patient_id"] = picked["patient_id"] - low
                return picked
            rows = (obs_numbers >= low) & (obs_numbers < high)
            got, unit = _run_rules(obs[rows], obs_numbers[rows] - low, pick(doses), pick(courses), high - low,
                                   thresholds)
            for part in got:
                part["patient_id"] = part["patient_id"] + low
            parts += got
        return parts, unit
    parts = []
    for module in ENGINE_RULES:
        got = module.evaluate(data, thresholds)
        parts.extend(got if isinstance(got, list) else [got])
    return [p for p in parts if p is not None], data.unit


def _alert_frame(parts: list[dict], labels: np.ndarray, unit: str) -> pd.DataFrame:
    """The rules' alert arrays -> one frame sorted by patient, onset and rule."""
    sizes = [len(p["patient_id"]) for p in parts]
    pid = np.concatenate([p["patient_id"] for p in parts])
    onset = np.concatenate([p["onset"] for p in parts])
    rule = np.concatenate([np.full(n, p["rule"], dtype=object) for p, n in zip(parts, sizes)])
    # Patient labels and rule ids in text order (code point order, as pandas sorts str columns).
    label_rank = np.empty(len(labels), dtype=np.int64)
    label_rank[sorted(range(len(labels)), key=labels.__getitem__)] = np.arange(len(labels))
    rule_ids = sorted({p["rule"] for p in parts})
    rule_rank = np.concatenate([np.full(n, rule_ids.index(p["rule"])) for p, n in zip(parts, sizes)])
    order = np.lexsort((rule_rank, onset, label_rank[pid]))

    def column(name: str) -> np.ndarray:
        values = np.concatenate([np.asarray(p[name], dtype=object) if not isinstance(p[name], str)
                                 else np.full(n, p[name], dtype=object) for p, n in zip(parts, sizes)])
        return values[order]

    patients = labels[pid[order]]
    onset = onset[order]
    frame = pd.DataFrame({
        "patient_id": patients, "rule": rule[order],
        "onset": pd.to_datetime(onset.view(f"M8[{unit}]"), utc=True),
        "level": column("level"), "severity": column("severity"), "evidence": column("evidence"),
        "standard": column("standard"), "context": column("context"),
        "evidence_items": _items_column(parts, order), "rule_version": column("rule_version"),
        "last_seen": pd.to_datetime(np.concatenate([p["last_seen"] for p in parts])[order].view(f"M8[{unit}]"),
                                    utc=True),
        "findings": np.concatenate([p["findings"] for p in parts])[order],
        "alert_key": alert_keys(patients.tolist(), rule[order].tolist(), onset, unit),
        "cleared_at": pd.to_datetime(np.concatenate([p["cleared_at"] for p in parts])[order].view(f"M8[{unit}]"),
                                     utc=True),
        "cleared_evidence": _object_column([items for p in parts for items in p["cleared_evidence"]], order),
    })
    return frame


def _items_column(parts: list[dict], order: np.ndarray) -> np.ndarray:
    """Each alert's evidence items (a list of dicts per alert), in the frame's order."""
    return _object_column([items for p in parts for items in p["evidence_items"]], order)


def _object_column(values: list, order: np.ndarray) -> np.ndarray:
    """A list of lists (or None) as an object column in the frame's order (numpy would otherwise try
    to make a 2-D array of equal-length lists)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column[order]


def _number_patients(obs: pd.DataFrame, doses: pd.DataFrame | None, courses: pd.DataFrame | None):
    """Patient numbers: positions in `labels` (patients in order of first appearance in obs, then
    doses). Returns labels, the observations' numbers, and doses and courses as dicts of arrays with
    numbered patient_id (courses of patients without data dropped)."""
    obs_numbers, uniques = pd.factorize(obs["patient_id"].astype("str"), use_na_sentinel=False)
    labels = list(uniques)
    number = {label: i for i, label in enumerate(labels)}

    def numbers_of(column: pd.Series, add: bool) -> np.ndarray:
        out = np.empty(len(column), dtype=np.int64)
        for i, label in enumerate(column.astype("str").tolist()):
            if label not in number and add:
                number[label] = len(labels)
                labels.append(label)
            out[i] = number.get(label, -1)
        return out

    dose_arrays = None
    if doses is not None:
        dose_arrays = {"patient_id": numbers_of(doses["patient_id"], True), "time": doses["time"],
                       "status": doses["status"].to_numpy(dtype=object)}
        for column in ("dose_number", "scheduled_at"):
            if column in doses:
                dose_arrays[column] = doses[column]
    course_arrays = None
    if courses is not None and len(courses):
        numbers = numbers_of(courses["patient_id"], False)
        keep = numbers >= 0
        course_arrays = {"patient_id": numbers[keep],
                         **{c: courses[c].to_numpy()[keep] for c in COURSE_COLUMNS[1:] if c in courses}}
    return np.array(labels, dtype=object), obs_numbers.astype(np.int64), dose_arrays, course_arrays


def _period_hours(column: pd.Series) -> np.ndarray:
    """The `period_hours` column: empty = not stated (nan); anything else more than 0 and at most 24 h."""
    entered = column.astype("str").str.strip().where(column.notna(), "")
    hours = pd.to_numeric(entered.where(entered != "", None), errors="coerce").to_numpy(dtype=float)
    longest = entry_limits().max_period_hours
    bad = (entered != "").to_numpy() & ~((hours > 0) & (hours <= longest))
    if bad.any():
        raise InputError([(int(i) + 1, "period_hours", f"'{entered.iloc[i]}' h is not accepted: a number of hours "
                                                       f"more than 0 and at most {longest:g}")
                          for i in np.flatnonzero(bad)])
    return hours


def _canonical(observations: pd.DataFrame) -> pd.DataFrame:
    """CLI/analyst long format -> canonical frame; urine volumes need `period_hours` or default to a shift."""
    frame = read_long_frame(observations)
    obs = frame[["row", "patient_id", "time", "code", "value_num", "value_code"]].copy()
    if "period_hours" in observations.columns:
        hours = _period_hours(observations["period_hours"])
    else:
        hours = np.full(len(obs), np.nan)
    # A volume with no stated period is taken as one 8-h nursing shift (documented choice).
    hours = np.where(np.isnan(hours), 8.0, hours)
    obs["period_start"] = obs["time"] - pd.to_timedelta(hours, unit="h")
    obs.loc[~obs["code"].isin(["urine_output", "fluid_intake"]), "period_start"] = pd.NaT
    return obs
