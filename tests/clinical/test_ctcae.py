"""CTCAE v5.0 grading (monitoring/clinical/ctcae.py) and its [ctcae] thresholds section.

Reference cases: the 137 admiral boundary cases (tests/data/ctcae_v5_admiral_cases.csv),
and tests/data/ctcae_boundaries.csv with the test vectors of clinical.md §8 items 4-7 and the
boundaries of every graded term in both unit systems.
"""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.clinical import thresholds as thresholds_module
from monitoring.clinical.catalogue import default_catalogue
from monitoring.clinical.ctcae import CtcaeThresholds, grade_canonical, grade_frame, load_ctcae
from monitoring.clinical.inputs import read_long_frame
from monitoring.clinical.thresholds import ThresholdsError, parse_section
from monitoring.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
ADMIRAL_CASES = ROOT / "tests" / "data" / "ctcae_v5_admiral_cases.csv"  # copied into the repository
BOUNDARIES = ROOT / "tests" / "data" / "ctcae_boundaries.csv"
TIME = "2026-03-02T08:00:00Z"


def _thresholds_file() -> Path:
    """The file holding [ctcae]: data/thresholds.toml once the fragment has been appended."""
    fragment = ROOT / "data" / "thresholds_ctcae.toml"
    return fragment if fragment.exists() else ROOT / "data" / "thresholds.toml"


def _raw_section() -> dict:
    return tomllib.loads(_thresholds_file().read_text(encoding="utf-8"))["ctcae"]


def _parse(raw: dict) -> CtcaeThresholds:
    return parse_section("ctcae", raw, "data/thresholds.toml")


@pytest.fixture(scope="module")
def ctcae() -> CtcaeThresholds:
    return _parse(_raw_section())


@pytest.fixture(scope="module")
def without_defaults() -> CtcaeThresholds:
    raw = copy.deepcopy(_raw_section())
    del raw["default_reference_ranges"]
    return _parse(raw)


def _frame(rows: list[dict]) -> pd.DataFrame:
    """Long-format rows; patient_id and time filled in."""
    return pd.DataFrame([{"patient_id": f"p{i}", "time": TIME, **row} for i, row in enumerate(rows)])


def _grade_one(ctcae, code, value, unit="", ref_low=None, ref_high=None, baseline=None) -> pd.Series:
    row = {"code": code, "value": value, "unit": unit, "ref_low": ref_low, "ref_high": ref_high,
           "baseline": baseline}
    return grade_frame(_frame([row]), ctcae).iloc[0]


# --- admiral reference cases -----------------------------------------------------------------------

ADMIRAL = pd.read_csv(ADMIRAL_CASES, dtype={"value": str, "ref_low": str, "ref_high": str})


@pytest.fixture(scope="module")
def admiral_graded(ctcae) -> pd.DataFrame:
    return grade_frame(ADMIRAL.rename(columns={"ctcae_grade": "expected_grade"}), ctcae)


@pytest.mark.parametrize("case_id", ADMIRAL["patient_id"].tolist())
def test_admiral_case(admiral_graded, case_id):
    row = admiral_graded.set_index("patient_id").loc[case_id]
    assert row["ctcae_grade"] == row["expected_grade"], f"{case_id}: {row.to_dict()}"
    if isinstance(row["term_contains"], str) and row["term_contains"]:
        assert row["term_contains"].lower() in row["ctcae_term"].lower()
    assert row["ctcae_version"] == "5.0"


def test_all_137_admiral_cases_are_graded(admiral_graded):
    assert len(admiral_graded) == 137
    assert (admiral_graded["ctcae_grade"] == admiral_graded["expected_grade"]).all()


