"""Record observations: one set by organ system, validated whole, with feedback straight after saving."""
from datetime import datetime, time, timedelta, timezone

import pandas as pd
import streamlit as st

from dashboard.charts import recent_trend
from dashboard.theme import BAND_COLOURS
from dashboard.patient_picker import choose_patient
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring import entry
from monitoring.alerting import sync_alerts
from monitoring.catalogue import default_catalogue
from monitoring.db import session_scope
from monitoring.fluids import shift_balance, weight_change
from monitoring.models import REGIMEN_SHORT, TreatmentCourse
from monitoring.ward import last_sets
from monitoring.repository import (LATE_ENTRY_AFTER, ConfirmationRequired, ObservationInput, RecordError,
                                   add_observation_set, amend_observation, current_observations,
                                   mark_entered_in_error)
from monitoring.rules.evidence import local_words
from monitoring.timefmt import course_day, local_text

user = require("record_observations")
st.title("Record observations")
tz = get_settings().timezone
catalogue = default_catalogue()
now = datetime.now(timezone.utc)


def patient_label(p) -> str:
    regimen = REGIMEN_SHORT.get(p.regimen, "no course") if isinstance(p.regimen, str) else "no course"
    day = course_day(p.course_start, now)
    return (f"{p.bed or '–'} · {p.name}{' (synthetic)' if p.is_synthetic else ''} · {regimen}"
            + (f" · day {day} · {int(p.doses_given)} doses given" if day else ""))


chosen = choose_patient(user, key="record_patient", label=patient_label)
patient_id = int(chosen.patient_id)

# When the next set is due, from the last set's NEWS2 (RCP Chart 4), by elapsed time.
with session_scope(get_engine()) as session:
    recent = current_observations(session=session, patient_ids=[patient_id], since=now - timedelta(hours=24))
    course = None if pd.isna(chosen.course_id) else session.get(TreatmentCourse, int(chosen.course_id))
    weights = current_observations(session=session, patient_ids=[patient_id], codes=["weight"])
sets = last_sets(recent)
if len(sets):
    last = sets.iloc[0]
    st.caption(entry.due_text(last["last_set_at"], last["scored_at"],
                              None if pd.isna(last["frequency_hours"]) else float(last["frequency_hours"]), now))
else:
    st.caption(entry.due_text(None, None, None, now))
with st.expander("Fluid balance (last 24 h, by shift) and weight"):
    st.markdown(f"**Weight:** {weight_change(weights, course.baseline_weight_kg if course else None)}")
    balance = shift_balance(recent, tz=tz, now=now)
    if balance.empty:
        st.caption("No intake or urine output recorded in the last 24 h.")
    else:
        st.dataframe(balance, hide_index=True, width="stretch")

# Feedback on the set just saved comes first, where the nurse is looking.
stored = st.session_state.get("record_feedback")
if stored and stored[0] == patient_id:
    feedback: entry.Feedback = stored[1]
    st.subheader("Last set saved")
    score, band, frequency = st.columns(3)
    score.metric("NEWS2", "not scored" if feedback.news2 is None else feedback.news2,
                 help=None if feedback.news2 is not None else f"missing: {feedback.missing}")
    if feedback.band:
        band.markdown(f"<div style='background:{BAND_COLOURS[feedback.band]};color:white;padding:0.6em;"
                      f"border-radius:0.4em;text-align:center'><b>{feedback.band.upper()}</b> clinical risk</div>",
                      unsafe_allow_html=True)
        frequency.markdown(f"**Monitoring:** {feedback.frequency}  \n{feedback.response}")
    else:
        band.info(f"NEWS2 needs all seven parameters; missing: {feedback.missing}")
    changed = feedback.counts
    st.caption(f"Alerts: {changed['new']} new, {changed['updated']} changed, {changed['retracted']} cleared "
               "by this set.")
    for a in feedback.alerts.itertuples():
        (st.error if a.severity in ("emergency", "urgent") else st.warning)(
            f"**{a.severity.upper()} · {a.rule_id} · {a.level}** — {local_words(a.evidence, a.evidence_text, tz)}"
            f"  \n*{a.context}*")
    if len(feedback.trend):
        st.plotly_chart(recent_trend(feedback.trend, tz=tz), key="record_trend")


version = st.session_state.setdefault("record_form_version", 0)
if st.session_state.setdefault("record_for", patient_id) != patient_id:
    # Another patient: a fresh, empty form, so nothing typed for one patient is saved for another.
    st.session_state["record_for"] = patient_id
    st.session_state["record_form_version"] = version = version + 1


