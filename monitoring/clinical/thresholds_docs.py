"""docs/thresholds.md and docs/schemas/thresholds.schema.json, generated from the section models
(monitoring.clinical.thresholds): `il2-monitor thresholds --markdown` and `--schema` print them, and
tests check the files in docs/ are current.

The JSON Schema lets a hospital validate its edited thresholds.toml before deploying it (e.g.
`check-jsonschema --schemafile docs/schemas/thresholds.schema.json thresholds.toml`, or taplo with a
`#:schema` line); it holds every key, type and range, while the checks across keys (a list one
longer than its bounds, a relative level at least the warning level) are made when the monitor
loads the file.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from monitoring.clinical.thresholds import (
    SECTIONS,
    Source,
    Thresholds,
    accepted,
    declared,
    file_model,
    load_thresholds,
)

SCHEMA_ID = "https://il2-toxicity-monitor.invalid/schemas/thresholds.schema.json"


def thresholds_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the whole thresholds file."""
    schema = file_model().model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            **schema, "title": "IL-2 Toxicity Monitor thresholds file"}


def schema_text() -> str:
    """docs/schemas/thresholds.schema.json."""
    return json.dumps(thresholds_schema(), indent=2, ensure_ascii=False) + "\n"


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def _source_text(source: Source) -> str:
    return f"{source.document} ({source.version}), {source.table}. Status: **{source.status}**"


def _rows(section: str, table: dict[str, Any], path: tuple[str, ...], inherited: str | None = None
          ) -> Iterator[str]:
    """One table row per key in force (sub-tables flattened into dotted keys); a nested source is a row
    with its status. A fixed table also lists the keys it declares that the file leaves unset. A row of
    a table of named rows (a unit's cut-offs) has the description of the table."""
    model = file_model()
    container = declared(model, (section, *path)).annotation
    unset = [] if container is None or not hasattr(container, "model_fields") else [
        field.alias or name for name, field in container.model_fields.items()
        if (field.alias or name) not in table and not field.exclude]
    for key in [*table, *unset]:
        where = (*path, key)
        shown = ".".join(where)
        if key == "source" and path:
            yield f"| `{shown}` | {_cell(_source_text(Source.model_validate(table[key])))} | | |"
            continue
        if key == "source":
            continue
        annotation, metadata, description = declared(model, (section, *where))
        description = description or inherited
        if isinstance(table.get(key), dict) and annotation is not None and accepted(annotation) == "a table":
            yield from _rows(section, table[key], where, description)
            continue
        value = f"`{_cell(table[key])}`" if key in table else "not set"
        yield f"| `{shown}` | {value} | {accepted(annotation, metadata)} | {_cell(description or '')} |"


def thresholds_markdown(thresholds: Thresholds | None = None) -> str:
    """docs/thresholds.md: per section its source and every key with the value in force, what it accepts
    and what it means."""
    thresholds = thresholds or load_thresholds()
    lines = ["# Thresholds reference", "",
             "Generated from the section models by `il2-monitor thresholds --markdown` (do not edit: a test checks "
             "it is current). Values in force: the shipped `data/thresholds.toml`, version "
             f"{thresholds.version}. A hospital validates its edited file against the JSON Schema "
             "[schemas/thresholds.schema.json](schemas/thresholds.schema.json), e.g. `check-jsonschema --schemafile "
             "docs/schemas/thresholds.schema.json thresholds.toml`; the monitor checks the rest (lists that must "
             "fit each other, levels that must be ordered) when it loads the file, naming the key.", ""]
    for name in sorted(SECTIONS):
        model = SECTIONS[name]
        summary = " ".join((model.__doc__ or "").split("\n\n")[0].split())
        lines += [f"## [{name}]", "", summary, "", f"Source: {_source_text(thresholds[name].source)}.", "",
                  "| Key | In force | Accepted | Meaning |", "|---|---|---|---|",
                  *_rows(name, thresholds.raw[name], ()), ""]
    return "\n".join(lines)
