"""Wards: list, add, rename; add and retire beds (admin; monitoring.services.wards, every change audited)."""
import streamlit as st

from dashboard.admin_forms import apply, show_notice
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.services import wards as ward_service
from monitoring.services.transactions import read_scope
from monitoring.views.lists import list_wards, ward_beds, ward_table

admin = require("manage_wards")
st.title("Wards")
tz = get_settings().timezone
st.caption(f"Every ward shows times in the installation's time zone, {tz.key} (setting IL2_TIMEZONE); a ward has "
           "no time zone of its own. A bed is never deleted: a retired bed is kept for the record and comes back "
           "when its label is added again.")
show_notice("wards")
with read_scope(get_engine()) as session:
    table = ward_table(session=session)
    wards = {w.code: w for w in list_wards(session=session)}
if table.empty:
    st.info("No wards yet: add the first one below.")
else:
    st.dataframe(table, hide_index=True, width="stretch")


def run(action, success: str, clear: dict[str, str | None] | None = None) -> None:
    apply("wards", action, success, clear)


who = {"role": admin["role"], "username": admin["username"]}
add, change = st.columns(2)
with add.form("add_ward"):
    st.subheader("Add a ward")
    code = st.text_input("Code", key="ward_code", help=f"Unique; {ward_service.CODE_RULE}. Kept upper-case.")
    name = st.text_input("Name", key="ward_name", help="As staff know it; shown wherever a ward is chosen.")
    beds = st.text_area("Beds", key="ward_beds", height=68, help="Bed labels, separated by commas or one per line.")
    if st.form_submit_button("Add ward"):
        run(lambda s: ward_service.add_ward(session=s, **who, code=code, name=name,
                                            beds=ward_service.bed_labels(beds)),
            f"Ward {code.strip().upper()} added.", {"ward_code": "", "ward_name": "", "ward_beds": ""})
with change:
    st.subheader("Change a ward")
    if not wards:
        st.caption("No ward to change yet.")
        st.stop()
    chosen = st.selectbox("Ward", list(wards), key="ward_chosen", format_func=lambda c: f"{c} · {wards[c].name}")
    with read_scope(get_engine()) as session:
        beds_now = ward_beds(session=session, ward_id=int(wards[chosen].id or 0))
    with st.form("rename_ward"):
        new_name = st.text_input("New name", key=f"ward_rename_{chosen}", value=wards[chosen].name)
        if st.form_submit_button("Rename"):
            run(lambda s: ward_service.rename_ward(session=s, **who, code=chosen, name=new_name),
                f"Ward {chosen} renamed to {new_name.strip()}.")
    with st.form("ward_beds_form"):
        labels = st.text_input("Beds to add", key="beds_add", help="Labels separated by commas; a retired bed's "
                                                                  "label brings it back into use.")
        in_use = beds_now.loc[beds_now["In use"], "Bed"].tolist()
        retire = st.selectbox("Bed to retire", in_use, key="bed_retire", index=None, placeholder="Choose a bed",
                              help="Refused while a patient is in it.")
        add_col, retire_col = st.columns(2)
        if add_col.form_submit_button("Add beds"):
            run(lambda s: ward_service.add_beds(session=s, **who, code=chosen,
                                                labels=ward_service.bed_labels(labels)),
                f"Beds added to {chosen}: {', '.join(ward_service.bed_labels(labels))}.", {"beds_add": ""})
        if retire_col.form_submit_button("Retire bed"):
            if retire is None:
                st.error("Choose the bed to retire.")
            else:
                run(lambda s: ward_service.retire_bed(session=s, **who, code=chosen, label=retire),
                    f"Bed {retire} on {chosen} retired.", {"bed_retire": None})
    shown = beds_now.assign(**{"Retired at": beds_now["Retired at"].map(
        lambda t: "" if t is None or t != t else f"{t.astimezone(tz):%Y-%m-%d %H:%M}")})
    st.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), 250))
