"""The thresholds file: every clinical number the rules use, each section with its source.

data/thresholds.toml holds one table per rule or score. Each table has a `source` table naming the
document, its version, the table or section, and a `status` (verified, secondary, from-memory,
local-choice) taken from docs/clinical.md (a copy of the research note the rules were written from).
A hospital reviews and changes numbers there without touching code.

Each section is a pydantic model, declared (and registered with @section) by the module that uses
it: its keys, their types, accepted ranges and descriptions, and the checks across keys. The same
models give the JSON Schema a hospital validates its edited file against and the reference
docs/thresholds.md (monitoring.clinical.thresholds_docs). Any problem raises ThresholdsError naming
the file, the full key, the value found and what is accepted, so an invalid file is refused before use.
"""
from __future__ import annotations

import functools
import importlib
import tomllib
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypeVar, Union, get_args, get_origin, get_type_hints

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from monitoring.config import REPO_ROOT

SourceStatus = Literal["verified", "secondary", "from-memory", "local-choice"]
SOURCE_STATUSES: tuple[str, ...] = get_args(SourceStatus)
#: Problems listed in one ThresholdsError; the rest are counted.
MAX_PROBLEMS_SHOWN = 20


class ThresholdsError(ValueError):
    """The thresholds file cannot be used; the message names the file and the key."""


class Refused(ValueError):
    """A check across keys failed, raised by a model validator; `key` (relative to the table, dotted)
    is the key the message is about, None for the table itself."""

    def __init__(self, key: str | None, message: str):
        super().__init__(message)
        self.key = key


class ThresholdsModel(BaseModel):
    """Every table of the file: frozen, unknown keys refused, no type coercion ("100" is not a
    number, 2.5 is not a whole number), no infinity or NaN."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


def _monotone(increasing: bool) -> Callable[[list[float]], list[float]]:
    word = "increase" if increasing else "decrease"
    rule = "increasing strictly" if increasing else "decreasing strictly"

    def check(values: list[float]) -> list[float]:
        pairs = list(zip(values, values[1:]))
        if not all(a < b if increasing else a > b for a, b in pairs):
            raise ValueError(f"numbers must {word} strictly: {values}")
        return values

    check.rule = rule  # type: ignore[attr-defined]  # shown as accepted (thresholds_docs)
    return check


Text = Annotated[str, Field(pattern=r"\S")]
Increasing = Annotated[list[float], AfterValidator(_monotone(True))]
Decreasing = Annotated[list[float], AfterValidator(_monotone(False))]


class Source(ThresholdsModel):
    """Where a table's numbers come from, and how far they were checked (docs/clinical.md)."""

    document: Text = Field(description="The document the numbers are taken from")
    version: Text = Field(description="Its version or date")
    table: Text = Field(description="The table or section of it")
    status: SourceStatus = Field(description="verified, secondary, from-memory or local-choice")

    def cite(self) -> str:
        """Short citation for evidence and `standard` columns."""
        return f"{self.document} ({self.version}), {self.table}"


class SectionModel(ThresholdsModel):
    """A table with its own source."""

    source: Source = Field(description="Where the numbers of this table come from")


class Meta(ThresholdsModel):
    version: Text = Field("unversioned", description="Version of the file, shown with the thresholds in force")
    note: Text | None = Field(None, description="Free text about the file")


# Models register here (section name -> model) so that loading validates every section at once.
SECTIONS: dict[str, type[SectionModel]] = {}
ModelType = TypeVar("ModelType", bound=type[SectionModel])


def section(name: str) -> Callable[[ModelType], ModelType]:
    """Register the model of one section of the file (the module that uses it, on import)."""
    def register(model: ModelType) -> ModelType:
        SECTIONS[name] = model
        return model
    return register


@functools.cache
def file_model() -> type[ThresholdsModel]:
    """One model for the whole file, meta and every section: the root of the JSON Schema."""
    _import_rule_modules()
    sections: dict[str, Any] = {name: (SECTIONS[name], ...) for name in sorted(SECTIONS)}  # not import order
    meta = (Meta, Field(Meta.model_validate({}), description="The file's version and a note"))
    return create_model("ThresholdsFile", __base__=ThresholdsModel, __doc__=__doc__, meta=meta, **sections)


