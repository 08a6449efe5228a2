"""The ward list as clinicians read it: one row per patient, display-ready, pure function."""
from __future__ import annotations

from datetime import datetime, tzinfo

import pandas as pd

from monitoring.models import REGIMENS
from monitoring.timefmt import course_day, elapsed_text, local_text


def ward_rows(patients: pd.DataFrame, *, now: datetime, tz: tzinfo) -> pd.DataFrame:
    """Turn repository.ward_patient_list output into the columns the ward page shows."""
    rows = []
    for p in patients.itertuples(index=False):
        planned = "?" if pd.isna(p.planned_doses) else int(p.planned_doses)
        rows.append({
            "Bed": p.bed or "–",
            "Patient": f"{p.name} (synthetic)" if p.is_synthetic else p.name,
            "Record no.": p.mrn,
            "Regimen": REGIMENS.get(p.regimen, "no course") if isinstance(p.regimen, str) else "no course",
            "Cycle": None if pd.isna(p.cycle) else int(p.cycle),
            "Course day": course_day(p.course_start, now),
            "IL-2 doses": f"{int(p.doses_given)} of {planned}" if isinstance(p.regimen, str) else "–",
            "Last dose": (f"{p.last_dose_status} {local_text(p.last_dose_at, tz)}"
                          if isinstance(p.last_dose_status, str) else "none recorded"),
            "Last observation set": (f"{elapsed_text(now - p.last_set_at)} ago"
                                     if not pd.isna(p.last_set_at) else "none recorded"),
        })
    return pd.DataFrame(rows, columns=["Bed", "Patient", "Record no.", "Regimen", "Cycle", "Course day",
                                       "IL-2 doses", "Last dose", "Last observation set"])