def test_default_reference_ranges_change_no_admiral_grade(ctcae, without_defaults):
    """The admiral rows with empty ranges expect grades from absolute cut-offs only (admiral leaves
    grade 1 'not gradable' without a range); the local default ranges must not change any of them."""
    data = ADMIRAL.rename(columns={"ctcae_grade": "expected_grade"})
    with_defaults = grade_frame(data, ctcae)["ctcae_grade"]
    plain = grade_frame(data, without_defaults)["ctcae_grade"]
    assert with_defaults.tolist() == plain.tolist() == data["expected_grade"].tolist()
    empty_ranges = data["ref_low"].isna() & data["ref_high"].isna()
    assert empty_ranges.sum() == 38  # the rows this is about
    assert (with_defaults[empty_ranges] >= 2).all()
    # ... and no note: the defaults decided nothing for these rows.
    assert (grade_frame(data, ctcae)["ctcae_note"][empty_ranges & (data["expected_grade"] < 3)] == "").all()


# --- boundary tables (clinical.md §8 items 4-7, both unit systems) ---------------------------------

BOUNDARY_CASES = pd.read_csv(BOUNDARIES, dtype={"value": str, "unit": str, "term_contains": str,
                                                "note_contains": str}, keep_default_na=False,
                             na_values={"ref_low": [""], "ref_high": [""], "baseline": [""],
                                        "expected_grade": [""]})


@pytest.fixture(scope="module")
def boundaries_graded(ctcae) -> pd.DataFrame:
    data = BOUNDARY_CASES.rename(columns={"case_id": "patient_id"}).assign(time=TIME)
    return grade_frame(data, ctcae).set_index("patient_id")


@pytest.mark.parametrize("case_id", BOUNDARY_CASES["case_id"].tolist())
def test_boundary_case(boundaries_graded, case_id):
    row = boundaries_graded.loc[case_id]
    expected = row["expected_grade"]
    if pd.isna(expected):
        assert pd.isna(row["ctcae_grade"]), row.to_dict()
        assert row["ctcae_term"] == ""
    else:
        assert row["ctcae_grade"] == int(expected), row.to_dict()
    if row["term_contains"]:
        assert row["term_contains"].lower() in row["ctcae_term"].lower(), row.to_dict()
    elif not pd.isna(expected) and int(expected) == 0 and row["code"] in ("potassium", "sodium"):
        assert row["ctcae_term"] == ""  # two terms and neither abnormal: no direction to name
    if row["note_contains"]:
        assert row["note_contains"] in row["ctcae_note"], row.to_dict()


def test_exactly_one_and_a_half_times_uln_is_grade_1_despite_float_arithmetic(ctcae):
    assert 1.5 * 1.2 != 1.8  # 1.7999999999999998: a plain float comparison would say grade 2
    for code in ("creatinine", "bilirubin"):
        row = _grade_one(ctcae, code, "1.8", "mg/dL", ref_high="1.2")
        assert row["ctcae_grade"] == 1
    assert _grade_one(ctcae, "creatinine", "1.8", "mg/dL", ref_high="1.2", baseline="1.2")["ctcae_grade"] == 1


def test_creatinine_baseline_arm_can_out_grade_the_uln_arm(ctcae):
    """clinical.md §8 item 6: ULN 1.2, baseline 1.0; highest grade of either arm (admiral)."""
    values = ["1.2", "1.3", "1.6", "1.9", "3.1", "3.7", "7.3"]
    frame = _frame([{"code": "creatinine", "value": v, "unit": "mg/dL", "ref_high": 1.2, "baseline": 1.0}
                    for v in values])
    graded = grade_frame(frame, ctcae)
    assert graded["ctcae_grade"].tolist() == [0, 1, 2, 2, 3, 3, 4]
    assert "baseline arm" in graded["ctcae_note"][2] and "baseline arm" in graded["ctcae_note"][4]
    assert graded["ctcae_note"][3] == ""  # 1.9 > 1.5 x ULN: the ULN arm gives 2 on its own


