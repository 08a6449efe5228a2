"""What every rule shares: the findings frame, episodes, severity order and evidence text.

A rule returns *findings*: one row per moment its criteria hold (patient_id, time, level,
severity, evidence, context). `episodes` folds consecutive findings of one rule and patient into
one alert whose identity is patient + rule + onset, so evaluating the same data twice gives the
same alerts (acknowledgements stay attached) and a worse level later in the episode raises the
alert's level instead of opening a new one.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.thresholds import Section, Source, parser

SEVERITIES = ("info", "warning", "urgent", "emergency")
SEVERITY_RANK = {name: i for i, name in enumerate(SEVERITIES)}
FINDING_COLUMNS = ["patient_id", "time", "level", "severity", "evidence", "context"]
ALERT_COLUMNS = ["patient_id", "rule", "onset", "level", "severity", "evidence", "standard", "context",
                 "rule_version", "last_seen", "findings", "alert_key"]


@dataclass(frozen=True)
class Rule:
    id: str
    version: str
    section: str          # thresholds section holding its numbers and source
    standard: str         # the definition applied, as shown to clinicians


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[us, UTC]" if c == "time" else "str")
                         for c in FINDING_COLUMNS})


def alert_key(patient_id: str, rule_id: str, onset: pd.Timestamp) -> str:
    """Stable identity of an alert: the same data always give the same key."""
    text = f"{patient_id}|{rule_id}|{pd.Timestamp(onset).tz_convert('UTC').isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def episodes(findings: pd.DataFrame, rule: Rule, *, gap_hours: float, source: Source) -> pd.DataFrame:
    """Fold findings into alerts: a new episode starts after `gap_hours` without a finding.

    onset = first finding of the episode; level, severity and evidence = the worst finding (the
    earliest of equally severe ones), so the alert shows what made it most serious, with its times.
    """
    if findings.empty:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    f = findings.sort_values(["patient_id", "time"], kind="stable").reset_index(drop=True)
    gap = f.groupby("patient_id", sort=False)["time"].diff() > pd.Timedelta(hours=gap_hours)
    new_patient = f["patient_id"].ne(f["patient_id"].shift())
    f["episode"] = (gap | new_patient).cumsum()
    f["rank"] = f["severity"].map(SEVERITY_RANK).astype(int)
    grouped = f.groupby("episode", sort=False)
    onset = grouped["time"].transform("min")
    last = grouped["time"].transform("max")
    count = grouped["time"].transform("size")
    # Worst finding: highest severity, then highest level_rank (e.g. the AKI stage) when the rule
    # gives one, earliest among equals.
    level_rank = f["level_rank"] if "level_rank" in f else 0
    worst_idx = f.assign(neg_rank=-f["rank"], neg_level=-level_rank) \
        .sort_values(["episode", "neg_rank", "neg_level", "time"], kind="stable") \
        .drop_duplicates("episode")["episode"].index
    worst = f.loc[worst_idx]
    out = pd.DataFrame({
        "patient_id": worst["patient_id"].to_numpy(),
        "rule": rule.id,
        "onset": onset.loc[worst_idx].to_numpy(),
        "level": worst["level"].to_numpy(),
        "severity": worst["severity"].to_numpy(),
        "evidence": worst["evidence"].to_numpy(),
        "standard": f"{rule.standard} [{source.cite()}]",
        "context": worst["context"].to_numpy(),
        "rule_version": rule.version,
        "last_seen": last.loc[worst_idx].to_numpy(),
        "findings": count.loc[worst_idx].to_numpy(),
    })
    onset_first = f.loc[grouped["time"].idxmin()]
    same = out["onset"].to_numpy() != worst["time"].to_numpy()
    # When the worst moment is later than the onset, say what the onset was too.
    out.loc[same, "evidence"] = (out.loc[same, "evidence"] + " | at onset: "
                                 + onset_first["evidence"].to_numpy()[same])
    out["onset"] = pd.to_datetime(out["onset"], utc=True)
    out["last_seen"] = pd.to_datetime(out["last_seen"], utc=True)
    out["alert_key"] = [alert_key(p, rule.id, o) for p, o in zip(out["patient_id"], out["onset"])]
    return out[ALERT_COLUMNS]


def fmt_time(times: pd.Series) -> pd.Series:
    """ISO-like UTC minute for evidence text ('2026-11-27 14:05Z'): unambiguous in any ward."""
    return times.dt.strftime("%Y-%m-%d %H:%MZ")


def fmt_num(values: pd.Series, decimals: int = 1) -> pd.Series:
    """Numbers for evidence text at a fixed precision (37.0 °C, 0.30 x10^9/L, 118/min); '–' when missing."""
    array = values.to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(array)
    text = np.char.mod(f"%.{decimals}f", np.where(missing, 0.0, array)).astype(object)
    text[missing] = "–"
    return pd.Series(text, index=values.index, dtype="str")


def hours_text(hours: pd.Series) -> pd.Series:
    """'3 h 10 min' for a float number of hours."""
    minutes = (hours.astype(float) * 60).round()
    h = (minutes // 60).astype("Int64")
    m = (minutes % 60).astype("Int64")
    return (h.astype(str) + " h " + m.astype(str) + " min").where(hours.notna(), "–").astype("str")


def where_text(mask: pd.Series, text: pd.Series | str) -> pd.Series:
    """`text` where mask holds, '' elsewhere (building evidence clauses without Python loops)."""
    if isinstance(text, str):
        return pd.Series(np.where(mask.to_numpy(bool), text, ""), index=mask.index, dtype="str")
    return text.where(mask.to_numpy(bool), "").astype("str")


def join_clauses(*clauses: pd.Series, sep: str = "; ") -> pd.Series:
    """Join the non-empty clauses of each row with `sep` (vectorised)."""
    out: pd.Series | None = None
    for clause in clauses:
        clause = clause.fillna("").astype("str")
        if out is None:
            out = clause
            continue
        both = (out != "") & (clause != "")
        out = out + pd.Series(np.where(both.to_numpy(bool), sep, ""), index=out.index, dtype="str") + clause
    return out if out is not None else pd.Series(dtype="str")


# --- thresholds sections shared by several rules --------------------------------------------------

@dataclass(frozen=True)
class Validity:
    vital_signs: pd.Timedelta
    labs: pd.Timedelta
    nurse_grades: pd.Timedelta
    fluids: pd.Timedelta


@parser("validity")
def parse_validity(section: Section) -> Validity:
    return Validity(*(pd.Timedelta(hours=section.number(k, low=0.1, high=168)) for k in (
        "vital_signs_hours", "labs_hours", "nurse_grades_hours", "fluids_hours")))


@dataclass(frozen=True)
class Schedule:
    window_from: pd.Timedelta
    window_to: pd.Timedelta
    source: Source

    def describe(self) -> str:
        return (f"{self.window_from.total_seconds() / 3600:g}-{self.window_to.total_seconds() / 3600:g} h "
                "after an IL-2 dose")


@parser("il2_schedule")
def parse_schedule(section: Section) -> Schedule:
    start = section.number("expected_effect_from_hours", low=0, high=24)
    end = section.number("expected_effect_to_hours", low=0, high=24)
    if end <= start:
        raise section.fail(f"must be later than expected_effect_from_hours ({start})", "expected_effect_to_hours")
    return Schedule(pd.Timedelta(hours=start), pd.Timedelta(hours=end), section.source)
