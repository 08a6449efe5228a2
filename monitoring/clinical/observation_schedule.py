"""When the next bedside set is due (issue 15): the stricter of the NEWS2 frequency (RCP 2017
Chart 4) and the IL-2 regimen's minimum vital-sign interval ([observation_frequency] of
data/thresholds.toml: through the course, and after each dose), with the reason that set it.

A patient on high-dose bolus IL-2 with NEWS2 0 is not 'minimum 12-hourly': while IL-2 runs (a dose
given or held in the last `running_hours`, and not stopped, as monitoring.clinical.rules.il2_hold defines
it) the regimen's interval applies, and in the hours after each dose its post-dose interval.
No published figure exists for these intervals in docs/clinical.md: every one is a local choice,
marked so in the file with its basis.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import pandas as pd
from pydantic import Field, model_validator

from monitoring.clinical.rules.common import REGIMEN_IDS, Regimen
from monitoring.clinical.thresholds import (
    Refused,
    SectionModel,
    SourceStatus,
    Text,
    ThresholdsModel,
    default_thresholds,
    section,
)
from monitoring.clinical.vocabulary import REGIMENS
from monitoring.timefmt import elapsed_text


def _hours_text(hours: float) -> str:
    return "hourly" if hours == 1 else f"every {hours:g} h"


class RegimenFrequency(ThresholdsModel):
    """The minimum vital-sign interval of one regimen while IL-2 runs (none given: NEWS2 alone)."""

    course_hours: float | None = Field(None, ge=0.25, le=24, description="The longest interval between sets "
                                                                         "through the course (h)")
    post_dose_hours: float | None = Field(None, ge=0.25, le=24, description="The longest interval between sets "
                                                                            "after each dose given (h)")
    post_dose_from_hours: float = Field(0.0, ge=0, le=24, description="The post-dose phase starts this long after "
                                                                      "the dose (h)")
    post_dose_to_hours: float = Field(0.0, ge=0, le=48, description="... and ends this long after it (h)")
    status: SourceStatus = Field(description="How far the figures were checked")
    basis: Text = Field(description="Where the figures come from")

    @model_validator(mode="after")
    def _post_dose_phase_complete(self) -> RegimenFrequency:
        if self.post_dose_hours is None:
            return self
        for key in ("post_dose_from_hours", "post_dose_to_hours"):
            if key not in self.model_fields_set:
                raise Refused(key, "missing (post_dose_hours needs it)")
        if self.post_dose_to_hours <= self.post_dose_from_hours:
            raise Refused("post_dose_to_hours", f"must be later than post_dose_from_hours "
                                                f"({self.post_dose_from_hours:g})")
        return self


@section("observation_frequency")
class FrequencySettings(SectionModel):
    """[observation_frequency]: the minimum vital-sign interval by regimen and phase while IL-2 runs
    (local choices: no published IL-2 interval in docs/clinical.md)."""

    running_hours: float = Field(ge=1, le=72, description="IL-2 runs while a dose was given or held this long ago (h)")
    regimens: dict[Regimen, RegimenFrequency] = Field(description="One row per regimen of the course model")

    @model_validator(mode="after")
    def _every_regimen_has_a_row(self) -> FrequencySettings:
        missing = [regimen for regimen in REGIMEN_IDS if regimen not in self.regimens]
        if missing:
            raise Refused(f"regimens.{missing[0]}", "missing")
        return self


SHORT_REASONS = {"news2": "NEWS2", "il2-course": "IL-2 course", "il2-post-dose": "IL-2 post-dose"}


def news2_due(last_set_at: datetime, scored_at: datetime | None, frequency_hours: float | None) -> datetime:
    """The NEWS2 due time (RCP 2017 Chart 4): the last complete set's interval after it; without a
    complete set, the low band's shorter interval (NEWS2 1-4) after the last set of any kind."""
    from monitoring.clinical.scores import news2_response

    if scored_at is None or pd.isna(scored_at) or frequency_hours is None or pd.isna(frequency_hours):
        return last_set_at + timedelta(hours=news2_response("low")[1])
    return scored_at + timedelta(hours=float(frequency_hours))


