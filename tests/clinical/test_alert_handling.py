"""thresholds.toml [alert_handling]: a hospital's edit that would let a worse alert sleep longer than a
milder one, or leave a severity out, is refused by name before use."""
from __future__ import annotations

import copy
import tomllib

import pytest

from monitoring.clinical.thresholds import REPO_ROOT, ThresholdsError, parse_section

SHIPPED = tomllib.loads((REPO_ROOT / "data" / "thresholds.toml").read_text(encoding="utf-8"))["alert_handling"]


def edited(**changes) -> dict:
    data = copy.deepcopy(SHIPPED)
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def test_the_shipped_section_offers_the_durations_rcp_chart_4_allows():
    handling = parse_section("alert_handling", SHIPPED)
    assert handling.choices("emergency") == [15, 30] and handling.choices("urgent") == [15, 30, 60]
    assert handling.needs_reason("urgent") and not handling.needs_reason("warning")


@pytest.mark.parametrize("changes, key", [
    ({"max_snooze_minutes": {"emergency": 120}}, "alert_handling.max_snooze_minutes"),  # longer than urgent
    ({"max_snooze_minutes": {"emergency": 10}}, "alert_handling.max_snooze_minutes"),   # below the shortest
    ({"max_snooze_minutes": {"critical": 5}}, "alert_handling.max_snooze_minutes"),     # not a severity
    ({"snooze_minutes": [60, 30]}, "alert_handling.snooze_minutes"),
    ({"snooze_minutes": [0, 30]}, "alert_handling.snooze_minutes"),
    ({"reason_required_from": "red"}, "alert_handling.reason_required_from"),
])
def test_an_inconsistent_edit_is_refused_naming_its_key(changes, key):
    with pytest.raises(ThresholdsError, match=key.replace(".", r"\.")):
        parse_section("alert_handling", edited(**changes))
