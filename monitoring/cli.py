"""il2-monitor: the command line (also `python -m monitoring`).

Exit codes: 0 success, 1 failure while running, 2 bad input or usage (named in the message).
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from monitoring.config import SECRET_SETTINGS, SettingsError, load_settings

if TYPE_CHECKING:
    import pandas as pd


def _open_store(database_url: str):
    """The database's engine, or None (said on stderr, engine closed) when its schema is behind this code
    (schemas change only through `il2-monitor db upgrade`)."""
    from monitoring.store.db import make_engine, schema_problem

    engine = make_engine(database_url)
    if (problem := schema_problem(engine)) is not None:
        engine.dispose()
        print(f"il2-monitor: {problem}", file=sys.stderr)
        return None
    return engine


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from monitoring.store.db import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    print(f"Database is at the latest schema: {_safe_url(settings.database_url)}")
    return 0


def _cmd_db_app_role(args: argparse.Namespace) -> int:
    from monitoring.store.db import make_engine
    from monitoring.store.db_roles import grant_app_role

    settings = load_settings()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    engine = make_engine(settings.database_url)
    try:
        granted = grant_app_role(engine, args.role, password)
    except ValueError as exc:
        print(f"il2-monitor: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for privileges, tables in granted.items():
        print(f"{privileges}: {', '.join(tables) or '-'}")
    print(f"The app connects as '{args.role}' (DATABASE_URL=postgresql://{args.role}:...@host/database); "
          "migrations stay with the owner. Run this again after each upgrade.")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from monitoring.demo import seed as demo
    from monitoring.services.alerting import sync_alerts
    from monitoring.services.auth import ensure_demo_accounts, real_data_present
    from monitoring.store.db import session_scope
    from monitoring.store.models import Patient, User

    settings = load_settings()
    if args.embedded_only and not settings.database_url.startswith("sqlite"):
        print("The database is not the embedded SQLite file: the demo ward and its accounts are not added "
              "(add them to a database of their own with `make demo`).")
        return 0
    engine = _open_store(settings.database_url)
    if engine is None:
        return 2
    try:
        with session_scope(engine) as session:
            patients = session.scalar(select(func.count()).select_from(Patient))
            accounts = session.scalar(select(func.count()).select_from(User))
            real = real_data_present(session=session)
        if (patients or accounts) and args.if_empty:
            print(f"Database already holds {patients} patients and {accounts} accounts; demo ward not added.")
            return 0
        if real:
            # Checked before anything is written: the demo's accounts (password published in the README)
            # never sit beside real ones, and synthetic patients never mix with real ones.
            print(f"il2-monitor: the database holds {' and '.join(real)}; the SYNTHETIC demo goes only into "
                  "a database of its own (set DATABASE_URL to another database).", file=sys.stderr)
            return 2
        end = (args.end or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
        ward = demo.generate_ward(patients=args.patients, days=args.days, seed=args.seed, end=end)
        with session_scope(engine) as session:
            counts = demo.write_ward(session=session, ward=ward)
        with session_scope(engine) as session:
            counts["alerts"] = sync_alerts(session=session, username="demo-generator")["new"]
        with session_scope(engine) as session:
            # The demo database gets one account per role (README); a real one starts with none.
            counts["demo accounts"] = ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    finally:
        engine.dispose()
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    print(f"SYNTHETIC demo ward written (seed {args.seed}, {args.days} days to {end:%Y-%m-%d %H:%M} UTC): {summary}")
    return 0


def _read_csv(path: str) -> "pd.DataFrame":
    """Read a CSV as text: empty cells are missing (never zero), every other value is parsed by the engine."""
    import csv

    import pandas as pd

    from monitoring.errors import InputError

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next((row for row in csv.reader(handle) if any(cell.strip() for cell in row)), [])
    except FileNotFoundError:
        raise InputError([(None, None, f"file not found: {path}")]) from None
    except IsADirectoryError:
        raise InputError([(None, None, f"{path} is a directory; give a CSV file")]) from None
    except OSError as exc:
        raise InputError([(None, None, f"cannot read {path}: {exc.strerror or exc}")]) from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise InputError([(None, None, f"{path} is not a readable UTF-8 CSV file: {exc}")]) from None
    # pandas would silently rename a repeated column (value, value.1) and read the first one only.
    names = [cell.strip() for cell in header]
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise InputError([(None, name, f"column '{name}' appears more than once in the header row of {path}")
                          for name in repeated])
    # A first data row with more cells than the header would silently become pandas's index, shifting
    # every column of every row (later rows with too many cells are refused by pandas itself).
    if not isinstance(frame.index, pd.RangeIndex):
        raise InputError([(1, "line", f"this line has more cells than the header has columns "
                                      f"({len(frame.columns)}): a comma inside a value? Write numbers with a "
                                      "decimal point (3.5, not 3,5) or put the value in quotes")])
    return frame


def _write(frame: "pd.DataFrame", args: argparse.Namespace) -> None:
    """CSV (default) or JSON records, to -o FILE or stdout; times as ISO 8601 UTC."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    target = args.output or sys.stdout
    if args.format == "json":
        import json

        records = out.astype(object).where(out.notna(), None).to_dict("records")
        text = json.dumps(records, ensure_ascii=False, indent=1, default=str)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        else:
            sys.stdout.write(text + "\n")
    else:
        if "evidence_items" in out.columns:  # the structured evidence as one JSON text per row
            import json

            out["evidence_items"] = [json.dumps(items, ensure_ascii=False, separators=(",", ":"))
                                     for items in out["evidence_items"]]
        out.to_csv(target, index=False, lineterminator="\n")


def _cmd_score(args: argparse.Namespace) -> int:
    from monitoring.clinical.scores import score_frame

    _write(score_frame(_read_csv(args.file)), args)
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from monitoring.clinical.ctcae import grade_frame

    _write(grade_frame(_read_csv(args.file)), args)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from monitoring.clinical.engine import evaluate

    observations = _read_csv(args.file)
    doses = _read_csv(args.doses) if args.doses else None
    courses = _read_csv(args.courses) if args.courses else None
    if courses is not None:
        courses = read_courses(courses)
    _write(evaluate(observations, doses, courses=courses), args)
    return 0


