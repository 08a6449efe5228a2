"""Choosing a patient from the wards the signed-in user may see (one place for every page)."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.resources import get_engine
from monitoring.db import session_scope
from monitoring.repository import visible_patients

# The patient last chosen on any page (or selected on the ward overview): the next page opens on it.
SELECTED_PATIENT = "selected_patient_id"


def short_label(p) -> str:
    bed = p.bed if isinstance(p.bed, str) and p.bed else "no bed"  # a missing bed is NaN in the frame
    return f"{bed} · {p.name}{' (synthetic)' if p.is_synthetic else ''}"


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
    rows = {int(p.patient_id): p for p in patients.itertuples()}
    labels = {pid: label(p) for pid, p in rows.items()}
    repeated = {text for text in labels.values() if list(labels.values()).count(text) > 1}
    # Two patients may share a name and a bed label (on different wards): the record number tells them apart.
    labels = {pid: f"{text} · {rows[pid].mrn}" if text in repeated else text for pid, text in labels.items()}
    by_label = {text: pid for pid, text in labels.items()}
    selected = st.session_state.get(SELECTED_PATIENT)
    ids = list(rows)
    chosen = by_label[st.selectbox("Patient", list(by_label), index=ids.index(selected) if selected in ids else 0,
                                   key=key)]
    st.session_state[SELECTED_PATIENT] = chosen
    return rows[chosen]
