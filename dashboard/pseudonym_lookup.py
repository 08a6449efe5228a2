"""Who an audit log pseudonym is: the oncologist's small form (monitoring.services.pseudonyms; audited).
Drawn on the Reports page for a role holding resolve_pseudonyms, and nowhere else."""
from __future__ import annotations

import streamlit as st

from dashboard.resources import get_engine
from monitoring.errors import RecordError
from monitoring.services import auth, pseudonyms
from monitoring.services.transactions import session_scope


def show_pseudonym_lookup(user: dict) -> None:
    if not auth.may(user["role"], "resolve_pseudonyms"):
        return
    with st.expander("Who is an audit log pseudonym (A-...)?"):
        st.caption("The administrator's audit log shows patients as pseudonyms. Only an oncologist can name the "
                   "patient behind one, and each lookup is recorded in the audit trail.")
        with st.form("resolve_pseudonym"):
            typed = st.text_input("Pseudonym", key="resolve_pseudonym_text", placeholder="A-3fa94c0e1b")
            submitted = st.form_submit_button("Find the patient")
        if not submitted:
            return
        try:
            with session_scope(get_engine()) as session:
                found = pseudonyms.resolve(session=session, role=user["role"], username=user["username"],
                                           pseudonym=typed)
        except RecordError as exc:
            for message in exc.errors:
                st.error(message)
            return
        born = f", born {found.birth_date:%Y-%m-%d}" if found.birth_date else ""
        place = f"; ward {found.ward}, bed {found.bed or 'none'}" if found.ward else "; not placed on a ward"
        st.success(f"{found.pseudonym} is {found.family_name}, {found.given_name} (record number {found.mrn}{born})"
                   f"{place}.")
