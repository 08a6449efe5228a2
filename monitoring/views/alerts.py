"""Stored alerts as the pages list and count them (read only)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session, col

from monitoring.store.models import Alert, AlertAction, AuditEvent, Bed, Patient, Ward

# Statuses that need someone's attention; a snoozed alert joins them when its snooze ends.
NEEDS_ATTENTION = ("open", "escalated")

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


@dataclass
class AlertBar:
    """What the open-alerts bar of every clinical page shows (issue 18 item 1)."""
    counts: dict[str, int]                      # severity -> alerts needing attention (expected effects aside)
    newest_emergency: dict | None               # ward, bed, rule_id, level, onset_at of the newest emergency
    events: list[dict] = field(default_factory=list)   # since the last look: new emergencies and escalations
    last_ids: tuple[int, int, int] = (0, 0, 0)  # the newest alert, action and audit ids seen: the next look's start


def _needing_attention(now: datetime):
    return or_(col(Alert.status).in_(NEEDS_ATTENTION),
               and_(col(Alert.status) == "snoozed", or_(col(Alert.snoozed_until).is_(None),
                                                        col(Alert.snoozed_until) <= now)))


def alert_bar(*, session: Session, ward_ids: Sequence[int], now: datetime,
              after_ids: tuple[int, int, int] | None = None) -> AlertBar:
    """Counts by severity of the alerts needing attention on these wards, the newest emergency with
    its bed, and (with `after_ids`, the last look's `last_ids`) since then: the emergencies stored,
    the alerts that rose to emergency or reopened as one (the evaluations' audit rows say which), and
    the escalations recorded, oldest first. Ids, not clocks: a row stamped before the last look but
    committed after it is still found, and none is reported twice."""
    wards = list(ward_ids)
    on_wards = col(Patient.ward_id).in_(wards)
    counts = dict(session.execute(
        select(col(Alert.severity), func.count()).join(Patient, col(Patient.id) == col(Alert.patient_id))
        .where(on_wards, col(Alert.severity) != "info", _needing_attention(now))
        .group_by(col(Alert.severity))).all()) if wards else {}
    place = (select(col(Alert.id), col(Ward.name), col(Bed.label), col(Alert.rule_id), col(Alert.level),
                    col(Alert.onset_at), col(Alert.severity))
             .join(Patient, col(Patient.id) == col(Alert.patient_id))
             .join(Ward, col(Ward.id) == col(Patient.ward_id), isouter=True)
             .join(Bed, col(Bed.id) == col(Patient.bed_id), isouter=True))
    keys = ("alert_id", "ward", "bed", "rule_id", "level", "onset_at", "severity")
    newest = session.execute(place.where(on_wards, col(Alert.severity) == "emergency", _needing_attention(now))
                             .order_by(col(Alert.onset_at).desc()).limit(1)).first() if wards else None
    last_ids = (int(session.scalar(select(func.max(col(Alert.id)))) or 0),
                int(session.scalar(select(func.max(col(AlertAction.id)))) or 0),
                int(session.scalar(select(func.max(col(AuditEvent.id)))) or 0))
    events: list[dict] = []
    if after_ids is not None and wards:
        last_alert, last_action, last_audit = after_ids
        for row in session.execute(place.add_columns(col(Alert.first_seen_at))
                                   .where(on_wards, col(Alert.severity) == "emergency", col(Alert.id) > last_alert,
                                          col(Alert.id) <= last_ids[0], col(Alert.status) != "retracted")).all():
            events.append({**dict(zip(keys, row[:7])), "kind": "new emergency", "at": row[7], "by": None, "to": None})
        for row in session.execute(place.add_columns(col(AlertAction.at), col(AlertAction.by),
                                                     col(AlertAction.escalated_to))
                                   .join(AlertAction, col(AlertAction.alert_id) == col(Alert.id))
                                   .where(on_wards, col(AlertAction.action) == "escalate",
                                          col(AlertAction.id) > last_action,
                                          col(AlertAction.id) <= last_ids[1])).all():
            events.append({**dict(zip(keys, row[:7])), "kind": "escalated", "at": row[7], "by": row[8],
                           "to": row[9]})
        worse: list[int] = []
        for after in session.scalars(select(col(AuditEvent.after)).where(
                col(AuditEvent.action) == "evaluate", col(AuditEvent.id) > last_audit,
                col(AuditEvent.id) <= last_ids[2])).all():
            listed = (after or {}).get("became_emergency", []) + (after or {}).get("reopened_alerts", [])
            worse += [int(i) for i in listed if int(i) <= last_alert]   # a new row is reported as new, above
        if worse:
            for row in session.execute(place.add_columns(col(Alert.last_evaluated_at))
                                       .where(on_wards, col(Alert.severity) == "emergency",
                                              col(Alert.id).in_(sorted(set(worse))))).all():
                events.append({**dict(zip(keys, row[:7])), "kind": "now an emergency", "at": row[7], "by": None,
                               "to": None})
        events.sort(key=lambda e: e["at"])
    return AlertBar(counts={s: int(n) for s, n in counts.items()},
                    newest_emergency=None if newest is None else dict(zip(keys, newest)), events=events,
                    last_ids=last_ids)
