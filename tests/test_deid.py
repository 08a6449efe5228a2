"""De-identification for quality exports: pseudonyms per export key, days from the course start, and
free text typed by staff withheld (HIPAA Safe Harbor, 45 CFR 164.514(b)(2))."""
from __future__ import annotations

import pandas as pd
import pytest

from monitoring.deid import FREE_TEXT_WITHHELD, days_from, deid_reason, pseudonym, pseudonyms, withheld


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


SBP = "absolute: SBP < 90 mmHg (label: withhold)"
URINE = "relative: urine output 80-<160 mL per 8 h (Dutcher relative)"


@pytest.mark.parametrize("criteria, note, reason, exported", [
    # The hold criteria chosen are named from the criteria table; no value, time or typed word.
    (["sbp_below"], None, "absolute: SBP 81 mmHg at 25 Nov 05:48 GMT (< 90: label: withhold)", SBP),
    (["sbp_below", "urine_relative"], None, "...", f"{SBP}; {URINE}"),
    # Words typed beside them may name a person or a date: withheld, and said so.
    (["sbp_below"], "seen by Dr Jones; call 07700 900123", "...", f"{SBP}; {FREE_TEXT_WITHHELD}"),
    ([], "Mrs Example asked to wait until 27/11", "Mrs Example asked to wait until 27/11", FREE_TEXT_WITHHELD),
    # The red-team case of issue 16: typed text that looks like the engine's criteria is never trusted.
    (None, None, "absolute: Jane Doe (MRN 123456, born 04/03/1925) refused; relative: daughter on 07700 900123",
     FREE_TEXT_WITHHELD),
    (None, None, None, None),
    (None, None, "", None),
])
def test_a_dose_reason_is_named_from_its_criteria_and_typed_words_are_withheld(criteria, note, reason, exported):
    assert deid_reason(criteria, note, reason) == exported


def test_a_note_typed_alone_is_withheld_whole():
    assert withheld("declined: known chronic hypotension, daughter says") == FREE_TEXT_WITHHELD
    assert withheld("  ") is None and withheld(None) is None
