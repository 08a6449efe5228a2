"""Benchmark: the alert engine (monitoring.clinical.engine.evaluate, every rule) at hospital size and for one patient.

Figures (targets from issues 3 and 14), measured on the synthetic data of monitoring.demo.seed:
* hospital: 2,000 treatment courses (~1.1 M observations, `demo.build_hospital`), evaluated end to end
  with canonical=True: at least 1,000,000 observations per second (best of 3; issue 14);
* many alerts: the same hospital with random vital signs and lactates (most sets qualify for
  something), from the long text format as the CLI reads a CSV: at least 500,000 observations per
  second, parsing and unit checks included (issue 14);
* one patient: re-evaluating one demo-ward patient (DEMO-003, ~700 observations) as the dashboard does
  after each save: at most 20 ms (median of 20, after a warm-up; best of 3 such medians; issue 14);
* memory: peak RSS of a fresh process that builds the hospital frames and evaluates them: under 2 GB.

    .venv/bin/python -m bench.bench_engine [--quick]

quick=True uses 200 courses for the hospital figures.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)
COURSES, QUICK_COURSES = 2_000, 200
TARGET_OBS_PER_S = 1_000_000
TARGET_LONG_OBS_PER_S = 500_000
TARGET_PATIENT_MS = 20
#: Random vital signs and lactates for the many-alerts figure: (low, high, decimals).
RANDOM_RANGES = {"temperature": (35.0, 40.8, 1), "heart_rate": (40, 150, 0), "sbp": (75, 170, 0),
                 "resp_rate": (8, 30, 0), "spo2": (84, 100, 0), "lactate": (0.5, 6.0, 1)}
TARGET_RSS_MB = 2_048
REPEATS = 3
PATIENT = "DEMO-003"


def hospital_frames(courses: int):
    from monitoring.demo import seed as demo
    return demo.engine_frames(demo.build_hospital(courses=courses, end=END))


def ward_frames():
    from monitoring.demo import seed as demo
    return demo.engine_frames(demo.generate_ward(patients=12, days=7, seed=2026, end=END))


def random_vitals(obs: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """The hospital's observations with uniformly random vital signs, lactates and 1 in 5 sets not
    Alert: most sets qualify for an alert of some rule (the issue's many-alerts case)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    obs = obs.copy()
    for code, (low, high, decimals) in RANDOM_RANGES.items():
        rows = (obs["code"] == code).to_numpy()
        obs.loc[rows, "value_num"] = np.round(rng.uniform(low, high, rows.sum()), decimals)
    rows = (obs["code"] == "consciousness").to_numpy()
    obs.loc[rows, "value_code"] = rng.choice(["A"] * 8 + ["C", "V"], rows.sum())
    return obs


def long_text(obs: pd.DataFrame) -> pd.DataFrame:
    """The canonical frame as the CLI reads a CSV: every cell text."""
    numbers = obs["value_num"].map(lambda v: f"{v:g}" if v == v else "").astype(str)
    return pd.DataFrame({"patient_id": obs["patient_id"].astype(str),
                         "time": obs["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "code": obs["code"].astype(str),
                         "value": numbers.where(obs["value_num"].notna(), obs["value_code"].astype(str)), "unit": ""})


def _peak_rss_mb(courses: int) -> float:
    """Peak RSS (MB) of a fresh interpreter that builds the hospital and evaluates it once."""
    code = (
        "import json, resource, sys\n"
        "sys.path.insert(0, %r)\n"
        "from bench.bench_engine import hospital_frames\n"
        "from monitoring.clinical.engine import evaluate\n"
        "obs, doses, courses = hospital_frames(%d)\n"
        "evaluate(obs, doses, courses=courses, canonical=True, detail=True)\n"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))\n"
    ) % (str(ROOT), courses)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def run(quick: bool = False) -> list[dict]:
    from monitoring.clinical.engine import evaluate

    n_courses = QUICK_COURSES if quick else COURSES
    obs, doses, courses = hospital_frames(n_courses)
    evaluate(obs.iloc[:1000], doses, courses=courses, canonical=True)  # warm-up: thresholds, imports
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        evaluate(obs, doses, courses=courses, canonical=True)
        best = min(best, time.perf_counter() - started)
    throughput = len(obs) / best
    rows = [{"figure": f"evaluate(), all rules, {n_courses:,} courses ({len(obs):,} observations)",
             "value": best, "unit": "s", "throughput_per_s": throughput,
             "target": f">= {TARGET_OBS_PER_S:,} obs/s", "peer": None, "ratio": None,
             "met": throughput >= TARGET_OBS_PER_S}]
    # Many alerts, from the long format as the CLI reads a CSV (every cell text), parsing and unit
    # checks included.
    long = long_text(random_vitals(obs))
    evaluate(long.iloc[:1000], doses, courses=courses)
    parsed, alerts = float("inf"), 0
    for _ in range(REPEATS):
        started = time.perf_counter()
        alerts = len(evaluate(long, doses, courses=courses))
        parsed = min(parsed, time.perf_counter() - started)
    rows.append({"figure": f"evaluate() from the long CSV format with random vital signs ({alerts:,} alerts: most "
                           f"sets qualify for something), every cell text, parsing and unit checks included, "
                           f"{n_courses:,} courses",
                 "value": parsed, "unit": "s", "throughput_per_s": len(obs) / parsed,
                 "target": f">= {TARGET_LONG_OBS_PER_S:,} obs/s", "peer": None, "ratio": None,
                 "met": len(obs) / parsed >= TARGET_LONG_OBS_PER_S})
    del obs, doses, courses, long

    w_obs, w_doses, w_courses = ward_frames()
    one = (w_obs[w_obs["patient_id"] == PATIENT], w_doses[w_doses["patient_id"] == PATIENT],
           w_courses[w_courses["patient_id"] == PATIENT])
    evaluate(one[0], one[1], courses=one[2], canonical=True, detail=True)
    medians = []
    for _ in range(REPEATS):
        times = []
        for _ in range(20):
            started = time.perf_counter()
            evaluate(one[0], one[1], courses=one[2], canonical=True, detail=True)
            times.append(time.perf_counter() - started)
        medians.append(statistics.median(times))
    ms = min(medians) * 1000
    rows.append({"figure": f"evaluate() one patient after a new set ({len(one[0]):,} observations), median of 20",
                 "value": ms, "unit": "ms", "throughput_per_s": len(one[0]) / (ms / 1000),
                 "target": f"<= {TARGET_PATIENT_MS} ms", "peer": None, "ratio": None, "met": ms <= TARGET_PATIENT_MS})

    rss = _peak_rss_mb(n_courses)
    rows.append({"figure": f"peak RSS, build + evaluate {n_courses:,} courses (fresh process)", "value": rss,
                 "unit": "MB", "throughput_per_s": None, "target": f"< {TARGET_RSS_MB:,} MB", "peer": None,
                 "ratio": None, "met": rss < TARGET_RSS_MB})
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        rate = "" if row["throughput_per_s"] is None else f"  ({row['throughput_per_s']:,.0f}/s)"
        print(f"{row['figure']}: {row['value']:.3f} {row['unit']}{rate}  target {row['target']}  met={row['met']}")
