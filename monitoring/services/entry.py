"""Bedside entry: which fields the form shows, and the feedback a nurse sees straight after saving.

The form is grouped by organ system. Vital signs come first in the order of the NEWS2 chart, so a
full set is typed top to bottom with the keyboard alone; the rest sits in collapsed groups.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

import pandas as pd
from sqlmodel import Session

from monitoring.clinical.catalogue import Catalogue, default_catalogue
from monitoring.clinical.code_lists import LABS, SCORE_CODES, VITAL_SIGNS
from monitoring.clinical.inputs import ObservationInput
from monitoring.clinical.observation_schedule import due_words, next_set
from monitoring.clinical.scores import news2_response, score_frame
from monitoring.services.alerting import sync_alerts
from monitoring.store.repository import current_observations
from monitoring.timefmt import elapsed_text
from monitoring.views.alerts import list_alerts


def entry_groups(catalogue: Catalogue | None = None) -> dict[str, list[str]]:
    """Form sections: vital signs first, then each organ system's other bedside codes, then labs."""
    catalogue = catalogue or default_catalogue()
    groups: dict[str, list[str]] = {"vital signs": [c for c in VITAL_SIGNS if c in catalogue]}
    taken = set(groups["vital signs"]) | set(LABS)
    for system, entries in catalogue.by_organ_system().items():
        codes = [e.code for e in entries if e.code not in taken]
        if codes:
            groups[system] = codes
    groups["laboratory results (entered by hand)"] = [c for c in LABS if c in catalogue]
    return groups


@dataclass
class Feedback:
    news2: int | None
    band: str | None
    missing: str
    frequency: str | None
    frequency_hours: float | None
    response: str | None
    alerts: pd.DataFrame
    counts: dict[str, int]
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)


def set_scores(values: dict[str, object], observed_at: datetime) -> pd.DataFrame:
    """NEWS2, qSOFA and SIRS of one set, from its own values only (missing stays missing)."""
    row = {"patient_id": "p", "time": observed_at}
    row.update({code: values[code] for code in SCORE_CODES if values.get(code) is not None})
    return score_frame(pd.DataFrame([row]))


def after_save(*, session: Session, patient_id: int, values: dict[str, object], observed_at: datetime,
               username: str, now: datetime) -> Feedback:
    """What the nurse sees at once: the set's NEWS2 and monitoring frequency (RCP Chart 4), the
    alerts the set raised or changed, and the last 24 h of the values just entered."""
    scored = set_scores(values, observed_at).iloc[0]
    news2 = None if pd.isna(scored["news2"]) else int(scored["news2"])
    band = None if pd.isna(scored["news2_band"]) else str(scored["news2_band"])
    frequency = hours = response = None
    if band is not None:
        frequency, hours, response = news2_response(band, news2)
    counts = sync_alerts(session=session, patient_ids=[patient_id], username=username, now=now)
    alerts = list_alerts(session=session, patient_ids=[patient_id], include_info=False)
    recent = alerts[(alerts["status"] == "open") & (alerts["last_evaluated_at"] >= now - timedelta(seconds=5))]
    trend = current_observations(session=session, patient_ids=[patient_id], codes=list(values),
                                 since=observed_at - timedelta(hours=24))
    return Feedback(news2=news2, band=band, missing=str(scored["news2_missing"]), frequency=frequency,
                    frequency_hours=hours, response=response, alerts=recent, counts=counts,
                    trend=trend[["code", "observed_at", "value_num", "unit"]])


def record_set(*, session: Session, patient_id: int, values: list[ObservationInput], observed_at: datetime,
               username: str, now: datetime, course_id: int | None = None,
               confirmed: frozenset[str] | set[str] = frozenset(),
               late_reason: str | None = None, draft_form: str | None = None) -> Feedback:
    """Record a bedside set (the nurse's Save): validate and store it whole (RecordError or
    ConfirmationRequired, nothing stored), re-evaluate the patient's alerts, discard the nurse's draft of
    the form, and return what the nurse sees at once (after_save), all in the caller's one transaction."""
    from monitoring.services.drafts import discard_draft
    from monitoring.store.repository import add_observation_set

    saved = add_observation_set(session=session, patient_id=patient_id, values=values, observed_at=observed_at,
                                recorded_by=username, course_id=course_id, confirmed=confirmed,
                                late_reason=late_reason, now=now)
    canonical = {o.code: (o.value_code if o.value_code is not None else o.value_num) for o in saved.observations}
    feedback = after_save(session=session, patient_id=patient_id, values=canonical, observed_at=observed_at,
                          username=username, now=now)
    if draft_form is not None:
        discard_draft(session=session, username=username, form=draft_form, patient_id=patient_id)
    return feedback


def recent_values(*, session: Session, patient_id: int, since: datetime | None = None,
                  codes: list[str] | None = None) -> pd.DataFrame:
    """The patient's current values (the latest version of each, entered-in-error left out), optionally
    since a time or for some codes."""
    return current_observations(session=session, patient_ids=[patient_id], since=since, codes=codes)


