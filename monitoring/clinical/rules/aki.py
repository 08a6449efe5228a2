"""Acute kidney injury, KDIGO 2012 (Kidney Int Suppl 2012;2:1, Section 2 Table 2).

Creatinine: a rise >= 0.3 mg/dL within 48 h, or >= 1.5 x the lowest value of the previous 7 days
(the course's baseline creatinine counts as one of those values: KDIGO's baseline is 'known or
presumed to have occurred within the prior 7 days'). Stage by the ratio to that lowest value
(1.5-1.9 -> 1, 2.0-2.9 -> 2, >= 3.0 -> 3), or creatinine >= 4.0 mg/dL with an acute rise -> 3.
Urine output (with a body weight): < 0.5 mL/kg/h for >= 6 h -> stage 1, >= 12 h -> 2; < 0.3 mL/kg/h
for >= 24 h or anuria for >= 12 h -> 3. The level is the highest stage of either arm. Urine output
without any body weight (recorded, or the course baseline) cannot be staged: that is said (an info
finding "urine output not staged: no weight", and a note on the creatinine findings), never skipped.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from monitoring.clinical.rules.common import Clearance, Findings, Rule, episodes, kahan_group_cumsum
from monitoring.clinical.rules.context import EvalData, Series, take
from monitoring.clinical.rules.evidence import isos, number, template
from monitoring.clinical.thresholds import Refused, SectionModel, section

NAT_ = np.iinfo(np.int64).min
NOT_STAGED = "urine output not staged: no weight"
LEVELS = (NOT_STAGED, *(f"KDIGO stage {stage} ({arm})" for stage in (1, 2, 3)
                        for arm in ("creatinine", "urine output")))

# The standard shown with each alert is written from the thresholds in force (`standard`).
RULE = Rule(id="aki", version="2.0", section="aki", standard="KDIGO 2012 acute kidney injury", levels=LEVELS,
            ranks=(0, 1, 1, 2, 2, 3, 3))


@section("aki")
class AKISettings(SectionModel):
    """[aki]: KDIGO 2012 (Kidney Int Suppl 2012;2:1, Section 2 Table 2) definition and staging."""

    rise: float = Field(alias="rise_mg_dl", ge=0.01, le=5, description="Creatinine rise (mg/dL) within the rise "
                                                                       "window: at least this")
    rise_window_hours: float = Field(ge=1, le=168, description="The rise window (h)")
    ratio_stage1: float = Field(ge=1, description="Stage 1: at least this times the lowest value of the ratio "
                                                  "window")
    ratio_window_days: float = Field(ge=1, le=30, description="The ratio window (days)")
    ratio_stage2: float = Field(ge=1, description="Stage 2 ratio (above ratio_stage1)")
    ratio_stage3: float = Field(ge=1, description="Stage 3 ratio (above ratio_stage2)")
    absolute_stage3: float = Field(alias="absolute_stage3_mg_dl", ge=0.5, le=20, description=(
        "Stage 3: creatinine at or above this (mg/dL) with an acute rise"))
    urine_rate: float = Field(alias="urine_rate_ml_kg_h", ge=0, le=5, description="Urine output below this "
                                                                                  "(mL/kg/h) ...")
    urine_stage1_h: float = Field(alias="urine_stage1_hours", ge=1, le=72, description="... for this long (h): "
                                                                                       "stage 1")
    urine_stage2_h: float = Field(alias="urine_stage2_hours", ge=1, le=72, description="... for this long (h): "
                                                                                       "stage 2")
    urine_stage3_rate: float = Field(alias="urine_stage3_rate_ml_kg_h", ge=0, le=5, description=(
        "Stage 3: urine output below this (mL/kg/h) ..."))
    urine_stage3_h: float = Field(alias="urine_stage3_hours", ge=1, le=96, description="... for this long (h)")
    anuria_h: float = Field(alias="anuria_hours", ge=1, le=96, description="Stage 3: anuria for this long (h)")
    urine_contiguity_minutes: float = Field(ge=0, le=240, description="Urine periods closer than this are one "
                                                                      "continuous record (handover gaps; min)")
    episode_gap_hours: float = Field(ge=1, le=720, description="Alerts closer than this belong to one episode (h)")

    rise_window = property(lambda self: pd.Timedelta(hours=self.rise_window_hours))
    ratio_window = property(lambda self: pd.Timedelta(days=self.ratio_window_days))
    contiguity = property(lambda self: pd.Timedelta(minutes=self.urine_contiguity_minutes))

    @model_validator(mode="after")
    def _stage_ratios_increase(self) -> AKISettings:
        ratios = (self.ratio_stage1, self.ratio_stage2, self.ratio_stage3)
        if not ratios[0] < ratios[1] < ratios[2]:
            raise Refused("ratio_stage1", f"stage ratios must increase: {', '.join(f'{r:g}' for r in ratios)}")
        return self


def window_min(data: EvalData, s: Series, window: pd.Timedelta) -> np.ndarray:
    """Lowest value of the patient's rows in [time - window, time) (pandas rolling(window,
    closed='left').min()); NaN when there is none."""
    lower = np.searchsorted(s.key, data.key(s.pid, s.time) - data.ticks(window), side="left")
    upper = np.searchsorted(s.key, s.key, side="left")
    out = np.full(len(s), np.nan)
    if not len(s):
        return out
    for k in range(1, int((np.arange(len(s)) - lower).max(initial=0)) + 1):
        j = np.arange(len(s)) - k
        inside = (j >= lower) & (j < upper)
        out = np.where(inside, np.fmin(out, s.num[np.maximum(j, 0)]), out)
    return out


def _creatinine_criteria(data: EvalData, s: AKISettings):
    """Each creatinine result with the lowest value before it over 48 h and over 7 days (the course
    baseline counts among them), the rise, the ratio and whether the KDIGO criteria are met."""
    if "aki_creatinine" in data.cache:
        return data.cache["aki_creatinine"]
    cr = data.series("creatinine")
    v = cr.num
    # Lowest value strictly before each result, over 48 h and over 7 days (series is sorted).
    min_48h = window_min(data, cr, s.rise_window)
    min_7d = window_min(data, cr, s.ratio_window)
    if data.course("present").any():
        min_7d = np.fmin(min_7d, data.course("baseline_creatinine_mg_dl")[cr.pid])
    # The rise is compared at the reporting precision of creatinine (0.01 mg/dL), so that KDIGO's
    # printed SI figure (26.5 umol/L = 0.2998 mg/dL) meets its printed 0.3 mg/dL as intended.
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.round(v - min_48h, 2) >= s.rise
        ratio = np.round(v / min_7d, 9)
    acute = rise | (ratio >= s.ratio_stage1)
    data.cache["aki_creatinine"] = cr, v, min_48h, min_7d, ratio, acute
    return data.cache["aki_creatinine"]


def creatinine_clearance(data: EvalData, s: AKISettings) -> Clearance | None:
    """Creatinine results compared with an earlier value or the baseline that meet neither KDIGO
    criterion: the creatinine criteria no longer hold. (Urine-output stages are never found cleared
    this way: their findings are not clearable, see evaluate.)"""
    cr, v, min_48h, min_7d, _, acute = _creatinine_criteria(data, s)
    rows = np.flatnonzero(~acute & ~(np.isnan(min_48h) & np.isnan(min_7d)))

    def describe(positions: np.ndarray) -> list[list[dict]]:
        k = rows[positions]
        at = isos(cr.time[k], data.unit)
        return [[{"criterion": "aki.cleared", "kind": "shown", "code": "creatinine", "value": number(x),
                  "unit": "mg/dL", "at": at[i]}] for i, x in enumerate(v[k].tolist())]

    return Clearance(cr.pid[rows], cr.time[rows], describe)


def creatinine_findings(data: EvalData, s: AKISettings) -> Findings | None:
    if not len(data.series("creatinine")):
        return None
    cr, v, min_48h, min_7d, ratio, acute = _creatinine_criteria(data, s)
    stage = np.select([(ratio >= s.ratio_stage3) | (acute & (v >= s.absolute_stage3)), ratio >= s.ratio_stage2],
                      [3, 2], 1)
    hit = np.flatnonzero(acute)
    pid, time, stage = cr.pid[hit], cr.time[hit], stage[hit]

    unstaged = _unstaged_urine(data)

    def describe(rows: np.ndarray):
        r = hit[rows]
        at = isos(cr.time[r], data.unit)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = (v[r] / min_7d[r]).tolist()
        rises = (v[r] - min_48h[r]).tolist()
        evidence = []
        for i, k in enumerate(r.tolist()):
            items = [{"criterion": "aki.creatinine", "kind": "met", "code": "creatinine", "value": number(v[k]),
                      "unit": "mg/dL", "at": at[i], "lowest": number(min_7d[k]), "ratio": number(ratios[i]),
                      "rise": number(rises[i]), "stage": int(stage[rows[i]])}]
            if unstaged[cr.pid[k]]:
                items.append({"criterion": "aki.not_staged", "kind": "note"})
            evidence.append(items)
        levels = [f"KDIGO stage {g} (creatinine)" for g in stage[rows].tolist()]
        return levels, evidence, data.context_at(pid[rows], time[rows])

    return Findings(pid, time, np.where(stage >= 2, 2, 1), describe, stage.astype(float))


def urine_findings(data: EvalData, s: AKISettings) -> Findings | None:
    urine = data.series("urine_output")
    if not len(urine) or urine.start is None:
        return None
    rows = np.flatnonzero(urine.start != NAT_)
    weights = data.series("weight")
    weight = take(weights.num, data.asof(urine.pid[rows], urine.time[rows], weights), np.nan)
    if data.course("present").any():
        weight = np.where(np.isnan(weight), data.course("baseline_weight_kg")[urine.pid[rows]], weight)
    rows, weight = rows[~np.isnan(weight)], weight[~np.isnan(weight)]
    if not len(rows):
        return None
    pid, time, start, value = urine.pid[rows], urine.time[rows], urine.start[rows], urine.num[rows]
    hours = data.hours(time - start)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = value / weight / hours
    n = len(rows)
    same = np.zeros(n, dtype=bool)
    same[1:] = pid[1:] == pid[:-1]
    prev_end = np.r_[NAT_, time[:-1]]
    run_hours = {}
    for limit, name in ((s.urine_rate, "low"), (s.urine_stage3_rate, "very_low"), (0.0, "anuria")):
        low = (rate <= 0) if name == "anuria" else (rate < limit)
        # Contiguous low periods: the previous period (same patient) ended within the contiguity gap.
        prev_low = np.r_[False, low[:-1]] & same
        continues = prev_low & (start - prev_end <= data.ticks(s.contiguity))
        summed = kahan_group_cumsum(np.where(low, hours, 0.0), ~continues | ~low)
        run_hours[name] = np.where(low, summed, 0.0)
    stage = np.select([(run_hours["very_low"] >= s.urine_stage3_h) | (run_hours["anuria"] >= s.anuria_h),
                       run_hours["low"] >= s.urine_stage2_h, run_hours["low"] >= s.urine_stage1_h], [3, 2, 1], 0)
    hit = np.flatnonzero(stage > 0)
    f_pid, f_time, f_stage = pid[hit], time[hit], stage[hit]

    def describe(positions: np.ndarray):
        r = hit[positions]
        at = isos(time[r], data.unit)
        evidence = [[{"criterion": "aki.urine", "kind": "met", "code": "urine_output", "value": number(value[k]),
                      "unit": "mL", "at": at[i], "hours": number(hours[k]), "rate": number(rate[k]),
                      "weight": number(weight[k]), "below_hours": number(run_hours["low"][k]),
                      "limit": s.urine_rate}] for i, k in enumerate(r.tolist())]
        levels = [f"KDIGO stage {g} (urine output)" for g in f_stage[positions].tolist()]
        return levels, evidence, data.context_at(f_pid[positions], f_time[positions])

    return Findings(f_pid, f_time, np.where(f_stage >= 2, 2, 1), describe, f_stage.astype(float))


def _urine_rows_without_weight(data: EvalData) -> np.ndarray:
    """Rows of the urine series (with a period) for which no body weight is known at that time."""
    urine = data.series("urine_output")
    if not len(urine) or urine.start is None:
        return np.zeros(0, dtype=np.int64)
    rows = np.flatnonzero(urine.start != NAT_)
    weights = data.series("weight")
    known = data.asof(urine.pid[rows], urine.time[rows], weights) >= 0
    known |= ~np.isnan(data.course("baseline_weight_kg")[urine.pid[rows]])
    return rows[~known]


def _unstaged_urine(data: EvalData) -> np.ndarray:
    """Per patient number: has urine output that could not be staged for want of a weight."""
    out = np.zeros(data.n_patients, dtype=bool)
    out[data.series("urine_output").pid[_urine_rows_without_weight(data)]] = True
    return out


def not_staged_findings(data: EvalData) -> Findings | None:
    """Urine output that cannot be staged (no weight): an info finding, so it is said, never skipped."""
    rows = _urine_rows_without_weight(data)
    if not len(rows):
        return None
    urine = data.series("urine_output")
    pid, time = urine.pid[rows], urine.time[rows]

    def describe(positions: np.ndarray):
        r = rows[positions]
        at = isos(urine.time[r], data.unit)
        evidence = [[{"criterion": "aki.no_weight", "kind": "note", "code": "urine_output",
                      "value": number(urine.num[k]), "unit": "mL", "at": at[i]}] for i, k in enumerate(r.tolist())]
        return [NOT_STAGED] * len(positions), evidence, data.context_at(pid[positions], time[positions])

    return Findings(pid, time, np.zeros(len(rows), dtype=np.int64), describe, np.zeros(len(rows)))


def _concat(parts: list[Findings | None]) -> Findings | None:
    parts = [p for p in parts if p is not None and len(p.pid)]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    sizes = np.cumsum([0] + [len(p.pid) for p in parts])

    def describe(rows: np.ndarray):
        levels, evidence, contexts = [None] * len(rows), [None] * len(rows), [None] * len(rows)
        for k, p in enumerate(parts):
            mine = np.flatnonzero((rows >= sizes[k]) & (rows < sizes[k + 1]))
            if len(mine):
                got = p.describe(rows[mine] - sizes[k])
                for target, a, b, c in zip(mine.tolist(), *got):
                    levels[target], evidence[target], contexts[target] = a, b, c
        return levels, evidence, contexts

    return Findings(np.concatenate([p.pid for p in parts]), np.concatenate([p.time for p in parts]),
                    np.concatenate([p.severity for p in parts]), describe,
                    np.concatenate([p.level_rank for p in parts]),
                    np.concatenate([np.zeros(len(p.pid), dtype=bool) if p.clearable is None else p.clearable
                                    for p in parts]))


def standard(s: AKISettings) -> str:
    """The definition and staging as applied, from the thresholds in force."""
    days = s.ratio_window.total_seconds() / 86400
    return (f"{RULE.standard}: creatinine rise >= {s.rise:g} mg/dL within {s.rise_window.total_seconds() / 3600:g} h "
            f"or >= {s.ratio_stage1:g} x the lowest value of the previous {days:g} days (the course baseline "
            f"counts among them); stage by that ratio "
            f"({s.ratio_stage1:g} -> 1, {s.ratio_stage2:g} -> 2, {s.ratio_stage3:g} -> 3) or creatinine >= "
            f"{s.absolute_stage3:g} mg/dL with an acute rise -> 3; urine output (with a body weight; without one it "
            f"is said to be not staged) < {s.urine_rate:g} "
            f"mL/kg/h for "
            f">= {s.urine_stage1_h:g} h -> 1, >= {s.urine_stage2_h:g} h -> 2, < {s.urine_stage3_rate:g} mL/kg/h for "
            f">= {s.urine_stage3_h:g} h or anuria for >= {s.anuria_h:g} h -> 3; stage 1 warning, stages 2-3 urgent")


def evaluate(data: EvalData, thresholds) -> dict | None:
    s: AKISettings = thresholds["aki"]
    # Stages 2 and 3 are both urgent; the level rank makes the higher stage the episode's level.
    creatinine = creatinine_findings(data, s)
    if creatinine is not None:
        # Only creatinine findings can be found cleared (by a later creatinine below the criteria): an
        # episode with a urine-output stage stays until a clinician resolves it.
        creatinine.clearable = np.ones(len(creatinine.pid), dtype=bool)
    both = _concat([creatinine, urine_findings(data, s), not_staged_findings(data)])
    if both is not None and both.clearable is None:
        both.clearable = np.zeros(len(both.pid), dtype=bool)
    return episodes(data, both, replace(RULE, standard=standard(s)), gap_hours=s.episode_gap_hours, source=s.source,
                    cleared=creatinine_clearance(data, s) if len(data.series("creatinine")) else None)


# --- wording ---------------------------------------------------------------------------------------

@template("aki.creatinine")
def _creatinine(item, when) -> str:
    ratio = "–" if item["ratio"] is None else f"{item['ratio']:.2f}"
    rise = "–" if item["rise"] is None else f"{item['rise']:.2f}"
    lowest = "–" if item["lowest"] is None else f"{item['lowest']:.2f}"
    return (f"creatinine {item['value']:.2f} mg/dL at {when(item['at'])}; lowest of previous 7 days {lowest} mg/dL "
            f"(ratio {ratio}x); rise {rise} mg/dL within 48 h")


@template("aki.urine")
def _urine(item, when) -> str:
    minutes = round(item["hours"] * 60)
    below = round(item["below_hours"] * 60)
    return (f"urine output {item['value']:.0f} mL over {minutes // 60} h {minutes % 60} min to {when(item['at'])} = "
            f"{item['rate']:.2f} mL/kg/h at {item['weight']:.1f} kg; below {item['limit']:g} mL/kg/h for "
            f"{below // 60} h {below % 60} min")


@template("aki.not_staged")
def _not_staged(item, when) -> str:
    return "urine output not staged: no weight"


@template("aki.no_weight")
def _no_weight(item, when) -> str:
    return (f"urine output {item['value']:.0f} mL to {when(item['at'])} not staged: no weight (KDIGO urine output "
            "is per kg)")
