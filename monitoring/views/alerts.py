"""Stored alerts as the pages list and count them (read only)."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from monitoring.store.models import Alert

ALERT_LIST_COLUMNS = ["id", "patient_id", "rule_id", "onset_at", "level", "severity", "status", "evidence_text",
                      "evidence", "standard", "context", "last_evaluated_at"]


def list_alerts(*, session: Session, patient_ids: Sequence[int] | None = None,
                include_info: bool = True) -> pd.DataFrame:
    """Stored alerts, newest onset first."""
    query = select(*[getattr(Alert, c) for c in ALERT_LIST_COLUMNS]).order_by(Alert.onset_at.desc(), Alert.id)
    if patient_ids is not None:
        query = query.where(Alert.patient_id.in_(list(patient_ids)))
    if not include_info:
        query = query.where(Alert.severity != "info")
    frame = pd.DataFrame.from_records([tuple(r) for r in session.execute(query).all()], columns=ALERT_LIST_COLUMNS)
    for column in ("onset_at", "last_evaluated_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def open_alert_counts(*, session: Session, patient_ids: Sequence[int] | None = None) -> dict[int, dict[str, int]]:
    """Open alerts (not expected effects) per patient and severity, for the ward list (these
    patients only, when given: the hospital's alerts are not counted for one ward)."""
    query = (select(Alert.patient_id, Alert.severity, func.count())
             .where(Alert.status == "open", Alert.severity != "info")
             .group_by(Alert.patient_id, Alert.severity))
    if patient_ids is not None:
        query = query.where(Alert.patient_id.in_(list(patient_ids)))
    rows = session.execute(query).all()
    counts: dict[int, dict[str, int]] = {}
    for patient_id, severity, n in rows:
        counts.setdefault(patient_id, {})[severity] = n
    return counts
