"""Issue 18 item 6: the ward's shifts for the handover (thresholds.toml [handover]): which shift holds
a moment, in the installation's time zone, across a change of the clocks, and which shift is being handed over."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from monitoring.clinical.shifts import HandoverShifts, handover_shift, recent_shifts, shift_at
from monitoring.clinical.thresholds import ThresholdsError, parse_section

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
SOURCE = {"document": "test", "version": "1", "table": "t", "status": "local-choice"}


def settings(starts=("07:00", "19:00"), names=("day", "night"), lookback=72.0) -> HandoverShifts:
    return parse_section("handover", {"shift_starts": list(starts), "shift_names": list(names),
                                      "grade_lookback_hours": lookback, "source": SOURCE})


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.mark.parametrize(("moment", "name", "start", "end"), [
    ("2026-11-27T06:59", "night", "2026-11-26T19:00", "2026-11-27T07:00"),
    ("2026-11-27T07:00", "day", "2026-11-27T07:00", "2026-11-27T19:00"),     # a shift holds its start ...
    ("2026-11-27T18:59", "day", "2026-11-27T07:00", "2026-11-27T19:00"),
    ("2026-11-27T19:00", "night", "2026-11-27T19:00", "2026-11-28T07:00"),   # ... and not its end
    ("2026-11-27T23:30", "night", "2026-11-27T19:00", "2026-11-28T07:00"),
    ("2026-11-28T00:30", "night", "2026-11-27T19:00", "2026-11-28T07:00"),
    ("2026-07-01T07:30", "day", "2026-07-01T07:00", "2026-07-01T19:00"),     # summer time: 06:00 UTC
])
def test_a_moment_belongs_to_the_shift_of_its_ward_time(moment, name, start, end):
    shift = shift_at(local(moment), LONDON, settings())
    assert (shift.name, shift.start, shift.end) == (name, local(start), local(end))
    assert shift.start.tzinfo == UTC


@pytest.mark.parametrize(("night", "hours"), [("2026-10-24T19:00", 13), ("2026-03-28T19:00", 11),
                                              ("2026-11-27T19:00", 12)])
def test_a_night_in_which_the_clocks_change_is_an_hour_longer_or_shorter(night, hours):
    shift = shift_at(local(night), LONDON, settings())
    assert (shift.end - shift.start).total_seconds() == hours * 3600
    assert f"{shift.end.astimezone(LONDON):%H:%M}" == "07:00"


def test_three_shifts_a_day_and_their_labels():
    three = settings(("07:00", "15:00", "23:00"), ("early", "late", "night"))
    shifts = recent_shifts(local("2026-11-27T16:00"), LONDON, 4, three)
    assert [s.label(LONDON) for s in shifts] == [
        "Late shift 15:00–23:00, Fri 27 Nov", "Early shift 07:00–15:00, Fri 27 Nov",
        "Night shift 23:00–07:00, Thu 26 Nov", "Late shift 15:00–23:00, Thu 26 Nov"]


@pytest.mark.parametrize(("now", "start"), [
    ("2026-11-27T18:30", "2026-11-27T07:00"),     # half an hour before the end: the shift under way
    ("2026-11-27T19:20", "2026-11-27T07:00"),     # 20 min into the night: the day shift that just ended
    ("2026-11-28T00:59", "2026-11-27T07:00"),
    ("2026-11-28T01:01", "2026-11-27T19:00"),     # past half the night: the night shift itself
    ("2026-11-27T13:00", "2026-11-27T07:00"),     # exactly half way: the shift under way
])
def test_the_shift_handed_over_is_the_one_whose_end_is_nearer(now, start):
    assert handover_shift(local(now), LONDON, settings()).start == local(start)


@pytest.mark.parametrize(("starts", "names", "message"), [
    (["7:00"], ["day"], "handover.shift_starts: item 1: found '7:00', expected text matching"),
    (["24:00"], ["day"], "handover.shift_starts: '24:00' is not a time of day (00:00 to 23:59)"),
    (["19:00", "07:00"], ["night", "day"], "handover.shift_starts: must be earliest first, each once"),
    (["07:00", "07:00"], ["a", "b"], "handover.shift_starts: must be earliest first, each once"),
    (["07:00", "19:00"], ["day"], "handover.shift_names: needs one name per shift start (2)"),
])
def test_a_shift_pattern_that_cannot_be_used_is_refused_naming_the_key(starts, names, message):
    with pytest.raises(ThresholdsError) as refused:
        settings(starts, names)
    assert message in str(refused.value)


def test_a_time_without_a_zone_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        shift_at(datetime(2026, 11, 27, 12), LONDON, settings())
