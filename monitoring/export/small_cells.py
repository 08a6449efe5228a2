"""Small cells in de-identified reports (issue 16 item 6): no table tells of fewer than k courses.

A quality analyst sees many courses at once, never one: 7 of 16 demo courses were unique on (ward,
regimen, cycle) and 115 of 420 grade cells held 1-4 courses, each a handful of people recognisable
to anyone on the ward. The usual rule of official statistics (for example NHS England's small-number
suppression, ONS disclosure control) is applied with k = IL2_SMALL_CELL (default 5):

* a selection of fewer than k courses is not reported at all (`too_few_courses`);
* aggregate tables: a count of courses or patients from 1 to k-1 is shown as "<k" and the figures
  of its row computed from it (percent, per course, the distribution's statistics) read
  "withheld (<k)";
  0 stays 0 (nobody is described by it);
* per-course tables: the ward and the cycle of a course are withheld when fewer than k courses of
  the selection share its (ward, regimen, cycle), and the regimen too when fewer than k share it.

What remains (documented in the README): answers to two overlapping selections can still be
subtracted; the Reports page therefore filters by whole months, and every export is audited.
Identifiable exports (oncologist) are not touched.
"""
from __future__ import annotations

import pandas as pd

from monitoring.config import load_settings

WITHHELD = "withheld (<{k})"
WITHHELD_SECONDARY = "withheld (protects a small cell)"
# The person counts of each aggregate table and the figures derived from them (withheld with them).
PERSON_COUNTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "grade_distribution": (("courses",), ("percent_of_courses",)),
    "cohort_counts": (("courses", "patients", "count"), ("per_course", "per_100_patient_days",
                                                         "patient_days_total")),
    "distributions": (("n",), ("mean", "min", "p25", "median", "p75", "max")),
}
PER_COURSE_TABLES = ("courses", "terms", "episodes", "declined_alerts")


def small_cell() -> int:
    """k: the smallest number of courses a de-identified figure may describe (IL2_SMALL_CELL)."""
    return load_settings().small_cell   # a whole number >= 2, or SettingsError naming IL2_SMALL_CELL


def too_few_courses(tables: dict[str, pd.DataFrame], k: int | None = None) -> str | None:
    """Why the selection is not reported de-identified (None when it has at least k courses)."""
    k = k or small_cell()
    count = len(tables["courses"])
    if 0 < count < k:
        return (f"Fewer than {k} courses match these filters; a de-identified report describes at least {k} "
                "(widen the months, wards or regimens).")
    return None


def suppress(tables: dict[str, pd.DataFrame], k: int | None = None) -> dict[str, pd.DataFrame]:
    """The tables of a de-identified export with every small cell withheld (see the module doc)."""
    k = k or small_cell()
    out = dict(tables)
    for name, (counts, derived) in PERSON_COUNTS.items():
        if name in out:
            out[name] = _aggregate(out[name], counts, derived, k)
    if "grade_distribution" in out:
        out["grade_distribution"] = _complementary(out["grade_distribution"], k)
    if "courses" in out and len(out["courses"]):
        out.update(_per_course(out, k))
    return out


def _aggregate(frame: pd.DataFrame, counts: tuple[str, ...], derived: tuple[str, ...], k: int) -> pd.DataFrame:
    present = [c for c in counts if c in frame.columns]
    if not present or frame.empty:
        return frame
    small = pd.Series(False, index=frame.index)
    for column in present:
        values = pd.to_numeric(frame[column], errors="coerce")
        small |= (values > 0) & (values < k)
    if not small.any():
        return frame
    out = frame.astype({c: object for c in [*present, *derived] if c in frame.columns})
    for column in present:
        values = pd.to_numeric(frame[column], errors="coerce")
        out.loc[small & (values > 0) & (values < k), column] = f"<{k}"
    for column in derived:   # said as withheld, never blank: a blank means "not determined"
        if column in out.columns:
            out.loc[small, column] = WITHHELD.format(k=k)
    return out


def _complementary(grades: pd.DataFrame, k: int) -> pd.DataFrame:
    """Secondary suppression in the grade distribution, so a withheld cell cannot be found by
    subtraction: within a regimen's organ system (whose cells add up to its courses) a lone withheld
    cell takes the smallest other non-zero cell with it; and the all-regimens cell of an organ system
    and grade is withheld when exactly one regimen's cell of it is (all minus the others)."""
    from monitoring.export.quality import ALL_REGIMENS

    if grades.empty or "courses" not in grades.columns:
        return grades
    out = grades.copy()
    primary = f"<{k}"
    secondary = WITHHELD_SECONDARY

    def hidden(frame: pd.DataFrame) -> pd.Series:
        return frame["courses"].isin([primary, secondary])

    def withhold(index) -> None:
        out.loc[index, "courses"] = secondary
        if "percent_of_courses" in out.columns:
            out.loc[index, "percent_of_courses"] = secondary

    while True:   # until no lone withheld cell is left to find (each pass can expose another)
        before = int(hidden(out).sum())
        for _, group in out.groupby(["regimen", "organ_system"], sort=False):
            if hidden(group).sum() == 1:
                shown = pd.to_numeric(group.loc[~hidden(group), "courses"], errors="coerce")
                shown = shown[shown > 0]
                if len(shown):
                    withhold(shown.idxmin())
        regimens = out[out["regimen"] != ALL_REGIMENS]
        for (organ, grade), cells in regimens.groupby(["organ_system", "grade"], sort=False):
            if hidden(cells).sum() == 1:
                total = out.index[(out["regimen"] == ALL_REGIMENS) & (out["organ_system"] == organ)
                                  & (out["grade"] == grade)]
                for index in total:
                    if not hidden(out.loc[[index]]).iloc[0]:
                        withhold(index)
        if int(hidden(out).sum()) == before:
            return out


def _per_course(tables: dict[str, pd.DataFrame], k: int) -> dict[str, pd.DataFrame]:
    courses = tables["courses"]
    label = WITHHELD.format(k=k)
    by_regimen = courses.groupby("regimen", dropna=False)["course_ref"].transform("size")
    rare_regimen = by_regimen < k
    keys = [c for c in ("ward_code", "regimen", "cycle") if c in courses.columns]
    by_cell = courses.groupby(keys, dropna=False)["course_ref"].transform("size")
    rare_cell = by_cell < k
    out = {"courses": courses.astype({c: object for c in keys})}
    for column in ("ward_code", "cycle"):
        if column in out["courses"].columns:
            out["courses"].loc[rare_cell, column] = label
    out["courses"].loc[rare_regimen, "regimen"] = label
    hidden = set(courses.loc[rare_regimen, "course_ref"])
    for name in PER_COURSE_TABLES[1:]:
        frame = tables.get(name)
        if frame is None or frame.empty or "regimen" not in frame.columns:
            continue
        frame = frame.astype({"regimen": object})
        frame.loc[frame["course_ref"].isin(hidden), "regimen"] = label
        out[name] = frame
    return out
