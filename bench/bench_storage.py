"""Benchmark: the synthetic hospital (2,000 courses, a week of 4-hourly vital signs and daily labs)
generated and written to a fresh SQLite database through the repository (issue 2: under a minute).

    .venv/bin/python -m bench.bench_storage [--quick]
"""
from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)


def run(quick: bool = False) -> list[dict]:
    from monitoring.demo import seed as demo
    from monitoring.store.db import make_engine, session_scope, upgrade

    courses = 200 if quick else 2000
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'hospital.db'}"
        upgrade(url)
        started = time.perf_counter()
        hospital = demo.build_hospital(courses=courses, end=END)
        generated = time.perf_counter()
        engine = make_engine(url)
        with session_scope(engine) as session:
            counts = demo.write_ward(session=session, ward=hospital, ward_code="HOSP",
                                     ward_name="Hospital (synthetic)")
        engine.dispose()
        total = time.perf_counter() - started
    return [{
        "figure": f"synthetic hospital, {courses:,} courses ({counts['observations']:,} observations): "
                  f"generate {generated - started:.1f} s + write to SQLite",
        "value": round(total, 1), "unit": "s",
        "throughput_per_s": round(counts["observations"] / total), "target": "< 60 s for 2,000 courses",
        "peer": None, "ratio": None, "met": total < 60 if not quick else None,
    }]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(row)
