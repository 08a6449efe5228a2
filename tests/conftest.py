"""Shared fixtures: the same repository tests run on SQLite and, when TEST_DATABASE_URL is set, on
PostgreSQL (reported as skipped with the reason otherwise)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.config import normalise_database_url
from monitoring.store.db import make_engine, upgrade
from tests.factories import empty_postgres


def _scan_installed_components_once() -> None:
    """AppTest scans every installed distribution for Streamlit component manifests when each AppTest
    first runs (about 55 ms on this kind of machine, and the suite makes hundreds of AppTests); the
    installed packages do not change during a test run, so the scan is made once."""
    from streamlit.components.v2 import manifest_scanner

    found = manifest_scanner.scan_component_manifests()
    manifest_scanner.scan_component_manifests = lambda max_workers=None: list(found)


_scan_installed_components_once()


def _cheap_password_hashing() -> None:
    """argon2id with the library's defaults takes about 0.1 s and 64 MiB per hash or check, and the
    suite creates and signs in hundreds of accounts. Tests in this process use argon2id at its
    cheapest (1 pass, 1 MiB); the production parameters are unchanged, and the browser tests' servers
    (other processes) use them."""
    from argon2 import PasswordHasher

    from monitoring.services import auth
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    auth._DUMMY_HASH = auth._hasher.hash("not-a-real-password-0")


_cheap_password_hashing()

PG_SKIP_REASON = ("TEST_DATABASE_URL is not set: PostgreSQL tests need a database they may fill and empty "
                  "(.ci/run creates one)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url(request) -> Iterator[str]:
    """TEST_DATABASE_URL, migrated. Under pytest-xdist each worker gets a database of its own on the same
    server (the URL's name + '_gw0', created here and dropped at the end), so the PostgreSQL tests can
    run on every core: each test empties its database first."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip(PG_SKIP_REASON)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        upgrade(url)
        yield url
        return
    own = _worker_database(url, worker, create=True)
    try:
        upgrade(own)
        yield own
    finally:
        _worker_database(url, worker, create=False)


def _worker_database(url: str, worker: str, *, create: bool) -> str:
    """Create (or drop) the worker's database beside TEST_DATABASE_URL's; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(normalise_database_url(url))
    name = f"{base.database}_{worker}"
    server = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, sqlite_template) -> str:
    """A database URL holding the current schema and no rows."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture
def app_db_url(tmp_path, sqlite_template, monkeypatch) -> str:
    """An empty SQLite app database the dashboard under AppTest uses (DATABASE_URL set; Streamlit's
    process-global resource cache cleared before and after, so no engine leaks between tests)."""
    import streamlit as st

    path = tmp_path / "app.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_resource.clear()
    yield url
    st.cache_resource.clear()


def seed_demo_ward(url: str, *, patients: int, days: int, seed: int, end, sync: bool = False) -> None:
    """A synthetic demo ward (monitoring.demo.seed) and the demo accounts, optionally with its alerts."""
    from monitoring.demo import seed as demo
    from monitoring.services import auth
    from monitoring.services.alerting import sync_alerts
    from monitoring.store.db import session_scope

    engine = make_engine(url)
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=demo.generate_ward(patients=patients, days=days, seed=seed, end=end))
    with session_scope(engine) as session:
        if sync:
            sync_alerts(session=session)
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    engine.dispose()


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


_marker_outcomes: dict[str, dict[str, int]] = {"postgres": {}, "browser": {}}


def pytest_runtest_logreport(report):
    """Count outcomes of the PostgreSQL and browser tests for the closing summary (.ci/run reads it)."""
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        for marker, outcomes in _marker_outcomes.items():
            if marker in report.keywords:
                outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter):
    for marker, outcomes in _marker_outcomes.items():
        text_ = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "none collected"
        terminalreporter.write_line(f"{marker} tests: {text_}")
