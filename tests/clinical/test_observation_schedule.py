"""Issue 15: the next set is due at the stricter of the NEWS2 interval (RCP 2017 Chart 4) and the IL-2
regimen's ([observation_frequency] of data/thresholds.toml, local choices: HD bolus every 4 h through
the course and hourly 1-4 h after each dose), with the reason that set it. Boundaries from the file's
figures: just inside, at and just outside each window."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from monitoring.clinical.observation_schedule import due_words, next_set
from monitoring.clinical.thresholds import load_thresholds

UTC = timezone.utc
DOSE = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)   # the last dose given
H, M = timedelta(hours=1), timedelta(minutes=1)
NEWS2_HOURS = {0: 12, 1: 4, 5: 1}                  # RCP Chart 4: 0 -> 12-hourly; 1-4 -> 4-hourly; 5+ -> hourly


def due(last_set, *, news2=0, regimen="hd-iv-bolus", status="given", dose_at=DOSE, now=None, complete=True):
    return next_set(last_set_at=last_set, scored_at=last_set if complete else None, news2=news2,
                    news2_hours=NEWS2_HOURS[news2] if complete else None, regimen=regimen, last_dose_status=status,
                    last_dose_at=dose_at, now=now or last_set + M, tz=UTC)


# (last set relative to the dose, NEWS2, due relative to the dose, kind): HD IV bolus, dose given at DOSE.
@pytest.mark.parametrize("last_set, news2, expected, kind", [
    (-10 * M, 0, 1 * H, "il2-post-dose"),          # pre-dose set: the first post-dose check opens at 1 h
    (1 * H, 0, 2 * H, "il2-post-dose"),            # hourly inside the window
    (3 * H - M, 0, 4 * H - M, "il2-post-dose"),    # just inside the window's end
    (3 * H, 0, 4 * H, "il2-post-dose"),            # at the end (4 h after the dose): still due
    (3 * H + M, 0, 7 * H + M, "il2-course"),       # past it: every 4 h through the course, not NEWS2 0's 12 h
    (3 * H + M, 5, 4 * H + M, "news2"),            # NEWS2 5 (hourly) is stricter than the course
    (-10 * M, 5, 50 * M, "news2"),                 # NEWS2 hourly before the post-dose window opens
])
def test_hd_bolus_due_is_the_stricter_of_news2_the_course_and_the_post_dose_checks(last_set, news2, expected, kind):
    found = due(DOSE + last_set, news2=news2)
    assert (found.at - DOSE, found.kind) == (expected, kind)


@pytest.mark.parametrize("dose_hours_ago, running", [(24, True), (24 + 1 / 60, False)])
def test_the_course_interval_applies_while_il2_runs(dose_hours_ago, running):
    """[observation_frequency] running_hours = 24: a dose given or held in the last 24 h (as il2_hold)."""
    now = DOSE + timedelta(hours=dose_hours_ago)
    found = due(now - 30 * M, now=now)
    assert found.kind == ("il2-course" if running else "news2")
    assert found.at - (now - 30 * M) == (4 * H if running else 12 * H)


def test_a_held_dose_keeps_the_course_interval_but_has_no_post_dose_checks():
    found = due(DOSE + 10 * M, status="held")
    assert (found.kind, found.at - DOSE) == ("il2-course", 4 * H + 10 * M)


def test_a_stopped_course_follows_news2_alone():
    assert due(DOSE + 10 * M, status="stopped").kind == "news2"


@pytest.mark.parametrize("regimen, last_set, expected, kind", [
    ("continuous-iv", 10 * M, 4 * H + 10 * M, "il2-course"),      # every 4 h while it runs, no post-dose phase
    ("biochemotherapy", 10 * M, 4 * H + 10 * M, "il2-course"),
    ("til-il2", -10 * M, 1 * H, "il2-post-dose"),
    ("low-dose-sc", 10 * M, 12 * H + 10 * M, "news2"),             # self-injection at home: NEWS2 alone
    ("intralesional", -10 * M, 50 * M, "il2-post-dose"),           # hourly 0-4 h after the injection
    ("intralesional", 4 * H + M, 16 * H + M, "news2"),             # then NEWS2 alone
])
def test_each_regimen_has_its_own_interval(regimen, last_set, expected, kind):
    found = due(DOSE + last_set, regimen=regimen)
    assert (found.at - DOSE, found.kind) == (expected, kind)


def test_no_set_is_due_now_and_news2_7_is_continuous():
    none = next_set(last_set_at=None, scored_at=None, news2=None, news2_hours=None, regimen="hd-iv-bolus",
                    last_dose_status="given", last_dose_at=DOSE, now=DOSE, tz=UTC)
    assert (none.at, none.kind, due_words(none, DOSE)) == (None, "none", "due now")
    continuous = next_set(last_set_at=DOSE, scored_at=DOSE, news2=7, news2_hours=0, regimen="hd-iv-bolus",
                          last_dose_status="given", last_dose_at=DOSE, now=DOSE, tz=UTC)
    assert (continuous.at, continuous.reason) == (None, "NEWS2 7: continuous monitoring")


def test_the_reason_is_named_in_words():
    found = due(DOSE + H, now=DOSE + H + 20 * M)
    assert due_words(found, DOSE + H + 20 * M) == (
        "next due in 40 min (IL-2 post-dose hourly checks (1-4 h after the dose given at 10:00))")
    later = due(DOSE + 3 * H + M, now=DOSE + 8 * H)
    assert due_words(later, DOSE + 8 * H) == (
        "due 59 min ago (IL-2 High-dose IV bolus every 8 h: every 4 h through the course)")


def test_a_regimen_without_intervals_and_a_bad_window_are_refused_by_the_file(tmp_path):
    text = (load_thresholds().path.read_text(encoding="utf-8")
            .replace("post_dose_from_hours = 1\npost_dose_to_hours = 4\nstatus = \"local-choice\"\n"
                     "basis = \"Institutional",
                     "post_dose_from_hours = 4\npost_dose_to_hours = 1\nstatus = \"local-choice\"\n"
                     "basis = \"Institutional"))
    bad = tmp_path / "thresholds.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(Exception, match="observation_frequency.regimens.hd-iv-bolus.post_dose_to_hours: must be later"):
        load_thresholds(bad)
