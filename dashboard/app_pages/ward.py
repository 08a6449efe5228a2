"""Ward overview: every patient of the chosen ward, riskiest first, refreshing itself every 30 s.

The rows come from monitoring.views.ward.ward_overview; this page only styles and renders them. Selecting
a row opens that patient's chart.
"""
from datetime import datetime, timezone

import streamlit as st

from dashboard.markdown_text import plain
from dashboard.patient_picker import SELECTED_PATIENT
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from dashboard.tables import LINE_ROW_HEIGHT, full_height
from dashboard.ward_print import print_ward_button
from dashboard.ward_table import styled_overview
from dashboard.warm_up import warm_up_charts
from monitoring.services.auth import may
from monitoring.services.transactions import read_scope
from monitoring.views.lists import visible_wards, ward_choice
from monitoring.views.ward import ward_overview

REFRESH_SECONDS = get_settings().ward_refresh_seconds   # IL2_WARD_REFRESH_SECONDS, 30 s
# A ward of up to 40 beds is shown whole; a longer list (an oncologist's hospital-wide choice) scrolls inside
# the table, riskiest first: at full height 2,040 rows made a 70,000-px page the browser took seconds to lay out.
WHOLE_ROWS = 40
SHOWN = ["Bed", "Patient", "Course", "Last dose", "Next dose", "NEWS2", "Open alerts", "Last set", "Next set",
         "CTCAE today"]

user = require("view_patients")
st.title("Ward overview")
with read_scope(get_engine()) as session:
    wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
if not wards:
    st.info("You are not assigned to a ward yet; ask an administrator.")
    st.stop()
# An oncologist may see every ward; the overview opens on the wards they are assigned to, if any, and keeps
# their choice for the session.
names, opening = ward_choice(wards, user["ward_ids"])
chosen = st.multiselect("Wards", list(names), default=opening, key="overview_wards",
                        help="Patients of the wards chosen, riskiest first.") if len(names) > 1 else list(names)
ward_ids = [names[n] for n in chosen]
chart_page = "app_pages/chart.py"


@st.fragment(run_every=REFRESH_SECONDS)
def overview() -> None:
    tz = get_settings().timezone
    now = datetime.now(timezone.utc)
    with read_scope(get_engine()) as session:
        frame = ward_overview(session=session, ward_ids=ward_ids, now=now, tz=tz)
    if frame.empty:
        st.info("No patients on these wards. `make run` seeds a synthetic demo ward into an empty database; "
                "`il2-monitor demo` adds one by hand.")
        return
    overdue = int(frame["overdue"].sum())
    st.caption(f"{len(frame)} patients · riskiest first (open alerts, then NEWS2, then overdue sets) · times in "
               f"{tz.key} · as of {now.astimezone(tz):%H:%M:%S}, refreshed every {REFRESH_SECONDS:g} s"
               + (f" · **{overdue} overdue set{'s' * (overdue != 1)}**" if overdue else ""))
    shown = frame[SHOWN]
    # One line per row, so that 10 of 12 beds fit a 1366x768 ward screen without scrolling (issue 18
    # item 5; wrapped rows need 65 px each: 4.5 rows fitted). Fixed column widths that add up to the
    # screen; a cell's text cut at its edge is given in full in the lists under the table and on the
    # patient's chart, which a row opens.
    event = st.dataframe(
        styled_overview(frame, shown), hide_index=True, width="stretch", key="overview_table",
        row_height=LINE_ROW_HEIGHT, height=full_height(min(len(shown), WHOLE_ROWS)), on_select="rerun",
        selection_mode="single-row",
        column_config={
            "Bed": st.column_config.TextColumn(width=60),
            "Patient": st.column_config.TextColumn(width=178),
            "Course": st.column_config.TextColumn(
                width=125, help="Regimen · cycle and day of the course · IL-2 doses given of planned"),
            "Last dose": st.column_config.TextColumn(
                "Last dose (ago)", width=112, help="The last IL-2 dose: given, held or stopped, and how long ago"),
            "Next dose": st.column_config.TextColumn(
                width=150, help="For IL-2 running: the next dose, when it is due and what the pre-dose check would "
                "say now (HOLD in red, discuss in orange), and the oncologist's decision; the criteria are listed "
                "under the table"),
            "NEWS2": st.column_config.TextColumn(
                width=55, help="Of the last complete set (all seven parameters), band colour of RCP 2017 Chart 4"),
            "Open alerts": st.column_config.TextColumn(width=147, help="Open alerts by severity, worst first"),
            "Last set": st.column_config.TextColumn(
                width=78, help="Time since the last bedside set; in brackets, since the last complete one when a "
                "partial set came after it"),
            "Next set": st.column_config.TextColumn(
                width=112, help="When the next full set is due, from the last complete set's NEWS2 (RCP 2017 "
                "Chart 4) or the IL-2 post-dose schedule, by elapsed time"),
            "CTCAE today": st.column_config.TextColumn(
                width=153, help="Highest CTCAE v5.0 grade today per organ system, grade 1 and above, worst first; "
                "'all 0' when every value graded today is normal; '–' when nothing was graded today. Every "
                "system and the values behind it are listed below the table.")})
    rows = event.selection.rows if event is not None else []
    if rows:
        st.session_state[SELECTED_PATIENT] = int(frame["patient_id"].iat[rows[0]])
        st.switch_page(chart_page)
    due = frame[frame["forecast"].notna()] if "forecast" in frame else frame.iloc[:0]
    if len(due):
        # One element per list, not one per patient: a hospital's list was 1,700 elements sent on every run
        # (issue 21), though the expander is closed.
        with st.expander("Next IL-2 dose: what the pre-dose check would say now"):
            st.markdown("\n\n".join(f"**{plain(row.Bed)} · {plain(row.Patient)}**: {row.forecast}"
                                     for row in due.itertuples(index=False)))
            st.caption("A forecast from the values valid now; the check is judged again at the time of dosing "
                       "on the IL-2 doses page.")
    with st.expander("Values behind today's grades"):
        st.markdown("\n\n".join(f"**{plain(row.Bed)} · {plain(row.Patient)}**  \n"
                                  + row.grade_detail.replace("\n", "  \n")
                                  for row in frame.itertuples(index=False) if row.grade_detail)
                    or "Nothing graded today.")
    warm_up_charts()  # plotly.js loads while the overview is read (dashboard.warm_up)


overview()
# Below the table, not above it: the ward's rows keep the screen (issue 18 item 5).
print_ward_button(user, [w for w in wards if w.id in ward_ids])
st.caption("Select a row to open the patient's chart. Decision support: every score, grade and alert shows its "
           "basis on the patient's pages; nothing is hidden. " +
           ("You may act on alerts in the Alert inbox." if may(user["role"], "act_on_alerts") else
            "Escalate alerts from the Alert inbox."))
