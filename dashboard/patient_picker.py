"""Choosing a patient from the wards the signed-in user may see (one place for every page)."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.patient_banner import show_patient_banner
from dashboard.resources import get_engine
from monitoring.services import auth
from monitoring.services.transactions import read_scope
from monitoring.views.lists import (
    LEFT_THE_SERVICE,
    departed_count,
    patient_ward_id,
    visible_wards,
    ward_choice,
    ward_patient_list,
    wards_with_courses,
)

# The patient last chosen on any page (or selected on the ward overview): the next page opens on it.
SELECTED_PATIENT = "selected_patient_id"
# The address names the patient shown (an internal number, no identifier): `/record?patient=12`.
PATIENT_PARAM = "patient"


def short_label(p) -> str:
    on_ward = isinstance(p.ward, str) and bool(p.ward)
    bed = (p.bed if isinstance(p.bed, str) and p.bed else "no bed") if on_ward else "left"   # missing: NaN
    return f"{bed} · {p.name}{' (synthetic)' if p.is_synthetic else ''}"


def choose_patient(user: dict, *, key: str, label: Callable = short_label, with_course: bool = False,
                   empty: str = "No patients on your wards.", banner: bool = True):
    """A selectbox of the user's patients; stops the page with `empty` when there are none.
    Returns the chosen row of monitoring.views.lists.ward_patient_list, after the patient banner (two
    identifiers and the course: dashboard.patient_banner) unless `banner` is False.

    A user who may see several wards (an oncologist sees every ward) first chooses the ward: the
    list holds one ward's patients, not a hospital's 2,000. It opens on the ward of the patient chosen
    last (on any page, or on the ward overview), else on the first ward assigned to the user."""
    selected = st.session_state.get(SELECTED_PATIENT)
    asked = st.query_params.get(PATIENT_PARAM, "")
    if selected is None and asked.isdigit() and len(asked) <= 9:
        selected = int(asked)   # a refresh (F5) or a saved address: the same patient, if the user may see them
    with read_scope(get_engine()) as session:
        wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
        selected_ward = patient_ward_id(session=session, patient_id=selected)
        # Who covers every ward also finds the record of a patient who has left the service (issue 19).
        departed = auth.may(user["role"], "view_all_wards") and departed_count(session=session) > 0
        # A page about IL-2 courses opens on a ward that has one (a ward of other patients only is
        # still offered: it may be the one wanted next).
        useful = wards_with_courses(session=session) if with_course and len(wards) > 1 else None
    ward_ids = [w.id for w in wards]
    place = st
    gone = False
    if len(wards) > 1 or departed:
        assigned = [w.id for w in wards if w.id in set(user["ward_ids"])]
        preferred = [w for w in ward_ids if useful is None or w in useful] or ward_ids
        default = (selected_ward if selected_ward in preferred
                   else next((w for w in assigned if w in preferred), preferred[0]))
        choice = ward_choice(wards, user["ward_ids"])[0]   # label -> ward id; the code where the name is not enough
        names = list(choice)
        options = names + ([LEFT_THE_SERVICE] if departed else [])
        ward_place, place = st.columns([1, 2])
        index = (len(names) if departed and selected is not None and selected_ward is None
                 else list(choice.values()).index(default))
        ward_name = ward_place.selectbox("Ward", options, index=index, key=f"{key}_ward")
        gone = ward_name == LEFT_THE_SERVICE
        ward_ids = [] if gone else [choice[ward_name]]
        empty = f"No patients{' with an IL-2 course' if with_course else ''} on {ward_name}: choose another ward."
    with read_scope(get_engine()) as session:
        patients = ward_patient_list(session=session, ward_ids=None if gone else ward_ids, departed=gone)
    if with_course and len(patients):
        patients = patients[patients["course_id"].notna()]
    if patients.empty:
        place.info(empty)
        st.stop()
    rows = {int(p.patient_id): p for p in patients.itertuples()}
    labels = {pid: label(p) for pid, p in rows.items()}
    repeated = {text for text in labels.values() if list(labels.values()).count(text) > 1}
    # Two patients may share a name and a bed label: the record number tells them apart.
    labels = {pid: f"{text} · {rows[pid].mrn}" if text in repeated else text for pid, text in labels.items()}
    by_label = {text: pid for pid, text in labels.items()}
    if st.session_state.get(key) not in by_label:
        # First shown, or another ward chosen: the last chosen patient if listed, else the first. Set
        # through the session state, which the browser is sent too (a default index is not, and the
        # box would go on showing the other ward's patient over this one's chart).
        st.session_state[key] = labels[selected] if selected in labels else next(iter(by_label))
    chosen = by_label[place.selectbox("Patient", list(by_label), key=key)]
    st.session_state[SELECTED_PATIENT] = chosen
    st.query_params[PATIENT_PARAM] = str(chosen)    # the address names the patient: F5 keeps them open
    if banner:
        show_patient_banner(chosen)
    return rows[chosen]
