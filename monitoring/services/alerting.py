"""Evaluate patients from the store and keep the Alert table in step with the engine.

Alerts are derived: the engine is the truth and the table remembers them so that actions can attach.
Each alert keeps its evidence as the engine's structured items (Alert.evidence, JSON) and their words
(evidence_text, rendered by monitoring.clinical.rules.evidence.render) for search and display.
An alert is identified by alert_key (patient + rule + onset). Re-evaluation updates the level,
evidence and context of an alert it finds again; an open alert the engine no longer produces (the
data behind it were corrected) is marked 'retracted', never deleted, so the history shows it.

Auto-resolve (issue 18 item 3): an alert whose criteria no longer hold at the latest data (the
engine's cleared_at, with what was measured) is resolved by the engine where [alert_handling] allows
it: an 'auto-resolve' action by 'engine' whose note says why ("criteria no longer met: NEWS2 2 at
...") stays in the history. If the criteria come back inside the rule's episode gap, the same alert
reopens (a 'reopen' action): it is counted as returned, not as reopened-worse, so the open-alerts bar
does not announce it again (unless it is now worse, which is announced as before). After the gap the
engine starts a new alert, announced as new.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session, col

from monitoring.clinical.alert_handling import alert_handling
from monitoring.clinical.engine import evaluate
from monitoring.clinical.rules.evidence import render
from monitoring.services.alert_actions import ENGINE, HANDLED, worse_than_at_latest_action
from monitoring.store.frames import store_frames
from monitoring.store.models import Alert, AlertAction, Patient
from monitoring.store.repository import write_audit


def evaluate_store(*, session: Session, patient_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Alerts (detail columns) for these patients, computed from the current record."""
    obs, doses, courses = store_frames(session=session, patient_ids=patient_ids)
    alerts = evaluate(obs, doses, courses=courses, canonical=True, detail=True)
    course_of = courses.set_index("patient_id")["course_id"]
    alerts["course_id"] = alerts["patient_id"].map(course_of)
    return alerts


def lock_patients(*, session: Session, patient_ids: Sequence[int] | None) -> None:
    """Lock these patients' rows until the transaction ends (PostgreSQL; see sync_alerts)."""
    if session.get_bind().dialect.name == "sqlite":
        return
    # FOR NO KEY UPDATE: syncs of one patient wait for each other, but the foreign-key checks of the
    # observations just inserted (FOR KEY SHARE on the patient) do not, so two saves cannot deadlock.
    query = select(Patient.id).order_by(Patient.id).with_for_update(key_share=True)
    if patient_ids is not None:
        query = query.where(Patient.id.in_(sorted({int(p) for p in patient_ids})))
    session.execute(query).all()