def test_a_value_in_ul_grades_like_the_same_value_in_10e9_per_l(ctcae):
    rows = []
    for code, lln in (("anc", 1.8), ("wbc", 4.0), ("lymphocytes", 1.0), ("platelets", 150.0)):
        top = 4 * lln
        for value in np.round(np.linspace(0, top, 401), 3):
            rows.append({"code": code, "value": value, "unit": "10*9/L", "ref_low": lln})
            rows.append({"code": code, "value": round(value * 1000, 6), "unit": "/uL", "ref_low": lln * 1000})
            rows.append({"code": code, "value": round(value * 1000, 6), "unit": "/mm3", "ref_low": lln * 1000})
    graded = grade_frame(_frame(rows), ctcae)["ctcae_grade"].to_numpy()
    assert (graded[0::3] == graded[1::3]).all() and (graded[0::3] == graded[2::3]).all()
    assert set(graded) == {0, 1, 2, 3, 4}


def test_magnesium_uses_ctcae_printed_pairs_not_conversions(ctcae):
    """0.5 mmol/L is 1.215 mg/dL, yet CTCAE prints 1.2 mg/dL <-> 0.5 mmol/L: each unit uses its own."""
    assert ctcae.by_code["magnesium"][0].thresholds["mg/dL"].bounds == (1.2, 0.9, 0.7)
    assert ctcae.by_code["magnesium"][0].thresholds["mmol/L"].bounds == (0.5, 0.4, 0.3)
    pairs = [("1.2", "mg/dL", 1.7, 1), ("0.5", "mmol/L", 0.7, 1), ("0.9", "mg/dL", 1.7, 2), ("0.4", "mmol/L", 0.7, 2),
             ("0.7", "mg/dL", 1.7, 3), ("0.3", "mmol/L", 0.7, 3)]
    for value, unit, lln, grade in pairs:
        assert _grade_one(ctcae, "magnesium", value, unit, ref_low=lln)["ctcae_grade"] == grade, (value, unit)


def test_fever_grade_3_carries_the_duration_note(ctcae):
    row = _grade_one(ctcae, "temperature", "40.1", "Cel")
    assert (row["ctcae_grade"], row["ctcae_term"]) == (3, "Fever")
    assert row["ctcae_note"] == "Grade 4 if >40.0 °C for more than 24 h"
    assert _grade_one(ctcae, "temperature", "39.1", "Cel")["ctcae_note"] == ""


def test_numbers_alone_give_the_lower_grade_with_a_note(ctcae):
    hypokalemia = _grade_one(ctcae, "potassium", "3.2", "mmol/L", ref_low="3.5", ref_high="5.1")
    assert (hypokalemia["ctcae_term"], hypokalemia["ctcae_grade"]) == ("Hypokalemia", 1)
    assert hypokalemia["ctcae_note"] == "Grade 2 needs symptoms or intervention: numeric value alone gives grade 1"
    hyponatremia = _grade_one(ctcae, "sodium", "127", "mmol/L", ref_low="135", ref_high="145")
    assert (hyponatremia["ctcae_term"], hyponatremia["ctcae_grade"]) == ("Hyponatremia", 2)
    assert hyponatremia["ctcae_note"] == "Grade 3 if symptomatic (125-129 mmol/L)"


def test_nurse_graded_symptoms_keep_their_grade_and_catalogue_term(ctcae):
    catalogue = default_catalogue()
    rows, expected = [], []
    for entry in catalogue:
        if entry.kind != "grade":
            continue
        for grade in entry.accepted_grades:
            rows.append({"code": entry.code, "value": str(grade)})
            expected.append((entry.ctcae_term, grade))
    assert len({term for term, _ in expected}) >= 8
    graded = grade_frame(_frame(rows), ctcae)
    assert list(zip(graded["ctcae_term"], graded["ctcae_grade"])) == expected
    assert (graded["ctcae_note"] == "").all()


def test_codes_without_a_numeric_ctcae_definition_get_na_and_no_term(ctcae):
    rows = [{"code": "heart_rate", "value": "135", "unit": "/min"}, {"code": "sbp", "value": "80"},
            {"code": "spo2", "value": "86"}, {"code": "consciousness", "value": "C"},
            {"code": "lactate", "value": "4.5"}]
    graded = grade_frame(_frame(rows), ctcae)
    assert graded["ctcae_grade"].isna().all()
    assert (graded["ctcae_term"] == "").all() and (graded["ctcae_note"] == "").all()
    assert (graded["ctcae_version"] == "5.0").all()


