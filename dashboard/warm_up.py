"""Load the browser's chart code while the ward overview is being read.

Streamlit loads plotly.js (4.7 MB of JavaScript) the first time a page draws a chart: the first
patient chart after sign-in took 1.5 s in the browser, the next ones 0.5 s (measured in Chromium,
bench.bench_browser). The ward overview, where clinicians land, draws one blank chart in a 1-px box
WARM_UP_AFTER_S seconds after it is shown, in a fragment rerun of its own, so that cost is paid while
the overview is read and not when a patient's chart is asked for. Full runs of the page draw nothing
extra (the overview itself is drawn as fast as before); the box is gone at the next tick. The ticking
fragment lives inside the overview's refreshing fragment: once the charts are warm, that fragment's
next refresh no longer creates it, and Streamlit cancels its timer.
"""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

WARM_UP_AFTER_S = 2
WARMED = "charts_warmed"


def _in_fragment_rerun() -> bool:
    """True in a rerun of fragments alone (a timer tick), False in a full run of the page."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    # Not a documented attribute: without it no warm-up happens, and charts load as before.
    return bool(getattr(get_script_run_ctx(), "fragment_ids_this_run", None))


def _blank_chart(key: str) -> None:
    blank = go.Figure(layout=dict(height=10, margin=dict(l=0, r=0, t=0, b=0), xaxis_visible=False,
                                  yaxis_visible=False))
    with st.container(height=1, border=False):
        st.plotly_chart(blank, theme=None, config={"staticPlot": True}, key=key)


def preload_on_sign_in() -> None:
    """The sign-in page draws the blank chart at once (issue 21): plotly.js loads while the user types, so
    the first chart after signing in (the patient chart: 2.4 s on first open, 0.9 s warm) does not wait for
    it. Marks the session warm, so the overview's timer is not needed after it."""
    _blank_chart("charts_preload")
    st.session_state[WARMED] = True


def warm_up_charts() -> None:
    """Once a session: a blank chart drawn at the first timer tick after the page is shown. Call it
    inside a refreshing fragment (see the module docstring)."""
    if st.session_state.get(WARMED):
        return

    @st.fragment(run_every=WARM_UP_AFTER_S)
    def tick() -> None:
        if st.session_state.get(WARMED) or not _in_fragment_rerun():
            return
        st.session_state[WARMED] = True
        _blank_chart("charts_warm_up")

    tick()