# --- error messages -----------------------------------------------------------------------------------

def _unwrap(annotation: Any, metadata: Sequence[Any] = ()) -> tuple[Any, list[Any]]:
    """The type without Annotated (its constraints added to metadata) and without `| None`."""
    metadata = list(metadata)
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            for item in extra:  # Field(...) inside Annotated holds its constraints in .metadata
                metadata += item.metadata if isinstance(item, FieldInfo) else [item]
        elif get_origin(annotation) in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation, metadata


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


class Declared(NamedTuple):
    """What the models declare for one key: its type, constraints and description (None: undeclared)."""

    annotation: Any
    metadata: list[Any]
    description: str | None = None


def declared(model: type[BaseModel], loc: Sequence[str | int]) -> Declared:
    """What is declared for the key at `loc`, through tables, tables of named rows and lists."""
    here = Declared(*_unwrap(model))
    for part in loc:
        annotation = here.annotation
        if _is_model(annotation):
            fields = {field.alias or name: field for name, field in annotation.model_fields.items()}
            if part in fields:
                field = fields[part]
                here = Declared(*_unwrap(field.annotation, field.metadata), field.description)
                continue
            annotation, part = get_type_hints(annotation).get("__pydantic_extra__"), "row"  # named rows
        if get_origin(annotation) is dict:
            here = Declared(*_unwrap(get_args(annotation)[0 if part == "[key]" else 1]))
        elif get_origin(annotation) in (list, tuple) and isinstance(part, int):
            here = Declared(*_unwrap(get_args(annotation)[0]))
        else:
            return Declared(None, [])
    return here


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _limits(metadata: Sequence[Any]) -> dict[str, Any]:
    names = ("ge", "gt", "le", "lt", "min_length", "max_length")
    return {name: getattr(m, name) for m in metadata for name in names if getattr(m, name, None) is not None}


def _range_text(limits: dict[str, Any]) -> str:
    """' from 0 to 100', ' at least 1', ' more than 0 and at most 24', or ''."""
    if "ge" in limits and "le" in limits:
        return f" from {_number(limits['ge'])} to {_number(limits['le'])}"
    low = (f"at least {_number(limits['ge'])}" if "ge" in limits
           else f"more than {_number(limits['gt'])}" if "gt" in limits else "")
    high = (f"at most {_number(limits['le'])}" if "le" in limits
            else f"less than {_number(limits['lt'])}" if "lt" in limits else "")
    return " " + " and ".join(filter(None, (low, high))) if low or high else ""


def _length_text(limits: dict[str, Any]) -> str:
    """' of 2', ' of at least 1', or ''."""
    if limits.get("min_length") == limits.get("max_length") is not None:
        return f" of {limits['min_length']}"
    return f" of at least {limits['min_length']}" if "min_length" in limits else ""


