"""The catalogue codes grouped as the forms, charts, summaries and exports show them.

One definition of each list (the entry form, the chart, the summary, the FHIR export and the quality
report all read these); every code is in data/catalogue.toml (tests/clinical/test_catalogue.py checks).
"""
from __future__ import annotations

# NEWS2 chart order (RCP 2017 Chart 1), then the other bedside vital signs.
VITAL_SIGNS = ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "o2_flow", "sbp", "dbp", "heart_rate",
               "consciousness", "temperature")
LAB_SYSTEMS = ("hematologic", "hepatic", "metabolic")
LABS = ("anc", "wbc", "lymphocytes", "eosinophils", "platelets", "hemoglobin", "creatinine", "bilirubin", "ast",
        "alt", "alp", "albumin", "sodium", "potassium", "magnesium", "lactate", "crp")
# The inputs of NEWS2, qSOFA and SIRS (monitoring.clinical.scores).
SCORE_CODES = ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "sbp", "heart_rate", "consciousness", "temperature",
               "wbc", "gcs")
