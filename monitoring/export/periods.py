"""Report periods (issue 20 item 1): whole calendar months and quarters, with presets, in the installation's
time zone (a ward's November is its own, not UTC's), and the basis a period selects on.

- Whole months and quarters only for a de-identified report: a period of whole months reveals no calendar
  date of any patient (issue 16 item 6: a day-by-day filter dated each course's start, and with it every
  event of the course). A custom range of days (`custom`) is for identifiable exports only, which carry
  the dates anyway; `Period.whole` says which a period is, and `for_report` refuses a custom period in a
  de-identified one.
- Basis (`BASES`): "events" (the default) selects the courses with any event in the period (a dose, an
  observation, an alert, or the start itself) and counts only the events inside it (doses, alerts, sets,
  grades, patient-days within the period: "events in November"); "course-start" selects the courses that
  started in the period and counts all their events (a cohort followed to its end).

The same list of months and quarters is offered whatever the data holds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

BASES = {"events": "Events in the period (doses, observations, alerts; patient-days inside the period)",
         "course-start": "Courses that started in the period (all their events)"}
PRESETS = ("last month", "this month", "last quarter", "this quarter", "all time")
OFFERED_MONTHS = 60      # five years of months, newest first
OFFERED_QUARTERS = 20    # five years of quarters


@dataclass(frozen=True)
class Period:
    """[start, end) as time zone-aware times (None: open); `label` as people say it ('November 2026')."""

    label: str
    start: datetime | None
    end: datetime | None
    whole: bool = True        # whole months (a month, a quarter, all time); False: a custom range of days
    code: str = ""            # for a file name: '2026-11', '2026-Q4', 'all-time', '2026-11-03-to-2026-11-17'

    def describe(self) -> dict:
        return {"period": self.label, "start": None if self.start is None else self.start.isoformat(),
                "end": None if self.end is None else self.end.isoformat(), "whole_months": self.whole}


ALL_TIME = Period("all time", None, None, code="all-time")


def _first(year: int, month: int, tz: tzinfo) -> datetime:
    return datetime(year, month, 1, tzinfo=tz)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def month(year: int, month_number: int, tz: tzinfo) -> Period:
    """The calendar month, midnight to midnight in `tz` (e.g. 'November 2026')."""
    if not 1 <= month_number <= 12:
        raise ValueError(f"month {month_number} is not 1 to 12")
    end = _add_months(year, month_number, 1)
    return Period(f"{datetime(year, month_number, 1):%B %Y}", _first(year, month_number, tz), _first(*end, tz),
                  code=f"{year:04d}-{month_number:02d}")


def quarter(year: int, number: int, tz: tzinfo) -> Period:
    """Calendar quarter `number` (1: January to March) of `year` ('Q4 2026 (October to December)')."""
    if not 1 <= number <= 4:
        raise ValueError(f"quarter {number} is not 1 to 4")
    first = 3 * (number - 1) + 1
    end = _add_months(year, first, 3)
    names = f"{datetime(year, first, 1):%B} to {datetime(year, first + 2, 1):%B}"
    return Period(f"Q{number} {year} ({names})", _first(year, first, tz), _first(*end, tz),
                  code=f"{year:04d}-Q{number}")


def preset(name: str, *, now: datetime, tz: tzinfo) -> Period:
    """'last month', 'this month', 'last quarter', 'this quarter' or 'all time', as of `now` in `tz`."""
    local = now.astimezone(tz)
    if name == "this month":
        return month(local.year, local.month, tz)
    if name == "last month":
        return month(*_add_months(local.year, local.month, -1), tz)
    number = (local.month - 1) // 3 + 1
    if name == "this quarter":
        return quarter(local.year, number, tz)
    if name == "last quarter":
        return quarter(local.year - (number == 1), 4 if number == 1 else number - 1, tz)
    if name == "all time":
        return ALL_TIME
    raise ValueError(f"period '{name}' is not known; accepted: {', '.join(PRESETS)}, YYYY-MM or YYYY-Qn")


def months(*, now: datetime, tz: tzinfo, count: int = OFFERED_MONTHS) -> list[Period]:
    """The last `count` calendar months, this one first."""
    local = now.astimezone(tz)
    return [month(*_add_months(local.year, local.month, -i), tz) for i in range(count)]


def quarters(*, now: datetime, tz: tzinfo, count: int = OFFERED_QUARTERS) -> list[Period]:
    """The last `count` calendar quarters, this one first."""
    local = now.astimezone(tz)
    index = local.year * 4 + (local.month - 1) // 3
    return [quarter((index - i) // 4, (index - i) % 4 + 1, tz) for i in range(count)]


def parse(text: str, *, now: datetime, tz: tzinfo) -> Period:
    """A period as typed on the command line: a preset ('last-month' or 'last month'), 'YYYY-MM' or 'YYYY-Qn'."""
    words = text.strip().lower().replace("-", " ")
    if words in PRESETS:
        return preset(words, now=now, tz=tz)
    compact = text.strip().upper()
    try:
        if len(compact) == 7 and compact[4] == "-" and compact[5] == "Q":
            return quarter(int(compact[:4]), int(compact[6]), tz)
        if len(compact) == 7 and compact[4] == "-":
            return month(int(compact[:4]), int(compact[5:]), tz)
    except ValueError:
        pass
    raise ValueError(f"period '{text}' is not known; accepted: {', '.join(p.replace(' ', '-') for p in PRESETS)}, "
                     "a month YYYY-MM or a quarter YYYY-Qn")


def custom(first_day: date, last_day: date, tz: tzinfo) -> Period:
    """From the start of `first_day` to the end of `last_day` in `tz` (identifiable exports only)."""
    if last_day < first_day:
        raise ValueError(f"the period ends ({last_day:%d %b %Y}) before it starts ({first_day:%d %b %Y})")
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=tz)
    end_day = last_day + timedelta(days=1)
    return Period(f"{first_day:%d %b %Y} to {last_day:%d %b %Y}", start,
                  datetime(end_day.year, end_day.month, end_day.day, tzinfo=tz), whole=False,
                  code=f"{first_day:%Y-%m-%d}-to-{last_day:%Y-%m-%d}")


def for_report(period: Period, *, identifiable: bool) -> Period:
    """The period if this report may use it: a custom range of days only in an identifiable one."""
    if not period.whole and not identifiable:
        raise ValueError("a de-identified report covers whole months or quarters (a range of days would date the "
                         "patients' events); choose a month, a quarter or a preset, or make an identifiable export")
    return period


def choices(*, now: datetime, tz: tzinfo) -> dict[str, Period]:
    """The periods a report offers, by the label shown: the presets (with the month or quarter they are
    now), then the quarters and the months, newest first. Keys are unique labels."""
    offered: dict[str, Period] = {}
    for name in PRESETS:
        period = preset(name, now=now, tz=tz)
        offered[name.capitalize() if name == "all time" else f"{name.capitalize()} ({period.label})"] = period
    for period in quarters(now=now, tz=tz) + months(now=now, tz=tz):
        offered.setdefault(period.label, period)
    return offered
