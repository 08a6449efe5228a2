"""Benchmark: saving one observation set and computing the nurse's feedback (NEWS2, alerts raised,
24-h trend) on a hospital-sized SQLite database (issue 5 target: under 300 ms on the server).

    .venv/bin/python -m bench.bench_entry [--quick]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)


def run(quick: bool = False) -> list[dict]:
    from sqlalchemy import select

    from monitoring import demo, entry
    from monitoring.db import make_engine, session_scope, upgrade
    from monitoring.models import Patient
    from monitoring.repository import ObservationInput, add_observation_set

    courses = 200 if quick else 2000
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'hospital.db'}"
        upgrade(url)
        engine = make_engine(url)
        hospital = demo.build_hospital(courses=courses, end=END)
        with session_scope(engine) as session:
            counts = demo.write_ward(session=session, ward=hospital, ward_code="HOSP", ward_name="Hospital (synthetic)")
        with session_scope(engine) as session:
            patient_ids = list(session.scalars(select(Patient.id).limit(25)).all())
        timings = []
        for i, patient_id in enumerate(patient_ids):
            observed = END + timedelta(minutes=5 + i)
            values = [ObservationInput("resp_rate", 22), ObservationInput("spo2", 94), ObservationInput("on_oxygen", "no"),
                      ObservationInput("sbp", 96), ObservationInput("heart_rate", 118),
                      ObservationInput("consciousness", "A"), ObservationInput("temperature", "38.6")]
            started = time.perf_counter()
            with session_scope(engine) as session:
                saved = add_observation_set(session=session, patient_id=patient_id, values=values,
                                            observed_at=observed, recorded_by="bench", now=observed)
                canonical = {o.code: (o.value_code if o.value_code is not None else o.value_num)
                             for o in saved.observations}
                entry.after_save(session=session, patient_id=patient_id, values=canonical, observed_at=observed,
                                 username="bench", now=observed)
            timings.append(time.perf_counter() - started)
        engine.dispose()
    median_ms = statistics.median(timings[1:]) * 1000
    worst_ms = max(timings[1:]) * 1000
    return [{
        "figure": f"save one observation set + feedback (NEWS2, alert sync, 24-h trend), SQLite with "
                  f"{counts['observations']:,} observations; median of {len(timings) - 1} (worst {worst_ms:.0f} ms)",
        "value": round(median_ms, 1), "unit": "ms", "throughput_per_s": None, "target": "< 300 ms",
        "peer": None, "ratio": None, "met": median_ms < 300,
    }]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(row)
