"""Highest CTCAE v5.0 grade per patient, organ system and local day, with the values behind it.

One function serves the ward overview (today's column per organ system) and the toxicity grid of
the patient chart (organ system x day). Grades come from monitoring.ctcae (lab values, temperature,
with the lab's reference range and the course's baseline creatinine) and from the nurse's own
grades of symptoms (catalogue kind "grade"); values without a numeric CTCAE definition (heart rate,
blood pressure, SpO2) are not graded here and do not appear. A day is a calendar day of the ward's
time zone: the grid is read by day, while due times are always elapsed time (monitoring.entry).
"""
from __future__ import annotations

from datetime import tzinfo

import numpy as np
import pandas as pd

from monitoring.catalogue import ORGAN_SYSTEMS, Catalogue, default_catalogue
from monitoring.ctcae import grade_canonical

GRADE_COLUMNS = ["patient_id", "day", "organ_system", "grade", "code", "term", "value_num", "time", "detail"]
GRADED_INPUT = ["patient_id", "code", "value_num", "ref_low", "ref_high", "observed_at"]
DETAIL_MAX = 6  # values at the highest grade named in a cell's detail; the others are counted


def graded_observations(obs: pd.DataFrame, *, baseline_creatinine: dict[int, float] | None = None,
                        catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Each gradable observation with its CTCAE term and grade.

    `obs` is repository.current_observations output (canonical units; columns patient_id, code,
    value_num, ref_low, ref_high, observed_at; others are ignored). Returns the graded rows (grade not
    NA) with those columns (GRADED_INPUT) and organ_system, term and grade.
    """
    catalogue = catalogue or default_catalogue()
    obs = obs[GRADED_INPUT]  # only what grading reads: every filter below copies fewer columns
    if obs.empty:
        return obs.assign(organ_system=pd.Series(dtype=object), term=pd.Series(dtype=object),
                          grade=pd.Series(dtype="Int64"))
    known = obs[obs["code"].isin(catalogue.codes())]
    entries = {code: catalogue[code] for code in known["code"].unique()}  # dict maps: vectorised
    kinds = known["code"].map({code: e.kind for code, e in entries.items()})
    numeric = known[(kinds == "numeric") & known["value_num"].notna()]
    baseline = np.full(len(numeric), np.nan)
    if baseline_creatinine:
        is_cr = (numeric["code"] == "creatinine").to_numpy()
        baseline = np.where(is_cr, numeric["patient_id"].map(baseline_creatinine).to_numpy(dtype=float), np.nan)
    terms, grades, _ = grade_canonical(numeric["code"].to_numpy(dtype=object), numeric["value_num"].to_numpy(float),
                                       None, numeric["ref_low"].to_numpy(float), numeric["ref_high"].to_numpy(float),
                                       baseline, catalogue=catalogue)
    numeric = numeric.assign(term=np.asarray(terms, dtype=object), grade=grades)
    nurse = known[(kinds == "grade") & known["value_num"].notna()]
    nurse = nurse.assign(term=nurse["code"].map({code: e.ctcae_term or e.label for code, e in entries.items()}),
                         grade=pd.array(nurse["value_num"].round().astype("int64"), dtype="Int64"))
    graded = pd.concat([numeric, nurse], ignore_index=True)
    graded = graded[graded["grade"].notna()].copy()
    graded["organ_system"] = graded["code"].map({code: e.organ_system for code, e in entries.items()})
    return graded


def daily_highest(obs: pd.DataFrame, *, tz: tzinfo, baseline_creatinine: dict[int, float] | None = None,
                  catalogue: Catalogue | None = None) -> pd.DataFrame:
    """The highest grade per (patient, local day, organ system), GRADE_COLUMNS.

    code, term, value_num and time are those of the first observation that reached the highest
    grade that day; `detail` names the values behind it: every value at the cell's highest grade
    (the first DETAIL_MAX of them, in time order: "Creatinine 2.10 mg/dL grade 2 at 08:00"), then
    how many other values were graded and at which grades ("22 more values graded: 21 at grade 0, 1
    at grade 1"), so a day of hourly temperatures stays readable in a tooltip and nothing is left
    uncounted.
    """
    catalogue = catalogue or default_catalogue()
    graded = graded_observations(obs, baseline_creatinine=baseline_creatinine, catalogue=catalogue)
    if graded.empty:
        return pd.DataFrame(columns=GRADE_COLUMNS)
    local = pd.to_datetime(graded["observed_at"], utc=True).dt.tz_convert(tz)
    graded = graded.assign(time=graded["observed_at"], day=local.dt.date, grade_int=graded["grade"].astype("int64"))
    keys = ["patient_id", "day", "organ_system"]
    # One integer per (patient, day, organ system): pandas groups integers far faster than dates and
    # strings (the ward overview grades 40 patients on every refresh).
    graded["cell"] = graded.groupby(keys, sort=False).ngroup()
    graded = graded.sort_values(["cell", "grade_int", "time"], ascending=[True, False, True], kind="stable")
    groups = graded.groupby("cell", sort=False)
    at_top = (graded["grade_int"] == groups["grade_int"].transform("max")).to_numpy()
    shown = at_top & (groups.cumcount().to_numpy() < DETAIL_MAX)
    rows = graded[shown]
    clock = local.loc[rows.index].dt.strftime("%H:%M")
    label = {code: catalogue[code].label for code in rows["code"].unique()}
    is_grade = {code: catalogue[code].kind == "grade" for code in label}
    lines = pd.Series([
        f"{label[c]} grade {g} at {t}" if is_grade[c] else
        f"{label[c]} {catalogue[c].format_value(v)} grade {g} at {t}"
        for c, v, g, t in zip(rows["code"], rows["value_num"], rows["grade_int"], clock)], index=rows.index)
    detail = lines.groupby(rows["cell"].to_numpy(), sort=False).agg("; ".join)
    rest = graded[~shown]
    if len(rest):
        counts = rest.groupby(["cell", "grade_int"], sort=True).size()
        more: dict[int, list[str]] = {}
        totals: dict[int, int] = {}
        for (cell, grade), n in counts.items():
            more.setdefault(cell, []).append(f"{n} at grade {grade}")
            totals[cell] = totals.get(cell, 0) + n
        for cell, parts in more.items():
            total = totals[cell]
            detail[cell] = (f"{detail[cell]}; {total} more value{'' if total == 1 else 's'} graded: "
                            + ", ".join(parts))
    top = graded.drop_duplicates("cell").set_index("cell")
    top["detail"] = detail
    out = top.reset_index(drop=True)
    out["grade"] = out["grade_int"].astype("int64")
    order = {name: i for i, name in enumerate(ORGAN_SYSTEMS)}
    out = out.sort_values(["patient_id", "day", "organ_system"], key=lambda s: s.map(order) if s.name ==
                          "organ_system" else s, kind="stable")
    return out[GRADE_COLUMNS].reset_index(drop=True)

