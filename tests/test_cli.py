"""The il2-monitor command line as an operator uses it."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env_url: str | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    import os
    env = {**os.environ}
    if env_url:
        env["DATABASE_URL"] = env_url
    return subprocess.run([sys.executable, "-m", "monitoring", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120, input=stdin)


def test_db_upgrade_then_demo_if_empty_seeds_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'ward.db'}"
    assert run_cli("db", "upgrade", env_url=url).returncode == 0
    first = run_cli("demo", "--if-empty", "--end", "2026-11-27T08:00:00Z", env_url=url)
    assert first.returncode == 0, first.stderr
    assert "SYNTHETIC" in first.stdout
    second = run_cli("demo", "--if-empty", env_url=url)
    assert second.returncode == 0 and "not added" in second.stdout


def _counts(url):
    from sqlalchemy import func, select

    from monitoring.store.db import make_engine, session_scope
    from monitoring.store.models import Patient, User
    engine = make_engine(url)
    with session_scope(engine) as session:
        counts = (session.scalar(select(func.count()).select_from(Patient)),
                  sorted(session.scalars(select(User.username)).all()))
    engine.dispose()
    return counts


def _real_account(url):
    from monitoring.services import auth
    from monitoring.store.db import make_engine, session_scope
    engine = make_engine(url)
    from monitoring.store.repository import get_or_create_ward
    with session_scope(engine) as session:
        get_or_create_ward(session=session, code="W7", name="Ward 7")   # a nurse has a ward (issue 19 item 4)
        auth.add_user(session=session, username="sister.jones", display_name="Sister Jones", role="nurse",
                      password="ward-7-night-shift", created_by="admin", ward_codes=["W7"])
    engine.dispose()


def test_the_demo_and_its_published_accounts_never_go_into_a_database_with_real_accounts(db_url):
    """Issue 16 item 9: `demo` added four demo-il2 accounts (an admin among them) beside real ones."""
    assert run_cli("db", "upgrade", env_url=db_url).returncode == 0
    _real_account(db_url)
    refused = run_cli("demo", "--end", "2026-11-27T08:00:00Z", env_url=db_url)
    assert refused.returncode == 2 and "1 account not made by the demo (sister.jones)" in refused.stderr
    assert _counts(db_url) == (0, ["sister.jones"])  # nothing written
    quiet = run_cli("demo", "--if-empty", env_url=db_url)
    assert quiet.returncode == 0 and "not added" in quiet.stdout
    assert _counts(db_url) == (0, ["sister.jones"])


def test_make_run_seeds_only_the_embedded_database(tmp_path, db_url):
    seeded = run_cli("demo", "--if-empty", "--embedded-only", "--end", "2026-11-27T08:00:00Z", env_url=db_url)
    assert seeded.returncode == 0, seeded.stderr
    if db_url.startswith("sqlite"):
        assert _counts(db_url) == (12, ["admin", "nurse", "oncologist", "quality"])
    else:   # a PostgreSQL ward database: nothing, and the way to ask for the demo
        assert "make demo" in seeded.stdout
        assert _counts(db_url) == (0, [])


def test_demo_accounts_are_refused_beside_real_patients_or_accounts(engine):
    import pytest

    from monitoring.errors import RecordError
    from monitoring.services import auth
    from monitoring.store.db import session_scope
    with session_scope(engine) as session:
        assert auth.real_data_present(session=session) == []
        auth.add_user(session=session, username="dr.real", display_name="Dr Real", role="oncologist",
                      password="oncology-rota-2026", created_by="admin")
    with session_scope(engine) as session, pytest.raises(RecordError, match=r"dr\.real"):
        auth.ensure_demo_accounts(session=session, ward_codes=[])
    from monitoring.store.models import Patient
    with session_scope(engine) as session:
        session.add(Patient(sex="female"))
        session.add(Patient(sex="male", is_synthetic=True))
    with session_scope(engine) as session:
        assert auth.real_data_present(session=session)[1] == "1 patient not marked synthetic"


def test_bad_settings_and_arguments_exit_2_with_a_message(tmp_path):
    bad_url = run_cli("db", "upgrade", env_url="mysql://x@y/z")
    assert bad_url.returncode == 2 and "DATABASE_URL" in bad_url.stderr
    naive = run_cli("demo", "--end", "2026-11-27T08:00:00", env_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert naive.returncode == 2 and "time zone" in naive.stderr
    zero = run_cli("demo", "--patients", "0", env_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert zero.returncode == 2 and "--patients" in zero.stderr


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_score_keeps_rows_and_columns_and_adds_the_scores(tmp_path):
    sets = write(tmp_path, "sets.csv",
                 "patient_id,time,resp_rate,spo2,on_oxygen,sbp,heart_rate,consciousness,temperature,note\n"
                 "P1,2026-11-20T08:00:00Z,22,95,yes,105,115,A,38.3,first\n"
                 "P2,2026-11-20T08:00:00Z,25,,no,120,80,A,37.0,partial\n")
    result = run_cli("score", sets)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("patient_id,time,resp_rate,spo2,on_oxygen,sbp,heart_rate,consciousness,"
                               "temperature,note,news2")
    assert ",first,9,high," in lines[1]            # clinical.md §8.10 worked example
    assert ",partial,,," in lines[2] and "spo2" in lines[2]  # missing SpO2: NEWS2 empty, named


def test_grade_and_evaluate_write_json_and_files(tmp_path):
    labs = write(tmp_path, "labs.csv", "patient_id,time,code,value,unit,ref_low,ref_high\n"
                                       "P1,2026-11-20T06:00:00Z,anc,0.4,10*9/L,1.8,7.5\n")
    out = tmp_path / "graded.csv"
    assert run_cli("grade", labs, "-o", str(out)).returncode == 0
    assert "Neutrophil count decreased,4" in out.read_text()
    obs = write(tmp_path, "obs.csv", "patient_id,time,code,value,unit\n"
                                     "P1,2026-11-20T08:00:00Z,temperature,101.3,[degF]\n"
                                     "P1,2026-11-20T09:00:00Z,anc,0.3,\n")
    result = run_cli("evaluate", obs, "--format", "json")
    import json
    alerts = json.loads(result.stdout)
    fn = next(a for a in alerts if a["rule"] == "febrile-neutropenia")
    assert fn["onset"] == "2026-11-20T09:00:00Z" and "38.5 °C" in fn["evidence"]


def test_bad_input_exits_2_naming_the_row_and_the_column(tmp_path):
    bad = write(tmp_path, "bad.csv", "patient_id,time,code,value,unit\n"
                                     "P1,2026-11-20T08:00:00Z,temperature,38.1,\n"
                                     "P1,2026-11-20T08:00:00Z,spo2,140,\n"
                                     "P1,yesterday,heart_rate,80,\n")
    result = run_cli("evaluate", bad)
    assert result.returncode == 2
    assert "row 2, column value" in result.stderr and "140" in result.stderr
    assert "row 3, column time" in result.stderr
    missing = write(tmp_path, "cols.csv", "patient,when,code,value\nP1,2026-11-20T08:00:00Z,sbp,100\n")
    result = run_cli("grade", missing)
    assert result.returncode == 2 and "patient_id" in result.stderr
    doses = write(tmp_path, "doses.csv", "patient_id,time,status\nP1,2026-11-20T05:00:00Z,skipped\n")
    good = write(tmp_path, "good.csv", "patient_id,time,code,value\nP1,2026-11-20T08:00:00Z,sbp,100\n")
    result = run_cli("evaluate", good, "--doses", doses)
    assert result.returncode == 2 and "row 1, column status" in result.stderr and "skipped" in result.stderr


@pytest.mark.slow  # several seconds: in make test, not in make test-fast
def test_dose_goes_through_the_same_gate_as_the_doses_page(tmp_path):
    """Issue 15: the CLI records a dose only as the page does: 'given' over a check that is not GIVE
    (here INCOMPLETE: no pre-dose observations) needs an authoriser and a reason."""
    from monitoring.services import auth
    from monitoring.store import repository
    from monitoring.store.db import make_engine, session_scope, upgrade
    from tests.factories import make_patient_with_course

    url = f"sqlite:///{tmp_path / 'ward.db'}"
    upgrade(url)
    engine = make_engine(url)
    make_patient_with_course(engine, mrn="SYN-CLI-1", start=datetime.now(timezone.utc) - timedelta(hours=1))
    with session_scope(engine) as session:
        # nurse.c works on another ward (a nurse needs a ward, issue 19): the patient is not on hers.
        repository.get_or_create_ward(session=session, code="OTHER", name="Other ward")
        for name, role, wards in (("nurse.a", "nurse", ["T"]), ("dr.b", "oncologist", []),
                                  ("nurse.c", "nurse", ["OTHER"])):
            auth.add_user(session=session, username=name, display_name=name, role=role, password="Long-pass-2026",
                          created_by="test", ward_codes=wards)
    engine.dispose()

    def dose(*extra: str, password: str = "Long-pass-2026") -> subprocess.CompletedProcess:
        return run_cli("dose", "SYN-CLI-1", *extra, "--password-stdin", env_url=url, stdin=password + "\n")

    refused = dose("--status", "given", "--user", "nurse.a", "--dose", "48000000")
    assert refused.returncode == 2
    assert "Dose 1 cannot be recorded as given: the pre-dose check says INCOMPLETE" in refused.stderr
    assert "nothing was saved" in refused.stderr
    assert dose("--status", "given", "--user", "dr.b", "--dose", "48000000").stderr.startswith(
        "il2-monitor dose: the oncologist role may not record doses")
    assert "is not on a ward of nurse.c" in dose("--status", "given", "--user", "nurse.c", "--dose", "1").stderr
    assert "no patient with record number 'SYN-NONE'" in run_cli(
        "dose", "SYN-NONE", "--status", "held", "--user", "nurse.a", "--password-stdin", env_url=url,
        stdin="Long-pass-2026\n").stderr
    # Issue 16 item 11: the account's password, never its name alone; refused without it or when wrong.
    no_password = run_cli("dose", "SYN-CLI-1", "--status", "held", "--reason", "x", "--user", "nurse.a", env_url=url)
    assert no_password.returncode == 2 and "needs the password of nurse.a" in no_password.stderr
    wrong = dose("--status", "held", "--reason", "x", "--user", "nurse.a", password="not-her-password")
    assert wrong.returncode == 2 and "Wrong user name or password" in wrong.stderr
    assert "the next dose of SYN-CLI-1 is dose 1, not 2" in dose("--status", "held", "--user", "nurse.a",
                                                                  "--number", "2", "--reason", "x").stderr
    bad_time = dose("--status", "given", "--user", "nurse.a", "--given-at", "2026-12-04 14:05")
    assert bad_time.returncode == 2 and "is not a time with its zone" in bad_time.stderr
    done = dose("--status", "given", "--user", "nurse.a", "--dose", "48000000", "--override-by", "Dr Reg",
                "--override-reason", "reviewed at the bedside")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("Dose 1 of SYN-CLI-1 recorded as given (override by Dr Reg: reviewed at the "
                                   "bedside (check: INCOMPLETE)) by nurse.a.")
    again = dose("--status", "held", "--user", "nurse.a", "--number", "2")
    assert again.returncode == 2 and "A held dose needs a reason." in again.stderr
    engine = make_engine(url)
    with session_scope(engine) as session:
        from sqlalchemy import select

        from monitoring.store.models import AuditEvent
        confirmations = [e.after for e in session.scalars(select(AuditEvent).where(
            AuditEvent.entity_id == "nurse.a", AuditEvent.action.in_(["sign-in", "sign-in-failed"])))]
    engine.dispose()
    import getpass
    assert {c["method"] for c in confirmations} == {"cli"} and {c["os_user"] for c in confirmations} == {
        getpass.getuser()}
    assert [c.get("reason") for c in confirmations].count("wrong password") == 1


def test_a_real_patient_is_refused_while_the_demo_accounts_are_active(engine):
    """Issue 16 item 9, the other direction: the demo database (make run) must not take real patients
    while accounts with the published password can read them."""
    import pytest

    from monitoring.errors import RecordError
    from monitoring.services import auth
    from monitoring.store import repository
    from monitoring.store.db import session_scope
    with session_scope(engine) as session:
        repository.get_or_create_ward(session=session, code="DEMO", name="Demo ward")   # the demo nurse's
        auth.ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    with pytest.raises(RecordError, match="holds the demo's accounts"), session_scope(engine) as session:
        repository.add_patient(session=session, mrn="REAL-1", given_name="Ada", family_name="Real", recorded_by="x")
    with session_scope(engine) as session:   # a synthetic one is the demo's own business
        repository.add_patient(session=session, mrn="SYN-9", given_name="Syn", family_name="Thetic", recorded_by="x",
                               is_synthetic=True)
        for username in ("admin", "nurse", "oncologist", "quality"):
            auth.set_active(session=session, username=username, active=False, changed_by="root")
    with session_scope(engine) as session:   # the demo accounts disabled: the database may become real
        repository.add_patient(session=session, mrn="REAL-1", given_name="Ada", family_name="Real", recorded_by="x")


def test_commands_never_change_the_schema_they_say_to_upgrade(tmp_path, monkeypatch):
    """Issue 17: demo, users, dose and export upgraded the schema as a side effect."""
    monkeypatch.setenv("IL2_EXPORT_KEY", "a-kept-export-key-7e1c9a4b2f8d6e30")
    url = f"sqlite:///{tmp_path / 'new.db'}"
    for command in (["demo"], ["users"], ["export", "--format", "csv", "-o", str(tmp_path / "x.zip")]):
        result = run_cli(*command, env_url=url)
        assert result.returncode == 2 and "run `il2-monitor db upgrade` first" in result.stderr, command
    from monitoring.store.db import current_revision, make_engine
    engine = make_engine(url)
    assert current_revision(engine) is None   # nothing was created
    engine.dispose()


def test_alerts_sync_re_evaluates_a_ward_on_a_schedule(db_url):
    """Issue 17: `il2-monitor alerts sync` stores what the rules find now, for cron or a timer."""
    from sqlalchemy import func, select

    from monitoring.demo import seed as demo
    from monitoring.store.db import make_engine, session_scope
    from monitoring.store.models import Alert
    engine = make_engine(db_url)
    ward = demo.generate_ward(patients=3, days=1, seed=4, end=datetime(2026, 11, 27, 8, tzinfo=timezone.utc))
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=ward, ward_code="S1", ward_name="Sync ward")
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0   # written, never evaluated
    unknown = run_cli("alerts", "sync", "--ward", "NOPE", env_url=db_url)
    assert unknown.returncode == 2 and "ward NOPE does not exist; known: S1" in unknown.stderr
    synced = run_cli("alerts", "sync", "--ward", "S1", env_url=db_url)
    assert synced.returncode == 0 and synced.stdout.startswith("Alerts re-evaluated for wards S1: ")
    with session_scope(engine) as session:
        stored = session.scalar(select(func.count()).select_from(Alert))
    again = run_cli("alerts", "sync", env_url=db_url)
    assert stored > 0 and " 0 new" in again.stdout   # nothing new the second time
    engine.dispose()


def test_settings_shows_what_is_in_force_and_never_a_password_or_the_export_key(monkeypatch):
    monkeypatch.setenv("IL2_EXPORT_KEY", "kept-settings-key-4f8a2c9e1b7d3a6")
    monkeypatch.setenv("IL2_LOCKOUT_ATTEMPTS", "7")
    shown = run_cli("settings", env_url="postgresql://ward:hunter2@db.example:5432/il2")
    assert shown.returncode == 0, shown.stderr
    assert "IL2_LOCKOUT_ATTEMPTS=7" in shown.stdout and "IL2_EXPORT_KEY=set (hidden)" in shown.stdout
    assert "postgresql+psycopg://ward@db.example:5432/il2" in shown.stdout
    assert "hunter2" not in shown.stdout and "kept-settings-key" not in shown.stdout


def test_settings_documentation_and_schema_come_from_the_same_declaration():
    import json

    from monitoring.config import settings_markdown

    assert run_cli("settings", "--markdown").stdout == settings_markdown()
    schema = json.loads(run_cli("settings", "--schema").stdout)
    assert schema["properties"]["IL2_SMALL_CELL"]["minimum"] == 2
    assert schema["properties"]["IL2_LOCKOUT_MINUTES"]["exclusiveMinimum"] == 0


def test_catalogue_checks_a_file_and_prints_its_reference_and_schema(tmp_path):
    from monitoring.clinical.catalogue import load_catalogue
    from monitoring.clinical.catalogue_docs import catalogue_markdown, catalogue_schema_text

    checked = run_cli("catalogue")
    assert checked.returncode == 0 and "valid, version 1.0.0, 51 codes (13 vital sign, 17 lab" in checked.stdout
    assert run_cli("catalogue", "--schema").stdout == catalogue_schema_text()
    assert run_cli("catalogue", "--markdown").stdout == catalogue_markdown(load_catalogue())
    edited = tmp_path / "catalogue.toml"
    edited.write_text((ROOT / "data" / "catalogue.toml").read_text(encoding="utf-8").replace(
        "plausible = [25.0, 45.0]", "plausible = [25.0, 40.0]"), encoding="utf-8")
    refused = run_cli("catalogue", str(edited))
    assert refused.returncode == 2
    assert f"{edited}: codes.temperature.expected: [35.1, 41.0] is not inside plausible [25.0, 40.0]" in refused.stderr


def test_a_bad_setting_stops_a_command_naming_it(monkeypatch):
    monkeypatch.setenv("IL2_SMALL_CELL", "1")
    refused = run_cli("settings")
    assert refused.returncode == 2 and "IL2_SMALL_CELL '1'" in refused.stderr


def test_thresholds_command_checks_a_file_and_prints_the_reference_and_schema(tmp_path):
    import json

    from monitoring.clinical.thresholds import REPO_ROOT
    from monitoring.clinical.thresholds_docs import schema_text

    checked = run_cli("thresholds", str(REPO_ROOT / "data" / "thresholds.toml"))
    assert checked.returncode == 0 and "valid (version" in checked.stdout and "il2_hold: verified:" in checked.stdout
    assert run_cli("thresholds", "--schema").stdout == schema_text()
    assert json.loads(run_cli("thresholds", "--schema").stdout)["properties"]["aki"]["$ref"]
    assert run_cli("thresholds", "--markdown").stdout.startswith("# Thresholds reference")
    edited = tmp_path / "thresholds.toml"
    edited.write_text((REPO_ROOT / "data" / "thresholds.toml").read_text().replace("urgent_at_signs = 2 ",
                                                                                   "urgent_at_signs = 5 "))
    refused = run_cli("thresholds", str(edited))
    assert refused.returncode == 2
    assert "capillary_leak.urgent_at_signs: found 5, expected a whole number from 1 to 3" in refused.stderr


# --- il2-monitor print ward (issue 18 item 7) -------------------------------------------------------------

def _print_ward_db(db_url: str) -> None:
    """A 2-patient synthetic ward (code DEMO) whose last sets are of the last hours, with its alerts."""
    from tests.conftest import seed_demo_ward
    seed_demo_ward(db_url, patients=2, days=1, seed=6, sync=True,
                   end=datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0))


def _print_audits(db_url: str) -> list:
    from sqlalchemy import select

    from monitoring.store.db import make_engine, session_scope
    from monitoring.store.models import AuditEvent
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        rows = [(r.username, r.entity_id, r.after) for r in
                session.scalars(select(AuditEvent).where(AuditEvent.action == "print").order_by(AuditEvent.id))]
    engine.dispose()
    return rows


def test_print_ward_writes_the_whole_pdf_for_a_schedule_and_audits_it(db_url, tmp_path):
    import getpass
    _print_ward_db(db_url)
    out = tmp_path / "downtime" / "ward.pdf"
    out.parent.mkdir()
    out.write_bytes(b"yesterday's copy")
    printed = run_cli("print", "ward", "--ward", "DEMO", "--out", str(out), env_url=db_url)
    assert printed.returncode == 0, printed.stderr
    assert re.match(r"Wrote the downtime print of ward DEMO \(2 patients, \d+ pages, observations of the last 24 h\) "
                    rf"to {re.escape(str(out))}$", printed.stdout.strip())
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")      # replaced whole
    assert [p.name for p in out.parent.iterdir()] == ["ward.pdf"]              # no temporary file left
    assert oct(out.stat().st_mode & 0o777) == "0o640"
    (user, ward, after), = _print_audits(db_url)
    assert (user, ward, after["os_user"], after["patients"]) == (f"cli:{getpass.getuser()}", "DEMO",
                                                                 getpass.getuser(), 2)


def test_print_ward_refuses_an_unknown_ward_or_look_back_and_keeps_the_last_copy(db_url, tmp_path, monkeypatch,
                                                                                 capsys):
    from monitoring import cli
    _print_ward_db(db_url)
    monkeypatch.setenv("DATABASE_URL", db_url)
    (tmp_path / "downtime").mkdir()
    out = tmp_path / "downtime" / "ward.pdf"
    out.write_bytes(b"the last good copy")
    assert cli.main(["print", "ward", "--ward", "NOPE", "--out", str(out)]) == 2
    assert "ward NOPE does not exist; known: DEMO; nothing was written" in capsys.readouterr().err
    for hours in ("0", "73", "a day"):
        with pytest.raises(SystemExit) as refused:
            cli.main(["print", "ward", "--ward", "DEMO", "--hours", hours, "--out", str(out)])
        assert refused.value.code == 2 and "--hours" in capsys.readouterr().err
    # A failure while the file is replaced (a full disk, a rename refused) leaves the last copy and no debris.
    monkeypatch.setattr("os.replace", lambda *args: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    assert cli.main(["print", "ward", "--ward", "DEMO", "--out", str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == b"the last good copy" and [p.name for p in out.parent.iterdir()] == ["ward.pdf"]
    assert _print_audits(db_url) == []       # nothing printed, nothing recorded


def test_users_add_refuses_a_nurse_without_a_ward_saying_how_to_give_one(tmp_path):
    """Issue 19 item 4, from the command line: the message names the option and the wards that exist."""
    url = f"sqlite:///{tmp_path / 'ward.db'}"
    assert run_cli("db", "upgrade", env_url=url).returncode == 0
    _real_account(url)        # ward W7 and its nurse
    refused = run_cli("users", "add", "--username", "night.nurse", "--role", "nurse", "--password-stdin",
                      env_url=url, stdin="night-shift-ward-7\n")
    assert refused.returncode == 2
    assert "A nurse needs at least one ward: give --ward CODE (repeatable); wards: W7." in refused.stderr
    added = run_cli("users", "add", "--username", "night.nurse", "--role", "nurse", "--ward", "W7",
                    "--password-stdin", env_url=url, stdin="night-shift-ward-7\n")
    assert added.returncode == 0, added.stderr
    assert _counts(url)[1] == ["night.nurse", "sister.jones"]
