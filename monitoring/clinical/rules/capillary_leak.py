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

from dataclasses import replace

import numpy as np
from pydantic import Field, model_validator

from monitoring.clinical.derived import weight_gain_percent
from monitoring.clinical.rules.common import Clearance, Findings, Rule, episodes
from monitoring.clinical.rules.context import EvalData, take
from monitoring.clinical.rules.evidence import isos, measured, number, template
from monitoring.clinical.thresholds import Increasing, Refused, SectionModel, section

NAT_ = np.iinfo(np.int64).min
WARNING_LEVEL, RELATIVE_LEVEL = "weight gain at the warning level", "weight gain above the Dutcher relative criterion"

# The standard shown with each alert is written from the thresholds in force (`standard`), so a
# hospital's change to data/thresholds.toml changes the text too; the levels name no number.
RULE = Rule(id="capillary-leak", version="2.0", section="capillary_leak", standard="Capillary leak",
            levels=(WARNING_LEVEL, RELATIVE_LEVEL))


@section("capillary_leak")
class LeakSettings(SectionModel):
    """[capillary_leak]: weight gain from the course baseline (Dutcher 2014 Table 3) with the signs the
    Proleukin label (W&P 5.1) tells us to watch; target SBP by usual SBP (HD guideline card, 2001)."""

    warning_percent: float = Field(alias="weight_gain_warning_percent", ge=0, le=100, description=(
        "Weight gain from the baseline (%) that raises a warning (local choice)"))
    relative_percent: float = Field(alias="weight_gain_relative_percent", ge=0, le=100, description=(
        "Weight gain (%) above which the Dutcher relative criterion is met (strict); at least the warning level"))
    albumin_below: float = Field(alias="albumin_below_g_dl", ge=0, le=10, description=(
        "Sign: albumin below this (g/dL; CTCAE hypoalbuminemia grade 2)"))
    oliguria_ml_per_8h: float = Field(ge=0, le=5000, description="Sign: urine output scaled to 8 h below this (mL)")
    urgent_at_signs: int = Field(ge=1, le=3, description="A gain at the warning level with this many of the three "
                                                         "signs (SBP, albumin, urine output) is urgent")
    usual_sbp_bounds: Increasing = Field(description="Bounds of the usual SBP (mmHg) that choose the target SBP")
    target_sbp: Increasing = Field(description="Target SBP (mmHg) of each usual-SBP band: one more than "
                                               "usual_sbp_bounds")
    episode_gap_hours: float = Field(ge=1, le=720, description="Alerts closer than this belong to one episode (h)")

    @model_validator(mode="after")
    def _levels_and_targets_consistent(self) -> LeakSettings:
        if self.relative_percent < self.warning_percent:
            raise Refused("weight_gain_relative_percent",
                          f"must be at least weight_gain_warning_percent ({self.warning_percent:g})")
        if len(self.target_sbp) != len(self.usual_sbp_bounds) + 1:
            raise Refused("target_sbp", f"expected {len(self.usual_sbp_bounds) + 1} numbers (one more than "
                                        f"usual_sbp_bounds), found {len(self.target_sbp)}")
        return self


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
    baseline = data.weight_baselines(weights)
    gain = weight_gain_percent(weights.num, baseline)
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
    per8h = take(data.urine_per_8h(urine), data.asof(pid, time, urine, v.fluids), np.nan)
    target = target_sbp(data.course("usual_sbp_mm_hg")[pid], s)
    low_sbp = sbp <= target
    low_albumin = albumin < s.albumin_below
    oliguria = per8h < s.oliguria_ml_per_8h
    signs = low_sbp.astype(int) + low_albumin.astype(int) + oliguria.astype(int)
    over = np.round(gain, 9) > s.relative_percent
    severity = np.where(over | (signs >= s.urgent_at_signs), 2, 1)
    has_course_weight = ~np.isnan(data.course("baseline_weight_kg")[pid])

    def describe(r: np.ndarray):
        at, sbp_at, alb_at = isos(time[r], data.unit), isos(sbp_time[r], data.unit), isos(albumin_time[r], data.unit)
        evidence = []
        for i, k in enumerate(r.tolist()):
            items = [{"criterion": "capillary_leak.weight_gain", "kind": "met", "code": "weight",
                      "value": number(value[k]), "unit": "kg", "at": at[i], "gain": number(gain[k]),
                      "baseline": number(baseline[k]), "course_baseline": bool(has_course_weight[k]),
                      "op": ">" if over[k] else ">=",
                      "limit": s.relative_percent if over[k] else s.warning_percent}]
            if low_sbp[k]:
                items.append({"criterion": "capillary_leak.sbp", "kind": "met", "code": "sbp", "value": number(sbp[k]),
                              "unit": "mm[Hg]", "at": sbp_at[i], "target": number(target[k])})
            if low_albumin[k]:
                items.append({"criterion": "capillary_leak.albumin", "kind": "met", "code": "albumin",
                              "value": number(albumin[k]), "unit": "g/dL", "at": alb_at[i], "op": "<",
                              "limit": s.albumin_below})
            if oliguria[k]:
                items.append({"criterion": "capillary_leak.urine", "kind": "met", "code": "urine_per_8h",
                              "value": number(per8h[k]), "unit": "mL", "op": "<", "limit": s.oliguria_ml_per_8h})
            if np.isnan(sbp[k]):
                items.append({"criterion": "capillary_leak.no_sbp", "kind": "missing",
                              "hours": v.vital_signs.total_seconds() / 3600})
            evidence.append(items)
        levels = [RELATIVE_LEVEL if o else WARNING_LEVEL for o in over[r].tolist()]
        return levels, evidence, data.context_at(pid[r], time[r])

    return Findings(pid, time, severity, describe, gain)