def test_without_any_reference_range_grade_1_is_not_gradable(without_defaults):
    """admiral's convention: no LLN/ULN -> grade 1 undecidable, grades 2-4 still by absolute cut-offs."""
    rows = [{"code": "anc", "value": "1.6"}, {"code": "anc", "value": "1.4"}, {"code": "alt", "value": "500"},
            {"code": "potassium", "value": "4.0"}, {"code": "potassium", "value": "2.9"},
            {"code": "creatinine", "value": "3.5", "baseline": "1.0"}, {"code": "temperature", "value": "38.5"}]
    graded = grade_frame(_frame(rows), without_defaults)["ctcae_grade"]
    assert graded.tolist() == [pd.NA, 2, pd.NA, pd.NA, 3, 3, 1]


def test_a_default_limit_is_not_used_against_the_labs_other_limit(ctcae):
    # The lab's LLN 5.5 is above the default ULN 5.1: the default ULN is not used.
    row = _grade_one(ctcae, "potassium", "5.3", "mmol/L", ref_low="5.5")
    assert (row["ctcae_term"], row["ctcae_grade"]) == ("Hypokalemia", 1)


def test_output_keeps_the_input_rows_index_and_order(ctcae):
    frame = _frame([{"code": "anc", "value": "0.4", "unit": "10*9/L", "extra": "a"},
                    {"code": "heart_rate", "value": "80", "unit": "/min", "extra": "b"},
                    {"code": "diarrhea", "value": "2", "unit": "", "extra": "c"}])
    frame.index = [30, 10, 20]
    original = frame.copy()
    graded = grade_frame(frame, ctcae)
    pd.testing.assert_frame_equal(frame, original)  # input untouched
    pd.testing.assert_frame_equal(graded[list(frame.columns)], frame)
    assert list(graded.columns) == [*frame.columns, "ctcae_term", "ctcae_grade", "ctcae_version", "ctcae_note"]
    assert str(graded["ctcae_grade"].dtype) == "Int64"
    assert graded["ctcae_grade"].tolist() == [4, pd.NA, 2]
    for column in ("ctcae_term", "ctcae_version", "ctcae_note"):
        assert pd.api.types.is_string_dtype(graded[column].dtype)


def test_grading_does_not_depend_on_row_order(ctcae):
    data = BOUNDARY_CASES.rename(columns={"case_id": "patient_id"}).assign(time=TIME)
    graded = grade_frame(data, ctcae)
    shuffled = data.sample(frac=1, random_state=7)
    regraded = grade_frame(shuffled, ctcae).loc[graded.index]
    pd.testing.assert_frame_equal(regraded, graded)


def test_bad_input_raises_input_error_naming_row_and_column(ctcae):
    frame = _frame([{"code": "anc", "value": "1.2"}, {"code": "anc", "value": "lots"}])
    with pytest.raises(InputError) as error:
        grade_frame(frame, ctcae)
    assert error.value.problems[0][:2] == (2, "value")


def test_grade_canonical_takes_plain_arrays(ctcae):
    terms, grades, notes = grade_canonical(
        ["anc", "anc", "creatinine", "potassium", "heart_rate"], [1400, 0.4, 250, 5.8, 120],
        ["/uL", "10*9/L", "umol/L", "mmol/L", "/min"], [1800, 1.8, np.nan, 3.5, np.nan],
        [np.nan, np.nan, 106, 5.1, np.nan], [np.nan, np.nan, 80, np.nan, np.nan], thresholds=ctcae)
    assert list(grades) == [2, 4, 3, 2, pd.NA]
    assert list(terms) == ["Neutrophil count decreased", "Neutrophil count decreased", "Creatinine increased",
                           "Hyperkalemia", ""]
    assert "baseline arm (> 3.0 x baseline)" in notes[2]


