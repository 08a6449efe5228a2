"""Record observations: one set by organ system, validated whole, with feedback straight after saving."""
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
import streamlit as st

from dashboard.charts import recent_trend
from dashboard.enter_moves_on import ENTER_MOVES_ON
from dashboard.enter_moves_on import install as install_enter_moves_on
from dashboard.patient_picker import choose_patient
from dashboard.refusal import show_refusal
from dashboard.resources import get_engine, get_settings
from dashboard.session import NOT_ALLOWED_KEY, account_for_writing, note_activity, require
from dashboard.theme import BAND_COLOURS, text_on
from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.fluids import shift_balance, weight_change
from monitoring.clinical.inputs import ObservationInput, entry_limits
from monitoring.clinical.rules.evidence import local_words
from monitoring.clinical.vocabulary import REGIMEN_SHORT
from monitoring.errors import ConfirmationRequired, RecordError
from monitoring.services import entry
from monitoring.services.drafts import discard_draft, load_draft, save_draft
from monitoring.services.transactions import read_scope, session_scope
from monitoring.timefmt import course_day, local_text
from monitoring.views.lists import course_weight_baseline
from monitoring.views.ward import last_sets

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

# When the next set is due: the stricter of the last set's NEWS2 (RCP Chart 4) and the IL-2 regimen's
# interval (monitoring.clinical.observation_schedule), by elapsed time, with the reason.
with read_scope(get_engine()) as session:
    recent = entry.recent_values(session=session, patient_id=patient_id, since=now - timedelta(hours=24))
    baseline_weight_kg, baseline_source = course_weight_baseline(
        session=session, course_id=None if pd.isna(chosen.course_id) else int(chosen.course_id))
    weights = entry.recent_values(session=session, patient_id=patient_id, codes=["weight"])
sets = last_sets(recent)
if len(sets):
    last = sets.iloc[0]
    st.caption(entry.due_text(
        last["last_set_at"], None if pd.isna(last["scored_at"]) else last["scored_at"],
        None if pd.isna(last["frequency_hours"]) else float(last["frequency_hours"]), now,
        news2=None if pd.isna(last["news2"]) else int(last["news2"]),
        regimen=chosen.regimen if isinstance(chosen.regimen, str) else None,
        last_dose_status=chosen.last_dose_status if isinstance(chosen.last_dose_status, str) else None,
        last_dose_at=None if pd.isna(chosen.last_dose_at) else chosen.last_dose_at, tz=tz))
else:
    st.caption(entry.due_text(None, None, None, now))
