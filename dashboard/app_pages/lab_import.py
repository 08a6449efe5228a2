"""Lab import: upload the laboratory's CSV export, see what is wrong row by row, import the good rows
or nothing. The checks and the write are monitoring.services.lab_import; this page only shows them."""
import pandas as pd
import streamlit as st

from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.clinical.catalogue import default_catalogue
from monitoring.errors import InputError, RecordError
from monitoring.services import lab_import
from monitoring.services.transactions import session_scope
from monitoring.timefmt import local_text
from monitoring.views.lists import visible_wards

PREVIEW_KEY = "lab_import_preview"  # (file id, ImportPreview) of the file on screen
RESULT_KEY = "lab_import_result"  # the last import's ImportResult, shown once after the rerun
# Words carry the status; the marks are plain text characters every workstation font has (no emoji).
STATUS_LABEL = {"ok": "✓ ok", "correction": "✎ correction", "error": "✗ error", "duplicate": "↺ duplicate"}

user = require("record_observations")
st.title("Lab import")
st.caption("Upload the laboratory system's CSV export: one result per row with the columns "
           "`patient_id` (record number), `time` (ISO 8601 with a zone, e.g. 2026-03-02T08:00:00Z), `code`, "
           "`value` and optionally `unit`, `ref_low`, `ref_high`. Nothing is saved until you press Import; "
           f"at most {lab_import.MAX_IMPORT_ROWS:,} rows per file.")
with st.expander("Laboratory codes and units accepted"):
    catalogue = default_catalogue()
    st.dataframe(pd.DataFrame([{"Code": c, "Result": catalogue[c].label, "Canonical unit": catalogue[c].unit,
                                "Also accepted": ", ".join(catalogue[c].accepted_units()[1:])}
                               for c in lab_import.LAB_CODES]), hide_index=True, width="stretch")

result = st.session_state.pop(RESULT_KEY, None)
if result is not None:
    alerts = result.alerts or {}
    st.success(f"{result.summary} Saved as {user['display_name']}; alerts re-evaluated: "
               f"{alerts.get('new', 0)} new, {alerts.get('updated', 0)} updated, "
               f"{alerts.get('retracted', 0)} retracted.", icon=":material/check_circle:")
    tz = get_settings().timezone
    for alert in result.new_alerts:
        st.warning(f"New alert for record number {alert['mrn']}: **{alert['severity'].upper()} · "
                   f"{alert['rule_id']} · {alert['level']}**, onset {local_text(alert['onset_at'], tz)}. "
                   "See the Alert inbox for the evidence.", icon=":material/notifications:")

uploaded = st.file_uploader("Laboratory results (CSV)", type=["csv"], key="lab_import_file")
if uploaded is None:
    st.session_state.pop(PREVIEW_KEY, None)
    st.stop()

cached = st.session_state.get(PREVIEW_KEY)
if cached is None or cached[0] != uploaded.file_id:
    uploaded.seek(0)  # checked again after an import: read from the start
    try:
        with session_scope(get_engine()) as session:
            wards = visible_wards(session=session, role=user["role"], ward_ids=user["ward_ids"])
            preview = lab_import.check_file(session=session, stream=uploaded, file_name=uploaded.name,
                                            ward_ids=[w.id for w in wards], tz=get_settings().timezone)
    except InputError as exc:
        st.session_state.pop(PREVIEW_KEY, None)
        st.error(f"**{uploaded.name} cannot be imported.**\n\n" + "\n".join(
            f"- {line}" for line in str(exc).splitlines()), icon=":material/error:")
        st.stop()
    st.session_state[PREVIEW_KEY] = cached = (uploaded.file_id, preview)
preview = cached[1]

counts = preview.counts
if preview.total == 0:
    st.info(f"{uploaded.name} has a header but no data rows.")
    st.stop()
good, corrections, errors, duplicates = st.columns(4)
good.metric("Good rows", counts["ok"])
corrections.metric("Laboratory corrections", counts["correction"],
                   help="The same test and specimen time as a result imported before, with another value: stored "
                        "as an amendment; the earlier result stays in the history.")
errors.metric("Rows with errors", counts["error"])
duplicates.metric("Already imported", counts["duplicate"], help="Results already stored (imported before, or "
                  "repeated in this file). They are never stored twice.")
if preview.ignored_columns:
    st.caption(f"Columns not imported: {', '.join(preview.ignored_columns)}.")

problems_only = st.toggle("Show only errors, duplicates and corrections", value=counts["error"] > 0,
                          key="lab_import_problems_only")
report = preview.report
if problems_only:
    report = report[report["status"] != "ok"]
table = report.assign(status=report["status"].map(STATUS_LABEL)).rename(columns={
    "row": "Row", "status": "Status", "patient_id": "Record number", "time": "Time", "code": "Code",
    "value": "Value", "unit": "Unit", "ref_low": "Ref low", "ref_high": "Ref high", "column": "Column",
    "message": "What is wrong"})
st.dataframe(table, hide_index=True, width="stretch",
             column_config={"Row": st.column_config.NumberColumn(width="small", help="Data row, 1 = the line "
                                                                 "after the header"),
                            "What is wrong": st.column_config.TextColumn(width="large")})

modes = {"good-rows": f"Import the {preview.storable} good rows" + (
             f" (including {counts['correction']} correction{'s' if counts['correction'] != 1 else ''})"
             if counts["correction"] else ""),
         "all-or-nothing": "Import nothing unless every row is good"}
mode = st.radio("What to import", list(modes), format_func=modes.get, key="lab_import_mode",
                horizontal=True)
if mode == "all-or-nothing" and counts["error"]:
    st.warning(f"{counts['error']} rows have errors: with this choice nothing will be imported.")
if st.button("Import", type="primary", key="lab_import_go", disabled=preview.storable == 0):
    try:
        with session_scope(get_engine()) as session:
            done = lab_import.commit_import(session=session, preview=preview, mode=mode,
                                            imported_by=user["username"])
    except RecordError as exc:
        for message in exc.errors:
            st.error(message, icon=":material/block:")
        st.session_state.pop(PREVIEW_KEY, None)  # check again: the store may have changed
    else:
        st.session_state[RESULT_KEY] = done
        st.session_state.pop(PREVIEW_KEY, None)  # the same file now shows as already imported
        st.rerun()
if preview.storable == 0:
    st.caption("No row can be imported: correct the file and upload it again.")
