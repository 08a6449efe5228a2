"""De-identification for quality exports: pseudonyms per export key, days from the course start, and
free text typed by staff withheld (HIPAA Safe Harbor, 45 CFR 164.514(b)(2))."""
from __future__ import annotations

import pandas as pd
import pytest

from monitoring.deid import FREE_TEXT_WITHHELD, days_from, pseudonym, pseudonyms, scrub_reason


def test_a_pseudonym_is_stable_for_a_key_differs_between_keys_and_needs_a_key():
    assert pseudonym(42, "ward-7-2026") == pseudonym(42, "ward-7-2026")
    assert pseudonym(42, "ward-7-2026") != pseudonym(42, "another")
    assert pseudonym(42, "k") != pseudonym(43, "k")
    assert pseudonym(42, "k").startswith("P-") and "42" not in pseudonym(42, "k")[2:4]
    assert pseudonyms(pd.Series([42, 43, 42]), "k").tolist() == [pseudonym(42, "k"), pseudonym(43, "k"),
                                                                pseudonym(42, "k")]
    with pytest.raises(ValueError, match="export key"):
        pseudonym(42, "")


def test_times_become_days_from_the_course_start_and_missing_stays_missing():
    start = pd.Timestamp("2026-11-01T14:00Z")
    times = pd.Series(pd.to_datetime(["2026-11-01T14:00Z", "2026-11-02T02:00Z", "2026-10-31T14:00Z", None],
                                     utc=True))
    days = days_from(times, start)
    assert days.iloc[:3].tolist() == [0.0, 0.5, -1.0] and pd.isna(days.iloc[3])


@pytest.mark.parametrize("typed, exported", [
    # The engine's hold criteria stay, without their clock times.
    ("absolute: SBP 81 mmHg at 2026-11-25 05:48Z (< 90: label, withhold)",
     "absolute: SBP 81 mmHg (< 90: label, withhold)"),
    ("relative: urine output 120 mL per 8 h to 2026-11-25T06:00:00Z (Dutcher relative; x)",
     "relative: urine output 120 mL per 8 h (Dutcher relative; x)"),
    # Anything typed by staff may name a person or a date: withheld, once.
    ("Mrs Example asked to wait until 27/11", FREE_TEXT_WITHHELD),
    ("absolute: SpO2 88% at 2026-11-25 05:48Z (< 90: label); seen by Dr Jones; call 07700 900123",
     f"absolute: SpO2 88% (< 90: label); {FREE_TEXT_WITHHELD}"),
    ("", ""),
    (None, None),
])
def test_free_text_is_withheld_and_engine_criteria_lose_their_times(typed, exported):
    assert scrub_reason(typed) == exported
