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

from dataclasses import dataclass, replace

import numpy as np

from monitoring.rules.common import NAT, Findings, Rule, clock_text, episodes, join_clauses, num_text, time_text
from monitoring.rules.context import EvalData, take
from monitoring.thresholds import Section, Source, parser

# The standards shown with the alerts are written from the thresholds in force (`standards`).
RULE = Rule(id="sepsis-screen", version="1.0", section="sepsis_screen", standard="Sepsis screen")
EXPECTED = Rule(id="il2-expected-effect", version="1.0", section="il2_schedule", standard="Expected IL-2 effect")


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


LEVELS = ("septic shock pattern", "qSOFA >= 2", "NEWS2 >= 7", "NEWS2 5-6", "lactate > 2 with fever or hypotension",
          "rising lactate", "fever outside the IL-2 post-dose window", "sepsis screen")
EXPECTED_LEVEL = "expected IL-2 effect"
#: Vital signs in the evidence: (code, label, unit, decimals).
VITAL_TEXT = (("temperature", "T", " °C", 1), ("heart_rate", "HR", "/min", 0), ("sbp", "SBP", " mmHg", 0),
              ("map", "MAP", " mmHg", 0), ("resp_rate", "RR", "/min", 0), ("spo2", "SpO2", "%", 0))


class SetFindings:
    """The sepsis criteria at every observation set (arrays over data.sets)."""

    def __init__(self, data: EvalData, s: SepsisSettings, *, qsofa_positive: int, news2_urgent: int,
                 news2_emergency: int, tachycardia_above: float):
        self.data, self.s = data, s
        sets = self.sets = data.sets
        pid, time = sets["pid"], sets["time"]
        lactate = data.series("lactate")
        idx = data.asof(pid, time, lactate, data.validity.labs, key=sets["key"])
        self.lactate, self.lactate_time = take(lactate.num, idx, np.nan), take(lactate.time, idx, NAT)
        prev = take(lactate.previous(), idx, -1)
        prev_time = take(lactate.time, prev, NAT)
        rise_ok = (prev >= 0) & (self.lactate_time - prev_time <= data.ticks(data.validity.labs))
        self.lactate_previous = np.where(rise_ok, take(lactate.num, prev, np.nan), np.nan)
        calc_map = sets["dbp"] + (sets["sbp"] - sets["dbp"]) / 3  # MAP ≈ DBP + (SBP − DBP)/3 when not measured
        map_used = np.where(np.isnan(sets["map"]), calc_map, sets["map"])
        self.ctx = ctx = data.dose_context(pid, time)
        in_window = ctx.in_window

        lactate_high = self.lactate > s.lactate_above
        fever = sets["temperature"] >= s.fever_c
        hypotension = (sets["sbp"] < s.shock_sbp_below) | (map_used < s.shock_map_below)
        self.shock = shock = hypotension & lactate_high
        qsofa_pos = sets["qsofa"] >= qsofa_positive
        news = sets["news2"]
        news_urgent = news >= news2_urgent
        news_emergency = news >= news2_emergency
        # NEWS2 without its temperature and heart-rate points: what is left beyond the IL-2 effect.
        news_beyond = (news - sets["news2_temperature"] - sets["news2_heart_rate"]) >= news2_urgent
        lactate_crit = lactate_high & (fever | hypotension)
        self.rising = rising = lactate_high & (self.lactate - self.lactate_previous >= s.lactate_rise)
        self.fever_outside = fever_outside = fever & ~in_window
        news_real = news_urgent & (~in_window | news_beyond)
        self.real = shock | qsofa_pos | lactate_crit | rising | news_real | fever_outside
        tachy = sets["heart_rate"] > tachycardia_above  # the SIRS heart-rate criterion ([sirs] section)
        self.expected = in_window & ~self.real & (fever | tachy | news_urgent)
        self.severity = np.select([shock, qsofa_pos | (news_real & news_emergency)], [3, 2], 1)
        self.level = np.select([shock, qsofa_pos, news_real & news_emergency, news_real, lactate_crit, rising,
                                fever_outside], list(range(7)), 7)
        self.beyond_in_window = news_urgent & in_window & news_beyond

    def evidence(self, rows: np.ndarray, explained: bool) -> list[str]:
        """Evidence for the chosen sets only (text is the costly part)."""
        sets, unit, s = self.sets, self.data.unit, self.s
        time = sets["time"][rows]
        vitals = []
        for code, label, suffix, decimals in VITAL_TEXT:
            values = sets[code][rows]
            texts = num_text(values, decimals)
            taken = sets[code + "_time"][rows]
            carried = (taken != NAT) & (taken != time)
            clocks = clock_text(taken, unit)
            vitals.append([("" if v != v else f"{label} {t}{suffix} (from {c})" if k else f"{label} {t}{suffix}")
                           for v, t, k, c in zip(values.tolist(), texts, carried.tolist(), clocks)])
        vitals.append(["" if a is None or a != a else f"ACVPU {a}" for a in sets["consciousness"][rows].tolist()])
        news, band = sets["news2"][rows].tolist(), sets["news2_band"][rows].tolist()
        missing = sets["news2_missing"][rows].tolist()
        qsofa, sirs = sets["qsofa"][rows].tolist(), sets["sirs"][rows].tolist()
        lactate, lactate_at = num_text(self.lactate[rows], 1), time_text(self.lactate_time[rows], unit)
        has_lactate = ~np.isnan(self.lactate[rows])
        previous = num_text(self.lactate_previous[rows], 1)
        when = time_text(time, unit)
        shock, fever_outside, rising, beyond = (self.shock[rows], self.fever_outside[rows], self.rising[rows],
                                                self.beyond_in_window[rows])
        out = []
        for i in range(len(rows)):
            vital_text = join_clauses(*(column[i] for column in vitals), sep=", ")
            scores = join_clauses(
                f"NEWS2 {int(news[i])} ({'' if band[i] is None or band[i] != band[i] else band[i]})"
                if news[i] == news[i] else
                f"NEWS2 not scored (missing: {'' if missing[i] is None or missing[i] != missing[i] else missing[i]})",
                f"qSOFA {int(qsofa[i])}" if qsofa[i] == qsofa[i] else "",
                f"SIRS {int(sirs[i])}" if sirs[i] == sirs[i] else "", sep=", ")
            why = join_clauses(
                f"shock pattern: hypotension with lactate > {s.lactate_above:g}" if shock[i] else "",
                "fever outside the post-dose window" if fever_outside[i] else "",
                "NEWS2 >= 5 even without temperature and heart-rate points" if beyond[i] else "",
                "explained by fever/tachycardia in the post-dose window" if explained else "")
            out.append(join_clauses(
                f"set at {when[i]}: {vital_text}", scores,
                f"lactate {lactate[i]} mmol/L at {lactate_at[i]}" if has_lactate[i] else "",
                f"rising from {previous[i]} mmol/L" if rising[i] else "", why))
        return out


