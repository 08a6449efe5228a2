"""Issue 18 item 2: an escalation reaches a person. Against a real SMTP server (aiosmtpd) and a real
HTTP server on this machine: the message names the ward and bed and never the patient's identifiers;
a server that is down fails the notification, never the escalation, and a retry sends it; with no
notifier configured the inbox says nobody was told; every try is kept, append-only."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from monitoring.config import load_settings
from monitoring.errors import RecordError
from monitoring.services import auth, notify
from monitoring.store.db import session_scope
from monitoring.store.models import Alert, AlertAction, NotificationAttempt, Patient, PatientIdentity
from tests.factories import NOW
from tests.services.test_alert_actions import do, sepsis_alert


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self):
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), f"Subject: {message['Subject']}\n"
                                                       + message.get_body().get_content()))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


class Gateway(BaseHTTPRequestHandler):
    """A paging gateway: records each request and answers with the status the test sets (a 302 sends
    the client to /elsewhere on the same server)."""
    received: list[tuple[dict, str | None]] = []
    seen: list[tuple[str, str, str | None]] = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(("POST", self.path, self.headers.get("Authorization")))
        type(self).received.append((json.loads(body), self.headers.get("Authorization")))
        self.send_response(type(self).status)
        if type(self).status == 302:
            self.send_header("Location", "/elsewhere")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        type(self).seen.append(("GET", self.path, self.headers.get("Authorization")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    Gateway.received, Gateway.seen, Gateway.status = [], [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/page", Gateway
    server.shutdown()
    server.server_close()


def smtp_settings(port: int, **more):
    return load_settings({"IL2_NOTIFIER": "smtp", "IL2_SMTP_HOST": "127.0.0.1", "IL2_SMTP_PORT": str(port),
                          "IL2_SMTP_FROM": "il2-monitor@hospital.example", "IL2_NOTIFY_TIMEOUT_S": "5", **more})


def escalated(engine, to: str = "role:oncologist") -> tuple[int, int, int]:
    """(patient, alert, escalation action) of an urgent sepsis-screen alert escalated to `to`."""
    patient_id, alert = sepsis_alert(engine)
    row = do(engine, alert.id, "escalate", escalate_to=to)
    return patient_id, alert.id, row.id


def identifiers(engine, patient_id: int) -> list[str]:
    with session_scope(engine) as session:
        who = session.scalars(select(PatientIdentity).where(PatientIdentity.patient_id == patient_id)).one()
        # The record number and the family name ("Person"; the given name "Test" is also the ward's word).
        return [who.mrn, who.family_name]


def test_an_e_mail_reaches_the_roles_on_call_address_naming_the_bed_and_no_identifier(engine, smtp_server):
    controller, mailbox = smtp_server
    patient_id, alert_id, action_id = escalated(engine)
    settings = smtp_settings(controller.port, IL2_ROLE_ADDRESSES='{"oncologist": "onc-oncall@hospital.example"}')
    attempt = notify.deliver(engine=engine, action_id=action_id, settings=settings, now=NOW)
    assert (attempt.outcome, attempt.recipient, attempt.attempt, attempt.channel) == (
        "sent", "onc-oncall@hospital.example", 1, "smtp")
    [(to, message)] = mailbox.messages
    assert to == ["onc-oncall@hospital.example"]
    assert "Subject: [IL-2 monitor] URGENT escalated: Test ward, B1: sepsis-screen (qSOFA positive)" in message
    assert "escalated to the oncologist role by dr.a" in message and "to the ICU outreach team: SBP falling" in message
    assert not [word for word in identifiers(engine, patient_id) if word in message]


def test_without_a_role_address_the_roles_accounts_on_the_ward_are_sent_it_and_a_person_theirs(engine,
                                                                                              smtp_server):
    """The accounts that may see the patient's ward: an oncologist (every ward) and the nurses of that
    ward; a nurse of another ward is neither offered nor sent this ward's bed and evidence."""
    from monitoring.services.alert_actions import escalation_targets
    from monitoring.store import repository

    controller, mailbox = smtp_server
    _, alert_id, _ = escalated(engine, "role:oncologist")          # creates the patient's ward "T"
    with session_scope(engine) as session:
        repository.get_or_create_ward(session=session, code="OTHER", name="Other ward")
        for name, role, address, wards in (("dr.b", "oncologist", "b@hospital.example", []),
                                           ("dr.c", "oncologist", None, []),
                                           ("nurse.d", "nurse", "d@hospital.example", ["T"]),
                                           ("nurse.e", "nurse", "e@hospital.example", ["OTHER"])):
            auth.add_user(session=session, username=name, display_name=name, role=role, ward_codes=wards,
                          password="long-enough-passphrase-42", created_by="admin", email=address, enforce_policy=False)
        ward = session.get(Alert, alert_id)
        offered = escalation_targets(session=session, ward_id=session.scalar(
            select(Patient.ward_id).where(Patient.id == ward.patient_id)))
    assert "user:nurse.d" in offered and "user:nurse.e" not in offered and "user:dr.c" in offered
    with pytest.raises(RecordError, match="'user:nurse.e' is not one of"):
        do(engine, alert_id, "escalate", escalate_to="user:nurse.e")
    settings = smtp_settings(controller.port)
    to_role = do(engine, alert_id, "escalate", escalate_to="role:nurse").id
    assert notify.deliver(engine=engine, action_id=to_role, settings=settings).recipient == "d@hospital.example"
    to_oncologists = do(engine, alert_id, "escalate", escalate_to="role:oncologist").id
    assert notify.deliver(engine=engine, action_id=to_oncologists, settings=settings).recipient == "b@hospital.example"
    to_person = do(engine, alert_id, "escalate", escalate_to="user:nurse.d").id
    assert notify.deliver(engine=engine, action_id=to_person, settings=settings).recipient == "d@hospital.example"
    assert [to for to, _ in mailbox.messages] == [["d@hospital.example"], ["b@hospital.example"],
                                                  ["d@hospital.example"]]


