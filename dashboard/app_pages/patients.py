"""Patients: the ward's list with where each patient is (bed or home), admitting a new patient, finding
one already known, transfer, discharge, the placement history and identity corrections (nurses and
oncologists). Thin page over monitoring.services.admission and monitoring.views.placement."""
from datetime import date, datetime, timezone

import pandas as pd
import streamlit as st

from dashboard.refusal import problems_of, show_refusal
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.clinical.vocabulary import REGIMEN_SHORT, SEXES
from monitoring.errors import RecordError
from monitoring.permissions import PermissionDenied
from monitoring.services import admission
from monitoring.services.transactions import read_scope, session_scope
from monitoring.views.lists import list_wards, visible_wards, ward_choice, ward_patient_list
from monitoring.views.patient_banner import patient_banner
from monitoring.views.placement import identity_of, placement_history, ward_beds

NOTICE_KEY = "patients_notice"      # (text, warnings) of the last action, shown after the rerun
FOUND_KEY = "patients_found"        # the last search's results
HOME = "Home (on the ward's list, no bed)"
ALLERGY_CHOICES = ("Recorded (write them below)", "Not recorded yet")

user = require("admit_patients")
st.title("Patients")
tz = get_settings().timezone
with read_scope(get_engine()) as session:
    wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
    # A transfer may go to any ward of the hospital (the receiving ward's nurses then see the patient).
    every_ward = ward_choice(list_wards(session=session), [])[0]
if not wards:
    st.info("You are not assigned to a ward yet; ask an administrator.")
    st.stop()
names, opening = ward_choice(wards, user["ward_ids"])
ward_name = st.selectbox("Ward", list(names), index=list(names).index(opening[0]), key="patients_ward")
ward_id = names[ward_name]
with read_scope(get_engine()) as session:
    patients = ward_patient_list(session=session, ward_ids=[ward_id])
    beds = ward_beds(session=session, ward_id=ward_id)
free = {b.label: b.bed_id for b in beds if b.patient_id is None}


def run(action, label: str) -> bool:
    """Call a service in one transaction; on success keep its words for the rerun, on refusal show every
    problem (the form keeps what was typed)."""
    try:
        with session_scope(get_engine()) as session:
            done = action(session)
    except (RecordError, PermissionDenied) as refused:
        show_refusal(problems_of(refused), nothing=f"Nothing was saved ({label}).")
        return False
    st.session_state[NOTICE_KEY] = (done.text, done.warnings)
    return True


def place_choice(key: str, options: dict[str, int | None]) -> int | None:
    label = st.selectbox("Bed", list(options), key=key,
                         help="Free beds of the ward, or home: on the ward's list without a bed (low-dose SC "
                              "self-injection, between cycles).")
    return options[label]


notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.success(notice[0])
    for warning in notice[1]:
        st.warning(warning)

on_ward, admit_tab, find_tab = st.tabs([f"On {ward_name} ({len(patients)})", "Admit a patient", "Find a patient"])

