"""The refusals every layer raises and every page and command shows: bad input to the engine and the
CLI (InputError, naming row and column) and a record refused or needing confirmation (RecordError)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np


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


class RowProblems:
    """Problems found in the rows of an input table, raised together as one InputError: ordered by row,
    then by the column's place in `column_order`. Every problem is counted; at most `shown_per_check`
    messages of one check are kept (None: all of them, as arrays: a bad import can hold a million)."""

    def __init__(self, column_order: Sequence[str] = (), shown_per_check: int | None = None) -> None:
        self._order = {name: i for i, name in enumerate(column_order)}
        self._cap = shown_per_check
        self._rows: list[np.ndarray] = []
        self._columns: list[str] = []
        self._messages: list[np.ndarray] = []
        self.total = 0

    def add(self, positions: Any, column: str, messages: str | Sequence[str] | np.ndarray | Callable[[int], str]
            ) -> None:
        """Flag `positions` (0-based row positions, or a boolean mask) of `column`. `messages` is one text
        for them all, one text per position, or a function of the position (called for kept ones only)."""
        positions = np.asarray(positions)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        if len(positions) == 0:
            return
        self.total += len(positions)
        kept = positions if self._cap is None else positions[:self._cap]
        if isinstance(messages, str):
            texts = np.full(len(kept), messages, dtype=object)
        elif callable(messages):
            texts = np.array([messages(int(p)) for p in kept], dtype=object)
        else:
            texts = np.asarray(messages, dtype=object)[:len(kept)]
        self._rows.append(kept.astype(np.int64))
        self._columns.append(column)
        self._messages.append(texts)

    def raise_if_any(self) -> None:
        if not self._rows:
            return
        rows = np.concatenate(self._rows)
        unknown = len(self._order)
        order_of_column = np.concatenate([np.full(len(r), self._order.get(c, unknown)) for r, c in
                                          zip(self._rows, self._columns)])
        columns = np.concatenate([np.full(len(r), c, dtype=object) for r, c in zip(self._rows, self._columns)])
        messages = np.concatenate(self._messages)
        order = np.lexsort((order_of_column, rows))
        raise InputError([(int(r) + 1, str(c), str(m)) for r, c, m in
                          zip(rows[order], columns[order], messages[order])], self.total)


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
