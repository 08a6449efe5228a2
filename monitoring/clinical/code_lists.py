"""The catalogue codes grouped as the forms, charts, summaries and exports show them.

One definition of each list (the entry form, the chart, the summary, the FHIR export and the quality
report all read these). Each list keeps its display order, and holds the codes of one `category` of
data/catalogue.toml: tests/clinical/test_code_lists.py checks every list against the categories, so a
code added to a category and left out of its list (or the reverse) fails there.
"""
from __future__ import annotations

# NEWS2 chart order (RCP 2017 Chart 1), then the other vital signs of every round: the entry form's
# first section.
VITAL_SIGNS = ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "o2_flow", "sbp", "dbp", "heart_rate",
               "consciousness", "temperature")
# The other codes of the category "vital sign": the form shows them in their organ system's section
# (cardiovascular, pulmonary, neurological), and the summary and the FHIR export leave them out of the
# vital signs.
OTHER_VITAL_SIGNS = ("map", "fio2", "gcs")
# The category "lab", in the entry form's order: blood counts, kidney and liver chemistry,
# electrolytes, lactate, CRP.
LABS = ("anc", "wbc", "lymphocytes", "eosinophils", "platelets", "hemoglobin", "creatinine", "bilirubin", "ast",
        "alt", "alp", "albumin", "sodium", "potassium", "magnesium", "lactate", "crp")
# The category "fluid", as the patient summary shows it ("Fluids and weight").
FLUIDS = ("urine_output", "fluid_intake", "weight")
# Every code of the category "vital sign".
ALL_VITAL_SIGNS = (*VITAL_SIGNS, *OTHER_VITAL_SIGNS)
# The inputs of NEWS2, qSOFA and SIRS (monitoring.clinical.scores).
SCORE_CODES = ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "sbp", "heart_rate", "consciousness", "temperature",
               "wbc", "gcs")
