"""Bedside entry: which fields the form shows, and the feedback a nurse sees straight after saving.

The form is grouped by organ system. Vital signs come first in the order of the NEWS2 chart, so a
full set is typed top to bottom with the keyboard alone; the rest sits in collapsed groups.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlmodel import Session

from monitoring.alerting import list_alerts, sync_alerts
from monitoring.catalogue import Catalogue, default_catalogue
from monitoring.repository import current_observations
from monitoring.scores import news2_response, score_frame
from monitoring.timefmt import elapsed_text

# NEWS2 chart order (RCP 2017 Chart 1), then the other bedside vital signs.
VITAL_SIGNS = ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "o2_flow", "sbp", "dbp", "heart_rate",
               "consciousness", "temperature")
LAB_SYSTEMS = ("hematologic", "hepatic", "metabolic")
LABS = ("anc", "wbc", "lymphocytes", "eosinophils", "platelets", "hemoglobin", "creatinine", "bilirubin", "ast",
        "alt", "alp", "albumin", "sodium", "potassium", "magnesium", "lactate", "crp")
SCORE_CODES = ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "sbp", "heart_rate", "consciousness", "temperature",
               "wbc", "gcs")


def entry_groups(catalogue: Catalogue | None = None) -> dict[str, list[str]]:
    """Form sections: vital signs first, then each organ system's other bedside codes, then labs."""
    catalogue = catalogue or default_catalogue()
    groups: dict[str, list[str]] = {"vital signs": [c for c in VITAL_SIGNS if c in catalogue]}
    taken = set(groups["vital signs"]) | set(LABS)
    for system, entries in catalogue.by_organ_system().items():
        codes = [e.code for e in entries if e.code not in taken]
        if codes:
            groups[system] = codes
    groups["laboratory results (entered by hand)"] = [c for c in LABS if c in catalogue]
    return groups


@dataclass
class Feedback:
    news2: int | None
    band: str | None
    missing: str
    frequency: str | None
    frequency_hours: float | None
    response: str | None
    alerts: pd.DataFrame
    counts: dict[str, int]
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)


def set_scores(values: dict[str, object], observed_at: datetime) -> pd.DataFrame:
    """NEWS2, qSOFA and SIRS of one set, from its own values only (missing stays missing)."""
    row = {"patient_id": "p", "time": observed_at}
    row.update({code: values[code] for code in SCORE_CODES if values.get(code) is not None})
    return score_frame(pd.DataFrame([row]))


def after_save(*, session: Session, patient_id: int, values: dict[str, object], observed_at: datetime,
               username: str, now: datetime) -> Feedback:
    """What the nurse sees at once: the set's NEWS2 and monitoring frequency (RCP Chart 4), the
    alerts the set raised or changed, and the last 24 h of the values just entered."""
    scored = set_scores(values, observed_at).iloc[0]
    news2 = None if pd.isna(scored["news2"]) else int(scored["news2"])
    band = None if pd.isna(scored["news2_band"]) else str(scored["news2_band"])
    frequency = hours = response = None
    if band is not None:
        frequency, hours, response = news2_response(band, news2)
    counts = sync_alerts(session=session, patient_ids=[patient_id], username=username, now=now)
    alerts = list_alerts(session=session, patient_ids=[patient_id], include_info=False)
    recent = alerts[(alerts["status"] == "open") & (alerts["last_evaluated_at"] >= now - timedelta(seconds=5))]
    trend = current_observations(session=session, patient_ids=[patient_id], codes=list(values),
                                 since=observed_at - timedelta(hours=24))
    return Feedback(news2=news2, band=band, missing=str(scored["news2_missing"]), frequency=frequency,
                    frequency_hours=hours, response=response, alerts=recent, counts=counts,
                    trend=trend[["code", "observed_at", "value_num", "unit"]])


def next_set_due(last_set_at: datetime | None, scored_at: datetime | None,
                 frequency_hours: float | None) -> datetime | None:
    """When the next full set is due (RCP 2017 Chart 4), by elapsed time: the last complete set's
    monitoring interval after it; without a complete set, the low band's shorter interval (NEWS2
    1-4) after the last set of any kind, never a longer one; None when no set was ever recorded
    (due now) or monitoring is continuous (interval 0)."""
    if last_set_at is None or pd.isna(last_set_at):
        return None
    if scored_at is None or pd.isna(scored_at) or frequency_hours is None or pd.isna(frequency_hours):
        return last_set_at + timedelta(hours=news2_response("low")[1])
    if frequency_hours == 0:
        return None
    return scored_at + timedelta(hours=float(frequency_hours))


def due_text(last_set_at: datetime | None, scored_at: datetime | None, frequency_hours: float | None,
             now: datetime) -> str:
    """'last set 3 h 10 min ago, due 40 min ago' by elapsed time (never calendar day)."""
    if last_set_at is None or pd.isna(last_set_at):
        return "no observation set recorded yet: due now"
    text = f"last set {elapsed_text(now - last_set_at)} ago"
    complete = not (scored_at is None or pd.isna(scored_at))
    if complete and frequency_hours == 0:
        return text + "; continuous monitoring (NEWS2 7 or more)"
    if not complete:
        text += " (no complete set with a NEWS2 in the last 24 h)"
    elif scored_at != last_set_at:
        text += f"; last complete set {elapsed_text(now - scored_at)} ago"
    due = next_set_due(last_set_at, scored_at, frequency_hours)
    return text + (f", due {elapsed_text(now - due)} ago" if due <= now else f", next due in {elapsed_text(due - now)}")
