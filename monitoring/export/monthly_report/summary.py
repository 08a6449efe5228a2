"""The one-page summary of the monthly report, computed from the tables as released.

Taken from the released tables (monitoring.export.writers.for_release), never from the store, so a
small cell withheld in a table stays withheld here: a figure computed from a withheld count is
withheld too (its text, "withheld (<5)", is carried over, never a guess). Missing is never zero: a
rate without patient-days or a latency without an answered alert is None ("not determined").

Measures the quality tables did not yet give (the issue's "one-page summary"):
* alerts per 100 patient-days by rule: the rule's alerts / the selection's patient-days x 100 (the
  cohort's rate unit, quality.COLUMN_DOCS "per_100_patient_days");
* expected-effect share: expected post-dose IL-2 effects / (expected effects + sepsis-screen alerts)
  x 100: of the alerts a post-dose fever could raise, the share the dose schedule explained
  (monitoring.clinical.rules.sepsis: expected only when nothing else triggers);
* pre-dose check overrides: doses given over the check (on the oncologist's decision or by a named
  override, issue 15) / doses given x 100.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from monitoring.export.quality import ALL_REGIMENS, EXPECTED_RULE, SEPSIS_RULE

Figure = float | int | str | None   # a number, a withheld cell's text, or None (not determined)
HEADLINE_MEASURES = ("doses_given", "doses_held", "doses_stopped", "courses_with_grade_3_or_more",
                     "courses_with_a_dose_held_or_stopped", "fn_episodes", "sepsis_screen_episodes")
OVERRIDE_MEASURES = ("doses_given_on_decision", "doses_given_by_override")
ALL_BUT_EXPECTED = "all rules except expected effects"


@dataclass(frozen=True)
class Summary:
    """Each part a small table in the report's words-to-come (codes kept; labels are applied at rendering)."""

    courses: Figure
    patients: Figure
    patient_days: Figure
    counts: pd.DataFrame      # measure, count, per_100_patient_days (all regimens)
    grades: pd.DataFrame      # organ_system, grade_3, grade_4, percent_grade_3_or_4
    alerts: pd.DataFrame      # rule_id, alerts, per_100_patient_days, responded, latency_median_min,
    #                           latency_p90_min, declined
    checks: pd.DataFrame      # measure, value, unit: time to response, expected-effect share, overrides