COURSE_CSV_COLUMNS = {"baseline_weight_kg": "number", "baseline_creatinine_mg_dl": "number",
                      "usual_sbp_mm_hg": "number", "dose_interval_hours": "number", "regimen": "regimen",
                      "after_lymphodepletion": "flag", "neutropenia_expected": "flag"}
# Baselines are measurements: the catalogue's plausible range for the code (in its canonical unit)
# refuses -70 kg, 0 kg or infinity as it does at the bedside (issue 16 item 10).
COURSE_MEASUREMENTS = {"baseline_weight_kg": "weight", "baseline_creatinine_mg_dl": "creatinine",
                       "usual_sbp_mm_hg": "sbp"}
FLAG_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": False}


def read_courses(frame: "pd.DataFrame") -> "pd.DataFrame":
    """The --courses CSV checked: numbers, a known regimen, true/false flags; InputError names row, column
    and value (nothing is guessed)."""
    import numpy as np
    import pandas as pd

    from monitoring.clinical.vocabulary import REGIMENS
    from monitoring.errors import InputError

    if "patient_id" not in frame.columns:
        raise InputError([(None, "patient_id", "required column missing in the courses file")])
    problems, out = [], frame.copy()
    for column, kind in COURSE_CSV_COLUMNS.items():
        if column not in frame.columns:
            continue
        cells = frame[column].astype("str").str.strip().where(frame[column].notna(), "")
        if kind == "number":
            values = pd.to_numeric(cells.where(cells != "", None), errors="coerce")
            bad = (cells != "") & values.isna()
            out[column] = values
            problems += [(int(i) + 1, column, f"'{cells.iloc[i]}' is not a number")
                         for i in bad.to_numpy().nonzero()[0]]
        elif kind == "regimen":
            bad = (cells != "") & ~cells.isin(list(REGIMENS))
            problems += [(int(i) + 1, column, f"'{cells.iloc[i]}' is not a regimen (accepted: {', '.join(REGIMENS)})")
                         for i in bad.to_numpy().nonzero()[0]]
            out[column] = cells.where(cells != "", None)
        else:
            lowered = cells.str.casefold()
            bad = ~lowered.isin(list(FLAG_WORDS))
            problems += [(int(i) + 1, column, f"'{cells.iloc[i]}' is not true or false (accepted: true, false, "
                                              "yes, no, 1, 0, or empty for false)")
                         for i in bad.to_numpy().nonzero()[0]]
            out[column] = lowered.map(lambda word: FLAG_WORDS.get(word, False)).astype(bool)
    problems += _course_number_problems(out)
    patient_ids = frame["patient_id"].astype(object).where(frame["patient_id"].notna(), "").astype(str).str.strip()
    empty = patient_ids == ""
    for i in np.flatnonzero((patient_ids.duplicated(keep="first") & ~empty).to_numpy()):
        first = int(np.flatnonzero((patient_ids == patient_ids.iloc[i]).to_numpy())[0]) + 1
        problems.append((int(i) + 1, "patient_id", f"'{patient_ids.iloc[i]}' already has a course on row {first}: "
                                                   "one row per patient"))
    for i in np.flatnonzero(empty.to_numpy()):
        problems.append((int(i) + 1, "patient_id", "empty"))
    if problems:
        raise InputError(sorted(problems, key=lambda p: (p[0] or 0, str(p[1]))))
    return out


def _course_number_problems(courses: "pd.DataFrame") -> list[tuple[int, str, str]]:
    """Baselines outside the catalogue's plausible range; a dose interval outside (0, 168] h."""
    import numpy as np

    from monitoring.clinical.catalogue import ObservationValueError, default_catalogue
    from monitoring.clinical.inputs import entry_limits

    catalogue, problems = default_catalogue(), []
    for column, code in COURSE_MEASUREMENTS.items():
        if column not in courses.columns:
            continue
        for i, value in enumerate(courses[column]):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            try:
                catalogue.validate(code, repr(float(value)) if np.isfinite(value) else str(value))
            except ObservationValueError as exc:
                problems.append((i + 1, column, str(exc)))
    if "dose_interval_hours" in courses.columns:
        hours = courses["dose_interval_hours"].to_numpy(dtype=float)
        longest = entry_limits().max_dose_interval_hours
        for i in np.flatnonzero(~np.isnan(hours) & ~((hours > 0) & (hours <= longest))):
            problems.append((int(i) + 1, "dose_interval_hours",
                             f"'{hours[i]:g}' h is not accepted: more than 0 and at most {longest:g} h"))
    return problems


