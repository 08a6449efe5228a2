"""Sepsis screen, aware of the IL-2 dose schedule, and the expected IL-2 effect it leaves aside.

Triggers at each observation set the dose does not explain (monitoring.clinical.rules.expected), with the
vital signs valid at that moment and the lactate judged with the set (the latest valid one, or the
first within late_result_hours after the set):
  septic-shock pattern (SBP < 90 or MAP < 65 with lactate > 2 mmol/L; Sepsis-3): emergency;
  NEWS2 >= 7 ('think sepsis', RCP 2017; emergency response): emergency;
  qSOFA >= 2 (Sepsis-3), NEWS2 5-6 ('think sepsis'): urgent;
  lactate > 2 with fever or hypotension, a rising lactate, a fever the dose does not explain (outside
  the post-dose window of the regimen, or above the expected band), hypothermia (SIRS < 36 °C): warning.
On their own, without a set: a lactate >= 4 mmol/L (Surviving Sepsis Campaign hour-1 bundle 2018:
30 mL/kg crystalloid) and a positive blood culture are urgent; rigors outside the post-dose window
(or after IL-2 stopped) are a warning.
Sets the dose explains are reported as rule `il2-expected-effect` (severity info: counted and shown,
never dropped), each naming what is explained.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from pydantic import Field, model_validator

from monitoring.clinical.rules.common import Clearance, Findings, Rule, episodes
from monitoring.clinical.rules.context import NAT, EvalData, missing_parameters
from monitoring.clinical.rules.evidence import isos, number, template
from monitoring.clinical.rules.expected import judge, set_items
from monitoring.clinical.thresholds import Refused, SectionModel, section

#: Levels least to most serious, with the severity each gives (rank in SEVERITIES).
LEVEL_SEVERITY = (
    ("hypothermia", 1), ("rigors outside the IL-2 post-dose window", 1),
    ("fever outside the IL-2 post-dose window", 1), ("fever above the expected IL-2 band", 1),
    ("rising lactate", 1), ("raised lactate with fever or hypotension", 1),
    ("lactate at the resuscitation level", 2), ("positive blood culture", 2),
    ("NEWS2 urgent threshold: think sepsis", 2), ("qSOFA positive", 2),
    ("NEWS2 emergency threshold: think sepsis", 3), ("septic shock pattern", 3))
LEVELS = tuple(name for name, _ in LEVEL_SEVERITY)
SEVERITY_OF = np.array([s for _, s in LEVEL_SEVERITY])
L = {name: i for i, name in enumerate(LEVELS)}
EXPECTED_LEVEL = "expected IL-2 effect"
RULE = Rule(id="sepsis-screen", version="2.0", section="sepsis_screen", standard="Sepsis screen", levels=LEVELS)
EXPECTED = Rule(id="il2-expected-effect", version="2.0", section="il2_schedule", standard="Expected IL-2 effect",
                levels=(EXPECTED_LEVEL,))


@section("sepsis_screen")
class SepsisSettings(SectionModel):
    """[sepsis_screen]: Sepsis-3 (septic shock: lactate > 2 mmol/L with SBP < 90 or MAP < 65), Surviving Sepsis
    Campaign 2018 (lactate >= 4 mmol/L); qSOFA and the NEWS2 bands are read from [qsofa] and [news2.bands]."""

    lactate_above: float = Field(alias="lactate_above_mmol_l", ge=0, le=20, description=(
        "Raised lactate (mmol/L): above this (Sepsis-3 septic shock)"))
    fever_c: float = Field(ge=37, le=41, description="Fever outside the post-dose window (°C): at or above this")
    shock_sbp_below: float = Field(ge=40, le=150, description="Shock pattern: SBP below this (mmHg) with a raised "
                                                              "lactate")
    shock_map_below: float = Field(ge=30, le=120, description="Shock pattern: MAP below this (mmHg) with a raised "
                                                              "lactate")
    lactate_rise: float = Field(alias="lactate_rise_mmol_l", ge=0, le=10, description=(
        "Rising lactate: a rise of at least this (mmol/L) within the lactate validity (local choice)"))
    lactate_urgent: float = Field(alias="lactate_urgent_at_or_above", ge=0, le=30, description=(
        "Lactate at the resuscitation level (mmol/L, SSC hour-1 bundle): at or above this, above "
        "lactate_above_mmol_l"))
    late_result_hours: float = Field(ge=0, le=24, description="A result taken this long after a set is judged with "
                                                              "the set (h; local choice)")
    episode_gap_hours: float = Field(ge=1, le=720, description="Alerts closer than this belong to one episode (h)")

    @model_validator(mode="after")
    def _urgent_above_raised(self) -> SepsisSettings:
        if self.lactate_urgent <= self.lactate_above:
            raise Refused("lactate_urgent_at_or_above", f"must be above lactate_above_mmol_l ({self.lactate_above:g})")
        return self


def news2_levels(thresholds) -> tuple[int, int]:
    """(urgent, emergency) NEWS2 of the screen: the medium and high bands of RCP 2017 Chart 2, which
    start above the first and the second aggregate bound of [news2.bands]."""
    bounds = thresholds["news2"].aggregate_upper_bounds
    return int(bounds[0]) + 1, int(bounds[1]) + 1


class SetTriggers:
    """The sepsis criteria at every set the dose does not explain (arrays over data.sets)."""

    def __init__(self, data: EvalData, s: SepsisSettings):
        t = data.thresholds
        sets, j = data.sets, judge(data)
        self.data, self.s, self.j = data, s, j
        calc_map = sets["dbp"] + (sets["sbp"] - sets["dbp"]) / 3  # MAP ≈ DBP + (SBP − DBP)/3 when not measured
        map_used = np.where(np.isnan(sets["map"]), calc_map, sets["map"])
        self.map_used = map_used
        urgent, emergency = news2_levels(t)
        complete = ~np.isnan(sets["news2"])
        self.news = np.where(complete, sets["news2"], sets["news2_partial"])
        fever = j.fever
        self.hypotension = (sets["sbp"] < s.shock_sbp_below) | (map_used < s.shock_map_below)
        lactate_high = j.lactate_high
        judged = ~j.expected
        self.met = {
            "septic shock pattern": self.hypotension & lactate_high,
            "NEWS2 emergency threshold: think sepsis": self.news >= emergency,
            "qSOFA positive": j.qsofa_positive,
            "NEWS2 urgent threshold: think sepsis": (self.news >= urgent) & (self.news < emergency),
            "lactate at the resuscitation level": j.lactate >= s.lactate_urgent,
            "raised lactate with fever or hypotension": lactate_high & (fever | self.hypotension),
            "rising lactate": lactate_high & (j.lactate - j.lactate_previous >= s.lactate_rise),
            "fever outside the IL-2 post-dose window": fever & ~j.in_window,
            "fever above the expected IL-2 band": j.above_band,
            "hypothermia": sets["temperature"] < t["sirs"].temperature_below,
        }
        level = np.full(len(sets["pid"]), -1)
        for name, mask in self.met.items():
            level = np.where(mask & judged, np.maximum(level, L[name]), level)
        self.level = level
        # A finding that uses a lactate drawn after the set is known when that result is.
        uses_lactate = (self.met["septic shock pattern"] | self.met["lactate at the resuscitation level"]
                        | self.met["raised lactate with fever or hypotension"] | self.met["rising lactate"])
        late = uses_lactate & (j.lactate_time != NAT) & (j.lactate_time > sets["time"])
        self.time = np.where(late, j.lactate_time, sets["time"])

    def items(self, rows: np.ndarray) -> list[list[dict]]:
        sets, j, unit = self.data.sets, self.j, self.data.unit
        base = set_items(self.data, j, rows)
        lactate_at = isos(j.lactate_time[rows], unit)
        met_rows = np.column_stack([self.met[name][rows] for name in LEVELS if name in self.met]).tolist()
        met_names = [name for name in LEVELS if name in self.met]
        missing = missing_parameters(sets, rows)
        out = []
        for i, k in enumerate(rows.tolist()):
            items = [base[i], {"criterion": "sepsis.scores", "kind": "shown", "news2": number(self.news[k]),
                               "complete": bool(sets["news2"][k] == sets["news2"][k]), "missing": missing[i],
                               "band": None if sets["news2_band"][k] != sets["news2_band"][k] else
                               str(sets["news2_band"][k]),
                               "qsofa": number(sets["qsofa"][k]), "sirs": number(sets["sirs"][k])}]
            if j.lactate[k] == j.lactate[k]:
                items.append({"criterion": "sepsis.lactate", "kind": "shown", "code": "lactate",
                              "value": number(j.lactate[k]), "unit": "mmol/L", "at": lactate_at[i],
                              "previous": number(j.lactate_previous[k]) if self.met["rising lactate"][k] else None})
            met = [name for name, hit in zip(met_names, met_rows[i]) if hit]
            items.append({"criterion": "sepsis.criteria", "kind": "met", "met": met[::-1],
                          "lactate_above": self.s.lactate_above, "map": number(self.map_used[k])})
            out.append(items)
        return out


def _series_findings(data: EvalData, s: SepsisSettings):
    """Findings without a set: lactate >= the urgent level, a positive blood culture, rigors outside
    the post-dose window (pid, time, level index, items per row)."""
    parts = []
    lactate = data.series("lactate")
    rows = np.flatnonzero(lactate.num >= s.lactate_urgent)
    if len(rows):
        at = isos(lactate.time[rows], data.unit)
        parts.append((lactate.pid[rows], lactate.time[rows],
                      np.full(len(rows), L["lactate at the resuscitation level"]),
                      [[{"criterion": "sepsis.lactate_urgent", "kind": "met", "code": "lactate",
                         "value": number(lactate.num[r]), "unit": "mmol/L", "at": at[i], "op": ">=",
                         "limit": s.lactate_urgent}] for i, r in enumerate(rows.tolist())]))
    culture = data.series("blood_culture")
    rows = np.flatnonzero(culture.code == "positive") if len(culture) else np.zeros(0, dtype=np.int64)
    if len(rows):
        at = isos(culture.time[rows], data.unit)
        parts.append((culture.pid[rows], culture.time[rows], np.full(len(rows), L["positive blood culture"]),
                      [[{"criterion": "sepsis.blood_culture", "kind": "met", "code": "blood_culture",
                         "value": "positive", "at": at[i]}] for i in range(len(rows))]))
    rigors = data.series("rigors")
    rows = np.flatnonzero(rigors.num >= 1)
    if len(rows):
        ctx = data.dose_context(rigors.pid[rows], rigors.time[rows])
        outside = rows[~ctx.in_window]
        at = isos(rigors.time[outside], data.unit)
        parts.append((rigors.pid[outside], rigors.time[outside],
                      np.full(len(outside), L["rigors outside the IL-2 post-dose window"]),
                      [[{"criterion": "sepsis.rigors", "kind": "met", "code": "rigors", "value": number(rigors.num[r]),
                         "at": at[i]}] for i, r in enumerate(outside.tolist())]))
    return parts


def findings(data: EvalData, s: SepsisSettings) -> Findings | None:
    sets = data.sets
    triggers = SetTriggers(data, s) if len(sets["pid"]) else None
    set_rows = np.flatnonzero(triggers.level >= 0) if triggers is not None else np.zeros(0, dtype=np.int64)
    parts = _series_findings(data, s)
    pid = np.concatenate([sets["pid"][set_rows]] + [p[0] for p in parts])
    time = np.concatenate([triggers.time[set_rows] if triggers is not None else np.zeros(0, dtype=np.int64)]
                          + [p[1] for p in parts])
    level = np.concatenate([triggers.level[set_rows] if triggers is not None else np.zeros(0, dtype=np.int64)]
                           + [p[2] for p in parts]).astype(np.int64)
    data.cache["screen_times"] = (pid, time)
    if triggers is not None:
        data.cache["sepsis_triggers"] = triggers
    if not len(pid):
        return None
    n_sets = len(set_rows)
    offsets = np.cumsum([n_sets] + [len(p[0]) for p in parts])

    def describe(positions: np.ndarray):
        out_items: list = [None] * len(positions)
        mine = np.flatnonzero(positions < n_sets)
        if len(mine):
            for target, items in zip(mine.tolist(), triggers.items(set_rows[positions[mine]])):
                out_items[target] = items
        for p_index, part in enumerate(parts):
            lo, hi = offsets[p_index], offsets[p_index + 1]
            for target in np.flatnonzero((positions >= lo) & (positions < hi)).tolist():
                out_items[target] = part[3][positions[target] - lo]
        return ([LEVELS[x] for x in level[positions].tolist()], out_items,
                data.context_at(pid[positions], time[positions]))

    # A set's trigger can be found cleared by a later quiet set; a lactate at the resuscitation level, a
    # positive blood culture or rigors cannot (a normal set does not undo them).
    clearable = np.arange(len(pid)) < n_sets
    return Findings(pid, time, SEVERITY_OF[level], describe, level.astype(float), clearable)


def clearance(data: EvalData, s: SepsisSettings) -> Clearance | None:
    """Complete sets (every NEWS2 parameter valid, so qSOFA too) meeting none of the screen's set
    criteria, whether or not the dose explains them: the screen no longer triggers."""
    triggers = data.cache.get("sepsis_triggers")
    if triggers is None:
        return None
    sets = data.sets
    met = np.zeros(len(sets["pid"]), dtype=bool)
    for mask in triggers.met.values():
        met |= mask
    rows = np.flatnonzero(~np.isnan(sets["news2"]) & ~met)

    def describe(positions: np.ndarray) -> list[list[dict]]:
        k = rows[positions]
        at = isos(sets["time"][k], data.unit)
        return [[{"criterion": "sepsis.cleared", "kind": "shown", "at": at[i], "news2": number(sets["news2"][r]),
                  "qsofa": number(sets["qsofa"][r]), "sirs": number(sets["sirs"][r])}]
                for i, r in enumerate(k.tolist())]

    return Clearance(sets["pid"][rows], sets["time"][rows], describe)


def screen_times(data: EvalData) -> tuple[np.ndarray, np.ndarray]:
    """(patient, time) of every sepsis-screen finding of this evaluation (the IL-2 hold check reads it)."""
    if "screen_times" not in data.cache:
        findings(data, data.thresholds["sepsis_screen"])
    return data.cache["screen_times"]


def expected_findings(data: EvalData) -> Findings | None:
    """Sets the dose explains (judge: expected), and rigors inside the post-dose window."""
    sets = data.sets
    rows = np.flatnonzero(judge(data).expected) if len(sets["pid"]) else np.zeros(0, dtype=np.int64)
    rigors = data.series("rigors")
    r_rows = np.flatnonzero(rigors.num >= 1)
    if len(r_rows):
        r_rows = r_rows[data.dose_context(rigors.pid[r_rows], rigors.time[r_rows]).in_window]
    pid = np.concatenate([sets["pid"][rows], rigors.pid[r_rows]])
    time = np.concatenate([sets["time"][rows], rigors.time[r_rows]])
    if not len(pid):
        return None
    n_sets = len(rows)
    j = judge(data) if n_sets else None

    def describe(positions: np.ndarray):
        out: list = [None] * len(positions)
        mine = np.flatnonzero(positions < n_sets)
        if len(mine):
            k = rows[positions[mine]]
            base = set_items(data, j, k)
            full = sets["news2"][k]
            complete = (full == full).tolist()
            news = np.where(full == full, full, sets["news2_partial"][k]).tolist()
            remaining = j.remaining[k].tolist()
            for target, item, n, rest, whole in zip(mine.tolist(), base, news, remaining, complete):
                out[target] = [item, {"criterion": "expected.summary", "kind": "expected", "news2": n,
                                      "remaining": rest, "complete": whole}]
        theirs = np.flatnonzero(positions >= n_sets)
        if len(theirs):
            k = r_rows[positions[theirs] - n_sets]
            at = isos(rigors.time[k], data.unit)
            for target, i, r in zip(theirs.tolist(), range(len(k)), k.tolist()):
                out[target] = [{"criterion": "expected.rigors", "kind": "expected", "code": "rigors",
                                "value": number(rigors.num[r]), "at": at[i]}]
        return [EXPECTED_LEVEL] * len(positions), out, data.context_at(pid[positions], time[positions])

    return Findings(pid, time, np.zeros(len(pid), dtype=np.int64), describe)


def standards(thresholds) -> tuple[str, str]:
    """(sepsis screen, expected IL-2 effect) as applied, from the thresholds in force."""
    s: SepsisSettings = thresholds["sepsis_screen"]
    schedule = thresholds["il2_schedule"]
    lactate = f"lactate > {s.lactate_above:g} mmol/L"
    hypotension = f"SBP < {s.shock_sbp_below:g} mmHg or MAP < {s.shock_map_below:g} mmHg"
    urgent, emergency = news2_levels(thresholds)
    labs_hours = thresholds["validity"].labs.total_seconds() / 3600
    low, high = schedule.expected_temperature
    sepsis = (f"{RULE.standard}: septic-shock pattern ({hypotension} with {lactate}) and NEWS2 >= {emergency} "
              f"(think sepsis): emergency; qSOFA >= {thresholds['qsofa'].positive_at_or_above:g}, NEWS2 "
              f"{urgent}-{emergency - 1} (think sepsis), lactate >= {s.lactate_urgent:g} mmol/L (hour-1 bundle) and a "
              f"positive blood culture: urgent; {lactate} with fever (>= {s.fever_c:g} °C) or hypotension, {lactate} "
              f"that rose by >= {s.lactate_rise:g} mmol/L from the previous value within {labs_hours:g} h, a fever "
              f"outside the IL-2 post-dose window or above {high:g} °C, hypothermia (< "
              f"{thresholds['sirs'].temperature_below:g} °C), rigors outside the window: warning. A lactate taken "
              f"within {s.late_result_hours:g} h after a set is judged with it. Sets the dose explains are left to "
              f"il2-expected-effect; every other set in the window is judged on its full score")
    expected = (f"{EXPECTED.standard}: in the post-dose window ({schedule.describe_all()}), a fever up to "
                f"{high:g} °C or a heart rate up to {schedule.expected_heart_rate_at_or_below:g}/min, with nothing "
                f"else triggering once their points are removed: the rest of NEWS2 below {urgent}, no other "
                f"parameter scoring 3, qSOFA < {thresholds['qsofa'].positive_at_or_above:g}, no {lactate}, no "
                "danger-sign IL-2 hold criterion (SBP < 90, SpO2 < 90, not Alert, infection ...), no febrile "
                f"neutropenia; hypothermia is never expected (temperature points explained from {low:g} °C); not a "
                "sepsis alert, shown and counted")
    return sepsis, expected


def evaluate(data: EvalData, thresholds) -> list[dict | None]:
    s: SepsisSettings = thresholds["sepsis_screen"]
    schedule = thresholds["il2_schedule"]
    sepsis_standard, expected_standard = standards(thresholds)
    return [
        episodes(data, findings(data, s), replace(RULE, standard=sepsis_standard), gap_hours=s.episode_gap_hours,
                 source=s.source, cleared=clearance(data, s)),
        # One expected-effect episode per dose: findings further apart than the window belong to another dose.
        episodes(data, expected_findings(data), replace(EXPECTED, standard=expected_standard), source=schedule.source,
                 gap_hours=(schedule.window_to - schedule.window_from).total_seconds() / 3600 + 1,
                 onset_evidence=False),
    ]


# --- wording ---------------------------------------------------------------------------------------

@template("sepsis.scores")
def _scores(item, when) -> str:
    if item["news2"] is None:
        news = "NEWS2 not scored"
    elif item["complete"]:
        news = f"NEWS2 {item['news2']:.0f} ({item['band']})"
    else:
        news = f"NEWS2 at least {item['news2']:.0f} (incomplete: {', '.join(item['missing'])} missing)"
    parts = [news]
    if item.get("qsofa") is not None:
        parts.append(f"qSOFA {item['qsofa']:.0f}")
    if item.get("sirs") is not None:
        parts.append(f"SIRS {item['sirs']:.0f}")
    return ", ".join(parts)


@template("sepsis.cleared")
def _cleared(item, when) -> str:
    scores = [f"{name} {item[key]:.0f}" for name, key in (("NEWS2", "news2"), ("qSOFA", "qsofa"), ("SIRS", "sirs"))
              if item.get(key) is not None]
    return f"{', '.join(scores)} at {when(item['at'])}"


@template("sepsis.lactate")
def _lactate(item, when) -> str:
    text = f"lactate {item['value']:.1f} mmol/L at {when(item['at'])}"
    return text + (f", rising from {item['previous']:.1f} mmol/L" if item.get("previous") is not None else "")


@template("sepsis.criteria")
def _criteria(item, when) -> str:
    return "criteria met: " + ", ".join(item["met"]) if item["met"] else ""


@template("sepsis.lactate_urgent")
def _lactate_urgent(item, when) -> str:
    return (f"lactate {item['value']:.1f} mmol/L at {when(item['at'])} (>= {item['limit']:g}: Surviving Sepsis "
            "hour-1 bundle, 30 mL/kg crystalloid)")


@template("sepsis.blood_culture")
def _culture(item, when) -> str:
    return f"blood culture positive, reported {when(item['at'])}"


@template("sepsis.rigors")
def _rigors(item, when) -> str:
    return f"rigors grade {item['value']:.0f} at {when(item['at'])}"


@template("expected.summary")
def _summary(item, when) -> str:
    news = "NEWS2" if item["complete"] else "NEWS2 (incomplete) at least"
    return (f"{news} {item['news2']:.0f}, {item['remaining']:.0f} of it not explained by the dose: no trigger "
            "beyond the expected fever and tachycardia")


@template("expected.rigors")
def _expected_rigors(item, when) -> str:
    return f"rigors grade {item['value']:.0f} at {when(item['at'])} (expected after the dose)"