def test_a_mail_server_that_is_down_fails_the_notification_never_the_escalation_and_a_retry_sends_it(
        engine, smtp_server):
    controller, mailbox = smtp_server
    _, alert_id, action_id = escalated(engine)
    address = '{"oncologist": "onc-oncall@hospital.example"}'
    down = smtp_settings(free_port(), IL2_ROLE_ADDRESSES=address)      # nothing listens there
    failed = notify.deliver(engine=engine, action_id=action_id, settings=down)
    assert failed.outcome == "failed" and "e-mail not sent: ConnectionRefusedError" in failed.detail
    with session_scope(engine) as session:
        assert session.get(Alert, alert_id).status == "escalated"         # the escalation is kept
        assert session.get(AlertAction, action_id).escalated_to == "role:oncologist"
        assert notify.failed_escalations(session=session) == [action_id]
    retried = notify.retry_failed(engine=engine, settings=smtp_settings(controller.port, IL2_ROLE_ADDRESSES=address))
    assert [(r.outcome, r.attempt) for r in retried] == [("sent", 2)] and len(mailbox.messages) == 1
    with session_scope(engine) as session:
        assert notify.failed_escalations(session=session) == []
        shown = notify.attempts(session=session, alert_ids=[alert_id])[alert_id]
    assert [(t["attempt"], t["outcome"]) for t in shown] == [(1, "failed"), (2, "sent")]


def test_a_role_with_no_address_at_all_fails_saying_what_is_missing(engine, smtp_server):
    controller, _ = smtp_server
    _, _, action_id = escalated(engine, "role:nurse")
    attempt = notify.deliver(engine=engine, action_id=action_id, settings=smtp_settings(controller.port))
    assert attempt.outcome == "failed" and "no e-mail address for the nurse role" in attempt.detail


def test_the_webhook_posts_json_with_the_token_and_a_gateway_error_is_retried(engine, gateway):
    url, server = gateway
    patient_id, alert_id, action_id = escalated(engine)
    settings = load_settings({"IL2_NOTIFIER": "webhook", "IL2_WEBHOOK_URL": url, "IL2_WEBHOOK_TOKEN": "s3cret-token"})
    server.status = 503
    failed = notify.deliver(engine=engine, action_id=action_id, settings=settings)
    assert (failed.outcome, failed.detail) == ("failed", "gateway answered HTTP 503 Service Unavailable")
    server.status = 202
    [sent] = notify.retry_failed(engine=engine, settings=settings)
    assert (sent.outcome, sent.attempt, sent.detail) == ("sent", 2, "gateway answered HTTP 202")
    payload, authorization = server.received[-1]
    assert authorization == "Bearer s3cret-token"
    assert {k: payload[k] for k in ("alert_id", "to", "severity", "rule", "level", "ward", "bed")} == {
        "alert_id": alert_id, "to": "role:oncologist", "severity": "urgent", "rule": "sepsis-screen",
        "level": "qSOFA positive", "ward": "Test ward", "bed": "B1"}
    assert not [word for word in identifiers(engine, patient_id) if word in json.dumps(payload)]
    assert "s3cret-token" not in (sent.detail or "") + (failed.detail or "")


def test_with_no_notifier_the_escalation_says_nobody_was_told_and_is_not_retried(engine):
    _, _, action_id = escalated(engine)
    attempt = notify.deliver(engine=engine, action_id=action_id, settings=load_settings({}))
    assert (attempt.outcome, attempt.channel) == ("not sent", "none") and "nobody was told" in attempt.detail
    with session_scope(engine) as session:
        assert notify.failed_escalations(session=session) == []


def test_notification_tries_are_append_only(engine):
    _, _, action_id = escalated(engine)
    notify.deliver(engine=engine, action_id=action_id, settings=load_settings({}))
    with pytest.raises(DBAPIError, match="append-only"):
        with session_scope(engine) as session:
            session.execute(text("UPDATE notificationattempt SET outcome = 'sent'"))
    with session_scope(engine) as session:
        assert [t.outcome for t in session.scalars(select(NotificationAttempt)).all()] == ["not sent"]


