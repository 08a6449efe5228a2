"""Issue 20 item 2: the team's kept export key comes from the settings with its generation; a generation
names one key, a rotation starts a new pseudonym space and says so; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from monitoring.config import SettingsError, load_settings
from monitoring.errors import RecordError
from monitoring.export import team_key
from monitoring.store.db import session_scope
from monitoring.store.models import AuditEvent, ExportKeyGeneration

KEY_A = "team-key-generation-one-5c2e8a7f1b9d4e6"
KEY_B = "team-key-generation-two-9e4d1a6c3b8f2a7"


def use(engine, key=KEY_A, generation=1, username="quality.lead") -> team_key.TeamKey:
    with session_scope(engine) as session:
        return team_key.team_key(session=session, key=key, generation=generation, username=username)


def test_the_first_export_records_the_generation_and_later_ones_reuse_it(engine):
    first = use(engine)
    assert (first.generation, first.new, first.previous, first.first_used_by) == (1, True, None, "quality.lead")
    assert first.rotation_note() is None                       # generation 1 follows no other
    again = use(engine, username="someone.else")
    assert (again.new, again.first_used_by, again.key) == (False, "quality.lead", KEY_A)
    assert again.describe().startswith("key generation 1 (first used ")
    with session_scope(engine) as session:
        rows = session.scalars(select(ExportKeyGeneration)).all()
        audits = session.scalars(select(AuditEvent).where(AuditEvent.action == "export-key-generation")).all()
        assert [(r.generation, r.fingerprint) for r in rows] == [(1, team_key.fingerprint(KEY_A))]
        assert KEY_A not in str([a.after for a in audits]) and len(audits) == 1


def test_a_rotation_takes_the_next_generation_and_says_it_is_a_new_pseudonym_space(engine):
    use(engine)
    rotated = use(engine, key=KEY_B, generation=2)
    assert (rotated.new, rotated.previous) == (True, 1)
    assert rotated.rotation_note() == ("Key generation 2 starts a new pseudonym space: its pseudonyms differ from "
                                       "those of exports made with generation 1 and earlier, so patients cannot be "
                                       "followed across the rotation.")


@pytest.mark.parametrize("key, generation, message", [
    (KEY_B, 1, "The export key changed but IL2_EXPORT_KEY_GENERATION is still 1: a new key starts a new pseudonym "
               "space, so give it the next generation, 2."),
    (KEY_A, 2, "This export key is generation 1, not 2: set IL2_EXPORT_KEY_GENERATION=1."),
])
def test_a_key_and_a_generation_that_disagree_with_the_record_are_refused(engine, key, generation, message):
    use(engine)
    with pytest.raises(RecordError) as refused:
        use(engine, key=key, generation=generation)
    assert refused.value.errors == [message]


def test_a_generation_older_than_the_newest_is_refused(engine):
    use(engine, generation=3)
    with pytest.raises(RecordError, match="IL2_EXPORT_KEY_GENERATION 2 is older than generation 3, already used: a "
                                          "new key takes generation 4"):
        use(engine, key=KEY_B, generation=2)


def test_the_generations_are_append_only(engine):
    use(engine)
    with session_scope(engine) as session, pytest.raises(DBAPIError):
        session.execute(text("UPDATE exportkeygeneration SET fingerprint = 'x'"))


def test_the_fingerprint_tells_keys_apart_and_never_holds_the_key():
    assert team_key.fingerprint(KEY_A) == team_key.fingerprint(KEY_A) != team_key.fingerprint(KEY_B)
    assert len(team_key.fingerprint(KEY_A)) == 32 and KEY_A[:8] not in team_key.fingerprint(KEY_A)


@pytest.mark.parametrize("environ, message", [
    ({"IL2_EXPORT_KEY": "k" * 40}, "IL2_EXPORT_KEY: the export key has 40 characters (1 different)"),
    ({"IL2_EXPORT_KEY": KEY_A, "IL2_EXPORT_KEY_FILE": "/tmp/x"}, "are both set: give the export key one way"),
    ({"IL2_EXPORT_KEY_FILE": "/nonexistent/il2/key"}, "IL2_EXPORT_KEY_FILE '/nonexistent/il2/key': cannot be read"),
    ({"IL2_EXPORT_KEY": KEY_A, "IL2_EXPORT_KEY_GENERATION": "0"}, "IL2_EXPORT_KEY_GENERATION"),
])
def test_the_settings_refuse_a_weak_double_or_unreadable_key_naming_it_never_showing_it(environ, message):
    with pytest.raises(SettingsError) as refused:
        load_settings(environ)
    assert message in str(refused.value) and "k" * 40 not in str(refused.value) and KEY_A not in str(refused.value)


def test_the_key_file_is_read_from_its_first_line(tmp_path):
    path = tmp_path / "export.key"
    path.write_text(KEY_B + "\n# rotated 2026-12-01\n", encoding="utf-8")
    settings = load_settings({"IL2_EXPORT_KEY_FILE": str(path), "IL2_EXPORT_KEY_GENERATION": "2"})
    assert (settings.team_export_key(), settings.export_key_generation) == (KEY_B, 2)
    assert load_settings({}).team_export_key() is None
