"""Benchmarks: the de-identified CSV cohort export (issue 7: 2,000 courses in under 10 s), the monthly
PDF report (issue 20 item 4: 2,000 courses in under 20 s) and the FHIR Bundle of the demo ward (issue 20:
under 3 s).

The synthetic hospital of monitoring.demo.seed (2,000 courses, ~1 M observations) is written to a SQLite
file once, its alerts synced and a few hundred of them acknowledged or declined (so latency and
declines have data), and the file is kept in the temporary directory for later runs. The figure is
the wall time of what `il2-monitor export --format csv` does after opening the database:
quality.course_table/term_table/episode_table/cohort_tables and export.to_csv_zip (best of 3). The
report's figure is what `il2-monitor export --format pdf` does: the tables, their release (small cells
withheld) and the monthly report with its cover, summary, charts, tables and 50 course pages (best of 3).

    .venv/bin/python -m bench.bench_export [--quick] [--report | --csv | --fhir]

quick=True uses 200 courses. The FHIR figure is the wall time of monitoring.export.fhir.fhir_export_bytes
(de-identified Bundle, what the Reports page's "Download FHIR R4 (Bundle)" and `il2-monitor export
--format fhir` write) on the 12-patient synthetic demo ward of `il2-monitor demo` (its defaults, ending
at END, alerts synced), in a SQLite file kept like the hospital's; best of 3.
"""
from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)
COURSES, QUICK_COURSES = 2_000, 200
TARGET_S = 10.0
REPORT_TARGET_S = 20.0
FHIR_TARGET_S = 3.0
REPEATS = 3
ACTED_ALERTS = 300
EXPORT_KEY = "bench-export-key-3f9a1c7e5b2d8046"


def hospital_db(courses: int) -> str:
    """URL of a SQLite file holding the synthetic hospital with synced alerts (built once, then reused)."""
    from sqlalchemy import select

    from monitoring.demo import seed as demo
    from monitoring.services import alert_actions
    from monitoring.services.alerting import sync_alerts
    from monitoring.store.db import make_engine, session_scope, upgrade
    from monitoring.store.models import Alert

    path = Path(tempfile.gettempdir()) / f"il2-bench-export-{courses}.db"
    done = path.with_suffix(".ready")
    url = f"sqlite:///{path}"
    if done.exists() and path.exists():
        return url
    path.unlink(missing_ok=True)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            demo.write_ward(session=session, ward=demo.build_hospital(courses=courses, end=END), ward_code="HOSP",
                            ward_name="Hospital (synthetic)")
        with session_scope(engine) as session:
            sync_alerts(session=session, username="bench", now=END)
        with session_scope(engine) as session:
            alerts = session.execute(select(Alert.id, Alert.first_seen_at).where(Alert.severity != "info")
                                     .order_by(Alert.id).limit(ACTED_ALERTS)).all()
            for i, (alert_id, seen) in enumerate(alerts):
                action = "decline" if i % 5 == 0 else "acknowledge"
                note = "expected IL-2 fever, reviewed" if action == "decline" else "reviewed at the bedside"
                alert_actions.act(session=session, alert_id=alert_id, action=action, username="bench",
                                  role="oncologist", note=note, now=seen + timedelta(minutes=5 + i % 60))
    finally:
        engine.dispose()
    done.touch()
    return url


def export_csv(url: str) -> tuple[bytes, int]:
    """What `il2-monitor export --format csv` does once the database is open: (zip bytes, course rows)."""
    from monitoring.export import quality
    from monitoring.export import writers as export
    from monitoring.store.db import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            tables = quality.export_tables(session=session, filters=quality.QualityFilter(), export_key=EXPORT_KEY)
        return export.to_csv_zip(tables, quality.COLUMN_DOCS), len(tables["courses"])
    finally:
        engine.dispose()


