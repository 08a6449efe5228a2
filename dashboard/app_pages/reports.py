"""Reports: quality summaries across courses, and the audited exports (CSV zip, Excel, PDF).

De-identified unless an allowed role ticks 'identifiable'. Each file is produced when its download
button is clicked (deferred generation) and that production writes the audit row.
"""
import hashlib
import json
import time
from datetime import datetime, timezone

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.pseudonym_lookup import show_pseudonym_lookup
from dashboard.resources import get_engine, get_settings
from dashboard.session import download_account, require
from dashboard.theme import GRADE_COLOURS
from monitoring.clinical.vocabulary import REGIMEN_SHORT, REGIMENS
from monitoring.errors import RecordError
from monitoring.export import labels, periods, quality, team_key
from monitoring.export import writers as export
from monitoring.export.deid import new_export_key
from monitoring.export.monthly_report import ALL_BUT_EXPECTED, report_summary
from monitoring.services import auth
from monitoring.services.transactions import session_scope
from monitoring.views.lists import list_wards

KEY_STATE = "reports_export_key"
TABLES_KEY = "reports_tables"     # (filters asked, when read, tables) of this browser session
TABLES_FOR_S = 60                 # the tables are read again after this long, whatever was asked
CUSTOM = "Custom dates (identifiable export only)"
DOWNLOADS = (("csv", "Download CSV (zip)", "reports_download_csv"), ("xlsx", "Download Excel", "reports_download_xlsx"),
             ("pdf", "Download PDF", "reports_download_pdf"), ("fhir", "Download FHIR R4 (Bundle)",
                                                              "reports_download_fhir"),
             ("ndjson", "Download FHIR R4 (ndjson)", "reports_download_ndjson"))

user = require("view_reports")
st.title("Reports")
st.caption("Toxicity and monitoring performance across courses. De-identified by default: pseudonyms instead of "
           "patients, days from the course start instead of dates; names, record numbers and birth dates are not "
           "read. Expected IL-2 effects are counted apart from sepsis alerts.")
show_pseudonym_lookup(user)   # the oncologist only

engine = get_engine()
settings = get_settings()
tz = settings.timezone
with session_scope(engine) as session:
    wards = {w.code: (w.id, w.name) for w in list_wards(session=session)}

with st.expander("Period, wards and regimens", expanded=True):
    left, middle, right = st.columns(3)
    identifiable = False
    if auth.may(user["role"], "export_identifiable"):
        identifiable = right.checkbox("Identifiable export (names, record numbers, dates)", key="reports_identifiable",
                                      help="Recorded in the audit trail as an identifiable export.")
    # Whole months and quarters, never days, in a de-identified report (issue 16 item 6, issue 20 item 1): a
    # day-by-day filter dates the patients' events. The periods offered do not depend on the data.
    offered = periods.choices(now=datetime.now(timezone.utc), tz=tz)
    period_labels = [*offered, *([CUSTOM] if identifiable else [])]
    chosen = left.selectbox("Period", period_labels, key="reports_period",
                            index=next(i for i, text in enumerate(period_labels) if text.startswith("Last month")))
    if chosen == CUSTOM:
        first_day, last_day = left.columns(2)
        today = datetime.now(timezone.utc).astimezone(tz).date()
        first = first_day.date_input("From", value=today.replace(day=1), key="reports_from_day", format="DD/MM/YYYY")
        last = last_day.date_input("To (inclusive)", value=today, key="reports_to_day", format="DD/MM/YYYY")
        try:
            period = periods.for_report(periods.custom(first, last, tz), identifiable=identifiable)
        except ValueError as problem:
            left.error(str(problem)[0].upper() + str(problem)[1:] + ".")
            st.stop()
    else:
        period = offered[chosen]
    basis = left.radio("Counting", list(periods.BASES), format_func=periods.BASES.get, key="reports_basis",
                       help="Events: what happened in the period, whenever the course started. Courses: the courses "
                            "that started in the period, followed to their end.")
    ward_codes = middle.multiselect("Wards", list(wards), format_func=lambda c: f"{c} · {wards[c][1]}",
                                    key="reports_wards", placeholder="All wards")
    regimens = middle.multiselect("Regimens", list(REGIMENS), format_func=lambda r: REGIMEN_SHORT.get(r, r),
                                  key="reports_regimens", placeholder="All regimens")
    # The team's kept key from the settings (issue 20 item 2), never typed here; else a one-off key.
    kept = settings.team_export_key()
    if kept is None:
        key, key_text = st.session_state.setdefault(KEY_STATE, new_export_key()), team_key.ONE_OFF
        right.warning(f"Pseudonyms: {key_text}. An administrator sets the team's key (IL2_EXPORT_KEY or "
                      "IL2_EXPORT_KEY_FILE, with IL2_EXPORT_KEY_GENERATION) so that months can be compared.")
        generation = None
    else:
        try:
            with session_scope(engine) as session:
                kept_key = team_key.team_key(session=session, key=kept, generation=settings.export_key_generation,
                                             username=user["username"])
        except RecordError as problem:
            right.error("The team's export key is not usable: " + " ".join(problem.errors))
            st.stop()
        key, key_text, generation = kept_key.key, kept_key.describe(tz), kept_key.generation
        right.caption(f"Pseudonyms: the team's {key_text}; the same in every export made with it.")
        if kept_key.rotation_note():
            right.info(kept_key.rotation_note())

