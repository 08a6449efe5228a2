"""The pre-dose check and the oncologist's decision as both dose pages show them (the nurse's and
the oncologist's read the same words from monitoring.views.dosing and monitoring.views.dose_gate)."""
from __future__ import annotations

from datetime import tzinfo

import streamlit as st

from dashboard.tables import WRAPPED_ROW_HEIGHT, wrapped_height
from monitoring.timefmt import local_text

DECISION_COLOURS = {"give": "#2e7d32", "incomplete": "#546e7a", "discuss": "#ef6c00", "hold": "#c62828",
                    "permanently discontinue": "#c62828"}


def show_decision_box(check, tz: tzinfo) -> None:
    """The coloured line: decision, for which dose, the criteria counts, what is missing, forecast."""
    colour, note = DECISION_COLOURS[check.decision], ""
    if check.decision == "incomplete":
        # Shown like DISCUSS: no criterion was met among the values that were valid, but the check
        # could not be completed.
        note = (f" · the check is <b>incomplete</b>: no valid value for {', '.join(check.missing)}; record them "
                "before the dose")
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


def show_standing(standing, dose_number: int, tz: tzinfo) -> None:
    """The oncologist's decision that stands for the dose, or that there is none."""
    if standing is None:
        st.caption(f"No oncologist's decision recorded for dose {dose_number}.")
        return
    words = standing.words(lambda at: local_text(at, tz))
    shown = st.success if standing.decision == "give" and standing.applies else st.warning
    shown(f"**Dose {dose_number}: {words[0].upper() + words[1:]}**", icon=":material/stethoscope:")


def show_details(check, tz: tzinfo) -> None:
    """What needs attention, the eligibility answers, the checklist of every input, the standard."""
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


def show_check_error(error: str | None) -> None:
    st.error(f"The pre-dose check could not run ({error}). Assess the hold criteria at the bedside and "
             "tell the administrator.")
