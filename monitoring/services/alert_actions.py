"""Acting on alerts (acknowledge, decline, escalate, snooze, resolve), the alert inbox, and the
acknowledgement latency kept for the quality reports.

Every action is one AlertAction row (append-only) and one audit row, with who and when, and the
alert's level and severity at that moment: alerting.sync_alerts reopens a handled alert that later
gets worse than that. A snooze that simply runs out needs no background job: the inbox compares
snoozed_until with the time it is read.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo

import pandas as pd
from sqlalchemy import func, or_, select
from sqlmodel import Session

from monitoring.clinical.alert_handling import alert_handling
from monitoring.clinical.alert_levels import is_worse
from monitoring.clinical.rules import il2_hold
from monitoring.clinical.rules.common import SEVERITY_RANK
from monitoring.clinical.rules.evidence import local_words, render
from monitoring.clinical.vocabulary import ALERT_ACTIONS, DECLINE_CHOICES
from monitoring.errors import RecordError
from monitoring.services import auth
from monitoring.store.models import Alert, AlertAction, Bed, Patient, PatientIdentity, User, UserWard, Ward
from monitoring.store.repository import write_audit
from monitoring.views import dosing
from monitoring.views.alerts import NEEDS_ATTENTION
from monitoring.views.lists import visible_wards

# The status each action leaves the alert in.
ACTION_STATUS = {"acknowledge": "acknowledged", "decline": "declined", "escalate": "escalated",
                 "snooze": "snoozed", "resolve": "resolved"}
# Who records the engine's own actions on an alert ('auto-resolve', 'reopen': monitoring.services.alerting).
ENGINE = "engine"
# Escalating is open to nurses too (auth.PERMISSIONS); every other action is the oncologist's.
ACTION_PERMISSION = {action: "escalate_alerts" if action == "escalate" else "act_on_alerts"
                     for action in ALERT_ACTIONS}
# What a required note must say, as the refusal words it.
NOTE_REQUIRED = {
    "acknowledge": "Say what action was taken to acknowledge the alert (for example 'fluid bolus 500 mL given').",
    "decline": "Give the reason for declining the alert.",
    "escalate": "Say why the alert is escalated (what the person you name should look at).",
}
HOLD_RULE = il2_hold.RULE.id
# The roles an alert is escalated to (the clinicians; quality and admin do not take clinical calls).
ESCALATION_ROLES = ("oncologist", "nurse")
# Handled alerts leave the inbox; alerting.sync_alerts reopens one that gets worse.
HANDLED = ("acknowledged", "declined", "snoozed", "resolved")
# The first of these answers an alert, for the acknowledgement latency (a snooze or a resolve
# without one before it is not a response to the finding).
RESPONSES = ("acknowledge", "decline", "escalate")


def _a(word: str) -> str:
    """'an urgent', 'a warning'."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def snooze_text(minutes: int) -> str:
    """'30 min', '2 h': how a snooze duration is shown."""
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def latest_action(*, session: Session, alert_id: int) -> AlertAction | None:
    """The most recently recorded action on an alert (None without any)."""
    return session.scalars(select(AlertAction).where(AlertAction.alert_id == alert_id)
                           .order_by(AlertAction.id.desc()).limit(1)).first()


def worse_than_at_latest_action(*, session: Session, alert: Alert) -> bool:
    """Is the alert, as evaluated now, worse than when its latest action was taken? (False without one.)"""
    action = latest_action(session=session, alert_id=alert.id)
    if action is None:
        return False
    return is_worse(old_severity=action.severity_at_action, old_level=action.level_at_action,
                    new_severity=alert.severity, new_level=alert.level, rule_id=alert.rule_id)


