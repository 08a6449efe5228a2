"""Telling the person or role an alert is escalated to (issue 18 item 2).

The escalation is an AlertAction, stored and committed first (monitoring.services.alert_actions.act);
telling someone comes after, outside that transaction, and can fail without losing it. Each try is a
NotificationAttempt row (append-only) with its outcome: sent, failed (with the server's answer or the
error) or "not sent" when no notifier is configured (IL2_NOTIFIER=none: the inbox then says nobody was
told). A failed escalation, or one whose try was never recorded (the process stopped between the two),
is tried again by `retry_failed` (the inbox's Retry button, or `il2-monitor alerts notify-retry` from a
timer) while its alert is still open or escalated.

Notifiers (monitoring.config.Settings.notifier):
- smtp: an e-mail (stdlib smtplib) to the role's on-call address (IL2_ROLE_ADDRESSES) or to the active
  accounts of that role with an e-mail address, or to the person's address;
- webhook: a JSON POST (stdlib urllib) to a hospital's paging or messaging gateway, which routes it by
  the `to` field; a bearer token when IL2_WEBHOOK_TOKEN is set.

The message names the ward, the bed, the rule, level and severity, the evidence and who escalated and
why; never the patient's name, record number or birth date (e-mail and gateways leave the hospital's
record system). The network is never used inside a database transaction: a slow mail server must not
hold the SQLite writers' lock.
"""
from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from monitoring.config import Settings
from monitoring.services.transactions import read_scope, session_scope
from monitoring.store.models import Alert, AlertAction, Bed, NotificationAttempt, Patient, User, Ward

SENT, FAILED, NOT_SENT = "sent", "failed", "not sent"


class NotifyError(Exception):
    """A notification could not be delivered; the message says what the server or network answered."""


@dataclass(frozen=True)
class Notice:
    """One escalation's message, built from the store (no identifier of the patient)."""
    alert_id: int
    action_id: int
    to: str                       # "role:oncologist" or "user:dr.a"
    addresses: tuple[str, ...]    # e-mail addresses (smtp); may be empty
    subject: str
    body: str
    payload: dict = field(default_factory=dict)


def describe_target(to: str | None) -> str:
    """'the oncologist role', 'dr.a': how an escalation's target is shown."""
    if not to:
        return "nobody named"
    kind, _, name = to.partition(":")
    return f"the {name} role" if kind == "role" else name


def notice_for(*, session: Session, action_id: int, settings: Settings) -> Notice:
    """The message of an escalation (AlertAction id), with its recipients' addresses."""
    action = session.get(AlertAction, action_id)
    if action is None or action.action != "escalate":
        raise ValueError(f"Action {action_id} is not an escalation.")
    alert = session.get(Alert, action.alert_id)
    assert alert is not None   # a foreign key
    place = session.execute(select(col(Ward.name), col(Bed.label), col(Patient.ward_id)).select_from(Patient)
                            .join(Ward, col(Ward.id) == col(Patient.ward_id), isouter=True)
                            .join(Bed, col(Bed.id) == col(Patient.bed_id), isouter=True)
                            .where(col(Patient.id) == alert.patient_id)).first()
    ward, bed, ward_id = (place or (None, None, None))
    where = f"{ward or 'no ward'}, {bed or 'no bed'}"
    to = action.escalated_to or ""
    subject = f"[IL-2 monitor] {alert.severity.upper()} escalated: {where}: {alert.rule_id} ({alert.level})"
    body = "\n".join([
        f"An alert was escalated to {describe_target(to)} by {action.by} at {action.at:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Where: {where}",
        f"Alert: {alert.rule_id}, {alert.level} ({alert.severity})",
        f"Evidence: {alert.evidence_text or ''}",
        f"Why escalated: {action.note or ''}",
        "",
        "Open the Alert inbox of the IL-2 Toxicity Monitor for the patient and the full evidence.",
        "Decision support only: check the basis of the alert before acting.",
    ])
    payload = {"alert_id": alert.id, "action_id": action.id, "to": to, "severity": alert.severity,
               "rule": alert.rule_id, "level": alert.level, "ward": ward, "bed": bed,
               "evidence": alert.evidence_text, "note": action.note, "by": action.by,
               "at": action.at.astimezone(timezone.utc).isoformat()}
    return Notice(alert_id=action.alert_id, action_id=action_id, to=to,
                  addresses=_addresses(session=session, to=to, settings=settings, ward_id=ward_id),
                  subject=subject, body=body, payload=payload)


