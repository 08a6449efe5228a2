"""The sign-in page: product name, demo banner, clear errors, single sign-on when configured."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from dashboard.resources import get_engine
from dashboard.session import NOTICE_KEY, USER_KEY, start_session
from dashboard.warm_up import preload_on_sign_in
from monitoring.services import auth
from monitoring.services.transactions import session_scope


def sso_section() -> dict | None:
    """The [auth] section of .streamlit/secrets.toml, or None when single sign-on is not configured."""
    try:
        return dict(st.secrets["auth"]) if "auth" in st.secrets else None
    except Exception:  # no secrets.toml at all: Streamlit raises rather than answering False
        return None


def sso_configured() -> bool:
    return sso_section() is not None


def _open(then: Callable[[str], StreamlitPage] | None) -> None:
    """After a successful sign-in: rerun into the page asked for, or into `then`'s page for the user's role."""
    user = st.session_state.get(USER_KEY)
    if then is None or user is None:
        st.rerun()
    st.switch_page(then(user["role"]), query_params=st.query_params.to_dict())


def show(then: Callable[[str], StreamlitPage] | None = None) -> None:
    """The sign-in form. Signed in, the page asked for opens; `then(role)` names the page to open instead
    (the root address: the role's first page, with the address's query kept)."""
    st.title("IL-2 Toxicity Monitor")
    st.caption("Side-effect monitoring for interleukin-2 (aldesleukin) treatment. Sign in to see patient data.")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice)
    if st.user.get("is_logged_in", False):  # back from the hospital identity provider (st.login)
        with session_scope(get_engine()) as session:
            result = auth.sign_in_identity(session=session, email=str(st.user.get("email") or "") or None)
        if result.ok:
            start_session(result)
            _open(then)
        st.error(result.message)
        st.button("Sign out of the hospital account", on_click=st.logout)
        return
    with st.form("sign_in", enter_to_submit=True):
        username = st.text_input("User name", key="sign_in_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="sign_in_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        with session_scope(get_engine()) as session:
            result = auth.authenticate(session=session, username=username, password=password)
        if result.ok:
            start_session(result)
            _open(then)
        # One message for every failure (auth.WRONG_CREDENTIALS): the page never says an account is locked.
        st.error(result.message)
    if sso_configured():
        st.divider()
        st.button("Sign in with the hospital account", on_click=st.login)
    preload_on_sign_in()   # the browser's chart code loads while the user types (dashboard.warm_up)
