"""What the admin pages (Users, Wards) share: apply a change through a service, then reload the page with a
confirmation, emptying the fields of the form that succeeded (a refused form keeps what was typed: issue 19
item 4; the refusal's messages are shown where the form is)."""
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from dashboard.resources import get_engine
from monitoring.errors import RecordError
from monitoring.services.transactions import session_scope


def show_notice(page: str) -> None:
    """The last change's confirmation, and the succeeded form's fields emptied (call before drawing forms)."""
    notice = st.session_state.pop(f"{page}_notice", None)
    if notice:
        st.success(notice)
    # Set to their empty values, not deleted: a deleted key leaves the browser's widget showing (and sending
    # back) what was typed, so the next add carried the last user's wards (seen in the browser, not AppTest).
    for key, empty in st.session_state.pop(f"{page}_clear", {}).items():
        st.session_state[key] = empty


def apply(page: str, action: Callable[[Any], object], success: str, clear: Mapping[str, Any] | None = None) -> None:
    """Run `action` (given the transaction's session) in one transaction; on success reload the page with
    `success` shown and the widgets of `clear` (key: empty value) emptied, on a refusal show its messages
    and change nothing."""
    try:
        with session_scope(get_engine()) as session:
            action(session)
    except RecordError as exc:
        for message in exc.errors:
            st.error(message)
        return
    st.session_state[f"{page}_notice"] = success
    st.session_state[f"{page}_clear"] = dict(clear or {})
    st.rerun()
