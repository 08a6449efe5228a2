"""Installs anywhere (issue 17): a wheel built from the repository, installed in a fresh virtual
environment and run from a folder outside the checkout, upgrades a database, seeds the demo,
evaluates a file and serves the dashboard, which a browser signs in to. Before, data/*.toml were not
in the wheel ('data/catalogue.toml: file not found') and the default database went into
site-packages."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bench.streamlit_server import free_port
from tests.e2e.conftest import wait_for_app_run
from tests.e2e.test_smoke import sign_in

ROOT = Path(__file__).resolve().parents[2]


def run(*command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the environment's python, its il2-monitor, a working folder outside the checkout, its env)."""
    base = tmp_path_factory.mktemp("wheel")
    dist, env_dir, work = base / "dist", base / "env", base / "work"
    work.mkdir()
    # Built from a copy of the tracked files: a build in the checkout would leave build/ behind, and
    # nothing untracked (a local database, a stale build) may slip into the wheel.
    source = base / "source"
    tracked = run("git", "-C", ROOT, "ls-files", "-z").stdout.split("\0")
    for name in filter(None, tracked):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-w", dist, "-q")
    wheel, = dist.glob("il2_monitor-*.whl")
    run(sys.executable, "-m", "venv", env_dir)
    python = env_dir / "bin" / "python"
    # The dependencies come from the test environment's site-packages (added as a plain path: its .pth
    # files, the checkout's editable install among them, are not processed), the monitor from the wheel.
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (site / "il2_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel)
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "IL2_DATA_DIR", "PYTHONPATH")}
    environ["XDG_DATA_HOME"] = str(base / "xdg")
    return python, env_dir / "bin" / "il2-monitor", work, environ, site


def test_the_installed_wheel_runs_outside_the_checkout(installed, browser):
    python, cli, work, environ, site = installed
    where = run(python, "-c", "import monitoring, il2_monitor_data; print(monitoring.__file__); "
                              "print(il2_monitor_data.__file__)", cwd=work, env=environ).stdout
    assert str(ROOT) not in where and str(site) in where   # the wheel's copy, not the checkout's
    assert run(cli, "--version", cwd=work, env=environ).stdout.startswith("il2-monitor 0.")
    run(cli, "db", "upgrade", cwd=work, env=environ)
    database = Path(environ["XDG_DATA_HOME"]) / "il2-monitor" / "il2_monitor.db"
    assert database.is_file() and not list(site.rglob("*.db"))   # in the user's data folder
    assert "SYNTHETIC demo ward written" in run(cli, "demo", cwd=work, env=environ).stdout
    (work / "obs.csv").write_text("patient_id,time,code,value,unit\nP1,2026-11-27T08:00:00Z,temperature,39.5,Cel\n"
                                  "P1,2026-11-27T08:00:00Z,heart_rate,125,/min\n")
    assert "sepsis-screen" in run(cli, "evaluate", "obs.csv", cwd=work, env=environ).stdout
    # The dashboard from the installed package, started from the working folder (no .streamlit there).
    port = free_port()
    log = open(work / "streamlit.log", "w")
    server = subprocess.Popen([python, "-m", "streamlit", "run", site / "dashboard" / "app.py", "--server.headless",
                               "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--browser.gatherUsageStats", "false"], cwd=work, env=environ, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        _wait_healthy(port, server)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}")
        wait_for_app_run(page)
        expect(page.get_by_role("heading", name="IL-2 Toxicity Monitor")).to_be_visible()
        # The helper waits for the signed-in run itself (the sign-in form's finished run came first and
        # the heading was looked for before the page had drawn it), then for the page's run.
        sign_in(page, "nurse")
        expect(page.get_by_role("heading", name="Ward overview")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        context.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def _wait_healthy(port: int, server) -> None:
    import time
    import urllib.request
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the installed dashboard did not become healthy")
