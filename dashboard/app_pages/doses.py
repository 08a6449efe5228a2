"""IL-2 doses: the next scheduled dose, the pre-dose check, and recording the dose as given, held or
stopped. Thin page: the schedule, the check and the record come from monitoring.views.dosing."""
from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from dashboard import pre_dose
from dashboard.patient_picker import choose_patient
from dashboard.refusal import show_refusal
from dashboard.resources import get_engine, get_settings
from dashboard.session import account_for_writing, require
from dashboard.tables import WRAPPED_ROW_HEIGHT, full_height, wrapped_height
from monitoring.clinical.thresholds import default_thresholds
from monitoring.clinical.vocabulary import REGIMEN_SHORT, ROUTES
from monitoring.errors import RecordError
from monitoring.services import doses
from monitoring.services.transactions import read_scope, session_scope
from monitoring.timefmt import local_text
from monitoring.views import dose_gate, dosing
from monitoring.views.courses import signoff_problem

STATUSES = {"Given": "given", "Held": "held", "Stopped": "stopped"}
REFUSED_KEY = "dose_refused"   # (form version, messages): why the last Save recorded nothing, shown under the form

user = require("record_doses")
st.title("IL-2 doses")
tz = get_settings().timezone
now = datetime.now(timezone.utc)



def patient_label(p) -> str:
    planned = "?" if pd.isna(p.planned_doses) else int(p.planned_doses)
    return (f"{p.bed or '–'} · {p.name}{' (synthetic)' if p.is_synthetic else ''} · "
            f"{REGIMEN_SHORT.get(p.regimen, p.regimen)} · {int(p.doses_given)} of {planned} doses given")


def save_dose(course_id: int, upcoming, status: str, version: int, authority_needed: bool, unit: str,
              choices: dict) -> None:
    """Record the dose from the form's values (the form of `version`, as drawn for `status`); the feedback, or
    why nothing was saved, is shown by the run that follows. A saved form is replaced by an empty one."""
    state = st.session_state
    account = account_for_writing("record_doses")
    if account is None:   # signed out or no longer allowed: the run that follows says so
        return
    value = lambda name: state.get(f"{name}_{version}")   # noqa: E731 (the form's widget of this version)
    if (STATUSES.get(value("dose_status")) != status or state.get("dose_form_for") != course_id
            or state.get("dose_form_version") != version):
        # The status or the patient changed after this form was drawn: what the nurse saw is not what would be
        # recorded (the page draws the form again for what is chosen now).
        state[REFUSED_KEY] = (version, ["The form changed after it was drawn (another status or patient): check it "
                                        "and save again."])
        return
    problems, fields = [], {}
    if status == "given":
        amount = value("dose_amount")
        if amount is None:
            problems.append("Type the dose given: no dose is ever assumed.")
        if not value("dose_confirm"):
            problems.append("Tick the box to confirm you have checked the dose against the prescription.")
        fields = dict(given_at=datetime.combine(value("dose_date"), value("dose_time"), tz).astimezone(timezone.utc),
                      dose=amount, route=value("dose_route"), dose_unit=unit,
                      difference_confirmed=bool(value("dose_differs")))
        if authority_needed:
            fields.update(override_by=value("dose_override_by"), override_reason=value("dose_override_reason"))
    else:
        reasons, free_text = value("dose_reasons") or [], value("dose_reason_text") or ""
        fields = dict(reason=doses.compose_reason([choices[i] for i in reasons], free_text),
                      reason_criteria=reasons, reason_note=free_text)
    if problems:
        state[REFUSED_KEY] = (version, problems)
        return
    recorded_at = datetime.now(timezone.utc)
    try:
        with session_scope(get_engine()) as session:
            event = doses.record(session=session, course_id=course_id, dose_number=upcoming.dose_number,
                                  scheduled_at=upcoming.scheduled_at or recorded_at, status=status,
                                  recorded_by=account["username"], now=recorded_at, tz=tz, **fields)
            basis = (f" over the check, authorised by {event.override_by}" if event.override_by else
                     " on the oncologist's decision" if event.decision_id else "")
    except RecordError as refused:
        state[REFUSED_KEY] = (version, list(refused.errors))
        return
    state["dose_feedback"] = (course_id, f"Dose {upcoming.dose_number} recorded as {status}{basis} by "
                                         f"{account['display_name']}.")
    state["dose_form_version"] = version + 1


