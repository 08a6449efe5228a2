"""Who is signed in, for how long, and what the role may see. Checked on the server in every page.

A sign-in lives in the database (monitoring.services.sessions) and in a browser cookie (dashboard.cookie), so
a refresh keeps the user signed in for the rest of the idle time-out, and every tab of one sign-in
times out together. Activity is every full run of the app (a click, a page) and every run of an
entry form's fragment (a value entered); the ward overview's own 30-s refresh is not activity.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import streamlit as st

from dashboard import cookie
from dashboard.resources import get_engine
from monitoring.services import auth, sessions
from monitoring.services.transactions import session_scope

USER_KEY = "signed_in_user"
TOKEN_KEY = "sign_in_token"
NOTICE_KEY = "sign_in_notice"
FAILED_BEFORE_KEY = "failed_before_notice"
NOT_ALLOWED_KEY = "not_allowed_notice"   # a click refused because the role changed since the page was drawn
TIMEOUT_NOTICE = (f"Signed out after {auth.SESSION_TIMEOUT_MINUTES:g} minutes without activity. Sign in again "
                  "to continue: anything typed and not saved is kept as a draft and offered back.")


def current_user() -> dict | None:
    return st.session_state.get(USER_KEY)


def _load(username: str) -> dict | None:
    with session_scope(get_engine()) as session:
        user = auth.get_user(session=session, username=username)
        if user is None or not user.is_active:
            return None
        return {"username": user.username, "display_name": user.display_name, "role": user.role,
                "ward_ids": auth.user_ward_ids(session=session, user=user)}


def start_session(result: auth.SignIn) -> None:
    """After a successful sign-in: the user in this Streamlit session, a new server-side sign-in and
    its token for the browser's cookie."""
    assert result.username is not None, "a successful sign-in names its user"
    with session_scope(get_engine()) as session:
        token = sessions.start(session=session, username=result.username)
    st.session_state[USER_KEY] = _load(result.username)
    st.session_state[TOKEN_KEY] = token
    if result.failed_before:  # the lock is never shown at the sign-in form; its owner learns of it here
        st.session_state[FAILED_BEFORE_KEY] = (
            f"{result.failed_before} failed sign-in attempt{'s' if result.failed_before > 1 else ''} on your "
            "account since your last sign-in. If they were not yours, tell an administrator.")


def resume_from_cookie() -> None:
    """A refresh (a new Streamlit session): the cookie's sign-in, if still open, signs the user back in."""
    if current_user() is not None:
        return
    token = cookie.read()
    if not token:
        return
    with session_scope(get_engine()) as session:
        resumed = sessions.resume(session=session, token=token)
    if resumed.username is not None:
        user = _load(resumed.username)
        if user is not None:
            st.session_state[USER_KEY] = user
            st.session_state[TOKEN_KEY] = token
    elif resumed.reason == "timeout":
        st.session_state[NOTICE_KEY] = TIMEOUT_NOTICE


def sign_out(reason: str = "user") -> None:
    """End the sign-in everywhere it lives: the audit, the server-side record, this browser's state and,
    for single sign-on, Streamlit's identity cookie (st.logout), without which the next run would sign
    the same identity straight back in."""
    user = current_user()
    token = st.session_state.get(TOKEN_KEY)
    single_sign_on = bool(st.user.get("is_logged_in", False))
    with session_scope(get_engine()) as session:
        if user:
            auth.record_sign_out(session=session, username=user["username"], reason=reason)
        sessions.end(session=session, token=token, reason=reason)
    # Everything this browser held goes: the next person at the workstation starts clean (no patient
    # chosen, no form answer). What was typed and not saved is kept as a draft on the server.
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if reason == "timeout":
        st.session_state[NOTICE_KEY] = TIMEOUT_NOTICE
    if single_sign_on:
        st.logout()


def _ended(token: str | None) -> bool:
    with session_scope(get_engine()) as session:
        idle = sessions.idle(session=session, token=token)
    return idle is None or idle > timedelta(minutes=auth.SESSION_TIMEOUT_MINUTES)


def expired() -> bool:
    """The sign-in was idle past the time-out, or ended elsewhere (signed out in another tab)."""
    return _ended(st.session_state.get(TOKEN_KEY))


