"""Alert inbox: the alerts of the user's wards that need attention, most severe and newest first,
each with its evidence, standard and IL-2 context, and the actions the role may take. Thin page:
the inbox and every action come from monitoring.services.alert_actions (which checks the permission again)."""
from datetime import datetime, timezone
from html import escape

import pandas as pd
import streamlit as st

from dashboard.patient_picker import short_label
from dashboard.refusal import problems_of, show_refusal
from dashboard.resources import get_engine, get_settings
from dashboard.session import account_for_writing, require
from dashboard.theme import SEVERITY_COLOURS, SEVERITY_TEXT_COLOURS
from monitoring.clinical.alert_handling import alert_handling
from monitoring.clinical.rules.common import SEVERITIES
from monitoring.clinical.vocabulary import ALERT_ACTIONS, DECLINE_CHOICES
from monitoring.errors import RecordError
from monitoring.services import alert_actions, auth, notify
from monitoring.services.transactions import read_scope, session_scope
from monitoring.timefmt import elapsed_text, local_text
from monitoring.views.lists import (
    ASSIGNED_WARDS,
    EVERY_ASSIGNED_WARD,
    EVERY_WARD,
    visible_wards,
    ward_choice,
    ward_patient_list,
)

ALL_PATIENTS = "All patients"
# Who may see every ward (the oncologist) and is assigned to some opens on those, as the ward overview, the
# doses due and the handover do; every ward is one choice away.
ACTION_LABELS = {"acknowledge": "Acknowledge", "decline": "Decline", "escalate": "Escalate", "snooze": "Snooze",
                 "resolve": "Resolve"}
# The note field of each action: what it must say, and whether it is required (alert_actions.NOTE_REQUIRED).
NOTE_LABELS = {"acknowledge": "Action taken (required)", "decline": "Reason for declining (required)",
               "escalate": "Why, and what they should look at (required)", "snooze": "Note (optional)",
               "resolve": "Note (optional)"}
NOTE_KEYS = {"acknowledge": "ack_note", "decline": "decline_note", "escalate": "escalate_note",
             "snooze": "snooze_note", "resolve": "resolve_note"}
DONE = {"acknowledge": "Acknowledgement", "decline": "Decline", "escalate": "Escalation", "snooze": "Snooze",
        "resolve": "Resolution"}
FEEDBACK_KEY = "alert_feedback"
NOTIFY_KEY = "alert_notify_feedback"   # a notification that failed or went nowhere: a warning of its own
REFUSED_KEY = "alert_refused"   # (alert id, action, messages): an action refused, shown in that card's form once
PATIENT_REFUSED_KEY = "alert_patient_refused"   # (patient id, action, messages): the same for "act on all"
# Cards drawn at once, most severe and newest first; the rest one click away, and counted above the
# list (40 patients' worth of 117 cards took 2.8 s to draw on a 2-core ward PC; 20 take a fraction).
PAGE_SIZE = 20
SHOWN_KEY = "alerts_shown"

user = require("view_patients")
st.title("Alert inbox")
settings = get_settings()
tz = settings.timezone
NOTIFIER_TEXT = {"none": "No notifier is configured: the escalation is stored and shown here, but nobody is told "
                         "by the monitor. Tell them yourself.",
                 "smtp": "The person or role is sent an e-mail naming the ward and bed, not the patient; your note "
                         "is sent as written, so do not type the patient's name or record number in it.",
                 "webhook": "The hospital's paging gateway is sent the escalation with the ward and bed, not the "
                            "patient; your note is sent as written, so do not type the patient's name or record "
                            "number in it."}
handling = alert_handling()
now = datetime.now(timezone.utc)
allowed = [a for a in ALERT_ACTIONS if auth.may(user["role"], alert_actions.ACTION_PERMISSION[a])]

with read_scope(get_engine()) as session:
    wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
ward_col, patient_col = st.columns(2)
names, opening = ward_choice(wards, user["ward_ids"])
grouped_wards = ({ASSIGNED_WARDS: [names[n] for n in opening], EVERY_WARD: list(names.values())}
                 if len(opening) < len(names) else {EVERY_ASSIGNED_WARD: list(names.values())})
ward_ids = {**grouped_wards, **{name: [ward_id] for name, ward_id in names.items()}}
chosen_ward = ward_col.selectbox("Ward", list(ward_ids), key="alerts_ward")
with read_scope(get_engine()) as session:
    patients = ward_patient_list(session=session, ward_ids=ward_ids[chosen_ward])
