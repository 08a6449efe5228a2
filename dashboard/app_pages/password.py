"""My password: every signed-in user changes her own password (current password required, the same policy;
monitoring.services.account). Reached from the header row, not the menu."""
import streamlit as st

from dashboard.resources import get_engine
from dashboard.session import TOKEN_KEY, require
from monitoring.services import account, auth
from monitoring.services.transactions import read_scope, session_scope

user = require("change_own_password")
st.title("My password")
notice = st.session_state.pop("password_notice", None)
if notice:
    st.success(notice)
with read_scope(get_engine()) as session:
    local = account.has_local_password(session=session, username=user["username"])
if not local:
    st.info(account.NO_LOCAL_PASSWORD)
    st.stop()
st.caption(f"Signed in as {user['username']}. At least {auth.MIN_PASSWORD_LENGTH} characters, not your user name, "
           "not a common password. Your other sign-ins (other browsers, other workstations) are signed out; this one "
           f"stays. {auth.LOCKOUT_ATTEMPTS} wrong current passwords in a row lock the account for "
           f"{auth.LOCKOUT_MINUTES:g} minutes, as at sign-in.")
left, _ = st.columns([1, 2])
with left.form("own_password", clear_on_submit=True):   # passwords are never kept in the page's state
    current = st.text_input("Current password", type="password", key="own_current", autocomplete="current-password")
    new = st.text_input("New password", type="password", key="own_new", autocomplete="new-password")
    confirm = st.text_input("New password again", type="password", key="own_confirm", autocomplete="new-password")
    submitted = st.form_submit_button("Change my password", type="primary")
if submitted:
    with session_scope(get_engine()) as session:   # a wrong password's count and audit row are kept
        result = account.change_own_password(session=session, username=user["username"], current_password=current,
                                             new_password=new, confirm_password=confirm,
                                             keep_token=st.session_state.get(TOKEN_KEY))
    if result.ok:
        others = (f" {result.sessions_ended} other sign-in{'s' if result.sessions_ended != 1 else ''} signed out."
                  if result.sessions_ended else "")
        st.session_state["password_notice"] = f"Your password has been changed.{others}"
        st.rerun()
    for message in result.errors:
        st.error(message)
