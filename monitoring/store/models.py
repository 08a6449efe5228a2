"""SQLModel tables: the clinical record of the ward.

Conventions (DESIGN.md):
- every timestamp is timezone-aware UTC (SQLModel's UTCDateTime refuses naive values);
- identifiers and demographics live in PatientIdentity, apart from every clinical row, so an export
  that never joins that table cannot leak a name or a record number;
- Observation, DoseEvent, EligibilityAnswer, EligibilitySignOff, AlertAction, AuditEvent, Placement and the
  handover tables are append-only: the migrations install triggers that refuse UPDATE and DELETE on both
  SQLite and PostgreSQL. A correction is a new row that supersedes the old one, with a reason.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_pseudo_id() -> str:
    """128 random bits (hex): what a patient's export pseudonyms are computed from (monitoring.export.deid)."""
    return secrets.token_hex(16)


class Ward(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    name: str = Field(max_length=120)


class Bed(SQLModel, table=True):
    """A bed of a ward. Retired (out of use) is a mark, never a deletion: patients refer to their bed and the
    trail names it (migration 0018); adding the label again brings it back."""

    __table_args__ = (UniqueConstraint("ward_id", "label"),)
    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    label: str = Field(max_length=32)
    retired_at: datetime | None = None
    retired_by: str | None = Field(default=None, max_length=64)


class Patient(SQLModel, table=True):
    """The clinical subject: no name, record number or birth date here (see PatientIdentity)."""

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int | None = Field(default=None, foreign_key="ward.id", index=True)
    bed_id: int | None = Field(default=None, foreign_key="bed.id")
    sex: str | None = Field(default=None, max_length=16)
    # Synthetic demo or benchmark patient: shown with a 'synthetic' label wherever it appears.
    is_synthetic: bool = False
    admitted_at: datetime | None = None
    # Free text as the ward records it ('penicillin: rash'); None = not recorded, which the patient
    # banner says (never 'no known allergies' unless someone wrote that). Migration 0007.
    allergies: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    # Random, never shown, never exported: pseudonyms are HMAC(export key, pseudo_id), so they cannot be
    # linked to the sequential id by trying keys (issue 16 item 6). Migration 0010.
    pseudo_id: str | None = Field(default_factory=new_pseudo_id, max_length=32)  # nullable: see migration 0010


class PatientIdentity(SQLModel, table=True):
    """Direct identifiers, kept apart so that de-identified exports never need to read them."""

    patient_id: int = Field(foreign_key="patient.id", primary_key=True)
    mrn: str = Field(unique=True, max_length=64)
    given_name: str = Field(max_length=120)
    family_name: str = Field(max_length=120)
    birth_date: date | None = None


class TreatmentCourse(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    regimen: str = Field(max_length=32)
    cycle: int = 1
    dose_per_kg: float | None = None
    dose_unit: str = Field(default="[IU]/kg", max_length=16)
    planned_doses: int | None = None
    dose_interval_hours: float | None = None
    start_at: datetime
    status: str = Field(default="active", max_length=16)
    after_lymphodepletion: bool = False
    baseline_weight_kg: float | None = None
    baseline_creatinine_mg_dl: float | None = None
    usual_sbp_mm_hg: float | None = None
    # The prescription (migration 0007): the weight the dose per kg is multiplied by (by default the
    # pre-treatment weight, never a weight swollen by capillary leak), or a fixed dose per injection
    # (low-dose SC regimens), in the unit of dose_unit without '/kg'.
    dosing_weight_kg: float | None = None
    fixed_dose: float | None = None
    created_at: datetime = Field(default_factory=utc_now)
    created_by: str = Field(max_length=64)
    # The indication (migration 0017; None on courses started before): melanoma stage (III, IV, recurrent),
    # prior surgery, the combination (vocabulary.COMBINATIONS) and IL-2 after TIL.
    indication_stage: str | None = Field(default=None, max_length=16)
    prior_surgery: bool | None = None
    combination: str | None = Field(default=None, max_length=16)
    after_til: bool | None = None
    baseline_anc_10e9_l: float | None = None
    baseline_bilirubin_mg_dl: float | None = None
    baseline_alt_u_l: float | None = None
    baseline_ast_u_l: float | None = None
    # Where each baseline came from (monitoring.services.courses.BASELINES names): {"source": "result",
    # "observed_at": ..., "observation_id": ...}, {"source": "entered"} or {"source": "carried", ...} from
    # the previous cycle. A baseline with no entry predates migration 0017.
    baseline_sources: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The cycle before this one (monitoring.services.courses.next_cycle).
    previous_course_id: int | None = Field(default=None, foreign_key="treatmentcourse.id")
    # The end of the course (monitoring.services.courses.end_course), set once, audited; status follows it.
    ended_at: datetime | None = None
    ended_by: str | None = Field(default=None, max_length=64)
    end_reason: str | None = Field(default=None, max_length=16)
    end_note: str | None = None


class EligibilityAnswer(SQLModel, table=True):
    """One answer of the eligibility screen; a changed answer is a new row (latest wins)."""

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="treatmentcourse.id", index=True)
    item: str = Field(max_length=40)
    answer: str = Field(max_length=8)
    note: str | None = None
    answered_by: str = Field(max_length=64)
    answered_at: datetime = Field(default_factory=utc_now)


class EligibilitySignOff(SQLModel, table=True):
    """The oncologist's sign-off of a course's eligibility screen (migration 0017): 'eligible',
    'eligible-after-discussion' (with the reason) or 'not-eligible'. Append-only: the latest stands. It
    holds the ids of the answers it was given on (answer_ids; None for the courses signed off by the
    migration), so a screen changed afterwards needs a new sign-off."""

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="treatmentcourse.id", index=True)
    outcome: str = Field(max_length=32)
    reason: str | None = None
    answer_ids: dict[str, int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    signed_by: str = Field(max_length=64)
    signed_at: datetime = Field(default_factory=utc_now)


class DoseEvent(SQLModel, table=True):
    """An IL-2 dose given, held or stopped. Corrections supersede, as for observations."""

    __table_args__ = (
        Index("ix_doseevent_course_scheduled", "course_id", "scheduled_at"),
        # One original event per dose number (corrections supersede it): migration 0003.
        Index("uq_doseevent_course_dose_original", "course_id", "dose_number", unique=True,
              sqlite_where=text("supersedes_id IS NULL"), postgresql_where=text("supersedes_id IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="treatmentcourse.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    dose_number: int
    scheduled_at: datetime
    status: str = Field(max_length=16)
    given_at: datetime | None = None
    dose: float | None = None
    dose_unit: str | None = Field(default=None, max_length=16)
    route: str | None = Field(default=None, max_length=16)
    reason: str | None = None
    # The hold criteria chosen as the reason (their ids in monitoring/clinical/rules/hold_criteria.py) and the
    # words typed beside them: what a de-identified export may show is read from these, never from
    # `reason` (migration 0006).
    reason_criteria: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason_note: str | None = None
    record_status: str = Field(default="final", max_length=20)
    supersedes_id: int | None = Field(default=None, foreign_key="doseevent.id", unique=True)
    recorded_at: datetime = Field(default_factory=utc_now)
    recorded_by: str = Field(max_length=64)
    # What made a given dose allowed (migration 0007, monitoring.services.doses.record): the pre-dose check's
    # decision and criteria at the time it was given; the oncologist's decision to give it over the
    # check, or an override naming the authorising clinician and the reason.
    check_decision: str | None = Field(default=None, max_length=32)
    check_criteria: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    decision_id: int | None = Field(default=None, foreign_key="dosedecision.id")
    override_by: str | None = Field(default=None, max_length=120)
    override_reason: str | None = None


class DoseDecision(SQLModel, table=True):
    """An oncologist's decision on one scheduled dose of a course, with the pre-dose check it was made
    on. Append-only: a changed decision is a new row, and the latest for a dose number stands. A
    decision to give lapses when the check finds a criterion (or misses an input) that it did not
    find when the decision was made (monitoring.views.dosing.standing_decision)."""

    __table_args__ = (Index("ix_dosedecision_course_dose", "course_id", "dose_number"),)
    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="treatmentcourse.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    dose_number: int
    decision: str = Field(max_length=16)
    check_decision: str | None = Field(default=None, max_length=32)
    check_criteria: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    check_missing: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason_criteria: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason_note: str | None = None
    decided_by: str = Field(max_length=64)
    decided_at: datetime = Field(default_factory=utc_now)


class Observation(SQLModel, table=True):
    """One value in long format, canonical unit, UTC. Never updated in place or deleted.

    A correction is a new row: status 'amended' (new value) or 'entered-in-error' (no value), with
    supersedes_id pointing at the row it replaces and a reason. A row can be superseded once only
    (unique supersedes_id), so two people correcting the same value at once cannot fork it.
    """

    __table_args__ = (Index("ix_observation_patient_code_time", "patient_id", "code", "observed_at"),
                      Index("ix_observation_patient_time", "patient_id", "observed_at"))
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    course_id: int | None = Field(default=None, foreign_key="treatmentcourse.id", index=True)
    set_id: str = Field(max_length=36, index=True)
    code: str = Field(max_length=40)
    value_num: float | None = None
    value_code: str | None = Field(default=None, max_length=16)
    unit: str | None = Field(default=None, max_length=24)
    # What the user typed, before conversion to the canonical unit (shown in the history).
    original_value: str | None = Field(default=None, max_length=64)
    original_unit: str | None = Field(default=None, max_length=24)
    ref_low: float | None = None
    ref_high: float | None = None
    observed_at: datetime
    # For volumes over a period (urine output, fluid intake): observed_at is the end.
    period_start: datetime | None = None
    recorded_at: datetime = Field(default_factory=utc_now)
    recorded_by: str = Field(max_length=64)
    source: str = Field(default="manual", max_length=16)
    status: str = Field(default="final", max_length=20)
    supersedes_id: int | None = Field(default=None, foreign_key="observation.id", unique=True)
    reason: str | None = None
    # Identity of an imported lab result, so the same file imported twice stores it once.
    import_key: str | None = Field(default=None, max_length=64, unique=True)


class Alert(SQLModel, table=True):
    """A rule finding. Derived and re-evaluated; alert_key (patient + rule + onset) is stable so
    acknowledgements stay attached when the same data are evaluated again."""

    id: int | None = Field(default=None, primary_key=True)
    alert_key: str = Field(max_length=64, unique=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    course_id: int | None = Field(default=None, foreign_key="treatmentcourse.id")
    rule_id: str = Field(max_length=40)
    rule_version: str = Field(max_length=16)
    onset_at: datetime
    level: str = Field(max_length=120)   # a rule's level words (tests check every level fits)
    severity: str = Field(max_length=16)
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    evidence_text: str = ""
    standard: str = ""
    context: str = ""
    status: str = Field(default="open", max_length=16)
    # Set by a snooze: the alert needs attention again once this has passed (or at once if it gets worse).
    snoozed_until: datetime | None = None
    first_seen_at: datetime = Field(default_factory=utc_now)
    last_evaluated_at: datetime = Field(default_factory=utc_now)
    # The last moment the criteria held in the episode, and the first moment after it at which the
    # rule was assessed on enough data and they did not (None: not found cleared), with what was
    # measured then (evidence items): alerting.sync_alerts resolves and reopens on them.
    last_seen_at: datetime | None = None
    cleared_at: datetime | None = None
    cleared_evidence: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AlertAction(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    action: str = Field(max_length=16)
    at: datetime = Field(default_factory=utc_now)
    by: str = Field(max_length=64)
    note: str | None = None
    snooze_until: datetime | None = None
    # The alert level when the action was taken: a snooze lapses when the level gets worse.
    level_at_action: str | None = Field(default=None, max_length=120)
    # ... and its severity, so 'worse' compares severity first, then the level within the rule.
    severity_at_action: str | None = Field(default=None, max_length=16)
    # An escalation names whom it goes to: a role ("role:oncologist") or a person ("user:dr.a").
    escalated_to: str | None = Field(default=None, max_length=120)
    # A decline's reason chosen from vocabulary.DECLINE_CHOICES (migration 0019); `note` is the typed text.
    reason_code: str | None = Field(default=None, max_length=40)


class NotificationAttempt(SQLModel, table=True):
    """One try at telling someone of an escalation (issue 18), append-only: the escalation is stored
    first and never depends on it; a failed try is followed by a retry, each its own row."""
    __table_args__ = (UniqueConstraint("action_id", "attempt", name="uq_notificationattempt_action_attempt"),)
    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(foreign_key="alertaction.id", index=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    channel: str = Field(max_length=16)          # smtp, webhook, none
    recipient: str = Field(max_length=254)       # the addresses or the gateway the message went to
    attempt: int = 1
    at: datetime = Field(default_factory=utc_now)
    outcome: str = Field(max_length=16)          # sent, failed, not sent (no notifier configured)
    detail: str | None = None                    # the server's answer or the error, never a secret


class Handover(SQLModel, table=True):
    """The handover of one ward at the end of one shift (issue 18 item 6): created by the first save of
    the outgoing nurse's recommendations (migration 0015). Append-only, like its notes and acknowledgements."""

    __table_args__ = (UniqueConstraint("ward_id", "shift_start", name="uq_handover_ward_shift"),)
    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id")
    shift_start: datetime
    shift_end: datetime
    started_by: str = Field(max_length=64)
    started_at: datetime = Field(default_factory=utc_now)


class HandoverNote(SQLModel, table=True):
    """The outgoing nurse's recommendation (the R of SBAR) for one patient. A change is a new row that
    supersedes the one before, once only; recommendation None is a recommendation withdrawn."""

    __table_args__ = (
        # One original per patient and handover (changes supersede it), as for doses.
        Index("uq_handovernote_patient_original", "handover_id", "patient_id", unique=True,
              sqlite_where=text("supersedes_id IS NULL"), postgresql_where=text("supersedes_id IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    handover_id: int = Field(foreign_key="handover.id", index=True)
    patient_id: int = Field(foreign_key="patient.id")
    recommendation: str | None = Field(default=None, max_length=2000)
    written_by: str = Field(max_length=64)
    written_at: datetime = Field(default_factory=utc_now)
    supersedes_id: int | None = Field(default=None, foreign_key="handovernote.id", unique=True)


class HandoverAcknowledgement(SQLModel, table=True):
    """The incoming nurse's acknowledgement of a handover as it stood: `version` is the number of
    recommendation rows it had then (append-only, so a later change makes a new version to acknowledge)."""

    __table_args__ = (UniqueConstraint("handover_id", "acknowledged_by", "version",
                                       name="uq_handoveracknowledgement_version"),)
    id: int | None = Field(default=None, primary_key=True)
    handover_id: int = Field(foreign_key="handover.id", index=True)
    version: int
    acknowledged_by: str = Field(max_length=64)
    acknowledged_at: datetime = Field(default_factory=utc_now)


class Placement(SQLModel, table=True):
    """One move of a patient (issue 19): admitted, transferred to another bed or ward, discharged home (on
    the ward's list, no bed) or out of the service (no ward). The current placement is Patient.ward_id and
    bed_id, which every list reads; these rows are its history, append-only (migration 0016)."""

    __table_args__ = (Index("ix_placement_patient_at", "patient_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    event: str = Field(max_length=16)            # vocabulary.PLACEMENT_EVENTS
    from_ward_id: int | None = Field(default=None, foreign_key="ward.id")
    from_bed_id: int | None = Field(default=None, foreign_key="bed.id")
    ward_id: int | None = Field(default=None, foreign_key="ward.id")    # None: left the service
    bed_id: int | None = Field(default=None, foreign_key="bed.id")      # None on a ward: at home
    at: datetime = Field(default_factory=utc_now)
    by: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=500)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)
    display_name: str = Field(max_length=120)
    role: str = Field(max_length=16)
    email: str | None = Field(default=None, max_length=254, unique=True)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utc_now)


class SignInSession(SQLModel, table=True):
    """A browser's sign-in (issue 15): the SHA-256 of a random token held in a cookie, so a refresh (F5)
    keeps the user signed in for the rest of the idle time-out; activity is kept here, so every tab
    of the same sign-in times out together. Ended by sign-out or time-out; never reused."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    username: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utc_now)
    last_activity_at: datetime = Field(default_factory=utc_now)
    ended_at: datetime | None = None
    end_reason: str | None = Field(default=None, max_length=16)


class EntryDraft(SQLModel, table=True):
    """What a user has typed into an entry form and not saved yet, kept on the server so that a
    time-out, a refresh or a page change loses nothing (issue 15). Not part of the clinical record:
    replaced as the user types, deleted when the set is saved or the draft discarded."""

    __table_args__ = (UniqueConstraint("username", "form", "patient_id"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    form: str = Field(max_length=32)
    patient_id: int = Field(foreign_key="patient.id")
    values: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utc_now)


class UserWard(SQLModel, table=True):
    """The wards a user is assigned to (a nurse sees the patients of these wards only)."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", primary_key=True)


class AuditEvent(SQLModel, table=True):
    """Append-only record of who did what and when, with the state before and after."""

    __table_args__ = (Index("ix_auditevent_entity", "entity", "entity_id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, index=True)
    username: str = Field(max_length=64, index=True)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: str | None = Field(default=None, max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class ServerSecret(SQLModel, table=True):
    """A key the server keeps for itself, one per purpose, made by a migration (0018: 'audit-pseudonym', the
    key of the audit view's patient pseudonyms). The app's PostgreSQL role may only read it."""

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=128)


class ExportKeyGeneration(SQLModel, table=True):
    """Each generation of the team's export key seen by an export (issue 20 item 2), append-only: its number,
    a fingerprint of the key (HMAC of a fixed text under the key: tells a changed key, never gives it back),
    and when and by whom it was first used. A key changed without a new generation number is refused
    (monitoring.export.team_key), so a generation always names one pseudonym space."""

    id: int | None = Field(default=None, primary_key=True)
    generation: int = Field(unique=True)
    fingerprint: str = Field(max_length=32, unique=True)
    first_used_at: datetime = Field(default_factory=utc_now)
    first_used_by: str = Field(max_length=64)


READ_ONLY_TABLES = ("serversecret",)

APPEND_ONLY_TABLES = ("observation", "doseevent", "dosedecision", "eligibilityanswer", "eligibilitysignoff",
                      "alertaction", "auditevent", "notificationattempt", "handover", "handovernote",
                      "handoveracknowledgement", "placement", "exportkeygeneration")
