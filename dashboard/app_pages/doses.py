"""IL-2 doses: the next scheduled dose, the pre-dose check, and recording the dose as given, held or
stopped. Thin page: the schedule, the check and the record come from monitoring.dosing."""
from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from dashboard.resources import get_engine, get_settings
from dashboard.patient_picker import choose_patient
from dashboard.session import require
from dashboard.tables import WRAPPED_ROW_HEIGHT, wrapped_height
from monitoring import dosing
from monitoring.db import session_scope
from monitoring.models import REGIMEN_SHORT, ROUTES
from monitoring.repository import RecordError
from monitoring.timefmt import local_text

DECISION_COLOURS = {"give": "#2e7d32", "incomplete": "#546e7a", "discuss": "#ef6c00", "hold": "#c62828",
                    "permanently discontinue": "#c62828"}
INCOMPLETE_COLOUR = "#546e7a"
STATUSES = {"Given": "given", "Held": "held", "Stopped": "stopped"}

user = require("record_doses")
st.title("IL-2 doses")
tz = get_settings().timezone
now = datetime.now(timezone.utc)



def patient_label(p) -> str:
    planned = "?" if pd.isna(p.planned_doses) else int(p.planned_doses)
    return (f"{p.bed or '–'} · {p.name}{' (synthetic)' if p.is_synthetic else ''} · "
            f"{REGIMEN_SHORT.get(p.regimen, p.regimen)} · {int(p.doses_given)} of {planned} doses given")


chosen = choose_patient(user, key="doses_patient", label=patient_label, with_course=True,
                        empty="No patients with an IL-2 course on your wards.")
patient_id, course_id = int(chosen.patient_id), int(chosen.course_id)

with session_scope(get_engine()) as session:
    progress = dosing.course_progress(session=session, course_id=course_id)
    upcoming = dosing.next_dose(session=session, course_id=course_id, now=now)
    suggestion = dosing.suggested_dose(session=session, course_id=course_id, now=now, tz=tz)
    check, check_error = None, None
    if upcoming is not None:
        try:
            check = dosing.pre_dose_check(session=session, patient_id=patient_id, now=now, tz=tz)
        except Exception as exc:  # shown, never a stack trace; no decision is made up
            check_error = f"{type(exc).__name__}: {exc}"

feedback = st.session_state.pop("dose_feedback", None)
if feedback and feedback[0] == course_id:
    st.success(feedback[1])

st.caption(dosing.course_text(progress.course, tz) + f" · times in {tz.key}")
given, following = st.columns([1, 2])
given.metric("IL-2 doses", progress.given_text())
if upcoming is not None:
    when = "time not scheduled" if upcoming.scheduled_at is None else local_text(upcoming.scheduled_at, tz)
    following.markdown(f"**Next: dose {upcoming.dose_number}** · scheduled {when} · **{upcoming.due_text(now)}**")
else:
    following.info(dosing.stopped_text(progress, tz) or "No further dose is scheduled.")

st.subheader("Pre-dose check")
if upcoming is None:
    st.caption("No pre-dose check: no further dose is scheduled in this course (the Alert inbox shows "
               "the current alerts).")
elif check is None:
    st.error(f"The pre-dose check could not run ({check_error}). Assess the hold criteria at the bedside and "
             "tell the administrator.")
else:
    colour, note = DECISION_COLOURS[check.decision], ""
    if check.decision == "incomplete":
        # Shown like DISCUSS: no criterion was met among the values that were valid, but the check
        # could not be completed.
        note = f" · the check is <b>incomplete</b>: no valid value for {', '.join(check.missing)}; record them before the dose"
    elif not check.complete:
        note = f" · also no valid value for {', '.join(check.missing)}"
    due = "" if check.due_at is None else f" for the dose due {local_text(check.due_at, tz)}"
    forecast = "" if check.at_dosing else (" · <b>forecast</b>: judged again at the time of dosing; tachycardia and "
                                           "the phenylephrine dose count only then")
    st.markdown(f"<div style='background:{colour};color:white;padding:0.6em;border-radius:0.4em'>"
                f"<b>{check.decision.upper()}</b>{due} · {check.found_text()}{note}{forecast}</div>",
                unsafe_allow_html=True)
    for c in check.criteria:
        st.markdown(f"- **{c.kind}**: {c.text}")
    missing = [i.text for i in check.needs_attention()]
    if missing:
        st.warning("**Missing or stale:** " + "; ".join(missing))
    if check.eligibility:
        st.warning("**Eligibility screen** (answers that are not 'no'; the oncologist signs them off): " + "; ".join(
            f"{e.label}: {e.answer} ({e.by}, {local_text(e.at, tz)}{'; ' + e.note if e.note else ''})"
            for e in check.eligibility))
    checklist = check.checklist_frame()
    # Every input visible without scrolling the table, every word of it without a sideways scroll
    # (fixed widths for a 1366-px screen, wrapped rows: dashboard.tables).
    st.dataframe(checklist, hide_index=True, width="stretch", row_height=WRAPPED_ROW_HEIGHT,
                 height=wrapped_height(len(checklist)),
                 column_config={"Input": st.column_config.TextColumn(width=150),
                                "Status": st.column_config.TextColumn(width=70),
                                "Check": st.column_config.TextColumn(width=430),
                                "Criterion met": st.column_config.TextColumn(width=100),
                                "Hold criteria": st.column_config.TextColumn(width=400)})
    unrecorded = check.not_recorded()
    if unrecorded:
        st.caption("Not recorded, so their criteria could not be met: " + ", ".join(unrecorded) + ".")
    st.caption(f"Standard: {check.standard}. Values older than their validity are not used. "
               "Decision support only: the decision stays with the clinical team.")

