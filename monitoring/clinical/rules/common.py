"""What every rule shares: findings, episodes, severity order and evidence text.

A rule produces *findings*: one per moment its criteria hold (patient, time, severity and, for
some rules, a level rank). `episodes` folds consecutive findings of one rule and patient into one
alert whose identity is patient + rule + onset, so evaluating the same data twice gives the same
alerts (acknowledgements stay attached) and a worse level later in the episode raises the alert's
level instead of opening a new one.

The engine works on NumPy arrays (one array per column, rows sorted by patient and time) rather
than on many small pandas operations: re-evaluating one patient after each save must take
milliseconds, and the fixed cost of a pandas call dominates there. Evidence text is written only
for the findings an alert shows (its worst finding and its onset), by plain Python formatting that
reproduces the engine's documented formats exactly ('%.1f', '2026-11-27 14:05Z', '3 h 10 min').
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from monitoring.clinical.rules.evidence import render
from monitoring.clinical.severities import SEVERITIES, SEVERITY_RANK  # noqa: F401  (re-exported for the rules)
from monitoring.clinical.thresholds import (
    Increasing,
    Refused,
    SectionModel,
    Source,
    SourceStatus,
    Text,
    ThresholdsModel,
    section,
)
from monitoring.clinical.vocabulary import REGIMENS

FINDING_COLUMNS = ["patient_id", "time", "level", "severity", "evidence", "context"]
ALERT_COLUMNS = ["patient_id", "rule", "onset", "level", "severity", "evidence", "standard", "context",
                 "evidence_items", "rule_version", "last_seen", "findings", "alert_key", "cleared_at",
                 "cleared_evidence"]
#: Missing time in the engine's int64 tick arrays (numpy's NaT).
NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Rule:
    id: str
    version: str
    section: str          # thresholds section holding its numbers and source
    standard: str         # the definition applied, as shown to clinicians
    # Every level the rule can give, least to most serious: a level's rank is its position, so
    # 'worse' (alert_levels) compares positions and never reads the words.
    levels: tuple[str, ...] = ()
    ranks: tuple[int, ...] | None = None   # rank of each level when several levels are equally serious

    def level_rank(self, level: str | None) -> int:
        """Rank of `level` (1 + its position in `levels`, or its entry in `ranks`); 0 for a level the
        rule does not give (or None)."""
        try:
            position = self.levels.index(level)
        except ValueError:
            return 0
        return self.ranks[position] if self.ranks is not None else position + 1


def cited(standard: str, source: Source) -> str:
    """A standard as shown with an alert or a pre-dose check: the definition, then its source."""
    return f"{standard} [{source.cite()}]"


def alert_key(patient_id: str, rule_id: str, onset: pd.Timestamp) -> str:
    """Stable identity of an alert: the same data always give the same key."""
    text = f"{patient_id}|{rule_id}|{pd.Timestamp(onset).tz_convert('UTC').isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def alert_keys(patients: Sequence[str], rules: Sequence[str], onsets: np.ndarray, unit: str) -> list[str]:
    """alert_key for many alerts; onsets are int64 ticks of `unit` (UTC)."""
    per_second = _PER_SECOND[unit]
    whole = onsets % per_second == 0
    if whole.all():
        # Timestamp.isoformat() of a whole second: 'YYYY-MM-DDTHH:MM:SS+00:00'.
        iso = [s + "+00:00" for s in np.datetime_as_string(onsets.view(f"M8[{unit}]"), unit="s").tolist()]
    else:
        iso = [pd.Timestamp(int(o), unit=unit, tz="UTC").isoformat() for o in onsets.tolist()]
    return [hashlib.sha256(f"{p}|{r}|{o}".encode()).hexdigest()[:32] for p, r, o in zip(patients, rules, iso)]


_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


# --- evidence text -------------------------------------------------------------------------------

def num_text(values: np.ndarray, decimals: int = 1) -> list[str]:
    """Numbers at a fixed precision (37.0 °C, 0.30 x10^9/L, 118/min); '–' when missing."""
    pattern = f"%.{decimals}f"
    return [pattern % v if v == v else "–" for v in np.asarray(values, dtype=float).tolist()]


def time_text(ticks: np.ndarray, unit: str, *, missing: str = "") -> list[str]:
    """ISO-like UTC minute ('2026-11-27 14:05Z'): unambiguous in any ward; `missing` for NaT."""
    texts = np.datetime_as_string(np.asarray(ticks, dtype=np.int64).view(f"M8[{unit}]"), unit="m").tolist()
    return [missing if s == "NaT" else s[:10] + " " + s[11:] + "Z" for s in texts]


def clock_text(ticks: np.ndarray, unit: str) -> list[str]:
    """'14:05Z' ('' for NaT)."""
    texts = np.datetime_as_string(np.asarray(ticks, dtype=np.int64).view(f"M8[{unit}]"), unit="m").tolist()
    return ["" if s == "NaT" else s[11:] + "Z" for s in texts]


def hours_text(hours: np.ndarray) -> list[str]:
    """'3 h 10 min' for a float number of hours ('–' when missing)."""
    minutes = np.round(np.asarray(hours, dtype=float) * 60).tolist()
    return ["–" if m != m else f"{int(m // 60)} h {int(m % 60)} min" for m in minutes]


def join_clauses(*clauses: str, sep: str = "; ") -> str:
    """Join the non-empty clauses with `sep`."""
    return sep.join(c for c in clauses if c)


# --- time arithmetic as pandas does it ------------------------------------------------------------

def total_seconds(ticks: np.ndarray, unit: str) -> np.ndarray:
    """Timedelta.total_seconds() of int64 tick differences, bit for bit as pandas computes it."""
    pps = _PER_SECOND[unit]
    floor_s, residual = np.divmod(ticks, pps)
    result = floor_s + residual / pps
    if (ticks > 2**53).any() or (ticks < -(2**53)).any():
        fixable = (residual != 0) & (np.abs(floor_s) < 2**52)
        floor_f = floor_s.astype(np.float64)
        result = np.where(fixable & (result == floor_f), np.nextafter(result, result + 1.0), result)
        result = np.where(fixable & (result == floor_f + 1.0), np.nextafter(result, result - 1.0), result)
    return result


def ticks_of(delta: pd.Timedelta, unit: str) -> float:
    """A Timedelta in ticks of `unit` (float: exact comparisons with int64 tick differences)."""
    return pd.Timedelta(delta).value / (10**9 // _PER_SECOND[unit])


def kahan_group_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting where `starts` is True, with the compensated (Kahan) summation of
    pandas' groupby().cumsum(), so the results match it bit for bit. Vectorised across runs: one
    step per position within the longest run."""
    n = len(values)
    out = np.empty(n)
    if n == 0:
        return out
    run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    position = np.arange(n) - run_start
    accum = np.zeros(n)
    comp = np.zeros(n)
    for p in range(int(position.max()) + 1):
        rows = np.flatnonzero(position == p)
        before = rows - 1
        acc = accum[before] if p else np.zeros(len(rows))
        c = comp[before] if p else np.zeros(len(rows))
        y = values[rows] - c
        t = acc + y
        comp[rows] = t - acc - y
        accum[rows] = t
        out[rows] = t
    return out