def accepted(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """What a key accepts, in words: 'a number from 0 to 100', 'one of low, high', 'a list of 2, each a
    number, increasing strictly'."""
    annotation, metadata = _unwrap(annotation, metadata)
    origin, limits = get_origin(annotation), _limits(metadata)
    if origin is Literal:
        text = "one of " + ", ".join(map(str, get_args(annotation)))
    elif origin in (list, tuple):
        text = f"a list{_length_text(limits)}, each {accepted(get_args(annotation)[0])}"
    elif origin is dict or _is_model(annotation):
        text = "a table"
    else:
        kinds = {float: "a number", int: "a whole number", bool: "true or false", str: "text"}
        text = kinds.get(annotation, str(annotation)) + _range_text(limits)
        patterns = [m.pattern for m in metadata if getattr(m, "pattern", None) not in (None, r"\S")]
        text += "".join(f" matching {pattern}" for pattern in patterns)
    rules = [m.func.rule for m in metadata if hasattr(getattr(m, "func", None), "rule")]
    return ", ".join([text, *rules])


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(item: Any, model: type[BaseModel], prefix: tuple[str, ...]) -> str:
    """One pydantic error as 'key: problem' with the full dotted key (list positions named apart)."""
    loc = item["loc"]
    keys = [str(p) for p in loc if isinstance(p, str) and p != "[key]"]
    refusal = item.get("ctx", {}).get("error")
    if isinstance(refusal, Refused) and refusal.key:
        keys.append(refusal.key)
    positions = [p for p in loc if isinstance(p, int)]
    where = f"item {positions[-1] + 1}: " if positions else ""
    top = not prefix and len(keys) == 1
    kind = item["type"]
    if kind == "missing":
        text = "section missing" if top else "missing"
    elif kind == "extra_forbidden":
        container = declared(model, loc[:-1]).annotation
        known = sorted(f.alias or n for n, f in container.model_fields.items()) if _is_model(container) else []
        text = f"unknown {'section' if top else 'key'} (known: {', '.join(known)})"
    elif isinstance(refusal, ValueError):
        text = str(refusal)
    else:
        annotation, metadata, _ = declared(model, (*loc[:-2], "[key]") if loc[-1:] == ("[key]",) else loc)
        expected = accepted(annotation, metadata) if annotation is not None else item["msg"]
        text = f"found {_shown(item['input'])}, expected {expected}"
    return f"{'.'.join((*prefix, *keys))}: {where}{text}"


def _refusal(error: ValidationError, shown: str, model: type[BaseModel], prefix: tuple[str, ...] = ()
             ) -> ThresholdsError:
    """ThresholdsError listing each problem as 'file: key: problem'."""
    problems = [f"{shown}: {_problem(item, model, prefix)}" for item in error.errors(include_url=False)]
    more = len(problems) - MAX_PROBLEMS_SHOWN
    return ThresholdsError("\n".join(problems[:MAX_PROBLEMS_SHOWN] + ([f"... and {more} more"] if more > 0 else [])))


# --- loading ------------------------------------------------------------------------------------------

class Thresholds:
    """The validated thresholds file: `thresholds["news2"]` is the news2 section's model."""

    def __init__(self, parsed: dict[str, Any], raw: dict[str, Any], path: Path):
        self._parsed, self.raw, self.path = parsed, raw, path
        self.version = str(raw.get("meta", {}).get("version", "unversioned"))

    def __getitem__(self, name: str) -> Any:
        return self._parsed[name]

    def sources(self) -> dict[str, Source]:
        """Every section's source, for the settings page and the README."""
        return {name: parsed.source for name, parsed in self._parsed.items()}


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


def parse_section(name: str, data: Any, shown: str = "data/thresholds.toml") -> Any:
    """One section validated by its model; ThresholdsError names `shown` and the full key."""
    _import_rule_modules()
    model = SECTIONS[name]
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _refusal(error, shown, model, (name,)) from None


def load_thresholds(path: Path | str | None = None) -> Thresholds:
    """Read and validate the whole file; raise ThresholdsError naming each bad key."""
    model = file_model()
    raw, shown, path = _read(path)
    try:
        validated = model.model_validate(raw)
    except ValidationError as error:
        raise _refusal(error, shown, model) from None
    return Thresholds({name: getattr(validated, name) for name in sorted(SECTIONS)}, raw, path)


def load_sections(names: Sequence[str], path: Path | str | None = None) -> Thresholds:
    """Only some sections of a thresholds file, for tools, tests and benchmarks that need no other rule
    (the application loads and validates the whole file with load_thresholds)."""
    raw, shown, path = _read(path)
    missing = [name for name in names if name not in raw]
    if missing:
        raise ThresholdsError(f"{shown}: {missing[0]}: section missing")
    parsed = {name: parse_section(name, raw[name], shown) for name in names}
    return Thresholds(parsed, {"meta": raw.get("meta", {}), **{n: raw[n] for n in names}}, path)


@functools.cache
def default_thresholds() -> Thresholds:
    return load_thresholds()


def _import_rule_modules() -> None:
    """Import every module that registers a section model (they register on import)."""
    for module in RULE_MODULES:
        importlib.import_module(module)


# Modules that own a section of the thresholds file; each calls @section("<section>") on import.
RULE_MODULES: list[str] = [
    "monitoring.clinical.scores",
    "monitoring.clinical.rules",
    "monitoring.clinical.ctcae",
    "monitoring.clinical.toxicity",
    "monitoring.clinical.prescription",
    "monitoring.clinical.observation_schedule",
    "monitoring.clinical.inputs",
    "monitoring.clinical.alert_handling",
    "monitoring.clinical.shifts",
]
