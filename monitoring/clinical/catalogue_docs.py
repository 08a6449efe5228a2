"""The reference and the JSON Schema of data/catalogue.toml, generated from the models in catalogue.py.

`il2-monitor catalogue --markdown` prints the generated part of docs/catalogue.md and `--schema` the JSON
Schema in docs/schemas/catalogue.schema.json; tests/clinical/test_catalogue_docs.py checks both are current.
"""
from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from monitoring.clinical.catalogue import (
    CATEGORIES,
    KIND_KEYS,
    KIND_NEEDS,
    AlternativeUnitTable,
    Catalogue,
    CatalogueEntry,
    CatalogueFile,
    CodeTable,
    MetaTable,
    _with_unit,
    format_number,
)

# pydantic writes 2020-12 schemas; the keywords used here mean the same in draft 7 (taplo, editors).
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _TomlSchema(GenerateJsonSchema):
    """TOML has no null: an optional key is left out, so the schema never mentions null."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if json_schema.get("default", "") is None:
            del json_schema["default"]
        return json_schema

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # the key is its own title


def catalogue_schema() -> dict[str, Any]:
    """The JSON Schema a hospital checks its edited catalogue.toml against."""
    schema = CatalogueFile.model_json_schema(schema_generator=_TomlSchema)
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "IL-2 monitor observation catalogue (catalogue.toml)"}


def catalogue_schema_text() -> str:
    """docs/schemas/catalogue.schema.json, byte for byte."""
    return json.dumps(catalogue_schema(), indent=2, ensure_ascii=False) + "\n"


# --- markdown --------------------------------------------------------------------------------------

def catalogue_markdown(catalogue: Catalogue) -> str:
    """The generated part of docs/catalogue.md: every key of the file, then the codes of each category."""
    lines = ["### Keys", ""]
    for heading, model in (("`[meta]`", MetaTable), ("`[codes.<code>]`", CodeTable),
                           ('`[codes.<code>.alternative_units."<UCUM>"]`', AlternativeUnitTable)):
        lines += [f"{heading}:", "", *_key_table(model), ""]
    for category in CATEGORIES:
        codes = catalogue.codes(category)
        count = f"{len(codes)} code{'s' if len(codes) != 1 else ''}"
        lines += [f"### Category `{category}` ({count})", "", *_code_table(catalogue, codes), ""]
    return "\n".join(lines)


def _key_table(model: type[BaseModel]) -> list[str]:
    """Key, required, meaning (with the accepted words); for a code, the kinds a key belongs to."""
    properties = model.model_json_schema(schema_generator=_TomlSchema)["properties"]
    by_kind = model is CodeTable
    rows = ["| Key | Kinds | Required | Meaning |" if by_kind else "| Key | Required | Meaning |",
            "|---|---|---|---|" if by_kind else "|---|---|---|"]
    for key, field in model.model_fields.items():
        kinds = [kind for kind, keys in KIND_KEYS.items() if key in keys] if by_kind else []
        needed_by = [kind for kind, needs in KIND_NEEDS.items() if key in needs] if by_kind else []
        required = "yes" if field.is_required() or (needed_by and needed_by == kinds) else \
            f"for {', '.join(needed_by)}" if needed_by else "no"
        accepted = properties[key].get("enum")
        meaning = str(field.description) + (f" One of: {', '.join(accepted)}." if accepted else "")
        cells = [f"`{key}`", *([", ".join(kinds) or "all"] if by_kind else []), required, meaning]
        rows.append(f"| {' | '.join(cells)} |")
    return rows


def _code_table(catalogue: Catalogue, codes: tuple[str, ...]) -> list[str]:
    rows = ["| Code | Label | Organ system | Kind | Units (canonical first) | Accepted (refused outside) "
            "| Expected (confirm outside) | LOINC (evidence) |", "|---|---|---|---|---|---|---|---|"]
    for entry in map(catalogue.__getitem__, codes):
        units = "; ".join(f"`{unit}`" + (f" ({label})" if label and label != unit else "")
                          for unit, label in _units(entry))
        loinc = f"{entry.loinc} ({entry.loinc_status})" if entry.loinc else "none"
        rows.append(f"| `{entry.code}` | {entry.label} | {entry.organ_system} | {entry.kind} | {units} "
                    f"| {_accepted(entry)} | {_shown_range(entry, entry.expected)} | {loinc} |")
    return rows


def _units(entry: CatalogueEntry) -> list[tuple[str, str]]:
    return [(entry.unit, entry.unit_label), *((unit, c.label) for unit, c in entry.alternative_units.items())]


def _accepted(entry: CatalogueEntry) -> str:
    if entry.kind == "coded":
        return ", ".join(entry.allowed)
    if entry.kind == "grade":
        return f"grades {', '.join(map(str, entry.accepted_grades))} ({entry.ctcae_term})"
    return _shown_range(entry, entry.plausible) + (", whole numbers" if entry.integer else "")


def _shown_range(entry: CatalogueEntry, bounds: tuple[float, float] | None) -> str:
    if bounds is None:
        return ""
    low, high = (format_number(bound, entry.precision) for bound in bounds)
    return _with_unit(f"{low}–{high}", entry.unit_label)
