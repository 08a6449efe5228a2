"""Courses (issue 19 items 2 and 3): the oncologist starts a patient's IL-2 course, answers and signs off its
eligibility screen, ends it with a reason and starts the next cycle; nurses read it. Thin page over
monitoring.views.courses (what is shown) and monitoring.services.courses (every action, checked there)."""
from datetime import datetime, time, timezone

import streamlit as st

from dashboard.patient_picker import choose_patient
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.vocabulary import (
    COMBINATIONS,
    ELIGIBILITY_ANSWERS,
    ELIGIBILITY_ITEMS,
    END_REASONS,
    INDICATION_STAGES,
    REGIMENS,
    SIGN_OFF_OUTCOMES,
)
from monitoring.errors import RecordError
from monitoring.services import auth, courses
from monitoring.services.auth import PermissionDenied
from monitoring.services.transactions import read_scope, session_scope
from monitoring.views.courses import BASELINES, latest_results, patient_courses, signoff_text

FEEDBACK_KEY = "courses_feedback"       # (form, words) shown beside the form that was used

user = require("view_patients")
st.title("Courses")
tz = get_settings().timezone
now = datetime.now(timezone.utc)
may_manage = auth.may(user["role"], "manage_courses")
chosen = choose_patient(user, key="courses_patient")
patient_id = int(chosen.patient_id)
with read_scope(get_engine()) as session:
    shown = patient_courses(session=session, patient_id=patient_id, tz=tz)
    results = latest_results(session=session, patient_id=patient_id, before=now)
current = shown[0] if shown else None


def act(form: str, action, shown_at: str | None = None) -> None:
    """Run one service call in its transaction; keep what it said for the form (the form keeps its values),
    or, on success, for `shown_at` (a course started is confirmed above it, where the new course shows)."""
    try:
        with session_scope(get_engine()) as session:
            words = action(session)
    except (RecordError, PermissionDenied) as exc:
        problems = getattr(exc, "errors", None) or [str(exc)]
        st.session_state[FEEDBACK_KEY] = (form, "error", problems)
    else:
        st.session_state[FEEDBACK_KEY] = (shown_at or form, "success", [words])
    st.rerun()


def feedback(form: str) -> None:
    said = st.session_state.get(FEEDBACK_KEY)
    if said and said[0] == form:
        (st.error if said[1] == "error" else st.success)("\n".join(f"- {p}" for p in said[2]))


def show_course(view) -> None:
    left, right = st.columns([3, 2])
    left.markdown("\n".join(f"- **{label}:** {text}" for label, text in view.summary.items()))
    right.dataframe(view.baselines, hide_index=True, width="stretch")
    flagged = [f"{ELIGIBILITY_ITEMS[i]}: {a.answer}" + (f" ({a.note})" if a.note else "")
               for i, a in view.answers.items() if a.answer != "no"]
    st.markdown(f"**Eligibility:** {len(view.answers)} of {len(ELIGIBILITY_ITEMS)} items answered · "
                f"**Sign-off:** {signoff_text(view.signoff, tz)}")
    if flagged:
        st.warning("Positive or unknown answers: " + "; ".join(flagged), icon=":material/fact_check:")
    if view.dose_problem:
        (st.info if view.ended else st.error)(view.dose_problem, icon=":material/block:")
    else:
        st.success("Signed off: doses can be recorded on the doses page.", icon=":material/check_circle:")


if current is None:
    st.info("This patient has no IL-2 course yet.")
else:
    st.subheader(f"Course {current.course.id}, cycle {current.course.cycle}")
    feedback("started")
    show_course(current)
    if len(shown) > 1:
        with st.expander(f"Earlier cycles ({len(shown) - 1})"):
            for view in shown[1:]:
                st.markdown(f"**Course {view.course.id}, cycle {view.course.cycle}**")
                show_course(view)

if not may_manage:
    st.caption("Read only: an oncologist starts, signs off and ends courses.")
    st.stop()