def _rigors(data: EvalData):
    """Rigors (nurse grade >= 1) in the window are expected; outside it, or after IL-2 stopped, they count."""
    rigors = data.series("rigors")
    rows = np.flatnonzero(rigors.num >= 1)
    pid, time = rigors.pid[rows], rigors.time[rows]
    ctx = data.dose_context(pid, time)
    return pid, time, rigors.num[rows], ctx


def _combined(data: EvalData, found: SetFindings, set_rows: np.ndarray, rigor, rigor_rows: np.ndarray,
              set_severity: np.ndarray, set_level: list[str] | None, rigor_severity: int, rigor_level: str,
              explained: bool) -> Findings:
    """Set findings then rigor findings (their order within an episode's ties)."""
    r_pid, r_time, r_grade, r_ctx = rigor
    n_sets = len(set_rows)
    pid = np.concatenate([found.sets["pid"][set_rows], r_pid[rigor_rows]])
    time = np.concatenate([found.sets["time"][set_rows], r_time[rigor_rows]])
    severity = np.concatenate([set_severity, np.full(len(rigor_rows), rigor_severity)])

    def describe(positions: np.ndarray):
        n = len(positions)
        out_levels, out_evidence, out_context = [None] * n, [None] * n, [None] * n
        mine = np.flatnonzero(positions < n_sets)
        if len(mine):
            rows = set_rows[positions[mine]]
            evidence = found.evidence(rows, explained)
            context = data.context_text(found.ctx, rows)
            for j, k, e, c in zip(mine.tolist(), positions[mine].tolist(), evidence, context):
                out_levels[j] = set_level[k] if set_level is not None else EXPECTED_LEVEL
                out_evidence[j], out_context[j] = e, c
        theirs = np.flatnonzero(positions >= n_sets)
        if len(theirs):
            rows = rigor_rows[positions[theirs] - n_sets]
            grades, when = num_text(r_grade[rows], 0), time_text(r_time[rows], data.unit)
            context = data.context_text(r_ctx, rows)
            for j, g, w, c in zip(theirs.tolist(), grades, when, context):
                out_levels[j], out_evidence[j], out_context[j] = rigor_level, f"rigors grade {g} at {w}", c
        return out_levels, out_evidence, out_context

    return Findings(pid, time, severity, describe)


