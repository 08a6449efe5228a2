"""Settings read once from the environment and validated in one place (pydantic-settings).

Every setting is a field of `Settings` with its environment name, default, limits and help text;
docs/configuration.md's table is generated from them (`il2-monitor settings --markdown`; a test checks
it is current), so operators never have to read code to configure a ward.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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


def data_file(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """catalogue.toml or thresholds.toml: in the IL2_DATA_DIR folder when set (Settings.data_dir), else
    the shipped copy."""
    folder = load_settings(environ).data_dir
    return (folder or packaged_data_dir()) / name


def default_database_url(environ: dict[str, str] | None = None) -> str:
    """data/il2_monitor.db in a checkout; else the user's data folder ($XDG_DATA_HOME or
    ~/.local/share, then il2-monitor/), never inside the installed package."""
    if IN_CHECKOUT:
        return f"sqlite:///{REPO_ROOT / 'data' / DATABASE_FILE}"
    env = os.environ if environ is None else environ
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'il2-monitor' / DATABASE_FILE}"


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


class Settings(BaseSettings):
    """The monitor's settings. `load_settings()` reads them from the environment (or a mapping)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", arbitrary_types_allowed=True,
                                      populate_by_name=False)

    database_url: str = Field(
        "", validation_alias="DATABASE_URL", json_schema_extra={"shown_default": "sqlite:///data/il2_monitor.db"},
        description="The database. SQLite (one ward server) or PostgreSQL: `postgres://`, `postgresql://` and "
                    "`postgresql+psycopg://` URLs are accepted. Relative SQLite paths are resolved against the "
                    "project directory. Installed from a wheel (outside a checkout), the default is "
                    "`~/.local/share/il2-monitor/il2_monitor.db` (`$XDG_DATA_HOME`) and relative paths are taken "
                    "from the working directory.")
    timezone: ZoneInfo = Field(
        ZoneInfo("Europe/London"), validation_alias="IL2_TIMEZONE",
        json_schema_extra={"shown_default": "Europe/London"},
        description="IANA time zone for displaying times, the same for every ward. Storage is always UTC.")
    data_dir: Path | None = Field(
        None, validation_alias="IL2_DATA_DIR",
        description="Folder with a hospital's own `catalogue.toml` and `thresholds.toml` (relative to the project "
                    "in a checkout). Unset: the copies shipped with the monitor, `data/` in a checkout and the "
                    "package `il2_monitor_data` when installed from a wheel.")
    session_timeout_minutes: float = Field(
        30, gt=0, validation_alias="IL2_SESSION_TIMEOUT_MINUTES",
        description="A session idle this long is signed out.")
    lockout_attempts: int = Field(
        5, ge=1, validation_alias="IL2_LOCKOUT_ATTEMPTS",
        description="Failed sign-ins in a row that lock an account.")
    lockout_minutes: float = Field(
        15, gt=0, validation_alias="IL2_LOCKOUT_MINUTES",
        description="How long the lock lasts (an admin's Unlock or password reset lifts it).")
    small_cell: int = Field(
        5, ge=2, validation_alias="IL2_SMALL_CELL",
        description="De-identified reports describe at least this many courses; counts below it show as \"<5\", a "
                    "course's ward and cycle are withheld when fewer courses share them (see docs/security.md).")
    export_key: SecretStr | None = Field(
        None, validation_alias="IL2_EXPORT_KEY",
        description="The quality team's kept key for export pseudonyms (same key, same pseudonyms in every month's "
                    "export, on the Reports page and from `il2-monitor export`); at least 32 random characters "
                    "(128 bits; `il2-monitor export-key` makes one); never typed into a page, never written into an "
                    "export, never shown. Or IL2_EXPORT_KEY_FILE; without either, each Reports session uses a "
                    "one-off key whose pseudonyms match no other export.")
    export_key_file: Path | None = Field(
        None, validation_alias="IL2_EXPORT_KEY_FILE",
        description="A file holding the export key (its first line), readable by the service's user only: the "
                    "secrets-file form of IL2_EXPORT_KEY (give one of the two).")
    export_key_generation: int = Field(
        1, ge=1, validation_alias="IL2_EXPORT_KEY_GENERATION",
        description="The generation number of the export key. A new key (rotation) takes the next number: it starts "
                    "a new pseudonym space, and every export names the generation it used. A key changed under the "
                    "same number is refused (monitoring/export/team_key.py).")

    notifier: Literal["none", "smtp", "webhook"] = Field(
        "none", validation_alias="IL2_NOTIFIER",
        description="How an escalated alert reaches the person or role it names: `smtp` (e-mail), `webhook` (a JSON "
                    "POST to a hospital's paging or messaging gateway) or `none` (the escalation is stored and shown, "
                    "nobody is told: the inbox says so). A failed notification never loses the escalation.")
    smtp_host: str = Field("", validation_alias="IL2_SMTP_HOST", description="SMTP server (notifier `smtp`).")
    smtp_port: int = Field(25, ge=1, le=65535, validation_alias="IL2_SMTP_PORT", description="SMTP port.")
    smtp_from: str = Field("", validation_alias="IL2_SMTP_FROM",
                           description="The sender address of the e-mails (notifier `smtp`).")
    smtp_starttls: bool = Field(False, validation_alias="IL2_SMTP_STARTTLS",
                                description="Upgrade the SMTP connection with STARTTLS before signing in.")
    smtp_user: str = Field("", validation_alias="IL2_SMTP_USER",
                           description="SMTP user name, when the server asks for one.")
    smtp_password: SecretStr | None = Field(None, validation_alias="IL2_SMTP_PASSWORD",
                                            description="SMTP password (secret: never shown).")
    webhook_url: str = Field("", validation_alias="IL2_WEBHOOK_URL",
                             description="The gateway that receives a JSON POST per escalation (notifier `webhook`); "
                                         "http or https.")
    webhook_token: SecretStr | None = Field(None, validation_alias="IL2_WEBHOOK_TOKEN",
                                            description="Bearer token sent to the webhook (secret: never shown).")
    role_addresses: dict[str, str] = Field(
        {}, validation_alias="IL2_ROLE_ADDRESSES",
        description="E-mail address of each role's on-call list, as JSON (`{\"oncologist\": "
                    "\"onc-oncall@hospital.example\"}`). A role without one is sent to the active accounts of "
                    "that role that have an e-mail address.")
    notify_timeout_s: float = Field(10, gt=0, le=120, validation_alias="IL2_NOTIFY_TIMEOUT_S",
                                    description="How long a notification waits for the server before it is "
                                                "recorded as failed (seconds).")

    alert_refresh_seconds: float = Field(
        30, ge=2, le=300, validation_alias="IL2_ALERT_REFRESH_SECONDS",
        description="How often the open-alerts bar of every clinical page looks for new emergencies and "
                    "escalations (seconds): a new one is shown as a toast on whatever page is open.")
    ward_refresh_seconds: float = Field(
        30, ge=2, le=300, validation_alias="IL2_WARD_REFRESH_SECONDS",
        description="How often the ward overview reads its patients again without a page reload (seconds).")

    @field_validator("role_addresses", mode="before")
    @classmethod
    def _role_addresses(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            found = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError('is not JSON such as {"oncologist": "onc-oncall@hospital.example"}') from None
        if not isinstance(found, dict) or not all(isinstance(v, str) and "@" in v for v in found.values()):
            raise ValueError("must map each role to one e-mail address, as "
                             '{"oncologist": "onc-oncall@hospital.example"}')
        return found

    @model_validator(mode="after")
    def _notifier_configured(self) -> Settings:
        if self.notifier == "smtp" and not (self.smtp_host and self.smtp_from):
            raise ValueError("IL2_NOTIFIER smtp needs IL2_SMTP_HOST and IL2_SMTP_FROM")
        if self.notifier == "webhook" and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("IL2_NOTIFIER webhook needs IL2_WEBHOOK_URL, an http:// or https:// address")
        if self.smtp_user and not self.smtp_starttls:
            raise ValueError("IL2_SMTP_USER needs IL2_SMTP_STARTTLS=true: the password is never sent unencrypted")
        token = self.webhook_token.get_secret_value() if self.webhook_token else ""
        if token and (token != token.strip() or any(c in token for c in "\r\n")):
            raise ValueError("IL2_WEBHOOK_TOKEN may not hold spaces or line breaks")
        local = self.webhook_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))
        if token and not (self.webhook_url.startswith("https://") or local):
            raise ValueError("IL2_WEBHOOK_TOKEN is sent only over https (IL2_WEBHOOK_URL), or to a gateway on "
                             "this machine")
        return self

    @model_validator(mode="after")
    def _export_key(self) -> Settings:
        if self.export_key is not None and self.export_key_file is not None:
            raise ValueError("IL2_EXPORT_KEY and IL2_EXPORT_KEY_FILE are both set: give the export key one way")
        key = self.team_export_key()
        if key is not None:
            from monitoring.pseudonyms import export_key_problems

            problems = export_key_problems(key)
            if problems:
                source = "IL2_EXPORT_KEY_FILE's key" if self.export_key_file is not None else "IL2_EXPORT_KEY"
                raise ValueError(f"{source}: {problems[0]}")
        return self

    def team_export_key(self) -> str | None:
        """The export key from IL2_EXPORT_KEY or the first line of IL2_EXPORT_KEY_FILE (None: neither set)."""
        if self.export_key is not None:
            return self.export_key.get_secret_value().strip()
        if self.export_key_file is None:
            return None
        try:
            lines = self.export_key_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"IL2_EXPORT_KEY_FILE {str(self.export_key_file)!r}: cannot be read "
                             f"({exc.__class__.__name__})") from None
        return lines[0].strip() if lines else ""

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # One source: the mapping load_settings hands over (the process environment unless a test gives one),
        # so what a test passes is exactly what is read.
        return (init_settings,)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path | None) -> Path | None:
        # A relative folder is taken from the project in a checkout, from the working directory otherwise.
        if value is None or value.is_absolute():
            return value
        return (REPO_ROOT if IN_CHECKOUT else Path.cwd()) / value

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> ZoneInfo:
        if isinstance(value, ZoneInfo):
            return value
        try:
            return ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone such as Europe/London") from None


