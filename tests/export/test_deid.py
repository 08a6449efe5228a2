"""De-identification for quality exports: pseudonyms per export key, days from the course start, and
free text typed by staff withheld (HIPAA Safe Harbor, 45 CFR 164.514(b)(2))."""
from __future__ import annotations

import pandas as pd
import pytest

from monitoring.export.deid import FREE_TEXT_WITHHELD, days_from, deid_reason, pseudonym, pseudonyms, withheld

KEY = "4f1c9a7e2b8d6053e1a9c47b2f8d0e63"      # 32 hex digits: 128 bits
OTHER_KEY = "c0ffee9a7e2b8d6053e1a9c47b2f8d0e61"
SEED, OTHER_SEED = "9b2e4c1a7f3d8e6b0a5c2f9e1d4b7a3c", "1e7d3b9f5a2c8e4d6b0f3a9c7e1d5b2a"


def test_a_pseudonym_is_stable_for_a_key_differs_between_keys_and_needs_a_key():
    assert pseudonym(SEED, KEY) == pseudonym(SEED, KEY)
    assert pseudonym(SEED, KEY) != pseudonym(SEED, OTHER_KEY)
    assert pseudonym(SEED, KEY) != pseudonym(OTHER_SEED, KEY)
    assert pseudonym(SEED, KEY).startswith("P-") and len(pseudonym(SEED, KEY)) == 12
    assert pseudonyms(pd.Series([SEED, OTHER_SEED, SEED]), KEY).tolist() == [
        pseudonym(SEED, KEY), pseudonym(OTHER_SEED, KEY), pseudonym(SEED, KEY)]
    with pytest.raises(ValueError, match="export key"):
        pseudonym(SEED, "")


@pytest.mark.parametrize("key, accepted", [
    ("k", False), ("ward-7-2026", False),                      # keys the tests and users typed before
    (KEY[:31], False), (KEY, True), (KEY + "9", True),          # 31, 32, 33 characters
    ("a" * 40, False), ("ab" * 20, False),                     # long but not random
])
def test_an_export_key_needs_128_bits(key, accepted):
    """Issue 16 item 6: with any key over sequential ids, a short key was recovered in under 1 ms."""
    from monitoring.export.deid import export_key_problems, new_export_key
    assert (export_key_problems(key) == []) is accepted
    if not accepted:
        assert "at least 32 random characters (128 bits)" in export_key_problems(key)[0]
        with pytest.raises(ValueError, match="128 bits"):
            pseudonym(SEED, key)
    assert export_key_problems(new_export_key()) == []


def test_pseudonyms_are_computed_from_a_random_identifier_not_the_database_id(engine):
    """Patients get 128 random bits at insert (demo's bulk writer included); nothing sequential is hashed."""
    from sqlalchemy import select

    from monitoring.export.deid import patient_pseudonyms
    from monitoring.store.db import session_scope
    from monitoring.store.models import Patient
    from tests.factories import make_patient_with_course
    first, _ = make_patient_with_course(engine, mrn="SYN-A")
    second, _ = make_patient_with_course(engine, mrn="SYN-B")
    with session_scope(engine) as session:
        seeds = dict(session.execute(select(Patient.id, Patient.pseudo_id)).all())
        names = patient_pseudonyms(session=session, patient_ids=[first, second], export_key=KEY)
    assert all(len(seed) == 32 and int(seed, 16) >= 0 for seed in seeds.values()) and len(set(seeds.values())) == 2
    assert names == {first: pseudonym(seeds[first], KEY), second: pseudonym(seeds[second], KEY)}
    assert names[first] != pseudonym(str(first), KEY)


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


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_deidentified_file_carries_no_export_time(fmt):
    """Issue 16 item 6: zip entry times and the workbook's created/modified properties carried the
    export time, which with each course's 'days from start' dates the courses."""
    import io
    import re
    import zipfile
    from datetime import datetime, timezone

    from monitoring.export import writers as export
    tables = {"courses": pd.DataFrame({"course_ref": ["P-0123456789-C1"], "last_day": [3.25]})}
    docs = {"course_ref": ("", "course"), "last_day": ("day", "last day")}
    data = export.render(tables, fmt, docs=docs, synthetic=True, deidentified=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {item.date_time for item in archive.infolist()} == {export.ZIP_TIME}
        if fmt == "xlsx":
            core = archive.read("docProps/core.xml").decode()
            assert re.findall(r"<dcterms:(?:created|modified)[^>]*>([^<]*)<", core) == [export.OFFICE_TIME] * 2
    year = str(datetime.now(timezone.utc).year)
    assert year not in export.filename(fmt)
    assert export.filename(fmt, identifiable=True).startswith("il2-quality-export-IDENTIFIABLE-" + year)