def clearance(data: EvalData, s: LeakSettings) -> Clearance | None:
    """Weights whose gain from the baseline is below the warning level: the rule's criteria (which
    start from the weight gain) no longer hold. A weight without a baseline never clears."""
    weights = data.series("weight")
    if not len(weights):
        return None
    gain = weight_gain_percent(weights.num, data.weight_baselines(weights))
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(~np.isnan(gain) & (np.round(gain, 9) < s.warning_percent))

    def describe(positions: np.ndarray) -> list[list[dict]]:
        k = rows[positions]
        at = isos(weights.time[k], data.unit)
        return [[{"criterion": "capillary_leak.cleared", "kind": "shown", "code": "weight", "value": number(w),
                  "unit": "kg", "at": at[i], "gain": number(g)}]
                for i, (w, g) in enumerate(zip(weights.num[k].tolist(), gain[k].tolist()))]

    return Clearance(weights.pid[rows], weights.time[rows], describe)


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
                    source=s.source, cleared=clearance(data, s))


# --- wording ---------------------------------------------------------------------------------------

@template("capillary_leak.weight_gain")
def _gain(item, when) -> str:
    note = "course baseline" if item["course_baseline"] else "first weight of the course (no baseline weight recorded)"
    return (f"weight {item['value']:.1f} kg at {when(item['at'])} = +{item['gain']:.1f}% from "
            f"{item['baseline']:.1f} kg ({note}; {item['op']} {item['limit']:g}%)")


@template("capillary_leak.sbp")
def _sbp(item, when) -> str:
    return f"SBP {item['value']:.0f} mmHg at {when(item['at'])} (target > {item['target']:.0f})"


@template("capillary_leak.albumin")
def _albumin(item, when) -> str:
    return f"albumin {item['value']:.1f} g/dL at {when(item['at'])}"


@template("capillary_leak.urine")
def _urine(item, when) -> str:
    return f"urine output {item['value']:.0f} mL per 8 h"


@template("capillary_leak.no_sbp")
def _no_sbp(item, when) -> str:
    return f"no SBP in the last {item['hours']:g} h"


@template("capillary_leak.cleared")
def _cleared(item, when) -> str:
    return f"{measured(item, when)} ({item['gain']:+.1f}% from baseline)"