# --- episodes ------------------------------------------------------------------------------------

@dataclass
class Findings:
    """Moments a rule's criteria hold, in the rule's own order (ties keep it).

    describe(positions) -> (levels, evidence, contexts), lists for those findings only; each
    evidence is a list of items (monitoring.clinical.rules.evidence)."""
    pid: np.ndarray
    time: np.ndarray
    severity: np.ndarray                  # rank in SEVERITIES
    describe: Callable[[np.ndarray], tuple[list[str], list[str], list[str]]]
    level_rank: np.ndarray | None = None  # e.g. the AKI stage: the higher wins among equally severe
    # False for a finding that a later normal reading does not undo (a positive blood culture): an
    # episode holding one is never found cleared. None: every finding can be.
    clearable: np.ndarray | None = None


@dataclass
class Clearance:
    """Moments a rule was assessed on enough data and its criteria did not hold: a complete NEWS2 set
    below every alerting row, a weight under the gain limit, a creatinine below the KDIGO criteria.
    Missing data never clear anything (an incomplete set is not one). describe(positions) -> the
    evidence items of those moments (what was measured, so a clinician can check)."""
    pid: np.ndarray
    time: np.ndarray
    describe: Callable[[np.ndarray], list[list[dict]]]


def episodes(data, findings: Findings | None, rule: Rule, *, gap_hours: float, source: Source,
             onset_evidence: bool = True, cleared: Clearance | None = None) -> dict | None:
    """Fold findings into alerts: a new episode starts after `gap_hours` without a finding.

    onset = first finding of the episode; level, severity and evidence = the worst finding (the
    earliest of equally severe ones), so the alert shows what made it most serious, with its times.
    cleared_at / cleared_evidence: the first `cleared` moment after the episode's last finding (NaT /
    None when there is none, or when the episode holds a finding that cannot be cleared): the
    criteria no longer held at the data then (issue 18: auto-resolve, alerting.sync_alerts).
    Returns the alert columns as arrays (patient numbers, int64 ticks), or None without findings.
    """
    if findings is None or len(findings.pid) == 0:
        return None
    order = np.argsort(data.key(findings.pid, findings.time), kind="stable")
    pid, time = findings.pid[order], findings.time[order]
    n = len(order)
    new = np.ones(n, dtype=bool)
    new[1:] = (pid[1:] != pid[:-1]) | (time[1:] - time[:-1] > ticks_of(pd.Timedelta(hours=gap_hours), data.unit))
    episode = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    last = np.append(first[1:], n) - 1
    rank = findings.severity[order]
    level = findings.level_rank[order] if findings.level_rank is not None else np.zeros(n)
    # Worst finding: highest severity, then highest level rank, earliest among equals.
    by_worst = np.lexsort((time, -level, -rank, episode))
    worst = by_worst[np.flatnonzero(np.r_[True, episode[by_worst][1:] != episode[by_worst][:-1]])]
    # The onset's own evidence is shown beside the worst finding's when they differ (onset_evidence=False:
    # the worst only, for info findings counted in their thousands).
    differs = (time[first] != time[worst]) & onset_evidence
    needed = np.unique(np.concatenate([worst, first[differs]]))
    levels, evidence, contexts = findings.describe(order[needed])
    at = {p: i for i, p in enumerate(needed.tolist())}
    out_items, out_text = [], []
    for w, f, d in zip(worst.tolist(), first.tolist(), differs.tolist()):
        items = list(evidence[at[w]])
        if d:
            items += [{**item, "at_onset": True} for item in evidence[at[f]]]
        out_items.append(items)
        out_text.append(render(items))
    return {
        "patient_id": pid[worst], "rule": rule.id, "onset": time[first],
        "level": [levels[at[w]] for w in worst.tolist()],
        "severity": [SEVERITIES[r] for r in rank[worst].tolist()],
        "evidence": out_text, "evidence_items": out_items, "standard": cited(rule.standard, source),
        "context": [contexts[at[w]] for w in worst.tolist()], "rule_version": rule.version,
        "last_seen": time[last], "findings": (last - first + 1).astype(np.int64),
        **_cleared_after(data, cleared, pid[last], time[last],
                         None if findings.clearable is None else np.minimum.reduceat(findings.clearable[order], first)),
    }