def _cmd_users(args: argparse.Namespace) -> int:
    """il2-monitor users [list|add|disable|enable|reset]: accounts are managed here or on the admin page."""
    import getpass

    from monitoring.errors import RecordError
    from monitoring.services import auth
    from monitoring.store.db import session_scope

    settings = load_settings()
    engine = _open_store(settings.database_url)
    if engine is None:
        return 2
    actor = f"cli:{getpass.getuser()}"

    def new_password() -> str | None:
        if getattr(args, "password_stdin", False):
            return sys.stdin.readline().rstrip("\n")
        if args.action == "add" and getattr(args, "email", None) and not sys.stdin.isatty():
            return None
        first = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise RecordError(["The two passwords differ."])
        return first

    try:
        with session_scope(engine) as session:
            if args.action in (None, "list"):
                for user in auth.list_users(session=session):
                    wards = ",".join(str(w) for w in auth.user_ward_ids(session=session, user=user)) or "-"
                    state = "active" if user.is_active else "disabled"
                    until = auth.locked_now(user)
                    locked = f", locked until {until:%Y-%m-%d %H:%M}Z" if until else ""
                    print(f"{user.username}\t{user.role}\t{user.display_name}\t{user.email or '-'}\t"
                          f"wards {wards}\t{state}{locked}")
            elif args.action == "add":
                if args.role == "nurse" and not args.ward:   # the service refuses it too; say how here
                    from sqlalchemy import select

                    from monitoring.store.models import Ward
                    known = ", ".join(session.scalars(select(Ward.code).order_by(Ward.code)).all())
                    raise RecordError(["A nurse needs at least one ward: give --ward CODE (repeatable); wards: "
                                       f"{known or 'none yet (an administrator adds them on the Wards page)'}."])
                auth.add_user(session=session, username=args.username, display_name=args.display_name or args.username,
                              role=args.role, password=new_password(), email=args.email, created_by=actor,
                              ward_codes=args.ward or [])
                print(f"Added {args.username} ({args.role}).")
            elif args.action in ("disable", "enable"):
                auth.set_active(session=session, username=args.username, active=args.action == "enable",
                                changed_by=actor)
                print(f"{args.username} {args.action}d.")
            elif args.action == "reset":
                auth.reset_password(session=session, username=args.username, new_password=new_password(),
                                    changed_by=actor)
                print(f"Password of {args.username} reset; the account is unlocked.")
            elif args.action == "unlock":
                auth.unlock(session=session, username=args.username, changed_by=actor)
                print(f"{args.username} unlocked.")
    except RecordError as exc:
        print(f"il2-monitor: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def _cmd_dose(args: argparse.Namespace) -> int:
    """il2-monitor dose MRN --status given|held|stopped --user U: the next dose of the patient's latest
    course, through the same gate as the doses page (monitoring.services.doses.record): 'given' over a check
    that does not say GIVE needs the oncologist's decision or --override-by and --override-reason."""
    from sqlalchemy import select

    from monitoring.errors import RecordError
    from monitoring.services import auth
    from monitoring.services import doses as dose_service
    from monitoring.store.db import session_scope
    from monitoring.store.models import Patient, PatientIdentity, TreatmentCourse
    from monitoring.views import dosing

    def refuse(*messages: str) -> int:
        for message in messages:
            print(f"il2-monitor dose: {message}", file=sys.stderr)
        print("il2-monitor dose: nothing was saved.", file=sys.stderr)
        return 2

    password, no_password = _read_password(username=args.user, password_stdin=args.password_stdin,
                                           purpose="recording a dose")
    if no_password:
        return refuse(no_password)
    settings = load_settings()
    engine = _open_store(settings.database_url)
    if engine is None:
        return 2
    now = datetime.now(timezone.utc)
    try:
        with session_scope(engine) as session:
            user = auth.get_user(session=session, username=args.user)
            if user is None or not user.is_active:
                return refuse(f"no active account named '{args.user}'")
            if not auth.may(user.role, "record_doses"):
                return refuse(f"the {user.role} role may not record doses (the nurse role may)")
            patient = session.scalars(select(Patient).join(PatientIdentity, PatientIdentity.patient_id == Patient.id)
                                      .where(PatientIdentity.mrn == args.mrn)).first()
            if patient is None:
                return refuse(f"no patient with record number '{args.mrn}'")
            if patient.ward_id not in auth.user_ward_ids(session=session, user=user):
                return refuse(f"patient {args.mrn} is not on a ward of {user.username}")
            course = session.scalars(select(TreatmentCourse).where(TreatmentCourse.patient_id == patient.id)
                                     .order_by(TreatmentCourse.start_at.desc())).first()
            if course is None:
                return refuse(f"patient {args.mrn} has no IL-2 course")
            upcoming = dosing.next_dose(session=session, course_id=course.id, now=now)
            if upcoming is None:
                return refuse(f"no further dose is scheduled in the course of {args.mrn}")
            if args.number is not None and args.number != upcoming.dose_number:
                return refuse(f"the next dose of {args.mrn} is dose {upcoming.dose_number}, not {args.number}")
            # The dose is signed by the nurse named: her password, as at the bedside, read before the
            # transaction began (a refusal is committed with it: counted towards the lock, audited).
            not_confirmed = _confirm_account(session, username=user.username, password=password)
            if not_confirmed:
                return refuse(not_confirmed)
            given = args.status == "given"
            event = dose_service.record(
                session=session, course_id=course.id, dose_number=upcoming.dose_number,
                scheduled_at=upcoming.scheduled_at, status=args.status, recorded_by=user.username,
                given_at=(args.given_at or now) if given else args.given_at, dose=args.dose,
                route=args.route or dosing.DEFAULT_ROUTE.get(course.regimen),
                reason=args.reason, reason_note=args.reason, override_by=args.override_by,
                override_reason=args.override_reason, difference_confirmed=args.difference_confirmed, now=now,
                tz=settings.timezone)
            basis = ""
            if given:
                basis = " (" + dosing.basis_text(event) + ")"
            print(f"Dose {event.dose_number} of {args.mrn} recorded as {event.status}{basis} by {user.username}.")
    except RecordError as refused:
        return refuse(*refused.errors)
    finally:
        engine.dispose()
    return 0


def _cmd_patients(args: argparse.Namespace) -> int:
    """il2-monitor patients import FILE.csv --user U [--check] | patients list [--ward CODE] [--all]:
    admissions (with their courses) from another system, all or nothing, through the same services as the
    Patients and Courses pages (monitoring.services.patient_import); and the patients with their place and
    latest course. Both audited."""
    import getpass

    from monitoring.errors import RecordError
    from monitoring.services import auth, patient_import
    from monitoring.store.db import session_scope
    from monitoring.store.repository import write_audit
    from monitoring.views.placement import patient_register

    settings = load_settings()
    if args.patients_command == "import":
        try:
            with open(args.file, encoding="utf-8-sig") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"il2-monitor patients: cannot read {args.file}: {exc}", file=sys.stderr)
            return 2
        password, no_password = _read_password(username=args.user, password_stdin=args.password_stdin,
                                               purpose="importing patients")
        if no_password:
            print(f"il2-monitor patients: {no_password}; nothing was saved.", file=sys.stderr)
            return 2
    engine = _open_store(settings.database_url)
    if engine is None:
        return 2
    now = datetime.now(timezone.utc)
    try:
        with session_scope(engine) as session:
            if args.patients_command == "list":
                ward_ids = None
                if args.ward:
                    ward_ids, unknown = _ward_ids(session, args.ward)
                    if unknown:
                        print(f"il2-monitor patients: {unknown}", file=sys.stderr)
                        return 2
                frame = patient_register(session=session, ward_ids=ward_ids, include_left=args.all)
                write_audit(session=session, username=f"cli:{getpass.getuser()}", action="patient-list",
                            entity="patient", after={"wards": args.ward or "all", "left_the_service": args.all,
                                                     "patients": len(frame)})
                print("\t".join(frame.columns))
                for row in frame.itertuples(index=False):
                    print("\t".join(str(v) for v in row))
                return 0
            user = auth.get_user(session=session, username=args.user)
            if user is None or not user.is_active:
                print(f"il2-monitor patients: no active account named '{args.user}'; nothing was saved.",
                      file=sys.stderr)
                return 2
            not_confirmed = _confirm_account(session, username=user.username, password=password or "")
            if not_confirmed:
                print(f"il2-monitor patients: {not_confirmed}; nothing was saved.", file=sys.stderr)
                return 2
            ward_ids = None if user.role == "oncologist" else auth.user_ward_ids(session=session, user=user)
            report = patient_import.import_patients(
                session=session, text=text, role=user.role, username=user.username, now=now, tz=settings.timezone,
                ward_ids=ward_ids, check_only=args.check, file_name=os.path.basename(args.file))
    except (RecordError, auth.PermissionDenied) as refused:
        print(f"il2-monitor patients: {refused}; nothing was saved.", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print("line\tmrn\toutcome\tdetail")
    for row in report.rows:
        print(f"{row.line}\t{row.mrn}\t{'ok' if row.ok else 'REFUSED'}\t{row.detail}")
    print(report.summary())
    return 0 if (report.saved or (args.check and not report.refused and not report.problems)) else 2


def _progress(step: int, total: int, label: str, *, stream=None, width: int = 30) -> None:
    """A text progress bar on standard error ("[#####-----] 2/4 building tables")."""
    stream = stream or sys.stderr
    done = int(width * step / total)
    stream.write(f"\r[{'#' * done}{'-' * (width - done)}] {step}/{total} {label:<40}")
    if step == total:
        stream.write("\n")
    stream.flush()


def _export_date(text: str) -> datetime:
    """--from/--to: a date (midnight UTC) or an ISO 8601 time with its zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date such as 2026-11-01 "
                                         "or a time such as 2026-11-01T08:00:00Z") from None
    if value.utcoffset() is None and len(text.strip()) == 10:
        return value.replace(tzinfo=timezone.utc)
    return _iso_datetime(text)


def _export_end(text: str) -> datetime:
    """--to: a plain date includes that whole day (UTC); a time is the exclusive end."""
    from datetime import timedelta

    value = _export_date(text)
    return value + timedelta(days=1) if len(text.strip()) == 10 else value


def _read_password(*, username: str, password_stdin: bool, purpose: str) -> tuple[str | None, str | None]:
    """The account's password from standard input (--password-stdin) or a terminal prompt, read before
    any transaction is open (a prompt inside one would hold SQLite's writer lock while waiting).
    Returns (password, None) or (None, why there is none)."""
    import getpass

    if password_stdin:
        return sys.stdin.readline().rstrip("\n"), None
    if sys.stdin.isatty():
        return getpass.getpass(f"Password of {username} ({purpose}): "), None
    return None, (f"{purpose} needs the password of {username}: give it on standard input with "
                  "--password-stdin (never as an argument)")


def _confirm_account(session, *, username: str, password: str) -> str | None:
    """Check the account's password like a sign-in (counted, locked after repeated failures, audited
    with the operating-system user), so a command is never attributed to an account on the typist's
    word alone (issue 16 item 11). None when confirmed; otherwise why not."""
    import getpass

    from monitoring.services import auth
    result = auth.authenticate(session=session, username=username, password=password, method="cli",
                               os_user=getpass.getuser())
    return None if result.ok else f"{username}: {result.message}"


def _ward_ids(session, codes: list[str]) -> tuple[list[int], str | None]:
    """The ids of the ward codes given on the command line, or why not (a code that does not exist)."""
    from sqlalchemy import select

    from monitoring.store.models import Ward

    wards = dict(session.execute(select(Ward.code, Ward.id)).all())
    unknown = [code for code in codes if code not in wards]
    if unknown:
        return [], f"ward {', '.join(unknown)} does not exist; known: {', '.join(sorted(wards)) or 'none'}"
    return [wards[code] for code in codes], None


def _cmd_alerts_notify_retry(args: argparse.Namespace) -> int:
    """il2-monitor alerts notify-retry: send again every escalation whose latest notification failed
    (monitoring.services.notify); exit status 1 while any still fails, for a timer's log."""
    from monitoring.services import notify

    settings = load_settings()
    engine = _open_store(settings.database_url)
    if engine is None:
        return 2
    try:
        tried = notify.retry_failed(engine=engine, settings=settings)
    finally:
        engine.dispose()
    for attempt in tried:
        print(f"alert {attempt.alert_id}, escalation {attempt.action_id}, try {attempt.attempt}: {attempt.outcome} "
              f"({attempt.detail})")
    still = sum(a.outcome == notify.FAILED for a in tried)
    print(f"{len(tried)} failed notification{'s' * (len(tried) != 1)} tried again, {still} still failing")
    return 1 if still else 0


def _cmd_alerts_sync(args: argparse.Namespace) -> int:
    """il2-monitor alerts sync [--ward CODE]: re-evaluate a ward's patients (or every patient) and store
    the alerts, as a save does; for a schedule (cron, a systemd timer), so that time-driven findings
    (an overdue set, a stale check, a window that closes) are stored although nobody saved anything."""
    import getpass

    from sqlalchemy import select

    from monitoring.services.alerting import sync_alerts
    from monitoring.store.db import session_scope
    from monitoring.store.models import Patient

    settings = load_settings()
    engine = _open_store(settings.database_url)
    if engine is None:
        return 2
    try:
        with session_scope(engine) as session:
            patient_ids = None
            if args.ward:
                wards, unknown = _ward_ids(session, args.ward)
                if unknown:
                    print(f"il2-monitor alerts: {unknown}", file=sys.stderr)
                    return 2
                patient_ids = list(session.scalars(select(Patient.id).where(Patient.ward_id.in_(wards))).all())
            counts = sync_alerts(session=session, patient_ids=patient_ids, username=f"cli:{getpass.getuser()}")
    finally:
        engine.dispose()
    where = f"wards {', '.join(args.ward)}" if args.ward else "every ward"
    print(f"Alerts re-evaluated for {where}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
    return 0


def _print_hours(text: str) -> float:
    """--hours: the look-back of the print's observation grid, more than 0 and at most MAX_HOURS."""
    from monitoring.export.ward_print import MAX_HOURS

    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of hours such as 24") from None
    if not 0 < hours <= MAX_HOURS:
        raise argparse.ArgumentTypeError(f"'{text}' hours is not accepted: more than 0 and at most {MAX_HOURS:g}")
    return hours


def _write_whole(path: str, data: bytes) -> None:
    """Write `data` to `path` whole or not at all: a temporary file beside it, flushed to disk, then
    renamed over it (a rename within a folder is atomic), so a scheduled print never leaves half a PDF
    where the last good copy was."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".il2-print-", suffix=".pdf.tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o640)   # names and record numbers: not for every account on the machine
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _cmd_print_ward(args: argparse.Namespace) -> int:
    """il2-monitor print ward --ward CODE [--out FILE] [--hours 24]: the ward's downtime PDF (each patient
    on pages of their own), written whole or not at all, and audited as identifiable data leaving the
    system (the operating-system user named)."""
    import getpass

    from monitoring.export import ward_print
    from monitoring.store.db import read_scope, session_scope

    settings = load_settings()
    engine = _open_store(settings.database_url)
    if engine is None:
        return 2
    out = args.out or f"il2-ward-{args.ward}.pdf"
    now = datetime.now(timezone.utc)
    try:
        # Read in a snapshot (on SQLite no writer waits for the rendering); the audit row in its own write.
        with read_scope(engine) as session:
            ward_ids, unknown = _ward_ids(session, [args.ward])
            if unknown:
                print(f"il2-monitor print: {unknown}; nothing was written", file=sys.stderr)
                return 2
            printed = ward_print.ward_pdf(session=session, ward_ids=ward_ids, now=now, tz=settings.timezone,
                                          hours=args.hours)
        with session_scope(engine) as session:
            _write_whole(out, printed.data)
            ward_print.record_print(session=session, username=f"cli:{getpass.getuser()}", ward_codes=[args.ward],
                                    rendered=printed, hours=args.hours, os_user=getpass.getuser())
    finally:
        engine.dispose()
    print(f"Wrote the downtime print of ward {args.ward} ({printed.patients} patients, {printed.pages} pages, "
          f"observations of the last {args.hours:g} h) to {out}")
    return 0


def _cmd_export_key(args: argparse.Namespace) -> int:
    """il2-monitor export-key: a new random key (128 bits) for export pseudonyms."""
    from monitoring.export.deid import new_export_key

    print(new_export_key())
    return 0


def _cmd_settings(args: argparse.Namespace) -> int:
    """il2-monitor settings: the settings in force (secrets shown as set or not), the documentation
    table (--markdown) or the JSON Schema a deployment can check its environment against (--schema)."""
    import json

    from monitoring.config import Settings, settings_markdown

    if args.markdown:
        print(settings_markdown(), end="")
        return 0
    if args.schema:
        print(json.dumps(Settings.model_json_schema(by_alias=True), indent=2, default=str))
        return 0
    settings = load_settings()
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        shown = ("set (hidden)" if value else "not set") if field.validation_alias in SECRET_SETTINGS else \
            _safe_url(value) if name == "database_url" else "" if value is None else value
        print(f"{field.validation_alias}={shown}")
    return 0


def _data_file_command(args: argparse.Namespace, *, load, markdown, schema_text, summary) -> int:
    """A data file's command: its JSON Schema (--schema), its generated reference (--markdown), or the
    file (default: the one in force) checked with every rule and summed up."""
    if args.schema:
        print(schema_text(), end="")
        return 0
    loaded = load(args.file)
    print(markdown(loaded) if args.markdown else summary(loaded), end="" if args.markdown else "\n")
    return 0


def _cmd_catalogue(args: argparse.Namespace) -> int:
    """il2-monitor catalogue [FILE] [--markdown | --schema]: the codes per category of a valid file."""
    from monitoring.clinical.catalogue import CATEGORIES, load_catalogue
    from monitoring.clinical.catalogue_docs import catalogue_markdown, catalogue_schema_text

    def summary(catalogue) -> str:
        counts = ", ".join(f"{len(catalogue.codes(category))} {category}" for category in CATEGORIES)
        return f"{catalogue.path}: valid, version {catalogue.version}, {len(catalogue)} codes ({counts})"
    return _data_file_command(args, load=load_catalogue, markdown=catalogue_markdown,
                              schema_text=catalogue_schema_text, summary=summary)


def _cmd_thresholds(args: argparse.Namespace) -> int:
    """il2-monitor thresholds [FILE] [--markdown | --schema]: the sources of a valid file."""
    from monitoring.clinical.thresholds import load_thresholds
    from monitoring.clinical.thresholds_docs import schema_text, thresholds_markdown

    def summary(thresholds) -> str:
        return "\n".join([f"{thresholds.path}: valid (version {thresholds.version})"]
                         + [f"  {name}: {source.status}: {source.cite()}"
                            for name, source in thresholds.sources().items()])
    return _data_file_command(args, load=load_thresholds, markdown=thresholds_markdown, schema_text=schema_text,
                              summary=summary)
    thresholds = load_thresholds(args.file)
    if args.markdown:
        print(thresholds_markdown(thresholds), end="")
        return 0
    print(f"{thresholds.path}: valid (version {thresholds.version})")
    for name, source in thresholds.sources().items():
        print(f"  {name}: {source.status}: {source.cite()}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    """il2-monitor export: the quality export (README 'Quality exports'), audited."""
    import getpass

    from monitoring.clinical.vocabulary import REGIMENS
    from monitoring.errors import RecordError
    from monitoring.export import quality, team_key
    from monitoring.export import writers as export
    from monitoring.services import auth
    from monitoring.store.db import session_scope

    def refuse(message: str) -> int:
        print(f"il2-monitor export: {message}", file=sys.stderr)
        return 2

    from monitoring.export.deid import export_key_problems

    if args.key is not None:
        return refuse("--key would put the export key in the process list and the shell history; set "
                      "IL2_EXPORT_KEY or give it on standard input with --key-stdin")
    settings = load_settings()
    kept = settings.team_export_key()   # IL2_EXPORT_KEY or IL2_EXPORT_KEY_FILE, a secret: never printed
    key = sys.stdin.readline().strip() if args.key_stdin else (kept or "")
    if export_key_problems(key):
        return refuse(export_key_problems(key)[0] + " (set IL2_EXPORT_KEY or IL2_EXPORT_KEY_FILE, or use "
                      "--key-stdin; the same key gives the same pseudonyms in every export)")
    unknown = [r for r in args.regimen or [] if r not in REGIMENS]
    if unknown:
        return refuse(f"regimen {', '.join(unknown)} is not known; accepted: {', '.join(REGIMENS)}")
    if args.identifiable and not args.user:
        return refuse("--identifiable needs --user NAME: an active account whose role may export identifiable data")
    # The period (issue 20 item 1): whole months or quarters; a range of days only in an identifiable export.
    from monitoring.export import periods
    if (args.start is not None or args.to is not None) and args.period is not None:
        return refuse("give --period, or --from and --to (identifiable exports), not both")
    if args.start is not None or args.to is not None:
        if args.start is not None and args.to is not None and args.to <= args.start:
            return refuse("--to is before --from")
        if not args.identifiable:
            return refuse("--from and --to are for identifiable exports only (a range of days would date the "
                          "patients' events); give --period YYYY-MM, YYYY-Qn, last-month, last-quarter or all-time")
        period = periods.Period(f"{args.start or 'any time'} to {args.to or 'now'}", args.start, args.to, whole=False)
    else:
        try:
            period = periods.parse(args.period or "all-time", now=datetime.now(timezone.utc), tz=settings.timezone)
        except ValueError as exc:
            return refuse(str(exc))
    engine = _open_store(settings.database_url)
    if engine is None:
        return 2
    steps = 4
    try:
        with session_scope(engine) as session:
            ward_ids, unknown = _ward_ids(session, args.ward or [])
            if unknown:
                return refuse(unknown)
            username = f"cli:{getpass.getuser()}"
            if args.user:
                user = auth.get_user(session=session, username=args.user)
                if user is None or not user.is_active:
                    return refuse(f"no active account named '{args.user}'")
                try:
                    export.authorise(user.role, identifiable=args.identifiable)
                except auth.PermissionDenied as exc:
                    return refuse(str(exc))
                username = user.username
        if args.identifiable:
            password, refused = _read_password(username=args.user, password_stdin=args.password_stdin,
                                               purpose="an identifiable export")
            if refused:
                return refuse(refused)
            # Its own transaction: a wrong password is counted and audited even though nothing is exported.
            with session_scope(engine) as session:
                refused = _confirm_account(session, username=args.user, password=password)
            if refused:
                return refuse(refused)
        with session_scope(engine) as session:
            try:
                kept_key = team_key.team_key(session=session, key=key, generation=settings.export_key_generation,
                                             username=username)
            except RecordError as exc:
                return refuse(" ".join(exc.errors))
        if kept_key.rotation_note():
            print(f"il2-monitor export: {kept_key.rotation_note()}", file=sys.stderr)
        with session_scope(engine) as session:
            filters = quality.QualityFilter(start=period.start, end=period.end, basis=args.basis,
                                            period_label=period.label, ward_ids=ward_ids or None,
                                            regimens=args.regimen or None)
            show = not args.quiet
            if show:
                _progress(1, steps, "reading courses and observations")
            fhir_ids = None
            if args.format in export.FHIR_FORMATS:
                # FHIR exports each selected course whole: the selection is counted, no table is built.
                import pandas as pd

                fhir_ids = quality.selected_course_ids(session=session, filters=filters)
                tables = {"courses": pd.DataFrame({"course_id": fhir_ids})}
                if not args.identifiable:
                    from monitoring.export.small_cells import too_few_courses
                    if too_few_courses(tables):
                        return refuse(too_few_courses(tables) or "")
            else:
                tables = quality.export_tables(session=session, filters=filters, export_key=key,
                                               identifiable=args.identifiable)
                try:
                    tables = export.for_release(tables, identifiable=args.identifiable)
                except export.ExportError as exc:
                    return refuse(str(exc))
            if show:
                _progress(2, steps, f"writing {args.format}")
            described = filters.describe() | {"ward_codes": args.ward or None,
                                              "key_generation": kept_key.generation}
            text = (f"Period: {period.label} ({periods.BASES[args.basis].lower()}); "
                    f"wards {', '.join(args.ward) if args.ward else 'all'}; "
                    f"regimens {', '.join(args.regimen) if args.regimen else 'all'}; "
                    f"pseudonyms: {kept_key.describe(settings.timezone)}.")
            if args.format in export.FHIR_FORMATS:
                data = export.render_fhir(session=session, fmt=args.format, filters=filters, export_key=key,
                                          identifiable=args.identifiable, course_ids=fhir_ids)
            else:
                data = export.render(tables, args.format, docs=quality.COLUMN_DOCS,
                                     synthetic=quality.is_synthetic(tables), deidentified=not args.identifiable,
                                     filters_text=text,
                                     period_text=f"{period.label} ({periods.BASES[args.basis].lower()})",
                                     wards_text=", ".join(args.ward) if args.ward else None,
                                     regimens_text=", ".join(args.regimen) if args.regimen else None,
                                     key_generation=kept_key.generation)
            if show:
                _progress(3, steps, f"saving {args.output}")
            with open(args.output, "wb") as handle:
                handle.write(data)
            export.record_export(session=session, username=username, fmt=args.format, filters=described,
                                 identifiable=args.identifiable, rows=len(tables["courses"]),
                                 os_user=getpass.getuser(), confirmed=bool(args.identifiable))
            if show:
                _progress(4, steps, "recorded in the audit trail")
    except OSError as exc:
        return refuse(f"cannot write {args.output}: {exc.strerror}")
    finally:
        engine.dispose()
    kind = "IDENTIFIABLE" if args.identifiable else "de-identified"
    print(f"Wrote {kind} {args.format} export of {len(tables['courses'])} courses to {args.output}")
    return 0


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':')[0]}@{host}"
    return url


def _iso_datetime(text: str) -> datetime:
    """A time given on the command line (--end, --given-at, --from/--to): ISO 8601 with its zone, in UTC
    (a clinical time is never guessed)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time with its zone, such as 2026-12-04T14:05:00Z "
                                         "or 2026-12-04T14:05:00+00:00") from None
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time with its zone: it has no time zone; add Z or "
                                         "+01:00, as in 2026-12-04T14:05:00Z")
    return value.astimezone(timezone.utc)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("il2-monitor")
    except PackageNotFoundError:   # run from a checkout that was never installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="il2-monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"il2-monitor {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="create or upgrade the schema (DATABASE_URL)").set_defaults(
        handler=_cmd_db_upgrade)
    app_role = db_commands.add_parser("app-role", help="PostgreSQL: create or refresh the role the app connects as "
                                                       "(owns nothing; SELECT and INSERT only on the record)")
    app_role.add_argument("role", help="role name, e.g. il2_app")
    app_role.add_argument("--password-stdin", action="store_true", help="set the role's password from standard input")
    app_role.set_defaults(handler=_cmd_db_app_role)

    demo = commands.add_parser("demo", help="write the SYNTHETIC demo ward into the database")
    demo.add_argument("--patients", type=int, default=12, help="number of patients (default 12)")
    demo.add_argument("--days", type=int, default=7, help="days of data up to --end (default 7)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed: same seed, same data (default 2026)")
    demo.add_argument("--end", type=_iso_datetime, help="last hour of data, ISO 8601 (default: now)")
    demo.add_argument("--if-empty", action="store_true",
                      help="do nothing when the database holds patients or accounts (make run uses this)")
    demo.add_argument("--embedded-only", action="store_true",
                      help="do nothing unless the database is the embedded SQLite file (make run uses this: "
                           "a PostgreSQL ward database gets the demo only when asked, with make demo)")
    demo.set_defaults(handler=_cmd_demo)

    users = commands.add_parser("users", help="list and manage accounts")
    user_actions = users.add_subparsers(dest="action")
    user_actions.add_parser("list", help="list accounts (default)")
    add = user_actions.add_parser("add", help="create an account (asks for the password)")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=("nurse", "oncologist", "quality", "admin"))
    add.add_argument("--display-name")
    add.add_argument("--email", help="e-mail of the single sign-on identity mapped to this account")
    add.add_argument("--ward", action="append", help="ward code the user is assigned to (repeatable)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for name, help_text in (("disable", "disable an account"), ("enable", "enable an account"),
                            ("unlock", "lift a sign-in lock (same password)"),
                            ("reset", "set a new password and unlock")):
        action = user_actions.add_parser(name, help=help_text)
        action.add_argument("username")
        if name == "reset":
            action.add_argument("--password-stdin", action="store_true")
    users.set_defaults(handler=_cmd_users)

    dose = commands.add_parser("dose", help="record the next IL-2 dose of a patient as given, held or stopped "
                                            "(the doses page's gate: 'given' over the check needs a decision or "
                                            "an override)")
    dose.add_argument("mrn", help="the patient's record number")
    dose.add_argument("--status", choices=("given", "held", "stopped"), required=True)
    dose.add_argument("--user", required=True, help="the account recording the dose (a role that may record "
                                                    "doses, on the patient's ward; audited)")
    dose.add_argument("--password-stdin", action="store_true",
                      help="read the password of --user from standard input (asked for on a terminal)")
    dose.add_argument("--number", type=int, help="the dose number meant: refused if the next dose is another")
    dose.add_argument("--given-at", type=_iso_datetime, help="time given, ISO 8601 with its zone (default now)")
    dose.add_argument("--dose", type=float, help="amount given in the course's unit (IU): never assumed")
    dose.add_argument("--route", help="IV, SC or intralesional (default: the regimen's usual route)")
    dose.add_argument("--reason", help="reason for a held or stopped dose")
    dose.add_argument("--override-by", help="clinician who authorised giving over the check")
    dose.add_argument("--override-reason", help="why the dose is given over the check")
    dose.add_argument("--difference-confirmed", action="store_true",
                      help="the amount differs from the prescribed dose by more than the limit on purpose")
    dose.set_defaults(handler=_cmd_dose)

    patients = commands.add_parser("patients", help="import admissions with their courses from a CSV file (all or "
                                                    "nothing), or list the patients")
    patient_commands = patients.add_subparsers(dest="patients_command", required=True)
    patients_import = patient_commands.add_parser(
        "import", help="admit the file's patients and start their courses, all or nothing, with a per-row report "
                       "(columns: docs/patient-import.md)")
    patients_import.add_argument("file", help="CSV file, one patient per row, header row first")
    patients_import.add_argument("--user", required=True, help="the account importing (an oncologist for rows with "
                                                               "a course; a nurse for admissions to her wards)")
    patients_import.add_argument("--password-stdin", action="store_true",
                                 help="read the password of --user from standard input (asked for on a terminal)")
    patients_import.add_argument("--check", action="store_true", help="check every row and report; save nothing")
    patients_list = patient_commands.add_parser("list", help="patients with their place, latest course and "
                                                             "eligibility sign-off (tab-separated; audited)")
    patients_list.add_argument("--ward", action="append", help="ward code (repeatable; default every ward)")
    patients_list.add_argument("--all", action="store_true", help="also the patients who have left the service")
    patients.set_defaults(handler=_cmd_patients)

    alerts = commands.add_parser("alerts", help="stored alerts")
    alert_commands = alerts.add_subparsers(dest="alerts_command", required=True)
    sync = alert_commands.add_parser("sync", help="re-evaluate and store the alerts of a ward or of every patient "
                                                  "(for a schedule)")
    sync.add_argument("--ward", action="append", help="ward code (repeatable; default every ward)")
    sync.set_defaults(handler=_cmd_alerts_sync)
    retry = alert_commands.add_parser("notify-retry", help="send again every escalation whose notification failed "
                                                           "(for a schedule)")
    retry.set_defaults(handler=_cmd_alerts_notify_retry)
    print_cmd = commands.add_parser("print", help="printable copies for downtime")
    print_commands = print_cmd.add_subparsers(dest="print_command", required=True)
    print_ward = print_commands.add_parser(
        "ward", help="the ward's downtime PDF: per patient the banner, a NEWS2 chart of the last hours to continue "
                     "by hand, alerts, doses and a blank pre-dose check (audited; for a schedule)")
    print_ward.add_argument("--ward", required=True, help="ward code")
    print_ward.add_argument("--out", help="PDF file to write, replaced whole (default il2-ward-CODE.pdf here)")
    print_ward.add_argument("--hours", type=_print_hours, default=24.0,
                            help="hours of observation sets in the chart (default 24, at most 72)")
    print_ward.set_defaults(handler=_cmd_print_ward)
    commands.add_parser("export-key", help="print a new random export key (128 bits) for the pseudonyms; keep it "
                                           "apart from the files").set_defaults(handler=_cmd_export_key)
    settings = commands.add_parser("settings", help="the settings in force (secrets hidden), or their documentation")
    shown_as = settings.add_mutually_exclusive_group()
    shown_as.add_argument("--markdown", action="store_true", help="the table of docs/configuration.md")
    shown_as.add_argument("--schema", action="store_true", help="the JSON Schema of the settings")
    settings.set_defaults(handler=_cmd_settings)
    catalogue = commands.add_parser("catalogue", help="check a catalogue file with every rule, or print its "
                                                      "reference or JSON Schema")
    catalogue.add_argument("file", nargs="?", help="catalogue.toml to check (default: the one in force, "
                                                   "IL2_DATA_DIR or the shipped copy)")
    shown_as = catalogue.add_mutually_exclusive_group()
    shown_as.add_argument("--markdown", action="store_true", help="the reference tables of docs/catalogue.md")
    shown_as.add_argument("--schema", action="store_true", help="the JSON Schema of the file "
                                                                "(docs/schemas/catalogue.schema.json)")
    catalogue.set_defaults(handler=_cmd_catalogue)
    thresholds = commands.add_parser("thresholds", help="check a thresholds file and list its sources, or print "
                                                        "its reference or JSON Schema")
    thresholds.add_argument("file", nargs="?", help="the thresholds.toml to check (default: the one in force)")
    shown_as = thresholds.add_mutually_exclusive_group()
    shown_as.add_argument("--markdown", action="store_true", help="the reference of docs/thresholds.md")
    shown_as.add_argument("--schema", action="store_true", help="the JSON Schema of the thresholds file")
    thresholds.set_defaults(handler=_cmd_thresholds)
    export_cmd = commands.add_parser("export", help="quality export of courses (de-identified by default), audited")
    export_cmd.add_argument("--format", choices=("csv", "xlsx", "pdf", "fhir", "ndjson"), required=True,
                            help="csv (zip of tidy CSVs with a data dictionary), xlsx or pdf")
    export_cmd.add_argument("--period", help="YYYY-MM, YYYY-Qn, last-month, this-month, last-quarter, this-quarter "
                                             "or all-time (default), in the installation's time zone")
    export_cmd.add_argument("--basis", choices=("events", "course-start"), default="events",
                            help="events (default): what happened in the period; course-start: the courses that "
                                 "started in it, with all their events")
    export_cmd.add_argument("--from", dest="start", type=_export_date,
                            help="identifiable exports only: from this date/time (UTC) instead of --period")
    export_cmd.add_argument("--to", type=_export_end, help="identifiable exports only: up to this date (inclusive) "
                                                             "or before this time (UTC)")
    export_cmd.add_argument("--ward", action="append", help="ward code (repeatable; default all)")
    export_cmd.add_argument("--regimen", action="append", help="regimen code (repeatable; default all)")
    # Never on the command line (process list, shell history): IL2_EXPORT_KEY or standard input.
    export_cmd.add_argument("--key", help=argparse.SUPPRESS)
    export_cmd.add_argument("--key-stdin", action="store_true",
                            help="read the export key from the first line of standard input (default: IL2_EXPORT_KEY; "
                                 "with --password-stdin the password is the second line)")
    export_cmd.add_argument("--password-stdin", action="store_true",
                            help="read the password of --user from standard input (needed with --identifiable)")
    export_cmd.add_argument("--identifiable", action="store_true",
                            help="include names, record numbers and dates (needs --user with permission)")
    export_cmd.add_argument("--user", help="account the export is made for (audited; default cli:<os user>)")
    export_cmd.add_argument("--output", "-o", required=True, help="file to write")
    export_cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    export_cmd.set_defaults(handler=_cmd_export)

    def engine_command(name: str, help_text: str, handler) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("file", help="input CSV")
        command.add_argument("-o", "--output", help="write to FILE instead of standard output")
        command.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default csv)")
        command.set_defaults(handler=handler)
        return command

    engine_command("score", "NEWS2, qSOFA and SIRS for each observation set (one row per set)", _cmd_score)
    engine_command("grade", "CTCAE v5.0 grade for each result (long format)", _cmd_grade)
    evaluate = engine_command("evaluate", "alerts from observations (long format) and IL-2 doses", _cmd_evaluate)
    evaluate.add_argument("--doses", help="CSV of IL-2 doses: patient_id, time, status (given, held, stopped)")
    evaluate.add_argument("--courses", help="CSV of courses: patient_id, regimen, dose_interval_hours, "
                          "after_lymphodepletion, neutropenia_expected, baseline_weight_kg, "
                                            "baseline_creatinine_mg_dl, usual_sbp_mm_hg")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "demo" and (args.patients < 1 or args.days < 1):
        parser.error("--patients and --days must be at least 1")
    from monitoring.clinical.catalogue import CatalogueError
    from monitoring.clinical.thresholds import ThresholdsError
    from monitoring.errors import InputError

    try:
        return args.handler(args)
    except (SettingsError, InputError, ThresholdsError, CatalogueError) as exc:
        print(f"il2-monitor: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # an output file that cannot be written (-o in a missing or read-only folder)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"il2-monitor: cannot write{where}: {exc.strerror or exc}; nothing was written", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