def _addresses(*, session: Session, to: str, settings: Settings, ward_id: int | None) -> tuple[str, ...]:
    """A role's on-call address, else the addresses of that role's accounts that may see the ward (a
    nurse of another ward is not sent this ward's bed and evidence); a person's own address."""
    from monitoring.services.alert_actions import users_seeing_ward

    kind, _, name = to.partition(":")
    if kind == "role":
        if name in settings.role_addresses:
            return (settings.role_addresses[name],)
        seeing = users_seeing_ward(session=session, ward_id=ward_id)
        found = session.scalars(select(col(User.email))
                                .where(col(User.role) == name, col(User.is_active), col(User.email).is_not(None),
                                       col(User.username).in_(seeing))
                                .order_by(col(User.username))).all()
        return tuple(e for e in found if e)
    email = session.scalar(select(col(User.email)).where(col(User.username) == name, col(User.is_active)))
    return (email,) if email else ()


def send(notice: Notice, settings: Settings) -> tuple[str, str, str]:
    """Deliver a notice through the configured notifier: (outcome, recipient, detail). Never raises for
    a delivery problem (the outcome says failed, the detail what went wrong)."""
    if settings.notifier == "none":
        return NOT_SENT, "-", "no notifier is configured (IL2_NOTIFIER=none): nobody was told"
    # The gateway is named by its scheme, host and port only: a key in its path or query is a secret,
    # and these rows are kept for ever.
    recipient = ", ".join(notice.addresses) if settings.notifier == "smtp" else _gateway_name(settings.webhook_url)
    try:
        detail = _send_mail(notice, settings) if settings.notifier == "smtp" else _post(notice, settings)
        return SENT, recipient or "-", detail
    except NotifyError as error:
        return FAILED, recipient or "-", str(error)
    except Exception as error:  # noqa: BLE001 - any failure is a failed try, recorded; never a lost escalation
        # The type only: a message could quote a header (the token) or the password.
        return FAILED, recipient or "-", f"not sent: {type(error).__name__} (see the server log)"


