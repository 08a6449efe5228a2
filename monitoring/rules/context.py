"""Prepare canonical observations and doses once for every rule (vectorised, no per-patient loops).

- `sets`: one row per patient and observation-set time with the vital signs valid at that moment
  (a value from an earlier set is carried only while it is valid, and its own time is kept so the
  evidence can say so), the latest valid WBC, NEWS2 / qSOFA / SIRS and the IL-2 dose context.
- `series(code)`: one code's values in time order.
- `dose_context(times)`: last given dose before each time, its number, and whether the time falls
  in the expected-effect window after it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from monitoring.rules.common import Schedule, Validity
from monitoring.scores import score_frame

VITAL_CODES = ("temperature", "heart_rate", "sbp", "dbp", "map", "resp_rate", "spo2", "on_oxygen", "spo2_scale",
               "consciousness", "gcs", "o2_flow")
CODED = {"on_oxygen", "consciousness", "spo2_scale"}
COURSE_COLUMNS = ["patient_id", "baseline_weight_kg", "baseline_creatinine_mg_dl", "usual_sbp_mm_hg"]


def asof(left: pd.DataFrame, right: pd.DataFrame, value_columns: list[str], tolerance: pd.Timedelta | None,
         *, allow_exact: bool = True, prefix: str = "") -> pd.DataFrame:
    """For each (patient_id, time) in `left`, the latest row of `right` at or before it (within
    `tolerance`), as columns prefix+value and prefix+'time'. Order of `left` is kept."""
    l = left[["patient_id", "time"]].reset_index(drop=False).rename(columns={"index": "_pos"})
    l = l.sort_values("time", kind="stable")
    r = right[["patient_id", "time", *value_columns]].rename(
        columns={"time": "_rtime", **{c: prefix + c for c in value_columns}})
    r = r.sort_values("_rtime", kind="stable")
    r["time"] = r["_rtime"]
    merged = pd.merge_asof(l, r, on="time", by="patient_id", direction="backward", tolerance=tolerance,
                           allow_exact_matches=allow_exact)
    merged = merged.sort_values("_pos").set_index("_pos")
    merged.index.name = None
    out = merged[[prefix + c for c in value_columns]].copy()
    out[prefix + "time"] = merged["_rtime"]
    out.index = left.index
    return out


@dataclass
class EvalData:
    obs: pd.DataFrame                       # canonical long: patient_id, time, code, value_num, value_code, ...
    doses: pd.DataFrame                     # patient_id, time, status, dose_number
    courses: pd.DataFrame                   # COURSE_COLUMNS, one row per patient (may be empty)
    validity: Validity
    schedule: Schedule
    now: pd.Timestamp
    sets: pd.DataFrame = field(default=None)  # type: ignore[assignment]
    _series: dict[str, pd.DataFrame] = field(default_factory=dict)

    def series(self, code: str) -> pd.DataFrame:
        if code not in self._series:
            rows = self.obs[self.obs["code"] == code]
            self._series[code] = rows.sort_values(["patient_id", "time"], kind="stable").reset_index(drop=True)
        return self._series[code]

    def dose_context(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Columns last_dose_time, last_dose_number, hours_since_dose, in_window, dosing_stopped."""
        given = self.doses[self.doses["status"] == "given"]
        ctx = asof(frame, given, ["dose_number"], None, prefix="last_dose_")
        since = (frame["time"] - ctx["last_dose_time"]).dt.total_seconds() / 3600
        ctx["hours_since_dose"] = since
        ctx["in_window"] = ((frame["time"] - ctx["last_dose_time"] >= self.schedule.window_from)
                            & (frame["time"] - ctx["last_dose_time"] <= self.schedule.window_to)).fillna(False)
        # Held or stopped since the last given dose: IL-2 is not running now.
        not_given = self.doses[self.doses["status"].isin(["held", "stopped"])]
        held = asof(frame, not_given, ["status"], None, prefix="held_")
        ctx["dosing_paused"] = (held["held_time"].notna()
                                & (ctx["last_dose_time"].isna() | (held["held_time"] > ctx["last_dose_time"]))
                                ).fillna(False).astype(bool)
        return ctx

    def context_at(self, frame: pd.DataFrame) -> pd.Series:
        """The IL-2 dose context of each (patient_id, time) row."""
        return self.context_text(frame[["patient_id", "time"]], self.dose_context(frame[["patient_id", "time"]]))

    def context_text(self, frame: pd.DataFrame, ctx: pd.DataFrame) -> pd.Series:
        """'within 1-4 h after IL-2 dose 5 (2 h 10 min)' / '6 h 20 min after IL-2 dose 5 (outside ...)'."""
        from monitoring.rules.common import hours_text

        number = ctx["last_dose_dose_number"].astype("Int64").astype(str)
        since = hours_text(ctx["hours_since_dose"])
        window = self.schedule.describe()
        inside = "within " + window.replace(" after an IL-2 dose", "") + " after IL-2 dose " + number + " (" + since + ")"
        outside = since + " after IL-2 dose " + number + " (outside the " + window.replace(" after an IL-2 dose", "") \
            + " post-dose window)"
        text = outside.where(~ctx["in_window"], inside)
        text = text.where(~ctx["dosing_paused"], text + "; doses held or stopped since")
        return text.where(ctx["last_dose_time"].notna(), "no IL-2 dose given before this time").astype("str")


