"""The thresholds file: every clinical number the rules use, each section with its source.

data/thresholds.toml holds one table per rule or score. Each table has a `source` table naming the
document, its version, the table or section, and a `status` (verified, secondary, from-memory,
local-choice) taken from docs/clinical.md (a copy of the research note the rules were written from).
A hospital reviews and changes numbers there without touching code. The modules that use a section
parse it into a typed object at start;
any problem raises ThresholdsError naming the key, so an invalid file is refused before use.
"""
from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitoring.config import REPO_ROOT

SOURCE_STATUSES = ("verified", "secondary", "from-memory", "local-choice")


class ThresholdsError(ValueError):
    """The thresholds file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Source:
    document: str
    version: str
    table: str
    status: str

    def cite(self) -> str:
        """Short citation for evidence and `standard` columns."""
        return f"{self.document} ({self.version}), {self.table}"


class Section:
    """One table of the thresholds file, with typed accessors whose errors name the full key."""

    def __init__(self, name: str, data: dict[str, Any], path: str):
        self.name, self._data, self._path = name, data, path

    def key(self, *parts: str) -> str:
        return ".".join((self.name, *parts))

    def fail(self, message: str, *parts: str) -> ThresholdsError:
        return ThresholdsError(f"{self._path}: {self.key(*parts)}: {message}")

    def raw(self, *parts: str) -> Any:
        node: Any = self._data
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise self.fail("missing", *parts[: i + 1])
            node = node[part]
        return node

    def has(self, *parts: str) -> bool:
        try:
            self.raw(*parts)
            return True
        except ThresholdsError:
            return False

    def number(self, *parts: str, low: float | None = None, high: float | None = None) -> float:
        value = self.raw(*parts)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"expected a number, found {value!r}", *parts)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(f"{value} is outside {low}..{high}", *parts)
        return float(value)

    def integer(self, *parts: str, low: int | None = None) -> int:
        value = self.raw(*parts)
        if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
            raise self.fail(f"expected a whole number{'' if low is None else f' >= {low}'}, found {value!r}",
                            *parts)
        return value

    def numbers(self, *parts: str, increasing: bool | None = None, length: int | None = None) -> list[float]:
        values = self.raw(*parts)
        if not isinstance(values, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise self.fail(f"expected a list of numbers, found {values!r}", *parts)
        if length is not None and len(values) != length:
            raise self.fail(f"expected {length} numbers, found {len(values)}", *parts)
        pairs = list(zip(values, values[1:]))
        if increasing is True and not all(a < b for a, b in pairs):
            raise self.fail(f"numbers must increase strictly: {values}", *parts)
        if increasing is False and not all(a > b for a, b in pairs):
            raise self.fail(f"numbers must decrease strictly: {values}", *parts)
        return [float(v) for v in values]

    def text(self, *parts: str, choices: tuple[str, ...] | None = None) -> str:
        value = self.raw(*parts)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"expected text, found {value!r}", *parts)
        if choices is not None and value not in choices:
            raise self.fail(f"'{value}' is not one of {', '.join(choices)}", *parts)
        return value

    def flag(self, *parts: str) -> bool:
        value = self.raw(*parts)
        if not isinstance(value, bool):
            raise self.fail(f"expected true or false, found {value!r}", *parts)
        return value

    def sub(self, *parts: str) -> Section:
        value = self.raw(*parts)
        if not isinstance(value, dict):
            raise self.fail("expected a table", *parts)
        return Section(self.key(*parts), value, self._path)

    def keys(self) -> list[str]:
        return list(self._data)

    @property
    def source(self) -> Source:
        src = self.sub("source")
        return Source(document=src.text("document"), version=src.text("version"), table=src.text("table"),
                      status=src.text("status", choices=SOURCE_STATUSES))


# Parsers register here (module name -> function) so that loading validates every section at once.
_PARSERS: dict[str, Callable[[Section], Any]] = {}


def parser(section_name: str) -> Callable[[Callable[[Section], Any]], Callable[[Section], Any]]:
    """Register the function that turns one section into the typed object its rule uses."""
    def register(function: Callable[[Section], Any]) -> Callable[[Section], Any]:
        _PARSERS[section_name] = function
        return function
    return register


class Thresholds:
    """The parsed thresholds file: `thresholds["news2"]` is whatever the news2 parser returned."""

    def __init__(self, parsed: dict[str, Any], raw: dict[str, Any], path: Path):
        self._parsed, self.raw, self.path = parsed, raw, path
        self.version = str(raw.get("meta", {}).get("version", "unversioned"))

    def __getitem__(self, name: str) -> Any:
        return self._parsed[name]

    def sources(self) -> dict[str, Source]:
        """Every section's source, for the settings page and the README."""
        return {name: Section(name, self.raw[name], str(self.path)).source for name in self._parsed}


def default_path() -> Path:
    """The shipped thresholds.toml (data/ in a checkout), or the one in IL2_DATA_DIR (config.data_file)."""
    from monitoring.config import data_file

    return data_file("thresholds.toml")


def _read(path: Path | str | None) -> tuple[dict[str, Any], str, Path]:
    """The raw tables of a thresholds file, the name messages show it by, and its path."""
    path = Path(path) if path is not None else default_path()
    shown = str(path.relative_to(REPO_ROOT)) if path.is_absolute() and path.is_relative_to(REPO_ROOT) else str(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), shown, path
    except FileNotFoundError:
        raise ThresholdsError(f"{shown}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdsError(f"{shown}: not valid TOML: {exc}") from None


def _parse(raw: dict[str, Any], shown: str, names) -> dict[str, Any]:
    parsed = {}
    for name in names:
        if name not in raw:
            raise ThresholdsError(f"{shown}: {name}: section missing")
        section = Section(name, raw[name], shown)
        _ = section.source  # every section must cite its source
        parsed[name] = _PARSERS[name](section)
    return parsed


def load_thresholds(path: Path | str | None = None) -> Thresholds:
    """Read and validate the whole file; raise ThresholdsError naming the first bad key."""
    _import_rule_modules()
    raw, shown, path = _read(path)
    parsed = _parse(raw, shown, _PARSERS)
    unknown = sorted(set(raw) - set(_PARSERS) - {"meta"})
    if unknown:
        raise ThresholdsError(f"{shown}: {unknown[0]}: unknown section (known: {', '.join(sorted(_PARSERS))})")
    return Thresholds(parsed, raw, path)


def load_sections(names: Sequence[str], path: Path | str | None = None) -> Thresholds:
    """Only some sections of a thresholds file, for tools, tests and benchmarks that need no other rule
    (the application loads and validates the whole file with load_thresholds)."""
    _import_rule_modules()
    raw, shown, path = _read(path)
    parsed = _parse(raw, shown, names)
    return Thresholds(parsed, {"meta": raw.get("meta", {}), **{n: raw[n] for n in names}}, path)


@functools.cache
def default_thresholds() -> Thresholds:
    return load_thresholds()


def _import_rule_modules() -> None:
    """Import every module that registers a parser (they register on import)."""
    import importlib

    for module in RULE_MODULES:
        importlib.import_module(module)


# Modules that own a section of the thresholds file; each calls @parser("<section>") on import.
RULE_MODULES: list[str] = [
    "monitoring.clinical.scores",
    "monitoring.clinical.rules",
    "monitoring.clinical.ctcae",
    "monitoring.clinical.toxicity",
    "monitoring.clinical.prescription",
    "monitoring.clinical.observation_schedule",
]
