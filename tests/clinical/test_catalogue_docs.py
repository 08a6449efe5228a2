"""The catalogue's reference (docs/catalogue.md), JSON Schema and header comment stay those of the models."""
from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path

import pytest

from monitoring.clinical.catalogue import CATEGORIES, DEFAULT_PATH, CodeTable, load_catalogue
from monitoring.clinical.catalogue_docs import catalogue_markdown, catalogue_schema, catalogue_schema_text

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "schemas" / "catalogue.schema.json"


def test_the_reference_in_docs_is_generated_and_current():
    """docs/catalogue.md carries the tables `il2-monitor catalogue --markdown` makes from the shipped file."""
    assert catalogue_markdown(load_catalogue(DEFAULT_PATH)) in (ROOT / "docs" / "catalogue.md").read_text()


def test_the_json_schema_in_docs_is_generated_and_current():
    """docs/schemas/catalogue.schema.json is `il2-monitor catalogue --schema`, byte for byte."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == catalogue_schema_text()


def test_the_reference_lists_every_key_and_every_code():
    text = catalogue_markdown(load_catalogue(DEFAULT_PATH))
    assert all(f"| `{key}` |" in text for key in CodeTable.model_fields)
    assert all(f"| `{code}` |" in text for code in load_catalogue(DEFAULT_PATH).codes())
    assert all(f"### Category `{category}`" in text for category in CATEGORIES)


def test_the_header_comment_of_the_file_documents_every_key_and_category():
    header = "".join(line for line in DEFAULT_PATH.read_text(encoding="utf-8").splitlines(keepends=True)
                     if line.startswith("#"))
    assert [key for key in CodeTable.model_fields if not re.search(rf"\b{key}\b", header)] == []
    assert [category for category in CATEGORIES if f"#   {' ' * 20}{category} " not in header] == []


# --- the schema checks what a hospital edits -----------------------------------------------------------

SHIPPED = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def _schema_errors(document: dict) -> list[str]:
    import jsonschema  # a dev dependency: the check a hospital runs on its edited file
    schema = catalogue_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def test_the_shipped_catalogue_satisfies_its_schema():
    assert json.loads(catalogue_schema_text())["$schema"].startswith("https://json-schema.org/")
    assert _schema_errors(SHIPPED) == []


@pytest.mark.parametrize("edit, complaint", [
    (lambda codes: codes["temperature"].update(categroy="lab"), "codes.temperature: Additional properties"),
    (lambda codes: codes["temperature"].update(category="vitals"), "codes.temperature.category: 'vitals'"),
    (lambda codes: codes["temperature"].pop("plausible"), "'plausible' is a required property"),
    (lambda codes: codes["temperature"].pop("loinc_status"), "'loinc_status' is a required property"),
    (lambda codes: codes["nausea"].update(plausible=[0, 4]), "codes.nausea.plausible"),
    (lambda codes: codes["on_oxygen"].update(allowed=[]), "codes.on_oxygen.allowed"),
    (lambda codes: codes["nausea"]["grades"].update({"5": "Death"}), "codes.nausea.grades: '5'"),
    (lambda codes: codes["weight"]["alternative_units"]["[lb_av]"].update(scale=0.45), "is not of type"),
    (lambda codes: codes.update(Temperature=codes["temperature"]), "'Temperature' does not match"),
])
def test_the_schema_refuses_what_a_hospital_might_get_wrong(edit, complaint):
    document = copy.deepcopy(SHIPPED)
    edit(document["codes"])
    errors = _schema_errors(document)
    assert any(complaint in error for error in errors), errors
