"""The ward list as clinicians read it: one row per patient, display-ready, pure function."""
from __future__ import annotations

from datetime import datetime, tzinfo

import pandas as pd

from monitoring.models import REGIMEN_SHORT
from monitoring.timefmt import course_day, elapsed_text, local_text


SEVERITY_ORDER = ("emergency", "urgent", "warning")


def open_alert_text(counts: dict[str, int]) -> str:
    """'1 emergency, 2 urgent' from counts by severity; 'none' when there are none."""
    parts = [f"{counts[s]} {s}" for s in SEVERITY_ORDER if counts.get(s)]
    return ", ".join(parts) or "none"


def ward_rows(patients: pd.DataFrame, *, now: datetime, tz: tzinfo,
              open_alerts: dict[int, dict[str, int]] | None = None) -> pd.DataFrame:
    """Turn repository.ward_patient_list output into the columns the ward page shows."""
    open_alerts = open_alerts or {}
    rows = []
    for p in patients.itertuples(index=False):
        planned = "?" if pd.isna(p.planned_doses) else int(p.planned_doses)
        rows.append({
            "Bed": p.bed or "–",
            "Patient": f"{p.name} (synthetic)" if p.is_synthetic else p.name,
            "Record no.": p.mrn,
            "Regimen": REGIMEN_SHORT.get(p.regimen, "no course") if isinstance(p.regimen, str) else "no course",
            "Cycle · day": ("–" if pd.isna(p.cycle) else
                            f"C{int(p.cycle)} · D{course_day(p.course_start, now)}"),
            "IL-2 doses": f"{int(p.doses_given)} of {planned}" if isinstance(p.regimen, str) else "–",
            "Last dose": (f"{p.last_dose_status} {local_text(p.last_dose_at, tz)}"
                          if isinstance(p.last_dose_status, str) else "none recorded"),
            "Last observation set": (f"{elapsed_text(now - p.last_set_at)} ago"
                                     if not pd.isna(p.last_set_at) else "none recorded"),
            "Open alerts": open_alert_text(open_alerts.get(int(p.patient_id), {})),
        })
    return pd.DataFrame(rows, columns=["Bed", "Patient", "Record no.", "Regimen", "Cycle · day",
                                       "IL-2 doses", "Last dose", "Last observation set", "Open alerts"])
