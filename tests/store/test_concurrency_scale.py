"""Sixteen nurses saving observation sets at the same moment, on SQLite and PostgreSQL (issue 8,
concurrency): every set is stored exactly once, no error reaches a nurse, and afterwards the stored
alerts are exactly what a fresh evaluation of the data gives.

Each writer saves as the Record observations page does: the whole set, then the alert re-evaluation
and the feedback, in one transaction. Two writers share each patient, so alert rows are contended.
The test runs WRITERS x SETS_EACH (16 x 25) to keep CI short; `make bench` runs the full 16 x 1,000
on 80 patients (bench/bench_concurrency.py) with the same writer (bench/concurrent_writer.py).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil

import pytest
from sqlalchemy import func, select

from bench.concurrent_writer import START, Threads, run_writers
from monitoring.services.alerting import evaluate_store
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import Alert, AuditEvent, Observation
from tests.factories import make_patient_with_course

WRITERS = 16
SETS_EACH = int(os.environ.get("IL2_TEST_SETS_EACH", "25"))
PATIENTS = 8


@pytest.mark.slow  # several seconds: in make test, not in make test-fast
@pytest.mark.serial  # measures concurrency: run alone
def test_sixteen_writers_store_every_set_once_without_errors_and_alerts_agree(engine, db_url):
    """Processes: dashboard replicas, CLI imports."""
    _sixteen_writers(engine, db_url, mp.get_context("fork"))


@pytest.mark.slow
@pytest.mark.serial
def test_sixteen_sessions_of_one_dashboard_process_store_every_set_once(tmp_path, sqlite_template):
    """Threads of one process, as the dashboard's sessions are: on SQLite they queue on an in-process
    lock before the writers' lock file (monitoring.store.db); PostgreSQL has no queue of its own."""
    path = tmp_path / "threads.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        _sixteen_writers(engine, f"sqlite:///{path}", Threads)
    finally:
        engine.dispose()


def _sixteen_writers(engine, db_url: str, context) -> None:
    patients = [make_patient_with_course(engine, mrn=f"SYN-CONC-{i}", start=START)[0] for i in range(PATIENTS)]
    result = run_writers(db_url, patients, writers=WRITERS, sets_each=SETS_EACH, context=context)
    assert result.errors == [], result.errors[:5]  # no error reached a nurse
    assert result.saved == WRITERS * SETS_EACH
    with session_scope(engine) as session:
        sets = session.scalar(select(func.count(func.distinct(Observation.set_id))))
        values = session.scalar(select(func.count()).select_from(Observation))
        audited = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "record"))
        stored = {(a.alert_key, a.level, a.severity) for a in session.scalars(
            select(Alert).where(Alert.status != "retracted")).all()}
        fresh = evaluate_store(session=session)
    assert sets == WRITERS * SETS_EACH and audited == WRITERS * SETS_EACH  # each set once, each audited
    assert values == sets * 4
    assert stored == {(r.alert_key, r.level, r.severity) for r in fresh.itertuples()}
    assert stored, "the sets raised no alert: the agreement check proves nothing"
