"""De-identification for quality exports (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).

Exports never read PatientIdentity (names, record numbers, birth dates); the patient is a stable
pseudonym per export key, and every date becomes days (fractional) from the start of the course.

* `pseudonym(patient_id, export_key)`: "P-" + the first 10 hex digits of HMAC-SHA256(export key,
  patient id). The same patient gets the same pseudonym in every export made with the same key (so
  a quality team can follow a patient across monthly exports), a different one under another key,
  and the pseudonym cannot be turned back into the database id without the key. The key is the
  export's own secret (an argument or IL2_EXPORT_KEY); it is never written into the export.
* `days_from(times, start)`: elapsed days from the course start, rounded to 0.01 day (about 15 min),
  so no calendar date or time of day leaves the system. Safe Harbor also removes ages over 89 and
  geographic units below the state; exports here carry neither.
* `scrub_reason(text)`: free text typed by staff (a hold reason written in, a decline note) may hold
  a name, a date or a record number that no program can reliably find, so a de-identified export
  keeps only the parts of a reason the engine wrote (hold criteria "absolute: ...", "relative: ...",
  "discontinue: ...", with their clock times removed) and replaces everything typed by
  FREE_TEXT_WITHHELD. Identifiable exports keep the text as typed.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import numpy as np
import pandas as pd

from monitoring.text import split_top_level

FREE_TEXT_WITHHELD = "[free text withheld in a de-identified export]"
# The engine's hold criteria as the pre-dose check words them (monitoring.dosing.Criterion.reason).
CRITERION_PREFIXES = ("discontinue: ", "absolute: ", "relative: ")
# "at 2026-11-25 05:48Z", "at 2026-11-25T05:48:00Z", "to 2026-11-25 05:48Z" and bare "05:48Z".
_DATE_TIME = re.compile(r"\s*\b(?:at|to|from)\s+\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
                        r"|\s*\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?Z?)?|\s*\b\d{2}:\d{2}Z\b")
PSEUDONYM_PREFIX = "P-"
PSEUDONYM_HEX_DIGITS = 10
DAY_DECIMALS = 2


def new_export_key() -> str:
    """A random key for a one-off export (pseudonyms then match nothing else)."""
    return secrets.token_hex(16)


def pseudonym(patient_id: int, export_key: str) -> str:
    """The patient's stable pseudonym under `export_key` (see module doc)."""
    if not export_key:
        raise ValueError("an export key is needed for pseudonyms (IL2_EXPORT_KEY or --key)")
    digest = hmac.new(export_key.encode(), str(int(patient_id)).encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_DIGITS]


def pseudonyms(patient_ids: pd.Series, export_key: str) -> pd.Series:
    """`pseudonym` of each id (computed once per distinct id)."""
    mapping = {pid: pseudonym(pid, export_key) for pid in pd.unique(patient_ids.dropna())}
    return patient_ids.map(mapping)


def days_from(times: pd.Series, start: pd.Series | pd.Timestamp) -> pd.Series:
    """Days from `start` (aligned series or one time), rounded to DAY_DECIMALS; NaN where missing."""
    delta = pd.to_datetime(times, utc=True) - (pd.to_datetime(start, utc=True))
    days = delta.dt.total_seconds() / 86_400
    return days.round(DAY_DECIMALS).astype(float).where(days.notna(), np.nan)


def scrub_reason(text: str | None) -> str | None:
    """A staff-entered reason fit for a de-identified export (see module doc); None stays None."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    kept = []
    for part in split_top_level(str(text)):
        if part.startswith(CRITERION_PREFIXES):
            kept.append(_DATE_TIME.sub("", part))
        elif not kept or kept[-1] != FREE_TEXT_WITHHELD:
            kept.append(FREE_TEXT_WITHHELD)
    return "; ".join(kept)