def prepare(obs: pd.DataFrame, doses: pd.DataFrame | None, courses: pd.DataFrame | None, *, validity: Validity,
            schedule: Schedule, now: pd.Timestamp | None) -> EvalData:
    doses = _prepare_doses(doses)
    courses = (courses[COURSE_COLUMNS].drop_duplicates("patient_id", keep="last")
               if courses is not None and len(courses) else pd.DataFrame(columns=COURSE_COLUMNS))
    latest = obs["time"].max() if len(obs) else pd.Timestamp.now(tz="UTC")
    data = EvalData(obs=obs, doses=doses, courses=courses, validity=validity, schedule=schedule,
                    now=pd.Timestamp(now) if now is not None else latest)
    data.sets = _build_sets(data)
    return data


def _prepare_doses(doses: pd.DataFrame | None) -> pd.DataFrame:
    if doses is None or doses.empty:
        return pd.DataFrame({"patient_id": pd.Series(dtype="int64"), "time": pd.Series(dtype="datetime64[us, UTC]"),
                             "status": pd.Series(dtype="str"), "dose_number": pd.Series(dtype="Int64")})
    d = doses.sort_values(["patient_id", "time"], kind="stable").reset_index(drop=True)
    if "dose_number" not in d or d["dose_number"].isna().all():
        # Doses are numbered in schedule order, given or not, as the ward counts them.
        d["dose_number"] = d.groupby("patient_id").cumcount() + 1
    d["dose_number"] = d["dose_number"].astype("Int64")
    return d


def _build_sets(data: EvalData) -> pd.DataFrame:
    """One row per (patient, time) at which any vital sign was recorded, with valid values carried."""
    obs = data.obs
    vitals = obs[obs["code"].isin(VITAL_CODES)]
    sets = vitals[["patient_id", "time"]].drop_duplicates().sort_values(["patient_id", "time"], kind="stable") \
        .reset_index(drop=True)
    wide = {"patient_id": sets["patient_id"], "time": sets["time"]}
    for code in VITAL_CODES:
        series = data.series(code)
        column = "value_code" if code in CODED else "value_num"
        if series.empty:
            wide[code] = pd.Series(pd.NA if code in CODED else np.nan, index=sets.index,
                                   dtype="str" if code in CODED else "float64")
            wide[code + "_time"] = pd.Series(pd.NaT, index=sets.index, dtype="datetime64[us, UTC]")
            continue
        got = asof(sets, series.rename(columns={column: code}), [code], data.validity.vital_signs)
        wide[code] = got[code]
        wide[code + "_time"] = got["time"]
    wbc = data.series("wbc")
    if not wbc.empty:
        got = asof(sets, wbc.rename(columns={"value_num": "wbc"}), ["wbc"], data.validity.labs)
        wide["wbc"], wide["wbc_time"] = got["wbc"], got["time"]
    frame = pd.DataFrame(wide)
    score_input = frame[["patient_id", "time", *[c for c in ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "sbp",
                                                             "heart_rate", "consciousness", "temperature", "wbc",
                                                             "gcs") if c in frame]]].copy()
    scored = score_frame(score_input, detail=True)
    for column in scored.columns:
        if column not in frame:
            frame[column] = scored[column].to_numpy()
    return frame
