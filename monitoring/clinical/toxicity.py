"""Highest CTCAE v5.0 grade per patient, organ system and local day, with the values behind it.

One function serves the ward overview (today's column per organ system) and the toxicity grid of
the patient chart (organ system x day). Grades come from monitoring.clinical.ctcae (lab values, temperature,
with the lab's reference range and the course's baseline creatinine), from the nurse's own grades
of symptoms (catalogue kind "grade"), and from the two terms graded from more than one value
([ctcae_derived] of data/thresholds.toml): "Urine output decreased" (no grades 1-2; grade 3 "Adult:
Oliguria (<80 ml in 8 hr)", grade 4 "Adult: Anuria (<240 ml in 24 hr)": the urine recorded over the
8 or 24 h ending with a record, needing no weight) and "Weight gain" (grade 1 "5 - <10% from
baseline", 2 "10 - <20%", 3 ">=20%"; only with a baseline weight). Values without a numeric CTCAE
definition (heart rate, blood pressure, SpO2) are not graded here and do not appear. A day is a
calendar day of the installation's time zone (IL2_TIMEZONE): the grid is read by day, while due times are always elapsed
time (monitoring.services.entry).
"""
from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from monitoring.clinical.catalogue import ORGAN_SYSTEMS, Catalogue, default_catalogue
from monitoring.clinical.ctcae import grade_canonical
from monitoring.clinical.derived import weight_gain_percent
from monitoring.clinical.thresholds import Increasing, SectionModel, default_thresholds, section

GRADE_COLUMNS = ["patient_id", "day", "organ_system", "grade", "code", "term", "value_num", "time", "detail"]
GRADED_INPUT = ["patient_id", "code", "value_num", "ref_low", "ref_high", "observed_at"]
DETAIL_MAX = 6  # values at the highest grade named in a cell's detail; the others are counted


@section("ctcae_derived")
class DerivedGrades(SectionModel):
    """[ctcae_derived]: CTCAE v5.0 terms graded from several values: Urine output decreased (grade 3
    oliguria < 80 mL in 8 h, grade 4 anuria < 240 mL in 24 h) and Weight gain (5, 10, 20 % from baseline)."""

    oliguria_below_ml: float = Field(ge=0, le=5000, description="Grade 3: urine below this (mL) ...")
    oliguria_hours: float = Field(ge=1, le=48, description="... over this many hours")
    anuria_below_ml: float = Field(ge=0, le=5000, description="Grade 4: urine below this (mL) ...")
    anuria_hours: float = Field(ge=1, le=72, description="... over this many hours")
    weight_gain_percent: Annotated[Increasing, Field(min_length=3, max_length=3)] = Field(
        description="Weight gain from baseline (%) at which grades 1, 2 and 3 start")


URINE_TERM, WEIGHT_TERM = "Urine output decreased", "Weight gain"
#: A window counts as covered when its records add up to all but this many minutes of it.
COVERAGE_SLACK_MINUTES = 30


def derived_grades(obs: pd.DataFrame, *, baseline_weight: dict[int, float] | None = None,
                   settings: DerivedGrades | None = None) -> pd.DataFrame:
    """The derived CTCAE terms for the urine and weight rows of `obs` (GRADED_INPUT plus period_start):
    one graded row per urine record (grade 0, 3 or 4) and per weight with a baseline (0-3)."""
    settings = settings or default_thresholds()["ctcae_derived"]
    parts = []
    if "period_start" in obs.columns:
        urine = obs[(obs["code"] == "urine_output") & obs["value_num"].notna() & obs["period_start"].notna()]
        if len(urine):
            parts.append(_urine_grades(urine, settings))
    if baseline_weight:
        weights = obs[(obs["code"] == "weight") & obs["value_num"].notna()]
        base = weights["patient_id"].map(baseline_weight).astype(float)
        weights = weights[base.notna()]
        if len(weights):
            gain = weight_gain_percent(weights["value_num"].to_numpy(float), base[base.notna()].to_numpy(float))
            grade = np.searchsorted(np.array(settings.weight_gain_percent), np.round(gain, 9), side="right")
            parts.append(weights[GRADED_INPUT].assign(term=WEIGHT_TERM, grade=pd.array(grade, dtype="Int64")))
    if not parts:
        return pd.DataFrame(columns=[*GRADED_INPUT, "term", "grade"])
    return pd.concat(parts, ignore_index=True)