start, end = period.start, period.end
filters = quality.QualityFilter(
    start=start, end=end, basis=basis, period_label=period.label,
    ward_ids=[wards[c][0] for c in ward_codes] or None, regimens=regimens or None)
# The tables of these filters, kept in this browser session for TABLES_FOR_S (issue 21: reading them took
# 0.45-0.7 s on every rerun, a widget's or a re-open's); a change of filters, key or the time reads them again.
asked = json.dumps([filters.describe(), hashlib.sha256(key.encode()).hexdigest(), identifiable], sort_keys=True)
kept_tables = st.session_state.get(TABLES_KEY)
if kept_tables is not None and kept_tables[0] == asked and time.monotonic() - kept_tables[1] < TABLES_FOR_S:
    tables, read_at = kept_tables[2], kept_tables[3]
else:
    with session_scope(engine) as session:
        tables = quality.export_tables(session=session, filters=filters, export_key=key, identifiable=identifiable)
    read_at = datetime.now(timezone.utc)
    st.session_state[TABLES_KEY] = (asked, time.monotonic(), tables, read_at)

if tables["courses"].empty:
    st.info("No treatment courses match these filters.")
    st.stop()
try:   # de-identified: at least k courses, small cells withheld (monitoring.export.small_cells)
    tables = export.for_release(tables, identifiable=identifiable)
except export.ExportError as too_few:
    st.info(str(too_few))
    st.stop()
courses = tables["courses"]

synthetic = quality.is_synthetic(tables)
st.markdown(f"**{len(courses)} courses**" + (" · synthetic data" if synthetic else "")
            + (" · **IDENTIFIABLE**" if identifiable else " · de-identified")
            + f" · figures read at {read_at.astimezone(tz):%H:%M:%S} (again after a minute or a change of filters)")


