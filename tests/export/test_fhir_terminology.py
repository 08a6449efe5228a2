"""The codes of the FHIR export come from their sources: the MedDRA code of each CTCAE term is the one
docs/clinical.md lists (never invented), every term the monitor grades has one or is listed without one,
and docs/fhir.md carries the current tables of profiles, extensions and codes."""
from __future__ import annotations

import re
from pathlib import Path

from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.thresholds import default_thresholds
from monitoring.clinical.toxicity import URINE_TERM, WEIGHT_TERM
from monitoring.export import fhir_terminology as terms

ROOT = Path(__file__).resolve().parents[2]


def clinical_meddra() -> dict[str, str]:
    """'CTCAE v5.0 term (MedDRA code)' rows of docs/clinical.md §1.3-1.14: term -> code."""
    text = (ROOT / "docs" / "clinical.md").read_text(encoding="utf-8")
    return {term: code for term, code in re.findall(r"^\| \*\*([^*]+)\*\* \((\d{8})\) \|", text, flags=re.M)}


def graded_terms() -> set[str]:
    """Every CTCAE term the monitor can grade: the numeric terms of thresholds.toml, the nurse-graded
    symptoms of the catalogue and the terms graded from several values."""
    numeric = {term.name for term in default_thresholds()["ctcae"].terms}
    nurse = {entry.ctcae_term or entry.label for entry in default_catalogue() if entry.kind == "grade"}
    return numeric | nurse | {URINE_TERM, WEIGHT_TERM}


def test_every_meddra_code_is_the_one_docs_clinical_lists_for_its_term():
    listed = clinical_meddra()
    assert len(listed) > 60  # the tables were read
    assert {term: code for term, code in terms.MEDDRA_CODES.items() if listed.get(term) != code} == {}


def test_every_graded_term_has_a_meddra_code_or_is_listed_without_one():
    graded = graded_terms()
    assert graded - set(terms.MEDDRA_CODES) - set(terms.TERMS_WITHOUT_CODE) == set()
    # A term listed without a code really has none in docs/clinical.md, and is one the monitor grades.
    assert set(terms.TERMS_WITHOUT_CODE) & set(clinical_meddra()) == set()
    assert set(terms.TERMS_WITHOUT_CODE) <= graded
    assert set(terms.MEDDRA_CODES) <= graded


def test_a_term_without_a_code_is_exported_as_text_only():
    assert terms.meddra("Hypernatremia") is None
    assert terms.meddra("Fever").coding() == {"system": terms.MEDDRA, "code": "10016558", "display": "Fever"}


def test_docs_fhir_carries_the_current_tables():
    """docs/fhir.md holds what fhir_terminology.terminology_markdown() renders (regenerate the end of the page
    from it when a code changes)."""
    page = (ROOT / "docs" / "fhir.md").read_text(encoding="utf-8")
    assert terms.terminology_markdown() in page
    assert "Hypernatremia" in page


def test_every_code_has_a_source_and_every_system_is_named():
    codes = terms.all_codes()
    assert [c for c in codes if not c.source.strip() or not c.display.strip()] == []
    assert len({(c.system, c.code) for c in codes}) == len(codes)
    # Standard codes from memory or public code bases say so: their source carries an evidence tag.
    standard = [c for c in codes if not c.system.startswith(terms.PROJECT) and c.system != terms.UCUM]
    assert [c for c in standard if not re.search(r"\[(V|V2|S|M)\b", c.source)] == []


def test_yes_no_and_acvpu_answers_are_standard_and_other_answers_stay_the_projects():
    assert terms.answer("on_oxygen", "yes", ("yes", "no")).code == "LA33-6"
    assert terms.answer("infection_suspected", "no", ("yes", "no")).code == "LA32-8"
    assert [terms.answer("consciousness", level, "ACVPU").code for level in "ACVPU"] == [
        "248234008", "130987000", "300202002", "450847001", "422768004"]
    assert terms.answer("blood_culture", "positive", ("positive", "negative", "pending")) is None
