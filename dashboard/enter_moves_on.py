"""Enter moves to the next field and never submits (issue 15), inside containers whose key starts
with ENTER_MOVES_ON. Streamlit commits a number or text field on Enter (its own handler runs first);
this document-level listener (bubbling, so after Streamlit's) then moves the focus to the next field
of the same container, as Tab would. Installed once per browser tab by a zero-height same-origin
frame (as dashboard.cookie)."""
from __future__ import annotations

import streamlit as st

ENTER_MOVES_ON = "enter_moves_on"

_SCRIPT = """<script>
const doc = window.parent.document;
if (!doc.__il2EnterMovesOn) {
  doc.__il2EnterMovesOn = true;
  doc.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    const field = event.target;
    if (!field || field.tagName !== 'INPUT') return;
    const area = field.closest('[class*="st-key-%s"]');
    if (!area) return;
    event.preventDefault();
    const fields = Array.from(area.querySelectorAll('input:not([type=hidden]):not([disabled]), textarea'))
      .filter((f) => f.offsetParent !== null);
    const next = fields[fields.indexOf(field) + 1];
    if (next) { next.focus(); if (next.select) { next.select(); } }
  });
}
</script>""" % ENTER_MOVES_ON


def install() -> None:
    st.iframe(_SCRIPT, height=1)
