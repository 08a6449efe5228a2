"""The clinical record on SQLite and PostgreSQL: whole sets or nothing, corrections that never
overwrite, UTC in and out, one audit row per write, and the database itself refusing edits."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from monitoring.clinical.inputs import ObservationInput
from monitoring.errors import ConfirmationRequired, RecordError
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.store.models import AuditEvent, Observation
from monitoring.views import lists
from tests.factories import NOW, make_patient_with_course

VITALS = [ObservationInput("temperature", "38.4"), ObservationInput("heart_rate", 112),
          ObservationInput("sbp", 98), ObservationInput("consciousness", "A")]


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def save(engine, patient_id, values, *, observed_at=NOW, **kwargs):
    with session_scope(engine) as session:
        return repository.add_observation_set(session=session, patient_id=patient_id, values=values,
                                              observed_at=observed_at, recorded_by="nurse.a", now=NOW, **kwargs)


def test_a_valid_set_is_stored_in_canonical_units_with_who_and_when(engine):
    patient_id, course_id = make_patient_with_course(engine)
    save(engine, patient_id, [ObservationInput("temperature", "101.3", "[degF]"), *VITALS[1:]], course_id=course_id)
    with session_scope(engine) as session:
        frame = repository.current_observations(session=session, patient_ids=[patient_id])
    temp = frame.set_index("code").loc["temperature"]
    assert temp["value_num"] == pytest.approx(38.5)
    assert temp["unit"] == "Cel"
    assert temp["recorded_by"] == "nurse.a"
    assert set(frame["code"]) == {"temperature", "heart_rate", "sbp", "consciousness"}
    assert frame.set_index("code").loc["consciousness", "value_code"] == "A"
    assert frame["set_id"].nunique() == 1


def test_a_narrow_read_gives_the_same_values_and_times_as_the_full_read(engine):
    """The charts read only the columns they draw; the values and the UTC times must be the same."""
    patient_id, course_id = make_patient_with_course(engine)
    earlier = NOW - timedelta(minutes=90)
    save(engine, patient_id, VITALS, course_id=course_id, observed_at=earlier, late_reason="written up after")
    save(engine, patient_id, VITALS, course_id=course_id)
    columns = ["patient_id", "code", "value_num", "value_code", "observed_at"]
    with session_scope(engine) as session:
        full = repository.current_observations(session=session, patient_ids=[patient_id])
        narrow = repository.current_observations(session=session, patient_ids=[patient_id], columns=columns,
                                                 since=earlier + timedelta(minutes=1))
        with pytest.raises(ValueError, match="Unknown observation columns: nurse"):
            repository.current_observations(session=session, columns=["code", "nurse"])
    later = full[full["observed_at"] > earlier].reset_index(drop=True)
    assert list(narrow.columns) == columns and len(narrow) == len(VITALS)
    pd.testing.assert_frame_equal(narrow, later[columns])
    assert str(narrow["observed_at"].dt.tz) == "UTC" and (narrow["observed_at"] == NOW).all()


def test_one_implausible_value_refuses_the_whole_set_and_names_value_unit_and_range(engine):
    patient_id, _ = make_patient_with_course(engine)
    with pytest.raises(RecordError) as refused:
        save(engine, patient_id, [*VITALS, ObservationInput("spo2", 140)])
    message = str(refused.value)
    assert "140" in message and "%" in message and "100" in message
    assert count(engine, Observation) == 0


def test_every_refused_value_is_listed_not_only_the_first(engine):
    patient_id, _ = make_patient_with_course(engine)
    with pytest.raises(RecordError) as refused:
        save(engine, patient_id, [ObservationInput("spo2", 140), ObservationInput("heart_rate", -5),
                                  ObservationInput("nonsense", 1)])
    assert len(refused.value.errors) == 3
    assert count(engine, Observation) == 0


def test_a_surprising_value_asks_for_confirmation_and_saves_once_confirmed(engine):
    patient_id, _ = make_patient_with_course(engine)
    values = [ObservationInput("temperature", "35.0"), ObservationInput("heart_rate", 80)]
    with pytest.raises(ConfirmationRequired) as asked:
        save(engine, patient_id, values)
    assert set(asked.value.confirmations) == {"temperature"}
    assert count(engine, Observation) == 0
    save(engine, patient_id, values, confirmed={"temperature"})
    assert count(engine, Observation) == 2


def test_missing_is_never_zero_an_empty_value_is_refused(engine):
    patient_id, _ = make_patient_with_course(engine)
    with pytest.raises(RecordError, match="(?i)missing|empty"):
        save(engine, patient_id, [ObservationInput("heart_rate", "")])
    assert count(engine, Observation) == 0


@pytest.mark.parametrize("minutes_late, reason, accepted", [
    (59, None, True), (60, None, True), (61, None, False), (61, "Patient in X-ray; observed on return", True),
])
def test_late_entries_over_one_hour_need_a_reason(engine, minutes_late, reason, accepted):
    patient_id, _ = make_patient_with_course(engine)
    observed_at = NOW - timedelta(minutes=minutes_late)
    if accepted:
        save(engine, patient_id, VITALS, observed_at=observed_at, late_reason=reason)
        assert count(engine, Observation) == len(VITALS)
    else:
        with pytest.raises(RecordError, match="late entry"):
            save(engine, patient_id, VITALS, observed_at=observed_at, late_reason=reason)


def test_a_time_in_the_future_is_refused(engine):
    patient_id, _ = make_patient_with_course(engine)
    with pytest.raises(RecordError, match="future"):
        save(engine, patient_id, VITALS, observed_at=NOW + timedelta(minutes=30))


def test_urine_output_needs_the_period_it_was_measured_over(engine):
    patient_id, _ = make_patient_with_course(engine)
    with pytest.raises(RecordError, match="period"):
        save(engine, patient_id, [ObservationInput("urine_output", 320)])
    save(engine, patient_id, [ObservationInput("urine_output", 320, period_start=NOW - timedelta(hours=8))])
    with session_scope(engine) as session:
        frame = repository.current_observations(session=session)
    assert frame.loc[0, "period_start"] == NOW - timedelta(hours=8)


def test_times_are_utc_in_storage_whatever_zone_they_were_entered_in(engine):
    patient_id, _ = make_patient_with_course(engine)
    london_summer = datetime(2026, 7, 1, 11, 0, tzinfo=ZoneInfo("Europe/London"))  # 10:00 UTC (BST)
    with session_scope(engine) as session:
        repository.add_observation_set(session=session, patient_id=patient_id, values=VITALS[:1],
                                       observed_at=london_summer, recorded_by="n", now=london_summer)
    with session_scope(engine) as session:
        row = session.scalars(select(Observation)).one()
    assert row.observed_at == datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)
    assert row.observed_at.utcoffset() == timedelta(0)


def test_a_naive_time_is_refused_with_a_message(engine):
    patient_id, _ = make_patient_with_course(engine)
    with pytest.raises(RecordError, match="time zone"):
        save(engine, patient_id, VITALS, observed_at=datetime(2026, 11, 27, 9, 0))


def test_an_amendment_supersedes_and_the_original_stays_in_the_history(engine):
    patient_id, _ = make_patient_with_course(engine)
    saved = save(engine, patient_id, VITALS)
    hr_id = next(o.id for o in saved.observations if o.code == "heart_rate")
    with session_scope(engine) as session:
        repository.amend_observation(session=session, observation_id=hr_id, value=92,
                                     reason="Misread the monitor", recorded_by="nurse.b", now=NOW)
    with session_scope(engine) as session:
        current = repository.current_observations(session=session).set_index("code")
        history = repository.observation_history(session=session, observation_id=hr_id)
    assert current.loc["heart_rate", "value_num"] == 92
    assert [(h.value_num, h.status, h.recorded_by) for h in history] == [
        (112, "final", "nurse.a"), (92, "amended", "nurse.b")]
    assert history[1].reason == "Misread the monitor"
    assert count(engine, Observation) == len(VITALS) + 1


def test_a_second_value_for_the_same_time_amends_the_first_which_stays_in_the_history(engine):
    """Issue 14 item 7: two different SBPs at one minute cannot both stand (the engine refuses to
    choose); in the app the later one is an amendment of the earlier, and the same value again is
    not stored twice."""
    patient_id, _ = make_patient_with_course(engine)
    first = save(engine, patient_id, [ObservationInput("sbp", 85), ObservationInput("heart_rate", 112)])
    save(engine, patient_id, [ObservationInput("sbp", 95), ObservationInput("heart_rate", 112),
                              ObservationInput("resp_rate", 18)])
    sbp_id = next(o.id for o in first.observations if o.code == "sbp")
    with session_scope(engine) as session:
        current = repository.current_observations(session=session, patient_ids=[patient_id]).set_index("code")
        history = repository.observation_history(session=session, observation_id=sbp_id)
    assert current.loc["sbp", "value_num"] == 95 and current.loc["resp_rate", "value_num"] == 18
    assert sorted(current.index) == ["heart_rate", "heart_rate", "resp_rate", "sbp"]  # the same HR with each set
    assert [(h.value_num, h.status) for h in history] == [(85, "final"), (95, "amended")]
    assert "a second value for the same time" in history[1].reason
    with session_scope(engine) as session:       # the engine judges the record without a conflict
        from monitoring.services.alerting import evaluate_store
        evaluate_store(session=session, patient_ids=[patient_id])


def test_entered_in_error_withdraws_the_value_but_keeps_it_visible(engine):
    patient_id, _ = make_patient_with_course(engine)
    saved = save(engine, patient_id, VITALS)
    temp_id = next(o.id for o in saved.observations if o.code == "temperature")
    with session_scope(engine) as session:
        repository.mark_entered_in_error(session=session, observation_id=temp_id,
                                         reason="Wrong patient", recorded_by="nurse.b")
    with session_scope(engine) as session:
        current = repository.current_observations(session=session)
        history = repository.observation_history(session=session, observation_id=temp_id)
    assert "temperature" not in set(current["code"])
    assert [h.status for h in history] == ["final", "entered-in-error"]
    assert history[0].value_num == pytest.approx(38.4)


def test_a_value_can_be_corrected_once_then_only_its_latest_version(engine):
    patient_id, _ = make_patient_with_course(engine)
    saved = save(engine, patient_id, VITALS)
    hr_id = next(o.id for o in saved.observations if o.code == "heart_rate")
    with session_scope(engine) as session:
        amended = repository.amend_observation(session=session, observation_id=hr_id, value=90,
                                               reason="typo", recorded_by="b")
    with pytest.raises(RecordError, match="already been corrected"):
        with session_scope(engine) as session:
            repository.amend_observation(session=session, observation_id=hr_id, value=91, reason="x", recorded_by="c")
    with session_scope(engine) as session:
        repository.amend_observation(session=session, observation_id=amended.id, value=91, reason="y", recorded_by="c")
        assert len(repository.observation_history(session=session, observation_id=hr_id)) == 3


def test_an_amendment_without_a_reason_or_with_an_implausible_value_is_refused(engine):
    patient_id, _ = make_patient_with_course(engine)
    saved = save(engine, patient_id, VITALS)
    hr_id = next(o.id for o in saved.observations if o.code == "heart_rate")
    for value, reason, match in [(90, " ", "reason"), (900, "typo", "900")]:
        with pytest.raises(RecordError, match=match):
            with session_scope(engine) as session:
                repository.amend_observation(session=session, observation_id=hr_id, value=value,
                                             reason=reason, recorded_by="b")
    assert count(engine, Observation) == len(VITALS)


@pytest.mark.parametrize("statement", [
    "UPDATE observation SET value_num = 1",
    "DELETE FROM observation",
    "UPDATE auditevent SET username = 'someone else'",
    "DELETE FROM auditevent",
])
def test_the_database_itself_refuses_to_edit_or_delete_the_record(engine, statement):
    patient_id, _ = make_patient_with_course(engine)
    save(engine, patient_id, VITALS)
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text(statement))
    assert count(engine, Observation) == len(VITALS)


FIRST_AUDIT = "(SELECT min(id) FROM auditevent)"
FIRST_OBSERVATION = "(SELECT min(id) FROM observation)"


ON_SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
ON_POSTGRES = pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                                      indirect=True)


def _statement_changes_nothing(engine, statement):
    patient_id, _ = make_patient_with_course(engine)
    save(engine, patient_id, VITALS)
    before = (count(engine, Observation), count(engine, AuditEvent))
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(text(statement))
    assert (count(engine, Observation), count(engine, AuditEvent)) == before
    with session_scope(engine) as session:
        assert "someone else" not in session.scalars(select(AuditEvent.username)).all()


@ON_SQLITE
@pytest.mark.parametrize("statement", [
    # SQLite's REPLACE deleted the row it collided with without firing the DELETE trigger (issue 16 item 8).
    "INSERT OR REPLACE INTO auditevent (id, at, username, action, entity) SELECT id, at, "
    f"'someone else', action, entity FROM auditevent WHERE id = {FIRST_AUDIT}",
    "REPLACE INTO observation SELECT * FROM observation WHERE id = " + FIRST_OBSERVATION,
    "INSERT INTO auditevent (id, at, username, action, entity) SELECT id, at, 'someone else', action, entity "
    f"FROM auditevent WHERE id = {FIRST_AUDIT} ON CONFLICT (id) DO UPDATE SET username = 'someone else'",
])
def test_sqlite_replace_and_upsert_cannot_rewrite_the_record(engine, statement):
    _statement_changes_nothing(engine, statement)


@ON_POSTGRES
@pytest.mark.parametrize("statement", [
    # PostgreSQL's TRUNCATE fired no row trigger and emptied the audit trail.
    "TRUNCATE auditevent",
    "TRUNCATE observation CASCADE",
    "INSERT INTO auditevent (id, at, username, action, entity) SELECT id, at, 'someone else', action, entity "
    f"FROM auditevent WHERE id = {FIRST_AUDIT} ON CONFLICT (id) DO UPDATE SET username = 'someone else'",
])
def test_postgresql_truncate_and_upsert_cannot_rewrite_the_record(engine, statement):
    _statement_changes_nothing(engine, statement)


@ON_SQLITE
def test_replace_is_refused_even_from_a_connection_that_is_not_the_apps(engine):
    """The BEFORE INSERT trigger holds without the app's recursive_triggers pragma (the sqlite3 shell)."""
    import sqlite3
    patient_id, _ = make_patient_with_course(engine)
    save(engine, patient_id, VITALS)
    raw = sqlite3.connect(engine.url.database)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(f"REPLACE INTO observation SELECT * FROM observation WHERE id = {FIRST_OBSERVATION}")
    finally:
        raw.close()
    assert count(engine, Observation) == len(VITALS)


