"""Patient chart: vital signs, NEWS2, fluids, labs and the CTCAE grid on one time axis, with the IL-2 doses."""
from datetime import datetime, timezone

import streamlit as st

from dashboard.charts import (
    fluids_figure,
    labs_figure,
    news2_figure,
    toxicity_grid_figure,
    vital_signs_figure,
    zone_name,
)
from dashboard.patient_picker import choose_patient
from dashboard.resources import get_engine, get_settings
from dashboard.session import require
from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.vocabulary import REGIMEN_SHORT
from monitoring.services.transactions import read_scope
from monitoring.timefmt import local_text
from monitoring.views.patient_chart import PERIODS, chart_data, lab_panels

user = require("view_patients")
st.title("Patient chart")
tz = get_settings().timezone
chosen = choose_patient(user, key="chart_patient", with_course=True, empty="No patients with an IL-2 course yet.")
period = st.radio("Period", list(PERIODS), format_func=PERIODS.get, horizontal=True, key="chart_period")
now = datetime.now(timezone.utc)
with read_scope(get_engine()) as session:
    data = chart_data(session=session, patient_id=int(chosen.patient_id), period=period, now=now, tz=tz)

regimen = REGIMEN_SHORT.get(chosen.regimen, chosen.regimen)
st.caption(f"{regimen} · cycle {int(chosen.cycle)} · {PERIODS[period].lower()}: {local_text(data.start, tz)} to "
           f"{local_text(data.end, tz)} · every time in {zone_name(tz)} · {len(data.doses)} IL-2 dose events and "
           f"{len(data.alerts)} alerts in this period")
st.caption("Decision support: shows the basis of every score, grade and alert (point at a value or a marker for "
           "the values, times and the standard applied) so a clinician can check it; decisions stay with the "
           "clinical team.")


def chart(title: str, caption: str, figure, key: str) -> None:
    st.subheader(title)
    st.caption(caption)
    # theme=None: the figures carry their own look; Streamlit's theme would make it redraw each chart
    # a second time (dashboard.charts._figure).
    st.plotly_chart(figure, key=key, width="stretch", theme=None)


doses_note = ("Top strip: IL-2 doses (▲ given, ✕ held, ■ stopped; point for the dose number and the reason) and "
              "alerts (◆ in severity colour; point for the evidence); dotted lines carry each dose through the "
              "panels.")
chart("Vital signs", "Temperature with the fever lines of the febrile-neutropenia definition, heart rate, SBP and "
      "MAP with the patient's SBP target (capillary-leak rule), respiratory rate, SpO₂ with oxygen flow. "
      + doses_note, vital_signs_figure(data, tz=tz), "chart_vitals")
chart("NEWS2", "NEWS2 of each observation set over its risk bands (RCP 2017); point at a set for its seven "
      "sub-scores. A set without all seven parameters is not scored.", news2_figure(data, tz=tz), "chart_news2")
chart("Fluids and weight", "Fluid intake and urine output per 8-h nursing shift (a shift without a volume shows "
      "no bar: missing is not zero); weight against the baseline and the capillary-leak gain levels.",
      fluids_figure(data, tz=tz), "chart_fluids")
first_labs, other_labs = lab_panels(data)
chart("Laboratory results", "ANC, platelets, creatinine, bilirubin and albumin, and every other result outside its "
      "reference range in the period, with the laboratory's reference range (green; the local default where the "
      "result came without one) and the CTCAE v5.0 grade bands G1-G4 of the value's scale (creatinine can also "
      "reach grade 2-3 by multiples of the baseline: see the grid).",
      labs_figure(data, tz=tz, codes=first_labs), "chart_labs")
if other_labs:
    catalogue = default_catalogue()
    names = ", ".join(catalogue[c].label for c in other_labs)
    if st.toggle(f"Show the {len(other_labs)} other results, all within their reference range ({names})",
                 key="chart_other_labs"):
        st.plotly_chart(labs_figure(data, tz=tz, codes=other_labs), key="chart_labs_other", width="stretch",
                        theme=None)
chart("Toxicity grid", "Highest CTCAE v5.0 grade per organ system and local day, from lab values, temperature and "
      "the nurses' symptom grades; point at a cell for the values behind it. An empty cell was not graded.",
      toxicity_grid_figure(data, tz=tz), "chart_toxicity")
