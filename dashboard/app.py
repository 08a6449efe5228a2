"""Entry point: page configuration, sign-in gate, synthetic-data banner and role-based navigation."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run dashboard/app.py` from anywhere

import streamlit as st

from dashboard import sign_in
from dashboard.banner import show_banner
from dashboard.session import current_user, enforce_timeout, sign_out
from monitoring.auth import SESSION_TIMEOUT_MINUTES, may

st.set_page_config(page_title="IL-2 Toxicity Monitor", page_icon=":material/monitor_heart:", layout="wide")
enforce_timeout()
show_banner()
user = current_user()
if user is None:
    st.navigation([st.Page(sign_in.show, title="Sign in", icon=":material/login:")], position="hidden").run()
    st.stop()

# (page file, title, icon, url path, permission) — each page checks its permission again on the server.
PAGES = [
    ("app_pages/ward.py", "Ward overview", ":material/bed:", "ward", "view_patients"),
    ("app_pages/doses.py", "IL-2 doses", ":material/vaccines:", "doses", "record_doses"),
    # The oncologist's doses page has the same address: each role sees its own (no role has both).
    ("app_pages/dose_decisions.py", "IL-2 doses", ":material/vaccines:", "doses", "decide_doses"),
    ("app_pages/record.py", "Record observations", ":material/edit_note:", "record", "record_observations"),
    ("app_pages/review.py", "Daily review", ":material/checklist:", "review", "record_observations"),
    ("app_pages/alerts.py", "Alert inbox", ":material/notifications:", "alerts", "view_patients"),
    ("app_pages/chart.py", "Patient chart", ":material/monitoring:", "chart", "view_patients"),
    ("app_pages/summary.py", "Patient summary", ":material/assignment_ind:", "summary", "view_patients"),
    ("app_pages/lab_import.py", "Lab import", ":material/upload_file:", "lab-import", "record_observations"),
    ("app_pages/reports.py", "Reports", ":material/summarize:", "reports", "view_reports"),
    ("app_pages/thresholds.py", "Thresholds", ":material/tune:", "thresholds", "view_thresholds"),
    ("app_pages/users.py", "Users", ":material/group:", "users", "manage_users"),
    ("app_pages/audit.py", "Audit log", ":material/history:", "audit", "view_audit_log"),
]
pages = [st.Page(path, title=title, icon=icon, url_path=url) for path, title, icon, url, permission in PAGES
         if may(user["role"], permission)]
who, leave = st.columns([6, 1], vertical_alignment="center")
who.caption(f"Signed in as **{user['display_name']}** ({user['role']}) · signs out after "
            f"{SESSION_TIMEOUT_MINUTES:g} min without activity")
leave.button("Sign out", on_click=sign_out, key="sign_out", width="stretch")
page = st.navigation(pages, position="top")  # the full width for tables on a 1366-px ward workstation
page.run()
