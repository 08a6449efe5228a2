"""Database engines, sessions and migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout and takes the write lock at the
start of every transaction (BEGIN IMMEDIATE): a transaction that reads and then writes under a
deferred BEGIN fails at once with 'database is locked' whatever the busy timeout says (measured:
926 of 2000 writes failed; measured in the engineering notes the project started from, §1e).
PostgreSQL needs none of it.

SQLite's busy handler is not fair: a waiting writer sleeps up to 100 ms between tries, and the writers
that happen to try just after a commit win again and again. With 16 processes saving 1,000 sets each
(bench/bench_concurrency.py), 13 writers waited past the 30-s timeout ("database is locked" reached
them) while the median wait was 78 ms. Writers on a database file therefore first queue for a lock
file beside it (`<database>-writers.lock`, held through the maintained cross-platform `filelock`) polled
every few milliseconds, so every waiter gets its turn in about the order it came; SQLite's own lock is
then free at BEGIN IMMEDIATE. Threads of one process (the dashboard's sessions) queue first on an
in-process lock, so only one of them at a time polls the file.
"""
from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from filelock import FileLock, Timeout
from sqlalchemy import Engine, String, event, inspect, type_coerce
from sqlmodel import Session, create_engine

from monitoring.config import normalise_database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITER_QUEUE_TIMEOUT_S = 120.0  # a writer waits this long for its turn before "database is locked"
WRITER_QUEUE_POLL_S = 0.002
_QUEUE_LOCK = "il2_writer_queue_lock"
READ_ONLY = "il2_read_only"


# One in-process lock per database file in front of the lock file: the dashboard's sessions are threads
# of one process, and a thread waiting here sleeps until the holder lets go instead of polling the file.
_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()
# A forked process (a CLI job, a test's writer) starts with no lock held: a copy of one that another
# thread of the parent held at the fork would never be released in the child.
os.register_at_fork(after_in_child=lambda: _THREAD_LOCKS.clear())


def _thread_lock(lock_path: Path) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(lock_path, threading.Lock())


def _queue_for_writing(lock_path: Path) -> tuple[threading.Lock, FileLock]:
    """Wait for this process's turn, then for the writers' lock file (see the module docstring); returns
    both locks, held."""
    started = time.monotonic()
    in_process = _thread_lock(lock_path)
    if not in_process.acquire(timeout=WRITER_QUEUE_TIMEOUT_S):
        raise sqlite3.OperationalError(
            f"database is locked: another writer held it for over {WRITER_QUEUE_TIMEOUT_S:g} s")
    lock = FileLock(lock_path, timeout=max(WRITER_QUEUE_TIMEOUT_S - (time.monotonic() - started), 0.0), mode=0o600)
    try:
        lock.acquire(poll_interval=WRITER_QUEUE_POLL_S)
    except Timeout:
        in_process.release()
        raise sqlite3.OperationalError(
            f"database is locked: another writer held it for over {WRITER_QUEUE_TIMEOUT_S:g} s") from None
    return in_process, lock


def _leave_queue(conn) -> None:
    held = conn.info.pop(_QUEUE_LOCK, None)
    if held is not None:
        in_process, lock = held
        lock.release()
        in_process.release()


def make_engine(url: str) -> Engine:
    """Engine for a DATABASE_URL, with the SQLite settings that keep concurrent nurses lock-free."""
    url = normalise_database_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    lock_path = None
    if url.startswith("sqlite:///") and ":memory:" not in url:
        database = Path(url[len("sqlite:///"):].split("?", 1)[0])
        database.parent.mkdir(parents=True, exist_ok=True)
        lock_path = database.with_name(database.name + "-writers.lock")
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                              "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below owns BEGIN
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # REPLACE's implicit delete then fires the append-only DELETE triggers (issue 16 item 8).
        cur.execute("PRAGMA recursive_triggers=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        if conn.get_execution_options().get(READ_ONLY):
            # A reader (read_scope): a deferred BEGIN reads the WAL snapshot and never waits for a
            # writer (issue 16 item 11: page reads waited 5-7 s behind a 200,000-row lab import);
            # query_only makes any write in it fail at once instead of queueing behind the writers.
            conn.exec_driver_sql("PRAGMA query_only=ON")
            conn.exec_driver_sql("BEGIN")
            return
        conn.exec_driver_sql("PRAGMA query_only=OFF")
        if lock_path is not None:
            conn.info[_QUEUE_LOCK] = _queue_for_writing(lock_path)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave_queue(conn)
            raise

    # The turn ends with the transaction, however it ends (a killed process drops its lock too).
    event.listen(engine, "commit", _leave_queue)
    event.listen(engine, "rollback", _leave_queue)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error (nothing is half saved)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads (pages, reports): on SQLite it takes no write lock and waits for
    no writer, and refuses any write; on PostgreSQL it is an ordinary transaction (readers never wait
    there). Nothing to commit: closing the session ends the transaction, and rows read stay readable."""
    with Session(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False) as session:
        yield session


def time_as_stored(session: Session, column):
    """A timestamp column as SQLite stores it (ISO text, UTC), to be parsed vectorised by pandas
    (pd.to_datetime(..., utc=True)): ten times faster than SQLAlchemy's per-value parsing on large
    reads. Unchanged elsewhere (psycopg already returns datetimes)."""
    return type_coerce(column, String) if session.get_bind().dialect.name == "sqlite" else column


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_database_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the schema to the latest migration (idempotent)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    """The latest migration of this code (read once per process)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "the migrations directory holds no revision"
    return head


def schema_problem(engine: Engine) -> str | None:
    """Why this code cannot use the database's schema (None when it is current). Schemas change only
    through `il2-monitor db upgrade` (and make run), never as a side effect of another command."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return None
    if current is None:
        return "the database has no schema yet: run `il2-monitor db upgrade` first (make run does)"
    return (f"the database schema is at revision {current} and this version needs {head}: run "
            "`il2-monitor db upgrade` first (make run does)")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
