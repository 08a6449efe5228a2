"""Users: accounts, roles, wards; add, disable, enable and reset (admin only; every change audited)."""
import pandas as pd
import streamlit as st

from dashboard.admin_forms import apply, show_notice
from dashboard.resources import get_engine
from dashboard.session import require
from monitoring.clinical.vocabulary import ROLES
from monitoring.services import auth
from monitoring.services.transactions import read_scope
from monitoring.views.lists import list_wards

admin = require("manage_users")
st.title("Users")
show_notice("users")   # after an add, its fields emptied: a refused add keeps what was typed (issue 19)
with read_scope(get_engine()) as session:
    users = auth.list_users(session=session)
    ward_names = {w.id: w.code for w in list_wards(session=session)}
    table = pd.DataFrame([{"User name": u.username, "Name": u.display_name, "Role": u.role,
                           "E-mail (single sign-on)": u.email or "",
                           "Wards": ", ".join(ward_names[i] for i in auth.user_ward_ids(session=session, user=u)),
                           "Active": u.is_active,
                           "Locked until (UTC)": f"{auth.locked_now(u):%Y-%m-%d %H:%M}" if auth.locked_now(u) else ""}
                          for u in users])
st.dataframe(table, hide_index=True, width="stretch")


# The add form's widgets and their empty values (set after an add; admin_forms.show_notice).
ADD_KEYS = {"new_username": "", "new_display_name": "", "new_role": ROLES[0], "new_email": "", "new_wards": [],
            "new_password": ""}


def run(action, success: str, clear_add: bool = False) -> None:
    apply("users", action, success, ADD_KEYS if clear_add else None)


ward_help = "A nurse needs at least one ward: she sees only the patients of her wards."
add, change = st.columns(2)
with add.form("add_user"):
    st.subheader("Add a user")
    username = st.text_input("User name", key="new_username")
    display_name = st.text_input("Full name", key="new_display_name")
    role = st.selectbox("Role", ROLES, key="new_role")
    email = st.text_input("E-mail for single sign-on (optional)", key="new_email")
    wards = st.multiselect("Wards", list(ward_names.values()), key="new_wards", help=ward_help)
    password = st.text_input("Initial password", type="password", key="new_password",
                             help=f"At least {auth.MIN_PASSWORD_LENGTH} characters; not the user name.")
    if st.form_submit_button("Add user"):
        run(lambda s: auth.add_user(session=s, username=username, display_name=display_name, role=role,
                                    password=password or None, email=email or None, ward_codes=wards,
                                    created_by=admin["username"]), f"Added {username.strip().lower()}.", clear_add=True)
with change:
    st.subheader("Change a user")
    target = st.selectbox("User", [u.username for u in users], key="change_username")
    chosen = next((u for u in users if u.username == target), None)
    if chosen is not None:
        with read_scope(get_engine()) as session:
            current_wards = [ward_names[i] for i in auth.user_ward_ids(session=session, user=chosen)]
        # Keyed by the user chosen, so the fields show that user's role and wards when another is chosen.
        with st.form("change_account"):
            role_col, wards_col = st.columns([1, 2])
            new_role = role_col.selectbox("Role", ROLES, index=list(ROLES).index(chosen.role),
                                          key=f"change_role_{target}")
            new_wards = wards_col.multiselect("Wards", list(ward_names.values()), default=current_wards,
                                              key=f"change_wards_{target}", help=ward_help)
            if st.form_submit_button("Save role and wards"):
                run(lambda s: auth.change_account(session=s, username=target, role=new_role, ward_codes=new_wards,
                                                  changed_by=admin["username"]),
                    f"{target}: role {new_role}, wards {', '.join(sorted(new_wards)) or 'none'}.")
with change.form("change_user"):
    new_password = st.text_input("New password (for reset)", type="password", key="reset_password")
    disable, enable, unlock, reset = st.columns(4)
    if disable.form_submit_button("Disable"):   # refused for one's own account by auth.set_active
        run(lambda s: auth.set_active(session=s, username=target, active=False, changed_by=admin["username"]),
            f"{target} disabled.")
    if enable.form_submit_button("Enable"):
        run(lambda s: auth.set_active(session=s, username=target, active=True, changed_by=admin["username"]),
            f"{target} enabled.")
    if unlock.form_submit_button("Unlock"):
        run(lambda s: auth.unlock(session=s, username=target, changed_by=admin["username"]), f"{target} unlocked.")
    if reset.form_submit_button("Reset password"):
        run(lambda s: auth.reset_password(session=s, username=target, new_password=new_password,
                                          changed_by=admin["username"]), f"Password of {target} reset and unlocked.")
