"""Choosing a patient from the wards the signed-in user may see (one place for every page)."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.resources import get_engine
from monitoring.db import session_scope
from monitoring.repository import visible_patients


def short_label(p) -> str:
    return f"{p.bed or '–'} · {p.name}{' (synthetic)' if p.is_synthetic else ''}"


def choose_patient(user: dict, *, key: str, label: Callable = short_label, with_course: bool = False,
                   empty: str = "No patients on your wards."):
    """A selectbox of the user's patients; stops the page with `empty` when there are none.
    Returns the chosen row of repository.ward_patient_list."""
    with session_scope(get_engine()) as session:
        patients = visible_patients(session=session, role=user["role"], ward_ids=user["ward_ids"])
    if with_course and len(patients):
        patients = patients[patients["course_id"].notna()]
    if patients.empty:
        st.info(empty)
        st.stop()
    labels = {label(p): p for p in patients.itertuples()}
    return labels[st.selectbox("Patient", list(labels), key=key)]