def _cleared_after(data, cleared: Clearance | None, pid: np.ndarray, last: np.ndarray,
                   clearable: np.ndarray | None) -> dict:
    """For each episode (its patient and last finding), the first clearance moment after it."""
    at = np.full(len(pid), NAT, dtype=np.int64)
    items: list[list[dict] | None] = [None] * len(pid)
    if cleared is not None and len(cleared.pid):
        c_order = np.argsort(data.key(cleared.pid, cleared.time), kind="stable")
        c_key = data.key(cleared.pid[c_order], cleared.time[c_order])
        j = np.searchsorted(c_key, data.key(pid, last), side="right")
        found = j < len(c_key)
        found[found] = cleared.pid[c_order][j[found]] == pid[found]
        if clearable is not None:
            found &= clearable.astype(bool)
        rows = np.flatnonzero(found)
        if len(rows):
            positions = c_order[j[rows]]
            at[rows] = cleared.time[positions]
            for r, described in zip(rows.tolist(), cleared.describe(positions)):
                items[r] = described
    return {"cleared_at": at, "cleared_evidence": items}


# --- thresholds sections shared by several rules --------------------------------------------------

def _hours(description: str) -> Any:
    return Field(ge=0.1, le=720, description=description)


@section("validity")
class Validity(SectionModel):
    """[validity]: how long a value stays valid for rule evaluation; an older one is named in the
    evidence as stale and not used (local choices, issue 3; peers.md §4: mdpnp #12 stale data)."""

    vital_signs_hours: float = _hours("A vital sign")
    labs_hours: float = _hours("A laboratory result")
    nurse_grades_hours: float = _hours("A nurse's CTCAE grade of a symptom")
    fluids_hours: float = _hours("A fluid balance record")
    cultures_hours: float = _hours("A blood culture result")
    statements_hours: float = _hours("A clinician's statement ('infection suspected'), until revised")
    readings_apart_hours: float = _hours("A 'persisting' or 'sustained' criterion uses readings at most this far "
                                         "apart")

    def of(self, kind: str) -> pd.Timedelta:
        return pd.Timedelta(hours=getattr(self, f"{kind}_hours"))

    vital_signs = property(lambda self: self.of("vital_signs"))
    labs = property(lambda self: self.of("labs"))
    nurse_grades = property(lambda self: self.of("nurse_grades"))
    fluids = property(lambda self: self.of("fluids"))
    cultures = property(lambda self: self.of("cultures"))
    statements = property(lambda self: self.of("statements"))
    readings_apart = property(lambda self: self.of("readings_apart"))


