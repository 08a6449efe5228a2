"""A real `streamlit run` of the dashboard on a free port, for the browser tests and benchmarks."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(database_url: str, log_path: Path, port: int | None = None, env: dict | None = None) -> Iterator[str]:
    """Start the dashboard against `database_url`; yield its URL once healthy; stop it afterwards."""
    with serve_process(database_url, log_path, port=port, env=env) as (url, _):
        yield url


@contextmanager
def serve_process(database_url: str, log_path: Path, port: int | None = None, env: dict | None = None
                  ) -> Iterator[tuple[str, subprocess.Popen]]:
    """As serve, yielding (URL, the server's process) for what is measured of the process itself."""
    port = port or free_port()
    log = open(log_path, "w+")  # a file, not a pipe: a full pipe can stall the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, **(env or {}), "DATABASE_URL": database_url}, stdout=log,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                log.seek(0)
                raise RuntimeError("streamlit did not become healthy:\n" + log.read())
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
