"""Order of alert levels within a rule, and 'worse' between two states of the same alert.

A snoozed, acknowledged, declined or resolved alert reopens when it gets worse than it was when the
clinician acted. Worse = a higher severity (SEVERITY_RANK), or the same severity and a higher level
within the rule. Each rule declares its levels in order (Rule.levels, Rule.ranks): a level's rank is
looked up there, never read from its words.
"""
from __future__ import annotations

from monitoring.clinical.rules import RULES
from monitoring.clinical.severities import SEVERITY_RANK


def level_rank(rule_id: str, level: str | None) -> int:
    """Rank of `level` within its rule, higher is worse; 0 for an unknown rule or level."""
    rule = RULES.get(rule_id)
    return rule.level_rank(level) if rule is not None else 0


def is_worse(*, old_severity: str | None, old_level: str | None, new_severity: str, new_level: str,
             rule_id: str) -> bool:
    """True when (severity rank, level rank) of the new state is above the old one.

    An unknown old severity (an action recorded before severities were kept) is compared on the
    level alone, with the new severity: a change of severity alone cannot then be told apart.
    """
    new_rank = SEVERITY_RANK.get(new_severity, 0)
    old_rank = SEVERITY_RANK.get(old_severity, new_rank) if old_severity is not None else new_rank
    return (new_rank, level_rank(rule_id, new_level)) > (old_rank, level_rank(rule_id, old_level))