def enforce_timeout() -> None:
    """Sign out a sign-in idle for longer than the time-out; otherwise note this run as activity and
    take the account as it is now (issue 16 item 4): disabled, signed out; a changed role or wards,
    applied at once (the pages and patients shown follow them)."""
    if current_user() is None:
        return
    if expired():
        sign_out("timeout")
        return
    note_activity()
    revalidate()


def _signed_in_account(token: str | None, username: str) -> dict | None:
    """The account as stored now while the sign-in of `token` is open and the account enabled; else None.
    Reads no browser state: a download's file is made outside the page's run (Streamlit calls its producer
    on the click), so the producer keeps the token and name it was drawn with."""
    return None if _ended(token) else _load(username)


def download_account(permission: str) -> Callable[[], dict]:
    """For a download's producer, made while the page is drawn: a function giving the account as stored now,
    or raising PermissionDenied when the sign-in has ended or the account may no longer `permission` (the
    file is then not made and not audited; Streamlit tells the browser the download failed)."""
    token, user = st.session_state.get(TOKEN_KEY), current_user()
    username = user["username"] if user else ""

    def check() -> dict:
        account = _signed_in_account(token, username)
        if account is None or not auth.may(account["role"], permission):
            raise auth.PermissionDenied(f"Signed out, or no longer allowed to {permission.replace('_', ' ')}: "
                                        "nothing was downloaded.")
        return account
    return check


def account_for_writing(permission: str) -> dict | None:
    """For a button's callback about to write: the account as stored now, or None when nothing may be
    written. A callback runs before the page, so before enforce_timeout: a screen left open past the
    time-out, or of an account disabled or changed meanwhile, could otherwise still record for up to the
    watch's 20 s. On None the run that follows signs out (time-out, disabled) or says that the role may no
    longer do this (NOT_ALLOWED_KEY, shown by the app above the page)."""
    user = current_user()
    fresh = None if user is None else _signed_in_account(st.session_state.get(TOKEN_KEY), user["username"])
    if fresh is not None and not auth.may(fresh["role"], permission):
        # Signed in and enabled, but the role changed since the page was drawn: say so, never drop the click.
        st.session_state[NOT_ALLOWED_KEY] = (f"Nothing was recorded: your role is now {fresh['role']}, which may "
                                             f"not {permission.replace('_', ' ')}.")
        return None
    return fresh


def revalidate() -> bool:
    """The account as stored now, in place of the copy made at sign-in. False (and signed out) when
    it was disabled or removed; True otherwise, with the role and wards brought up to date."""
    user = current_user()
    if user is None:
        return False
    fresh = _load(user["username"])
    if fresh is None:
        sign_out("disabled")
        return False
    if fresh != user:
        st.session_state[USER_KEY] = fresh
    return True


def note_activity() -> None:
    """A click, a page or a value entered: the idle time starts again (an entry fragment calls this,
    before anything it would save). A sign-in already past the time-out, ended elsewhere or of a
    disabled account is not revived: signed out, and the whole page is replaced by the sign-in."""
    with session_scope(get_engine()) as session:
        still_open = sessions.touch(session=session, token=st.session_state.get(TOKEN_KEY),
                                    now=datetime.now(timezone.utc))
    user = current_user()
    if not still_open and user is not None:
        sign_out("timeout" if _load(user["username"]) is not None else "disabled")
        st.rerun(scope="app")


WATCH_SECONDS = 20


@st.fragment(run_every=WATCH_SECONDS)
def watch_idle() -> None:
    """Every WATCH_SECONDS (not activity itself): a page left open past the time-out, or of an account
    disabled meanwhile, is replaced by the sign-in page at once, so no patient data stays on an
    unattended screen; a role or wards changed meanwhile apply at once."""
    if current_user() is None:
        return
    if expired():
        sign_out("timeout")
        st.rerun(scope="app")
    before = current_user()
    if not revalidate() or current_user() != before:
        st.rerun(scope="app")    # disabled, or another role or wards: the whole page follows


def require(permission: str) -> dict:
    """Stop the page unless the signed-in role holds `permission` (navigation hiding is not enough)."""
    user = current_user()
    if not auth.may(user["role"] if user else None, permission):
        st.error(f"Your role ({user['role'] if user else 'not signed in'}) may not open this page.")
        st.stop()
    assert user is not None   # may() holds no permission for no role
    return user
