"""IL-2 hold criteria at the time of dosing.

Sources: PROLEUKIN (aldesleukin) label Table 2 (withhold for SBP < 90 mmHg, SpO2 < 90%, mental status
changes including moderate confusion, arrhythmia; permanently discontinue for uncontrolled rhythm
disturbances and coma > 48 h) and Dutcher 2014 Table 3 (relative and absolute criteria). Decision:
'permanently discontinue' if any such criterion; 'hold' if any absolute criterion or at least three
relative ones (manufacturer HD card); 'discuss' if one or two relative ones; otherwise 'give'.

Evaluated for a patient with an IL-2 dose given or held in the previous 24 h, at every moment new
data arrive, on the latest VALID value of each input (vital signs 4 h, labs and nurse grades 24 h);
stale or missing inputs are named in the evidence, never used silently. `assess` is also the
pre-dose check: it returns the decision with every criterion, its value and its time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.rules.common import Rule, episodes, fmt_num, fmt_time, join_clauses, where_text
from monitoring.rules.context import EvalData, asof
from monitoring.thresholds import Section, Source, parser

RULE = Rule(id="il2-hold", version="1.0", section="il2_hold",
            standard="IL-2 hold criteria: Proleukin label Table 2 and Dutcher 2014 Table 3 (hold: any absolute or "
                     ">= 3 relative criteria; discuss: a relative criterion; permanently discontinue)")
DECISIONS = ("give", "discuss", "hold", "permanently discontinue")


@dataclass(frozen=True)
class HoldSettings:
    values: dict[str, float]
    source: Source


NUMBERS = ("relative_for_hold", "active_if_dose_within_hours", "episode_gap_hours", "sbp_below", "spo2_below",
           "platelets_absolute_below", "platelets_relative_below", "creatinine_absolute_at_or_above",
           "creatinine_relative_at_or_above", "creatinine_label_above", "urine_absolute_below_ml_per_8h",
           "urine_relative_below_ml_per_8h", "heart_rate_absolute_above", "heart_rate_relative_above",
           "heart_rate_persisting_readings", "heart_rate_persisting_minutes", "weight_gain_relative_above_percent",
           "bilirubin_relative_above_mg_dl", "o2_flow_relative_at_or_above", "o2_flow_absolute_above",
           "confusion_absolute_grade", "confusion_relative_grade", "arrhythmia_absolute_grade",
           "arrhythmia_discontinue_grade", "dyspnea_relative_grade", "diarrhea_relative_grade",
           "vomiting_relative_grade", "coma_discontinue_hours")


@parser("il2_hold")
def parse(section: Section) -> HoldSettings:
    values = {name: section.number(name, low=0, high=1000) for name in NUMBERS}
    for low, high in (("platelets_absolute_below", "platelets_relative_below"),
                      ("creatinine_relative_at_or_above", "creatinine_absolute_at_or_above"),
                      ("urine_absolute_below_ml_per_8h", "urine_relative_below_ml_per_8h"),
                      ("heart_rate_relative_above", "heart_rate_absolute_above"),
                      ("o2_flow_relative_at_or_above", "o2_flow_absolute_above"),
                      ("confusion_relative_grade", "confusion_absolute_grade")):
        if values[low] > values[high]:
            raise section.fail(f"must not be above {high} ({values[high]:g})", low)
    return HoldSettings(values, section.source)


def _latest(data: EvalData, points: pd.DataFrame, code: str, validity: pd.Timedelta,
            column: str = "value_num") -> pd.DataFrame:
    series = data.series(code)
    if series.empty:
        return pd.DataFrame({"value": pd.Series(np.nan, index=points.index, dtype=object if column == "value_code"
                                                else float),
                             "time": pd.Series(pd.NaT, index=points.index, dtype="datetime64[us, UTC]")})
    got = asof(points, series.rename(columns={column: "value"}), ["value"], validity)
    return got


def assess(data: EvalData, points: pd.DataFrame, s: HoldSettings, *, explain: bool = True) -> pd.DataFrame:
    """Decision and criteria at each (patient_id, time) of `points` (index kept).

    explain=False decides only (no evidence text): the cheap first pass over every dosing moment."""
    v = s.values
    vit, lab, grade = data.validity.vital_signs, data.validity.labs, data.validity.nurse_grades
    sbp = _latest(data, points, "sbp", vit)
    spo2 = _latest(data, points, "spo2", vit)
    acvpu = _latest(data, points, "consciousness", vit, "value_code")
    hr = _latest(data, points, "heart_rate", vit)
    o2 = _latest(data, points, "o2_flow", vit)
    plt = _latest(data, points, "platelets", lab)
    cr = _latest(data, points, "creatinine", lab)
    bili = _latest(data, points, "bilirubin", lab)
    grades = {code: _latest(data, points, code, grade)
              for code in ("confusion", "arrhythmia", "dyspnea", "diarrhea", "vomiting")}

    # Previous heart rate (persisting tachycardia: the last readings all above the threshold).
    hr_series = data.series("heart_rate")
    hr_prev = (asof(points, hr_series.assign(prev=hr_series.groupby("patient_id")["value_num"].shift(),
                                             prev_time=hr_series.groupby("patient_id")["time"].shift()),
                    ["prev", "prev_time"], vit) if not hr_series.empty else
               pd.DataFrame({"prev": np.nan, "prev_time": pd.NaT, "time": pd.NaT}, index=points.index))
    persisting = ((hr["value"] > v["heart_rate_absolute_above"]) & (hr_prev["prev"] > v["heart_rate_absolute_above"])
                  & (hr_prev["time"] - hr_prev["prev_time"] >= pd.Timedelta(minutes=v["heart_rate_persisting_minutes"]))
                  ).fillna(False)

    urine = data.series("urine_output")
    if not urine.empty and "period_start" in urine:
        hours = (urine["time"] - urine["period_start"]).dt.total_seconds() / 3600
        uo = asof(points, urine.assign(per8h=urine["value_num"] / hours * 8), ["per8h"], data.validity.fluids)
    else:
        uo = pd.DataFrame({"per8h": np.nan, "time": pd.NaT}, index=points.index)

    weights = data.series("weight")
    if not weights.empty:
        baseline = weights.groupby("patient_id")["value_num"].transform("first")
        if len(data.courses):
            course_base = weights["patient_id"].map(data.courses.set_index("patient_id")["baseline_weight_kg"])
            baseline = course_base.astype(float).fillna(baseline)
        wg = asof(points, weights.assign(gain=(weights["value_num"] - baseline) / baseline * 100), ["gain"],
                  data.validity.labs)
    else:
        wg = pd.DataFrame({"gain": np.nan, "time": pd.NaT}, index=points.index)

    coma = _coma_hours(data, points)

    def crit(mask, text):
        mask = mask.fillna(False).astype(bool) if hasattr(mask, "fillna") else mask
        return where_text(mask, text) if explain else mask

    if not explain:  # cheap stand-ins: the text arguments are built but never formatted
        def t(series):
            return series.astype("str")
    else:
        t = fmt_time
    absolute = [
        crit(sbp["value"] < v["sbp_below"], "SBP " + fmt_num(sbp["value"], 0) + " mmHg at " + t(sbp["time"]).fillna("")
             + f" (< {v['sbp_below']:g}: label, withhold)"),
        crit(spo2["value"] < v["spo2_below"], "SpO2 " + fmt_num(spo2["value"], 0) + "% at " + t(spo2["time"]).fillna("")
             + f" (< {v['spo2_below']:g}: label, withhold)"),
        crit(acvpu["value"].notna() & (acvpu["value"] != "A"), "consciousness " + acvpu["value"].fillna("").astype(str)
             + " at " + t(acvpu["time"]).fillna("") + " (not Alert: mental status change, label)"),
        crit(grades["confusion"]["value"] >= v["confusion_absolute_grade"], "confusion grade "
             + fmt_num(grades["confusion"]["value"], 0) + " at " + t(grades["confusion"]["time"]).fillna("")
             + " (moderate or worse: label, withhold)"),
        crit(plt["value"] < v["platelets_absolute_below"], "platelets " + fmt_num(plt["value"], 0) + " x10^9/L at "
             + t(plt["time"]).fillna("") + f" (< {v['platelets_absolute_below']:g}: Dutcher absolute)"),
        crit(cr["value"].round(9) >= v["creatinine_absolute_at_or_above"], "creatinine " + fmt_num(cr["value"], 2)
             + " mg/dL at " + t(cr["time"]).fillna("") + f" (>= {v['creatinine_absolute_at_or_above']:g}: Dutcher absolute"
             + pd.Series(np.where(cr["value"] > v["creatinine_label_above"],
                                  f"; > {v['creatinine_label_above']:g}: label", ""), index=points.index) + ")"),
        crit(uo["per8h"] < v["urine_absolute_below_ml_per_8h"], "urine output " + fmt_num(uo["per8h"], 0)
             + " mL per 8 h to " + t(uo["time"]).fillna("") + f" (< {v['urine_absolute_below_ml_per_8h']:g}: Dutcher absolute)"),
        crit(persisting, "heart rate " + fmt_num(hr_prev["prev"], 0) + " then " + fmt_num(hr["value"], 0) + "/min at "
             + t(hr["time"]).fillna("") + f" (> {v['heart_rate_absolute_above']:g} persisting: Dutcher absolute)"),
        crit((grades["arrhythmia"]["value"] >= v["arrhythmia_absolute_grade"])
             & (grades["arrhythmia"]["value"] < v["arrhythmia_discontinue_grade"]),
             "arrhythmia noted, grade " + fmt_num(grades["arrhythmia"]["value"], 0) + " at "
             + t(grades["arrhythmia"]["time"]).fillna("") + " (label withhold; Dutcher absolute)"),
        crit(o2["value"] > v["o2_flow_absolute_above"], "oxygen " + fmt_num(o2["value"], 1) + " L/min at "
             + t(o2["time"]).fillna("") + f" (> {v['o2_flow_absolute_above']:g}: Dutcher absolute)"),
    ]
    relative = [
        crit(grades["confusion"]["value"] == v["confusion_relative_grade"], "confusion grade 1 at "
             + t(grades["confusion"]["time"]).fillna("") + " (mild)"),
        crit((plt["value"] >= v["platelets_absolute_below"]) & (plt["value"] < v["platelets_relative_below"]),
             "platelets " + fmt_num(plt["value"], 0) + " x10^9/L at " + t(plt["time"]).fillna("")
             + f" ({v['platelets_absolute_below']:g}-{v['platelets_relative_below']:g}: Dutcher relative)"),
        crit((cr["value"].round(9) >= v["creatinine_relative_at_or_above"])
             & (cr["value"].round(9) < v["creatinine_absolute_at_or_above"]),
             "creatinine " + fmt_num(cr["value"], 2) + " mg/dL at " + t(cr["time"]).fillna("")
             + f" ({v['creatinine_relative_at_or_above']:g}-<{v['creatinine_absolute_at_or_above']:g}: Dutcher relative)"),
        crit((uo["per8h"] >= v["urine_absolute_below_ml_per_8h"]) & (uo["per8h"] < v["urine_relative_below_ml_per_8h"]),
             "urine output " + fmt_num(uo["per8h"], 0) + " mL per 8 h to " + t(uo["time"]).fillna("")
             + " (Dutcher relative)"),
        crit((hr["value"] > v["heart_rate_relative_above"]) & ~persisting, "heart rate " + fmt_num(hr["value"], 0)
             + "/min at " + t(hr["time"]).fillna("") + f" (> {v['heart_rate_relative_above']:g}: Dutcher relative)"),
        crit(wg["gain"].round(9) > v["weight_gain_relative_above_percent"], "weight +" + fmt_num(wg["gain"], 1)
             + "% from baseline at " + t(wg["time"]).fillna("") + " (Dutcher relative)"),
        crit(bili["value"] > v["bilirubin_relative_above_mg_dl"], "bilirubin " + fmt_num(bili["value"], 1)
             + " mg/dL at " + t(bili["time"]).fillna("") + " (Dutcher relative)"),
        crit((o2["value"] >= v["o2_flow_relative_at_or_above"]) & (o2["value"] <= v["o2_flow_absolute_above"]),
             "oxygen " + fmt_num(o2["value"], 1) + " L/min at " + t(o2["time"]).fillna("") + " (Dutcher relative)"),
        crit(grades["dyspnea"]["value"] >= v["dyspnea_relative_grade"], "dyspnea at rest (grade "
             + fmt_num(grades["dyspnea"]["value"], 0) + ") at " + t(grades["dyspnea"]["time"]).fillna("")),
        crit(grades["diarrhea"]["value"] >= v["diarrhea_relative_grade"], "diarrhea grade "
             + fmt_num(grades["diarrhea"]["value"], 0) + " at " + t(grades["diarrhea"]["time"]).fillna("")),
        crit(grades["vomiting"]["value"] >= v["vomiting_relative_grade"], "vomiting grade "
             + fmt_num(grades["vomiting"]["value"], 0) + " at " + t(grades["vomiting"]["time"]).fillna("")),
    ]
    discontinue = [
        crit(grades["arrhythmia"]["value"] >= v["arrhythmia_discontinue_grade"], "arrhythmia grade "
             + fmt_num(grades["arrhythmia"]["value"], 0) + " (life-threatening: label, permanently discontinue)"),
        crit(coma > v["coma_discontinue_hours"], "responds only to pain or unresponsive for "
             + fmt_num(coma, 0) + " h (coma > " + f"{v['coma_discontinue_hours']:g}" + " h: label, permanently discontinue)"),
    ]
    def count(clauses):
        return sum(((c != "") if explain else c).astype(int) for c in clauses)

    n_abs, n_rel, n_dis = count(absolute), count(relative), count(discontinue)
    decision = np.select([n_dis > 0, (n_abs > 0) | (n_rel >= v["relative_for_hold"]), n_rel > 0],
                         ["permanently discontinue", "hold", "discuss"], "give")
    if not explain:
        return pd.DataFrame({"decision": decision, "n_absolute": n_abs, "n_relative": n_rel}, index=points.index)
    missing = join_clauses(
        where_text(sbp["value"].isna(), "SBP"), where_text(spo2["value"].isna(), "SpO2"),
        where_text(acvpu["value"].isna(), "consciousness"), where_text(hr["value"].isna(), "heart rate"),
        where_text(uo["per8h"].isna(), "urine output"), where_text(cr["value"].isna(), "creatinine"),
        where_text(plt["value"].isna(), "platelets"), sep=", ")
    out = pd.DataFrame({
        "decision": decision, "absolute": join_clauses(*absolute), "relative": join_clauses(*relative),
        "discontinue": join_clauses(*discontinue), "missing": missing,
        "n_absolute": n_abs, "n_relative": n_rel,
    }, index=points.index)
    return out


def _coma_hours(data: EvalData, points: pd.DataFrame) -> pd.Series:
    """Hours the patient has been continuously P or U (ACVPU) at each point; 0 otherwise."""
    c = data.series("consciousness")
    if c.empty:
        return pd.Series(0.0, index=points.index)
    deep = c["value_code"].isin(["P", "U"])
    run = ((~deep) | c["patient_id"].ne(c["patient_id"].shift())).cumsum()
    start = c["time"].where(deep).groupby(run).transform("min")
    frame = c.assign(run_start=start.where(deep))
    got = asof(points, frame, ["run_start"], data.validity.vital_signs)
    return ((points["time"] - got["run_start"]).dt.total_seconds() / 3600).fillna(0.0)


def evaluation_points(data: EvalData, s: HoldSettings) -> pd.DataFrame:
    """The moments of dosing: each dose given or held (on the data available then), and the latest
    data of each patient whose IL-2 is running (a dose given or held in the previous 24 h and not
    stopped since), which stands for the next dose. Dutcher 2014 Table 3 criteria 'should be
    assessed at the time of dosing'; between doses, expected post-dose effects would flood."""
    doses = data.doses[data.doses["status"].isin(["given", "held"])]
    if doses.empty:
        return pd.DataFrame({"patient_id": pd.Series(dtype="int64"), "time": pd.Series(dtype="datetime64[us, UTC]")})
    latest = data.obs.groupby("patient_id", as_index=False)["time"].max()
    points = pd.concat([doses[["patient_id", "time"]], latest], ignore_index=True).drop_duplicates() \
        .sort_values(["patient_id", "time"], kind="stable").reset_index(drop=True)
    last = asof(points, doses, ["status"], pd.Timedelta(hours=s.values["active_if_dose_within_hours"]))
    stopped = asof(points, data.doses[data.doses["status"] == "stopped"], ["status"], None, prefix="stop_")
    running = last["time"].notna() & ~(stopped["stop_time"].notna() & (stopped["stop_time"] >= last["time"]))
    return points[running.to_numpy(bool)].reset_index(drop=True)