def test_grade_canonical_accepts_read_long_frame_output(ctcae):
    data = BOUNDARY_CASES.rename(columns={"case_id": "patient_id"}).assign(time=TIME)
    parsed = read_long_frame(data)
    terms, grades, notes = grade_canonical(parsed["code"], parsed["value_in"], parsed["unit_in"], parsed["ref_low"],
                                           parsed["ref_high"], parsed["baseline"], thresholds=ctcae)
    graded = grade_frame(data, ctcae)
    assert list(grades) == graded["ctcae_grade"].tolist()
    assert list(terms) == graded["ctcae_term"].tolist()


def test_grade_frame_accepts_a_loaded_thresholds_object(ctcae):
    class Loaded:  # what monitoring.clinical.thresholds.load_thresholds returns: thresholds["ctcae"]
        def __getitem__(self, name):
            return {"ctcae": ctcae}[name]

    assert _grade_one(Loaded(), "anc", "0.4", "10*9/L")["ctcae_grade"] == 4


# --- the thresholds section ------------------------------------------------------------------------

def test_section_parses_with_source_version_and_every_term(ctcae):
    assert ctcae.version == "5.0"
    assert ctcae.source.document == "NCI Common Terminology Criteria for Adverse Events"
    assert ctcae.source.version == "5.0 (27 Nov 2017)"
    assert ctcae.source.status == "verified"
    assert ctcae.default_ranges_source.status == "local-choice"
    assert {t.name for t in ctcae.terms} == {
        "Neutrophil count decreased", "White blood cell decreased", "Lymphocyte count decreased",
        "Platelet count decreased", "Anemia", "Hypoalbuminemia", "Blood bilirubin increased",
        "Aspartate aminotransferase increased", "Alanine aminotransferase increased",
        "Alkaline phosphatase increased", "Creatinine increased", "Hypokalemia", "Hyperkalemia",
        "Hyponatremia", "Hypernatremia", "Hypomagnesemia", "Fever"}
    anc = ctcae.by_code["anc"][0]
    assert anc.thresholds["10*9/L"].bounds == (1.5, 1.0, 0.5)
    assert anc.thresholds["/uL"].bounds == (1500, 1000, 500)
    assert anc.thresholds["10*9/L"].grades == (2, 3, 4)
    hb = ctcae.by_code["hemoglobin"][0]
    assert (hb.thresholds["g/dL"].bounds, hb.thresholds["g/L"].bounds, hb.thresholds["mmol/L"].bounds) == (
        (10.0, 8.0), (100, 80), (6.2, 4.9))
    creatinine = ctcae.by_code["creatinine"][0]
    assert creatinine.uln_multiples.bounds == (1.5, 3.0, 6.0)
    assert (creatinine.baseline.arm.bounds, creatinine.baseline.arm.grades) == ((1.5, 3.0), (2, 3))


def test_thresholds_fit_the_catalogue(ctcae):
    """Every term's code exists; its canonical unit has cut-offs; every printed unit is one the catalogue
    accepts (CTCAE also prints hemoglobin in mmol/L, which the catalogue does not accept yet)."""
    catalogue = default_catalogue()
    not_accepted = {("anemia", "mmol/L")}
    for term in ctcae.terms:
        entry = catalogue[term.code]
        assert entry.kind == "numeric"
        if not term.relative:
            assert entry.unit in term.thresholds, term.key
            for unit in term.thresholds:
                assert unit in entry.accepted_units() or (term.key, unit) in not_accepted, (term.key, unit)
    for code, default in ctcae.default_ranges.items():
        assert default.unit in catalogue[code].accepted_units()
        assert code in ctcae.by_code


