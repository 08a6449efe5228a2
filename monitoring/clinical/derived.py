"""Quantities derived from several observations, one definition each (every rule, view, chart and
report computes them here).

- **Weight-gain baseline**: the course's recorded baseline (pre-treatment) weight; when none was
  recorded, the first weight recorded for the course. Weight gain is measured from the pre-treatment
  weight (Dutcher 2014 Table 3, "weight gain > 15%"; CTCAE v5.0 "Weight gain" grades "from baseline").
  Each course has its own baseline: cycle 2 starts from its own weight, not cycle 1's. Without any
  weight there is no baseline (never zero), and no gain is computed.
- **Weight gain**: (weight - baseline) / baseline x 100, in percent.
- **Urine output per 8 h**: a volume over its measured period, as the rate per 8-h nursing shift that
  the Dutcher 2014 Table 3 urine criteria are written in ("80-160 mL/shift", "< 80 mL/8 h"). Unknown
  (NaN) when the period is missing or not positive: a volume without its period is no rate.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: The urine criteria's period (Dutcher 2014 Table 3: per 8-h shift).
SHIFT_HOURS = 8
COURSE_BASELINE, FIRST_WEIGHT, NO_BASELINE = "course baseline", "first weight of the course", "none"


def weight_baseline_kg(course_kg: np.ndarray, first_kg: np.ndarray) -> np.ndarray:
    """The course's baseline weight where recorded, else the first weight of the course (NaN: neither)."""
    course_kg = np.asarray(course_kg, dtype=float)
    return np.where(np.isnan(course_kg), np.asarray(first_kg, dtype=float), course_kg)


def weight_gain_percent(weight_kg, baseline_kg):
    """Weight change from the baseline in percent (NaN without a positive baseline); arrays or numbers."""
    weight_kg, baseline_kg = np.asarray(weight_kg, dtype=float), np.asarray(baseline_kg, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(baseline_kg > 0, (weight_kg - baseline_kg) / baseline_kg * 100, np.nan)
    return gain if gain.ndim else float(gain)


def urine_ml_per_8h(volume_ml, period_hours):
    """Urine volume over its period as mL per 8 h (NaN when the period is unknown or not positive)."""
    volume_ml, period_hours = np.asarray(volume_ml, dtype=float), np.asarray(period_hours, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(period_hours > 0, volume_ml / period_hours * SHIFT_HOURS, np.nan)
    return rate if rate.ndim else float(rate)


def course_weight_baselines(courses: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Each course's weight-gain baseline and where it came from.

    `courses`: course_id, baseline_weight_kg (NaN when not recorded). `weights`: the weight
    observations with course_id, observed_at and value_num. Returns course_id, baseline_kg and
    source ("course baseline", "first weight of the course" or "none"), one row per course."""
    out = courses[["course_id"]].copy()
    recorded = pd.to_numeric(courses["baseline_weight_kg"]).astype(float).to_numpy()
    known = weights[weights["value_num"].notna() & weights["course_id"].notna()]
    first = (known.sort_values("observed_at", kind="stable").groupby("course_id")["value_num"].first()
             .reindex(courses["course_id"].to_numpy()).astype(float).to_numpy())
    out["baseline_kg"] = weight_baseline_kg(recorded, first)
    out["source"] = np.where(~np.isnan(recorded), COURSE_BASELINE, np.where(np.isnan(first), NO_BASELINE,
                                                                            FIRST_WEIGHT))
    return out.reset_index(drop=True)
