"""Who is signed in, for how long, and what the role may see. Checked on the server in every page."""
from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from dashboard.resources import get_engine
from monitoring import auth
from monitoring.db import session_scope

USER_KEY = "signed_in_user"
ACTIVITY_KEY = "last_activity"
NOTICE_KEY = "sign_in_notice"


def current_user() -> dict | None:
    return st.session_state.get(USER_KEY)


def start_session(result: auth.SignIn) -> None:
    with session_scope(get_engine()) as session:
        user = auth.get_user(session=session, username=result.username)
        ward_ids = auth.user_ward_ids(session=session, user=user) if user else []
    st.session_state[USER_KEY] = {"username": result.username, "display_name": result.display_name,
                                  "role": result.role, "ward_ids": ward_ids}
    st.session_state[ACTIVITY_KEY] = datetime.now(timezone.utc)


def sign_out(reason: str = "user") -> None:
    user = current_user()
    if user:
        with session_scope(get_engine()) as session:
            auth.record_sign_out(session=session, username=user["username"], reason=reason)
    for key in (USER_KEY, ACTIVITY_KEY):
        st.session_state.pop(key, None)
    if reason == "timeout":
        st.session_state[NOTICE_KEY] = (f"Signed out after {auth.SESSION_TIMEOUT_MINUTES:g} minutes without "
                                        "activity. Sign in again to continue.")


def enforce_timeout() -> None:
    """Sign out a session idle for longer than the timeout; otherwise note this run as activity."""
    if current_user() is None:
        return
    if auth.session_expired(st.session_state.get(ACTIVITY_KEY)):
        sign_out("timeout")
        return
    st.session_state[ACTIVITY_KEY] = datetime.now(timezone.utc)


def require(permission: str) -> dict:
    """Stop the page unless the signed-in role holds `permission` (navigation hiding is not enough)."""
    user = current_user()
    if not auth.may(user["role"] if user else None, permission):
        st.error(f"Your role ({user['role'] if user else 'not signed in'}) may not open this page.")
        st.stop()
    return user