def _gateway_name(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: urllib would repeat the POST as a GET without its body (and a 200 from
    there would be recorded as sent)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to another address refused ({msg})", headers, fp)


def _send_mail(notice: Notice, settings: Settings) -> str:
    if not notice.addresses:
        raise NotifyError(f"no e-mail address for {describe_target(notice.to)} (set IL2_ROLE_ADDRESSES, or an "
                          "address on the account)")
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = notice.subject, settings.smtp_from, ", ".join(notice.addresses)
    message.set_content(notice.body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_s) as smtp:
            if settings.smtp_starttls:   # the server's certificate is checked (starttls() alone does not)
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise NotifyError(f"e-mail not sent: {type(error).__name__}: {error}") from None
    if refused:
        raise NotifyError(f"e-mail refused for {', '.join(refused)}")
    return f"e-mail accepted by {settings.smtp_host}:{settings.smtp_port}"


def _post(notice: Notice, settings: Settings) -> str:
    request = urllib.request.Request(settings.webhook_url, data=json.dumps(notice.payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    if settings.webhook_token is not None:   # never passed on to another address
        request.add_unredirected_header("Authorization", f"Bearer {settings.webhook_token.get_secret_value()}")
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=settings.notify_timeout_s) as response:
            if not 200 <= response.status < 300:
                raise NotifyError(f"gateway answered HTTP {response.status}")
            return f"gateway answered HTTP {response.status}"
    except urllib.error.HTTPError as error:
        raise NotifyError(f"gateway answered HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:   # no connection: say why, as the operating system put it
        reason = getattr(error.reason, "strerror", None) or str(error.reason)
        raise NotifyError(f"gateway not reached: {reason}") from None
    except (OSError, ValueError) as error:
        raise NotifyError(f"gateway not reached: {type(error).__name__}: {error}") from None


def record(*, session: Session, notice: Notice, outcome: str, recipient: str, detail: str, channel: str,
           now: datetime) -> NotificationAttempt:
    """Store one try (append-only); its number counts the earlier tries of the same escalation."""
    tried = session.scalar(select(func.count()).select_from(NotificationAttempt)
                           .where(col(NotificationAttempt.action_id) == notice.action_id)) or 0
    row = NotificationAttempt(action_id=notice.action_id, alert_id=notice.alert_id, channel=channel,
                              recipient=recipient[:254], attempt=tried + 1, at=now, outcome=outcome, detail=detail)
    session.add(row)
    session.flush()
    return row


def deliver(*, engine: Engine, action_id: int, settings: Settings, now: datetime | None = None) -> NotificationAttempt:
    """Build, send and record the notice of one escalation: read, then the network with no transaction
    open, then one short write."""
    with read_scope(engine) as session:
        notice = notice_for(session=session, action_id=action_id, settings=settings)
    outcome, recipient, detail = send(notice, settings)
    for tries_left in (2, 1, 0):
        try:
            with session_scope(engine) as session:
                row = record(session=session, notice=notice, outcome=outcome, recipient=recipient, detail=detail,
                             channel=settings.notifier, now=now or datetime.now(timezone.utc))
                session.expunge(row)
            return row
        except IntegrityError:
            # Another try of the same escalation took this number meanwhile (two Retry clicks at once):
            # record this one under the next number; both sends happened and both are kept.
            if not tries_left:
                raise
    raise AssertionError("unreachable")


def failed_escalations(*, session: Session, alert_ids: list[int] | None = None) -> list[int]:
    """Escalations (AlertAction ids) to send again: the latest try failed, or no try was ever recorded
    (the process stopped after storing the escalation), while the alert is still open or escalated (a
    resolved or retracted alert is not paged about after the fact)."""
    latest = (select(col(NotificationAttempt.action_id), func.max(col(NotificationAttempt.id)).label("last"))
              .group_by(col(NotificationAttempt.action_id)).subquery())
    last_outcome = (select(col(NotificationAttempt.outcome)).join(latest, latest.c.last == col(NotificationAttempt.id))
                    .where(col(NotificationAttempt.action_id) == col(AlertAction.id)).scalar_subquery())
    query = (select(col(AlertAction.id)).join(Alert, col(Alert.id) == col(AlertAction.alert_id))
             .where(col(AlertAction.action) == "escalate", col(AlertAction.escalated_to).is_not(None),
                    col(Alert.status).in_(("open", "escalated")),
                    or_(last_outcome.is_(None), last_outcome == FAILED)))
    if alert_ids is not None:
        query = query.where(col(AlertAction.alert_id).in_(alert_ids))
    return sorted(int(i) for i in session.scalars(query).all() if i is not None)


def retry_failed(*, engine: Engine, settings: Settings, alert_ids: list[int] | None = None,
                 now: datetime | None = None) -> list[NotificationAttempt]:
    """Send again every escalation whose latest try failed (of `alert_ids`, or all)."""
    with read_scope(engine) as session:
        pending = failed_escalations(session=session, alert_ids=alert_ids)
    return [deliver(engine=engine, action_id=action_id, settings=settings, now=now) for action_id in pending]


def attempts(*, session: Session, alert_ids: list[int]) -> dict[int, list[dict]]:
    """Per alert: its notification tries, oldest first, as plain dicts for the inbox."""
    rows = session.scalars(select(NotificationAttempt).where(col(NotificationAttempt.alert_id).in_(alert_ids))
                           .order_by(col(NotificationAttempt.id))).all() if alert_ids else []
    out: dict[int, list[dict]] = {}
    for row in rows:
        out.setdefault(row.alert_id, []).append(
            {k: getattr(row, k) for k in ("action_id", "channel", "recipient", "attempt", "at", "outcome", "detail")})
    return out