#: The regimens of the course model.
REGIMEN_IDS = tuple(REGIMENS)
Regimen = Literal[REGIMEN_IDS]  # type: ignore[valid-type]


class Window(ThresholdsModel):
    """When, after a dose given, fever, rigors and tachycardia are the drug's expected effect.

    Bolus-like: from `from_hours` to `to_hours` after the dose. Infusion: from `from_hours` after the
    start while the infusion runs (the course's dose interval, or until the next dose event) and
    `after_hours` after it ends."""

    infusion: bool = Field(False, description="An infusion window (true) or a window after each dose")
    from_hours: float = Field(ge=0, le=24, description="Start of the window, hours after the dose (or the start)")
    to_hours: float | None = Field(None, ge=0, le=48, description="End of the window, hours after the dose "
                                                                  "(not for an infusion)")
    after_hours: float = Field(0.0, ge=0, le=48, description="An infusion: hours after it ends")
    status: SourceStatus = Field(description="How far the window was checked")
    basis: Text = Field(description="Where the window comes from")

    @model_validator(mode="after")
    def _window_has_an_end(self) -> Window:
        if self.infusion and "after_hours" not in self.model_fields_set:
            raise Refused("after_hours", "missing (an infusion window needs it)")
        if not self.infusion and self.to_hours is None:
            raise Refused("to_hours", "missing")
        if not self.infusion and self.to_hours <= self.from_hours:
            raise Refused("to_hours", f"must be later than from_hours ({self.from_hours:g})")
        return self

    def describe(self) -> str:
        if self.infusion:
            return f"while the infusion runs and {self.after_hours:g} h after it"
        return f"{self.from_hours:g}-{self.to_hours:g} h after a dose"


@section("il2_schedule")
class Schedule(SectionModel):
    """[il2_schedule]: when fever, rigors and tachycardia are the IL-2 dose's expected effect (Dutcher 2014
    Table 2), and the limits beyond which they never are (local choices, issue 14)."""

    expected_temperature: Annotated[Increasing, Field(min_length=2, max_length=2)] = Field(
        alias="expected_temperature_c", description="The band of an expected fever (°C): [lowest, highest], "
                                                    "within 37-42")
    expected_heart_rate_at_or_below: float = Field(ge=90, le=200, description="An expected tachycardia is at most "
                                                                              "this (/min)")
    default_regimen: Regimen = Field(description="The window used when a patient's regimen is not known (a "
                                                 "bolus-like regimen)")
    infusion_default_hours: float = Field(ge=1, le=168, description="An infusion's length when the course has no "
                                                                    "dose interval")
    windows: dict[Regimen, Window] = Field(description="One window per regimen of the course model")

    @model_validator(mode="after")
    def _every_regimen_has_a_window(self) -> Schedule:
        low, high = self.expected_temperature
        if not (37 <= low and high <= 42):
            raise Refused("expected_temperature_c", f"expected a band within 37..42 °C, found {[low, high]}")
        missing = [regimen for regimen in REGIMEN_IDS if regimen not in self.windows]
        if missing:
            raise Refused(f"windows.{missing[0]}", "missing")
        if self.windows[self.default_regimen].infusion:
            raise Refused("default_regimen", f"'{self.default_regimen}' has an infusion window: choose a bolus-like "
                                             "regimen")
        return self

    @property
    def window_from(self) -> pd.Timedelta:   # the default regimen's window (bolus)
        return pd.Timedelta(hours=self.windows[self.default_regimen].from_hours)

    @property
    def window_to(self) -> pd.Timedelta:
        return pd.Timedelta(hours=self.windows[self.default_regimen].to_hours)

    def describe(self) -> str:
        """The default (bolus) window: '1-4 h after an IL-2 dose'."""
        w = self.windows[self.default_regimen]
        return f"{w.from_hours:g}-{w.to_hours:g} h after an IL-2 dose"

    def describe_all(self) -> str:
        """Every regimen's window with its status, for the standards shown with the alerts."""
        parts = []
        for regimen in REGIMEN_IDS:
            w = self.windows[regimen]
            status = "" if w.status == "verified" else f", {w.status}"
            parts.append(f"{regimen} {w.describe()}{status}")
        return "; ".join(parts)
