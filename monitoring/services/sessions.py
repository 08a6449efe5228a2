"""Sign-in sessions that survive a refresh (issue 15). No Streamlit here.

A sign-in creates a random token (secrets.token_urlsafe, 256 bits) that the browser keeps in a
cookie; the server keeps only its SHA-256, the user and the last activity. A refresh (F5) opens a
new Streamlit session: the cookie's token finds the sign-in again while it has been active within
the idle time-out (monitoring.services.auth.SESSION_TIMEOUT_MINUTES). Sign-out and time-out end it for good.
Activity is kept here, not in one browser tab, so every tab of a sign-in times out together.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlmodel import Session, col

from monitoring.services import auth
from monitoring.store.models import SignInSession
from monitoring.store.repository import write_audit

COOKIE_NAME = "il2_session"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(*, session: Session, username: str, now: datetime | None = None) -> str:
    """A new sign-in; returns the token for the browser's cookie (never stored here)."""
    token = secrets.token_urlsafe(32)
    now = now or datetime.now(timezone.utc)
    session.add(SignInSession(token_hash=_hash(token), username=username, created_at=now, last_activity_at=now))
    session.flush()
    return token


@dataclass(frozen=True)
class Resumed:
    username: str | None      # None: no sign-in to resume
    reason: str               # resumed, unknown, ended, timeout


def _row(session: Session, token: str | None) -> SignInSession | None:
    if not token:
        return None
    return session.scalars(select(SignInSession).where(col(SignInSession.token_hash) == _hash(token))).first()


def resume(*, session: Session, token: str | None, now: datetime | None = None,
           timeout_minutes: float = auth.SESSION_TIMEOUT_MINUTES) -> Resumed:
    """The user of the cookie's sign-in, if it is still open and was active within the time-out
    (a sign-in idle past it is ended here, with one audit row)."""
    now = now or datetime.now(timezone.utc)
    row = _row(session, token)
    if row is None:
        return Resumed(None, "unknown")
    if row.ended_at is not None:
        return Resumed(None, "ended")
    if auth.session_expired(row.last_activity_at, now, timeout_minutes):
        end(session=session, token=token, reason="timeout", now=now)
        return Resumed(None, "timeout")
    user = auth.get_user(session=session, username=row.username)
    if user is None or not user.is_active:
        end(session=session, token=token, reason="disabled", now=now)
        return Resumed(None, "ended")
    row.last_activity_at = now
    session.flush()
    return Resumed(row.username, "resumed")


def touch(*, session: Session, token: str | None, now: datetime | None = None,
          timeout_minutes: float = auth.SESSION_TIMEOUT_MINUTES) -> bool:
    """Note activity (a click, a value entered, a page opened) on an open sign-in. False, and nothing
    noted, when the sign-in is unknown, ended, idle past the time-out (ended here: a late click never
    revives it) or its account disabled (ended here too)."""
    now = now or datetime.now(timezone.utc)
    row = _row(session, token)
    if row is None or row.ended_at is not None:
        return False
    if auth.session_expired(row.last_activity_at, now, timeout_minutes):
        end(session=session, token=token, reason="timeout", now=now)
        return False
    user = auth.get_user(session=session, username=row.username)
    if user is None or not user.is_active:
        end(session=session, token=token, reason="disabled", now=now)
        return False
    row.last_activity_at = now
    session.flush()
    return True


def idle(*, session: Session, token: str | None, now: datetime | None = None) -> timedelta | None:
    """How long the sign-in has been idle; None when it is unknown or ended."""
    row = _row(session, token)
    if row is None or row.ended_at is not None:
        return None
    return (now or datetime.now(timezone.utc)) - row.last_activity_at


def end(*, session: Session, token: str | None, reason: str, now: datetime | None = None) -> None:
    """End the sign-in for good (sign-out, time-out): its cookie no longer resumes anything."""
    row = _row(session, token)
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = now or datetime.now(timezone.utc), reason
        session.flush()
        write_audit(session=session, username=row.username, action="session-end", entity="user",
                    entity_id=row.username, after={"reason": reason})


def end_others(*, session: Session, username: str, keep_token: str | None, reason: str,
               now: datetime | None = None) -> int:
    """End every open sign-in of `username` but the one holding `keep_token` (after a password change:
    whoever knew the old password is signed out everywhere else). Returns how many were ended."""
    keep = _hash(keep_token) if keep_token else None
    rows = session.scalars(select(SignInSession).where(col(SignInSession.username) == username,
                                                       col(SignInSession.ended_at).is_(None))).all()
    ended = 0
    for row in rows:
        if row.token_hash != keep:
            row.ended_at, row.end_reason = now or datetime.now(timezone.utc), reason
            ended += 1
    session.flush()
    return ended