def findings(data: EvalData, s: HoldSettings) -> pd.DataFrame:
    points = evaluation_points(data, s)
    if points.empty:
        return pd.DataFrame(columns=["patient_id", "time", "level", "severity", "evidence", "context"])
    first = assess(data, points, s, explain=False)
    p = points[(first["decision"] != "give").to_numpy(bool)].reset_index(drop=True)
    if p.empty:
        return pd.DataFrame(columns=["patient_id", "time", "level", "severity", "evidence", "context"])
    a = assess(data, p, s)
    ctx = data.dose_context(p)
    evidence = join_clauses(
        where_text(a["discontinue"] != "", "discontinue: " + a["discontinue"]),
        where_text(a["absolute"] != "", "absolute: " + a["absolute"]),
        where_text(a["relative"] != "", "relative (" + a["n_relative"].astype(str) + "): " + a["relative"]),
        where_text(a["missing"] != "", "no valid value for: " + a["missing"]), sep=" | ")
    return pd.DataFrame({"patient_id": p["patient_id"], "time": p["time"], "level": a["decision"],
                         "severity": np.where(a["decision"] == "discuss", "warning", "urgent"),
                         "evidence": evidence, "context": data.context_text(p, ctx),
                         "level_rank": a["decision"].map({d: i for i, d in enumerate(DECISIONS)}).to_numpy()})


def evaluate(data: EvalData, thresholds) -> pd.DataFrame:
    s: HoldSettings = thresholds["il2_hold"]
    return episodes(findings(data, s), RULE, gap_hours=s.values["episode_gap_hours"], source=s.source)
