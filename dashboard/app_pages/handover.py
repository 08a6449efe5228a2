"""Shift handover: per patient of a ward, in SBAR order, the situation, background and assessment of the
shift, and the outgoing nurse's recommendation; the incoming nurse acknowledges it. Thin page over
monitoring.views.handover (the content) and monitoring.services.handover (save, acknowledge)."""
from datetime import datetime, timezone
from html import escape

import streamlit as st

from dashboard.refusal import problems_of, show_refusal
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from dashboard.theme import BAND_COLOURS, SEVERITY_TEXT_COLOURS, text_on
from monitoring.clinical.shifts import handover_shift, recent_shifts
from monitoring.errors import RecordError
from monitoring.services import auth, handover
from monitoring.services.auth import PermissionDenied
from monitoring.services.transactions import read_scope, session_scope
from monitoring.timefmt import local_text
from monitoring.views.handover import PatientHandover, WardHandover, ward_handover
from monitoring.views.lists import visible_wards, ward_choice

FEEDBACK_KEY = "handover_feedback"      # shown beside the control that was used: (save or acknowledge, words)
SHOWN_KEY = "handover_shown"          # what the last run showed: ward, shift, version, recommendation ids
SECTIONS = (("S", "Situation", "situation"), ("B", "Background", "background"), ("A", "Assessment", "assessment"))
# Compact blocks that fit a 1366-px screen and print one patient per block (never split across pages).
CSS = """<style>
.sbar { break-inside: avoid; font-size: 0.9rem; line-height: 1.35; }
.sbar-head { font-size: 1rem; margin-bottom: 0.2rem; }
.sbar-tag { padding: 0 0.35em; border-radius: 0.25em; font-size: 0.85rem; margin-left: 0.3em; }
.sbar-row { display: grid; grid-template-columns: 9.2rem 1fr; column-gap: 0.5rem; border-top: 1px solid #eceef1;
            padding: 0.1rem 0; }
.sbar-key { font-weight: 700; }
@media print {
  header, [data-testid="stSidebar"], [data-testid="stToolbar"], .stButton, [data-testid="stFormSubmitButton"],
  [data-testid="stHeader"] { display: none !important; }
  .sbar { font-size: 9pt; }
}
</style>"""

user = require("view_patients")
st.title("Shift handover")
tz = get_settings().timezone
now = datetime.now(timezone.utc)
may_write = auth.may(user["role"], "write_handover")
may_acknowledge = auth.may(user["role"], "acknowledge_handover")

with read_scope(get_engine()) as session:
    wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
if not wards:
    st.info("You are not assigned to a ward yet; ask an administrator.")
    st.stop()
names, opening = ward_choice(wards, user["ward_ids"])
shifts = recent_shifts(now, tz, 4)
ward_col, shift_col = st.columns([2, 3])
ward_name = ward_col.selectbox("Ward", list(names), index=list(names).index(opening[0]), key="handover_ward")
shift = shift_col.selectbox("Shift", shifts, index=shifts.index(handover_shift(now, tz)), key="handover_shift",
                            format_func=lambda s: s.label(tz) + (" (now)" if s.holds(now) else ""),
                            help="Opens on the shift being handed over: the one under way, or the one that ended "
                                 "within the last half of a shift.")
ward_id = names[ward_name]
with read_scope(get_engine()) as session:
    shown: WardHandover = ward_handover(session=session, ward_id=ward_id, shift=shift, now=now, tz=tz)
record = shown.record
# A save or an acknowledgement is judged against what the page showed when the nurse read it (the run
# before the click), so words written meanwhile by someone else are never overwritten unseen.
before = st.session_state.get(SHOWN_KEY)
seen = before[2:] if before and before[:2] == (ward_id, shift.start) else None
st.session_state[SHOWN_KEY] = (ward_id, shift.start, record.version,
                               {p.patient_id: None if p.recommendation is None else p.recommendation.note_id
                                for p in shown.patients})

st.html(CSS)
st.caption(f"{len(shown.patients)} patients in bed order · situation as of {now.astimezone(tz):%H:%M}; "
           f"'this shift' is {local_text(shift.start, tz, '%H:%M')} to {local_text(shown.until, tz, '%H:%M')} · "
           f"times in {tz.key} · the SBAR comes from the record; R is the outgoing nurse's")


def status_text() -> str:
    if not record.saved:
        return "**Not handed over yet:** no recommendation has been saved for this shift."
    writers = ", ".join(record.name(w) for w in record.writers)
    text = (f"**Handed over by** {writers} (saved {local_text(record.started_at, tz)}"
            + (f", last change {local_text(record.last_written_at, tz)}"
               if record.last_written_at != record.started_at else "") + ")")
    current = record.current_acknowledgements()
    if current:
        text += " · **acknowledged by** " + ", ".join(f"{record.name(a.by)} at {local_text(a.at, tz)}" for a in current)
    elif record.acknowledgements:
        text += " · **changed since it was acknowledged**: acknowledge it again"
    else:
        text += " · **not acknowledged yet**" + (" (the incoming nurse acknowledges it at the end of the page)"
                                                 if may_acknowledge else "")
    return text


