"""Capillary leak: weight gain from the course baseline, with its companions.

Weight gain >= 10% from the course baseline weight (a local warning level) and > 15% (Dutcher 2014
Table 3 relative criterion), together with the signs the Proleukin label (W&P 5.1) tells us to watch:
SBP below the patient's target (manufacturer HD card: usual SBP < 100 -> target > 80, 100-120 -> > 85,
> 120 -> > 90), albumin below 3.0 g/dL (CTCAE hypoalbuminemia grade 2), and oliguria (urine output
scaled to 8 h below 160 mL, Dutcher relative). Urgent above 15%, or at >= 10% with two or more signs.
Without a recorded course baseline, the first weight in the data is the baseline (said in the evidence).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.rules.common import Rule, empty_findings, episodes, fmt_num, fmt_time, join_clauses, where_text
from monitoring.rules.context import EvalData, asof
from monitoring.thresholds import Section, Source, parser

RULE = Rule(id="capillary-leak", version="1.0", section="capillary_leak",
            standard="Capillary leak: weight gain from course baseline >= 10% (warning) or > 15% (Dutcher relative "
                     "criterion) with SBP below target, albumin < 3.0 g/dL, oliguria")


@dataclass(frozen=True)
class LeakSettings:
    warning_percent: float
    relative_percent: float
    albumin_below: float
    oliguria_ml_per_8h: float
    usual_sbp_bounds: list[float]
    target_sbp: list[float]
    episode_gap_hours: float
    source: Source


@parser("capillary_leak")
def parse(section: Section) -> LeakSettings:
    bounds = section.numbers("usual_sbp_bounds", increasing=True)
    targets = section.numbers("target_sbp", increasing=True, length=len(bounds) + 1)
    warning = section.number("weight_gain_warning_percent", low=0, high=100)
    relative = section.number("weight_gain_relative_percent", low=0, high=100)
    if relative < warning:
        raise section.fail(f"must be at least weight_gain_warning_percent ({warning})", "weight_gain_relative_percent")
    return LeakSettings(warning, relative, section.number("albumin_below_g_dl", low=0, high=10),
                        section.number("oliguria_ml_per_8h", low=0, high=5000), bounds, targets,
                        section.number("episode_gap_hours", low=1, high=720), section.source)


def target_sbp(usual: pd.Series, s: LeakSettings) -> pd.Series:
    """Target SBP from the usual SBP (HD guideline card); NaN when the usual SBP is unknown."""
    idx = np.searchsorted(np.array(s.usual_sbp_bounds), usual.fillna(0).to_numpy(float), side="left")
    # usual < 100 -> index 0; 100..120 -> 1; > 120 -> 2 (bounds inclusive on the middle band)
    idx = np.where(usual.to_numpy(float) > s.usual_sbp_bounds[-1], len(s.usual_sbp_bounds), idx)
    idx = np.where((usual.to_numpy(float) >= s.usual_sbp_bounds[0]) & (idx == 0), 1, idx)
    return pd.Series(np.array(s.target_sbp)[idx], index=usual.index).where(usual.notna())


def findings(data: EvalData, s: LeakSettings) -> pd.DataFrame:
    weights = data.series("weight")
    if weights.empty:
        return empty_findings()
    w = weights[["patient_id", "time", "value_num"]].copy()
    first = w.groupby("patient_id")["value_num"].transform("first")
    courses = data.courses.set_index("patient_id") if len(data.courses) else None
    baseline = (w["patient_id"].map(courses["baseline_weight_kg"]).astype(float) if courses is not None
                else pd.Series(np.nan, index=w.index))
    w["baseline"] = baseline.fillna(first)
    w["gain"] = (w["value_num"] - w["baseline"]) / w["baseline"] * 100
    w = w[(w["gain"].round(9) >= s.warning_percent)].reset_index(drop=True)
    if w.empty:
        return empty_findings()
    sbp = asof(w, data.series("sbp").rename(columns={"value_num": "sbp"}), ["sbp"], data.validity.vital_signs)
    albumin = asof(w, data.series("albumin").rename(columns={"value_num": "albumin"}), ["albumin"], data.validity.labs)
    urine = data.series("urine_output")
    if not urine.empty and "period_start" in urine:
        urine = urine.assign(per8h=urine["value_num"] / ((urine["time"] - urine["period_start"]).dt.total_seconds()
                                                        / 3600) * 8)
        uo = asof(w, urine, ["per8h"], data.validity.fluids)
    else:
        uo = pd.DataFrame({"per8h": np.nan, "time": pd.NaT}, index=w.index)
    usual = (w["patient_id"].map(courses["usual_sbp_mm_hg"]).astype(float) if courses is not None
             else pd.Series(np.nan, index=w.index))
    target = target_sbp(usual, s)
    low_sbp = (sbp["sbp"] <= target).fillna(False)
    low_albumin = (albumin["albumin"] < s.albumin_below).fillna(False)
    oliguria = (uo["per8h"] < s.oliguria_ml_per_8h).fillna(False)
    signs = low_sbp.astype(int) + low_albumin.astype(int) + oliguria.astype(int)
    over = w["gain"].round(9) > s.relative_percent
    severity = np.where(over | (signs >= 2), "urgent", "warning")
    level = np.where(over, f"weight gain > {s.relative_percent:g}%", f"weight gain >= {s.warning_percent:g}%")
    baseline_note = np.where(w["patient_id"].map(courses["baseline_weight_kg"]).notna() if courses is not None
                             else False, "course baseline", "first recorded weight (no course baseline)")
    evidence = join_clauses(
        "weight " + fmt_num(w["value_num"], 1) + " kg at " + fmt_time(w["time"]) + " = +" + fmt_num(w["gain"], 1)
        + "% from " + fmt_num(w["baseline"], 1) + " kg (" + pd.Series(baseline_note, index=w.index) + ")",
        where_text(low_sbp, "SBP " + fmt_num(sbp["sbp"], 0) + " mmHg at " + fmt_time(sbp["time"]).fillna("")
                   + " (target > " + fmt_num(target, 0) + ")"),
        where_text(low_albumin, "albumin " + fmt_num(albumin["albumin"], 1) + " g/dL at "
                   + fmt_time(albumin["time"]).fillna("")),
        where_text(oliguria, "urine output " + fmt_num(uo["per8h"], 0) + " mL per 8 h"),
        where_text(sbp["sbp"].isna(), f"no SBP in the last {data.validity.vital_signs.total_seconds() / 3600:g} h"),
        sep="; ")
    return pd.DataFrame({"patient_id": w["patient_id"], "time": w["time"], "level": level, "severity": severity,
                         "evidence": evidence, "context": data.context_at(w), "level_rank": w["gain"]})


def evaluate(data: EvalData, thresholds) -> pd.DataFrame:
    s: LeakSettings = thresholds["capillary_leak"]
    return episodes(findings(data, s), RULE, gap_hours=s.episode_gap_hours, source=s.source)
