"""Every row of the scenario tables (tests/clinical/*.csv) through monitoring.evaluate."""
from __future__ import annotations

import pytest

from tests.clinical.scenarios import COLUMNS, check, load

CASES = load()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_scenario(case):
    check(case)


def test_every_case_names_its_reason_and_source_and_ids_are_unique():
    assert all(c.reason and c.source and c.expect for c in CASES)
    assert len({c.id for c in CASES}) == len(CASES)
    assert COLUMNS == ["case", "reason", "source", "data", "doses", "course", "expect"]
