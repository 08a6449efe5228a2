"""NEWS2 clinical response (RCP 2017 Chart 4) for every set the IL-2 dose does not explain.

A set raises the row of Chart 4 its score reaches, with the severity the [news2.response] row gives
in data/thresholds.toml: a single parameter scoring 3 (red score: the medical team reviews) ->
warning; aggregate 5-6 (urgent response threshold) -> urgent; 7 or more (emergency response
threshold) -> emergency. The score is always the full NEWS2: a set is left to `il2-expected-effect`
only when monitoring.clinical.rules.expected classes it so (nothing triggers once the fever and tachycardia
the dose explains are removed); any other set in the post-dose window is judged on its full score,
and its evidence names the expected part apart. An incomplete set whose present parameters already
reach a row raises it as "at least N (incomplete: ... missing)": missing is never normal.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from monitoring.clinical.rules.common import Clearance, Findings, Rule, episodes
from monitoring.clinical.rules.context import EvalData, missing_parameters
from monitoring.clinical.rules.evidence import isos, number, template
from monitoring.clinical.rules.expected import judge, set_items
from monitoring.clinical.severities import SEVERITY_RANK

ROWS = ("low-medium", "medium", "high")   # Chart 4 rows that raise an alert (with an alert_severity)
LEVELS = ("red score: a single parameter scoring 3", "urgent response threshold", "emergency response threshold")
RULE = Rule(id="news2", version="1.0", section="news2", standard="NEWS2 clinical response", levels=LEVELS)


def rows_reached(data: EvalData, total: np.ndarray, red: np.ndarray) -> np.ndarray:
    """Index in ROWS of the Chart 4 row each score reaches (-1: none): the higher of the aggregate row
    and, with a red score, the red-score row (RCP 2017 Chart 2 bands)."""
    t = data.thresholds["news2"]
    bounds = t.aggregate_upper_bounds
    row = np.select([total > bounds[1], total > bounds[0]], [2, 1], -1)
    return np.maximum(row, np.where(red, ROWS.index(t.red_score_band) if t.red_score_band in ROWS else 0, -1))


def findings(data: EvalData) -> Findings | None:
    sets = data.sets
    if not len(sets["pid"]):
        return None
    j = judge(data)
    complete = ~np.isnan(sets["news2"])
    total = np.where(complete, sets["news2"], sets["news2_partial"])
    row = rows_reached(data, total, sets["news2_red"])
    responses = data.thresholds["news2"].responses
    severity_of_row = np.array([SEVERITY_RANK.get(responses[r].alert_severity or "info", 0) for r in ROWS])
    raise_it = (row >= 0) & ~j.expected
    raise_it[raise_it] &= severity_of_row[row[raise_it]] > 0
    chosen = np.flatnonzero(raise_it)
    if not len(chosen):
        return None
    pid, time = sets["pid"][chosen], sets["time"][chosen]

    def describe(rows: np.ndarray):
        k = chosen[rows]
        items = [[one] for one in set_items(data, j, k)]
        missing = missing_parameters(sets, k)
        for i, r in enumerate(k.tolist()):
            items[i].append({"criterion": "news2.score", "kind": "met", "code": "news2",
                             "value": number(total[r]), "complete": bool(complete[r]), "missing": missing[i],
                             "row": ROWS[row[r]]})
        return [LEVELS[x] for x in row[k].tolist()], items, data.context_at(pid[rows], time[rows])

    return Findings(pid, time, severity_of_row[row[chosen]], describe, row[chosen].astype(float))


def clearance(data: EvalData) -> Clearance | None:
    """Complete sets whose full score reaches no alerting row of Chart 4 (whether or not the dose
    explains part of it): the response criteria no longer hold. An incomplete set never clears."""
    sets = data.sets
    if not len(sets["pid"]):
        return None
    responses = data.thresholds["news2"].responses
    alerting = np.array([SEVERITY_RANK.get(responses[r].alert_severity or "info", 0) > 0 for r in ROWS])
    complete = ~np.isnan(sets["news2"])
    row = rows_reached(data, np.where(complete, sets["news2"], 0), sets["news2_red"])
    quiet = complete & ~((row >= 0) & alerting[np.maximum(row, 0)])
    rows = np.flatnonzero(quiet)

    def describe(positions: np.ndarray) -> list[list[dict]]:
        k = rows[positions]
        at = isos(sets["time"][k], data.unit)
        return [[{"criterion": "news2.cleared", "kind": "shown", "code": "news2", "value": number(v), "at": at[i]}]
                for i, v in enumerate(sets["news2"][k].tolist())]

    return Clearance(sets["pid"][rows], sets["time"][rows], describe)


def standard(thresholds) -> str:
    t = thresholds["news2"]
    bounds = t.aggregate_upper_bounds
    sev = {r: t.responses[r].alert_severity or "no alert" for r in ROWS}
    return (f"{RULE.standard} (RCP 2017 Chart 4): a single parameter scoring {t.red_score_points} -> "
            f"{sev['low-medium']} (medical team to review); aggregate >= {bounds[0] + 1:g} -> {sev['medium']} (urgent "
            f"response); >= {bounds[1] + 1:g} -> {sev['high']} (emergency response); always the full score; an "
            "incomplete set raises the row its present parameters already reach; a set in the IL-2 post-dose "
            "window is left to il2-expected-effect only when nothing triggers without the fever and tachycardia "
            "the dose explains")


def evaluate(data: EvalData, thresholds) -> dict | None:
    t = thresholds["news2"]
    return episodes(data, findings(data), replace(RULE, standard=standard(thresholds)),
                    gap_hours=t.alert_episode_gap_hours, source=t.response_source, cleared=clearance(data))


# --- wording ---------------------------------------------------------------------------------------

@template("news2.score")
def _score(item, when) -> str:
    value = f"{item['value']:.0f}"
    text = f"NEWS2 {value}" if item["complete"] else \
        f"NEWS2 at least {value} (incomplete: {', '.join(item['missing'])} missing)"
    return f"{text} ({item['row']})"
