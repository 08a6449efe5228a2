"""il2-monitor: the command line (also `python -m monitoring`).

Exit codes: 0 success, 1 failure while running, 2 bad input or usage (named in the message).
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from monitoring.config import SettingsError, load_settings


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from monitoring.db import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    print(f"Database is at the latest schema: {_safe_url(settings.database_url)}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from monitoring import demo
    from monitoring.alerting import sync_alerts
    from monitoring.db import make_engine, session_scope, upgrade
    from monitoring.models import Patient

    settings = load_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            existing = session.scalar(select(func.count()).select_from(Patient))
        if existing and args.if_empty:
            print(f"Database already holds {existing} patients; demo ward not added.")
            return 0
        end = (args.end or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
        ward = demo.generate_ward(patients=args.patients, days=args.days, seed=args.seed, end=end)
        with session_scope(engine) as session:
            counts = demo.write_ward(session=session, ward=ward)
        with session_scope(engine) as session:
            counts["alerts"] = sync_alerts(session=session, username="demo-generator")["new"]
    finally:
        engine.dispose()
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    print(f"SYNTHETIC demo ward written (seed {args.seed}, {args.days} days to {end:%Y-%m-%d %H:%M} UTC): {summary}")
    return 0


def _read_csv(path: str) -> "pd.DataFrame":
    """Read a CSV as text: empty cells are missing (never zero), every other value is parsed by the engine."""
    import pandas as pd

    from monitoring.errors import InputError

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError([(None, None, f"file not found: {path}")]) from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError([(None, None, f"{path} is not a readable UTF-8 CSV file: {exc}")]) from None


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
        out.to_csv(target, index=False, lineterminator="\n")


def _cmd_score(args: argparse.Namespace) -> int:
    from monitoring.scores import score_frame

    _write(score_frame(_read_csv(args.file)), args)
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from monitoring.ctcae import grade_frame

    _write(grade_frame(_read_csv(args.file)), args)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from monitoring.engine import evaluate

    observations = _read_csv(args.file)
    doses = _read_csv(args.doses) if args.doses else None
    courses = _read_csv(args.courses) if args.courses else None
    if courses is not None:
        import pandas as pd

        for column in ("baseline_weight_kg", "baseline_creatinine_mg_dl", "usual_sbp_mm_hg"):
            if column in courses:
                courses[column] = pd.to_numeric(courses[column], errors="coerce")
    _write(evaluate(observations, doses, courses=courses), args)
    return 0


def _safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':')[0]}@{host}"
    return url


def _iso_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO 8601 time such as 2026-11-27T08:00:00Z") from None
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"'{text}' has no time zone; add Z or +01:00")
    return value.astimezone(timezone.utc)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="il2-monitor", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="create or upgrade the schema (DATABASE_URL)").set_defaults(
        handler=_cmd_db_upgrade)

    demo = commands.add_parser("demo", help="write the SYNTHETIC demo ward into the database")
    demo.add_argument("--patients", type=int, default=12, help="number of patients (default 12)")
    demo.add_argument("--days", type=int, default=7, help="days of data up to --end (default 7)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed: same seed, same data (default 2026)")
    demo.add_argument("--end", type=_iso_datetime, help="last hour of data, ISO 8601 (default: now)")
    demo.add_argument("--if-empty", action="store_true", help="do nothing when the database holds patients")
    demo.set_defaults(handler=_cmd_demo)

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
    evaluate.add_argument("--courses", help="CSV of course baselines: patient_id, baseline_weight_kg, "
                                            "baseline_creatinine_mg_dl, usual_sbp_mm_hg")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "demo" and (args.patients < 1 or args.days < 1):
        parser.error("--patients and --days must be at least 1")
    from monitoring.errors import InputError
    from monitoring.thresholds import ThresholdsError

    try:
        return args.handler(args)
    except (SettingsError, InputError, ThresholdsError) as exc:
        print(f"il2-monitor: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
