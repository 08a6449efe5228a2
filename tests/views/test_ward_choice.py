"""The ward choosers' options (views.lists.ward_choice): every ward can be told apart and chosen, and the
chooser opens on the user's own wards."""
from __future__ import annotations

import pytest

from monitoring.store.models import Ward
from monitoring.views.lists import ward_choice


def wards(*names: str) -> list[Ward]:
    return [Ward(id=i, code=f"W{i}", name=name) for i, name in enumerate(names, start=1)]


@pytest.mark.parametrize("names, assigned, labels, opening", [
    (["Oncology", "Haematology"], [2], ["Oncology", "Haematology"], ["Haematology"]),
    (["Oncology", "Haematology"], [], ["Oncology", "Haematology"], ["Oncology", "Haematology"]),
    (["Oncology", "Haematology"], [1, 2], ["Oncology", "Haematology"], ["Oncology", "Haematology"]),
    (["Oncology", "Haematology"], [9], ["Oncology", "Haematology"], ["Oncology", "Haematology"]),
    # Two wards of one name (refused by the Wards page, possible in an older store): both listed, by code.
    (["Oncology", "oncology", "Haematology"], [2], ["Oncology (W1)", "oncology (W2)", "Haematology"],
     ["oncology (W2)"]),
    # A ward named as a choice the pages offer beside the wards would take that choice's place.
    (["All wards", "My wards", "all my wards", "Left the service (records kept)", "Oncology"], [5],
     ["All wards (W1)", "My wards (W2)", "all my wards (W3)", "Left the service (records kept) (W4)", "Oncology"],
     ["Oncology"]),
    # A name that reads as another ward's "name (code)": every ward by its code, so none hides another.
    (["X", "x", "X (W1)"], [3], ["X (W1)", "x (W2)", "X (W1) (W3)"], ["X (W1) (W3)"]),
])
def test_every_ward_has_a_label_of_its_own_and_the_chooser_opens_on_the_users_wards(names, assigned, labels,
                                                                                     opening):
    options, opens_on = ward_choice(wards(*names), assigned)
    assert list(options) == labels
    assert list(options.values()) == list(range(1, len(names) + 1))
    assert opens_on == opening