def test_every_write_leaves_exactly_one_audit_row(engine):
    patient_id, course_id = make_patient_with_course(engine)  # ward, bed, patient, course, eligibility sign-off
    before = count(engine, AuditEvent)
    assert before == 5
    saved = save(engine, patient_id, VITALS)
    assert count(engine, AuditEvent) == before + 1
    with session_scope(engine) as session:
        repository.amend_observation(session=session, observation_id=saved.observations[0].id, value="38.1",
                                     reason="typo", recorded_by="b")
    with session_scope(engine) as session:
        repository.record_dose(session=session, course_id=course_id, dose_number=1, scheduled_at=NOW,
                               status="held", reason="SBP 84 mmHg", recorded_by="nurse.a")
    with session_scope(engine) as session:
        repository.record_eligibility(session=session, course_id=course_id, answered_by="dr.x",
                                      answers={"bedbound": "no", "on_steroids": "no"})
    assert count(engine, AuditEvent) == before + 4
    with session_scope(engine) as session:
        amend = session.scalars(select(AuditEvent).where(AuditEvent.action == "amend")).one()
    assert amend.before["value_num"] == pytest.approx(38.4) and amend.after["value_num"] == pytest.approx(38.1)


def test_a_refused_set_leaves_no_audit_row(engine):
    patient_id, _ = make_patient_with_course(engine)
    before = count(engine, AuditEvent)
    with pytest.raises(RecordError):
        save(engine, patient_id, [ObservationInput("spo2", 140)])
    assert count(engine, AuditEvent) == before