def _urine_grades(urine: pd.DataFrame, s: DerivedGrades) -> pd.DataFrame:
    """Grade 4 when the urine of the anuria window ending with a record is below its limit, grade 3
    when that of the oliguria window is (records wholly inside the window; a window counts only when
    its records cover it), else 0 (CTCAE has no grades 1-2 for this term)."""
    urine = urine.sort_values(["patient_id", "observed_at"], kind="stable")
    end = pd.to_datetime(urine["observed_at"], utc=True)
    start = pd.to_datetime(urine["period_start"], utc=True)
    hours = ((end - start).dt.total_seconds() / 3600).to_numpy(float)
    volume = urine["value_num"].to_numpy(float)
    codes, _ = pd.factorize(urine["patient_id"])
    t_end = end.to_numpy("datetime64[s]").astype(np.int64)
    t_start = start.to_numpy("datetime64[s]").astype(np.int64)
    # One sortable key per record (patient band + end time): each window is one searchsorted.
    span = int(t_end.max() - t_end.min()) + 10**7 if len(t_end) else 1
    key = codes.astype(np.int64) * span + (t_end - t_end.min())
    order = np.argsort(key, kind="stable")
    key, t_start, hours, volume = key[order], t_start[order], hours[order], volume[order]
    t_end = t_end[order]
    cum_hours, cum_volume = np.r_[0.0, np.cumsum(hours)], np.r_[0.0, np.cumsum(volume)]
    grade = np.zeros(len(urine), dtype=np.int64)
    slack = COVERAGE_SLACK_MINUTES * 60
    for window, limit, value in ((s.oliguria_hours, s.oliguria_below_ml, 3), (s.anuria_hours, s.anuria_below_ml, 4)):
        seconds = int(window * 3600)
        upper = np.arange(len(key)) + 1
        lower = np.searchsorted(key, key - seconds, side="right")   # records ending inside the window
        covered = cum_hours[upper] - cum_hours[lower]
        total = cum_volume[upper] - cum_volume[lower]
        # A first record that began before the window counts for the part inside it (a 12-h record of
        # 50 mL is 33 mL in the last 8 h: the same rate, never a gap).
        first = np.minimum(lower, len(key) - 1)
        window_start = t_end - seconds
        before = t_start[first] < window_start
        fraction = np.where(before, (t_end[first] - window_start) / np.maximum(t_end[first] - t_start[first], 1), 1.0)
        covered = covered - hours[first] * (1 - fraction) * before
        total = total - volume[first] * (1 - fraction) * before
        met = (covered * 3600 >= seconds - slack) & (total < limit)
        grade = np.where(met, np.maximum(grade, value), grade)
    out = np.empty_like(grade)
    out[order] = grade
    grade = out
    return urine[GRADED_INPUT].assign(term=URINE_TERM, grade=pd.array(grade, dtype="Int64"))


def graded_observations(obs: pd.DataFrame, *, baseline_creatinine: dict[int, float] | None = None,
                        baseline_weight: dict[int, float] | None = None,
                        catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Each gradable observation with its CTCAE term and grade.

    `obs` is repository.current_observations output (canonical units; columns patient_id, code,
    value_num, ref_low, ref_high, observed_at, and period_start for the urine output; others are
    ignored). Returns the graded rows (grade not NA) with those columns (GRADED_INPUT) and
    organ_system, term and grade. Weight gain is graded only with a baseline weight.
    """
    catalogue = catalogue or default_catalogue()
    derived = derived_grades(obs, baseline_weight=baseline_weight) if len(obs) else None
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
    graded = pd.concat([numeric, nurse] + ([derived] if derived is not None and len(derived) else []),
                       ignore_index=True)
    graded = graded[graded["grade"].notna()].copy()
    graded["organ_system"] = graded["code"].map({code: e.organ_system for code, e in entries.items()})
    return graded


def daily_highest(obs: pd.DataFrame, *, tz: tzinfo, baseline_creatinine: dict[int, float] | None = None,
                  baseline_weight: dict[int, float] | None = None,
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
    graded = graded_observations(obs, baseline_creatinine=baseline_creatinine, baseline_weight=baseline_weight,
                                 catalogue=catalogue)
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



CHANGE_COLUMNS = ["patient_id", "term", "code", "change", "grade", "value_num", "time", "before_grade", "before_time"]
#: How a term graded in a window compares with before it, in the order a handover lists them.
CHANGES = ("new", "worse", "ongoing")


def grade_changes(graded: pd.DataFrame, *, start: datetime, end: datetime, lookback: timedelta) -> pd.DataFrame:
    """Each CTCAE term graded 1 or above in [start, end) (a shift), per patient: its highest grade there
    (code, value and time of the first value that reached it) against the latest grade of the same term
    in the `lookback` before `start`: 'new' (none recorded then, or grade 0), 'worse' (higher than then)
    or 'ongoing' (the same or lower). `graded` is graded_observations output. CHANGE_COLUMNS, new first,
    then worse, then ongoing, the highest grade first within each; before_grade is NA without a grade."""
    at = pd.to_datetime(graded["observed_at"], utc=True)
    graded = graded.assign(time=at, grade_int=graded["grade"].astype("int64"))
    during = graded[(at >= pd.Timestamp(start)) & (at < pd.Timestamp(end))]
    during = (during.sort_values(["patient_id", "term", "grade_int", "time"], ascending=[True, True, False, True],
                                 kind="stable")
              .drop_duplicates(["patient_id", "term"]))
    during = during[during["grade_int"] >= 1]
    if during.empty:
        return pd.DataFrame(columns=CHANGE_COLUMNS)
    before = graded[(at >= pd.Timestamp(start - lookback)) & (at < pd.Timestamp(start))]
    before = (before.sort_values("time", kind="stable").drop_duplicates(["patient_id", "term"], keep="last")
              [["patient_id", "term", "grade_int", "time"]].rename(columns={"grade_int": "before_grade",
                                                                             "time": "before_time"}))
    out = during.merge(before, on=["patient_id", "term"], how="left")
    earlier = out["before_grade"].astype(float).to_numpy()
    out["change"] = np.select([np.isnan(earlier) | (earlier == 0), out["grade_int"].to_numpy() > earlier],
                              ["new", "worse"], "ongoing")
    out["grade"] = out["grade_int"]
    out["before_grade"] = pd.array(out["before_grade"], dtype="Int64")
    out["rank"] = out["change"].map({c: i for i, c in enumerate(CHANGES)})
    out = out.sort_values(["patient_id", "rank", "grade", "time"], ascending=[True, True, False, True], kind="stable")
    return out[CHANGE_COLUMNS].reset_index(drop=True)