def _number(value: object) -> Figure:
    """A cell as a figure: numbers as float, a withheld cell's text as it is, NA as None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return value
    return float(value)   # type: ignore[arg-type]


def _withheld(*values: Figure) -> str | None:
    """What a figure computed from these says when one of them is withheld: a withheld count ('<5')
    makes it 'withheld (<5)' (monitoring.export.small_cells' words); None when none is withheld."""
    text = next((v for v in values if isinstance(v, str)), None)
    if text is None or text.startswith("withheld"):
        return text
    return f"withheld ({text})"


def _ratio(part: Figure, whole: Figure, scale: float = 100.0, digits: int = 1) -> Figure:
    """part / whole x scale, rounded; withheld when either is; None when the whole is 0 or unknown."""
    hidden = _withheld(part, whole)
    if hidden is not None:
        return hidden
    if part is None or whole is None or not whole:
        return None
    return round(float(part) / float(whole) * scale, digits)


def _sum(*values: Figure) -> Figure:
    hidden = _withheld(*values)
    if hidden is not None:
        return hidden
    if any(v is None for v in values):
        return None
    return sum(float(v) for v in values if isinstance(v, (int, float)))


def _monitoring(tables: dict[str, pd.DataFrame], measure: str) -> Figure:
    frame = tables["monitoring"]
    found = frame.loc[frame["measure"] == measure, "value"]
    return _number(found.iloc[0]) if len(found) else None


def _all_regimens(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    counts = tables["cohort_counts"]
    return counts[counts["regimen"] == ALL_REGIMENS].set_index("measure")


def _count_rows(everyone: pd.DataFrame) -> pd.DataFrame:
    rows = [{"measure": m, "count": _number(everyone.at[m, "count"]),
             "per_100_patient_days": _number(everyone.at[m, "per_100_patient_days"])}
            for m in HEADLINE_MEASURES if m in everyone.index]
    return pd.DataFrame(rows, columns=["measure", "count", "per_100_patient_days"])


def _grade_rows(tables: dict[str, pd.DataFrame], courses: Figure) -> pd.DataFrame:
    grades = tables["grade_distribution"]
    everyone = grades[grades["regimen"] == ALL_REGIMENS]
    rows = []
    for system, part in everyone.groupby("organ_system", sort=False):
        by_grade = part.set_index("grade")
        three, four = (_number(by_grade.at[g, "courses"]) if g in by_grade.index else None for g in ("3", "4"))
        rows.append({"organ_system": system, "grade_3": three, "grade_4": four,
                     "percent_grade_3_or_4": _ratio(_sum(three, four), courses)})
    return pd.DataFrame(rows, columns=["organ_system", "grade_3", "grade_4", "percent_grade_3_or_4"])


def _alert_rows(tables: dict[str, pd.DataFrame], patient_days: Figure) -> pd.DataFrame:
    rules = tables["alerts_by_rule"]
    rows = [{"rule_id": r["rule_id"], "alerts": _number(r["alerts"]),
             "per_100_patient_days": _ratio(_number(r["alerts"]), patient_days, digits=1),
             "responded": _number(r["responded"]), "latency_median_min": _number(r["latency_median_min"]),
             "latency_p90_min": _number(r["latency_p90_min"]), "declined": _number(r["declined"])}
            for r in rules.to_dict("records")]
    return pd.DataFrame(rows, columns=["rule_id", "alerts", "per_100_patient_days", "responded",
                                       "latency_median_min", "latency_p90_min", "declined"])


def _check_rows(tables: dict[str, pd.DataFrame], everyone: pd.DataFrame, alerts: pd.DataFrame) -> pd.DataFrame:
    by_rule = alerts.set_index("rule_id")["alerts"]
    expected = _number(by_rule.get(EXPECTED_RULE, 0.0))
    sepsis = _number(by_rule.get(SEPSIS_RULE, 0.0))
    real = _number(by_rule.get(ALL_BUT_EXPECTED))
    unanswered = _monitoring(tables, "alerts without a response")
    given = _number(everyone.at["doses_given", "count"]) if "doses_given" in everyone.index else None
    over = [_number(everyone.at[m, "count"]) if m in everyone.index else None for m in OVERRIDE_MEASURES]
    rows = [
        ("Time from first seen to first response, median (alerts except expected effects)",
         _monitoring(tables, "acknowledgement latency, median"), "min"),
        ("Time from first seen to first response, 90th percentile",
         _monitoring(tables, "acknowledgement latency, 90th percentile"), "min"),
        ("Alerts without a response", unanswered, "count"),
        ("Alerts without a response, share of alerts", _ratio(unanswered, real), "%"),
        ("Expected IL-2 effects: share of expected effects and sepsis-screen alerts",
         _ratio(expected, _sum(expected, sepsis)), "%"),
        ("Doses given over the pre-dose check on the oncologist's decision", over[0], "count"),
        ("Doses given over the pre-dose check by override (authoriser and reason recorded)", over[1], "count"),
        ("Doses given over the pre-dose check, share of doses given", _ratio(_sum(*over), given), "%"),
        ("Overdue observation sets, share of sets after each course's first",
         _monitoring(tables, "overdue observation sets, percent of sets after the first of each course"), "%"),
    ]
    return pd.DataFrame(rows, columns=["measure", "value", "unit"])


def report_summary(tables: dict[str, pd.DataFrame]) -> Summary:
    """The summary page's figures from the released tables (see the module doc for each measure)."""
    everyone = _all_regimens(tables)
    first = everyone.iloc[0] if len(everyone) else None
    courses = _number(first["courses"]) if first is not None else 0.0
    patient_days = _monitoring(tables, "patient_days_total")
    alerts = _alert_rows(tables, patient_days)
    return Summary(courses=courses, patients=_number(first["patients"]) if first is not None else 0.0,
                   patient_days=patient_days, counts=_count_rows(everyone), grades=_grade_rows(tables, courses),
                   alerts=alerts, checks=_check_rows(tables, everyone, alerts))
