"""How long an alert may be snoozed, and when a snooze needs a reason (thresholds.toml [alert_handling]).

A snooze hides an alert from the inbox until its time is up. For a finding that needs a clinician
within the hour it must not outlast the monitoring the finding calls for: RCP 2017 NEWS2 Chart 4 asks
for observations at least hourly at a medium score (5-6, or 3 in one parameter: urgent here) and
continuous monitoring at a high score (7 or more: emergency here). So the longest snooze of each
severity is set in the thresholds file, and snoozing an urgent or emergency alert needs a reason,
kept with the action. The alert still comes back at once if it gets worse (monitoring.services.alerting).

Auto-resolve (issue 18 item 3): an alert whose criteria no longer hold at the latest data (the engine's
clearance: a complete normal set, a weight or creatinine back below the criteria) is resolved by the
engine, kept in the history with what was measured, and reopened if the criteria come back. Never for
the rules listed in `never_auto_resolved` (febrile neutropenia, the IL-2 hold: a clinician closes
them), and from `acknowledge_before_auto_resolve_from` up only once a clinician has acknowledged or
declined it: an urgent finding nobody has seen does not go away on its own.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from monitoring.clinical.severities import SEVERITIES, SEVERITY_RANK
from monitoring.clinical.thresholds import Refused, SectionModel, default_thresholds, section


@section("alert_handling")
class AlertHandling(SectionModel):
    """[alert_handling]: the snooze durations offered, the longest per severity, and from which
    severity a snooze needs a reason (local choices on RCP 2017 Chart 4's monitoring frequencies)."""

    snooze_minutes: list[int] = Field(min_length=1, description=(
        "The snooze durations offered (minutes), shortest first"))
    max_snooze_minutes: dict[str, int] = Field(description=(
        "The longest snooze of an alert of each severity (minutes): info, warning, urgent, emergency"))
    reason_required_from: str = Field(description="A snooze of an alert of this severity or worse needs a reason")
    acknowledge_before_auto_resolve_from: str = Field(description=(
        "An alert of this severity or worse is resolved automatically (its criteria no longer met) only once "
        "acknowledged or declined"))
    never_auto_resolved: list[str] = Field(description=(
        "Rules whose alerts are never resolved automatically (rule ids): a clinician closes them"))

    @model_validator(mode="after")
    def _consistent(self) -> AlertHandling:
        if any(m <= 0 for m in self.snooze_minutes) or self.snooze_minutes != sorted(set(self.snooze_minutes)):
            raise Refused("snooze_minutes", "must be whole positive minutes, shortest first, each once")
        missing = [s for s in SEVERITIES if s not in self.max_snooze_minutes]
        unknown = [s for s in self.max_snooze_minutes if s not in SEVERITIES]
        if missing or unknown:
            raise Refused("max_snooze_minutes", f"needs exactly the severities {', '.join(SEVERITIES)}")
        ranked = [self.max_snooze_minutes[s] for s in SEVERITIES]
        if ranked != sorted(ranked, reverse=True) or ranked[-1] < self.snooze_minutes[0]:
            raise Refused("max_snooze_minutes", "a worse severity may not be snoozed longer, and every severity "
                                                f"at least {self.snooze_minutes[0]} min (the shortest snooze)")
        for key in ("reason_required_from", "acknowledge_before_auto_resolve_from"):
            if getattr(self, key) not in SEVERITIES:
                raise Refused(key, f"must be one of {', '.join(SEVERITIES)}")
        from monitoring.clinical.rules import RULES  # the rule modules read this file: imported late

        unknown_rules = [r for r in self.never_auto_resolved if r not in RULES]
        if unknown_rules:
            raise Refused("never_auto_resolved", f"unknown rule {', '.join(unknown_rules)}; rules: "
                                                 f"{', '.join(sorted(RULES))}")
        return self

    def may_auto_resolve(self, *, rule_id: str, severity: str, status: str) -> bool:
        """May the engine resolve this alert now that its criteria no longer hold?"""
        if rule_id in self.never_auto_resolved or status in ("resolved", "retracted"):
            return False
        if SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[self.acknowledge_before_auto_resolve_from]:
            return status in ("acknowledged", "declined")
        return True

    def choices(self, severity: str) -> list[int]:
        """The snooze durations offered for an alert of `severity` (none longer than its maximum)."""
        return [m for m in self.snooze_minutes if m <= self.max_snooze_minutes[severity]]

    def needs_reason(self, severity: str) -> bool:
        return SEVERITY_RANK[severity] >= SEVERITY_RANK[self.reason_required_from]


def alert_handling() -> AlertHandling:
    """The [alert_handling] section in force."""
    return default_thresholds()["alert_handling"]