@pytest.mark.parametrize("status, kwargs, message", [
    ("held", {}, "reason"),
    ("stopped", {"reason": "  "}, "reason"),
    ("given", {}, "time it was given"),
    ("paused", {}, "not known"),
    ("given", {"given_at": NOW, "dose": -3}, "positive"),
])
def test_doses_need_their_facts(engine, status, kwargs, message):
    _, course_id = make_patient_with_course(engine)
    with pytest.raises(RecordError, match=message):
        with session_scope(engine) as session:
            repository.record_dose(session=session, course_id=course_id, dose_number=1, scheduled_at=NOW,
                                   status=status, recorded_by="n", **kwargs)


def test_doses_and_eligibility_are_kept_with_who_and_when(engine):
    patient_id, course_id = make_patient_with_course(engine)
    with session_scope(engine) as session:
        repository.record_dose(session=session, course_id=course_id, dose_number=1, scheduled_at=NOW,
                               status="given", given_at=NOW + timedelta(minutes=10), dose=48e6,
                               dose_unit="[IU]", route="IV", recorded_by="nurse.a")
        repository.record_eligibility(session=session, course_id=course_id, answered_by="dr.x",
                                      answers={"bedbound": "no"})
        repository.record_eligibility(session=session, course_id=course_id, answered_by="dr.y",
                                      answers={"bedbound": "yes"}, notes={"bedbound": "fell on day 2"})
    with session_scope(engine) as session:
        doses = repository.current_doses(session=session, patient_ids=[patient_id])
        latest = repository.latest_eligibility(session=session, course_id=course_id)
    assert doses.loc[0, "given_at"] == NOW + timedelta(minutes=10)
    assert latest["bedbound"].answer == "yes" and latest["bedbound"].answered_by == "dr.y"


