"""Capillary leak: weight gain from the course baseline, with its companions.

Weight gain >= 10% from the course baseline weight (a local warning level) and > 15% (Dutcher 2014
Table 3 relative criterion), together with the signs the Proleukin label (W&P 5.1) tells us to watch:
SBP below the patient's target (manufacturer HD card: usual SBP < 100 -> target > 80, 100-120 -> > 85,
> 120 -> > 90), albumin below 3.0 g/dL (CTCAE hypoalbuminemia grade 2), and oliguria (urine output
scaled to 8 h below 160 mL, Dutcher relative). Urgent above 15%, or at >= 10% with two or more of
these signs (a local choice: `urgent_at_signs`).
Without a recorded course baseline, the first weight in the data is the baseline (said in the evidence).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from monitoring.rules.common import Findings, Rule, episodes, join_clauses, num_text, time_text
from monitoring.rules.context import EvalData, take
from monitoring.thresholds import Section, Source, parser

NAT_ = np.iinfo(np.int64).min

# The standard shown with each alert is written from the thresholds in force (`standard`), so a
# hospital's change to data/thresholds.toml changes the text too.
RULE = Rule(id="capillary-leak", version="1.0", section="capillary_leak", standard="Capillary leak")


@dataclass(frozen=True)
class LeakSettings:
    warning_percent: float
    relative_percent: float
    albumin_below: float
    oliguria_ml_per_8h: float
    urgent_at_signs: int
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
    urgent_at_signs = section.integer("urgent_at_signs", low=1)
    if urgent_at_signs > 3:
        raise section.fail("there are 3 signs (SBP, albumin, urine output): expected 1, 2 or 3", "urgent_at_signs")
    return LeakSettings(warning, relative, section.number("albumin_below_g_dl", low=0, high=10),
                        section.number("oliguria_ml_per_8h", low=0, high=5000),
                        urgent_at_signs, bounds, targets,
                        section.number("episode_gap_hours", low=1, high=720), section.source)


def target_sbp(usual: np.ndarray, s: LeakSettings) -> np.ndarray:
    """Target SBP from the usual SBP (HD guideline card); NaN when the usual SBP is unknown."""
    bounds = np.array(s.usual_sbp_bounds)
    idx = np.searchsorted(bounds, np.nan_to_num(usual, nan=0.0), side="left")
    # usual < 100 -> index 0; 100..120 -> 1; > 120 -> 2 (bounds inclusive on the middle band)
    idx = np.where(usual > s.usual_sbp_bounds[-1], len(s.usual_sbp_bounds), idx)
    idx = np.where((usual >= s.usual_sbp_bounds[0]) & (idx == 0), 1, idx)
    return np.where(np.isnan(usual), np.nan, np.array(s.target_sbp)[idx])


def findings(data: EvalData, s: LeakSettings) -> Findings | None:
    weights = data.series("weight")
    if not len(weights):
        return None
    first = weights.num[weights.first_of_patient()]
    course_weight = data.course("baseline_weight_kg")[weights.pid]
    baseline = np.where(np.isnan(course_weight), first, course_weight)
    gain = (weights.num - baseline) / baseline * 100
    rows = np.flatnonzero(np.round(gain, 9) >= s.warning_percent)
    if not len(rows):
        return None
    pid, time, value = weights.pid[rows], weights.time[rows], weights.num[rows]
    baseline, gain = baseline[rows], gain[rows]
    v = data.validity
    sbp_series, albumin_series = data.series("sbp"), data.series("albumin")
    i_sbp = data.asof(pid, time, sbp_series, v.vital_signs)
    sbp, sbp_time = take(sbp_series.num, i_sbp, np.nan), take(sbp_series.time, i_sbp, NAT_)
    i_alb = data.asof(pid, time, albumin_series, v.labs)
    albumin, albumin_time = take(albumin_series.num, i_alb, np.nan), take(albumin_series.time, i_alb, NAT_)
    urine = data.series("urine_output")
    if len(urine) and urine.start is not None:
        no_period = urine.start == NAT_
        with np.errstate(divide="ignore", invalid="ignore"):
            hours = data.hours(urine.time - np.where(no_period, urine.time, urine.start))
            per8h_all = np.where(no_period, np.nan, urine.num / hours * 8)
        per8h = take(per8h_all, data.asof(pid, time, urine, v.fluids), np.nan)
    else:
        per8h = np.full(len(rows), np.nan)
    target = target_sbp(data.course("usual_sbp_mm_hg")[pid], s)
    low_sbp = sbp <= target
    low_albumin = albumin < s.albumin_below
    oliguria = per8h < s.oliguria_ml_per_8h
    signs = low_sbp.astype(int) + low_albumin.astype(int) + oliguria.astype(int)
    over = np.round(gain, 9) > s.relative_percent
    severity = np.where(over | (signs >= s.urgent_at_signs), 2, 1)
    has_course_weight = ~np.isnan(data.course("baseline_weight_kg")[pid])

    def describe(r: np.ndarray):
        weight, when, up, base = (num_text(value[r], 1), time_text(time[r], data.unit), num_text(gain[r], 1),
                                  num_text(baseline[r], 1))
        sbp_text, sbp_when, target_text = num_text(sbp[r], 0), time_text(sbp_time[r], data.unit), num_text(target[r], 0)
        alb_text, alb_when = num_text(albumin[r], 1), time_text(albumin_time[r], data.unit)
        urine_text = num_text(per8h[r], 0)
        no_sbp = f"no SBP in the last {v.vital_signs.total_seconds() / 3600:g} h"
        evidence = []
        for i, k in enumerate(r.tolist()):
            note = "course baseline" if has_course_weight[k] else "first recorded weight (no course baseline)"
            evidence.append(join_clauses(
                f"weight {weight[i]} kg at {when[i]} = +{up[i]}% from {base[i]} kg ({note})",
                f"SBP {sbp_text[i]} mmHg at {sbp_when[i]} (target > {target_text[i]})" if low_sbp[k] else "",
                f"albumin {alb_text[i]} g/dL at {alb_when[i]}" if low_albumin[k] else "",
                f"urine output {urine_text[i]} mL per 8 h" if oliguria[k] else "",
                no_sbp if np.isnan(sbp[k]) else ""))
        levels = [f"weight gain > {s.relative_percent:g}%" if o else f"weight gain >= {s.warning_percent:g}%"
                  for o in over[r].tolist()]
        return levels, evidence, data.context_at(pid[r], time[r])

    return Findings(pid, time, severity, describe, gain)


def standard(s: LeakSettings) -> str:
    """The definition as applied, from the thresholds in force."""
    bounds, targets = s.usual_sbp_bounds, s.target_sbp
    top = ">=" if len(bounds) == 1 else ">"  # target_sbp: a single bound belongs to the upper band
    target = "; ".join([f"usual < {bounds[0]:g} -> > {targets[0]:g}"]
                       + [f"{low:g}-{high:g} -> > {t:g}" for low, high, t in zip(bounds, bounds[1:], targets[1:])]
                       + [f"{top} {bounds[-1]:g} -> > {targets[-1]:g}"])
    return (f"{RULE.standard}: weight gain from the course baseline >= {s.warning_percent:g}% (warning) or "
            f"> {s.relative_percent:g}% (Dutcher relative criterion; urgent, as is >= {s.warning_percent:g}% with "
            f"{s.urgent_at_signs} or more of the signs), signs: SBP at or below the target (by usual SBP: "
            f"{target} mmHg; not counted without a usual SBP), albumin "
            f"< {s.albumin_below:g} g/dL, urine output < {s.oliguria_ml_per_8h:g} mL per 8 h")


def evaluate(data: EvalData, thresholds) -> dict | None:
    s: LeakSettings = thresholds["capillary_leak"]
    return episodes(data, findings(data, s), replace(RULE, standard=standard(s)), gap_hours=s.episode_gap_hours,
                    source=s.source)
