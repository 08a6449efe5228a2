"""Thresholds: every clinical number the engine uses, with its source (read-only here)."""
import pandas as pd
import streamlit as st

from dashboard.session import require
from monitoring.clinical.thresholds import default_thresholds

require("view_thresholds")
st.title("Thresholds")
thresholds = default_thresholds()
st.caption(f"From `{thresholds.path.name}` version {thresholds.version}. A hospital changes these numbers in the "
           "file (reviewed, then deployed); the engine refuses an invalid file at start.")
rows = [{"Section": name, "Document": src.document, "Version": src.version, "Table": src.table,
         "Status": src.status} for name, src in thresholds.sources().items()]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
with st.expander("The file as deployed"):
    st.code(thresholds.path.read_text(encoding="utf-8"), language="toml")
