"""De-identification for quality exports (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).

Exports never read PatientIdentity (names, record numbers, birth dates); the patient is a stable
pseudonym per export key, and every date becomes days (fractional) from the start of the course.

* `pseudonym(pseudo_id, export_key)`: "P-" + the first 10 hex digits of HMAC-SHA256(export key,
  the patient's pseudo_id: 128 random bits kept with the patient, never shown or exported). The
  same patient gets the same pseudonym in every export made with the same key (so a quality team
  can follow a patient across monthly exports), a different one under another key. Neither the key
  nor the database id can be found from pseudonyms: the HMAC's input is random, not the sequential
  id (issue 16 item 6: a short key over sequential ids was found in under a millisecond), and the
  key must hold at least 128 bits (`export_key_problems`). The key is the export's own secret (an
  argument or IL2_EXPORT_KEY); it is never written into the export.
* `days_from(times, start)`: elapsed days from the course start, rounded to 0.01 day (about 15 min),
  so no calendar date or time of day leaves the system. Safe Harbor also removes ages over 89 and
  geographic units below the state; exports here carry neither.
* `deid_reason(criteria, note, reason)`: a held or stopped dose's reason fit for a de-identified
  export: the hold criteria chosen, by their names in the criteria table (monitoring/clinical/rules/
  hold_criteria.py, stored structured with the dose), and a mark that words typed by staff were
  withheld (they may name a person, a date or a record number that no program can reliably find).
  The reason's text is never read: a reason recorded before the criteria were stored is withheld
  whole. `withheld(text)` does the same for text that is only typed (a decline note).
  Identifiable exports keep the text as typed.
"""
from __future__ import annotations

import secrets

import numpy as np
import pandas as pd

# The scheme itself lives in the base layer, so that the administrator's audit view (a read model below
# this layer) computes its pseudonyms the same way.
from monitoring.pseudonyms import (  # noqa: F401 (this module's API)
    GENERATE_KEY,
    MIN_EXPORT_KEY_CHARS,
    PSEUDONYM_HEX_DIGITS,
    PSEUDONYM_PREFIX,
    export_key_problems,
    pseudonym,
)

FREE_TEXT_WITHHELD = "[free text withheld in a de-identified export]"
DAY_DECIMALS = 2


def new_export_key() -> str:
    """A random key of 128 bits (32 hex digits): keep it to get the same pseudonyms next month."""
    return secrets.token_hex(16)


def pseudonyms(pseudo_ids: pd.Series, export_key: str) -> pd.Series:
    """`pseudonym` of each pseudo_id (computed once per distinct one)."""
    mapping = {pid: pseudonym(pid, export_key) for pid in pd.unique(pseudo_ids.dropna())}
    return pseudo_ids.map(mapping)


def patient_pseudonyms(*, session, patient_ids, export_key: str) -> dict[int, str]:
    """{patient id: pseudonym} for these patients (reads only Patient.pseudo_id)."""
    from sqlalchemy import select

    from monitoring.store.models import Patient

    ids = [int(p) for p in patient_ids]
    found: dict[int, str] = {}
    for start in range(0, len(ids), 900):
        rows = session.execute(select(Patient.id, Patient.pseudo_id).where(Patient.id.in_(ids[start:start + 900])))
        found.update({int(pid): pseudonym(seed, export_key) for pid, seed in rows})
    return found


def days_from(times: pd.Series, start: pd.Series | pd.Timestamp) -> pd.Series:
    """Days from `start` (aligned series or one time), rounded to DAY_DECIMALS; NaN where missing."""
    delta = pd.to_datetime(times, utc=True) - (pd.to_datetime(start, utc=True))
    days = delta.dt.total_seconds() / 86_400
    return days.round(DAY_DECIMALS).astype(float).where(days.notna(), np.nan)


def deid_reason(criteria: list[str] | None, note: str | None, reason: str | None,
                values: dict[str, float] | None = None) -> str | None:
    """The reason of a held or stopped dose for a de-identified export (see module doc); None when the
    dose has no reason."""
    from monitoring.clinical.rules import hold_criteria as hc
    from monitoring.clinical.thresholds import default_thresholds

    values = values if values is not None else default_thresholds()["il2_hold"].values
    named = [hc.wording(hc.BY_ID[c], values, named=True) for c in (criteria or []) if c in hc.BY_ID]
    # A note that is missing reads NaN from a frame: not typed text (it marked every reason as withheld).
    typed = _present(note) or (not named and _present(reason))
    if not named and not typed:
        return None
    return "; ".join(named + ([FREE_TEXT_WITHHELD] if typed else []))


def withheld(text: str | None) -> str | None:
    """Text typed by staff, in a de-identified export: withheld whole (None stays None)."""
    return FREE_TEXT_WITHHELD if _present(text) else None


def _present(text) -> bool:
    return text is not None and not (isinstance(text, float) and np.isnan(text)) and bool(str(text).strip())