@dataclass(frozen=True)
class Due:
    at: datetime | None     # None: due now (no set ever) or continuous monitoring
    reason: str             # what set the due time, in words
    kind: str               # none, continuous, news2, il2-course, il2-post-dose

    @property
    def short_reason(self) -> str:
        """'IL-2 post-dose' for a narrow table cell (the full reason is on the patient's pages)."""
        return SHORT_REASONS.get(self.kind, self.reason)


def next_set(*, last_set_at: datetime | None, scored_at: datetime | None, news2: int | None,
             news2_hours: float | None, regimen: str | None, last_dose_status: str | None,
             last_dose_at: datetime | None, now: datetime, tz: tzinfo,
             settings: FrequencySettings | None = None) -> Due:
    """The next set's due time and why: the earliest of the NEWS2 interval after the last complete set
    (the low band's shorter interval after the last set of any kind when there is none: news2_due),
    the regimen's course interval after the last set while IL-2 runs, and its post-dose interval in the
    window after the last dose given (never before the window opens)."""
    settings = settings or default_thresholds()["observation_frequency"]
    if last_set_at is None or pd.isna(last_set_at):
        return Due(None, "no observation set recorded yet", "none")
    complete = not (scored_at is None or pd.isna(scored_at))
    if complete and news2_hours == 0:
        return Due(None, f"NEWS2 {news2}: continuous monitoring", "continuous")
    news2_at = news2_due(last_set_at, scored_at, news2_hours)
    candidates = [(news2_at, f"NEWS2 {news2}: minimum {_hours_text(news2_hours)}" if complete else
                   f"no complete set: NEWS2 1-4 interval, {_hours_text((news2_at - last_set_at) / timedelta(hours=1))}",
                   "news2")]
    frequency = settings.regimens.get(regimen) if isinstance(regimen, str) else None
    dosed = isinstance(last_dose_status, str) and last_dose_at is not None and not pd.isna(last_dose_at)
    running = dosed and last_dose_status in ("given", "held") and now - last_dose_at <= timedelta(
        hours=settings.running_hours)
    if frequency is not None and running:
        name = REGIMENS[regimen].split(" (")[0]
        if frequency.course_hours:
            candidates.append((last_set_at + timedelta(hours=frequency.course_hours),
                               f"IL-2 {name}: {_hours_text(frequency.course_hours)} through the course", "il2-course"))
        if frequency.post_dose_hours and last_dose_status == "given":
            opens = last_dose_at + timedelta(hours=frequency.post_dose_from_hours)
            closes = last_dose_at + timedelta(hours=frequency.post_dose_to_hours)
            at = max(opens, last_set_at + timedelta(hours=frequency.post_dose_hours))
            if at <= closes:
                candidates.append((at, f"IL-2 post-dose {_hours_text(frequency.post_dose_hours)} checks "
                                       f"({frequency.post_dose_from_hours:g}-{frequency.post_dose_to_hours:g} h after "
                                       f"the dose given at {pd.Timestamp(last_dose_at).tz_convert(tz):%H:%M})",
                                   "il2-post-dose"))
    at, reason, kind = min(candidates, key=lambda c: c[0])
    return Due(at, reason, kind)


def due_words(due: Due, now: datetime) -> str:
    """'due 40 min ago (IL-2 post-dose hourly checks ...)' / 'next due in 3 h 10 min (NEWS2 0: ...)'."""
    if due.at is None:
        return "due now" if due.kind == "none" else due.reason
    when = f"due {elapsed_text(now - due.at)} ago" if due.at <= now else f"next due in {elapsed_text(due.at - now)}"
    return f"{when} ({due.reason})"
