"""Elapsed time and local time for display. Elapsed time, never calendar day, drives 'due' and
'overdue' (peers.md §4: OpenMRS O3-4631 flagged 23:42 vitals as out of date at 00:03)."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, tzinfo

import pandas as pd


def elapsed_text(delta: timedelta | None) -> str:
    """'3 h 10 min', '40 min', '2 d 4 h'; 'none recorded' when missing (missing is never zero)."""
    if delta is None or (isinstance(delta, float) and math.isnan(delta)) or pd.isna(delta):
        return "none recorded"
    minutes = int(delta.total_seconds() // 60)
    if minutes < 0:
        return "in the future"
    days, rem = divmod(minutes, 24 * 60)
    hours, mins = divmod(rem, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def course_day(start: datetime | None, now: datetime) -> int | None:
    """Day of the course, day 1 being the first 24 h from the start (elapsed, not calendar)."""
    if start is None or pd.isna(start):
        return None
    return int((now - start).total_seconds() // 86_400) + 1


def local_text(moment: datetime | None, tz: tzinfo, fmt: str = "%d %b %H:%M") -> str:
    """A UTC time shown in the installation's time zone (IL2_TIMEZONE, one for every ward), with the
    zone's abbreviation."""
    if moment is None or pd.isna(moment):
        return "–"
    local = pd.Timestamp(moment).tz_convert(tz)
    return f"{local.strftime(fmt)} {local.tzname()}"