def test_the_ward_list_shows_course_doses_and_last_set(engine):
    patient_id, course_id = make_patient_with_course(engine)
    save(engine, patient_id, VITALS, observed_at=NOW - timedelta(minutes=30))
    with session_scope(engine) as session:
        repository.record_dose(session=session, course_id=course_id, dose_number=1, scheduled_at=NOW,
                               status="given", given_at=NOW, recorded_by="n")
        frame = lists.ward_patient_list(session=session)
    row = frame.iloc[0]
    assert (row["bed"], row["name"], row["regimen"], row["doses_given"], row["last_dose_status"]) == (
        "B1", "Person, Test", "hd-iv-bolus", 1, "given")
    assert row["last_set_at"] == NOW - timedelta(minutes=30)


def test_the_same_dose_cannot_be_recorded_twice_but_can_be_corrected(engine):
    _, course_id = make_patient_with_course(engine)
    with session_scope(engine) as session:
        repository.record_dose(session=session, course_id=course_id, dose_number=3, scheduled_at=NOW,
                               status="given", given_at=NOW, recorded_by="nurse.a")
    with pytest.raises(RecordError, match="already been recorded"):
        with session_scope(engine) as session:
            repository.record_dose(session=session, course_id=course_id, dose_number=3, scheduled_at=NOW,
                                   status="held", reason="SBP 85", recorded_by="nurse.b")