if patients.empty:
    where = {EVERY_ASSIGNED_WARD: "your wards", ASSIGNED_WARDS: "your wards", EVERY_WARD: "any ward"}.get(
        chosen_ward, chosen_ward)
    st.info(f"No patients on {where}.")
    st.stop()
patient_ids = {ALL_PATIENTS: patients["patient_id"].astype(int).tolist(),
               # The record number keeps two patients in the same bed label of different wards apart.
               **{f"{short_label(p)} · {p.mrn}": [int(p.patient_id)] for p in patients.itertuples()}}
chosen_patient = patient_col.selectbox("Patient", list(patient_ids), key="alerts_patient")

handled_col, expected_col = st.columns(2)
show_handled = handled_col.toggle("Show handled alerts", key="show_handled",
                                  help="Acknowledged, declined, resolved, and snoozed alerts whose snooze has not "
                                       "ended. A handled alert that gets worse comes back on its own.")
with read_scope(get_engine()) as session:
    alerts = alert_actions.inbox(session=session, patient_ids=patient_ids[chosen_patient], now=now,
                                 include_handled=show_handled, include_info=True, tz=tz, checks=False, details=False)
is_expected = alerts["severity"] == "info"
show_expected = expected_col.toggle(f"Show expected IL-2 effects ({int(is_expected.sum())})", key="show_expected",
                                    help="Fever (up to 40 °C), rigors or tachycardia (up to 140/min) in the "
                                         "post-dose window of the patient's regimen, with nothing else triggering "
                                         "once their points are removed. Counted and shown, never hidden: they "
                                         "are not sepsis alerts.")
shown = alerts if show_expected else alerts[~is_expected]

feedback = st.session_state.pop(FEEDBACK_KEY, None)
if feedback:
    st.success(feedback)
not_told = st.session_state.pop(NOTIFY_KEY, None)
if not_told:
    st.warning(not_told, icon=":material/notifications_off:")

findings = alerts[~is_expected]
counted = findings["severity"].value_counts()
by_severity = ", ".join(f"{counted[s]} {s}" for s in reversed(SEVERITIES) if counted.get(s))
needing = "need attention" if not show_handled else "shown, handled included"
st.caption(f"{len(findings)} alert{'s' * (len(findings) != 1)} {needing}{f' ({by_severity})' if by_severity else ''}"
           f" · {int(is_expected.sum())} expected IL-2 effect{'s' * (int(is_expected.sum()) != 1)}"
           f"{'' if show_expected else ' (not listed: use the toggle)'} · times in {tz.key}")
if shown.empty:
    st.success("No alert needs attention here." if not show_handled else "No alerts here.")


def bed_text(a) -> str:
    return a.bed if isinstance(a.bed, str) else "–"  # no bed assigned: NaN from the outer join


def last_action_text(a) -> str:
    if pd.isna(a.last_action):
        return (f"No action yet · first seen {local_text(a.first_seen_at, tz)} "
                f"({elapsed_text(now - a.first_seen_at)} ago)")
    note = f": “{a.last_action_note}”" if isinstance(a.last_action_note, str) else ""
    return (f"**Last action:** {a.last_action} by {a.last_action_by_name}, {local_text(a.last_action_at, tz)} "
            f"({elapsed_text(now - a.last_action_at)} ago){note}")


def status_text(a) -> str:
    if a.snooze_ended:
        return f"open · snooze ended {local_text(a.snoozed_until, tz)}"
    if a.status == "snoozed":
        return f"snoozed until {local_text(a.snoozed_until, tz)}"
    return a.status_text


def show_notifications(a) -> None:
    """The escalation's notification tries on its card, and a Retry when the latest failed."""
    found = tries.get(int(a.id), [])
    if not found:
        return
    lines = [f"{local_text(t['at'], tz)} · try {t['attempt']} · {t['channel']}: "
             f"{attempt_text(t['outcome'], t['recipient'], t['detail'])}" for t in found]
    st.caption("Notification: " + " | ".join(lines))
    last = found[-1]
    if last["outcome"] == notify.FAILED and "escalate" in allowed:
        if st.button("Retry the notification", key=f"retry_notify_{a.id}"):
            again = notify.deliver(engine=get_engine(), action_id=int(last["action_id"]), settings=settings)
            text = (f"Notification of {bed_text(a)} · {a.rule_id}, try {again.attempt}: "
                    + attempt_text(again.outcome, again.recipient, again.detail))
            st.session_state[FEEDBACK_KEY if again.outcome == notify.SENT else NOTIFY_KEY] = text
            st.rerun()


