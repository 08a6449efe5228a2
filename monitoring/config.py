"""Settings read once from the environment and validated in one place.

Every setting is declared in SETTINGS with its default and help text; README lists them all
(a test checks that), so operators never have to read code to configure a ward.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[1]
# A checkout (make run, make test) keeps its database and data in the project; an installed wheel
# keeps the database in the user's data folder and reads the packaged catalogue and thresholds.
IN_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file()
DATA_PACKAGE = "il2_monitor_data"
DATABASE_FILE = "il2_monitor.db"


def packaged_data_dir() -> Path:
    """The folder of the shipped catalogue.toml and thresholds.toml (data/ in a checkout)."""
    from importlib.resources import files

    return Path(str(files(DATA_PACKAGE)))


def data_file(name: str, environ: dict[str, str] | None = None) -> Path:
    """catalogue.toml or thresholds.toml: in IL2_DATA_DIR when set (a relative folder is taken from the
    project in a checkout, from the working directory otherwise), else the shipped copy."""
    env = os.environ if environ is None else environ
    folder = env.get("IL2_DATA_DIR")
    if not folder:
        return packaged_data_dir() / name
    directory = Path(folder)
    if not directory.is_absolute():
        directory = (REPO_ROOT if IN_CHECKOUT else Path.cwd()) / directory
    return directory / name


def default_database_url(environ: dict[str, str] | None = None) -> str:
    """data/il2_monitor.db in a checkout; else the user's data folder ($XDG_DATA_HOME or
    ~/.local/share, then il2-monitor/), never inside the installed package."""
    if IN_CHECKOUT:
        return f"sqlite:///{REPO_ROOT / 'data' / DATABASE_FILE}"
    env = os.environ if environ is None else environ
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'il2-monitor' / DATABASE_FILE}"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "sqlite:///data/il2_monitor.db",
            "Database to use. SQLite (default, one ward server) or PostgreSQL "
            "(postgres://, postgresql:// or postgresql+psycopg:// URLs). Relative SQLite paths are "
            "resolved against the project directory (the working directory when installed from a wheel, "
            "whose default is ~/.local/share/il2-monitor/il2_monitor.db)."),
    Setting("IL2_TIMEZONE", "Europe/London",
            "IANA time zone used to display times on the ward (storage is always UTC)."),
    Setting("IL2_DATA_DIR", "",
            "Folder holding a hospital's own catalogue.toml and thresholds.toml (relative to the project "
            "directory in a checkout). Unset: the copies shipped with the monitor (data/ in a checkout)."),
    Setting("IL2_SESSION_TIMEOUT_MINUTES", "30", "A dashboard session idle this long is signed out."),
    Setting("IL2_LOCKOUT_ATTEMPTS", "5", "Failed sign-ins in a row that lock an account."),
    Setting("IL2_LOCKOUT_MINUTES", "15", "How long a locked account stays locked."),
    Setting("IL2_SMALL_CELL", "5",
            "De-identified reports: counts of courses below this are shown as '<5', a course's ward and cycle "
            "are withheld when fewer courses share them, and a selection of fewer courses is not reported "
            "(issue 16 item 6; a whole number, at least 2)."),
    Setting("IL2_EXPORT_KEY", "",
            "Secret key for the pseudonyms of `il2-monitor export` (the same key gives the same pseudonyms "
            "in every export; keep it out of the exports and out of version control). Read by the CLI only; "
            "the Reports page asks for one or makes one per session."),
)


def number_setting(name: str, environ: dict[str, str] | None = None) -> float:
    """A numeric setting (positive), from the environment or its declared default."""
    raw = _value(name, dict(os.environ if environ is None else environ))
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} '{raw}' is not a number.") from None
    if value <= 0:
        raise SettingsError(f"{name} {raw} must be above zero.")
    return value


class SettingsError(ValueError):
    """A setting has a value the monitor cannot use; the message names the setting."""


def normalise_database_url(url: str) -> str:
    """Accept URLs as operations write them and pick the psycopg 3 driver for PostgreSQL."""
    url = url.strip()
    if not url:
        raise SettingsError("DATABASE_URL is empty; leave it unset for the embedded SQLite database.")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url[len("sqlite:///"):]
        if relative and relative != ":memory:":
            base = REPO_ROOT if IN_CHECKOUT else Path.cwd()
            return "sqlite:///" + str((base / relative).resolve())
    if url.startswith(("sqlite:", "postgresql+psycopg://")):
        return url
    raise SettingsError(
        f"DATABASE_URL {url.split('://')[0]}://... is not supported; use sqlite:///path/to/file.db "
        "or postgresql://user@host:5432/dbname."
    )


@dataclass(frozen=True)
class Settings:
    database_url: str
    timezone: ZoneInfo


def _value(name: str, environ: dict[str, str]) -> str:
    if name == "DATABASE_URL" and not environ.get(name):
        return default_database_url(environ)
    default = next(s.default for s in SETTINGS if s.name == name)
    return environ.get(name) or default


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError naming the first bad one."""
    env = dict(os.environ if environ is None else environ)
    tz_name = _value("IL2_TIMEZONE", env)
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"IL2_TIMEZONE '{tz_name}' is not an IANA time zone such as Europe/London.") from None
    return Settings(database_url=normalise_database_url(_value("DATABASE_URL", env)), timezone=timezone)
