"""The refusals every layer raises and every page and command shows: bad input to the engine and the
CLI (InputError, naming row and column) and a record refused or needing confirmation (RecordError)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence


class InputError(ValueError):
    """Input the engine refuses. `problems` lists (row, column, message); rows are 1-based data rows
    as a spreadsheet user counts them (row 1 = the first line after the header). The CLI exits 2."""

    def __init__(self, problems: list[tuple[int | None, str | None, str]], total: int | None = None):
        self.problems = problems
        self.total = total if total is not None else len(problems)
        lines = [f"row {r}, column {c}: {m}" if r is not None and c else
                 (f"column {c}: {m}" if c else m) for r, c, m in problems[:20]]
        more = self.total - len(lines)
        if more > 0:
            lines.append(f"... and {more} more problems")
        super().__init__("\n".join(lines))


class RecordError(ValueError):
    """Input refused; `errors` lists every problem found, each naming value, unit and what is accepted."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


class ConfirmationRequired(RecordError):
    """Values are possible but surprising: save again with them confirmed (by code)."""

    def __init__(self, confirmations: Mapping[str, str]):
        self.confirmations = dict(confirmations)
        super().__init__(list(self.confirmations.values()))
