"""Ward: the patients on the ward with their IL-2 course and how fresh their observations are."""
from datetime import datetime, timezone

import streamlit as st

from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.alerting import open_alert_counts
from monitoring.db import session_scope
from monitoring.repository import visible_wards, ward_patient_list
from monitoring.ward import ward_rows

user = require("view_patients")
st.title("Ward")
with session_scope(get_engine()) as session:
    wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
    options = {w.name: w for w in wards}
    choice = st.selectbox("Ward", list(options), key="ward") if len(options) > 1 else next(iter(options), None)
    ward = options.get(choice) if choice else None
    patients = ward_patient_list(session=session, ward_id=ward.id) if ward else None
    open_alerts = open_alert_counts(session=session)

if ward is None:
    st.info("You are not assigned to a ward yet; ask an administrator.")
elif patients.empty:
    st.info("No patients yet. `make run` seeds a synthetic demo ward into an empty database; "
            "`il2-monitor demo` adds one by hand.")
else:
    tz = get_settings().timezone
    now = datetime.now(timezone.utc)
    st.caption(f"{len(patients)} patients · times in {tz.key} · as of {now.astimezone(tz):%H:%M}")
    rows = ward_rows(patients, now=now, tz=tz, open_alerts=open_alerts)
    # Every patient visible without scrolling the table (one row is 35 px in st.dataframe).
    st.dataframe(rows, hide_index=True, width="stretch", height=35 * (len(rows) + 1) + 3,
                 column_config={"Cycle · day": st.column_config.TextColumn(width="small")})