if upcoming is not None:
    st.subheader(f"Record dose {upcoming.dose_number}")
    status_label = st.radio("Dose", list(STATUSES), horizontal=True, key="dose_status")
    status = STATUSES[status_label]
    version = st.session_state.setdefault("dose_form_version", 0)
    with st.form(f"dose_form_{version}"):
        local_now = now.astimezone(tz)
        if status == "given":
            day_col, time_col, dose_col, route_col = st.columns(4)
            day = day_col.date_input("Date given", local_now.date(), key=f"dose_date_{version}")
            clock = time_col.time_input("Time given", local_now.time().replace(second=0, microsecond=0),
                                        key=f"dose_time_{version}", step=60)
            amount = dose_col.number_input(f"Dose ({dosing.unit_text(suggestion.unit)})", value=suggestion.dose,
                                           min_value=0.0, step=100_000.0, format="%.0f", key=f"dose_amount_{version}")
            usual = dosing.DEFAULT_ROUTE.get(progress.course.regimen, ROUTES[0])
            route = route_col.selectbox("Route", ROUTES, index=ROUTES.index(usual), key=f"dose_route_{version}")
            st.caption(f"Suggested dose: {suggestion.basis}. Check it against the prescription.")
            confirmed = st.checkbox("I have checked the dose, unit and route against the prescription",
                                    key=f"dose_confirm_{version}")
        else:
            choices = check.reason_choices() if check else {}
            reasons = st.multiselect("Reason: criteria found by the pre-dose check", list(choices),
                                     format_func=choices.get, key=f"dose_reasons_{version}",
                                     placeholder="choose one or more" if choices else
                                     "no criterion found: write the reason below")
            free_text = st.text_input("Reason in your own words (or in addition)", key=f"dose_reason_text_{version}")
            if status == "stopped":
                st.warning("Stopping ends IL-2 for this course: no further dose can be recorded.")
        submitted = st.form_submit_button("Save dose", type="primary")

    if submitted:
        problems, fields = [], {}
        if status == "given":
            if amount is None:
                problems.append("Type the dose given: no dose is ever assumed.")
            if not confirmed:
                problems.append("Tick the box to confirm you have checked the dose against the prescription.")
            fields = dict(given_at=datetime.combine(day, clock, tz).astimezone(timezone.utc), dose=amount,
                          route=route, dose_unit=suggestion.unit)
        else:
            fields = dict(reason=dosing.compose_reason([choices[i] for i in reasons], free_text),
                          reason_criteria=reasons, reason_note=free_text)
        if problems:
            for message in problems:
                st.error(message)
            st.error("Nothing was saved.")
        else:
            try:
                with session_scope(get_engine()) as session:
                    dosing.record(session=session, course_id=course_id, dose_number=upcoming.dose_number,
                                  scheduled_at=upcoming.scheduled_at or now, status=status,
                                  recorded_by=user["username"], now=datetime.now(timezone.utc), **fields)
                st.session_state["dose_feedback"] = (
                    course_id, f"Dose {upcoming.dose_number} recorded as {status} by {user['display_name']}.")
                st.session_state["dose_form_version"] = version + 1
                st.rerun()
            except RecordError as refused:
                for message in refused.errors:
                    st.error(message)
                st.error("Nothing was saved.")

st.subheader("Doses of this course")
with session_scope(get_engine()) as session:
    history = dosing.dose_history(session=session, course_id=course_id, tz=tz)
if history.empty:
    st.caption("No dose recorded yet.")
else:
    st.dataframe(history, hide_index=True, width="stretch")
