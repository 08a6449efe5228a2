"""Benchmark (issue 8, concurrency): 16 processes save 1,000 observation sets each at the same time,
on SQLite and on PostgreSQL, as the Record observations page does. Reported: sets per second, the
save time nurses wait (median, 95th percentile), errors that reached a writer (must be 0), every set
stored exactly once, and the stored alerts equal to a fresh evaluation afterwards.

80 patients (a 40-bed hospital floor twice over): each pair of writers shares 10 of them, about 200
sets per patient over the run (tests/store/test_concurrency_scale.py runs 16 x 25 in CI).
PostgreSQL runs when IL2_BENCH_POSTGRES_URL (or TEST_DATABASE_URL) names a database it may empty.

    .venv/bin/python -m bench.bench_concurrency [--quick]
"""
from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import sys
import tempfile
from pathlib import Path

WRITERS = 16
SETS_EACH = 1000
PATIENTS = 80


def _one(url: str, sets_each: int) -> dict:
    from sqlalchemy import func, select

    from bench.concurrent_writer import START, run_writers
    from monitoring.services.alerting import evaluate_store
    from monitoring.store.db import make_engine, session_scope, upgrade
    from monitoring.store.models import Alert, Observation
    from tests.factories import make_patient_with_course

    upgrade(url)
    engine = make_engine(url)
    patients = [make_patient_with_course(engine, mrn=f"SYN-BENCH-CONC-{i}", start=START)[0] for i in range(PATIENTS)]
    result = run_writers(url, patients, writers=WRITERS, sets_each=sets_each, context=mp.get_context("fork"))
    with session_scope(engine) as session:
        sets = session.scalar(select(func.count(func.distinct(Observation.set_id))))
        stored = {(a.alert_key, a.level, a.severity) for a in session.scalars(
            select(Alert).where(Alert.status != "retracted")).all()}
        fresh = {(r.alert_key, r.level, r.severity) for r in evaluate_store(session=session).itertuples()}
    engine.dispose()
    times = sorted(result.save_ms)
    return {"saved": result.saved, "stored": sets, "errors": len(result.errors), "agree": stored == fresh,
            "alerts": len(stored), "seconds": result.seconds, "median_ms": statistics.median(times) if times else None,
            "p95_ms": times[int(len(times) * 0.95)] if times else None, "first_error": result.errors[:1]}


def _empty_postgres(url: str) -> None:
    from monitoring.store.db import upgrade
    from tests.factories import empty_postgres

    upgrade(url)
    empty_postgres(url)


def run(quick: bool = False) -> list[dict]:
    sets_each = int(os.environ.get("IL2_BENCH_SETS_EACH", 50 if quick else SETS_EACH))
    targets = []
    with tempfile.TemporaryDirectory() as folder:
        targets.append(("SQLite", f"sqlite:///{Path(folder) / 'concurrency.db'}"))
        postgres = os.environ.get("IL2_BENCH_POSTGRES_URL") or os.environ.get("TEST_DATABASE_URL")
        if postgres:
            _empty_postgres(postgres)
            targets.append(("PostgreSQL", postgres))
        else:
            print("bench_concurrency: no IL2_BENCH_POSTGRES_URL / TEST_DATABASE_URL; PostgreSQL not measured",
                  file=sys.stderr)
        rows = []
        for name, url in targets:
            r = _one(url, sets_each)
            print(f"bench_concurrency: {name}: {r}", file=sys.stderr)
            whole = r["errors"] == 0 and r["saved"] == r["stored"] == WRITERS * sets_each and r["agree"]
            rows.append({
                "figure": f"{WRITERS} writers x {sets_each:,} observation sets at once on {name} ({PATIENTS} patients, "
                          f"save + alert sync + feedback per set): {r['stored']:,} of {WRITERS * sets_each:,} sets "
                          f"stored once, {r['errors']} errors reached a writer, stored alerts "
                          f"{'equal' if r['agree'] else '**differ from**'} a fresh evaluation ({r['alerts']:,}); "
                          f"nurse's wait median {r['median_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms",
                "value": round(r["seconds"]), "unit": "s",
                "throughput_per_s": round(r["stored"] / r["seconds"], 1),
                "target": "every set once, no error, alerts agree", "met": whole})
        if postgres:
            _empty_postgres(postgres)
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
