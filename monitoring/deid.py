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
* `deid_reason(criteria, note, reason)`: a held or stopped dose's reason fit for a de-identified
  export: the hold criteria chosen, by their names in the criteria table (monitoring/rules/
  hold_criteria.py, stored structured with the dose), and a mark that words typed by staff were
  withheld (they may name a person, a date or a record number that no program can reliably find).
  The reason's text is never read: a reason recorded before the criteria were stored is withheld
  whole. `withheld(text)` does the same for text that is only typed (a decline note).
  Identifiable exports keep the text as typed.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

import numpy as np
import pandas as pd


FREE_TEXT_WITHHELD = "[free text withheld in a de-identified export]"
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


def deid_reason(criteria: list[str] | None, note: str | None, reason: str | None,
                values: dict[str, float] | None = None) -> str | None:
    """The reason of a held or stopped dose for a de-identified export (see module doc); None when the
    dose has no reason."""
    from monitoring.rules import hold_criteria as hc
    from monitoring.thresholds import default_thresholds

    values = values if values is not None else default_thresholds()["il2_hold"].values
    named = [hc.wording(hc.BY_ID[c], values, named=True) for c in (criteria or []) if c in hc.BY_ID]
    typed = bool(note and str(note).strip()) or (not named and _present(reason))
    if not named and not typed:
        return None
    return "; ".join(named + ([FREE_TEXT_WITHHELD] if typed else []))


def withheld(text: str | None) -> str | None:
    """Text typed by staff, in a de-identified export: withheld whole (None stays None)."""
    return FREE_TEXT_WITHHELD if _present(text) else None


def _present(text) -> bool:
    return text is not None and not (isinstance(text, float) and np.isnan(text)) and bool(str(text).strip())