with st.expander("Fluid balance (last 24 h, by shift) and weight"):
    st.markdown(f"**Weight:** {weight_change(weights, baseline_weight_kg, baseline_source)}")
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
    st.caption(f"Observed {local_text(stored[2], tz)}"
               + (" (the time typed)" if stored[3] else " (the time of saving: no time was typed)"))
    score, band, frequency = st.columns(3)
    score.metric("NEWS2", "not scored" if feedback.news2 is None else feedback.news2,
                 help=None if feedback.news2 is not None else f"missing: {feedback.missing}")
    if feedback.band:
        fill = BAND_COLOURS[feedback.band]
        band.markdown(f"<div style='background:{fill};color:{text_on(fill)};padding:0.6em;"
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
    # The correction form too: a value chosen for one patient never stays chosen on another's form.
    st.session_state["correct_version"] = st.session_state.get("correct_version", 0) + 1
DRAFT_FORM = "record"


def field(code: str) -> None:
    """One input per code (its value read back by typed_set): empty means not measured (never zero)."""
    e = catalogue[code]
    key = f"obs_{code}_{version}"
    if e.kind == "coded":
        st.selectbox(e.label, e.allowed, index=None, placeholder="not recorded", key=key)
        return
    if e.kind == "grade":
        options = [g for g in range(5) if g == 0 or g in e.grades]
        st.selectbox(f"{e.label} (CTCAE grade)", options, index=None, placeholder="not graded", key=key,
                     format_func=lambda g: "0 – none" if g == 0 else f"{g} – {e.grades[g]}")
        return
    units = list(e.accepted_units())
    unit = units[0]
    if len(units) > 1:
        unit = st.selectbox(f"{e.label} unit", units, key=f"unit_{code}_{version}",
                            format_func=lambda u: e.conversion(u).label or u)
    label = e.conversion(unit).label or e.unit_label
    st.number_input(f"{e.label} ({label})", value=None, step=10.0 ** -e.precision if e.precision else 1.0,
                    format=f"%.{e.precision}f", key=key)


FORM_CODES = [code for codes in entry.entry_groups(catalogue).values() for code in codes]
DEFAULT_PERIOD_HOURS = 8.0
# Why nothing was saved: ((patient id, form version), warnings, errors, the form's values when refused), shown
# under the form until a value is changed (a refusal left up over corrected values reads as a second failure).
REFUSED_KEY = "record_refused"


def typed_set(form: int) -> tuple[list[ObservationInput], str | None]:
    """The values typed on the form of version `form`, each in the unit chosen beside it (the first unit
    where there is no choice), with the MAP computed from SBP and DBP when not typed and the words saying
    so; empty is not measured (never zero)."""
    state = st.session_state
    values = [ObservationInput(code, state[f"obs_{code}_{form}"],
                               state.get(f"unit_{code}_{form}", next(iter(catalogue[code].accepted_units())))
                               if catalogue[code].kind not in ("coded", "grade") else None)
              for code in FORM_CODES if state.get(f"obs_{code}_{form}") is not None]
    return entry.with_computed_map(values, catalogue)


def form_values() -> dict:
    """What the nurse has typed, by widget name, as JSON (the draft kept on the server): the values,
    the unit of each value typed, and the time, period and late-entry reason when changed."""
    state = st.session_state
    out = {}
    for code in FORM_CODES:
        value = state.get(f"obs_{code}_{version}")
        if value is not None:
            out[f"obs_{code}"] = value
            if f"unit_{code}_{version}" in state:
                out[f"unit_{code}"] = state[f"unit_{code}_{version}"]
    for name in ("obs_date", "obs_time", "obs_late"):
        value = state.get(f"{name}_{version}")
        if value not in (None, ""):
            out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    if out and state.get(f"obs_period_{version}", DEFAULT_PERIOD_HOURS) != DEFAULT_PERIOD_HOURS:
        out["obs_period"] = state[f"obs_period_{version}"]
    return out


def restore(values: dict, typed_at: datetime) -> None:
    """Put the draft back. Without a time of its own, the set gets the time it was typed (never the
    time of saving: a set restored hours later would pass as current values; past the late-entry
    limit it asks for the reason, as any late set)."""
    if "obs_time" not in values:
        local = typed_at.astimezone(tz)
        values = {**values, "obs_date": local.date().isoformat(),
                  "obs_time": local.time().replace(second=0, microsecond=0).isoformat()}
    for name, value in values.items():
        if name == "obs_date":
            value = date.fromisoformat(value)
        elif name == "obs_time":
            value = time.fromisoformat(value)
        st.session_state[f"{name}_{version}"] = value
    st.session_state["record_draft_answered"] = (patient_id, version)


def discard() -> None:
    account = account_for_writing("record_observations")
    if account is None:   # signed out or no longer allowed meanwhile: the next run says so
        return
    with session_scope(get_engine()) as session:
        discard_draft(session=session, username=account["username"], form=DRAFT_FORM, patient_id=patient_id)
    st.session_state["record_draft_answered"] = (patient_id, version)


@st.fragment
def entry_form() -> None:
    """The set: values typed are kept as a draft on the server as they are entered (a time-out, a
    refresh or another page loses nothing); Enter moves on and never saves; only Save saves."""
    if st.session_state.get("record_form_version") != version or NOT_ALLOWED_KEY in st.session_state:
        # Save's callback ran in a run of this fragment alone: a value committed as Save was clicked (its
        # blur) makes Streamlit run the fragment with the click's callback and drop the page's run
        # (1.67, seen in the browser). The feedback, or the role's refusal, is drawn by the page.
        st.rerun(scope="app")
    offer_pending = False   # a draft offered and not yet restored or discarded is never overwritten
    if st.session_state.get("record_draft_answered") != (patient_id, version) and not form_values():
        with session_scope(get_engine()) as session:
            draft = load_draft(session=session, username=user["username"], form=DRAFT_FORM, patient_id=patient_id)
        if draft is None:
            st.session_state["record_draft_answered"] = (patient_id, version)   # nothing to offer
        else:
            offer_pending = True
            with st.container(border=True):
                st.warning(f"**Unsaved draft** of {sum(k[4:] in FORM_CODES for k in draft.values)} value(s) typed at "
                           f"{local_text(draft.updated_at, tz)} for this patient and not saved.",
                           icon=":material/draft:")
                keep, drop = st.columns(2)
                keep.button("Restore the draft", on_click=restore, args=(draft.values, draft.updated_at),
                            key=f"draft_restore_{version}",
                            type="primary", width="stretch")
                drop.button("Discard the draft", on_click=discard, key=f"draft_discard_{version}", width="stretch")
    with st.container(border=True, key=f"{ENTER_MOVES_ON}_record_{version}"):
        when_date, when_time, fluid_hours = st.columns(3)
        when_date.date_input("Observation date", value=None, key=f"obs_date_{version}",
                             help="Empty: today. Set it with the time for a set observed earlier.")
        when_time.time_input("Observation time (empty: the time of saving)", value=None, key=f"obs_time_{version}",
                             step=60)
        fluid_hours.number_input("Fluid volumes measured over (hours)", value=DEFAULT_PERIOD_HOURS, min_value=0.5,
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
                            field(code)
        st.text_input("Reason for late entry (needed when the observation time is more than "
                      f"{entry_limits().late_entry_after_minutes:g} min ago)", key=f"obs_late_{version}")
    map_note = typed_set(version)[1]
    if map_note:
        st.caption(map_note + ".")
    st.checkbox("I have checked the unusual values and they are right", key=f"obs_confirm_{version}")
    typed = form_values()
    refused = st.session_state.get(REFUSED_KEY)
    if refused and refused[0] == (patient_id, version) and refused[3] == typed:
        show_refusal(refused[2], warnings=refused[1])
    else:   # saved, another form, or a value changed since: what was refused is no longer on the form
        st.session_state.pop(REFUSED_KEY, None)
    if typed or not offer_pending:   # an empty form deletes the draft only once the offer is answered
        with session_scope(get_engine()) as session:
            save_draft(session=session, username=user["username"], form=DRAFT_FORM, patient_id=patient_id,
                       values=typed)
    note_activity()   # after the draft is kept: past the time-out this signs out


def save_set(patient_id: int, course_id: int | None, form: int) -> None:
    """Save the set typed on the form of version `form` for `patient_id`, whole or not at all; the feedback,
    or why nothing was saved, is shown by the run that follows (issue 21: the Save button's callback, one run
    of the page instead of the form's and then the page's). A saved form is replaced by an empty one."""
    state = st.session_state
    if state.get("record_for") != patient_id or state.get("record_form_version") != form:
        # Not the form shown now (a second click on a form already saved, or another patient's): nothing is
        # saved from it, and the form shown now has nothing to say about it.
        return
    account = account_for_writing("record_observations")
    if account is None:   # signed out or no longer allowed: the run that follows says so; the draft is kept
        return
    saved_at = datetime.now(timezone.utc)
    day, clock = state.get(f"obs_date_{form}"), state.get(f"obs_time_{form}")
    if day is not None and clock is None:
        state[REFUSED_KEY] = ((patient_id, form), [], ["A date without a time: set the observation time too, or "
                                                      "clear the date (empty: now)."], form_values())
        return
    observed_at, time_typed = entry.observation_time(day, clock, tz, saved_at)
    period = state.get(f"obs_period_{form}", DEFAULT_PERIOD_HOURS)
    values = [ObservationInput(v.code, v.value, v.unit,
                               period_start=(observed_at - timedelta(hours=period)
                                             if catalogue[v.code].requires_period else None))
              for v in typed_set(form)[0]]
    confirmed = {v.code for v in values} if state.get(f"obs_confirm_{form}") else set()
    try:
        with session_scope(get_engine()) as session:
            feedback = entry.record_set(session=session, patient_id=patient_id, values=values,
                                        observed_at=observed_at, username=account["username"], now=saved_at,
                                        course_id=course_id, confirmed=confirmed,
                                        late_reason=state.get(f"obs_late_{form}") or None, draft_form=DRAFT_FORM)
    except ConfirmationRequired as asked:
        state[REFUSED_KEY] = ((patient_id, form), [*asked.confirmations.values(), "Nothing was saved. Check these "
                              "values, tick the confirmation box and save again."], [], form_values())
        return
    except RecordError as refused:
        state[REFUSED_KEY] = ((patient_id, form), [], list(refused.errors), form_values())
        return
    state["record_feedback"] = (patient_id, feedback, observed_at, time_typed)
    state["record_form_version"] = form + 1  # a fresh, empty form


install_enter_moves_on()
entry_form()
# Outside the form's fragment: a click runs the page once, the callback saving before the feedback is drawn.
st.button("Save observation set", type="primary", key=f"obs_save_{version}", on_click=save_set,
          args=(patient_id, None if pd.isna(chosen.course_id) else int(chosen.course_id), version))


@st.fragment
def correction_form() -> None:
    """Correct one value of the last 24 h. The form starts empty every time (a second correction never
    inherits the first one's reason), shows what will change, including the set's NEWS2, and saves
    only after the nurse confirms."""
    fix = st.session_state.setdefault("correct_version", 0)
    done = st.session_state.pop("correct_done", None)
    if done:
        st.success(done)
    with read_scope(get_engine()) as session:
        history = entry.recent_values(session=session, patient_id=patient_id, since=now - timedelta(hours=24))
    if history.empty:
        st.caption("No values in the last 24 h.")
        return
    history = history.sort_values("observed_at", ascending=False)
    shown = {int(r.id):
             f"{local_text(r.observed_at, tz)} · {catalogue[r.code].label} · "
             f"{r.value_code if isinstance(r.value_code, str) else catalogue[r.code].format_value(r.value_num)}"
             f" · by {r.recorded_by}" for r in history.itertuples()}
    # Options are the words shown (unique: a repeated line gets its row number), mapped back to the row.
    words = {}
    for row_id, text in shown.items():
        words[text if text not in words else f"{text} · #{row_id}"] = row_id
    with st.container(key=f"{ENTER_MOVES_ON}_correct_{fix}"):
        chosen_words = st.selectbox("Value to correct", list(words), index=None, placeholder="choose the value",
                                    key=f"correct_value_{fix}")
        target = None if chosen_words is None else words[chosen_words]
        action = st.radio("Correction", ["Amend the value", "Entered in error"], index=None, horizontal=True,
                          key=f"correct_action_{fix}")
        new_value = st.text_input("New value (in the unit shown)", key=f"correct_new_{fix}",
                                  disabled=action != "Amend the value")
        reason = st.text_input("Reason (required)", key=f"correct_reason_{fix}")
    note_activity()
    if target is None or action is None:
        st.caption("Choose a value and the correction: what will change is shown here before anything is saved.")
        return
    row = history[history["id"] == target].iloc[0]
    amend = action == "Amend the value"
    same_set = history[(history["observed_at"] == row["observed_at"]) & (history["source"] != "lab-import")]
    set_values = {r.code: r.value_code if isinstance(r.value_code, str) else r.value_num for r in same_set.itertuples()}
    effect, change = None, "→ marked entered in error (no value)"
    if amend and not new_value.strip():
        change = "→ type the new value"
    else:
        try:
            checked = catalogue.validate(row["code"], new_value, None) if amend else None
        except Exception as exc:  # noqa: BLE001 - a value the catalogue refuses is said, not saved
            st.error(f"{exc} Nothing will be saved.")
            return
        corrected = None if checked is None else (
            checked.value_code if checked.value_code is not None else checked.value_num)
        if checked is not None:
            change = "→ " + (checked.value_code if checked.value_code is not None
                             else catalogue[row["code"]].format_value(checked.value_num))
        effect = entry.correction_effect(set_values, row["code"], corrected, row["observed_at"])
    st.info(f"**Will change:** {chosen_words} {change}"
            + (f"  \n**Reason:** {reason.strip()}" if reason.strip() else "  \n**Reason:** required")
            + (f"  \n**Effect:** {effect}." if effect else "")
            + "  \nThe original stays in the history with who and when.")
    confirmed = st.checkbox("I confirm this correction", key=f"correct_confirm_{fix}")
    if not st.button("Save correction", key=f"correct_save_{fix}", disabled=not confirmed, type="primary"):
        return
    try:
        with session_scope(get_engine()) as session:
            entry.correct_value(session=session, patient_id=patient_id, observation_id=target, reason=reason,
                                username=user["username"], value=new_value, entered_in_error=not amend)
    except RecordError as refused:
        show_refusal(refused.errors)
        return
    st.session_state["correct_done"] = (f"Correction saved: {chosen_words} {change}"
                                        + (f"; {effect}" if effect else "") + ". The original stays in the history.")
    st.session_state["correct_version"] = fix + 1   # the next correction starts empty
    st.rerun()   # the whole page: the alerts and the due time may have changed


with st.expander("Correct a value (last 24 h): amend or mark entered in error"):
    correction_form()