def findings(data: EvalData, s: SepsisSettings, *, qsofa_positive: int, news2_urgent: int,
             news2_emergency: int, tachycardia_above: float) -> tuple[Findings | None, Findings | None]:
    rigor = _rigors(data)
    inside = rigor[3].in_window
    outside_rows, inside_rows = np.flatnonzero(~inside), np.flatnonzero(inside)
    empty = np.zeros(0, dtype=np.int64)
    if not len(data.sets["pid"]):
        found = None
        real_rows = expected_rows = empty
    else:
        found = SetFindings(data, s, qsofa_positive=qsofa_positive, news2_urgent=news2_urgent,
                            news2_emergency=news2_emergency, tachycardia_above=tachycardia_above)
        real_rows, expected_rows = np.flatnonzero(found.real), np.flatnonzero(found.expected)
    if found is None:
        found = _NoSets(data)
    sepsis = _combined(data, found, real_rows, rigor, outside_rows,
                       found.severity[real_rows] if len(real_rows) else empty,
                       [LEVELS[k] for k in found.level[real_rows].tolist()] if len(real_rows) else [],
                       1, "rigors outside the IL-2 post-dose window", explained=False)
    effect = _combined(data, found, expected_rows, rigor, inside_rows, np.zeros(len(expected_rows), dtype=np.int64),
                       None, 0, EXPECTED_LEVEL, explained=True)
    return sepsis, effect


class _NoSets:
    def __init__(self, data: EvalData):
        self.sets = data.sets
        self.severity = self.level = np.zeros(0, dtype=np.int64)


def news2_levels(thresholds) -> tuple[int, int]:
    """(urgent, emergency) NEWS2 of the screen: the medium and high bands of RCP 2017 Chart 2, which
    start above the first and the second aggregate bound of [news2.bands]."""
    bounds = thresholds["news2"].aggregate_upper_bounds
    return int(bounds[0]) + 1, int(bounds[1]) + 1


def standards(thresholds) -> tuple[str, str]:
    """(sepsis screen, expected IL-2 effect) as applied, from the thresholds in force."""
    s: SepsisSettings = thresholds["sepsis_screen"]
    window = thresholds["il2_schedule"].describe()
    lactate = f"lactate > {s.lactate_above:g} mmol/L"
    hypotension = f"SBP < {s.shock_sbp_below:g} mmHg or MAP < {s.shock_map_below:g} mmHg"
    urgent, emergency = news2_levels(thresholds)
    labs_hours = thresholds["validity"].labs.total_seconds() / 3600
    sepsis = (f"{RULE.standard}: qSOFA >= {thresholds['qsofa'].positive_at_or_above:g} (urgent); NEWS2 >= {urgent} "
              f"(>= {emergency}: urgent), within the IL-2 post-dose window ({window}) only if still >= {urgent} "
              f"without its temperature and heart-rate points; {lactate} with fever (>= {s.fever_c:g} °C) or "
              f"hypotension ({hypotension}); fever or rigors outside the post-dose window; {lactate} that rose by "
              f">= {s.lactate_rise:g} mmol/L from the previous value within {labs_hours:g} h; septic-shock pattern "
              f"(emergency): {hypotension} with {lactate}")
    expected = (f"{EXPECTED.standard}: fever, rigors or tachycardia (heart rate > "
                f"{thresholds['sirs'].heart_rate_above:g}/min) {window}, with no sepsis criterion beyond them (a "
                f"NEWS2 >= {urgent} only through its temperature and heart-rate points, qSOFA < "
                f"{thresholds['qsofa'].positive_at_or_above:g}, no lactate criterion); not a sepsis alert, shown and "
                "counted")
    return sepsis, expected


def evaluate(data: EvalData, thresholds) -> list[dict | None]:
    s: SepsisSettings = thresholds["sepsis_screen"]
    schedule = thresholds["il2_schedule"]
    news2_urgent, news2_emergency = news2_levels(thresholds)
    sepsis, expected = findings(data, s, qsofa_positive=thresholds["qsofa"].positive_at_or_above,
                                news2_urgent=news2_urgent, news2_emergency=news2_emergency,
                                tachycardia_above=thresholds["sirs"].heart_rate_above)
    sepsis_standard, expected_standard = standards(thresholds)
    return [
        episodes(data, sepsis, replace(RULE, standard=sepsis_standard), gap_hours=s.episode_gap_hours,
                 source=s.source),
        # One expected-effect episode per dose: findings further apart than the window belong to another dose.
        episodes(data, expected, replace(EXPECTED, standard=expected_standard), source=schedule.source,
                 gap_hours=(schedule.window_to - schedule.window_from).total_seconds() / 3600 + 1),
    ]
