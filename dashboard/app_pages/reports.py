"""Reports: de-identified cohort summary (counts only; no names or record numbers)."""
import streamlit as st

from dashboard.resources import get_engine
from dashboard.session import require
from monitoring.db import session_scope
from monitoring.reports import cohort_summary

require("view_reports")
st.title("Reports")
st.caption("De-identified: counts per regimen, computed without reading any name, record number or birth "
           "date. Expected IL-2 effects are counted apart from alerts. Exports in more formats come next (issue 7).")
with session_scope(get_engine()) as session:
    summary = cohort_summary(session=session)
if summary.empty:
    st.info("No treatment courses yet.")
else:
    st.dataframe(summary, hide_index=True, width="stretch")
