"""Order of alert levels within a rule, and 'worse' between two states of the same alert.

A snoozed, acknowledged, declined or resolved alert reopens when it gets worse than it was when the
clinician acted. Worse = a higher severity (rules.common.SEVERITY_RANK), or the same severity and a
higher level within the rule. The level vocabularies come from the rule modules, never retyped.
"""
from __future__ import annotations

import re

from monitoring.rules import aki, capillary_leak, il2_hold, sepsis
from monitoring.rules.common import SEVERITY_RANK

# 'KDIGO stage 2 (creatinine)', 'KDIGO stage 3 (urine output)' (aki.creatinine_findings/urine_findings).
_AKI_STAGE = re.compile(r"KDIGO stage (\d+)")
# capillary_leak.findings writes 'weight gain > {relative}%' and 'weight gain >= {warning}%'. The numbers
# are the hospital's thresholds, so the operator is what tells the two levels apart.
_WEIGHT_GAIN = re.compile(r"weight gain (>=|>) ")
_WEIGHT_GAIN_RANK = {">=": 1, ">": 2}


def level_rank(rule_id: str, level: str | None) -> int:
    """Rank of `level` within its rule, higher is worse; 0 for a rule without levels or an unknown level."""
    if not level:
        return 0
    if rule_id == il2_hold.RULE.id:
        # give < discuss < hold < permanently discontinue
        return il2_hold.DECISIONS.index(level) if level in il2_hold.DECISIONS else 0
    if rule_id == sepsis.RULE.id:
        # LEVELS lists the worst first; levels outside it (rigors, expected effect) rank lowest.
        return len(sepsis.LEVELS) - sepsis.LEVELS.index(level) if level in sepsis.LEVELS else 0
    if rule_id == aki.RULE.id:
        stage = _AKI_STAGE.match(level)
        return int(stage.group(1)) if stage else 0
    if rule_id == capillary_leak.RULE.id:
        gain = _WEIGHT_GAIN.match(level)
        return _WEIGHT_GAIN_RANK[gain.group(1)] if gain else 0
    return 0


def is_worse(*, old_severity: str | None, old_level: str | None, new_severity: str, new_level: str,
             rule_id: str) -> bool:
    """True when (severity rank, level rank) of the new state is above the old one.

    An unknown old severity (an action recorded before severities were kept) is compared on the
    level alone, with the new severity: a change of severity alone cannot then be told apart.
    """
    new_rank = SEVERITY_RANK.get(new_severity, 0)
    old_rank = SEVERITY_RANK.get(old_severity, new_rank) if old_severity is not None else new_rank
    return (new_rank, level_rank(rule_id, new_level)) > (old_rank, level_rank(rule_id, old_level))