chosen = choose_patient(user, key="doses_patient", label=patient_label, with_course=True,
                        empty="No patients with an IL-2 course on your wards.")
patient_id, course_id = int(chosen.patient_id), int(chosen.course_id)

with read_scope(get_engine()) as session:
    progress = dosing.course_progress(session=session, course_id=course_id)
    upcoming = dosing.next_dose(session=session, course_id=course_id, now=now)
    suggestion = dosing.suggested_dose(session=session, course_id=course_id, now=now, tz=tz)
    # Issue 19's dose gate: no dose on a course not signed off eligible (doses.record refuses it too).
    unsigned = signoff_problem(session=session, course=progress.course, tz=tz)
    check, check_error, standing = None, None, None
    if upcoming is not None:
        # A check that cannot run is shown as such, never a stack trace; no decision is made up.
        check, check_error = dosing.check_or_none(session=session, patient_id=patient_id, now=now, tz=tz)
        standing = dosing.standing_decision(session=session, course_id=course_id, dose_number=upcoming.dose_number,
                                            check=check, now=now)

feedback = st.session_state.pop("dose_feedback", None)
if feedback and feedback[0] == course_id:
    st.success(feedback[1])
# Why the last Save recorded nothing: under its form if that form is drawn again, else where the form was (it
# may be gone: the course stopped or its sign-off withdrawn meanwhile); shown once either way.
refused = st.session_state.pop(REFUSED_KEY, None)

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
    pre_dose.show_check_error(check_error)
else:
    pre_dose.show_decision_box(check, tz)
if upcoming is not None:
    pre_dose.show_standing(standing, upcoming.dose_number, tz)
if check is not None:
    pre_dose.show_details(check, tz)

if upcoming is not None and unsigned:
    st.subheader(f"Record dose {upcoming.dose_number}")
    st.error(unsigned, icon=":material/block:")