@pytest.mark.parametrize("change, key", [
    (lambda s: s["terms"]["neutrophil_count_decreased"]["thresholds"].update({"10*9/L": [1.0, 1.5, 0.5]}),
     "ctcae.terms.neutrophil_count_decreased.thresholds.10*9/L"),
    (lambda s: s["terms"]["hyperkalemia"]["thresholds"].update({"mmol/L": [6.0, 5.5, 7.0]}),
     "ctcae.terms.hyperkalemia.thresholds.mmol/L"),
    (lambda s: s["terms"]["anemia"].update(direction="down"), "ctcae.terms.anemia.direction"),
    (lambda s: s["terms"]["anemia"].update(grade1_above_uln=True), "ctcae.terms.anemia.grade1_above_uln"),
    (lambda s: s["terms"]["anemia"].update(threshold={"g/dL": [10.0]}), "ctcae.terms.anemia.threshold"),
    (lambda s: s["terms"]["anemia"]["thresholds"].update({"g/L": [100, 80, 60]}), "ctcae.terms.anemia.thresholds.g/L"),
    (lambda s: s["terms"]["anemia"]["thresholds"].update({"g/L": [100, "80"]}), "ctcae.terms.anemia.thresholds.g/L"),
    (lambda s: s["terms"]["fever"].update(grades=[1, 2, 5]), "ctcae.terms.fever.grades"),
    (lambda s: s["terms"]["fever"].update(operators=[">=", "<", ">"]), "ctcae.terms.fever.operators"),
    (lambda s: s["terms"]["fever"].update(grades=[1, 2]), "ctcae.terms.fever.grades"),
    (lambda s: s["terms"]["neutrophil_count_decreased"]["thresholds"].update({"10*9/L": [3.0, 1.5, 1.0, 0.5]}),
     "ctcae.terms.neutrophil_count_decreased.thresholds.10*9/L"),
    (lambda s: s["terms"]["hypokalemia"].update(grades=[1, 2]), "ctcae.terms.hypokalemia.grades"),
    (lambda s: s["terms"]["creatinine_increased"]["baseline"].update(applies="sometimes"),
     "ctcae.terms.creatinine_increased.baseline.applies"),
    (lambda s: s["terms"]["creatinine_increased"].update(uln_multiples=[3.0, 1.5, 6.0]),
     "ctcae.terms.creatinine_increased.uln_multiples"),
    (lambda s: s["terms"]["creatinine_increased"].update(thresholds={"mg/dL": [2.0]}),
     "ctcae.terms.creatinine_increased"),
    (lambda s: s["terms"]["anemia"].pop("code"), "ctcae.terms.anemia.code"),
    (lambda s: s["terms"]["fever"]["notes"].update({"5": "x"}), "ctcae.terms.fever.notes.5"),
    (lambda s: s.update(version="6.0"), "ctcae.version"),
    (lambda s: s["source"].update(status="probably"), "ctcae.source.status"),
    (lambda s: s.pop("source"), "ctcae.source"),
    (lambda s: s["default_reference_ranges"].update(anc={"low": 7.5, "high": 1.8, "unit": "10*9/L"}),
     "ctcae.default_reference_ranges.anc"),
    (lambda s: s["default_reference_ranges"].update(anc={"low": 1.8, "high": 7.5}),
     "ctcae.default_reference_ranges.anc.unit"),
    (lambda s: s.update(extra=1), "ctcae.extra"),
])
def test_an_invalid_section_is_refused_naming_the_key(change, key):
    raw = copy.deepcopy(_raw_section())
    change(raw)
    with pytest.raises(ThresholdsError) as error:
        _parse(raw)
    assert f": {key}:" in str(error.value), str(error.value)


def test_the_model_is_registered_for_the_thresholds_file():
    import monitoring.clinical.ctcae  # noqa: F401  (registers on import)

    assert thresholds_module.SECTIONS["ctcae"] is CtcaeThresholds
    assert "monitoring.clinical.ctcae" in thresholds_module.RULE_MODULES


