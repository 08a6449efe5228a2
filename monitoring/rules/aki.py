"""Acute kidney injury, KDIGO 2012 (Kidney Int Suppl 2012;2:1, Section 2 Table 2).

Creatinine: a rise >= 0.3 mg/dL within 48 h, or >= 1.5 x the lowest value of the previous 7 days
(the course's baseline creatinine counts as one of those values: KDIGO's baseline is 'known or
presumed to have occurred within the prior 7 days'). Stage by the ratio to that lowest value
(1.5-1.9 -> 1, 2.0-2.9 -> 2, >= 3.0 -> 3), or creatinine >= 4.0 mg/dL with an acute rise -> 3.
Urine output (with a body weight): < 0.5 mL/kg/h for >= 6 h -> stage 1, >= 12 h -> 2; < 0.3 mL/kg/h
for >= 24 h or anuria for >= 12 h -> 3. The level is the highest stage of either arm.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.rules.common import Rule, empty_findings, episodes, fmt_num, fmt_time, hours_text
from monitoring.rules.context import EvalData, asof
from monitoring.thresholds import Section, Source, parser

RULE = Rule(id="aki", version="1.0", section="aki", standard="KDIGO 2012 acute kidney injury")


@dataclass(frozen=True)
class AKISettings:
    rise: float
    rise_window: pd.Timedelta
    ratio_stage1: float
    ratio_window: pd.Timedelta
    ratio_stage2: float
    ratio_stage3: float
    absolute_stage3: float
    urine_rate: float
    urine_stage1_h: float
    urine_stage2_h: float
    urine_stage3_rate: float
    urine_stage3_h: float
    anuria_h: float
    contiguity: pd.Timedelta
    episode_gap_hours: float
    source: Source


@parser("aki")
def parse(section: Section) -> AKISettings:
    n = section.number
    s1, s2, s3 = n("ratio_stage1", low=1), n("ratio_stage2", low=1), n("ratio_stage3", low=1)
    if not s1 < s2 < s3:
        raise section.fail(f"stage ratios must increase: {s1}, {s2}, {s3}", "ratio_stage1")
    return AKISettings(
        rise=n("rise_mg_dl", low=0.01, high=5), rise_window=pd.Timedelta(hours=n("rise_window_hours", low=1, high=168)),
        ratio_stage1=s1, ratio_window=pd.Timedelta(days=n("ratio_window_days", low=1, high=30)), ratio_stage2=s2,
        ratio_stage3=s3, absolute_stage3=n("absolute_stage3_mg_dl", low=0.5, high=20),
        urine_rate=n("urine_rate_ml_kg_h", low=0, high=5), urine_stage1_h=n("urine_stage1_hours", low=1, high=72),
        urine_stage2_h=n("urine_stage2_hours", low=1, high=72),
        urine_stage3_rate=n("urine_stage3_rate_ml_kg_h", low=0, high=5),
        urine_stage3_h=n("urine_stage3_hours", low=1, high=96), anuria_h=n("anuria_hours", low=1, high=96),
        contiguity=pd.Timedelta(minutes=n("urine_contiguity_minutes", low=0, high=240)),
        episode_gap_hours=n("episode_gap_hours", low=1, high=720), source=section.source)


def creatinine_findings(data: EvalData, s: AKISettings) -> pd.DataFrame:
    cr = data.series("creatinine")
    if cr.empty:
        return empty_findings()
    frame = cr[["patient_id", "time", "value_num"]].copy()
    indexed = frame.set_index("time").groupby("patient_id", sort=False)["value_num"]
    # Lowest value strictly before each result, over 48 h and over 7 days (series is sorted).
    frame["min_48h"] = indexed.rolling(s.rise_window, closed="left").min().to_numpy()
    frame["min_7d"] = indexed.rolling(s.ratio_window, closed="left").min().to_numpy()
    if len(data.courses):
        baseline = frame["patient_id"].map(data.courses.set_index("patient_id")["baseline_creatinine_mg_dl"])
        frame["min_7d"] = np.fmin(frame["min_7d"], baseline.astype(float))
    # The rise is compared at the reporting precision of creatinine (0.01 mg/dL), so that KDIGO's
    # printed SI figure (26.5 umol/L = 0.2998 mg/dL) meets its printed 0.3 mg/dL as intended.
    rise = (frame["value_num"] - frame["min_48h"]).round(2) >= s.rise
    ratio = frame["value_num"] / frame["min_7d"]
    ratio_hit = ratio.round(9) >= s.ratio_stage1
    acute = (rise | ratio_hit).fillna(False)
    stage = np.select([(ratio.round(9) >= s.ratio_stage3) | (acute & (frame["value_num"] >= s.absolute_stage3)),
                       ratio.round(9) >= s.ratio_stage2], [3, 2], 1)
    hit = acute.to_numpy(bool)
    f = frame[hit].assign(stage=stage[hit])
    evidence = ("creatinine " + fmt_num(f["value_num"], 2) + " mg/dL at " + fmt_time(f["time"])
                + "; lowest of previous 7 days " + fmt_num(f["min_7d"], 2) + " mg/dL (ratio "
                + fmt_num(f["value_num"] / f["min_7d"], 2) + "x); rise " + fmt_num(f["value_num"] - f["min_48h"], 2)
                + " mg/dL within 48 h")
    return pd.DataFrame({"patient_id": f["patient_id"], "time": f["time"],
                         "level": "KDIGO stage " + f["stage"].astype(str) + " (creatinine)",
                         "severity": np.where(f["stage"] >= 2, "urgent", "warning"),
                         "evidence": evidence, "context": data.context_at(f), "stage": f["stage"]})


def urine_findings(data: EvalData, s: AKISettings) -> pd.DataFrame:
    urine = data.series("urine_output")
    if urine.empty or "period_start" not in urine:
        return empty_findings()
    u = urine[["patient_id", "time", "value_num", "period_start"]].dropna(subset=["period_start"]).copy()
    weight = data.series("weight")
    w = asof(u, weight.rename(columns={"value_num": "weight"}), ["weight"], None)
    u["weight"] = w["weight"]
    if len(data.courses):
        u["weight"] = u["weight"].fillna(u["patient_id"].map(
            data.courses.set_index("patient_id")["baseline_weight_kg"]).astype(float))
    u = u.dropna(subset=["weight"])
    if u.empty:
        return empty_findings()
    hours = (u["time"] - u["period_start"]).dt.total_seconds() / 3600
    u["rate"] = u["value_num"] / u["weight"] / hours
    u["hours"] = hours
    out = []
    for limit, name in ((s.urine_rate, "low"), (s.urine_stage3_rate, "very_low"), (0.0, "anuria")):
        low = (u["rate"] <= 0) if name == "anuria" else (u["rate"] < limit)
        # Contiguous low periods: the previous period (same patient) ended within the contiguity gap.
        prev_end = u.groupby("patient_id")["time"].shift()
        prev_low = low.groupby(u["patient_id"]).shift(fill_value=False)
        continues = prev_low & (u["period_start"] - prev_end <= s.contiguity)
        run = (~continues | ~low).cumsum()
        u[name + "_hours"] = u["hours"].where(low, 0).groupby(run).cumsum().where(low, 0)
    stage = np.select([(u["very_low_hours"] >= s.urine_stage3_h) | (u["anuria_hours"] >= s.anuria_h),
                       u["low_hours"] >= s.urine_stage2_h, u["low_hours"] >= s.urine_stage1_h], [3, 2, 1], 0)
    hit = stage > 0
    f = u[hit].assign(stage=stage[hit])
    evidence = ("urine output " + fmt_num(f["value_num"], 0) + " mL over " + hours_text(f["hours"]) + " to "
                + fmt_time(f["time"]) + " = " + fmt_num(f["rate"], 2) + " mL/kg/h at " + fmt_num(f["weight"], 1)
                + " kg; below " + f"{s.urine_rate:g}" + " mL/kg/h for " + hours_text(f["low_hours"]))
    out.append(pd.DataFrame({"patient_id": f["patient_id"], "time": f["time"],
                             "level": "KDIGO stage " + f["stage"].astype(str) + " (urine output)",
                             "severity": np.where(f["stage"] >= 2, "urgent", "warning"),
                             "evidence": evidence, "context": data.context_at(f), "stage": f["stage"]}))
    return pd.concat(out, ignore_index=True)


def evaluate(data: EvalData, thresholds) -> pd.DataFrame:
    s: AKISettings = thresholds["aki"]
    both = pd.concat([creatinine_findings(data, s), urine_findings(data, s)], ignore_index=True)
    # Stages 2 and 3 are both urgent; level_rank makes the higher stage the episode's level.
    both = both.rename(columns={"stage": "level_rank"})
    return episodes(both, RULE, gap_hours=s.episode_gap_hours, source=s.source)