@pytest.mark.parametrize("second, asks", [(82.9, False), (83.0, True), (77.0, True), (77.1, False)])
def test_a_3_kg_weight_change_within_a_day_asks_for_confirmation(engine, second, asks):
    patient_id, _ = make_patient_with_course(engine)
    save(engine, patient_id, [ObservationInput("weight", 80.0)], observed_at=NOW - timedelta(hours=20),
         late_reason="weighed on admission")
    values = [ObservationInput("weight", second)]
    if asks:
        with pytest.raises(ConfirmationRequired) as asked:
            save(engine, patient_id, values)
        assert "80.0 kg" in asked.value.confirmations["weight"]
        save(engine, patient_id, values, confirmed={"weight"})
    else:
        save(engine, patient_id, values)
    assert count(engine, Observation) == 2


@ON_POSTGRES
def test_the_apps_postgresql_role_works_the_ward_but_cannot_rewrite_the_record(engine):
    """Issue 16 item 8: the app connected as the tables' owner, so TRUNCATE or DROP TRIGGER was one
    statement away. As the role `il2-monitor db app-role` makes, the ward's work succeeds and every
    rewrite is refused by the database's privileges, before any trigger."""
    import os

    from monitoring.services import auth, sessions
    from monitoring.services.alerting import sync_alerts
    from monitoring.store.db import make_engine
    from monitoring.store.db_roles import grant_app_role
    role = f"il2_app_test_{os.getpid()}"
    patient_id, _ = make_patient_with_course(engine)
    with session_scope(engine) as session:
        auth.add_user(session=session, username="nurse.a", display_name="Nurse A", role="nurse",
                      password="ward-7-night-shift", created_by="admin", ward_codes=["T"])
    granted = grant_app_role(engine, role)
    assert "auditevent" in granted["SELECT, INSERT"] and "alert" in granted["SELECT, INSERT, UPDATE, DELETE"]
    assert "serversecret" in granted["SELECT"]   # the audit pseudonyms' key (migration 0018): read, never changed
    app = make_engine(engine.url.set(username=role, password=None).render_as_string(hide_password=False))
    try:
        with session_scope(app) as session:       # the ward's work, as the app does it
            assert auth.authenticate(session=session, username="nurse.a", password="ward-7-night-shift").ok
            sessions.start(session=session, username="nurse.a")
        save(app, patient_id, VITALS)
        with session_scope(app) as session:
            sync_alerts(session=session, username="nurse.a")
        with session_scope(app) as session:       # the admin's audit view reads the key ...
            from monitoring.views.audit import search_audit
            assert search_audit(session=session, entity="patient")["patient"].str.startswith("A-").all()
        for statement in ("TRUNCATE auditevent", "UPDATE observation SET value_num = 1", "DELETE FROM auditevent",
                          "UPDATE serversecret SET value = 'x'", "DELETE FROM serversecret",
                          "DROP TRIGGER auditevent_no_update ON auditevent",
                          "ALTER TABLE auditevent DISABLE TRIGGER ALL"):
            with pytest.raises(DBAPIError, match="permission denied|must be owner"):
                with app.begin() as conn:
                    conn.execute(text(statement))
    finally:
        app.dispose()
        with engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
    assert count(engine, Observation) == len(VITALS)