def test_the_thresholds_file_holds_the_ctcae_section():
    text = (ROOT / "data" / "thresholds.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    assert raw["meta"]["version"]
    parsed = load_ctcae(ROOT / "data" / "thresholds.toml")
    assert parsed.version == "5.0" and len(parsed.terms) == 17


def test_load_ctcae_reports_a_missing_file_or_section(tmp_path):
    with pytest.raises(ThresholdsError, match="file not found"):
        load_ctcae(tmp_path / "none.toml")
    (tmp_path / "t.toml").write_text('[meta]\nversion = "1"\n')
    with pytest.raises(ThresholdsError, match="ctcae: section missing"):
        load_ctcae(tmp_path / "t.toml")


# --- terms graded from several values (monitoring.clinical.toxicity, [ctcae_derived]) ----------------------
# CTCAE v5.0: Weight gain grade 1 "5 - <10% from baseline", 2 "10 - <20%", 3 ">=20%" (clinical.md §8
# item 8: baseline 80 kg: 83.9 -> 0, 84 -> 1, 88 -> 2, 96 -> 3); Urine output decreased: no grades
# 1-2, grade 3 "Adult: Oliguria (<80 ml in 8 hr)", grade 4 "Adult: Anuria (<240 ml in 24 hr)".

def _rows(code, values, *, period_hours=None):
    from datetime import datetime, timedelta, timezone
    start = datetime(2026, 11, 20, tzinfo=timezone.utc)
    out = []
    for i, v in enumerate(values):
        end = start + timedelta(hours=(period_hours or 1) * (i + 1))
        out.append({"patient_id": 1, "code": code, "value_num": v, "ref_low": None, "ref_high": None,
                    "observed_at": end, "period_start": end - timedelta(hours=period_hours) if period_hours else None})
    return pd.DataFrame(out)


@pytest.mark.parametrize("weight, grade", [(83.9, 0), (84.0, 1), (87.9, 1), (88.0, 2), (95.9, 2), (96.0, 3)])
def test_weight_gain_is_graded_from_the_baseline_weight(weight, grade):
    from monitoring.clinical.toxicity import derived_grades

    graded = derived_grades(_rows("weight", [weight]), baseline_weight={1: 80.0})
    assert graded["term"].tolist() == ["Weight gain"] and graded["grade"].tolist() == [grade]


def test_weight_gain_is_not_graded_without_a_baseline():
    from monitoring.clinical.toxicity import derived_grades

    assert derived_grades(_rows("weight", [96.0])).empty


@pytest.mark.parametrize("volumes, grades", [
    ([79], [3]),                  # < 80 mL in 8 h: oliguria
    ([80], [0]),                  # 80 mL is not below 80 (no grades 1-2 exist)
    ([100, 100, 39], [0, 0, 4]),  # 239 mL in 24 h: anuria (and 39 in 8 h)
    ([100, 100, 40], [0, 0, 3]),  # 240 in 24 h is not anuria, but 40 in 8 h is oliguria: grade 3
])
def test_urine_output_decreased_over_8_and_24_hours(volumes, grades):
    from monitoring.clinical.toxicity import derived_grades

    graded = derived_grades(_rows("urine_output", volumes, period_hours=8))
    assert graded["term"].unique().tolist() == ["Urine output decreased"]
    assert graded["grade"].tolist() == grades


def test_a_window_not_covered_by_records_is_not_graded():
    from monitoring.clinical.toxicity import derived_grades

    # 30 mL over 2 h: the 8 h are not covered, so no oliguria can be said (missing is never zero).
    assert derived_grades(_rows("urine_output", [30], period_hours=2))["grade"].tolist() == [0]


@pytest.mark.parametrize("volume, hours, grade", [
    (50, 12, 3),    # 50 mL over 12 h is 33 mL in the last 8 h: oliguria (the record covers the window)
    (100, 16, 3),   # 50 mL per 8 h
    (160, 16, 0),   # 80 mL per 8 h: not below 80
    (200, 24, 4),   # < 240 mL in 24 h: anuria
])
def test_a_record_longer_than_the_window_counts_for_its_part_inside_it(volume, hours, grade):
    from monitoring.clinical.toxicity import derived_grades

    assert derived_grades(_rows("urine_output", [volume], period_hours=hours))["grade"].tolist() == [grade]
