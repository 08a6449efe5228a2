"""Observation sets: the values a nurse recorded at one time, scored from their own values.

One definition for the ward overview (the last set and the last complete one), the quality report
(overdue sets) and anything else that needs NEWS2 per set: a set is every bedside value of one key
(a patient or a course) at one time; lab imports are not sets; a value entered twice keeps the later
row; a parameter not recorded stays missing, so a partial set (a post-dose temperature) has no NEWS2
(RCP 2017: NEWS2 needs all seven parameters).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.clinical.code_lists import SCORE_CODES
from monitoring.clinical.scores import DETAIL_COLUMNS, OUTPUT_COLUMNS, score_columns

#: The coded inputs of the scores (text values); the others are numbers.
CODED = ("on_oxygen", "spo2_scale", "consciousness")


def scored_sets(bedside: pd.DataFrame, key: str, *, detail: bool = False) -> pd.DataFrame:
    """One row per (key, observed_at) of `bedside` rows (code, value_num, value_code, observed_at and
    the key column; lab imports already left out), ordered by key then time, with the set's values by
    code and its scores (monitoring.clinical.scores.score_frame: news2, news2_band, news2_missing,
    qsofa, sirs, and with `detail` the NEWS2 points per parameter). A value entered twice in one set
    keeps the later row. Codes other than the scores' inputs are ignored."""
    rows = bedside[bedside["code"].isin(SCORE_CODES)]
    # One row per set built with numpy: a pivot (unstack) costs ~50 ms of pandas overhead even for the
    # 24 sets of one patient's day, on every chart view and ward refresh.
    key_code, key_values = pd.factorize(rows[key], sort=True)
    times = pd.DatetimeIndex(rows["observed_at"])
    ticks = times.asi8
    order = np.lexsort((ticks, key_code))
    new_set = np.ones(len(order), dtype=bool)
    new_set[1:] = (key_code[order][1:] != key_code[order][:-1]) | (ticks[order][1:] != ticks[order][:-1])
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.cumsum(new_set) - 1
    first = order[new_set]
    frame: dict[str, object] = {key: np.asarray(key_values)[key_code[first]], "time": times[first]}
    codes = rows["code"].to_numpy(dtype=object)
    numbers = rows["value_num"].to_numpy(dtype=float, na_value=np.nan)
    texts = rows["value_code"].to_numpy(dtype=object, na_value=None)
    for code in SCORE_CODES:
        at = np.flatnonzero(codes == code)
        if len(at):
            # A value entered twice in one set: the later row (the last in the input) wins.
            _, last = np.unique(position[at][::-1], return_index=True)
            at = at[::-1][last]
            column = np.full(len(first), None, dtype=object) if code in CODED else np.full(len(first), np.nan)
            column[position[at]] = (texts if code in CODED else numbers)[at]
            frame[code] = column
    # Scored from arrays and built as one frame: score_frame's column-by-column inserts cost more than
    # the scoring itself for a chart's few sets.
    scored = score_columns(pd.DataFrame({**frame, "patient_id": frame[key]}), detail=detail)
    names = (*OUTPUT_COLUMNS, *(DETAIL_COLUMNS if detail else ()))
    return pd.DataFrame({**frame, **{name: scored[name] for name in names}})