def test_an_app_role_is_refused_on_sqlite_and_for_a_bad_name(engine):
    from monitoring.store.db_roles import grant_app_role
    if engine.dialect.name == "sqlite":
        with pytest.raises(ValueError, match="PostgreSQL setting"):
            grant_app_role(engine, "il2_app")
    else:
        with pytest.raises(ValueError, match="lower-case letters"):
            grant_app_role(engine, 'x"; DROP TABLE observation; --')


@ON_SQLITE
def test_a_reader_never_waits_for_a_writer_and_cannot_write(engine, monkeypatch):
    """Issue 16 item 11: on SQLite every transaction queued for the writer lock, so a page read waited
    5-7 s behind a long lab import. A read_scope reads the last committed state while a writer holds
    the lock (here for as long as the test wants) and refuses to write."""
    import time

    from monitoring.store import db
    from monitoring.store.db import read_scope
    patient_id, _ = make_patient_with_course(engine)
    save(engine, patient_id, VITALS)
    monkeypatch.setattr(db, "WRITER_QUEUE_TIMEOUT_S", 0.5)   # a waiting reader would fail within 0.5 s
    with engine.begin() as writer:                          # a long write, holding the lock
        writer.execute(text("INSERT INTO auditevent (at, username, action, entity) "
                            "VALUES ('2026-11-27 14:00:00.000000', 'import', 'lab-import', 'observation')"))
        started = time.monotonic()
        with read_scope(engine) as session:
            seen = session.scalar(select(func.count()).select_from(Observation))
        waited = time.monotonic() - started
        assert seen == len(VITALS) and waited < 0.5
        with pytest.raises(DBAPIError, match="readonly"):
            with read_scope(engine) as session:
                session.execute(text("INSERT INTO ward (code, name) VALUES ('X', 'X')"))