def sync_alerts(*, session: Session, patient_ids: Sequence[int] | None = None, username: str = "engine",
                now: datetime | None = None) -> dict[str, int]:
    """Re-evaluate and store: new alerts inserted, known ones updated, vanished open ones retracted.

    An acknowledged, declined, snoozed or resolved alert that is now worse than at its latest action
    (alert_levels.is_worse: severity, then level within the rule) is reopened: status 'open', snooze
    cleared, counted as 'reopened'. An alert whose criteria no longer hold at the latest data is
    resolved where [alert_handling] allows ('resolved'); one the engine resolved whose criteria came
    back is reopened ('returned'; module docstring).

    Concurrency: on PostgreSQL the patients' rows are locked first (SELECT ... FOR NO KEY UPDATE, in
    id order so two syncs cannot deadlock), so two saves for one patient re-evaluate one after the
    other and the second sees the first's data (READ COMMITTED takes a new snapshot per statement).
    Without it each would evaluate without the other's set and the stored alerts could miss a
    finding that needs both (tests/store/test_concurrency_scale.py). SQLite's BEGIN IMMEDIATE already
    serialises writers.
    """
    now = now or datetime.now(timezone.utc)
    lock_patients(session=session, patient_ids=patient_ids)
    alerts = evaluate_store(session=session, patient_ids=patient_ids)
    query = select(Alert)
    if patient_ids is not None:
        query = query.where(Alert.patient_id.in_(list(patient_ids)))
    known = {a.alert_key: a for a in session.scalars(query).all()}
    counts = {"new": 0, "updated": 0, "retracted": 0, "reopened": 0, "resolved": 0, "returned": 0}
    handling = alert_handling()
    engine_resolved = _resolved_by_engine(session, [a.id for a in known.values() if a.status == "resolved"])
    reopened: list[int] = []
    became_emergency: list[int] = []   # existing alerts whose severity rose to emergency in this evaluation
    seen = set()
    for row in alerts.itertuples(index=False):
        seen.add(row.alert_key)
        fields = dict(level=row.level, severity=row.severity, evidence_text=row.evidence, standard=row.standard,
                      context=row.context, rule_version=row.rule_version, last_evaluated_at=now)
        alert = known.get(row.alert_key)
        if alert is None:
            alert = Alert(alert_key=row.alert_key, patient_id=int(row.patient_id), rule_id=row.rule,
                          onset_at=row.onset.to_pydatetime(), first_seen_at=now,
                          course_id=None if pd.isna(row.course_id) else int(row.course_id),
                          evidence=list(row.evidence_items), **fields)
            session.add(alert)
            counts["new"] += 1
        elif (alert.level, alert.severity, alert.evidence_text) != (row.level, row.severity, row.evidence):
            if row.severity == "emergency" and alert.severity != "emergency":
                became_emergency.append(alert.id)   # the open-alerts bar tells every page (views.alerts)
            for name, value in fields.items():
                setattr(alert, name, value)
            alert.evidence = list(row.evidence_items)
            if alert.status == "retracted":
                alert.status = "open"
            elif alert.status in HANDLED and worse_than_at_latest_action(session=session, alert=alert):
                # Handled, but worse now than when it was handled: it needs attention again.
                alert.status, alert.snoozed_until = "open", None
                reopened.append(alert.id)
            counts["updated"] += 1
        elif (alert.standard, alert.rule_version) != (row.standard, row.rule_version):
            # The same finding under an edited thresholds file: the definition shown follows the file
            # (not an update of the finding: nothing reopens, nothing is counted).
            alert.standard, alert.rule_version = row.standard, row.rule_version
        outcome = _follow_clearance(session, alert, row, handling, now, engine_resolved)
        if outcome is not None:
            counts[outcome] += 1
    for key, alert in known.items():
        if key not in seen and alert.status not in ("retracted", "resolved"):
            alert.status = "retracted"
            alert.last_evaluated_at = now
            counts["retracted"] += 1
    session.flush()
    counts["reopened"] = len(reopened)
    if any(counts.values()):
        write_audit(session=session, username=username, action="evaluate", entity="alert",
                    after={**counts, "patients": None if patient_ids is None else list(patient_ids),
                           **({"reopened_alerts": reopened} if reopened else {}),
                           **({"became_emergency": became_emergency} if became_emergency else {})})
    return counts


def _resolved_by_engine(session: Session, alert_ids: list[int]) -> set[int]:
    """Those of these alerts whose latest action is the engine's 'auto-resolve' (one query)."""
    if not alert_ids:
        return set()
    latest = (select(func.max(AlertAction.id)).where(col(AlertAction.alert_id).in_(alert_ids))
              .group_by(col(AlertAction.alert_id)))
    return set(session.scalars(select(AlertAction.alert_id).where(col(AlertAction.id).in_(latest),
                                                                   AlertAction.action == "auto-resolve")).all())


def _follow_clearance(session: Session, alert: Alert, row, handling, now: datetime,
                      engine_resolved: set[int]) -> str | None:
    """Keep the alert's clearance as the engine found it, then resolve it (criteria no longer met, where
    [alert_handling] allows) or reopen it (an engine-resolved alert whose criteria came back).
    Returns 'resolved', 'returned' or None."""
    cleared_at = None if pd.isna(row.cleared_at) else row.cleared_at.to_pydatetime()
    cleared = None if cleared_at is None else list(row.cleared_evidence)
    last_seen = row.last_seen.to_pydatetime()
    if (alert.last_seen_at, alert.cleared_at, alert.cleared_evidence) != (last_seen, cleared_at, cleared):
        alert.last_seen_at, alert.cleared_at, alert.cleared_evidence = last_seen, cleared_at, cleared
    if cleared is not None:
        if not handling.may_auto_resolve(rule_id=alert.rule_id, severity=alert.severity, status=alert.status):
            return None
        session.flush()   # a new alert needs its id for the action
        _engine_action(session, alert, "auto-resolve", "criteria no longer met: " + render(cleared), now)
        alert.status, alert.snoozed_until = "resolved", None
        return "resolved"
    if alert.status == "resolved" and alert.id in engine_resolved:
        _engine_action(session, alert, "reopen", "criteria met again: " + (alert.evidence_text or ""), now)
        alert.status = "open"
        return "returned"
    return None


def _engine_action(session: Session, alert: Alert, action: str, note: str, now: datetime) -> None:
    session.add(AlertAction(alert_id=alert.id, action=action, at=now, by=ENGINE, note=note,
                            level_at_action=alert.level, severity_at_action=alert.severity))
