"""IL-2 doses for the oncologist: the doses due in the next hours, the pre-dose check of one patient
with the last 24 h beside it, and the decision on the next dose (give, hold, discuss, stop), recorded
with who, when and why and shown to the nurse. Thin page over monitoring.services.dose_decisions."""
from datetime import datetime, timezone

import streamlit as st

from dashboard import pre_dose
from dashboard.patient_picker import SELECTED_PATIENT, choose_patient
from dashboard.refusal import problems_of, show_refusal
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from dashboard.tables import full_height
from monitoring.errors import RecordError
from monitoring.services import dose_decisions
from monitoring.services.auth import PermissionDenied
from monitoring.services.transactions import read_scope, session_scope
from monitoring.views import dosing
from monitoring.views.courses import signoff_problem
from monitoring.views.lists import visible_wards, ward_choice

PICKER = "decide_patient"
WINDOWS = {"4 h": 4, "8 h": 8, "12 h": 12, "24 h": 24}

user = require("decide_doses")
st.title("IL-2 doses")
st.caption("The oncologist's decisions on the next dose: give, hold, discuss or stop, on the pre-dose check "
           "and the last 24 hours. The nurse sees each decision on the bedside doses page.")
tz = get_settings().timezone
now = datetime.now(timezone.utc)

with read_scope(get_engine()) as session:
    wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
names, opening = ward_choice(wards, user["ward_ids"])
left, right = st.columns([3, 1])
chosen = left.multiselect("Wards", list(names), default=opening, key="decide_wards")
window = right.selectbox("Doses due within", list(WINDOWS), index=1, key="decide_window")
with read_scope(get_engine()) as session:
    due = dose_decisions.due_doses(session=session, ward_ids=[names[n] for n in chosen], now=now, tz=tz,
                                   within_hours=WINDOWS[window])


def open_selected() -> None:
    """A row chosen in the table opens that patient below (the picker follows it)."""
    rows = st.session_state["decide_due"].selection.rows
    if rows:
        st.session_state[SELECTED_PATIENT] = int(due.iloc[rows[0]]["patient_id"])
        st.session_state.pop(PICKER, None)


if PICKER not in st.session_state and not due.empty and st.session_state.get(SELECTED_PATIENT) not in set(
        due["patient_id"]):
    st.session_state[SELECTED_PATIENT] = int(due.iloc[0]["patient_id"])   # opens on the soonest dose
st.subheader(f"Doses due in the next {window} or overdue")
if due.empty:
    st.info(f"No IL-2 dose is due in the next {window} on the wards chosen.")
else:
    st.dataframe(due[["Bed", "Patient", "Course", "Dose", "Due", "Check", "Oncologist"]], hide_index=True,
                 width="stretch", key="decide_due", on_select=open_selected, selection_mode="single-row",
                 column_config={"Bed": st.column_config.TextColumn(width=70),
                                "Patient": st.column_config.TextColumn(width=190),
                                "Course": st.column_config.TextColumn(width=130),
                                "Dose": st.column_config.TextColumn(width=140),
                                "Due": st.column_config.TextColumn(width=240),
                                "Check": st.column_config.TextColumn(width=110),
                                "Oncologist": st.column_config.TextColumn(width=200)})
    st.caption("Choose a row to open the patient below. Check: what the pre-dose check would say now for that dose.")

patient = choose_patient(user, key=PICKER, with_course=True, empty="No patients with an IL-2 course on your wards.")
patient_id, course_id = int(patient.patient_id), int(patient.course_id)
with read_scope(get_engine()) as session:
    progress = dosing.course_progress(session=session, course_id=course_id)
    upcoming = dosing.next_dose(session=session, course_id=course_id, now=now)
    check, check_error, standing = None, None, None
    if upcoming is not None:
        check, check_error = dosing.check_or_none(session=session, patient_id=patient_id, now=now, tz=tz)
        standing = dosing.standing_decision(session=session, course_id=course_id, dose_number=upcoming.dose_number,
                                            check=check, now=now)
    recent = dose_decisions.last_24h(session=session, patient_id=patient_id, now=now, tz=tz)
    unsigned = signoff_problem(session=session, course=progress.course, tz=tz)

