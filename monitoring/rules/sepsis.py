"""Sepsis screen, aware of the IL-2 dose schedule.

Triggers (each observation set, with the vital signs valid at that moment):
  qSOFA >= 2 (Sepsis-3), NEWS2 >= 5 (RCP 2017 'think sepsis'; >= 7 emergency response), lactate > 2 mmol/L
  with fever or hypotension, and the septic-shock pattern (MAP < 65 or SBP < 90 with lactate > 2:
  an emergency). Fever outside the post-dose window, fever that persists after doses are held or
  stopped, rigors after IL-2 has stopped, and a rising lactate raise it too.
Schedule: fever, rigors and tachycardia 1-4 h after a given dose are the drug's expected effect
(Dutcher 2014 Table 2). On their own (a SIRS-type pattern: NEWS2 >= 5 only because of temperature and
heart-rate points, qSOFA < 2, no lactate criterion) they raise no sepsis alert; they are reported
as rule `il2-expected-effect` (severity info) so they are counted and shown, never dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.rules.common import Rule, episodes, fmt_num, fmt_time, join_clauses, where_text
from monitoring.rules.context import EvalData, asof
from monitoring.thresholds import Section, Source, parser

RULE = Rule(id="sepsis-screen", version="1.0", section="sepsis_screen",
            standard="Sepsis screen: qSOFA >= 2, NEWS2 >= 5, lactate > 2 mmol/L with fever or hypotension, "
                     "fever or rigors outside the IL-2 post-dose window, rising lactate; shock pattern MAP < 65 "
                     "or SBP < 90 with lactate > 2")
EXPECTED = Rule(id="il2-expected-effect", version="1.0", section="il2_schedule",
                standard="Expected IL-2 effect: fever, rigors or tachycardia 1-4 h after a given dose with no "
                         "sepsis criterion beyond them (not a sepsis alert; shown and counted)")


@dataclass(frozen=True)
class SepsisSettings:
    lactate_above: float
    fever_c: float
    shock_sbp_below: float
    shock_map_below: float
    lactate_rise: float
    episode_gap_hours: float
    source: Source


@parser("sepsis_screen")
def parse(section: Section) -> SepsisSettings:
    return SepsisSettings(
        lactate_above=section.number("lactate_above_mmol_l", low=0, high=20),
        fever_c=section.number("fever_c", low=37, high=41),
        shock_sbp_below=section.number("shock_sbp_below", low=40, high=150),
        shock_map_below=section.number("shock_map_below", low=30, high=120),
        lactate_rise=section.number("lactate_rise_mmol_l", low=0, high=10),
        episode_gap_hours=section.number("episode_gap_hours", low=1, high=720), source=section.source)


def _value_text(sets: pd.DataFrame, code: str, label: str, unit: str, decimals: int = 0) -> pd.Series:
    """'HR 118/min', with '(from 12:00Z)' when the value was carried from an earlier set."""
    value = sets[code]
    carried = sets[code + "_time"].notna() & (sets[code + "_time"] != sets["time"])
    text = label + " " + fmt_num(value, decimals) + unit
    text = text.where(~carried, text + " (from " + sets[code + "_time"].dt.strftime("%H:%MZ").fillna("") + ")")
    return where_text(value.notna(), text)


def findings(data: EvalData, s: SepsisSettings, *, qsofa_positive: int, news2_urgent: int,
             news2_emergency: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rigors_sepsis, rigors_expected = _rigor_findings(data)
    sets = data.sets.copy()
    if sets.empty:
        return rigors_sepsis, rigors_expected
    lactate = data.series("lactate")
    lac = asof(sets, lactate.rename(columns={"value_num": "lactate"}), ["lactate"], data.validity.labs)
    sets["lactate"], sets["lactate_time"] = lac["lactate"], lac["time"]
    if not lactate.empty:
        prev = lactate.assign(previous=lactate.groupby("patient_id")["value_num"].shift(),
                              previous_time=lactate.groupby("patient_id")["time"].shift())
        prior = asof(sets, prev, ["previous", "previous_time"], data.validity.labs)
        rise_ok = (prior["previous_time"].notna()
                   & (prior["time"] - prior["previous_time"] <= data.validity.labs))
        sets["lactate_previous"] = prior["previous"].where(rise_ok)
    else:
        sets["lactate_previous"] = np.nan
    calc_map = sets["dbp"] + (sets["sbp"] - sets["dbp"]) / 3  # MAP ≈ DBP + (SBP − DBP)/3 when not measured
    sets["map_used"] = sets["map"].fillna(calc_map)
    ctx = data.dose_context(sets[["patient_id", "time"]])
    in_window = ctx["in_window"].to_numpy(bool)

    lactate_high = (sets["lactate"] > s.lactate_above).fillna(False)
    fever = (sets["temperature"] >= s.fever_c).fillna(False)
    hypotension = ((sets["sbp"] < s.shock_sbp_below) | (sets["map_used"] < s.shock_map_below)).fillna(False)
    shock = hypotension & lactate_high
    qsofa_pos = (sets["qsofa"] >= qsofa_positive).fillna(False)
    news = sets["news2"].astype("Float64")
    news_urgent = (news >= news2_urgent).fillna(False).astype(bool)
    news_emergency = (news >= news2_emergency).fillna(False).astype(bool)
    # NEWS2 without its temperature and heart-rate points: what is left beyond the IL-2 effect.
    beyond = (news - sets["news2_temperature"].astype("Float64") - sets["news2_heart_rate"].astype("Float64"))
    news_beyond = (beyond >= news2_urgent).fillna(False).astype(bool)
    lactate_crit = lactate_high & (fever | hypotension)
    rising = (lactate_high & (sets["lactate"] - sets["lactate_previous"] >= s.lactate_rise)).fillna(False)
    fever_outside = fever & ~in_window
    news_real = news_urgent & (~in_window | news_beyond)
    real = shock | qsofa_pos | lactate_crit | rising | news_real | fever_outside
    tachy = (sets["heart_rate"] > 90).fillna(False)  # SIRS heart-rate criterion (Bone 1992)
    expected = in_window & ~real & (fever | tachy | news_urgent)

    # Text only for the sets that fire (most sets do not): evidence strings are the costly part.
    keep = (real | expected).to_numpy(bool)
    sets, ctx = sets[keep], ctx[keep]
    shock, qsofa_pos, news_real, news_emergency, news_urgent, news_beyond, lactate_crit, rising, fever_outside, \
        real, expected = (m[keep] for m in (shock, qsofa_pos, news_real, news_emergency, news_urgent, news_beyond,
                                            lactate_crit, rising, fever_outside, real, expected))
    in_window = in_window[keep]
    severity = np.select([shock, qsofa_pos | (news_real & news_emergency)], ["emergency", "urgent"], "warning")
    level = np.select(
        [shock, qsofa_pos, news_real & news_emergency, news_real, lactate_crit, rising, fever_outside],
        ["septic shock pattern", "qSOFA >= 2", "NEWS2 >= 7", "NEWS2 5-6", "lactate > 2 with fever or hypotension",
         "rising lactate", "fever outside the IL-2 post-dose window"], "sepsis screen")
    vitals = join_clauses(
        _value_text(sets, "temperature", "T", " °C", 1), _value_text(sets, "heart_rate", "HR", "/min"),
        _value_text(sets, "sbp", "SBP", " mmHg"), _value_text(sets, "map", "MAP", " mmHg"),
        _value_text(sets, "resp_rate", "RR", "/min"), _value_text(sets, "spo2", "SpO2", "%"),
        where_text(sets["consciousness"].notna(), "ACVPU " + sets["consciousness"].fillna("")),
        sep=", ")
    scores = join_clauses(
        where_text(sets["news2"].notna(), "NEWS2 " + sets["news2"].astype("Int64").astype(str)
                   + " (" + sets["news2_band"].fillna("").astype(str) + ")"),
        where_text(sets["news2"].isna(), "NEWS2 not scored (missing: " + sets["news2_missing"].fillna("").astype(str) + ")"),
        where_text(sets["qsofa"].notna(), "qSOFA " + sets["qsofa"].astype("Int64").astype(str)),
        where_text(sets["sirs"].notna(), "SIRS " + sets["sirs"].astype("Int64").astype(str)), sep=", ")
    lactate_text = where_text(sets["lactate"].notna(), "lactate " + fmt_num(sets["lactate"], 1) + " mmol/L at "
                              + fmt_time(sets["lactate_time"]).fillna(""))
    rise_text = where_text(rising, "rising from " + fmt_num(sets["lactate_previous"], 1) + " mmol/L")
    why = join_clauses(
        where_text(shock, "shock pattern: hypotension with lactate > " + f"{s.lactate_above:g}"),
        where_text(fever_outside, "fever outside the post-dose window"),
        where_text(news_urgent & in_window & news_beyond, "NEWS2 >= 5 even without temperature and heart-rate points"),
        sep="; ")
    evidence = join_clauses("set at " + fmt_time(sets["time"]) + ": " + vitals, scores, lactate_text, rise_text, why,
                            sep="; ")
    context = data.context_text(sets[["patient_id", "time"]], ctx)
    base = pd.DataFrame({"patient_id": sets["patient_id"], "time": sets["time"], "level": level,
                         "severity": severity, "evidence": evidence, "context": context})
    sepsis = base[real.to_numpy(bool)]
    effect = base[expected.to_numpy(bool)].assign(
        level="expected IL-2 effect", severity="info",
        evidence=lambda f: f["evidence"] + "; explained by fever/tachycardia in the post-dose window")
    return (pd.concat([sepsis, rigors_sepsis], ignore_index=True),
            pd.concat([effect, rigors_expected], ignore_index=True))


def _rigor_findings(data: EvalData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rigors (nurse grade >= 1) in the window are expected; outside it, or after IL-2 stopped, they count."""
    rigors = data.series("rigors")
    rigors = rigors[rigors["value_num"] >= 1].reset_index(drop=True)
    if rigors.empty:
        empty = pd.DataFrame(columns=["patient_id", "time", "level", "severity", "evidence", "context"])
        return empty, empty
    ctx = data.dose_context(rigors[["patient_id", "time"]])
    text = "rigors grade " + fmt_num(rigors["value_num"], 0) + " at " + fmt_time(rigors["time"])
    context = data.context_text(rigors[["patient_id", "time"]], ctx)
    frame = pd.DataFrame({"patient_id": rigors["patient_id"], "time": rigors["time"], "context": context})
    inside = ctx["in_window"].to_numpy(bool)
    outside = frame[~inside].assign(level="rigors outside the IL-2 post-dose window", severity="warning",
                                    evidence=text[~inside])
    expected = frame[inside].assign(level="expected IL-2 effect", severity="info", evidence=text[inside])
    return outside, expected


def evaluate(data: EvalData, thresholds) -> pd.DataFrame:
    s: SepsisSettings = thresholds["sepsis_screen"]
    schedule = thresholds["il2_schedule"]
    news2 = thresholds["news2"]
    # Bands from RCP Chart 2: medium starts above the first aggregate bound, high above the second.
    sepsis, expected = findings(data, s, qsofa_positive=thresholds["qsofa"].positive_at_or_above,
                                news2_urgent=int(news2.aggregate_upper_bounds[0]) + 1,
                                news2_emergency=int(news2.aggregate_upper_bounds[1]) + 1)
    return pd.concat([
        episodes(sepsis, RULE, gap_hours=s.episode_gap_hours, source=s.source),
        # One expected-effect episode per dose: findings further apart than the window belong to another dose.
        episodes(expected, EXPECTED, source=schedule.source,
                 gap_hours=(schedule.window_to - schedule.window_from).total_seconds() / 3600 + 1),
    ], ignore_index=True)
