"""Several nurses saving at once on the embedded SQLite database: no lost set, no lock error."""
from __future__ import annotations

import multiprocessing as mp
import sys
import types
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from monitoring.clinical.inputs import ObservationInput
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent, Observation
from tests.factories import make_patient_with_course

WRITERS, SETS_EACH = 4, 60


def _writer(url: str, patient_id: int, worker: int, queue) -> None:
    engine = make_engine(url)
    errors = 0
    base = datetime(2026, 11, 27, 0, 0, tzinfo=timezone.utc)
    for i in range(SETS_EACH):
        observed = base + timedelta(minutes=worker * 1000 + i)
        try:
            with session_scope(engine) as session:
                # Read then write in one transaction: the pattern that fails under a deferred BEGIN.
                repository.current_observations(session=session, patient_ids=[patient_id], since=observed)
                repository.add_observation_set(
                    session=session, patient_id=patient_id, observed_at=observed, now=observed,
                    recorded_by=f"nurse{worker}",
                    values=[ObservationInput("heart_rate", 60 + i % 40), ObservationInput("temperature", "37.2")])
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors += 1
            queue.put(repr(exc))
    engine.dispose()
    queue.put(("done", errors))


@pytest.mark.slow  # several seconds: in make test, not in make test-fast
@pytest.mark.serial  # measures concurrency: run alone
def test_concurrent_writers_on_sqlite_lose_nothing_and_never_see_a_lock_error(tmp_path, sqlite_template):
    import shutil
    path = tmp_path / "ward.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    patient_id, _ = make_patient_with_course(engine)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_writer, args=(url, patient_id, w, queue)) for w in range(WRITERS)]
    # Streamlit's AppTest (run earlier in the suite) leaves an app script as __main__; spawned
    # workers would re-run it. Start them from a plain __main__ instead.
    saved_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for w in workers:
            w.start()
    finally:
        sys.modules["__main__"] = saved_main
    done, failures = 0, []
    while done < WRITERS:
        message = queue.get(timeout=120)
        if isinstance(message, tuple):
            done += 1
        else:
            failures.append(message)
    for w in workers:
        w.join(timeout=60)
    assert failures == []
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == WRITERS * SETS_EACH * 2
        assert session.scalar(select(func.count(func.distinct(Observation.set_id)))) == WRITERS * SETS_EACH
        audited = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "record"))
        assert audited == WRITERS * SETS_EACH
    engine.dispose()
