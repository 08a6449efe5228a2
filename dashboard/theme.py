"""One palette for every page and chart: severity, NEWS2 band, CTCAE grade and dose status.

Colours are chosen to read on a 1366x768 ward screen and are always paired with text (severity
names, grades, band names), so colour is never the only carrier of meaning.
"""
# Alert severity (monitoring.clinical.rules.common.SEVERITIES).
SEVERITY_COLOURS = {"emergency": "#b71c1c", "urgent": "#e65100", "warning": "#f9a825", "info": "#607d8b"}
SEVERITY_ICONS = {"emergency": "🟥", "urgent": "🟧", "warning": "🟨", "info": "⬜"}
# NEWS2 clinical risk bands (RCP 2017 Chart 4).
BAND_COLOURS = {"low": "#2e7d32", "low-medium": "#f9a825", "medium": "#ef6c00", "high": "#c62828"}
# CTCAE grades 0-4 (and 5, death, never expected on a live chart).
GRADE_COLOURS = {0: "#e8f5e9", 1: "#fff59d", 2: "#ffb74d", 3: "#e53935", 4: "#6a1b9a", 5: "#212121"}
# IL-2 dose events.
DOSE_COLOURS = {"given": "#1565c0", "held": "#ef6c00", "stopped": "#b71c1c"}
DOSE_SYMBOLS = {"given": "triangle-up", "held": "x", "stopped": "square"}
