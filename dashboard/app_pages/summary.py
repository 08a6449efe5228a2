"""Patient summary: course, eligibility screen, baselines, dose history with holds and reasons,
and how fresh each kind of data is. The content is monitoring.views.summary.patient_summary."""
from datetime import datetime, timezone

import streamlit as st

from dashboard.patient_picker import choose_patient
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.services.transactions import read_scope
from monitoring.views.summary import patient_summary

user = require("view_patients")
st.title("Patient summary")
tz = get_settings().timezone
now = datetime.now(timezone.utc)
chosen = choose_patient(user, key="summary_patient", with_course=True, empty="No patient with an IL-2 course.")
with read_scope(get_engine()) as session:
    summary = patient_summary(session=session, patient_id=int(chosen.patient_id), now=now, tz=tz)

course, freshness = st.columns([2, 3])
with course:
    st.subheader("Course")
    st.markdown("\n".join(f"- **{label}:** {text}" for label, text in summary.course.items()))
with freshness:
    st.subheader("Data freshness")
    st.dataframe(summary.freshness, hide_index=True, width="stretch")
    stale = summary.freshness[summary.freshness["State"] != "current"]
    if len(stale):
        st.warning("Not current: " + ", ".join(f"{r.Data} ({r.State})" for r in stale.itertuples()) +
                   ". The rules do not use stale values; record new ones.", icon=":material/schedule:")

baseline, eligibility = st.columns([2, 3])
with baseline:
    st.subheader("Baseline values")
    st.dataframe(summary.baseline, hide_index=True, width="stretch")
with eligibility:
    st.subheader("Eligibility screen")
    st.dataframe(summary.eligibility, hide_index=True, width="stretch")
    flagged = summary.eligibility[summary.eligibility["Answer"] != "no"]
    if len(flagged):
        st.warning("Needs review: " + ", ".join(f"{r.Item} ({r.Answer})" for r in flagged.itertuples()),
                   icon=":material/fact_check:")

st.subheader(f"IL-2 doses ({summary.given} given, {summary.held} held)")
if summary.doses.empty:
    st.info("No dose recorded for this course yet.")
else:
    st.dataframe(summary.doses, hide_index=True, width="stretch",
                 column_config={"Reason": st.column_config.TextColumn(width="large")})
st.caption(f"Times in {tz.key}. Decision support: the summary shows the record as stored; it never hides a value.")
