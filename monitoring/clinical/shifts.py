"""Nursing shifts for the handover (issue 18 item 6), set in thresholds.toml [handover].

A handover is written per ward and shift. The shifts are a local choice: by default two 12-h shifts, day
07:00-19:00 and night 19:00-07:00 (the long-day pattern common on UK inpatient wards; a ward of three 8-h
shifts writes ["07:00", "15:00", "23:00"]). The times are wall-clock times of the installation's time
zone (IL2_TIMEZONE, monitoring.config: one for every ward), so a shift in which the clocks change is an
hour shorter or longer (the night of the change back to GMT lasts 13 h). A shift holds its start and not
its end. The fluid balance chart's 8-h periods (monitoring.clinical.fluids) are a choice of their own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Annotated

from pydantic import Field, model_validator

from monitoring.clinical.thresholds import Refused, SectionModel, Text, default_thresholds, section

UTC = timezone.utc
#: A time of day, HH:MM (the hour checked below 24 by the model; no '|' in the pattern: it is shown in a
#: table of docs/thresholds.md).
Clock = Annotated[str, Field(pattern=r"^[0-2]\d:[0-5]\d$")]


@section("handover")
class HandoverShifts(SectionModel):
    """[handover]: the ward's shifts (when each starts, in the installation's time zone IL2_TIMEZONE, and its
    name) and how far back the handover looks for a CTCAE grade to compare the shift's grades with (local choices)."""

    shift_starts: list[Clock] = Field(min_length=1, max_length=6, description=(
        "When each shift starts, as HH:MM of the installation's time zone (IL2_TIMEZONE, the same for every ward), "
        "earliest first; each shift ends when the next starts"))
    shift_names: list[Text] = Field(min_length=1, max_length=6, description=(
        "The name of each shift, in the order of shift_starts"))
    grade_lookback_hours: float = Field(ge=1, le=336, description=(
        "A grade is 'new or worse this shift' against the latest grade of the same CTCAE term recorded in "
        "this many hours before the shift started (h)"))

    @model_validator(mode="after")
    def _consistent(self) -> HandoverShifts:
        late = [s for s in self.shift_starts if int(s[:2]) > 23]
        if late:
            raise Refused("shift_starts", f"{late[0]!r} is not a time of day (00:00 to 23:59)")
        if self.shift_starts != sorted(set(self.shift_starts)):
            raise Refused("shift_starts", "must be earliest first, each once")
        if len(self.shift_names) != len(self.shift_starts):
            raise Refused("shift_names", f"needs one name per shift start ({len(self.shift_starts)})")
        return self

    @property
    def starts(self) -> list[time]:
        return [time(int(s[:2]), int(s[3:])) for s in self.shift_starts]

    @property
    def grade_lookback(self) -> timedelta:
        return timedelta(hours=self.grade_lookback_hours)


def handover_settings() -> HandoverShifts:
    """The [handover] section in force."""
    return default_thresholds()["handover"]


@dataclass(frozen=True)
class Shift:
    """One shift: its name and its start and end in UTC (the end belongs to the next shift)."""

    name: str
    start: datetime
    end: datetime

    def label(self, tz: tzinfo) -> str:
        """'Day shift 07:00–19:00, Fri 04 Dec' (the date of its start, ward time)."""
        start, end = self.start.astimezone(tz), self.end.astimezone(tz)
        return f"{self.name.capitalize()} shift {start:%H:%M}–{end:%H:%M}, {start:%a %d %b}"

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def _starts_around(day: date, tz: tzinfo, settings: HandoverShifts) -> list[tuple[datetime, str]]:
    """Every shift start from the day before `day` to the day after it, in UTC, with its name."""
    out = []
    for offset in (-1, 0, 1, 2):
        for start, name in zip(settings.starts, settings.shift_names):
            local = datetime.combine(day + timedelta(days=offset), start, tzinfo=tz)
            out.append((local.astimezone(UTC), name))
    return sorted(out)


def shift_at(moment: datetime, tz: tzinfo, settings: HandoverShifts | None = None) -> Shift:
    """The shift that holds `moment` (time zone-aware)."""
    if moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; give a time zone-aware time.")
    settings = settings or handover_settings()
    moment = moment.astimezone(UTC)
    starts = _starts_around(moment.astimezone(tz).date(), tz, settings)
    i = max(k for k, (at, _) in enumerate(starts) if at <= moment)
    return Shift(starts[i][1], starts[i][0], starts[i + 1][0])


def recent_shifts(now: datetime, tz: tzinfo, count: int = 4, settings: HandoverShifts | None = None) -> list[Shift]:
    """The shift holding `now` and the `count - 1` before it, newest first."""
    shifts = [shift_at(now, tz, settings)]
    while len(shifts) < count:
        shifts.append(shift_at(shifts[-1].start - timedelta(microseconds=1), tz, settings))
    return shifts


def handover_shift(now: datetime, tz: tzinfo, settings: HandoverShifts | None = None) -> Shift:
    """The shift being handed over at `now`: of the shift now and the one before it, the one whose end
    is nearer (at 18:30 the day shift ending at 19:00; at 19:20 the day shift that ended at 19:00)."""
    current, previous = recent_shifts(now, tz, 2, settings)
    return previous if now - previous.end < current.end - now else current
