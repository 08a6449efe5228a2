"""The open-alerts bar on every clinical page (issue 18 item 1): counts by severity for the wards the
user sees, the newest emergency with its bed, one click to the inbox; a new emergency or escalation
shows a toast on whatever page is open, at the bar's next refresh (IL2_ALERT_REFRESH_SECONDS, 30 s),
with a short tone the user can switch off."""
from __future__ import annotations

import base64
import functools
import io
import math
import struct
import wave
from datetime import datetime, timezone
from html import escape

import streamlit as st

from dashboard.resources import get_engine, get_settings
from dashboard.theme import SEVERITY_TEXT_COLOURS
from monitoring.services.notify import describe_target
from monitoring.services.transactions import read_scope
from monitoring.timefmt import elapsed_text
from monitoring.views.alerts import alert_bar
from monitoring.views.lists import visible_wards

LAST_LOOK = "alert_bar_last_ids"   # the newest alert and action ids this browser session has seen
SOUND = "alert_bar_sound"
SHOWN_ORDER = ("emergency", "urgent", "warning")


@functools.cache
def _tone() -> str:
    """A short two-note tone (8 kHz, 8-bit WAV, 0.4 s) as a data URI: no file to ship."""
    rate, samples = 8000, []
    for frequency in (880, 660):
        samples += [int(128 + 90 * math.sin(2 * math.pi * frequency * i / rate)) for i in range(rate // 5)]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"{len(samples)}B", *samples))
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()


def show_alert_bar(user: dict, inbox_page) -> None:
    """Draw the bar (a fragment that refreshes on its own)."""

    @st.fragment(run_every=get_settings().alert_refresh_seconds)
    def bar() -> None:
        now = datetime.now(timezone.utc)
        with read_scope(get_engine()) as session:
            wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
            found = alert_bar(session=session, ward_ids=[w.id for w in wards if w.id is not None], now=now,
                              after_ids=st.session_state.get(LAST_LOOK))
        st.session_state[LAST_LOOK] = found.last_ids
        counts = [f"<b style='color:{SEVERITY_TEXT_COLOURS[s]}'>{found.counts[s]} {s}</b>"
                  for s in SHOWN_ORDER if found.counts.get(s)]
        text = "Open alerts on your wards: " + (" · ".join(counts) if counts else "none")
        if found.newest_emergency:
            e = found.newest_emergency
            onset = e["onset_at"] if e["onset_at"].tzinfo else e["onset_at"].replace(tzinfo=timezone.utc)
            text += (f" · newest emergency: <b>{escape(str(e['bed'] or 'no bed'))}</b> "
                     f"{escape(e['rule_id'])} ({escape(e['level'])}), {elapsed_text(now - onset)} ago")
        words, link, sound = st.columns([6.4, 2.1, 1.5], vertical_alignment="center")
        words.markdown(f"<div style='font-size:0.85rem'>{text}</div>", unsafe_allow_html=True)
        link.page_link(inbox_page, label="Open the inbox", icon=":material/notifications:")
        st.session_state.setdefault(SOUND, True)
        sound.toggle("Tone", key=SOUND, help="A short tone with each new emergency or escalation on your wards")
        for event in found.events:
            place = f"{event['bed'] or 'no bed'} ({event['ward'] or 'no ward'})"
            if event["kind"] == "escalated":
                st.toast(f"**Escalated** to {describe_target(event['to'])} by {event['by']}: {place}, "
                         f"{event['rule_id']} ({event['level']})", icon=":material/campaign:")
            else:
                what = "New emergency" if event["kind"] == "new emergency" else "Now an emergency"
                st.toast(f"**{what}**: {place}, {event['rule_id']} ({event['level']})", icon=":material/emergency:")
        if found.events and st.session_state.get(SOUND, True):
            st.html(f"<audio autoplay src='{_tone()}'></audio>")

    bar()