elif upcoming is not None:
    st.subheader(f"Record dose {upcoming.dose_number}")
    offered = dose_gate.offered_status(check, standing)   # the safe answer is the one offered
    version = st.session_state.setdefault("dose_form_version", 0)
    if st.session_state.setdefault("dose_form_for", course_id) != course_id:
        # Another patient: new widgets. A widget kept under the same key kept showing the last patient's
        # dose (59,340,000 IU over a fixed 6,000,000 IU) and status in the browser.
        st.session_state["dose_form_for"] = course_id
        st.session_state["dose_form_version"] = version = version + 1
    status_label = st.radio("Dose", list(STATUSES), index=list(STATUSES.values()).index(offered), horizontal=True,
                            key=f"dose_status_{version}")
    status = STATUSES[status_label]
    authority_needed = dose_gate.needs_authority(check, standing)
    limit = default_thresholds()["prescription"].confirm_difference_percent
    # Enter in a field moves on and never saves: only the Save button does (issue 15).
    with st.form(f"dose_form_{version}", enter_to_submit=False):
        local_now = now.astimezone(tz)
        if status == "given":
            if authority_needed:
                st.error(f"**The check says {dose_gate.check_words(check) if check else 'nothing: it could not run'}"
                         + (f"; {standing.words(lambda at: local_text(at, tz))}" if standing is not None else "")
                         + ".** 'Given' needs the oncologist's decision to give this dose, or an override: name the "
                         "clinician who authorised it and the reason. Both are stored with the dose and counted in "
                         "the quality report.", icon=":material/front_hand:")
                by_col, why_col = st.columns([1, 2])
                by_col.text_input("Authorised by (clinician's name and role)", key=f"dose_override_by_{version}")
                why_col.text_input("Reason for giving over the check", key=f"dose_override_reason_{version}")
            elif standing is not None and standing.decision == "give":
                st.success(f"Given on the {standing.words(lambda at: local_text(at, tz))}.")
            day_col, time_col, dose_col, route_col = st.columns(4)
            day_col.date_input("Date given", local_now.date(), key=f"dose_date_{version}")
            time_col.time_input("Time given", local_now.time().replace(second=0, microsecond=0),
                                key=f"dose_time_{version}", step=60)
            dose_col.number_input(f"Dose ({dosing.unit_text(suggestion.unit)})", value=suggestion.dose,
                                  min_value=0.0, step=100_000.0, format="%.0f", key=f"dose_amount_{version}")
            usual = dosing.DEFAULT_ROUTE.get(progress.course.regimen, ROUTES[0])
            route_col.selectbox("Route", ROUTES, index=ROUTES.index(usual), key=f"dose_route_{version}")
            st.caption(f"Prescribed dose: {suggestion.basis}."
                       + (f" {suggestion.latest_weight[0].upper()}{suggestion.latest_weight[1:]}."
                          if suggestion.latest_weight else "") + " Check it against the prescription.")
            st.checkbox("I have checked the dose, unit and route against the prescription",
                        key=f"dose_confirm_{version}")
            st.checkbox(f"The dose differs from the prescribed dose by more than {limit:g}% on purpose "
                        "(asked only then)", key=f"dose_differs_{version}")
        else:
            choices = check.reason_choices() if check else {}
            st.multiselect("Reason: criteria found by the pre-dose check", list(choices),
                           format_func=choices.get, key=f"dose_reasons_{version}",
                           placeholder="choose one or more" if choices else
                           "no criterion found: write the reason below")
            st.text_input("Reason in your own words (or in addition)", key=f"dose_reason_text_{version}",
                          value=f"oncologist's decision: {standing.decision}" if standing is not None
                          and standing.decision in ("hold", "stop") else "")
            if status == "stopped":
                st.warning("Stopping ends IL-2 for this course: no further dose can be recorded.")
        # Recorded in the button's callback, before the page runs: one run shows the result (issue 21: the page
        # ran twice, once to record and once more to show it). The callback records what this form showed.
        st.form_submit_button("Save dose", type="primary", on_click=save_dose,
                              args=(course_id, upcoming, status, version, authority_needed,
                                    suggestion.unit, choices if status != "given" else {}))
    if refused is not None and refused[0] == version:
        show_refusal(refused[1])
        refused = None
if refused is not None:
    show_refusal(refused[1])

st.subheader("Doses of this course")
with read_scope(get_engine()) as session:
    history = dosing.dose_history(session=session, course_id=course_id, tz=tz)
if history.empty:
    st.caption("No dose recorded yet.")
else:
    # Every reason and basis in full on a 1366-px screen and every dose shown: fixed widths; rows of two
    # lines only when a reason is longer than one line holds (about 55 characters in 420 px).
    wrap = bool(history["Reason or basis"].str.len().max() > 55)
    st.dataframe(history, hide_index=True, width="stretch", row_height=WRAPPED_ROW_HEIGHT if wrap else None,
                 height=wrapped_height(len(history)) if wrap else full_height(len(history)),
                 column_config={"Dose": st.column_config.NumberColumn(width=50),
                                "Scheduled": st.column_config.TextColumn(width=125),
                                "Status": st.column_config.TextColumn(width=65),
                                "Given at": st.column_config.TextColumn(width=125),
                                "Amount": st.column_config.TextColumn(width=120),
                                "Route": st.column_config.TextColumn(width=50),
                                "Reason or basis": st.column_config.TextColumn(width=420),
                                "Recorded": st.column_config.TextColumn(width=240)})
