"""Benchmark: score_frame (vectorised NEWS2 + qSOFA + SIRS) against vitalscore 0.1.1 per row.

Both score the same synthetic observation sets (numpy rng, fixed seed); each timing is the best of
three, the runs interleaved so that a busy machine slows both alike. vitalscore scores NEWS2 and
qSOFA one row at a time (peers.md §3.1); score_frame also validates every cell (ISO 8601 times
with a zone, plausible ranges) and scores SIRS.

    .venv/bin/python -m bench.bench_scores [--quick]
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from monitoring.clinical.scores import load_score_thresholds, score_frame

SEED = 20261127
PEER_ROWS = 20_000
TARGET_RATIO = 50
REPEATS = 3


def synthetic_sets(n: int, seed: int = SEED) -> pd.DataFrame:
    """n complete observation sets from a mostly-stable ward; times are ISO 8601 text with a zone."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-11-27T00:00:00Z")
    times = start + pd.to_timedelta(rng.integers(0, 30 * 86_400, n), unit="s")
    return pd.DataFrame({
        "patient_id": "SYN-" + pd.Series(rng.integers(1, 2_000, n)).astype(str),
        "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resp_rate": rng.integers(8, 36, n),
        "spo2": rng.integers(82, 101, n),
        "spo2_scale": rng.choice([1, 2], n, p=[0.95, 0.05]),
        "on_oxygen": rng.choice(["yes", "no"], n, p=[0.2, 0.8]),
        "sbp": rng.integers(70, 200, n),
        "heart_rate": rng.integers(40, 160, n),
        "consciousness": rng.choice(list("ACVPU"), n, p=[0.9, 0.04, 0.03, 0.02, 0.01]),
        "temperature": np.round(rng.normal(37.4, 0.9, n).clip(34.0, 41.5), 1),
        "wbc": np.round(rng.lognormal(2.0, 0.5, n).clip(0.1, 60.0), 1),
        "gcs": rng.choice([15, 14, 13, 10, 6], n, p=[0.9, 0.05, 0.03, 0.01, 0.01]),
    })


def best_times(repeats: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best wall time of each run. The runs are interleaved, so a busy machine slows all of them alike."""
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def _vitalscore_per_row(frame: pd.DataFrame) -> None:
    from vitalscore import score_news2, score_qsofa

    columns = [frame[c].tolist() for c in ("resp_rate", "spo2", "on_oxygen", "sbp", "heart_rate", "consciousness",
                                           "temperature", "spo2_scale", "gcs")]
    for rr, spo2, oxygen, sbp, hr, consciousness, temp, scale, gcs in zip(*columns):
        score_news2(rr, float(spo2), oxygen == "yes", sbp, hr, consciousness, temp, use_spo2_scale2=scale == 2)
        score_qsofa(gcs, rr, sbp)


def run(quick: bool = False) -> list[dict]:
    """Measure both in one run on the same data; return one row per figure."""
    thresholds = load_score_thresholds()
    ours_rows = 100_000 if quick else 1_000_000
    frame = synthetic_sets(ours_rows)
    peer_frame = frame.iloc[:PEER_ROWS]
    score_frame(frame.iloc[:1000], thresholds)  # warm-up: catalogue load, imports

    typed = frame.copy()
    typed["time"] = pd.to_datetime(typed["time"], utc=True)
    ours = {f"score_frame, {ours_rows:,} observation sets": frame,
            f"score_frame, {ours_rows:,} observation sets, time as tz-aware datetime": typed}
    seconds = best_times(REPEATS, {"peer": lambda: _vitalscore_per_row(peer_frame),
                                   **{label: (lambda data=data: score_frame(data, thresholds))
                                      for label, data in ours.items()}})
    peer_throughput = PEER_ROWS / seconds["peer"]
    rows = [{"figure": f"vitalscore 0.1.1 score_news2+score_qsofa per row, {PEER_ROWS:,} observation sets",
             "value": seconds["peer"], "unit": "s", "throughput_per_s": peer_throughput, "target": "",
             "peer": "", "ratio": None, "met": None}]
    for label in ours:
        throughput = ours_rows / seconds[label]
        ratio = throughput / peer_throughput
        rows.append({"figure": label, "value": seconds[label], "unit": "s", "throughput_per_s": throughput,
                     "target": f">= {TARGET_RATIO}x vitalscore per-row throughput",
                     "peer": "vitalscore 0.1.1 score_news2+score_qsofa per row", "ratio": ratio,
                     "met": ratio >= TARGET_RATIO})
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        ratio = "" if row["ratio"] is None else f"  ratio {row['ratio']:.0f}x  met={row['met']}"
        print(f"{row['figure']}: {row['value']:.3f} {row['unit']}  ({row['throughput_per_s']:,.0f}/s){ratio}")
