"""make bench: run every benchmark and write the table into docs/performance.md (between the bench markers).

    .venv/bin/python -m bench.run [--quick] [--no-readme]
"""
from __future__ import annotations

import importlib
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["bench.bench_scores", "bench.bench_ctcae", "bench.bench_engine", "bench.bench_storage", "bench.bench_entry",
           "bench.bench_export", "bench.bench_print", "bench.bench_hostile", "bench.bench_browser", "bench.bench_pages",
           "bench.bench_concurrency"]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}, {platform.system()}"


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.3g}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict], quick: bool) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip() or "uncommitted"
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {machine()}, commit {commit}"
             + (" (quick mode: smaller inputs)" if quick else "") + ".", "",
             "| Figure | Value | Throughput /s | Target | Peer | Ratio to peer | Met |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {fmt(r['value'])} {r.get('unit', '')} | {fmt(r.get('throughput_per_s'))} "
                     f"| {fmt(r.get('target'))} | {fmt(r.get('peer'))} | {fmt(r.get('ratio'))} | {fmt(r.get('met'))} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    rows = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"bench: {name} not available ({exc})", file=sys.stderr)
            continue
        print(f"bench: running {name}", file=sys.stderr)
        rows += module.run(quick=quick)
    text = table(rows, quick)
    print(text)
    if "--no-readme" not in argv:
        readme = ROOT / "docs" / "performance.md"
        content = readme.read_text()
        if START in content and END in content:
            content = re.sub(re.escape(START) + ".*?" + re.escape(END), f"{START}\n{text}\n{END}", content,
                             flags=re.S)
            readme.write_text(content)
            print("bench: docs/performance.md updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