def attempt_text(outcome: str, recipient: str, detail: str | None) -> str:
    """'Notified oncall@x (e-mail accepted ...).' / 'NOT notified: ...' for the feedback and the card."""
    if outcome == notify.SENT:
        return f"Notified {recipient} ({detail})."
    if outcome == notify.NOT_SENT:
        return "Nobody was notified: no notifier is configured (IL2_NOTIFIER); tell them yourself."
    return f"NOT notified ({detail}); the escalation is kept: retry below, or tell them yourself."


def action_form(a, action: str) -> None:
    """The form of one action on one alert; its button records it (record_action), or the form shows why
    nothing was recorded."""
    with st.form(f"{action}_form_{a.id}"):
        label = NOTE_LABELS[action]
        if action == "decline":
            # Chosen from a list, so a de-identified report can say why alerts are declined (issue 20 item 3).
            st.selectbox("Reason for declining", list(DECLINE_CHOICES), index=None, format_func=DECLINE_CHOICES.get,
                         key=f"decline_reason_{a.id}", placeholder="Choose the reason")
            label = "Note (required for 'Other')"
        if action == "escalate":
            targets = targets_of.get(int(a.patient_id), {})
            st.selectbox("Escalate to", list(targets), index=None, key=f"escalate_to_{a.id}",
                         format_func=targets.get, placeholder="Choose a role or a person")
            st.caption(NOTIFIER_TEXT[settings.notifier])
        if action == "snooze":
            # Only the durations this severity allows (thresholds.toml [alert_handling]).
            offered = handling.choices(a.severity)
            # Offered from the shortest for an emergency (its longest is 30 min), else 30 min.
            start = 0 if a.severity == "emergency" or 30 not in offered else offered.index(30)
            st.selectbox("Snooze for", offered, index=start, key=f"snooze_minutes_{a.id}",
                         format_func=alert_actions.snooze_text)
            st.caption("The alert comes back when the time is up, or at once if it gets worse.")
            if handling.needs_reason(a.severity):
                label = f"Reason for snoozing an {a.severity} alert (required)"
        st.text_input(label, key=f"{NOTE_KEYS[action]}_{a.id}")
        # Recorded in the button's callback, before the page runs: one run shows the result (issue 21: the
        # page ran twice, once to record and once more to show it).
        st.form_submit_button("Snooze" if action == "snooze" else f"Record {DONE[action].lower()}", type="primary",
                              key=f"{action}_submit_{a.id}", on_click=record_action, args=(a, action))
    show_refused(REFUSED_KEY, (int(a.id), action))


def show_refused(key: str, form: tuple[int, str]) -> None:
    """Why the action of this form (an alert's or a patient's id, the action) recorded nothing, once, in its form."""
    refused = st.session_state.get(key)
    if refused is not None and refused[:2] == form:
        del st.session_state[key]
        show_refusal(refused[2], nothing="Nothing was recorded.")


def record_action(a, action: str) -> None:
    """Record one action on one alert from its form's values; the feedback (or why nothing was recorded)
    is shown by the run that follows. The form closes and its note empties, so a second click cannot
    record the same action twice."""
    state = st.session_state
    account = account_for_writing(alert_actions.ACTION_PERMISSION[action])
    if account is None:   # signed out or no longer allowed: the run that follows says so
        return
    target = state.get(f"escalate_to_{a.id}") if action == "escalate" else None
    try:
        with session_scope(get_engine()) as session:
            row = alert_actions.act(session=session, alert_id=int(a.id), action=action,
                                    username=account["username"], role=account["role"],
                                    note=state.get(f"{NOTE_KEYS[action]}_{a.id}", ""),
                                    snooze_minutes=state.get(f"snooze_minutes_{a.id}") if action == "snooze" else None,
                                    escalate_to=target, now=datetime.now(timezone.utc), ward_ids=account["ward_ids"],
                                    reason_code=state.get(f"decline_reason_{a.id}") if action == "decline" else None)
            action_id = int(row.id)
    except (RecordError, auth.PermissionDenied) as refused:
        state[REFUSED_KEY] = (int(a.id), action, problems_of(refused))
        return
    until = f" until {local_text(row.snooze_until, tz)}" if row.snooze_until else ""
    said = (f": {DECLINE_CHOICES[row.reason_code].lower()}" if row.reason_code else "") + (
        f" “{row.note}”" if row.note and row.reason_code else f": “{row.note}”" if row.note else "")
    to = f" to {targets_of.get(int(a.patient_id), {}).get(target, target)}" if target else ""
    told = ""
    if action == "escalate":
        # Stored first (committed above); telling them comes after and can fail without losing it.
        attempt = notify.deliver(engine=get_engine(), action_id=action_id, settings=settings)
        told = " " + attempt_text(attempt.outcome, attempt.recipient, attempt.detail)
        if attempt.outcome != notify.SENT:   # a failure stands out, apart from the confirmation
            state[NOTIFY_KEY] = told.strip()
            told = ""
    state[FEEDBACK_KEY] = (
        f"{DONE[action]} recorded for {bed_text(a)} · {a.patient}, {a.rule_id} ({a.level}){to}{until}, by "
        f"{account['display_name']} at {local_text(row.at, tz)}{said}.{told}")
    for key in (f"alert_action_{a.id}", f"{NOTE_KEYS[action]}_{a.id}", f"escalate_to_{a.id}",
                f"decline_reason_{a.id}"):
        state.pop(key, None)