def baseline_inputs(prefix: str, carried: dict) -> dict:
    """One row per baseline: the latest result (with its date), the previous cycle's value, a typed value,
    or not recorded; nothing is chosen for the oncologist beyond what is offered first."""
    chosen_values = {}
    for spec in BASELINES:
        options = []
        if spec.name in carried:
            options.append(f"Previous cycle: {carried[spec.name].value:g} {default_catalogue()[spec.code].unit_label}")
        if spec.name in results:
            options.append(f"Latest result: {results[spec.name].text(tz)}")
        options += ["Type a value", "Not recorded"]
        name_col, how_col, value_col = st.columns([2, 4, 2])
        name_col.markdown(f"**{spec.label}**")
        how = how_col.selectbox(spec.label, options, key=f"{prefix}_{spec.name}_how", label_visibility="collapsed")
        typed = value_col.number_input(spec.label, value=None, key=f"{prefix}_{spec.name}_value",
                                       label_visibility="collapsed", placeholder="typed value")
        if how.startswith("Previous cycle"):
            chosen_values[spec.name] = carried[spec.name]
        elif how.startswith("Latest result"):
            r = results[spec.name]
            chosen_values[spec.name] = courses.Baseline(r.value, "result", r.observation_id)
        elif how == "Type a value":
            chosen_values[spec.name] = courses.Baseline(typed, "entered")
    return chosen_values


ended = current is None or current.ended
if ended:
    previous = None if current is None or current.course.end_reason == "death" else current.course
    heading = "Start a course" if previous is None else f"Start cycle {previous.cycle + 1}"
    if current is not None and previous is None:
        st.info("The last course ended with the patient's death; no course is started.")
        st.stop()
    st.subheader(heading)
    base = courses.plan_of(previous) if previous is not None else None
    with st.form("start_course"):
        a, b, c, d = st.columns(4)
        stages, combos = list(INDICATION_STAGES), list(COMBINATIONS)
        stage = a.selectbox("Indication", stages, format_func=lambda k: INDICATION_STAGES[k], key="course_stage",
                            index=stages.index(base.indication_stage) if base and base.indication_stage else 1)
        combination = b.selectbox("Combination", combos, format_func=lambda k: COMBINATIONS[k],
                                  key="course_combination",
                                  index=combos.index(base.combination) if base and base.combination else 0)
        prior = c.radio("Prior surgery", ["yes", "no"], horizontal=True, key="course_prior_surgery", index=None)
        after_til = d.checkbox("After TIL", key="course_after_til", value=bool(base and base.after_til))
        regimens = list(REGIMENS)
        e, f, g, h = st.columns(4)
        regimen = e.selectbox("Regimen", regimens, format_func=lambda k: REGIMENS[k], key="course_regimen",
                              index=regimens.index(base.regimen) if base else 0)
        planned = f.number_input("Planned doses per cycle", min_value=0, step=1, key="course_planned",
                                 value=int(base.planned_doses) if base and base.planned_doses else 14)
        interval = g.number_input("Dose interval (h)", min_value=0.0, step=1.0, key="course_interval",
                                  value=float(base.dose_interval_hours) if base and base.dose_interval_hours else 8.0)
        lympho = h.checkbox("After lymphodepletion", key="course_lympho",
                            value=bool(base and base.after_lymphodepletion))
        i, j, k, m = st.columns(4)
        kind = i.radio("Dose", ["per kg", "fixed"], horizontal=True, key="course_dose_kind",
                       index=1 if base and base.fixed_dose is not None else 0)
        per_kg = j.number_input("Dose per kg (IU/kg)", value=base.dose_per_kg if base else 600_000.0, step=1000.0,
                                key="course_per_kg")
        fixed = k.number_input("Fixed dose (IU)", value=base.fixed_dose if base else None, step=100_000.0,
                               key="course_fixed")
        weight = m.number_input("Dosing weight (kg; empty: the weight baseline)", value=None, step=0.1,
                                key="course_dosing_weight")
        n, o = st.columns(2)
        day = n.date_input("Start date", value=now.astimezone(tz).date(), key="course_start_date")
        at = o.time_input("Start time", value=time(12, 0), key="course_start_time", step=900)
        st.markdown(f"**Baselines** (times in {tz.key}; missing stays missing)")
        carried = courses.carried_baselines(previous) if previous is not None else {}
        baselines = baseline_inputs("course_baseline", carried)
        submitted = st.form_submit_button(heading, type="primary")
    feedback("start")
    if submitted:
        plan = courses.CoursePlan(
            indication_stage=stage, combination=combination, prior_surgery=None if prior is None else prior == "yes",
            after_til=after_til, regimen=regimen or "", planned_doses=int(planned), dose_interval_hours=float(interval),
            start_at=datetime.combine(day, at, tzinfo=tz), dose_per_kg=per_kg if kind == "per kg" else None,
            fixed_dose=fixed if kind == "fixed" else None, dosing_weight_kg=weight if kind == "per kg" else None,
            after_lymphodepletion=lympho)

        def start(session):
            if previous is None:
                made = courses.start_course(session=session, patient_id=patient_id, plan=plan, baselines=baselines,
                                            role=user["role"], username=user["username"], tz=tz)
            else:
                made = courses.next_cycle(session=session, course_id=int(previous.id or 0), start_at=plan.start_at,
                                          baselines=baselines, role=user["role"], username=user["username"], tz=tz,
                                          plan=plan)
            return (f"Course {made.id}, cycle {made.cycle} started. Answer its eligibility screen and sign it off "
                    "before the first dose.")
        act("start", start, shown_at="started")
    st.stop()

