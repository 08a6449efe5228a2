"""Audit log: who did what and when, with before and after; search and export (admin only)."""
from datetime import datetime, time, timedelta, timezone

import streamlit as st

from dashboard.resources import get_engine, get_settings
from dashboard.session import download_account, require
from monitoring.services.transactions import read_scope, session_scope
from monitoring.views.audit import audit_actions, export_audit_csv, search_audit

admin = require("view_audit_log")
st.title("Audit log")
tz = get_settings().timezone
with read_scope(get_engine()) as session:
    actions = audit_actions(session=session)
user_col, action_col, entity_col, from_col, to_col = st.columns(5)
username = user_col.text_input("User", key="audit_user")
action = action_col.selectbox("Action", ["(any)", *actions], key="audit_action")
entity = entity_col.text_input("Entity (e.g. observation-set, user)", key="audit_entity")
today = datetime.now(tz).date()
since = from_col.date_input("From", today - timedelta(days=7), key="audit_from")
until = to_col.date_input("To (inclusive)", today, key="audit_to")
filters = {"user": username or None, "action": None if action == "(any)" else action, "entity": entity or None,
           "from": since.isoformat(), "to": until.isoformat()}
with read_scope(get_engine()) as session:
    rows = search_audit(session=session, username=filters["user"], action=filters["action"],
                        entity=filters["entity"],
                        since=datetime.combine(since, time(), tz).astimezone(timezone.utc),
                        until=datetime.combine(until + timedelta(days=1), time(), tz).astimezone(timezone.utc))
st.caption(f"{len(rows)} entries (newest first; at most 5,000) · times in {tz.key}. The trail is append-only: "
           "the database refuses to change or delete it.")
shown = rows.assign(at=rows["at"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M:%S"))
st.dataframe(shown, hide_index=True, width="stretch")


allowed = download_account("view_audit_log")


def export() -> bytes:
    """Called by Streamlit on the click, outside the page's run: the sign-in checked again, then the file
    and its audit row."""
    account = allowed()
    with session_scope(get_engine()) as session:
        return export_audit_csv(session=session, frame=rows, exported_by=account["username"], filters=filters)


st.download_button("Export CSV", data=export, file_name="audit-log.csv", mime="text/csv", key="audit_export",
                   on_click="ignore")
