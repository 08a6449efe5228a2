"""The il2-monitor command line as an operator uses it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env_url: str | None = None) -> subprocess.CompletedProcess:
    import os
    env = {**os.environ}
    if env_url:
        env["DATABASE_URL"] = env_url
    return subprocess.run([sys.executable, "-m", "monitoring", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)


def test_db_upgrade_then_demo_if_empty_seeds_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'ward.db'}"
    assert run_cli("db", "upgrade", env_url=url).returncode == 0
    first = run_cli("demo", "--if-empty", "--end", "2026-11-27T08:00:00Z", env_url=url)
    assert first.returncode == 0, first.stderr
    assert "SYNTHETIC" in first.stdout
    second = run_cli("demo", "--if-empty", env_url=url)
    assert second.returncode == 0 and "not added" in second.stdout


def test_bad_settings_and_arguments_exit_2_with_a_message(tmp_path):
    bad_url = run_cli("db", "upgrade", env_url="mysql://x@y/z")
    assert bad_url.returncode == 2 and "DATABASE_URL" in bad_url.stderr
    naive = run_cli("demo", "--end", "2026-11-27T08:00:00", env_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert naive.returncode == 2 and "time zone" in naive.stderr
    zero = run_cli("demo", "--patients", "0", env_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert zero.returncode == 2 and "--patients" in zero.stderr