def test_the_scheduled_retry_command_sends_what_failed_and_says_so(engine, db_url, smtp_server, monkeypatch, capsys):
    from monitoring.cli import main

    controller, mailbox = smtp_server
    _, _, action_id = escalated(engine)
    address = '{"oncologist": "onc-oncall@hospital.example"}'
    notify.deliver(engine=engine, action_id=action_id, settings=smtp_settings(free_port(), IL2_ROLE_ADDRESSES=address))
    for name, value in {"DATABASE_URL": db_url, "IL2_NOTIFIER": "smtp", "IL2_SMTP_HOST": "127.0.0.1",
                        "IL2_SMTP_PORT": str(controller.port), "IL2_SMTP_FROM": "il2-monitor@hospital.example",
                        "IL2_ROLE_ADDRESSES": address}.items():
        monkeypatch.setenv(name, value)
    assert main(["alerts", "notify-retry"]) == 0
    out = capsys.readouterr().out
    assert f"escalation {action_id}, try 2: sent" in out and "1 failed notification tried again, 0 still failing" in out
    assert len(mailbox.messages) == 1


def test_a_redirecting_gateway_is_a_failure_and_gets_no_token_nor_a_false_sent(engine, gateway):
    """urllib would repeat the POST as a GET without its body and record the 200 from there as sent."""
    url, server = gateway
    _, _, action_id = escalated(engine)
    server.status = 302
    settings = load_settings({"IL2_NOTIFIER": "webhook", "IL2_WEBHOOK_URL": url + "?key=abc123",
                              "IL2_WEBHOOK_TOKEN": "s3cret-token"})
    attempt = notify.deliver(engine=engine, action_id=action_id, settings=settings)
    assert attempt.outcome == "failed" and "redirect to another address refused" in attempt.detail
    assert [method for method, _, _ in server.seen] == ["POST"]          # never followed
    # The gateway is stored by scheme, host and port: a key in its address is a secret, kept for ever.
    assert attempt.recipient == url.rsplit("/", 1)[0] and "abc123" not in attempt.recipient


def test_an_unexpected_failure_is_a_failed_try_naming_no_secret(engine, monkeypatch):
    _, alert_id, action_id = escalated(engine)
    settings = smtp_settings(free_port(), IL2_ROLE_ADDRESSES='{"oncologist": "onc@hospital.example"}')

    def broken(notice, settings):
        raise ValueError("Invalid header value b'Bearer tok-SECRET'")
    monkeypatch.setattr(notify, "_send_mail", broken)
    attempt = notify.deliver(engine=engine, action_id=action_id, settings=settings)
    assert attempt.outcome == "failed" and attempt.detail == "not sent: ValueError (see the server log)"
    with session_scope(engine) as session:
        assert notify.failed_escalations(session=session) == [action_id]


def test_an_escalation_never_tried_is_sent_by_the_retry_and_a_resolved_alert_is_not_paged(engine, smtp_server):
    """The process may stop between storing the escalation and telling anyone: the retry finds it.
    An alert resolved meanwhile is not paged about after the fact."""
    controller, mailbox = smtp_server
    address = '{"oncologist": "onc@hospital.example"}'
    _, alert_id, action_id = escalated(engine)                     # stored, never delivered
    with session_scope(engine) as session:
        assert notify.failed_escalations(session=session) == [action_id]
    sent = notify.retry_failed(engine=engine, settings=smtp_settings(controller.port, IL2_ROLE_ADDRESSES=address))
    assert [(a.action_id, a.outcome, a.attempt) for a in sent] == [(action_id, "sent", 1)]
    second = do(engine, alert_id, "escalate", escalate_to="role:oncologist").id
    do(engine, alert_id, "resolve")
    with session_scope(engine) as session:
        assert notify.failed_escalations(session=session) == []     # resolved: the second is not paged
    assert second not in [a.action_id for a in notify.retry_failed(engine=engine, settings=load_settings({}))]


@pytest.mark.parametrize(("environ", "message"), [
    ({"IL2_NOTIFIER": "smtp", "IL2_SMTP_HOST": "mail", "IL2_SMTP_FROM": "a@b.c", "IL2_SMTP_USER": "u"},
     "IL2_SMTP_USER needs IL2_SMTP_STARTTLS=true"),
    ({"IL2_NOTIFIER": "webhook", "IL2_WEBHOOK_URL": "https://gw.example/p", "IL2_WEBHOOK_TOKEN": "tok\nX"},
     "IL2_WEBHOOK_TOKEN may not hold spaces or line breaks"),
    ({"IL2_NOTIFIER": "webhook", "IL2_WEBHOOK_URL": "http://gw.example/p", "IL2_WEBHOOK_TOKEN": "tok"},
     "IL2_WEBHOOK_TOKEN is sent only over https"),
])
def test_settings_that_would_expose_a_secret_are_refused_by_name(environ, message):
    from monitoring.config import SettingsError
    with pytest.raises(SettingsError, match=message) as refused:
        load_settings(environ)
    assert "tok" not in str(refused.value).replace("IL2_WEBHOOK_TOKEN", "")
