"""The strip every page opens with: what the product is, and when the data are synthetic. One line
of small type (issue 18 item 5: the banner, disclaimer and user line took 420 px of a 768-px ward
screen), never left out."""
import streamlit as st

from dashboard.resources import get_engine
from monitoring.services.transactions import read_scope
from monitoring.views.lists import holds_synthetic_data as _holds_synthetic_data

DISCLAIMER = ("Decision support only: every score and alert shows its basis so a clinician can check it; "
              "it does not replace clinical judgement.")
SYNTHETIC = "Synthetic demo data: every patient is invented; none is a real person."
# The page's top padding under the menu, and the page titles, made smaller so that a ward's rows fit.
COMPACT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.6rem; padding-bottom: 2rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 1.9rem; padding: 0.2rem 0 0.3rem 0; }
</style>"""


def holds_synthetic_data() -> bool:
    with read_scope(get_engine()) as session:
        return _holds_synthetic_data(session=session)


def show_banner() -> None:
    st.html(COMPACT_CSS)
    if holds_synthetic_data():
        # Dark amber text on a pale amber strip (7:1, WCAG AA): the synthetic label, then the disclaimer.
        st.markdown(f"<div role='note' style='background:#fff8e1;color:#5d4300;box-shadow:inset 0.35em 0 #f9a825;"
                    f"padding:0.25em 0.6em;font-size:0.85rem;border-radius:0.3em'><b>{SYNTHETIC.split(':')[0]}"
                    f"</b>:{SYNTHETIC.split(':', 1)[1]} · {DISCLAIMER}</div>", unsafe_allow_html=True)
    else:
        st.caption(DISCLAIMER)