def test_a_correction_re_evaluates_the_alerts_without_the_page(engine):
    """Issue 17: the record page re-evaluated after a correction itself; entry.correct_value does it,
    so any caller gets the alerts the corrected record gives: a typo'd SBP of 70 raises the
    hypotension findings, its correction to 120 retracts them."""
    from monitoring.services import entry
    from monitoring.services.alerting import sync_alerts
    from monitoring.store.models import Alert
    patient_id, _ = make_patient_with_course(engine)
    sick = [ObservationInput("resp_rate", 24), ObservationInput("spo2", 96), ObservationInput("on_oxygen", "no"),
            ObservationInput("sbp", 70), ObservationInput("heart_rate", 88), ObservationInput("consciousness", "A"),
            ObservationInput("temperature", "37.0")]
    saved = save(engine, patient_id, sick, confirmed=["sbp"])
    with session_scope(engine) as session:
        sync_alerts(session=session, patient_ids=[patient_id], now=NOW)
        before = session.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open"))
    sbp = next(o for o in saved.observations if o.code == "sbp")
    with session_scope(engine) as session:
        entry.correct_value(session=session, patient_id=patient_id, observation_id=sbp.id, value="120",
                            reason="typed 70 for 120", username="nurse.a", now=NOW + timedelta(minutes=10))
    with session_scope(engine) as session:
        after = session.scalar(select(func.count()).select_from(Alert).where(Alert.status == "open"))
    assert before > 0 and after < before


def test_every_level_of_every_rule_fits_the_columns_that_store_it():
    """A level longer than its column made storing a whole batch of alerts fail (the capillary-leak
    relative level, 48 characters, against 40: seen on the 2,000-course hospital, migration 0012)."""
    import importlib
    import pkgutil

    import monitoring.clinical.rules as rules_package
    from monitoring.clinical.rules.common import Rule
    from monitoring.store.models import Alert, AlertAction

    levels = {}
    for info in pkgutil.iter_modules(rules_package.__path__):
        module = importlib.import_module(f"monitoring.clinical.rules.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Rule):
                levels.update({level: value.id for level in value.levels})
    assert "weight gain above the Dutcher relative criterion" in levels and len(levels) > 10
    for column in (Alert.__table__.c.level, AlertAction.__table__.c.level_at_action):
        assert [(rule, level) for level, rule in levels.items() if len(level) > column.type.length] == []