def monthly_report(url: str) -> tuple[bytes, int, int]:
    """What `il2-monitor export --format pdf` does once the database is open: (PDF bytes, courses, pages)."""
    from monitoring.export import quality
    from monitoring.export import writers as export
    from monitoring.store.db import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            tables = quality.export_tables(session=session, filters=quality.QualityFilter(), export_key=EXPORT_KEY)
        tables = export.for_release(tables, identifiable=False)
        data = export.render(tables, "pdf", docs=quality.COLUMN_DOCS, synthetic=quality.is_synthetic(tables),
                             deidentified=True, period_text="November 2026", wards_text="HOSP", key_generation=1)
        return data, len(tables["courses"]), data.count(b"/Type /Page\n")
    finally:
        engine.dispose()


def demo_db() -> str:
    """URL of a SQLite file holding the demo ward as `il2-monitor demo` writes it (built once, then reused)."""
    from monitoring.demo import seed as demo
    from monitoring.services.alerting import sync_alerts
    from monitoring.store.db import make_engine, session_scope, upgrade

    path = Path(tempfile.gettempdir()) / "il2-bench-demo-ward.db"
    done = path.with_suffix(".ready")
    url = f"sqlite:///{path}"
    if done.exists() and path.exists():
        return url
    path.unlink(missing_ok=True)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            demo.write_ward(session=session, ward=demo.generate_ward(end=END))
        with session_scope(engine) as session:
            sync_alerts(session=session, username="demo-generator")
    finally:
        engine.dispose()
    done.touch()
    return url


def export_fhir(url: str) -> bytes:
    """The de-identified FHIR Bundle of every course in the database."""
    from monitoring.export.fhir import fhir_export_bytes
    from monitoring.store.db import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return fhir_export_bytes(session=session, export_key=EXPORT_KEY)
    finally:
        engine.dispose()


def fhir_rows() -> list[dict]:
    url = demo_db()
    best, data = float("inf"), b""
    for _ in range(REPEATS):
        started = time.perf_counter()
        data = export_fhir(url)
        best = min(best, time.perf_counter() - started)
    resources = data.count(b'"fullUrl"')
    return [{"figure": f"de-identified FHIR R4 Bundle of the demo ward (12 patients, {resources:,} resources, "
                       f"{len(data) / 1e6:.1f} MB) from SQLite", "value": best, "unit": "s",
             "throughput_per_s": resources / best, "target": f"< {FHIR_TARGET_S:g} s", "peer": None, "ratio": None,
             "met": best < FHIR_TARGET_S}]


def _best(produce) -> tuple[float, tuple]:
    best, result = float("inf"), ()
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = produce()
        best = min(best, time.perf_counter() - started)
    return best, result


def run(quick: bool = False, *, csv: bool = True, report: bool = True, fhir: bool = True) -> list[dict]:
    n_courses = QUICK_COURSES if quick else COURSES
    url = hospital_db(n_courses) if csv or report else ""
    rows_out = []
    if csv:
        best, (data, rows) = _best(lambda: export_csv(url))
        rows_out.append({"figure": f"de-identified CSV cohort export (zip, {len(data) / 1e6:.1f} MB), {rows:,} courses "
                                   "from SQLite", "value": best, "unit": "s", "throughput_per_s": rows / best,
                         "target": f"< {TARGET_S:g} s", "peer": None, "ratio": None,
                         "met": best < TARGET_S if not quick else None})
    if report:
        best, (data, rows, pages) = _best(lambda: monthly_report(url))
        rows_out.append({"figure": f"de-identified monthly PDF report ({pages} A4 pages, {len(data) / 1e6:.1f} MB: "
                                   f"cover, summary, charts, tables, 50 course pages), {rows:,} courses from SQLite",
                         "value": best, "unit": "s", "throughput_per_s": rows / best,
                         "target": f"< {REPORT_TARGET_S:g} s", "peer": None, "ratio": None,
                         "met": best < REPORT_TARGET_S if not quick else None})
    return rows_out + (fhir_rows() if fhir else [])


if __name__ == "__main__":
    arguments = sys.argv[1:]
    only = {"csv": "--report" not in arguments and "--fhir" not in arguments,
            "report": "--csv" not in arguments and "--fhir" not in arguments,
            "fhir": "--csv" not in arguments and "--report" not in arguments}
    for row in run(quick="--quick" in arguments, **only):
        print(f"{row['figure']}: {row['value']:.2f} {row['unit']}  target {row['target']}  met={row['met']}")
