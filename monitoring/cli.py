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
    finally:
        engine.dispose()
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    print(f"SYNTHETIC demo ward written (seed {args.seed}, {args.days} days to {end:%Y-%m-%d %H:%M} UTC): {summary}")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "demo" and (args.patients < 1 or args.days < 1):
        parser.error("--patients and --days must be at least 1")
    try:
        return args.handler(args)
    except SettingsError as exc:
        print(f"il2-monitor: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