with on_ward:
    occupied = [f"{b.label}" for b in beds if b.patient_id is not None]
    st.caption(f"{len(beds)} beds, {len(free)} free" + (f" · occupied: {', '.join(occupied)}" if occupied else "")
               + f" · times in {tz.key}")
    if patients.empty:
        st.info(f"No patients on {ward_name}. Admit one in the next tab.")
    else:
        course = [("no IL-2 course" if pd.isna(r) else f"{REGIMEN_SHORT.get(r, r)}, cycle {int(c)}")
                  for r, c in zip(patients["regimen"], patients["cycle"])]
        shown = pd.DataFrame({"Bed": patients["bed"], "Patient": patients["name"], "MRN": patients["mrn"],
                              "Course": course})
        st.dataframe(shown, hide_index=True, width="stretch")
        rows = {f"{p.bed} · {p.name} · {p.mrn}": int(p.patient_id) for p in patients.itertuples()}
        chosen = rows[st.selectbox("Patient", list(rows), key="patients_chosen")]
        with read_scope(get_engine()) as session:
            banner = patient_banner(session=session, patient_id=chosen, now=datetime.now(timezone.utc), tz=tz)
            history = placement_history(session=session, patient_id=chosen, tz=tz)
            stored = identity_of(session=session, patient_id=chosen)
            warnings_home = admission.discharge_warnings(session=session, patient_id=chosen, home=True)
            warnings_out = admission.discharge_warnings(session=session, patient_id=chosen, home=False)
        st.markdown(f"**{banner.identity()}** · {banner.placement()}")
        move, leave = st.columns(2)
        # Containers, not forms: the beds offered follow the ward chosen, the warnings the discharge chosen.
        with move.container(border=True):
            st.markdown("**Transfer** to another bed or ward")
            to_ward = st.selectbox("To ward", list(every_ward), index=list(every_ward.values()).index(ward_id),
                                   key=f"transfer_ward_{chosen}")
            with read_scope(get_engine()) as session:
                target_free = {b.label: b.bed_id for b in ward_beds(session=session, ward_id=every_ward[to_ward])
                               if b.patient_id is None}
            to_bed = place_choice(f"transfer_bed_{chosen}", {**target_free, HOME: None})
            reason = st.text_input("Reason", key=f"transfer_reason_{chosen}", max_chars=500,
                                   placeholder="e.g. needs telemetry")
            sure = st.checkbox(f"I confirm the transfer of {banner.name}", key=f"transfer_sure_{chosen}")
            if st.button("Transfer", type="primary", key=f"transfer_{chosen}"):
                if not sure:
                    st.error("Tick the confirmation first: nothing was saved.")
                elif run(lambda s: admission.transfer(session=s, role=user["role"], username=user["username"],
                                                      patient_id=chosen, ward_id=every_ward[to_ward], bed_id=to_bed,
                                                      reason=reason, now=datetime.now(timezone.utc),
                                                      ward_ids=user["ward_ids"]), "transfer"):
                    st.rerun()
        with leave.container(border=True):
            st.markdown("**Discharge**")
            where = st.radio("To", ["Home, still on the ward's list (monitored at home)",
                                    "Out of the service (on no ward's list; the record is kept)"],
                             index=1 if banner.bed == "Home" else 0, key=f"discharge_where_{chosen}")
            home = where.startswith("Home")
            for warning in (warnings_home if home else warnings_out):
                st.warning(warning)
            reason = st.text_input("Reason", key=f"discharge_reason_{chosen}", max_chars=500,
                                   placeholder="e.g. cycle complete, patient's choice")
            sure = st.checkbox(f"I confirm the discharge of {banner.name}", key=f"discharge_sure_{chosen}")
            if st.button("Discharge", type="primary", key=f"discharge_{chosen}"):
                if not sure:
                    st.error("Tick the confirmation first: nothing was saved.")
                elif run(lambda s: admission.discharge(session=s, role=user["role"], username=user["username"],
                                                       patient_id=chosen, home=home, reason=reason,
                                                       now=datetime.now(timezone.utc), ward_ids=user["ward_ids"]),
                         "discharge"):
                    st.rerun()
        st.markdown("**Placement history**")
        if history.empty:
            st.caption("No move recorded (admitted before the placement history was kept, or by the demo generator).")
        else:
            st.dataframe(history, hide_index=True, width="stretch")
        with st.expander("Correct the identity or record the allergies"):
            with st.form(f"correct_{chosen}", border=False):
                st.caption("Only what you change is corrected; the original stays in the audit trail.")
                one, two, three, four = st.columns(4)
                new_mrn = one.text_input("Record number", value=stored.mrn, key=f"correct_mrn_{chosen}")
                new_family = two.text_input("Family name", value=stored.family_name, key=f"correct_family_{chosen}")
                new_given = three.text_input("Given name", value=stored.given_name, key=f"correct_given_{chosen}")
                new_birth = four.date_input("Date of birth", value=stored.birth_date, key=f"correct_birth_{chosen}",
                                            min_value=date(1900, 1, 1), max_value=date.today(), format="DD/MM/YYYY")
                why = st.text_input("Reason for the correction", key=f"correct_reason_{chosen}", max_chars=500)
                if st.form_submit_button("Correct identity"):
                    # The service corrects only what differs from the record (and refuses when nothing does).
                    if run(lambda s: admission.correct_identity(
                            session=s, role=user["role"], username=user["username"], patient_id=chosen, reason=why,
                            now=datetime.now(timezone.utc), tz=tz, ward_ids=user["ward_ids"], mrn=new_mrn,
                            family_name=new_family, given_name=new_given, birth_date=new_birth),
                           "identity correction"):
                        st.rerun()
            with st.form(f"allergies_{chosen}", border=False):
                recorded = banner.allergies != "allergies not recorded"
                allergies = st.text_input("Allergies as now recorded", value=banner.allergies if recorded else "",
                                          key=f"allergies_text_{chosen}", max_chars=500,
                                          placeholder="e.g. penicillin: rash; or 'no known drug allergies'")
                if st.form_submit_button("Record allergies"):
                    if run(lambda s: admission.record_allergies(session=s, role=user["role"], username=user["username"],
                                                                patient_id=chosen, allergies=allergies,
                                                                ward_ids=user["ward_ids"]), "allergies"):
                        st.rerun()

