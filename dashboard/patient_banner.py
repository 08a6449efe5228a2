"""The patient banner under the patient picker of every patient page (monitoring.views.patient_banner)."""
from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from dashboard.markdown_text import plain
from dashboard.resources import get_engine, get_settings
from monitoring.services.transactions import read_scope
from monitoring.views.patient_banner import patient_banner


def show_patient_banner(patient_id: int) -> None:
    with read_scope(get_engine()) as session:
        b = patient_banner(session=session, patient_id=patient_id, now=datetime.now(timezone.utc),
                           tz=get_settings().timezone)
    allergy = b.allergies if b.allergies != "allergies not recorded" else "**not recorded**"
    with st.container(border=True, key=f"patient_banner_{patient_id}"):
        st.markdown(f"**{b.identity()}** · {b.placement()}" + (" · :orange-badge[synthetic]" if b.synthetic else "")
                    + f"  \n{b.course()} · Allergies: {allergy}")
        eligibility = b.eligibility()
        if eligibility:
            # Red when no dose may be recorded; orange for a positive answer on a signed-off course.
            st.markdown(f":{'orange' if b.doses_allowed else 'red'}[{plain(eligibility)}]")