def draw_card(a) -> None:
    """One alert: severity, rule and level, the evidence and basis, the last action and the actions."""
    with st.container(border=True):
        colour = SEVERITY_COLOURS.get(a.severity, SEVERITY_COLOURS["info"])
        # HTML for the severity bar only; every value in it is escaped (names and levels are data).
        st.markdown(f"<div style='border-left:0.4em solid {colour};padding-left:0.6em'>"
                    f"<b style='color:{SEVERITY_TEXT_COLOURS.get(a.severity, '#31333f')}'>"
                    f"{escape(a.severity.upper())}</b> · {escape(a.rule_id)} · "
                    f"<b>{escape(a.level)}</b><br>{escape(bed_text(a))} · {escape(a.patient)} · {escape(a.mrn)} · "
                    f"onset {local_text(a.onset_at, tz)} ({elapsed_text(now - a.onset_at)} ago) · "
                    f"status <b>{escape(status_text(a))}</b></div>", unsafe_allow_html=True)
        if a.worse_since_action:
            st.warning(f"Worse than at the last action ({a.last_action}: {a.severity_at_last_action}, "
                       f"{a.level_at_last_action}); it needs attention again.")
        if isinstance(a.check_now, str):
            # The same check as the IL-2 doses page, computed now: the stored alert is the finding at its onset.
            st.info(f"**Pre-dose check now:** {a.check_now} (as the IL-2 doses page shows it). This alert records "
                    f"the finding at its onset; act on it or resolve it if it no longer applies.",
                    icon=":material/vaccines:")
        if isinstance(a.cleared_text, str) and a.status not in ("resolved", "retracted"):
            # Not closed by the engine: urgent and up need a clinician's acknowledgement first, and some
            # rules are never closed automatically (thresholds.toml [alert_handling]).
            st.info(f"**Criteria no longer met at the latest data:** {a.cleared_text}. An urgent or emergency "
                    f"alert is not closed unseen: once acknowledged or declined it closes at the next evaluation "
                    f"(and reopens if the criteria come back).", icon=":material/trending_down:")
        st.markdown(f"**Evidence:** {a.evidence_text}")
        if a.context:
            st.markdown(f"**IL-2 context:** {a.context}")
        st.caption(f"Standard: {a.standard} · rule version {a.rule_version}")
        st.markdown(last_action_text(a))
        show_notifications(a)
        choice = st.segmented_control("Act on this alert", allowed, key=f"alert_action_{a.id}",
                                      format_func=ACTION_LABELS.get)
        if choice is not None:
            action_form(a, choice)


def patient_actions(cards: pd.DataFrame) -> None:
    """One action for all of a patient's alerts shown (acknowledge with what was done, or escalate to
    one person): all recorded or none, in the form button's callback (record_all)."""
    bulk = [a for a in ("acknowledge", "escalate") if a in allowed]
    if len(cards) < 2 or not bulk:
        return
    patient_id = int(cards["patient_id"].iloc[0])
    choice = st.segmented_control(f"Act on all {len(cards)} alerts of this patient", bulk,
                                  key=f"patient_action_{patient_id}", format_func=ACTION_LABELS.get)
    if choice is None:
        return
    targets = targets_of.get(patient_id, {})
    with st.form(f"patient_{choice}_form_{patient_id}"):
        if choice == "escalate":
            st.selectbox("Escalate to", list(targets), index=None, key=f"patient_escalate_to_{patient_id}",
                         format_func=targets.get, placeholder="Choose a role or a person")
        st.text_input(NOTE_LABELS[choice], key=f"patient_note_{patient_id}")
        # Recorded in the callback, before the page runs: one run shows the result (issue 21).
        first = cards.iloc[0]
        st.form_submit_button(f"Record {DONE[choice].lower()} of all {len(cards)}", type="primary",
                              key=f"patient_submit_{patient_id}", on_click=record_all,
                              args=(patient_id, [int(i) for i in cards["id"]], choice,
                                    f"{bed_text(first)} · {first['patient']}", targets))
    show_refused(PATIENT_REFUSED_KEY, (patient_id, choice))