def field(code: str):
    """One input per code: empty means not measured (never zero)."""
    e = catalogue[code]
    key = f"obs_{code}_{version}"
    if e.kind == "coded":
        return st.selectbox(e.label, e.allowed, index=None, placeholder="not recorded", key=key), None
    if e.kind == "grade":
        options = [g for g in range(5) if g == 0 or g in e.grades]
        return st.selectbox(f"{e.label} (CTCAE grade)", options, index=None, placeholder="not graded", key=key,
                            format_func=lambda g: "0 – none" if g == 0 else f"{g} – {e.grades[g]}"), None
    units = list(e.accepted_units())
    unit = units[0]
    if len(units) > 1:
        unit = st.selectbox(f"{e.label} unit", units, key=f"unit_{code}_{version}",
                            format_func=lambda u: e.conversion(u).label or u)
    label = e.conversion(unit).label or e.unit_label
    value = st.number_input(f"{e.label} ({label})", value=None, step=10.0 ** -e.precision if e.precision else 1.0,
                            format=f"%.{e.precision}f", key=key)
    return value, unit


entered: dict[str, tuple[object, str | None]] = {}
with st.form(f"obs_form_{version}"):
    when_date, when_time, fluid_hours = st.columns(3)
    local_now = now.astimezone(tz)
    day = when_date.date_input("Observation date", local_now.date(), key=f"obs_date_{version}")
    clock = when_time.time_input("Observation time", time(local_now.hour, local_now.minute),
                                 key=f"obs_time_{version}", step=60)
    period = fluid_hours.number_input("Fluid volumes measured over (hours)", value=8.0, min_value=0.5,
                                      max_value=24.0, step=0.5, key=f"obs_period_{version}")
    for group, codes in entry.entry_groups(catalogue).items():
        container = st.container() if group == "vital signs" else st.expander(group.capitalize())
        with container:
            if group == "vital signs":
                st.markdown("**Vital signs**")
            # Row by row, so the Tab order is the NEWS2 chart order (columns would tab down each column).
            for start in range(0, len(codes), 5):
                for column, code in zip(st.columns(5), codes[start:start + 5]):
                    with column:
                        entered[code] = field(code)
    late_reason = st.text_input("Reason for late entry (needed when the observation time is more than "
                                f"{int(LATE_ENTRY_AFTER.total_seconds() // 60)} min ago)", key=f"obs_late_{version}")
    confirm = st.checkbox("I have checked the unusual values and they are right", key=f"obs_confirm_{version}")
    submitted = st.form_submit_button("Save observation set", type="primary")

if submitted:
    observed_at = datetime.combine(day, clock, tz).astimezone(timezone.utc)
    values = [ObservationInput(code, value, unit,
                               period_start=(observed_at - timedelta(hours=period)
                                             if catalogue[code].requires_period else None))
              for code, (value, unit) in entered.items() if value is not None]
    try:
        with session_scope(get_engine()) as session:
            saved = add_observation_set(session=session, patient_id=patient_id, values=values,
                                        observed_at=observed_at, recorded_by=user["username"],
                                        course_id=None if pd.isna(chosen.course_id) else int(chosen.course_id),
                                        confirmed={v.code for v in values} if confirm else (),
                                        late_reason=late_reason or None)
            canonical = {o.code: (o.value_code if o.value_code is not None else o.value_num)
                         for o in saved.observations}
            feedback = entry.after_save(session=session, patient_id=patient_id, values=canonical,
                                        observed_at=observed_at, username=user["username"], now=now)
        st.session_state["record_feedback"] = (patient_id, feedback)
        st.session_state["record_form_version"] = version + 1  # a fresh, empty form
        st.rerun()
    except ConfirmationRequired as asked:
        for message in asked.confirmations.values():
            st.warning(message)
        st.warning("Nothing was saved. Check these values, tick the confirmation box and save again.")
    except RecordError as refused:
        for message in refused.errors:
            st.error(message)
        st.error("Nothing was saved.")

with st.expander("Correct a value (last 24 h): amend or mark entered in error"):
    with session_scope(get_engine()) as session:
        history = current_observations(session=session, patient_ids=[patient_id], since=now - timedelta(hours=24))
    if history.empty:
        st.caption("No values in the last 24 h.")
    else:
        options = {f"{local_text(r.observed_at, tz)} · {catalogue[r.code].label} · "
                   f"{r.value_code if isinstance(r.value_code, str) else catalogue[r.code].format_value(r.value_num)}"
                   f" · by {r.recorded_by}": int(r.id) for r in history.sort_values("observed_at", ascending=False).itertuples()}
        with st.form("correct_form"):
            target = st.selectbox("Value", list(options), key="correct_value")
            action = st.radio("Correction", ["Amend the value", "Entered in error"], horizontal=True,
                              key="correct_action")
            new_value = st.text_input("New value (in the canonical unit shown)", key="correct_new")
            reason = st.text_input("Reason (required)", key="correct_reason")
            if st.form_submit_button("Save correction"):
                try:
                    with session_scope(get_engine()) as session:
                        if action == "Amend the value":
                            amend_observation(session=session, observation_id=options[target], value=new_value,
                                              reason=reason, recorded_by=user["username"])
                        else:
                            mark_entered_in_error(session=session, observation_id=options[target], reason=reason,
                                                  recorded_by=user["username"])
                        sync_alerts(session=session, patient_ids=[patient_id], username=user["username"])
                    st.success("Correction saved; the original stays in the history with who and when.")
                except RecordError as refused:
                    for message in refused.errors:
                        st.error(message)
