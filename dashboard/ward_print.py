"""The ward overview's "Print ward (PDF)" button (issue 18 item 7): the downtime print of the wards
shown, made when the button is clicked (monitoring.export.ward_print), audited as identifiable data
leaving the system."""
from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from dashboard.resources import get_engine, get_settings
from dashboard.session import download_account
from monitoring.export import ward_print
from monitoring.services.auth import may
from monitoring.services.transactions import read_scope, session_scope
from monitoring.views.lists import visible_wards


def print_ward_button(user: dict, wards: list) -> None:
    """A download button for the PDF of these wards (Ward rows); nothing for a role that may not print."""
    if not wards or not may(user["role"], "print_ward"):
        return
    ward_ids, codes = [w.id for w in wards], [w.code for w in wards]
    allowed = download_account("print_ward")

    def produce() -> bytes:
        """Called by Streamlit on the click, outside the page's run: the sign-in and the permission checked
        again (the account as it is now), the PDF, then its audit row."""
        account = allowed()
        now = datetime.now(timezone.utc)
        with read_scope(get_engine()) as session:
            seen = visible_wards(session=session, role=account["role"], ward_ids=account["ward_ids"])
            visible = [w.id for w in seen if w.id is not None]
            ward_print.authorise(account["role"], ward_ids=ward_ids, visible_ids=visible)
            printed = ward_print.ward_pdf(session=session, ward_ids=ward_ids, now=now, tz=get_settings().timezone)
        with session_scope(get_engine()) as session:
            ward_print.record_print(session=session, username=account["username"], ward_codes=codes,
                                    rendered=printed, hours=24.0)
        return printed.data

    st.download_button(
        "Print ward (PDF)", data=produce, file_name=ward_print.filename(codes, datetime.now(timezone.utc)),
        mime=ward_print.MEDIA_TYPE, key="ward_print", on_click="ignore", icon=":material/print:",
        help="A4 landscape, each patient on pages of their own: the banner, a NEWS2 chart of the last 24 h to "
             "continue by hand, alerts, doses and a blank pre-dose check, for when the system is down. Names "
             "leave the system on it: the print is recorded in the audit trail.")
