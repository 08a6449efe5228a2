"""The concurrent writer shared by tests/store/test_concurrency_scale.py and bench/bench_concurrency.py:
each process saves its observation sets as the Record observations page does (the set, then the alert
re-evaluation and the feedback, one transaction).

Writers work in pairs, like two nurses on one bay: pair k (writers 2k and 2k+1) owns the patients
k, k + P, k + 2P ... (P = number of pairs), and both writers of the pair save their i-th set to the
same patient, so the alert rows of that patient are contended. With 8 patients each pair owns one.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from monitoring.clinical.inputs import ObservationInput
from monitoring.services import entry
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope

START = datetime(2026, 11, 20, tzinfo=timezone.utc)
# A set that raises alerts (fever, tachycardia, low SBP) every so often, so alert rows are contended.
NORMAL = {"heart_rate": 84, "temperature": 37.1, "sbp": 118, "resp_rate": 16}
SICK = {"heart_rate": 128, "temperature": 39.1, "sbp": 86, "resp_rate": 26}


class Threads:
    """run_writers' `context` for writers that are threads of one process, as the dashboard's sessions are
    (multiprocessing contexts give processes, as several dashboard replicas or CLI imports are)."""
    Queue = queue.Queue

    @staticmethod
    def Process(target, args) -> threading.Thread:  # noqa: N802 - the multiprocessing context's name
        return threading.Thread(target=target, args=args)


@dataclass
class WriterResult:
    saved: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    save_ms: list[float] = field(default_factory=list)


def _writer(url: str, patient_ids: list[int], worker: int, sets_each: int, queue) -> None:
    engine = make_engine(url)  # never share a pooled connection across processes
    saved, errors, times = 0, [], []
    for i in range(sets_each):
        patient_id = patient_ids[i % len(patient_ids)]
        at = START + timedelta(minutes=worker * 10_000 + i * 5)  # distinct times per writer
        values = SICK if i % 7 == 3 else NORMAL
        started = time.perf_counter()
        try:
            with session_scope(engine) as session:
                repository.add_observation_set(
                    session=session, patient_id=patient_id, observed_at=at, now=at, recorded_by=f"nurse{worker}",
                    values=[ObservationInput(code, value) for code, value in values.items()], confirmed=list(values))
                entry.after_save(session=session, patient_id=patient_id, values=values, observed_at=at,
                                 username=f"nurse{worker}", now=at)
            saved += 1
            times.append((time.perf_counter() - started) * 1000)
        except Exception as exc:  # noqa: BLE001 - every error is reported, none may happen
            errors.append(f"writer {worker} set {i}: {exc!r}"[:300])
    engine.dispose()
    queue.put((saved, errors, times))


def pair_patients(patient_ids: list[int], *, writers: int, worker: int) -> list[int]:
    """The patients of a writer's pair (see the module docstring)."""
    pairs = max(writers // 2, 1)
    return patient_ids[(worker // 2) % pairs::pairs] or [patient_ids[worker % len(patient_ids)]]


def run_writers(url: str, patient_ids: list[int], *, writers: int, sets_each: int, context) -> WriterResult:
    """Start `writers` processes at once, each saving `sets_each` sets to its pair's patients; wait for all."""
    queue = context.Queue()
    processes = [context.Process(target=_writer, args=(url, pair_patients(patient_ids, writers=writers, worker=w),
                                                       w, sets_each, queue))
                 for w in range(writers)]
    result = WriterResult()
    started = time.perf_counter()
    for process in processes:
        process.start()
    for _ in processes:
        saved, errors, times = queue.get(timeout=3 * 3600)
        result.saved += saved
        result.errors += errors
        result.save_ms += times
    for process in processes:
        process.join(timeout=60)
    result.seconds = time.perf_counter() - started
    return result