with admit_tab:
    version = st.session_state.setdefault("admit_form_version", 0)
    # clear_on_submit stays off: a refused admission keeps every value typed (issue 19).
    with st.form(f"admit_{version}", border=True):
        st.markdown(f"**Admit a new patient to {ward_name}**")
        one, two, three = st.columns(3)
        mrn = one.text_input("Record number (MRN)", key=f"admit_mrn_{version}", max_chars=64)
        family_name = two.text_input("Family name", key=f"admit_family_{version}", max_chars=120)
        given_name = three.text_input("Given name", key=f"admit_given_{version}", max_chars=120)
        one, two, three = st.columns(3)
        today = datetime.now(timezone.utc).astimezone(tz).date()
        birth = one.date_input("Date of birth", value=None, key=f"admit_birth_{version}", format="DD/MM/YYYY",
                               min_value=date(today.year - admission.OLDEST_AGE - 1, 1, 1), max_value=today)
        sex = two.selectbox("Sex", SEXES, index=None, placeholder="Choose", key=f"admit_sex_{version}")
        with three:
            bed = place_choice(f"admit_bed_{version}", {**free, HOME: None})
        allergies_col, day_col, time_col = st.columns([4, 1, 1])
        allergy_state = allergies_col.radio("Allergies", ALLERGY_CHOICES, horizontal=True,
                                            key=f"admit_allergy_state_{version}")
        # Empty: admitted now. A patient admitted earlier (typed in later) keeps the real time.
        admitted_day = day_col.date_input("Admitted on (empty: now)", value=None, key=f"admit_day_{version}",
                                          format="DD/MM/YYYY", max_value=today)
        admitted_time = time_col.time_input("at", value=None, key=f"admit_time_{version}", step=300)
        allergy_text = st.text_input("Allergies as recorded", key=f"admit_allergies_{version}", max_chars=500,
                                     placeholder="e.g. penicillin: rash; or 'no known drug allergies' if the patient "
                                                 "said so")
        if st.form_submit_button("Admit", type="primary"):
            as_recorded = None if allergy_state == ALLERGY_CHOICES[1] else allergy_text
            admitted_at = (None if admitted_day is None or admitted_time is None else
                           datetime.combine(admitted_day, admitted_time, tzinfo=tz))
            if (admitted_day is None) != (admitted_time is None):   # never a midnight nobody typed
                st.error("Give both the day and the time of an earlier admission, or neither (admitted now).")
            elif run(lambda s: admission.admit(session=s, role=user["role"], username=user["username"], mrn=mrn,
                                             family_name=family_name, given_name=given_name, birth_date=birth,
                                             sex=sex, allergies=as_recorded, ward_id=ward_id, bed_id=bed,
                                             now=datetime.now(timezone.utc), tz=tz, ward_ids=user["ward_ids"],
                                             admitted_at=admitted_at), "admission"):
                st.session_state["admit_form_version"] = version + 1    # a new, empty form after an admission
                st.rerun()
    if not free:
        st.caption(f"No free bed on {ward_name}: a patient can still be admitted at home on its list.")

with find_tab:
    with st.form("find_patient", border=False):
        words = st.text_input("Record number, or part of a family or given name", key="find_text",
                              help="A record number is looked up in the whole hospital; a name among the patients "
                                   "of your wards and those who have left the service.")
        if st.form_submit_button("Find"):
            try:
                with session_scope(get_engine()) as session:
                    st.session_state[FOUND_KEY] = admission.find(session=session, role=user["role"],
                                                                 username=user["username"], text=words,
                                                                 ward_ids=user["ward_ids"])
            except RecordError as refused:
                st.session_state.pop(FOUND_KEY, None)
                for message in refused.errors:
                    st.error(message)
    found = st.session_state.get(FOUND_KEY)
    if found is not None:
        if not found:
            st.info("No patient found. Check the record number, or admit the patient as new.")
        else:
            st.dataframe(pd.DataFrame([{"Patient": f.name, "MRN": f.mrn,
                                        "Born": "not recorded" if f.birth_date is None else f"{f.birth_date:%d %b %Y}",
                                        "Where": f.place} for f in found]), hide_index=True, width="stretch")
            gone = {f"{f.name} · {f.mrn}": f.patient_id for f in found if not f.on_ward}
            if gone:
                with st.form("readmit", border=True):
                    st.markdown(f"**Admit again to {ward_name}** a patient who has left the service")
                    again = gone[st.selectbox("Patient", list(gone), key="readmit_patient")]
                    again_bed = place_choice("readmit_bed", {**free, HOME: None})
                    sure = st.checkbox("I have checked two identifiers (name and date of birth or record number)",
                                       key="readmit_sure")
                    if st.form_submit_button("Admit again", type="primary"):
                        if not sure:
                            st.error("Tick the confirmation first: nothing was saved.")
                        elif run(lambda s: admission.readmit(session=s, role=user["role"], username=user["username"],
                                                             patient_id=again, ward_id=ward_id, bed_id=again_bed,
                                                             now=datetime.now(timezone.utc),
                                                             ward_ids=user["ward_ids"]), "re-admission"):
                            st.session_state.pop(FOUND_KEY, None)
                            st.rerun()
            st.caption("A patient on a ward's list is moved with Transfer by the staff of that ward.")