def escalation_targets(*, session: Session, ward_id: int | None = None) -> dict[str, str]:
    """Whom an alert can be escalated to: each clinical role, then each active clinician by name
    ('role:oncologist' -> 'Oncologist (role)', 'user:dr.a' -> 'Dr A (oncologist)'); with `ward_id`,
    only the clinicians who may see that ward's patients (they can open the alert they are sent)."""
    targets = {f"role:{role}": f"{role.capitalize()} (role)" for role in ESCALATION_ROLES}
    users = session.execute(select(User.username, User.display_name, User.role)
                            .where(User.is_active, User.role.in_(ESCALATION_ROLES)).order_by(User.display_name)).all()
    allowed = None if ward_id is None else set(users_seeing_ward(session=session, ward_id=ward_id))
    targets.update({f"user:{name}": f"{shown} ({role})" for name, shown, role in users
                    if allowed is None or name in allowed})
    return targets


def escalation_targets_by_patient(*, session: Session, patient_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """escalation_targets for each patient's ward (the inbox offers each alert's own)."""
    wards = dict(session.execute(select(Patient.id, Patient.ward_id).where(Patient.id.in_(list(patient_ids)))).all())
    by_ward = {ward: escalation_targets(session=session, ward_id=ward) for ward in set(wards.values())}
    return {int(patient): by_ward[ward] for patient, ward in wards.items()}


def users_seeing_ward(*, session: Session, ward_id: int | None) -> list[str]:
    """Active accounts that may see a ward's patients: those assigned to it, and every role that sees
    all wards (monitoring.permissions view_all_wards)."""
    everywhere = [role for role in ESCALATION_ROLES if auth.may(role, "view_all_wards")]
    assigned = select(UserWard.user_id).where(UserWard.ward_id == ward_id)
    return list(session.scalars(select(User.username).where(
        User.is_active, or_(User.role.in_(everywhere), User.id.in_(assigned)))).all())


def act(*, session: Session, alert_id: int, action: str, username: str, role: str | None, note: str | None = None,
        snooze_minutes: int | None = None, now: datetime | None = None,
        ward_ids: Sequence[int] | None = None, escalate_to: str | None = None,
        reason_code: str | None = None) -> AlertAction:
    """Record one action on an alert and set the alert's status.

    acknowledge needs the action taken; decline a reason, chosen from vocabulary.DECLINE_CHOICES
    (`reason_code`; 'other' with the reason typed in `note`) or typed; escalate to whom and why; snooze a
    duration offered for the alert's severity (thresholds.toml [alert_handling]: an emergency at most
    30 min, an urgent alert 60) and, from urgent up, a reason (otherwise the note is optional, as for
    resolve). A retracted alert cannot be
    acted on. The permission is checked here, on the server (auth.PermissionDenied); with
    `ward_ids`, an alert outside the wards this user may see is refused too. Raises RecordError
    listing every problem; nothing is written then.
    """
    if action not in ACTION_STATUS:
        raise RecordError([f"Action '{action}' is not known; accepted: {', '.join(ALERT_ACTIONS)}."])
    auth.require(role, ACTION_PERMISSION[action])
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise RecordError([f"Alert {alert_id} does not exist."])
    if ward_ids is not None:
        patient = session.get(Patient, alert.patient_id)
        visible = {w.id for w in visible_wards(session=session, role=role or "", ward_ids=ward_ids)}
        if patient is None or patient.ward_id not in visible:
            raise RecordError([f"Alert {alert_id} belongs to a patient outside your wards."])
    note = (note or "").strip() or None
    errors = []
    if alert.status == "retracted":
        errors.append("This alert was retracted: the data behind it were corrected or withdrawn, so there is "
                      "nothing to act on. Its history stays visible.")
    if action in NOTE_REQUIRED and note is None and not (action == "decline" and reason_code not in (None, "other")):
        errors.append(NOTE_REQUIRED[action] if reason_code != "other" else
                      "'Other' needs the reason for declining typed in the note.")
    if reason_code is not None and action != "decline":
        errors.append(f"Only a decline takes a reason from the list; to {action} the alert, choose none.")
    elif reason_code is not None and reason_code not in DECLINE_CHOICES:
        errors.append(f"Decline reason '{reason_code}' is not known; accepted: {', '.join(DECLINE_CHOICES)}.")
    handling = alert_handling()
    offered = handling.choices(alert.severity)
    accepted = ", ".join(str(m) for m in offered) + " minutes"
    if action == "snooze" and snooze_minutes is None:
        errors.append(f"Choose how long to snooze the alert: {accepted}.")
    elif action == "snooze" and snooze_minutes not in offered:
        longest = handling.max_snooze_minutes[alert.severity]
        errors.append(f"A snooze of {snooze_minutes} minutes is not accepted for {_a(alert.severity)} alert "
                      f"(at most {snooze_text(longest)}: thresholds.toml [alert_handling]); snooze for {accepted}.")
    if action == "snooze" and handling.needs_reason(alert.severity) and note is None:
        errors.append(f"Give the reason for snoozing {_a(alert.severity)} alert (who is looking after it, or why "
                      "it can wait).")
    elif action != "snooze" and snooze_minutes is not None:
        errors.append(f"Only a snooze takes a duration; to {action} the alert, give no snooze time.")
    ward_of_alert = session.scalar(select(Patient.ward_id).where(Patient.id == alert.patient_id))
    targets = escalation_targets(session=session, ward_id=ward_of_alert) if action == "escalate" else {}
    if action == "escalate" and escalate_to not in targets:
        errors.append(f"Name whom the alert is escalated to (a role or a person): '{escalate_to or ''}' is not one of "
                      f"{', '.join(targets)}.")
    elif action != "escalate" and escalate_to is not None:
        errors.append(f"Only an escalation names whom it goes to; to {action} the alert, name nobody.")
    at = now or datetime.now(timezone.utc)
    if at.utcoffset() is None:
        errors.append(f"Action time {at.isoformat()} has no time zone; give a time zone-aware time.")
    if errors:
        raise RecordError(errors)
    until = at + timedelta(minutes=int(snooze_minutes)) if action == "snooze" else None
    before = {"status": alert.status, "snoozed_until": None if alert.snoozed_until is None
              else alert.snoozed_until.isoformat()}
    row = AlertAction(alert_id=alert.id, action=action, at=at, by=username, note=note, snooze_until=until,
                      level_at_action=alert.level, severity_at_action=alert.severity, escalated_to=escalate_to,
                      reason_code=reason_code)
    alert.status = ACTION_STATUS[action]
    # Any action but a snooze ends a running snooze: the alert is no longer waiting for its time.
    alert.snoozed_until = until
    session.add(row)
    session.flush()
    write_audit(session=session, username=username, action=f"alert-{action}", entity="alert", entity_id=alert.id,
                before=before, after={"status": alert.status, "snoozed_until": None if until is None
                                      else until.isoformat(), "note": note, "level": alert.level,
                                      "severity": alert.severity, "action_id": row.id,
                                      **({"escalated_to": escalate_to} if escalate_to else {}),
                                      **({"reason_code": reason_code} if reason_code else {})})
    return row


INBOX_COLUMNS = ["id", "patient_id", "ward", "bed", "patient", "mrn", "rule_id", "rule_version", "level", "severity",
                 "onset_at", "first_seen_at", "last_evaluated_at", "evidence_text", "standard", "context", "status",
                 "snoozed_until", "last_action", "last_action_by", "last_action_by_name", "last_action_at",
                 "last_action_note", "level_at_last_action", "severity_at_last_action"]
# Also in the inbox's frame: the structured evidence, when the criteria stopped holding and what they showed then.
EXTRA_COLUMNS = ["evidence", "is_synthetic", "cleared_at", "cleared_evidence", "cleared_text"]
# A card's text that only a drawn card needs, read for the cards drawn (with_details; issue 21).
DETAIL_COLUMNS = {"evidence_text": Alert.evidence_text, "standard": Alert.standard, "context": Alert.context,
                  "evidence": Alert.evidence, "cleared_evidence": Alert.cleared_evidence}


def inbox(*, session: Session, patient_ids: Sequence[int], now: datetime, include_handled: bool = False,
          include_info: bool = False, tz: tzinfo | None = None, checks: bool = True,
          details: bool = True) -> pd.DataFrame:
    """Alerts of these patients that need attention, most severe first, then newest onset first.

    Needing attention: open, escalated, or snoozed with the snooze ended (status_text 'open ·
    snooze ended'). Expected IL-2 effects (severity 'info') only with include_info; acknowledged,
    declined, resolved and still-snoozed alerts only with include_handled; retracted ones never.
    Each row carries the patient (bed, name marked '(synthetic)', record number), the evidence,
    standard and IL-2 context, and the last action (what, who, when, note); worse_since_action says
    the alert is worse now than when that action was taken. With `tz`, the evidence is rendered from
    its structured items with times in the installation's time zone. check_now: each IL-2 hold alert's pre-dose check
    now (with_checks_now); checks=False leaves it None for the caller to fill for the rows it shows
    (a check takes about 90 ms per patient: a page that draws 20 cards need not check 40 patients).
    details=False leaves the card's text None (DETAIL_COLUMNS: evidence_text, standard, context, evidence,
    cleared_evidence; and cleared_text, rendered from cleared_evidence) for the caller to read for the rows it
    shows (with_details): a hospital's 27,000 alerts took 1.3 s to read with their evidence and 2 s to put into
    words, for the 20 cards a page draws (issue 21).
    """
    last = (select(AlertAction.alert_id, func.max(AlertAction.id).label("action_id"))
            .group_by(AlertAction.alert_id).subquery())
    statuses = NEEDS_ATTENTION + HANDLED if include_handled else NEEDS_ATTENTION + ("snoozed",)
    name = PatientIdentity.family_name + ", " + PatientIdentity.given_name
    read = {"id": Alert.id, "patient_id": Alert.patient_id, "ward": Ward.name, "bed": Bed.label, "patient": name,
            "mrn": PatientIdentity.mrn, "rule_id": Alert.rule_id, "rule_version": Alert.rule_version,
            "level": Alert.level, "severity": Alert.severity, "onset_at": Alert.onset_at,
            "first_seen_at": Alert.first_seen_at, "last_evaluated_at": Alert.last_evaluated_at,
            "status": Alert.status, "snoozed_until": Alert.snoozed_until, "last_action": AlertAction.action,
            "last_action_by": AlertAction.by, "last_action_by_name": User.display_name,
            "last_action_at": AlertAction.at, "last_action_note": AlertAction.note,
            "level_at_last_action": AlertAction.level_at_action,
            "severity_at_last_action": AlertAction.severity_at_action, "is_synthetic": Patient.is_synthetic,
            "cleared_at": Alert.cleared_at, **(DETAIL_COLUMNS if details else {})}
    query = (
        select(*read.values())
        .join(Patient, Patient.id == Alert.patient_id)
        .join(PatientIdentity, PatientIdentity.patient_id == Alert.patient_id)
        .outerjoin(Ward, Ward.id == Patient.ward_id)
        .outerjoin(Bed, Bed.id == Patient.bed_id)
        .outerjoin(last, last.c.alert_id == Alert.id)
        .outerjoin(AlertAction, AlertAction.id == last.c.action_id)
        .outerjoin(User, User.username == AlertAction.by)
        .where(Alert.patient_id.in_(list(patient_ids)), Alert.status.in_(statuses))
    )
    if not include_info:
        query = query.where(Alert.severity != "info")
    rows = [tuple(r) for r in session.execute(query).all()]
    frame = pd.DataFrame.from_records(rows, columns=list(read))
    frame = (with_words(frame, tz) if details else
             frame.assign(**dict.fromkeys([*DETAIL_COLUMNS, "cleared_text"]))).loc[:, [*INBOX_COLUMNS, *EXTRA_COLUMNS]]
    for column in ("onset_at", "first_seen_at", "last_evaluated_at", "snoozed_until", "last_action_at", "cleared_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["patient"] = frame["patient"] + frame["is_synthetic"].map({True: " (synthetic)", False: ""})
    frame["last_action_by_name"] = frame["last_action_by_name"].fillna(frame["last_action_by"])
    # A snooze without an end time cannot have been set by act(); shown rather than hidden.
    frame["snooze_ended"] = (frame["status"] == "snoozed") & ~(frame["snoozed_until"] > pd.Timestamp(now))
    frame["needs_attention"] = frame["status"].isin(NEEDS_ATTENTION) | frame["snooze_ended"]
    if not include_handled:
        frame = frame[frame["needs_attention"]]
    frame["status_text"] = frame["status"].where(~frame["snooze_ended"], "open · snooze ended")
    frame["worse_since_action"] = [
        action is not None and not pd.isna(action) and is_worse(
            old_severity=None if pd.isna(old_severity) else old_severity,
            old_level=None if pd.isna(old_level) else old_level,
            new_severity=severity, new_level=level, rule_id=rule_id)
        for action, old_severity, old_level, severity, level, rule_id in zip(
            frame["last_action"], frame["severity_at_last_action"], frame["level_at_last_action"],
            frame["severity"], frame["level"], frame["rule_id"])]
    frame["check_now"] = _checks_now(session=session, frame=frame, now=now, tz=tz) if checks else None
    frame["severity_rank"] = frame["severity"].map(SEVERITY_RANK).fillna(-1)
    frame = frame.sort_values(["severity_rank", "onset_at", "id"], ascending=False)
    return frame.drop(columns=["severity_rank", "is_synthetic"]).reset_index(drop=True)


def with_details(*, session: Session, frame: pd.DataFrame, tz: tzinfo | None) -> pd.DataFrame:
    """These inbox rows (read with details=False) with their card's text: DETAIL_COLUMNS read for their ids in
    one query, the evidence in words (with_words). The rows a page draws, not the whole inbox."""
    ids = [int(i) for i in frame["id"]]
    found = {} if not ids else {int(r[0]): r[1:] for r in session.execute(
        select(Alert.id, *DETAIL_COLUMNS.values()).where(Alert.id.in_(ids))).all()}
    values = [found.get(i, (None,) * len(DETAIL_COLUMNS)) for i in ids]   # alerts are never deleted; None if so
    read = frame.assign(**{name: [v[k] for v in values] for k, name in enumerate(DETAIL_COLUMNS)})
    return with_words(read, tz)


def with_words(frame: pd.DataFrame, tz: tzinfo | None) -> pd.DataFrame:
    """These inbox rows with their evidence in words (from the structured items, times in `tz` when given)
    and cleared_text: what the latest data showed once the criteria no longer held (an alert still open:
    not closed unseen, alert_handling); None while they hold."""
    frame = frame.copy()
    if tz is not None:
        frame["evidence_text"] = [local_words(items, text, tz)
                                  for items, text in zip(frame["evidence"], frame["evidence_text"])]
    frame["cleared_text"] = [None if not items else local_words(items, None, tz) if tz is not None else render(items)
                             for items in frame["cleared_evidence"]]
    return frame


def with_checks_now(*, session: Session, frame: pd.DataFrame, now: datetime, tz: tzinfo | None) -> pd.DataFrame:
    """These inbox rows with check_now filled (an inbox read with checks=False, for the rows a page draws)."""
    return frame.assign(check_now=_checks_now(session=session, frame=frame, now=now, tz=tz))


def _checks_now(*, session: Session, frame: pd.DataFrame, now: datetime, tz: tzinfo | None) -> list[str | None]:
    """For each IL-2 hold alert: the pre-dose check as the doses page computes it now (the same
    function, views.dosing.check_or_none), so the inbox never shows HOLD where the doses page shows
    GIVE without saying so. A stored hold alert is the finding at its onset; the check is now."""
    held = [int(p) for p, rule in zip(frame["patient_id"], frame["rule_id"]) if rule == HOLD_RULE]
    checks = {patient_id: (f"could not run ({problem}): a dose is given only on the oncologist's decision"
                           if check is None else check.summary())
              for patient_id, (check, problem) in dosing.checks_or_none(session=session, patient_ids=held, now=now,
                                                                         tz=tz).items()}
    return [checks.get(int(p)) if rule == HOLD_RULE else None for p, rule in zip(frame["patient_id"], frame["rule_id"])]


def by_patient(frame: pd.DataFrame) -> pd.DataFrame:
    """The inbox grouped by patient (issue 18): the patient with the worst alert first (then the newest
    onset), and under each patient their alerts, most severe and newest first. Adds `patient_rank`
    (0 = first patient) so a page can draw one header per patient."""
    if frame.empty:
        return frame.assign(patient_rank=pd.Series(dtype="int64"))
    rank = frame["severity"].map(SEVERITY_RANK).fillna(-1)
    worst = rank.groupby(frame["patient_id"]).transform("max")
    newest = frame["onset_at"].groupby(frame["patient_id"]).transform("max")
    ordered = (frame.assign(_rank=rank, _worst=worst, _newest=newest)
               .sort_values(["_worst", "_newest", "patient_id", "_rank", "onset_at", "id"],
                            ascending=[False, False, True, False, False, False], kind="stable"))
    ordered["patient_rank"] = pd.factorize(ordered["patient_id"])[0]
    return ordered.drop(columns=["_rank", "_worst", "_newest"]).reset_index(drop=True)


def act_on_all(*, session: Session, alert_ids: Sequence[int], action: str, username: str, role: str | None,
               note: str | None, now: datetime | None = None, ward_ids: Sequence[int] | None = None,
               escalate_to: str | None = None) -> list[AlertAction]:
    """One action with one note on several alerts of a patient (acknowledge or escalate all), in the
    caller's transaction: all are recorded or none (RecordError names the alert refused)."""
    if action not in ("acknowledge", "escalate"):
        raise RecordError([f"Only acknowledge and escalate apply to all of a patient's alerts, not '{action}'."])
    rows = []
    for alert_id in alert_ids:
        try:
            rows.append(act(session=session, alert_id=int(alert_id), action=action, username=username, role=role,
                            note=note, now=now, ward_ids=ward_ids, escalate_to=escalate_to))
        except RecordError as refused:
            raise RecordError([f"Alert {alert_id}: {message}" for message in refused.errors]) from None
    return rows


def history(*, session: Session, alert_id: int) -> list[AlertAction]:
    """Every action on an alert, oldest first."""
    return list(session.scalars(select(AlertAction).where(AlertAction.alert_id == alert_id)
                                .order_by(AlertAction.id)).all())


LATENCY_COLUMNS = ["alert_id", "patient_id", "rule_id", "severity", "status", "first_seen_at", "first_response_at",
                   "first_response", "first_response_by", "latency_minutes"]


def acknowledgement_latency(*, session: Session, patient_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Per alert: when it was first seen, its first response (acknowledge, decline or escalate) and
    the minutes between. No response yet: response and latency are NA, never zero."""
    alerts = select(Alert.id, Alert.patient_id, Alert.rule_id, Alert.severity, Alert.status, Alert.first_seen_at)
    responses = (select(AlertAction.alert_id, AlertAction.at, AlertAction.action, AlertAction.by)
                 .join(Alert, Alert.id == AlertAction.alert_id)
                 .where(AlertAction.action.in_(RESPONSES)).order_by(AlertAction.id))
    if patient_ids is not None:
        alerts = alerts.where(Alert.patient_id.in_(list(patient_ids)))
        responses = responses.where(Alert.patient_id.in_(list(patient_ids)))
    frame = pd.DataFrame.from_records([tuple(r) for r in session.execute(alerts.order_by(Alert.id)).all()],
                                      columns=["alert_id", "patient_id", "rule_id", "severity", "status",
                                               "first_seen_at"])
    answered = pd.DataFrame.from_records([tuple(r) for r in session.execute(responses).all()],
                                         columns=["alert_id", "first_response_at", "first_response",
                                                  "first_response_by"])
    answered["first_response_at"] = pd.to_datetime(answered["first_response_at"], utc=True)
    first = (answered.sort_values("first_response_at", kind="stable")
             .drop_duplicates("alert_id", keep="first"))
    frame["first_seen_at"] = pd.to_datetime(frame["first_seen_at"], utc=True)
    frame = frame.merge(first, on="alert_id", how="left")
    frame["first_response_at"] = pd.to_datetime(frame["first_response_at"], utc=True)
    seconds = (frame["first_response_at"] - frame["first_seen_at"]).dt.total_seconds()
    frame["latency_minutes"] = (seconds / 60).astype("Float64")
    return frame[LATENCY_COLUMNS]