feedback = st.session_state.pop("decision_feedback", None)
if feedback and feedback[0] == course_id:
    st.success(feedback[1])
st.caption(dosing.course_text(progress.course, tz) + f" · {progress.given_text()} · times in {tz.key}")
if upcoming is None:
    st.info(dosing.stopped_text(progress, tz) or "No further dose is scheduled.")
    st.stop()
st.markdown(f"**Next: dose {upcoming.dose_number}** · {upcoming.due_text(now)}")
if unsigned:   # issue 19's dose gate: the nurse cannot record the dose yet; the oncologist signs off on Courses
    st.error(unsigned, icon=":material/block:")

st.subheader("Pre-dose check")
if check is None:
    pre_dose.show_check_error(check_error)
else:
    pre_dose.show_decision_box(check, tz)
pre_dose.show_standing(standing, upcoming.dose_number, tz)
st.subheader("Last 24 hours")
# The full width, one line per measure: every word visible on a 1366-px screen without a sideways
# scroll or an inner scroll bar (side by side with the check, the rows wrapped to 2.5 screens).
st.dataframe(recent, hide_index=True, width="stretch", height=full_height(len(recent)),
             column_config={"Measure": st.column_config.TextColumn(width=230),
                            "Latest": st.column_config.TextColumn(width=420),
                            "Range 24 h": st.column_config.TextColumn(width=330),
                            "n": st.column_config.NumberColumn(width=60, help="readings in the 24 h")})

st.subheader(f"Decision on dose {upcoming.dose_number}")
version = st.session_state.setdefault("decision_form_version", 0)
if st.session_state.setdefault("decision_form_for", course_id) != course_id:
    # Another patient: new widgets, so nothing chosen for one patient shows on another's form.
    st.session_state["decision_form_for"] = course_id
    st.session_state["decision_form_version"] = version = version + 1
labels = dose_decisions.DECISION_LABELS
# A decision is made on the check the oncologist was looking at: the run that shows the form keeps
# what its check found, and a save (the next run) is refused if the check now finds more.
shown_before = st.session_state.get("decision_seen")
st.session_state["decision_seen"] = (course_id, upcoming.dose_number,
                                     ([c.id for c in check.criteria], list(check.missing_codes))
                                     if check is not None else ([], []))
seen = shown_before[2] if shown_before and shown_before[:2] == (course_id, upcoming.dose_number) else ([], [])
with st.form(f"decision_form_{version}", enter_to_submit=False):
    decision = st.radio("Decision", list(labels), format_func=labels.get, horizontal=True, index=None,
                        key=f"decision_{version}")
    choices = check.reason_choices() if check is not None else {}
    reasons = st.multiselect("Reason: criteria found by the pre-dose check", list(choices), format_func=choices.get,
                             key=f"decision_reasons_{version}",
                             placeholder="choose one or more" if choices else "no criterion found: write the reason")
    note = st.text_area("Reason and instructions for the nurse", key=f"decision_note_{version}", height=80,
                        placeholder="e.g. fluid bolus 500 mL, recheck SBP in 1 h; give if SBP > 90")
    st.caption("A decision to give lets the nurse record this dose as given over the check; it lapses if the "
               "check finds a criterion, or misses an input, that it did not find now. It applies to dose "
               f"{upcoming.dose_number} only.")
    submitted = st.form_submit_button("Save decision", type="primary")
if submitted and decision is None:
    st.error("Choose the decision: give, hold, discuss or stop. Nothing was saved.")
elif submitted:
    try:
        with session_scope(get_engine()) as session:
            done = dose_decisions.decide(session=session, course_id=course_id, dose_number=upcoming.dose_number,
                                         decision=decision, role=user["role"], decided_by=user["username"],
                                         reason_criteria=reasons, reason_note=note, now=datetime.now(timezone.utc),
                                         tz=tz, seen=seen)
        st.session_state["decision_feedback"] = (course_id, f"{done.text} Recorded by {user['display_name']}.")
        st.session_state["decision_form_version"] = version + 1
        st.rerun()
    except (RecordError, PermissionDenied) as refused:
        show_refusal(problems_of(refused))

if check is not None:
    with st.expander("Every input of the pre-dose check", expanded=False):
        pre_dose.show_details(check, tz)
