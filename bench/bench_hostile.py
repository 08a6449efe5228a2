"""Benchmark: the hostile-input suite at scale (issue 16: at least 100,000 generated cases, 0 tracebacks).

Runs the pure hypothesis properties of tests/clinical/test_hostile_input.py in this process with
IL2_HOSTILE_SCALE raised (make test runs 200 cases per property; here 16,000): observation values
(scalar and vectorised validation behind every entry field), the long observation file, the
--courses and --doses files and urine periods of the CLI, the SSO cookie secret, the export key and
the Reports months. The database properties (a whole set, the lab import, account fields, on both
databases) keep their make-test counts. A case passes when its input is read whole and plausible or
refused with a message naming its row and column; anything else (an uncaught exception, a wrong
verdict) fails the run and is counted.

    .venv/bin/python -m bench.bench_hostile [--quick]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_CASES = 100_000
SCALE, QUICK_SCALE = 80, 2   # x 200 cases per property
PURE_PROPERTIES = ("validate_returns or validate_frame_agrees or read_long_frame_returns or courses_file_is_read "
                   "or doses_file_is_read or urine_period or settings_fields")


def run(quick: bool = False) -> list[dict]:
    import pytest

    os.environ["IL2_HOSTILE_SCALE"] = str(QUICK_SCALE if quick else SCALE)
    started = time.perf_counter()
    code = pytest.main(["-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
                        str(ROOT / "tests" / "clinical" / "test_hostile_input.py"), "-k", PURE_PROPERTIES])
    elapsed = time.perf_counter() - started
    from tests.clinical.test_hostile_input import CASES
    cases = sum(CASES.values())
    detail = ", ".join(f"{name} {count:,}" for name, count in sorted(CASES.items()))
    print(f"bench_hostile: {cases:,} cases ({detail}) in {elapsed:.0f} s, pytest exit {code}", file=sys.stderr)
    return [{"figure": f"hostile inputs, generated cases with 0 tracebacks and 0 wrong verdicts ({detail})",
             "value": cases, "unit": "cases", "throughput_per_s": cases / elapsed, "target": f">= {TARGET_CASES:,}",
             "peer": None, "ratio": None, "met": (code == 0 and cases >= TARGET_CASES) if not quick else code == 0}]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(f"{row['figure']}: {row['value']:,} {row['unit']}  target {row['target']}  met={row['met']}")
