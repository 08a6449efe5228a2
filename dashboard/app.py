"""Entry point: page configuration, the synthetic-data banner and navigation. Nothing else."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run dashboard/app.py` from anywhere

import streamlit as st

from dashboard.banner import show_banner

st.set_page_config(page_title="IL-2 Toxicity Monitor", page_icon=":material/monitor_heart:", layout="wide")
show_banner()
page = st.navigation([
    st.Page("app_pages/ward.py", title="Ward", icon=":material/bed:", url_path="ward", default=True),
    st.Page("app_pages/alerts.py", title="Patient alerts", icon=":material/notifications:", url_path="alerts"),
], position="top")  # the full width for tables on a 1366-px ward workstation
page.run()
