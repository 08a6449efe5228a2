"""Daily review: grade each organ system's symptoms (CTCAE v5.0 wording at hand); what is new or worse."""
from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from dashboard.patient_picker import choose_patient
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.clinical.catalogue import default_catalogue
from monitoring.errors import RecordError
from monitoring.services.review import changes, grade_table, previous_grades, save_review, todays_review
from monitoring.services.transactions import read_scope, session_scope
from monitoring.timefmt import local_text

user = require("record_observations")
st.title("Daily review")
tz = get_settings().timezone
catalogue = default_catalogue()
now = datetime.now(timezone.utc)
chosen = choose_patient(user, key="review_patient")
patient_id = int(chosen.patient_id)
if st.session_state.get("review_for") != patient_id:
    # Another patient: start the form from that patient's previous grades, never from the last one's.
    # The grade boxes are keyed by patient too: a box re-created under the same key kept showing the
    # last patient's grade in the browser while the server held this one's.
    kept = ("review_patient", "review_patient_ward", "review_result")
    for key in [k for k in st.session_state if k.startswith("review_") and k not in kept]:
        del st.session_state[key]
    st.session_state["review_for"] = patient_id
with read_scope(get_engine()) as session:
    previous = previous_grades(session=session, patient_id=patient_id, now=now)
    today = todays_review(session=session, patient_id=patient_id, now=now, tz=tz)
table = grade_table(previous)
if today is not None:
    st.info(f"Today's review was saved at {local_text(today.at, tz)} by {today.by}. One review per patient per day: "
            "saving again amends the grades that differ (the first stays in the history).")
elif previous:
    last = max(t for _, t in previous.values())
    st.caption(f"Previous review {local_text(last, tz)}. Grades below start from it; change what is different.")
else:
    st.caption("No review in the last 36 hours: grade every symptom.")


def save(grades: dict[str, int], note: str) -> None:
    try:
        with session_scope(get_engine()) as session:
            saved = save_review(session=session, patient_id=patient_id, grades=grades, recorded_by=user["username"],
                                now=datetime.now(timezone.utc), tz=tz,
                                course_id=None if pd.isna(chosen.course_id) else int(chosen.course_id))
    except RecordError as refused:
        for message in refused.errors:
            st.error(message)
        return
    if saved.kind == "amended":
        note = f"Today's review ({local_text(saved.at, tz)}) amended: {'; '.join(saved.amended)}."
    elif saved.kind == "unchanged":
        note = f"Today's review ({local_text(saved.at, tz)}) already has these grades: nothing was recorded."
    found = changes(previous, grades) if saved.kind == "new" else []
    st.session_state["review_result"] = (patient_id, note, [c.text() for c in found])
    st.rerun()


result = st.session_state.get("review_result")
if result and result[0] == patient_id:
    st.success(result[1])
    for line in result[2]:
        st.warning(line)

if previous and len(previous) == len(table) and today is None:
    if st.button("No change since yesterday", type="primary", key="review_same",
                 help="Records today's review with the same grades as the previous one."):
        save({code: grade for code, (grade, _) in previous.items()}, "Review saved: no change since yesterday.")

SHOWN_IN_BOX = 70   # characters a closed choice box shows in half of a 1366-px screen


def grade_words(entry, grade) -> str:
    return "0 – none" if grade == 0 else f"{grade} – {entry.grades[grade]}"


@st.fragment
def review_form() -> None:
    """Every symptom's grade, two to a row. A closed choice box shows only the start of a long CTCAE
    v5.0 definition (up to 185 characters), so the definition of the grade chosen is written out in
    full under it. Choosing reruns only this part of the page; only the button saves."""
    grades = {}
    rows = list(table.itertuples())
    for pair in range(0, len(rows), 2):
        for column, row in zip(st.columns(2), rows[pair:pair + 2]):
            entry = catalogue[row.code]
            options = [g for g in range(5) if g == 0 or g in entry.grades]
            index = options.index(row.previous) if row.previous in options else None
            before = "" if pd.isna(row.previous) else f" · previous {int(row.previous)}"
            label = f"{row.symptom}{'' if row.symptom == row.ctcae_term else f' (CTCAE: {row.ctcae_term})'}{before}"
            with column:
                grades[row.code] = st.selectbox(label, options, index=index, placeholder="not graded",
                                                key=f"review_{row.code}_{patient_id}",
                                                format_func=lambda g, e=entry: grade_words(e, g))
                chosen_grade = grades[row.code]
                if chosen_grade is not None and len(grade_words(entry, chosen_grade)) > SHOWN_IN_BOX:
                    st.caption(grade_words(entry, chosen_grade))
    if st.button("Save review", key="review_save"):
        # An ungraded symptom is refused by monitoring.services.review.save_review, which names it.
        save({c: None if g is None else int(g) for c, g in grades.items()}, "Review saved.")


with st.container(border=True):
    review_form()
