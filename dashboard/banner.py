"""The banner every page shows: what the product is, and when the data are synthetic."""
import streamlit as st

from dashboard.resources import get_engine
from monitoring.services.transactions import read_scope
from monitoring.views.lists import holds_synthetic_data as _holds_synthetic_data


def holds_synthetic_data() -> bool:
    with read_scope(get_engine()) as session:
        return _holds_synthetic_data(session=session)


def show_banner() -> None:
    if holds_synthetic_data():
        st.warning("**Synthetic demo data.** Every patient here is invented for demonstration and testing; "
                   "none is a real person.", icon=":material/science:")
    st.caption("Decision support only: every score and alert shows its basis so a clinician can check it. "
               "It does not replace clinical judgement.")
