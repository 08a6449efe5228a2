"""The code lists of forms, charts and exports hold exactly the codes of their catalogue category."""
from __future__ import annotations

import pytest

from monitoring.clinical.catalogue import CATEGORIES, load_catalogue
from monitoring.clinical.code_lists import FLUIDS, LABS, OTHER_VITAL_SIGNS, SCORE_CODES, VITAL_SIGNS

CATALOGUE = load_catalogue()


@pytest.mark.parametrize("category, lists", [
    ("vital sign", (VITAL_SIGNS, OTHER_VITAL_SIGNS)),
    ("lab", (LABS,)),
    ("fluid", (FLUIDS,)),
])
def test_each_list_holds_exactly_the_codes_of_its_category(category, lists):
    listed = [code for codes in lists for code in codes]
    assert len(listed) == len(set(listed)), "a code is listed twice"
    assert set(listed) == set(CATALOGUE.codes(category))


def test_the_symptoms_are_the_nurse_graded_codes():
    """The summary's 'Nurse symptom grades' are the codes of kind grade: the category symptom."""
    assert CATALOGUE.codes("symptom") == tuple(entry.code for entry in CATALOGUE if entry.kind == "grade")


def test_the_scores_read_vital_signs_and_one_lab():
    assert set(SCORE_CODES) <= set(CATALOGUE.codes("vital sign")) | {"wbc"}
    assert CATALOGUE["wbc"].category == "lab"


def test_every_code_has_one_category_and_every_category_a_code():
    assert sorted(code for category in CATEGORIES for code in CATALOGUE.codes(category)) == sorted(CATALOGUE.codes())


def test_the_lists_other_modules_use_are_drawn_from_the_categories():
    """The rules' set codes, the chart's panels and the lab import's codes come from the catalogue's
    categories (a new vital sign or lab in the catalogue reaches them, or this fails)."""
    from monitoring.clinical.rules.context import VITAL_CODES as SET_CODES
    from monitoring.demo.seed import LAB_CODES as DEMO_LABS
    from monitoring.demo.seed import VITAL_CODES as DEMO_VITALS
    from monitoring.services.lab_import import LAB_CODES as IMPORTED
    from monitoring.views.patient_chart import FLUID_CODES
    from monitoring.views.patient_chart import LAB_CODES as CHART_LABS
    from monitoring.views.patient_chart import VITAL_CODES as CHART_VITALS

    vital_signs = set(CATALOGUE.codes("vital sign"))
    assert set(SET_CODES) == vital_signs - {"fio2"}      # FiO2 alone is a setting, not a round
    assert set(CHART_VITALS) == set(VITAL_SIGNS) | {"map"}
    assert set(FLUID_CODES) == set(CATALOGUE.codes("fluid")) - {"weight"}
    assert set(CHART_LABS) == set(IMPORTED) == set(CATALOGUE.codes("lab"))
    # The demo simulates a subset of each category (its generator's choice, not a display list).
    assert set(DEMO_VITALS) <= vital_signs and set(DEMO_LABS) <= set(CATALOGUE.codes("lab"))
