"""The scenario tables of tests/clinical/*.csv: a patient's sets, labs, doses and course, and the
alerts a guideline demands. One CSV per rule; each row is one case with its clinical reason and its
source. The notation (README.md of this folder) is meant to be read by a clinician:

  data    moments separated by ';': '@<hours after T0> [set|complete] code=value ...'. 'set' fills
          every NEWS2 parameter not written with a normal value (RR 16, SpO2 97 on air, SBP 125, HR 80,
          Alert, T 37.0); 'complete' adds what a pre-dose check needs (creatinine 1.0 mg/dL, platelets
          150 x10^9/L, urine output 400 mL over 8 h); a volume over a period is 'urine_output=300/8h';
          'code=-' leaves a parameter out.
  doses   '@0 given; @8 held' (dose numbers follow the order).
  course  'regimen=til-il2 after_lymphodepletion=true baseline_weight_kg=80' (empty: no course).
  expect  clauses separated by ';':
            rule=severity[:level]   an alert of the rule with that severity (and level)
            !rule                   no alert of the rule
            !rule>=severity         no alert of the rule at or above the severity ('any' for every rule)
            rule~words              an alert of the rule whose evidence contains the words
            rule@hours              an alert of the rule whose onset is at that time
            rule^hours              the rule's latest alert is found cleared (criteria no longer met)
                                    by the data at that time (issue 18 auto-resolve)
            rule^-                  the rule's latest alert is not found cleared
            rule^~words             the words the clearance of the rule's latest alert gives
            error~words             the data are refused with a message containing the words
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from monitoring.clinical.engine import evaluate
from monitoring.clinical.severities import SEVERITY_RANK
from monitoring.errors import InputError

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
NORMAL_SET = {"resp_rate": "16", "spo2": "97", "on_oxygen": "no", "sbp": "125", "heart_rate": "80",
              "consciousness": "A", "temperature": "37.0"}
PRE_DOSE = {"creatinine": "1.0", "platelets": "150", "urine_output": "400/8h"}
COLUMNS = ["case", "reason", "source", "data", "doses", "course", "expect"]


@dataclass(frozen=True)
class Case:
    file: str
    case: str
    reason: str
    source: str
    data: str
    doses: str
    course: str
    expect: str

    @property
    def id(self) -> str:
        return f"{self.file}:{self.case}"


def load(name: str | None = None) -> list[Case]:
    """Every case of one table (name without .csv), or of all tables."""
    cases = []
    for path in sorted(HERE.glob("*.csv")) if name is None else [HERE / f"{name}.csv"]:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            assert reader.fieldnames == COLUMNS, f"{path.name}: columns must be {COLUMNS}"
            for row in reader:
                cases.append(Case(path.stem, **{k: (row[k] or "").strip() for k in COLUMNS}))
    return cases


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def observations(text: str) -> pd.DataFrame:
    rows = []
    for moment in filter(None, (m.strip() for m in text.split(";"))):
        head, *words = moment.split()
        assert head.startswith("@"), f"a moment starts with @hours: {moment!r}"
        hours = float(head[1:])
        values: dict[str, str] = {}
        if words and words[0] in ("set", "complete"):
            values.update(NORMAL_SET)
            if words[0] == "complete":
                values.update(PRE_DOSE)
            words = words[1:]
        for word in words:
            code, _, value = word.partition("=")
            values[code] = value
        for code, value in values.items():
            if value in ("", "-"):
                continue  # 'spo2=-' leaves a parameter out of a set: missing, never normal
            row = {"patient_id": "P1", "time": at(hours), "code": code, "value": value, "unit": "",
                   "period_hours": ""}
            if "/" in value and value.endswith("h"):
                volume, period = value.split("/")
                row.update(value=volume, period_hours=period[:-1])
            rows.append(row)
    return pd.DataFrame(rows, columns=["patient_id", "time", "code", "value", "unit", "period_hours"])


def doses(text: str) -> pd.DataFrame | None:
    rows = []
    for event in filter(None, (e.strip() for e in text.split(";"))):
        head, status = event.split()
        rows.append({"patient_id": "P1", "time": at(float(head[1:])), "status": status})
    return pd.DataFrame(rows) if rows else None


def course(text: str) -> pd.DataFrame | None:
    if not text:
        return None
    fields = dict(word.split("=", 1) for word in text.split())
    return pd.DataFrame([{"patient_id": "P1", **fields}])


def run(case: Case) -> pd.DataFrame:
    """The alerts of the case, through the public API (and the CLI's reading of the courses file)."""
    from monitoring.cli import read_courses

    courses = course(case.course)
    return evaluate(observations(case.data), doses(case.doses),
                    courses=None if courses is None else read_courses(courses), detail=True)


def check(case: Case) -> None:
    """Assert every clause of the case's `expect` (a failure names the case, its reason and the alerts)."""
    clauses = [c.strip() for c in case.expect.split(";") if c.strip()]
    if any(c.startswith("error~") for c in clauses):
        try:
            alerts = run(case)
        except InputError as refused:
            for clause in clauses:
                assert clause[len("error~"):] in str(refused), (case.id, case.reason, str(refused))
            return
        raise AssertionError(f"{case.id}: expected the data to be refused ({case.reason}); got {len(alerts)} alerts")
    alerts = run(case)
    shown = "\n".join(f"  {r.rule} {r.severity} [{r.level}] @{(r.onset - T0).total_seconds() / 3600:g}h: "
                      f"{r.evidence}" for r in alerts.itertuples())
    where = f"{case.id} ({case.reason}; {case.source})\nalerts:\n{shown or '  none'}"
    for clause in clauses:
        assert _holds(clause, alerts), f"{clause!r} not met in {where}"


def _holds(clause: str, alerts: pd.DataFrame) -> bool:
    if clause.startswith("!"):
        body = clause[1:]
        if ">=" in body:
            rule, severity = body.split(">=")
            chosen = alerts if rule == "any" else alerts[alerts["rule"] == rule]
            return not (chosen["severity"].map(SEVERITY_RANK) >= SEVERITY_RANK[severity]).any()
        return not (alerts["rule"] == body).any()
    if "^" in clause:
        return _cleared(clause, alerts)
    if "~" in clause:
        rule, words = clause.split("~", 1)
        return alerts[alerts["rule"] == rule]["evidence"].str.contains(words, regex=False).any()
    if "@" in clause:
        rule, hours = clause.split("@")
        onsets = (alerts[alerts["rule"] == rule]["onset"] - T0).dt.total_seconds() / 3600
        return bool((abs(onsets - float(hours)) < 1e-6).any())
    rule, _, wanted = clause.partition("=")
    severity, _, level = wanted.partition(":")
    chosen = alerts[alerts["rule"] == rule]
    if severity:
        chosen = chosen[chosen["severity"] == severity]
    if level:
        chosen = chosen[chosen["level"] == level]
    return len(chosen) > 0


def _cleared(clause: str, alerts: pd.DataFrame) -> bool:
    from monitoring.clinical.rules.evidence import render

    rule, wanted = clause.split("^", 1)
    chosen = alerts[alerts["rule"] == rule].sort_values("onset")
    assert len(chosen), f"no {rule} alert to be cleared"
    latest = chosen.iloc[-1]
    if wanted == "-":
        return pd.isna(latest["cleared_at"])
    if wanted.startswith("~"):
        return latest["cleared_evidence"] is not None and wanted[1:] in render(latest["cleared_evidence"])
    return not pd.isna(latest["cleared_at"]) and \
        abs((latest["cleared_at"] - T0).total_seconds() / 3600 - float(wanted)) < 1e-6
