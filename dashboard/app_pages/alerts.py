"""Patient alerts: what the engine found for one patient, each with its evidence and standard."""
from datetime import datetime, timezone

import streamlit as st

from dashboard.patient_picker import choose_patient
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.alerting import list_alerts
from monitoring.db import session_scope
from monitoring.timefmt import elapsed_text, local_text

SEVERITY_ICON = {"emergency": ":material/emergency:", "urgent": ":material/error:",
                 "warning": ":material/warning:", "info": ":material/info:"}

user = require("view_patients")
st.title("Patient alerts")
tz = get_settings().timezone
chosen = choose_patient(user, key="alerts_patient", empty="No patients yet.")
with session_scope(get_engine()) as session:
    alerts = list_alerts(session=session, patient_ids=[int(chosen.patient_id)])

expected = alerts[alerts["severity"] == "info"]
findings = alerts[alerts["severity"] != "info"]
show_expected = st.toggle(f"Show expected IL-2 effects ({len(expected)})", key="show_expected",
                          help="Fever, rigors or tachycardia 1-4 h after a given dose with no sepsis criterion "
                               "beyond them. Counted and shown, never hidden: they are not sepsis alerts.")
shown = alerts if show_expected else findings
now = datetime.now(timezone.utc)
st.caption(f"{len(findings)} alert{'s' * (len(findings) != 1)}, {len(expected)} expected IL-2 "
           f"effect{'s' * (len(expected) != 1)} · onsets in {tz.key}; evidence times in UTC (Z)")
if shown.empty:
    st.success("No alerts for this patient.")
for a in shown.itertuples():
    with st.container(border=True):
        st.markdown(f"{SEVERITY_ICON.get(a.severity, '')} **{a.severity.upper()} · {a.rule_id} · {a.level}**"
                    f"  \nOnset {local_text(a.onset_at, tz)} ({elapsed_text(now - a.onset_at)} ago) · "
                    f"status {a.status}")
        st.markdown(f"**Evidence:** {a.evidence_text}")
        if a.context:
            st.markdown(f"**IL-2 context:** {a.context}")
        st.caption(f"Standard: {a.standard}")