SECRET_SETTINGS = ("IL2_EXPORT_KEY", "IL2_SMTP_PASSWORD", "IL2_WEBHOOK_TOKEN")


def setting_names() -> dict[str, str]:
    """Field name -> environment name, in declaration order."""
    return {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise SettingsError naming each bad one, its value and what is
    accepted. An empty variable counts as unset."""
    env = os.environ if environ is None else environ
    given: dict[str, Any] = {alias: env[alias] for alias in setting_names().values() if env.get(alias, "").strip()}
    given.setdefault("DATABASE_URL", default_database_url(dict(env)))
    try:
        return Settings(**given)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            message = item["msg"].removeprefix("Value error, ").rstrip(".")
            if not item["loc"]:   # a rule across settings names them itself
                problems.append(f"{message}.")
                continue
            name = str(item["loc"][0])
            shown = "(secret)" if name in SECRET_SETTINGS else repr(item.get("input"))
            problems.append(f"{name} {shown}: {message}.")
        raise SettingsError(" ".join(problems)) from None


def settings_markdown() -> str:
    """The table of docs/configuration.md, generated from Settings (a test checks the file is current)."""
    rows = ["| Setting | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        default = extra.get("shown_default", field.default)
        shown = "none" if default in ("", None) else f"`{default}`"
        limits = [f"{'above' if hasattr(m, 'gt') else 'at least'} {getattr(m, 'gt', getattr(m, 'ge', None))}"
                  for m in field.metadata if hasattr(m, "gt") or hasattr(m, "ge")]
        meaning = str(field.description) + (f" Must be {' and '.join(limits)}." if limits else "")
        rows.append(f"| `{field.validation_alias}` | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"