def record_all(patient_id: int, alert_ids: list[int], choice: str, who: str, targets: dict[str, str]) -> None:
    """Record one action on all these alerts of one patient (the alerts its form showed) from the form's
    values: all or none. The feedback, or why nothing was recorded, is shown by the run that follows."""
    state = st.session_state
    account = account_for_writing(alert_actions.ACTION_PERMISSION[choice])
    if account is None:   # signed out or no longer allowed: the run that follows says so
        return
    target = state.get(f"patient_escalate_to_{patient_id}") if choice == "escalate" else None
    try:
        with session_scope(get_engine()) as session:
            rows = alert_actions.act_on_all(session=session, alert_ids=alert_ids, action=choice,
                                            username=account["username"], role=account["role"],
                                            note=state.get(f"patient_note_{patient_id}", ""),
                                            now=datetime.now(timezone.utc), ward_ids=account["ward_ids"],
                                            escalate_to=target)
            action_ids = [int(r.id) for r in rows]
    except (RecordError, auth.PermissionDenied) as refused:
        state[PATIENT_REFUSED_KEY] = (patient_id, choice, problems_of(refused))
        return
    state[FEEDBACK_KEY] = (f"{DONE[choice]} recorded for all {len(rows)} alerts of {who}"
                           f"{f' to {targets.get(target, target)}' if target else ''}, "
                           f"by {account['display_name']}.")
    if choice == "escalate":   # stored first; telling them comes after and can fail without losing it
        tries = [notify.deliver(engine=get_engine(), action_id=i, settings=settings) for i in action_ids]
        failed = [t for t in tries if t.outcome != notify.SENT]
        if failed:
            state[NOTIFY_KEY] = attempt_text(failed[0].outcome, failed[0].recipient, failed[0].detail)
    for key in (f"patient_action_{patient_id}", f"patient_note_{patient_id}", f"patient_escalate_to_{patient_id}"):
        state.pop(key, None)


# Grouped by patient (the patient with the worst alert first), each patient's alerts under one header.
grouped = alert_actions.by_patient(shown)
limit = st.session_state.get(SHOWN_KEY, PAGE_SIZE)
with read_scope(get_engine()) as session:
    # The evidence and its words, the pre-dose check of now, whom to escalate to and the notification tries:
    # read for the cards drawn only (issue 21: a hospital's inbox holds 27,000 alerts).
    drawn = alert_actions.with_checks_now(
        session=session, frame=alert_actions.with_details(session=session, frame=grouped.head(limit), tz=tz),
        now=now, tz=tz)
    # Whom each alert can be escalated to: the clinicians who may see its patient's ward.
    targets_of = alert_actions.escalation_targets_by_patient(
        session=session, patient_ids=sorted({int(p) for p in drawn["patient_id"]}))
    # Every try at telling the person an alert was escalated to, shown on its card.
    tries = notify.attempts(session=session, alert_ids=[int(i) for i in drawn["id"]])
for _, cards in drawn.groupby("patient_rank", sort=True):
    first = cards.iloc[0]
    counted_here = cards["severity"].value_counts()
    worst = next(s for s in reversed(SEVERITIES) if counted_here.get(s))
    summary = ", ".join(f"{counted_here[s]} {s}" for s in reversed(SEVERITIES) if counted_here.get(s))
    with st.container(border=True):
        st.markdown(f"<div style='font-size:1.1rem'><b>{escape(bed_text(first))} · {escape(first['patient'])}</b> · "
                    f"{escape(first['mrn'])} · <b style='color:{SEVERITY_TEXT_COLOURS.get(worst, '#31333f')}'>"
                    f"{escape(summary)}</b></div>", unsafe_allow_html=True)
        patient_actions(cards)
        for a in cards.itertuples():
            draw_card(a)

if len(shown) > limit:
    more = min(PAGE_SIZE, len(shown) - limit)
    st.caption(f"Showing the first {limit} of {len(shown)} alerts; the {len(shown) - limit} below them are less "
               "severe or older.")
    if st.button(f"Show {more} more", key="alerts_more"):
        st.session_state[SHOWN_KEY] = limit + PAGE_SIZE
        st.rerun()

st.caption("Decision support only: every alert shows the values, times, standard and IL-2 context it rests on, so "
           "the basis can be checked; the decision stays with the clinical team. Actions are recorded with who and "
           "when and never change the finding.")
