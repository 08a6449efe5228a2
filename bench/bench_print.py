"""Benchmark: the downtime print of a 40-patient ward (issue 18: within 10 s).

A synthetic 40-patient ward of 7 days (monitoring.demo.seed, alerts synced) is written to a SQLite file
once and kept in the temporary directory for later runs. The figure is the median wall time of what
`il2-monitor print ward` does once the database is open: read the ward (banners, sets, doses, alerts,
forecasts: monitoring.export.ward_print.content) and lay out the PDF (reportlab), of REPEATS runs.

    .venv/bin/python -m bench.bench_print [--quick]

quick=True uses 12 patients.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)
PATIENTS, QUICK_PATIENTS = 40, 12
DAYS = 7
TARGET_S = 10.0
REPEATS = 5
TZ = ZoneInfo("Europe/London")


def ward_db(patients: int) -> str:
    """URL of a SQLite file holding the synthetic ward with synced alerts (built once, then reused)."""
    from monitoring.demo import seed as demo
    from monitoring.services.alerting import sync_alerts
    from monitoring.store.db import make_engine, session_scope, upgrade

    path = Path(tempfile.gettempdir()) / f"il2-bench-print-{patients}.db"
    done = path.with_suffix(".ready")
    url = f"sqlite:///{path}"
    if done.exists() and path.exists():
        return url
    path.unlink(missing_ok=True)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            demo.write_ward(session=session, ward=demo.generate_ward(patients=patients, days=DAYS, seed=18, end=END))
        with session_scope(engine) as session:
            sync_alerts(session=session, username="bench", now=END)
    finally:
        engine.dispose()
    done.touch()
    return url


def print_ward(url: str) -> tuple[float, float, object]:
    """(seconds reading the ward, seconds laying out the PDF, the rendered print)."""
    from monitoring.export.ward_print import content, layout
    from monitoring.store.db import make_engine, read_scope
    from monitoring.views.dosing import blank_checklist

    engine = make_engine(url)
    try:
        started = time.perf_counter()
        with read_scope(engine) as session:
            sheet = content.ward_sheet(session=session, ward_ids=[1], now=END, tz=TZ)
        read = time.perf_counter() - started
        started = time.perf_counter()
        rendered = layout.render(sheet, blank_checklist())
        return read, time.perf_counter() - started, rendered
    finally:
        engine.dispose()


def run(quick: bool = False) -> list[dict]:
    patients = QUICK_PATIENTS if quick else PATIENTS
    url = ward_db(patients)
    print_ward(url)   # warm: imports and font registration happen once per process
    runs = [print_ward(url) for _ in range(REPEATS)]
    totals = [read + laid for read, laid, _ in runs]
    median = statistics.median(totals)
    rendered = runs[0][2]
    return [{"figure": f"downtime print of a {patients}-patient ward ({rendered.pages} A4 pages, "
                       f"{len(rendered.data) / 1e6:.1f} MB; read {statistics.median(r for r, _, _ in runs):.2f} s "
                       f"+ layout {statistics.median(t for _, t, _ in runs):.2f} s), median of {REPEATS}, "
                       f"worst {max(totals):.2f} s",
             "value": median, "unit": "s", "throughput_per_s": rendered.pages / median,
             "target": f"< {TARGET_S:g} s for 40 patients", "peer": None, "ratio": None,
             "met": median < TARGET_S if not quick else None}]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(f"{row['figure']}: {row['value']:.2f} {row['unit']}  target {row['target']}  met={row['met']}")