assert current is not None   # no course, or an ended one, stopped above
course = current.course
course_id = int(course.id or 0)
st.subheader("Eligibility screen")
answers = current.answers
earlier = next((v for v in shown if v.course.id == course.previous_course_id), None)
if not answers and earlier is not None:
    st.caption("Offered: the previous cycle's answers, to confirm or change; nothing is saved until you save.")
    answers = earlier.answers
with st.form("eligibility"):
    given, notes = {}, {}
    for item, label in ELIGIBILITY_ITEMS.items():
        q, r = st.columns([3, 4])
        before = answers.get(item)
        given[item] = q.radio(label, ELIGIBILITY_ANSWERS, horizontal=True, key=f"screen_{course_id}_{item}",
                              index=ELIGIBILITY_ANSWERS.index(before.answer) if before else None)
        notes[item] = r.text_input(f"Note: {label}", value=(before.note or "") if before else "",
                                   key=f"screen_{course_id}_{item}_note",
                                   placeholder="note (needed for yes or unknown)")
    saved = st.form_submit_button("Save the screen")
feedback("screen")
if saved:
    def save_screen(session):
        courses.answer_screen(session=session, course_id=course_id, answers={k: v for k, v in given.items() if v},
                              notes=notes, role=user["role"], username=user["username"], now=datetime.now(timezone.utc))
        return "Screen saved; sign it off below."
    act("screen", save_screen)

sign_col, end_col = st.columns(2)
with sign_col, st.form("sign_off"):
    st.markdown("**Sign off the screen**")
    outcome = st.radio("Outcome", list(SIGN_OFF_OUTCOMES), format_func=lambda k: SIGN_OFF_OUTCOMES[k],
                       key="signoff_outcome", index=None)
    reason = st.text_input("Reason (required after discussion)", key="signoff_reason")
    signed = st.form_submit_button("Sign off", type="primary")
with sign_col:
    feedback("sign")
if signed:
    def sign(session):
        courses.sign_off(session=session, course_id=course_id, outcome=outcome or "", reason=reason,
                         role=user["role"], username=user["username"], now=datetime.now(timezone.utc))
        return f"Signed off: {SIGN_OFF_OUTCOMES.get(outcome or '', '')}."
    act("sign", sign)
with end_col, st.form("end_course"):
    st.markdown("**End the course**")
    end_reason = st.selectbox("Reason", list(END_REASONS), format_func=lambda k: END_REASONS[k], key="end_reason",
                              index=None)
    end_note = st.text_input("Note", key="end_note")
    ending = st.form_submit_button("End the course")
with end_col:
    feedback("end")
if ending:
    def end(session):
        courses.end_course(session=session, course_id=course_id, reason=end_reason or "", note=end_note,
                           role=user["role"], username=user["username"], now=datetime.now(timezone.utc))
        return f"Course ended: {END_REASONS.get(end_reason or '', '')}."
    act("end", end)
