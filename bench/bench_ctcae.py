"""Benchmark: CTCAE grading of a hospital-sized lab import (synthetic data only).

`run(quick=False)` times, best of 3:
* read_long_frame on 1,000,000 rows (validation against the catalogue, time parsing, units);
* grade_canonical on the parsed arrays (the engine's path);
* grade_frame end to end (read + grade), on typed columns and on all-text columns (the CLI's CSV).
The rows mix every graded lab code, temperatures in °C and °F, cell counts in 10*9/L and /uL,
creatinine and bilirubin in µmol/L, some rows with the lab's reference range and a baseline, some
without, ISO 8601 times with Z and with offsets, and a share of vital signs and nurse-graded
symptoms (grade NA / kept). quick=True uses 100,000 rows.

Run: .venv/bin/python -m bench.bench_ctcae [--quick]
"""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

# code, unit, low, high (plausible values in that unit), ref_low, ref_high (lab range in that unit)
_LABS = [
    ("anc", "10*9/L", 0.0, 12.0, 1.8, 7.5),
    ("anc", "/uL", 0, 12000, 1800, 7500),
    ("wbc", "10*9/L", 0.2, 20.0, 4.0, 11.0),
    ("lymphocytes", "10*9/L", 0.05, 5.0, 1.0, 4.0),
    ("platelets", "10*9/L", 5, 500, 150, 400),
    ("platelets", "/uL", 5000, 500000, 150000, 400000),
    ("hemoglobin", "g/dL", 5.0, 17.0, 12.0, 16.0),
    ("hemoglobin", "g/L", 50, 170, 120, 160),
    ("albumin", "g/dL", 1.5, 5.5, 3.5, 5.0),
    ("creatinine", "mg/dL", 0.3, 10.0, 0.6, 1.2),
    ("creatinine", "umol/L", 30, 900, 53, 106),
    ("bilirubin", "umol/L", 2, 400, 3, 21),
    ("ast", "U/L", 5, 1200, 10, 40),
    ("alt", "U/L", 5, 1200, 7, 56),
    ("alp", "U/L", 20, 1500, 40, 130),
    ("potassium", "mmol/L", 2.0, 7.5, 3.5, 5.1),
    ("sodium", "mmol/L", 115, 165, 135, 145),
    ("magnesium", "mg/dL", 0.5, 3.0, 1.7, 2.2),
    ("magnesium", "mmol/L", 0.25, 1.2, 0.7, 0.9),
    ("temperature", "Cel", 35.5, 41.5, np.nan, np.nan),
    ("temperature", "[degF]", 96.0, 106.0, np.nan, np.nan),
    ("heart_rate", "/min", 50, 160, np.nan, np.nan),
]
_SYMPTOMS = ["diarrhea", "nausea", "vomiting", "fatigue"]


def make_lab_frame(n: int, seed: int = 20260302) -> pd.DataFrame:
    """n synthetic rows in the long observation format (values rounded as labs report them)."""
    rng = np.random.default_rng(seed)
    kinds = len(_LABS) + 1
    pick = rng.integers(0, kinds, n)
    codes = np.empty(n, dtype=object)
    units = np.empty(n, dtype=object)
    values = np.empty(n, dtype=float)
    ref_low = np.full(n, np.nan)
    ref_high = np.full(n, np.nan)
    baseline = np.full(n, np.nan)
    with_range = rng.random(n) < 0.8
    with_baseline = rng.random(n) < 0.3
    for k, (code, unit, low, high, lo, hi) in enumerate(_LABS):
        rows = np.flatnonzero(pick == k)
        decimals = 0 if high >= 100 else (1 if high >= 10 else 2)
        codes[rows], units[rows] = code, unit
        values[rows] = np.round(rng.uniform(low, high, len(rows)), decimals)
        ref_low[rows] = np.where(with_range[rows], lo, np.nan)
        ref_high[rows] = np.where(with_range[rows], hi, np.nan)
        if code in ("creatinine", "bilirubin", "ast", "alt", "alp"):
            baseline[rows] = np.where(with_baseline[rows], np.round(rng.uniform(lo, hi * 1.5, len(rows)),
                                                                    decimals), np.nan)
    rows = np.flatnonzero(pick == len(_LABS))
    codes[rows] = rng.choice(_SYMPTOMS, len(rows))
    units[rows] = ""
    values[rows] = rng.integers(0, 4, len(rows))
    start = np.datetime64("2026-03-02T00:00:00", "s")
    moments = start + rng.integers(0, 30 * 24 * 60, n).astype("timedelta64[m]")
    times = np.char.add(np.datetime_as_string(moments, unit="s"), "Z").astype(object)
    offset = rng.random(n) < 0.2  # a fifth written in Central European Time, +01:00
    local = moments[offset] + np.timedelta64(1, "h")
    times[offset] = np.char.add(np.datetime_as_string(local, unit="s"), "+01:00").astype(object)
    return pd.DataFrame({
        "patient_id": np.char.add("P", (rng.integers(0, 5000, n)).astype(str)).astype(object),
        "time": times, "code": codes, "value": values, "unit": units,
        "ref_low": ref_low, "ref_high": ref_high, "baseline": baseline,
    })


def _best_of(repeats: int, function) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def _row(figure: str, seconds: float, n: int) -> dict:
    return {"figure": figure, "value": round(seconds, 3), "unit": "s", "throughput_per_s": round(n / seconds),
            "target": None, "peer": None, "ratio": None, "met": None}


def run(quick: bool = False) -> list[dict]:
    from monitoring.clinical.catalogue import default_catalogue
    from monitoring.clinical.ctcae import grade_canonical, grade_frame, load_ctcae
    from monitoring.clinical.inputs import read_long_frame

    n = 100_000 if quick else 1_000_000
    label = f"{n:,} lab results"
    frame = make_lab_frame(n)
    catalogue = default_catalogue()
    table = load_ctcae()
    parsed = read_long_frame(frame, catalogue=catalogue)
    arrays = (parsed["code"].to_numpy(dtype=object), parsed["value_in"].to_numpy(),
              parsed["unit_in"].to_numpy(dtype=object), parsed["ref_low"].to_numpy(),
              parsed["ref_high"].to_numpy(), parsed["baseline"].to_numpy())
    # As the CLI reads a CSV: every column text (dtype=str), parsed by the engine.
    as_text = frame.astype("str").replace({"nan": ""})
    return [
        _row(f"read_long_frame, {label}", _best_of(3, lambda: read_long_frame(frame, catalogue=catalogue)), n),
        _row(f"grade_canonical, {label}",
             _best_of(3, lambda: grade_canonical(*arrays, thresholds=table, catalogue=catalogue)), n),
        _row(f"grade_frame, {label}", _best_of(3, lambda: grade_frame(frame, table, catalogue=catalogue)), n),
        _row(f"grade_frame, {label} as text (CSV read with dtype=str, as the CLI does)",
             _best_of(3, lambda: grade_frame(as_text, table, catalogue=catalogue)), n),
    ]


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv[1:]):
        print(f"{result['figure']}: {result['value']} s ({result['throughput_per_s']:,}/s)")