def shown_cell(value):
    """A figure that could not be determined as "–" (not "None"); a count stored as a float as 12, not 12.0."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:g}" if isinstance(value, float) else value


def table(frame) -> None:
    """A table in words: coded values (regimen, rule, measure, organ system) and column names as the
    exports label them (monitoring.export.labels); the column's meaning on its header's tooltip."""
    shown = labels.labelled_values(frame).map(shown_cell)
    # A column mixing numbers and "<5" (a small cell withheld) is shown as text: one type per column.
    mixed = [c for c in shown.columns if shown[c].map(type).nunique() > 1]
    headers = {c: st.column_config.Column(labels.column_label(c), help=quality.COLUMN_DOCS.get(c, ("", ""))[1] or None)
               for c in shown.columns}
    st.dataframe(shown.astype({c: str for c in mixed}), hide_index=True, width="stretch", column_config=headers)


st.subheader(quality.TABLE_TITLES["monitoring"])
table(tables["monitoring"])
st.caption("–: not determined (for example no alert answered yet, so no acknowledgement latency). Missing is never "
           "zero.")

distribution = labels.labelled_values(tables["grade_distribution"])
shown = distribution[(distribution["regimen"] == labels.regimen_label(quality.ALL_REGIMENS))
                     & (distribution["grade"] != "0")]
# A withheld small cell ("<5") has no bar: its number is not known.
shown = shown.assign(courses=pd.to_numeric(shown["courses"], errors="coerce"))
chart_left, chart_right = st.columns(2)
# The grade colours of every other page (dashboard/theme.py); "not graded" in neutral grey.
grade_colours = {str(grade): colour for grade, colour in GRADE_COLOURS.items()} | {"not graded": "#bdbdbd"}
chart_left.plotly_chart(px.bar(shown, x="organ_system", y="courses", color="grade", barmode="stack",
                               color_discrete_map=grade_colours,
                               category_orders={"grade": ["1", "2", "3", "4", "5", "not graded"]},
                               title="Highest CTCAE grade per organ system (courses; grade 0 not shown)",
                               labels={"organ_system": "Organ system", "courses": "Courses", "grade": "CTCAE grade"}),
                        key="reports_grade_chart")
# Alerts per 100 patient-days: the rate of the monthly report's summary (monitoring.export.monthly_report).
rules = report_summary(tables).alerts
rules = rules[rules["rule_id"] != ALL_BUT_EXPECTED].assign(rule=lambda f: f["rule_id"].map(labels.rule_label))
chart_right.plotly_chart(px.bar(rules, x="rule", y="per_100_patient_days", title="Alerts per 100 patient-days, by rule",
                                labels={"rule": "Alert rule", "per_100_patient_days": "Alerts per 100 patient-days"}),
                         key="reports_rule_chart")

for name in ("cohort_counts", "alerts_by_rule", "distributions", "courses", "episodes", "declined_alerts"):
    with st.expander(quality.TABLE_TITLES[name], expanded=name == "cohort_counts"):
        table(tables[name])

st.subheader("Download")
period_text = f"{period.label} ({periods.BASES[basis].lower()})"
filters_text = (f"Period: {period_text}; wards {', '.join(ward_codes) or 'all'}; "
                f"regimens {', '.join(regimens) or 'all'}; pseudonyms: {key_text}.")


allowed = download_account("export_identifiable" if identifiable else "view_reports")


def produce(fmt: str) -> bytes:
    """The file, and its audit row (called by Streamlit when the button is clicked, outside the page's run:
    the sign-in and the permission checked again first)."""
    account = allowed()
    if fmt in export.FHIR_FORMATS:
        with session_scope(engine) as read_session:
            data = export.render_fhir(session=read_session, fmt=fmt, filters=filters, export_key=key,
                                      identifiable=identifiable)
    else:
        data = export.render(tables, fmt, docs=quality.COLUMN_DOCS, synthetic=synthetic,
                             deidentified=not identifiable, filters_text=filters_text, period_text=period_text,
                             wards_text=", ".join(f"{c} · {wards[c][1]}" for c in ward_codes) or None,
                             regimens_text=", ".join(REGIMEN_SHORT.get(r, r) for r in regimens) or None,
                             key_generation=generation)
    with session_scope(engine) as audit_session:
        export.authorise(account["role"], identifiable=identifiable)
        export.record_export(session=audit_session, username=account["username"], fmt=fmt,
                             filters=filters.describe() | {"ward_codes": ward_codes or None,
                                                           "key_generation": generation},
                             identifiable=identifiable, rows=len(courses))
    return data


for column, (fmt, label, widget_key) in zip(st.columns(len(DOWNLOADS)), DOWNLOADS):
    column.download_button(label, data=lambda fmt=fmt: produce(fmt),
                           file_name=export.filename(fmt, identifiable=identifiable, period=period.code or None),
                           mime=export.MEDIA_TYPES[fmt], key=widget_key, on_click="ignore")
