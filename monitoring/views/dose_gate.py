"""Whether an IL-2 dose may be recorded as given, and on what basis (issue 15). Pure: no database.

- On a pre-dose check that says GIVE, with no oncologist decision against it: allowed (basis 'check').
- On DISCUSS, HOLD, PERMANENTLY DISCONTINUE or INCOMPLETE (a required input missing or stale), or
  when the check could not run: allowed only on the oncologist's decision to give that dose
  (basis 'decision'), or on an override that names the authorising clinician and the reason
  (basis 'override').
- An oncologist's decision to give applies to one dose number and lapses when the check finds a
  criterion, or misses an input, that it did not when the decision was made: the oncologist decided
  on what they saw, not on what came after.
- An oncologist's decision to hold, to discuss or to stop stands until they record another one; a
  dose given against it needs an override too, even when the check says GIVE.

The rule is applied by monitoring.services.doses.record, which the page, the CLI and the tests all call.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:   # dosing imports this module
    from monitoring.views.dosing import PreDoseCheck

#: Bases on which a given dose was allowed, as stored (quality counts 'decision' and 'override').
BASES = ("check", "decision", "override")
CHECK_NOT_RUN = "not run"


@dataclass(frozen=True)
class Standing:
    """The oncologist's decision that stands for one dose, judged against the current check."""

    id: int
    dose_number: int
    decision: str                  # give, hold, discuss, stop
    by: str
    at: datetime
    reason: str                    # the criteria chosen and the note, in words ('' when none)
    check_decision: str | None     # what the check said when the decision was made
    lapsed_by: tuple[str, ...]     # what the check finds now that it did not then (words)

    @property
    def applies(self) -> bool:
        """A decision to give lapses on a new finding; hold, discuss and stop never lapse."""
        return self.decision != "give" or not self.lapsed_by

    @property
    def short(self) -> str:
        """'hold', or 'give (lapsed)' for a table cell."""
        return self.decision + ("" if self.applies else " (lapsed)")

    def words(self, when) -> str:
        """'oncologist Dr A: HOLD at 13:40 (SBP 84 mmHg)' with `when` formatting the time."""
        text = f"oncologist {self.by}: {self.decision.upper()} at {when(self.at)}"
        if self.reason:
            text += f" ({self.reason})"
        if not self.applies:
            text += "; lapsed: the check now also finds " + "; ".join(self.lapsed_by)
        return text


def standing(row: Any, check: PreDoseCheck | None, reason_words: dict[str, str] | None = None) -> Standing | None:
    """The stored decision (a DoseDecision, or None) judged against `check` (None: it could not run)."""
    if row is None:
        return None
    reason_words = reason_words or {}
    parts = [reason_words.get(c, c) for c in (row.reason_criteria or [])]
    if row.reason_note:
        parts.append(row.reason_note)
    if check is None:
        lapsed: tuple[str, ...] = ("no pre-dose check (it could not run)",)
    else:
        then_criteria, then_missing = set(row.check_criteria or []), set(row.check_missing or [])
        lapsed = tuple([c.reason for c in check.criteria if c.id not in then_criteria]
                       + [f"no valid value for {label}" for code, label in zip(check.missing_codes, check.missing)
                          if code not in then_missing])
    return Standing(id=row.id, dose_number=row.dose_number, decision=row.decision, by=row.decided_by,
                    at=row.decided_at, reason="; ".join(parts), check_decision=row.check_decision, lapsed_by=lapsed)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    basis: str | None      # check, decision, override; None when refused
    problems: tuple[str, ...] = ()

    @property
    def over_the_check(self) -> bool:
        return self.basis in ("decision", "override")


def check_words(check: PreDoseCheck | None) -> str:
    """'HOLD (absolute: SBP 84 mmHg at 13:40 ...; no valid value for urine output)'."""
    if check is None:
        return "could not run"
    found = [c.reason for c in check.criteria]
    if check.missing:
        found.append(f"no valid value for {', '.join(check.missing)}")
    return check.decision.upper() + (f" ({'; '.join(found)})" if found else "")


def needs_authority(check: PreDoseCheck | None, decision: Standing | None) -> bool:
    """True when 'given' needs an oncologist's decision to give or an override (the page shows the
    override fields only then)."""
    if decision is not None and decision.applies and decision.decision != "give":
        return True
    if check is not None and check.decision == "give":
        return False
    return not (decision is not None and decision.decision == "give" and decision.applies)


def offered_status(check: PreDoseCheck | None, decision: Standing | None) -> str:
    """The status the nurse's form offers first, the safe answer: 'stopped' when the oncologist stopped
    IL-2 for the course; 'held' when the check says hold or permanently discontinue (ending the course
    is the oncologist's decision, never a default) or the oncologist says hold or discuss; else 'given'."""
    standing = decision.decision if decision is not None and decision.applies else None
    if standing == "stop":
        return "stopped"
    if (check is not None and check.decision in ("hold", "permanently discontinue")) or standing in ("hold", "discuss"):
        return "held"
    return "given"


def judge_given(*, check: PreDoseCheck | None, decision: Standing | None, override_by: str | None,
                override_reason: str | None, dose_number: int, when) -> Verdict:
    """May dose `dose_number` be recorded as given? (see the module docstring)."""
    against = decision is not None and decision.applies and decision.decision != "give"
    if not against and check is not None and check.decision == "give":
        return Verdict(True, "check")
    if not against and decision is not None and decision.decision == "give" and decision.applies:
        return Verdict(True, "decision")
    by, why = (override_by or "").strip(), (override_reason or "").strip()
    if by and why:
        return Verdict(True, "override")
    problems = []
    if against and decision is not None:   # (against implies a decision; said again for the type checker)
        problems.append(f"Dose {dose_number} cannot be recorded as given: {decision.words(when)}.")
    else:
        problems.append(f"Dose {dose_number} cannot be recorded as given: the pre-dose check says "
                        f"{check_words(check)}.")
        if decision is not None and decision.decision == "give":
            problems.append(f"The {decision.words(when)}.")
    needed = [text for text, present in (("name the authorising clinician", by), ("give the reason", why))
              if not present]
    problems.append("Record it as held, ask the oncologist to record a decision to give this dose, or record "
                    f"an override: {' and '.join(needed)}.")
    return Verdict(False, None, tuple(problems))