def correct_value(*, session: Session, patient_id: int, observation_id: int, reason: str, username: str,
                  value: object = None, entered_in_error: bool = False, now: datetime | None = None) -> None:
    """A correction at the bedside: the value amended (`value`) or marked entered in error, the
    original kept, and the patient's alerts re-evaluated in the same transaction (a correction can
    raise or retract an alert as a new set can)."""
    from monitoring.store.repository import amend_observation, mark_entered_in_error

    if entered_in_error:
        mark_entered_in_error(session=session, observation_id=observation_id, reason=reason, recorded_by=username,
                              now=now)
    else:
        amend_observation(session=session, observation_id=observation_id, value=value, reason=reason,
                          recorded_by=username, now=now)
    sync_alerts(session=session, patient_ids=[patient_id], username=username, now=now)


def due_text(last_set_at: datetime | None, scored_at: datetime | None, frequency_hours: float | None,
             now: datetime, *, news2: int | None = None, regimen: str | None = None,
             last_dose_status: str | None = None, last_dose_at: datetime | None = None,
             tz: tzinfo = timezone.utc) -> str:
    """'last set 3 h 10 min ago, due 40 min ago (IL-2 post-dose hourly checks ...)' by elapsed time
    (never calendar day): the stricter of the NEWS2 interval and the IL-2 regimen's, with its reason
    (monitoring.clinical.observation_schedule)."""
    if last_set_at is None or pd.isna(last_set_at):
        return "no observation set recorded yet: due now"
    text = f"last set {elapsed_text(now - last_set_at)} ago"
    complete = not (scored_at is None or pd.isna(scored_at))
    if complete and frequency_hours == 0:
        return text + "; continuous monitoring (NEWS2 7 or more)"
    if not complete:
        text += " (no complete set with a NEWS2 in the last 24 h)"
    elif scored_at != last_set_at:
        text += f"; last complete set {elapsed_text(now - scored_at)} ago"
    due = next_set(last_set_at=last_set_at, scored_at=scored_at if complete else None, news2=news2,
                   news2_hours=frequency_hours, regimen=regimen, last_dose_status=last_dose_status,
                   last_dose_at=last_dose_at, now=now, tz=tz)
    return f"{text}, {due_words(due, now)}"


# --- what a set holds when it is saved -------------------------------------------------------------

def computed_map(sbp_mm_hg: float, dbp_mm_hg: float) -> float:
    """Mean arterial pressure from a cuff reading: DBP + (SBP - DBP) / 3, to the mmHg
    (docs/clinical.md §7, 'MAP (if not measured)', from memory)."""
    return float(round(dbp_mm_hg + (sbp_mm_hg - dbp_mm_hg) / 3))


def with_computed_map(values: list, catalogue: Catalogue | None = None) -> tuple[list, str | None]:
    """The set's values with a MAP computed from its SBP and DBP when both are there and no MAP was
    typed (a measured MAP wins), and the words saying so; an SBP or DBP the catalogue refuses gives
    no MAP (the save refuses the set and says why)."""
    catalogue = catalogue or default_catalogue()
    given = {v.code: v for v in values}
    if "map" in given or "sbp" not in given or "dbp" not in given or "map" not in catalogue:
        return values, None
    try:
        sbp = catalogue.validate("sbp", given["sbp"].value, given["sbp"].unit).value_num
        dbp = catalogue.validate("dbp", given["dbp"].value, given["dbp"].unit).value_num
    except Exception:  # noqa: BLE001 - the whole set is validated (and refused with words) on saving
        return values, None
    if sbp is None or dbp is None or dbp >= sbp:
        return values, None
    value = computed_map(sbp, dbp)
    return ([*values, ObservationInput("map", value, "mm[Hg]")],
            f"MAP {value:.0f} mmHg computed from {sbp:.0f}/{dbp:.0f} (DBP + (SBP - DBP)/3); a measured MAP typed "
            "in its field is used instead")


def observation_time(day, clock, tz: tzinfo, now: datetime) -> tuple[datetime, bool]:
    """When the set was observed: the time of saving unless the nurse set a time (issue 15: a set typed
    10 minutes after the form opened is not stamped with the opening time). A time without a date is
    today's (the ward's day); a date without a time is refused by the caller. Returns (UTC time, set
    by the nurse)."""
    if clock is None:
        return now, False
    local_day = day or now.astimezone(tz).date()
    return datetime.combine(local_day, clock, tz).astimezone(timezone.utc), True


def correction_effect(set_values: dict[str, object], code: str, new_value: object | None,
                      observed_at: datetime) -> str | None:
    """What a correction does to its set's NEWS2, in words: 'the set of 10:00 loses its NEWS2 (5):
    respiratory rate missing' / 'NEWS2 5 → 3'; None when the NEWS2 does not change. `new_value` None
    means the value is marked entered in error."""
    before = set_scores(set_values, observed_at).iloc[0]
    after_values = {k: v for k, v in set_values.items() if k != code}
    if new_value is not None:
        after_values[code] = new_value
    after = set_scores(after_values, observed_at).iloc[0]
    had, has = not pd.isna(before["news2"]), not pd.isna(after["news2"])
    if had and not has:
        return f"this set loses its NEWS2 ({int(before['news2'])}): missing then {after['news2_missing']}"
    if had and has and int(before["news2"]) != int(after["news2"]):
        return f"this set's NEWS2 changes from {int(before['news2'])} to {int(after['news2'])}"
    if not had and has:
        return f"this set gets a NEWS2 of {int(after['news2'])}"
    return None