feedback = st.session_state.pop(FEEDBACK_KEY, (None, None))
st.markdown(status_text())


def block(p: PatientHandover, with_recommendation: bool) -> str:
    """One patient's SBAR as escaped HTML: bed and name, the NEWS2 band and worst alert as labelled tags."""
    tags = ""
    if p.band:
        fill = BAND_COLOURS[p.band]
        tags += f"<span class='sbar-tag' style='background:{fill};color:{text_on(fill)}'>NEWS2 {escape(p.band)}</span>"
    if p.worst_severity:
        tags += (f"<span class='sbar-tag' style='color:{SEVERITY_TEXT_COLOURS.get(p.worst_severity, '#000000')};"
                 f"border:1px solid currentColor'>worst alert: {escape(p.worst_severity)}</span>")
    rows = "".join(f"<div class='sbar-row'><span class='sbar-key'>{key} · {title}</span><div>"
                   + "<br>".join(escape(line) for line in getattr(p, field)) + "</div></div>"
                   for key, title, field in SECTIONS)
    if with_recommendation:
        r = p.recommendation
        words = ("none written" if r is None else "withdrawn" if r.text is None else r.text)
        by = "" if r is None else f" ({record.name(r.written_by)}, {local_text(r.written_at, tz)})"
        rows += (f"<div class='sbar-row'><span class='sbar-key'>R · Recommendation</span>"
                 f"<div>{escape(words)}{escape(by)}</div></div>")
    return (f"<div class='sbar'><div class='sbar-head'><b>{escape(p.bed)}</b> · {escape(p.name)}{tags}</div>"
            f"{rows}</div>")


if not shown.patients:
    st.info("No patients on this ward.")
    st.stop()

form_version = st.session_state.setdefault("handover_form_version", 0)
if may_write:
    with st.form(f"handover_form_{ward_id}_{shift.start:%Y%m%d%H%M}_{form_version}", enter_to_submit=False,
                 border=False):
        typed = {}
        for p in shown.patients:
            box = st.container(border=True)
            box.markdown(block(p, with_recommendation=False), unsafe_allow_html=True)
            r = p.recommendation
            typed[p.patient_id] = box.text_area(
                f"R · Recommendation for {p.bed}", value="" if r is None or r.text is None else r.text, height=68,
                max_chars=2000, key=f"handover_r_{form_version}_{p.patient_id}",
                placeholder="What the incoming nurse should do or watch, e.g. 'recheck SBP at 21:00; fluid bolus "
                            "if < 90'",
                help=None if r is None else f"Written by {record.name(r.written_by)} at {local_text(r.written_at, tz)}")
        saved = st.form_submit_button("Save handover", type="primary")
    if feedback[0] == "save":
        st.success(feedback[1])
    if saved:
        try:
            with session_scope(get_engine()) as session:
                done = handover.save(session=session, ward_id=ward_id, shift=shift, recommendations=typed,
                                     role=user["role"], username=user["username"], now=datetime.now(timezone.utc),
                                     tz=tz, ward_ids=user["ward_ids"], based_on=None if seen is None else seen[1])
            st.session_state[FEEDBACK_KEY] = ("save", done.text)
            st.session_state["handover_form_version"] = form_version + 1
            st.rerun()
        except (RecordError, PermissionDenied) as refused:
            show_refusal(problems_of(refused))
else:
    for p in shown.patients:
        st.container(border=True).markdown(block(p, with_recommendation=True), unsafe_allow_html=True)

st.subheader("Acknowledge")
if feedback[0] == "acknowledge":
    st.success(feedback[1])
if not record.saved:
    st.caption("The incoming nurse acknowledges the handover once the outgoing nurse has saved it.")
elif not may_acknowledge:
    st.caption("The incoming nurse acknowledges the handover.")
elif user["username"] in record.writers:
    st.caption("You wrote this handover: the incoming nurse acknowledges it.")
elif (mine := record.acknowledged_by(user["username"])) is not None:
    st.caption(f"You acknowledged this handover at {local_text(mine.at, tz)}.")
else:
    st.markdown(f"I have read the handover of {escape(shown.ward)}, {shift.label(tz)}, written by "
                f"{', '.join(record.name(w) for w in record.writers)}.")
    if st.button("Acknowledge handover", type="primary", key="handover_acknowledge"):
        try:
            with session_scope(get_engine()) as session:
                acknowledged = handover.acknowledge(session=session, ward_id=ward_id, shift=shift, role=user["role"],
                                            username=user["username"], now=datetime.now(timezone.utc), tz=tz,
                                            ward_ids=user["ward_ids"], version_seen=None if seen is None else seen[0])
            st.session_state[FEEDBACK_KEY] = ("acknowledge", acknowledged.text)
            st.rerun()
        except (RecordError, PermissionDenied) as refused:
            for message in problems_of(refused):
                st.error(message)
