"""The alert rules at their published boundaries, through the public API monitoring.evaluate.

Each case is built from the definition (clinical.md sections 2-5, 8), not from the implementation:
IDSA 2010 / CTCAE v5.0 febrile neutropenia, Sepsis-3 qSOFA, RCP NEWS2, KDIGO 2012, Dutcher 2014
Table 3 and the Proleukin label Table 2, with the IL-2 post-dose window of Dutcher 2014 Table 2.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from monitoring.clinical.engine import evaluate
from monitoring.clinical.thresholds import default_thresholds

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
NORMAL_VITALS = {"resp_rate": 16, "spo2": 97, "on_oxygen": "no", "sbp": 125, "heart_rate": 80,
                 "consciousness": "A", "temperature": 37.0}


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def obs(*rows: tuple) -> pd.DataFrame:
    """Rows of (hours after T0, code, value[, unit]) for patient P1, or (patient, hours, code, value)."""
    records = []
    for row in rows:
        patient, row = (row[0], row[1:]) if isinstance(row[0], str) and row[0].startswith("P") else ("P1", row)
        hours, code, value, *unit = row
        records.append({"patient_id": patient, "time": at(hours), "code": code, "value": value,
                        "unit": unit[0] if unit else ""})
    return pd.DataFrame(records)


def vitals(hours: float, patient: str = "P1", **changes) -> list[tuple]:
    values = {**NORMAL_VITALS, **changes}
    return [(patient, hours, code, value) for code, value in values.items() if value is not None]


def doses(*rows: tuple) -> pd.DataFrame:
    """Rows of (hours after T0, status) for P1."""
    return pd.DataFrame([{"patient_id": "P1", "time": at(h), "status": s} for h, s in rows])


def alerts_for(rule: str, observations: pd.DataFrame, dose_frame=None, **kwargs) -> pd.DataFrame:
    out = evaluate(observations, dose_frame, **kwargs)
    return out[out["rule"] == rule].reset_index(drop=True)


def with_definition(name: str):
    """The thresholds with febrile_neutropenia.definition switched (as a hospital would in the file)."""
    base = default_thresholds()
    parsed = dict(base._parsed)
    fn = parsed["febrile_neutropenia"]
    from monitoring.clinical.thresholds import parse_section
    raw = {**base.raw["febrile_neutropenia"], "definition": name}
    parsed["febrile_neutropenia"] = parse_section("febrile_neutropenia", raw, "test")
    assert parsed["febrile_neutropenia"] is not fn
    return type(base)(parsed, base.raw, base.path)


# --- febrile neutropenia ------------------------------------------------------------------------

@pytest.mark.parametrize("case, rows, expected", [
    ("37.9 with ANC 0.3: no fever", [(0, "temperature", 37.9), (1, "anc", 0.3)], False),
    ("38.3 once with ANC 0.4 (IDSA >= 38.3)", [(0, "temperature", 38.3), (1, "anc", 0.4)], True),
    ("38.2 once with ANC 0.4", [(0, "temperature", 38.2), (1, "anc", 0.4)], False),
    ("38.0 then 38.1 sixty minutes later, ANC 0.4", [(0, "temperature", 38.0), (1, "temperature", 38.1),
                                                     (1.5, "anc", 0.4)], True),
    ("38.0 then 38.1 fifty-nine minutes later", [(0, "temperature", 38.0), (59 / 60, "temperature", 38.1),
                                                (1.5, "anc", 0.4)], False),
    ("38.0, 37.6, 38.1 over an hour: broken", [(0, "temperature", 38.0), (0.5, "temperature", 37.6),
                                              (1, "temperature", 38.1), (1.5, "anc", 0.4)], False),
    ("38.5 with ANC 0.5: not < 0.5", [(0, "temperature", 38.5), (1, "anc", 0.5)], False),
    ("38.5 with ANC 0.8 and no trend", [(0, "temperature", 38.5), (1, "anc", 0.8)], False),
    ("ANC drawn 23 h after the fever", [(0, "temperature", 38.6), (23, "anc", 0.3)], True),
    ("ANC drawn 25 h after the fever", [(0, "temperature", 38.6), (25, "anc", 0.3)], False),
    ("ANC 0.3 known 20 h before the fever", [(0, "anc", 0.3), (20, "temperature", 38.6)], True),
    ("ANC 1.6, 1.2, 0.9 falling: predicted < 0.5 within 48 h", [(-48, "anc", 1.6), (-24, "anc", 1.2), (0, "anc", 0.9),
                                                                 (1, "temperature", 38.6)], True),
    ("ANC 0.95 then 0.9: slow fall, predicted above 0.5", [(-24, "anc", 0.95), (0, "anc", 0.9),
                                                          (1, "temperature", 38.6)], False),
    ("38.3 °C entered as 100.9 °F", [(0, "temperature", 100.94, "[degF]"), (1, "anc", 0.4)], True),
])
def test_febrile_neutropenia_idsa_2010(case, rows, expected):
    found = alerts_for("febrile-neutropenia", obs(*rows))
    assert (len(found) == 1) is expected, case
    if expected:
        assert found.loc[0, "severity"] == "urgent"
        assert "antibiotics due within 60 min" in found.loc[0, "evidence"]
        assert "IDSA 2010" in found.loc[0, "standard"]


def test_fn_onset_is_when_both_criteria_are_first_known():
    found = alerts_for("febrile-neutropenia", obs((0, "temperature", 38.6), (5, "anc", 0.3)))
    assert found.loc[0, "onset"] == T0 + timedelta(hours=5)
    assert "38.6 °C" in found.loc[0, "evidence"] and "ANC 0.30" in found.loc[0, "evidence"]


@pytest.mark.parametrize("case, rows, expected", [
    ("38.3 exactly: CTCAE needs > 38.3", [(0, "temperature", 38.3), (1, "anc", 0.9)], False),
    ("38.4 with ANC 0.9 (< 1.0)", [(0, "temperature", 38.4), (1, "anc", 0.9)], True),
    ("38.5 with ANC 0.8: yes under CTCAE", [(0, "temperature", 38.5), (1, "anc", 0.8)], True),
    ("38.4 with ANC 1.0", [(0, "temperature", 38.4), (1, "anc", 1.0)], False),
    (">= 38.0 for exactly 60 min: CTCAE needs more than one hour",
     [(0, "temperature", 38.0), (1, "temperature", 38.1), (1.5, "anc", 0.9)], False),
    (">= 38.0 for 61 min", [(0, "temperature", 38.0), (61 / 60, "temperature", 38.1), (1.5, "anc", 0.9)], True),
])
def test_febrile_neutropenia_ctcae_variant(case, rows, expected):
    found = alerts_for("febrile-neutropenia", obs(*rows), thresholds=with_definition("ctcae_5"))
    assert (len(found) == 1) is expected, case
    if expected:
        assert "CTCAE" in found.loc[0, "standard"]


# --- sepsis screen and the IL-2 schedule --------------------------------------------------------

def test_qsofa_2_outside_any_dose_raises_an_urgent_sepsis_alert():
    # RR 22 and SBP 100 (both inclusive, Sepsis-3), alert: qSOFA 2.
    found = alerts_for("sepsis-screen", obs(*vitals(0, resp_rate=22, sbp=100)))
    assert len(found) == 1 and found.loc[0, "severity"] == "urgent"
    assert "qSOFA 2" in found.loc[0, "evidence"]


def test_qsofa_1_alone_raises_nothing():
    assert alerts_for("sepsis-screen", obs(*vitals(0, resp_rate=21, sbp=100))).empty


def test_fever_and_tachycardia_2_hours_after_a_dose_are_the_expected_il2_effect_not_sepsis():
    # T 39.2 (NEWS2 2) and HR 131 (3): NEWS2 5 only from temperature and heart rate.
    rows = obs(*vitals(2, temperature=39.2, heart_rate=131))
    assert alerts_for("sepsis-screen", rows, doses((0, "given"))).empty
    expected = alerts_for("il2-expected-effect", rows, doses((0, "given")))
    assert len(expected) == 1 and expected.loc[0, "severity"] == "info"
    assert "after IL-2 dose 1" in expected.loc[0, "context"]


def test_the_same_fever_6_hours_after_the_dose_raises_the_sepsis_screen():
    found = alerts_for("sepsis-screen", obs(*vitals(6, temperature=39.2, heart_rate=131)), doses((0, "given")))
    assert len(found) == 1
    assert "outside the 1-4 h post-dose window" in found.loc[0, "context"]
    assert "fever outside the IL-2 post-dose window" in found.loc[0, "evidence"]


def test_fever_persisting_after_the_next_dose_was_held_raises_it():
    found = alerts_for("sepsis-screen", obs(*vitals(10, temperature=38.4)), doses((0, "given"), (8, "held")))
    assert len(found) == 1 and "doses held or stopped since" in found.loc[0, "context"]


@pytest.mark.parametrize("hours_after_dose, expected", [(0.9, True), (1.0, False), (4.0, False), (4.1, True)])
def test_the_post_dose_window_boundaries(hours_after_dose, expected):
    rows = obs(*vitals(hours_after_dose, temperature=38.4))
    assert (len(alerts_for("sepsis-screen", rows, doses((0, "given")))) == 1) is expected


def test_hypotension_with_lactate_is_a_shock_pattern_emergency_even_in_the_post_dose_window():
    rows = obs(*vitals(2, temperature=38.9, sbp=86), (1.5, "lactate", 2.6))
    found = alerts_for("sepsis-screen", rows, doses((0, "given")))
    assert found.loc[0, "severity"] == "emergency" and found.loc[0, "level"] == "septic shock pattern"
    assert "lactate 2.6 mmol/L" in found.loc[0, "evidence"]


def test_lactate_exactly_2_is_not_above_2():
    rows = obs(*vitals(2, temperature=38.9, sbp=86), (1.5, "lactate", 2.0))
    assert alerts_for("sepsis-screen", rows, doses((0, "given"))).empty


def test_a_rising_lactate_raises_it():
    rows = obs(*vitals(0), (0, "lactate", 2.2), *vitals(6), (6, "lactate", 2.9))
    found = alerts_for("sepsis-screen", rows)
    assert "rising from 2.2" in found.loc[0, "evidence"]


def test_rigors_after_il2_stopped_raise_it_and_rigors_in_the_window_do_not():
    in_window = obs((1.5, "rigors", 2))
    assert alerts_for("sepsis-screen", in_window, doses((0, "given"))).empty
    after_stop = obs((20, "rigors", 2))
    found = alerts_for("sepsis-screen", after_stop, doses((0, "given"), (8, "stopped")))
    assert found.loc[0, "level"] == "rigors outside the IL-2 post-dose window"


def test_stale_vital_signs_are_not_carried_beyond_4_hours():
    # RR 22 at 0 h, SBP 100 at 4 h 01: the RR is stale, so qSOFA is 1 and nothing fires.
    rows = obs(*vitals(0, resp_rate=22), ("P1", 4 + 1 / 60, "sbp", 100))
    assert alerts_for("sepsis-screen", rows).empty
    rows = obs(*vitals(0, resp_rate=22), ("P1", 4, "sbp", 100))
    found = alerts_for("sepsis-screen", rows)
    assert "RR 22/min (from 2026-11-20 08:00Z)" in found.loc[0, "evidence"]


def test_a_partial_set_says_what_news2_it_reaches_and_what_is_missing():
    rows = obs(*vitals(0, spo2=None, resp_rate=22, sbp=95))
    found = alerts_for("sepsis-screen", rows)
    assert "NEWS2 at least 4 (incomplete: spo2 missing)" in found.loc[0, "evidence"]


# --- AKI (KDIGO 2012) ---------------------------------------------------------------------------

@pytest.mark.parametrize("case, rows, stage", [
    ("+0.3 within 48 h", [(0, 0.9), (24, 1.2)], 1),
    ("+0.29 within 48 h, ratio 1.32", [(0, 0.9), (24, 1.19)], None),
    ("+0.3 but over 49 h", [(0, 0.9), (49, 1.2)], None),
    ("1.5 x the lowest of 7 days", [(0, 0.9), (72, 1.35)], 1),
    ("2.0 x", [(0, 0.9), (72, 1.8)], 2),
    ("3.0 x", [(0, 0.9), (72, 2.7)], 3),
    (">= 4.0 with an acute rise", [(0, 3.7), (24, 4.0)], 3),
    ("26.5 umol/L rise within 48 h", [(0, 79.6, "umol/L"), (24, 106.1, "umol/L")], 1),
])
def test_kdigo_creatinine(case, rows, stage):
    frame = obs(*[(h, "creatinine", v, *u) for h, v, *u in rows])
    found = alerts_for("aki", frame)
    if stage is None:
        assert found.empty, case
    else:
        assert found.loc[0, "level"] == f"KDIGO stage {stage} (creatinine)", case


def test_course_baseline_creatinine_counts_as_the_lowest_value():
    courses = pd.DataFrame([{"patient_id": "P1", "baseline_weight_kg": 80, "baseline_creatinine_mg_dl": 0.8,
                             "usual_sbp_mm_hg": 120}])
    found = alerts_for("aki", obs((24, "creatinine", 1.6)), courses=courses)
    assert found.loc[0, "level"] == "KDIGO stage 2 (creatinine)"


@pytest.mark.parametrize("volumes, stage", [
    ([300], 1),            # 300 mL / 80 kg / 8 h = 0.47 mL/kg/h for 8 h (>= 6 h)
    ([330], None),         # 0.52 mL/kg/h
    ([300, 300], 2),       # 16 h below 0.5
    ([150, 150, 150], 3),  # 0.23 mL/kg/h for 24 h
    ([0, 0], 3),           # anuria 16 h
])
def test_kdigo_urine_output(volumes, stage):
    rows = [(0, "weight", 80)] + [(8 * (i + 1), "urine_output", v) for i, v in enumerate(volumes)]
    found = alerts_for("aki", obs(*rows))
    if stage is None:
        assert found.empty
    else:
        assert found.loc[0, "level"] == f"KDIGO stage {stage} (urine output)"


# --- capillary leak -----------------------------------------------------------------------------

COURSE = pd.DataFrame([{"patient_id": "P1", "baseline_weight_kg": 80.0, "baseline_creatinine_mg_dl": 0.9,
                        "usual_sbp_mm_hg": 125}])


WARNING_GAIN, RELATIVE_GAIN = "weight gain at the warning level", "weight gain above the Dutcher relative criterion"


@pytest.mark.parametrize("weight, level, severity", [
    (87.9, None, None), (88.0, WARNING_GAIN, "warning"), (92.0, WARNING_GAIN, "warning"),
    (92.1, RELATIVE_GAIN, "urgent"),
])
def test_capillary_leak_weight_gain_from_course_baseline(weight, level, severity):
    found = alerts_for("capillary-leak", obs((24, "weight", weight)), courses=COURSE)
    if level is None:
        assert found.empty
    else:
        assert (found.loc[0, "level"], found.loc[0, "severity"]) == (level, severity)


def test_capillary_leak_with_two_companion_signs_is_urgent_and_names_them():
    rows = obs((24, "weight", 89), (23, "albumin", 2.4), (23.5, "sbp", 88))  # usual 125 -> target > 90
    found = alerts_for("capillary-leak", rows, courses=COURSE)
    assert found.loc[0, "severity"] == "urgent"
    assert "albumin 2.4 g/dL" in found.loc[0, "evidence"] and "SBP 88 mmHg" in found.loc[0, "evidence"]


@pytest.mark.parametrize("urgent_at_signs, severity", [(1, "urgent"), (2, "warning")])
def test_how_many_signs_make_a_leak_urgent_comes_from_the_thresholds_file(tmp_path, urgent_at_signs, severity):
    from monitoring.clinical.thresholds import REPO_ROOT, load_thresholds

    text = (REPO_ROOT / "data" / "thresholds.toml").read_text()
    local = tmp_path / "thresholds.toml"
    local.write_text(text.replace("urgent_at_signs = 2 ", f"urgent_at_signs = {urgent_at_signs} "))
    rows = obs((24, "weight", 89), (23, "albumin", 2.4))  # +11.25%, one sign
    found = alerts_for("capillary-leak", rows, courses=COURSE, thresholds=load_thresholds(local))
    assert found.loc[0, "severity"] == severity


@pytest.mark.parametrize("line, changed, message", [
    ("urgent_at_signs = 2 ", "urgent_at_signs = 4 ", "urgent_at_signs: found 4, expected a whole number from 1 to 3"),
    ("urgent_at_signs = 2 ", "urgent_at_signs = 0 ", "urgent_at_signs: found 0, expected a whole number from 1 to 3"),
    ("relative_for_hold = 3", "relative_for_hold = 0", "relative_for_hold: found 0, expected a whole number from 1"),
    ("relative_for_hold = 3", "relative_for_hold = 2.5", "relative_for_hold: found 2.5, expected a whole number"),
])
def test_a_count_of_signs_or_criteria_that_cannot_be_met_is_refused(tmp_path, line, changed, message):
    from monitoring.clinical.thresholds import REPO_ROOT, ThresholdsError, load_thresholds

    local = tmp_path / "thresholds.toml"
    local.write_text((REPO_ROOT / "data" / "thresholds.toml").read_text().replace(line, changed))
    with pytest.raises(ThresholdsError, match=message):
        load_thresholds(local)


# --- IL-2 hold criteria -------------------------------------------------------------------------

def hold(rows, dose_rows=((0, "given"),)) -> pd.DataFrame:
    """The hold alerts of a case (the warning that a dose was given on an incomplete check is a rule of
    its own, il2-incomplete-check: these cases have no data at the dose times)."""
    return alerts_for("il2-hold", obs(*rows), doses(*dose_rows))


@pytest.mark.parametrize("rows, decision", [
    (vitals(7, sbp=89), "hold"),                         # label: SBP < 90
    (vitals(7, sbp=90), None),
    (vitals(7, spo2=89), "hold"),                        # label: SpO2 < 90
    (vitals(7, consciousness="C"), "hold"),              # mental status change
    ([("P1", 7, "platelets", 29)], "hold"),              # Dutcher absolute < 30
    ([("P1", 7, "platelets", 30)], "discuss"),           # Dutcher relative 30-50
    ([("P1", 7, "platelets", 50)], None),
    ([("P1", 7, "creatinine", 2.49)], None),
    ([("P1", 7, "creatinine", 2.5)], "discuss"),         # Dutcher relative 2.5-2.9
    ([("P1", 7, "creatinine", 3.0)], "hold"),            # Dutcher absolute >= 3
    ([("P1", 7, "urine_output", 79)], "hold"),           # < 80 mL per 8-h shift
    ([("P1", 7, "urine_output", 80)], "discuss"),        # 80-160 relative
    ([("P1", 7, "urine_output", 160)], None),
    ([("P1", 7, "arrhythmia", 1)], "hold"),
    ([("P1", 7, "arrhythmia", 4)], "permanently discontinue"),
    ([("P1", 7, "platelets", 40), ("P1", 7, "creatinine", 2.6), ("P1", 7, "urine_output", 120)], "hold"),  # 3 relative
])
def test_hold_decision_at_the_next_dose(rows, decision):
    found = hold(rows)
    if decision is None:
        assert found.empty
    else:
        assert found.loc[0, "level"] == decision


def test_persisting_tachycardia_over_130_is_absolute_but_a_single_reading_is_relative():
    single = hold([*vitals(6, heart_rate=90), *vitals(7, heart_rate=135)])
    assert single.loc[0, "level"] == "discuss"
    persisting = hold([*vitals(6.5, heart_rate=134), *vitals(7, heart_rate=135)])
    assert persisting.loc[0, "level"] == "hold"


def test_no_hold_assessment_for_a_patient_without_il2_running():
    assert hold(vitals(30, sbp=85), dose_rows=((0, "given"),)).empty  # last dose 30 h before
    assert hold(vitals(7, sbp=85), dose_rows=((0, "given"), (6, "stopped"))).empty


def test_coma_for_more_than_48_hours_means_permanently_discontinue():
    rows = [("P1", h, "consciousness", "U") for h in range(0, 50, 4)] + [("P1", 49, "consciousness", "U")]
    # Two held doses only, so that the held-doses criterion (3 occasions) is not what stops IL-2 here.
    found = hold(rows, dose_rows=((0, "given"), (8, "held"), (40, "held")))
    discontinued = found[found["level"] == "permanently discontinue"]
    assert discontinued["evidence"].str.contains(r"unresponsive for 4\d h \(> 48: label: coma > 48 h").any()


# SpringerPlus 2015 (institutional): discontinue once the scheduled dose has been held on 3 occasions.
@pytest.mark.parametrize("held, decision", [(2, None), (3, "permanently discontinue"), (4, "permanently discontinue")])
def test_the_third_held_dose_of_a_course_means_permanently_discontinue(held, decision):
    dose_rows = [(0, "given")] + [(8 * (i + 1), "held") for i in range(held)]
    found = hold(vitals(8 * held + 1), dose_rows=dose_rows)
    if decision is None:
        assert found.empty
    else:
        assert found.iloc[-1]["level"] == decision
        # The episode's evidence is of the moment its level was first reached: the third held dose.
        assert "discontinue: 3 scheduled doses held this course (>= 3: SpringerPlus 2015" in \
            found.iloc[-1]["evidence"]


def test_held_doses_of_an_earlier_course_do_not_count():
    # Course 1: doses 1-4 with two held; course 2 (numbers restart at 1): one held. 3 in all, 1 this course.
    frame = pd.DataFrame([{"patient_id": "P1", "time": at(h), "status": s, "dose_number": n} for h, s, n in (
        (0, "given", 1), (8, "held", 2), (16, "held", 3), (24, "given", 4),
        (200, "given", 1), (208, "held", 2))])
    found = alerts_for("il2-hold", obs(*vitals(209)), frame)
    assert not (found["level"] == "permanently discontinue").any()


def test_hold_evidence_names_each_criterion_with_value_and_time_and_what_is_missing():
    found = hold(vitals(7, sbp=85))
    evidence = found.loc[0, "evidence"]
    assert "SBP 85 mmHg at 2026-11-20 15:00Z" in evidence
    assert "no valid value for: platelets, creatinine, urine output" in evidence


# --- identity and determinism -------------------------------------------------------------------

def test_evaluating_the_same_data_twice_gives_the_same_alerts_with_the_same_identity():
    rows = obs(*vitals(0, resp_rate=22, sbp=100), (1, "temperature", 38.6), (2, "anc", 0.3))
    first = evaluate(rows, detail=True)
    second = evaluate(rows.sample(frac=1, random_state=3), detail=True)
    pd.testing.assert_frame_equal(first, second)


def test_a_later_observation_keeps_the_alert_identity_and_raises_its_level():
    early = obs(*vitals(0, resp_rate=22, sbp=100))
    later = obs(*vitals(0, resp_rate=22, sbp=100), *vitals(2, resp_rate=22, sbp=85), ("P1", 1.5, "lactate", 3.0))
    a = evaluate(early, detail=True)
    b = evaluate(later, detail=True)
    a, b = a[a.rule == "sepsis-screen"], b[b.rule == "sepsis-screen"]
    assert a["alert_key"].tolist() == b["alert_key"].tolist()
    assert b["severity"].iloc[0] == "emergency"


def test_every_alert_carries_evidence_standard_and_context_columns():
    out = evaluate(obs(*vitals(0, resp_rate=22, sbp=100)))
    assert list(out.columns) == ["patient_id", "rule", "onset", "level", "severity", "evidence", "standard", "context",
                                 "evidence_items"]
    assert out["standard"].str.contains(r"\[").all()  # the source is cited


# --- the standard each alert shows: the numbers it applied --------------------------------------
# Each rule's standard is written from the thresholds in force, so the text a clinician reads with
# an alert cannot drift from the numbers that raised it when a hospital edits data/thresholds.toml.

def _alert(rule: str, thresholds=None) -> pd.Series:
    """One alert of `rule` from data that raise it under the shipped thresholds."""
    rows, dose_rows, courses = {
        "capillary-leak": (obs((24, "weight", 92.1)), None, COURSE),
        "sepsis-screen": (obs(*vitals(0, resp_rate=22, sbp=100, consciousness="C")), None, None),
        "il2-expected-effect": (obs(*vitals(2, temperature=38.6, heart_rate=118)), doses((0, "given")), None),
        "aki": (obs((0, "creatinine", 1.0), (24, "creatinine", 1.6)), None, None),
        "il2-hold": (obs(*vitals(7, sbp=89)), doses((0, "given")), None),
    }[rule]
    found = alerts_for(rule, rows, dose_rows, courses=courses, thresholds=thresholds)
    assert len(found) == 1, found
    return found.loc[0]


@pytest.mark.parametrize("rule, phrases", [
    ("capillary-leak", ["weight gain from the course baseline >= 10% (warning)", "> 15% (Dutcher relative criterion",
                        "albumin < 3 g/dL", "urine output < 160 mL per 8 h", "usual < 100 -> > 80",
                        "100-120 -> > 85", "> 120 -> > 90"]),
    ("sepsis-screen", ["qSOFA >= 2", "NEWS2 >= 7 (think sepsis): emergency", "NEWS2 5-6 (think sepsis)",
                       "lactate > 2 mmol/L with fever (>= 38 °C)", "lactate >= 4 mmol/L (hour-1 bundle)",
                       "SBP < 90 mmHg or MAP < 65 mmHg", "judged on its full score",
                       "lactate > 2 mmol/L that rose by >= 0.5 mmol/L from the previous value within 24 h",
                       "A lactate taken within 2 h after a set is judged with it"]),
    ("il2-expected-effect", ["heart rate up to 140/min", "hd-iv-bolus 1-4 h after a dose", "a fever up to 40 °C",
                             "the rest of NEWS2 below 5, no other parameter scoring 3, qSOFA < 2",
                             "hypothermia is never expected", "continuous-iv while the infusion runs and 4 h after it, "
                             "local-choice"]),
    ("aki", ["rise >= 0.3 mg/dL within 48 h", ">= 1.5 x the lowest value of the previous 7 days",
             "(1.5 -> 1, 2 -> 2, 3 -> 3)", ">= 4 mg/dL with an acute rise -> 3", "< 0.5 mL/kg/h for >= 6 h -> 1",
             "anuria for >= 12 h -> 3"]),
    ("il2-hold", [">= 3 relative criteria", "discuss: 1 to 2 relative criteria", "coma > 48 h", "held on 3 occasions",
                  "arrhythmia CTCAE grade >= 4", "fluid-refractory hypotension", "from 2 h before the next is due",
                  "between doses only danger signs raise an alert"]),
])
def test_each_alert_states_the_numbers_it_applied(rule, phrases):
    standard = _alert(rule)["standard"]
    for phrase in phrases:
        assert phrase in standard, (phrase, standard)


@pytest.mark.parametrize("rule, line, changed, phrase", [
    ("capillary-leak", "albumin_below_g_dl = 3.0 ", "albumin_below_g_dl = 2.8 ", "albumin < 2.8 g/dL"),
    ("capillary-leak", "urgent_at_signs = 2 ", "urgent_at_signs = 1 ", "with 1 or more of the signs"),
    ("sepsis-screen", "lactate_above_mmol_l = 2.0 ", "lactate_above_mmol_l = 2.5 ", "lactate > 2.5 mmol/L"),
    ("il2-expected-effect", "to_hours = 4.0\nstatus = \"verified\"\nbasis = \"Dutcher 2014 Table 2: chills",
     "to_hours = 5.0\nstatus = \"verified\"\nbasis = \"Dutcher 2014 Table 2: chills", "hd-iv-bolus 1-5 h after a dose"),
    ("aki", "rise_mg_dl = 0.3 ", "rise_mg_dl = 0.4 ", "rise >= 0.4 mg/dL"),
    ("il2-hold", "relative_for_hold = 3", "relative_for_hold = 2", ">= 2 relative criteria; discuss: 1 relative "
                                                                   "criterion;"),
])
def test_a_hospital_change_to_a_threshold_changes_the_standard_shown(tmp_path, rule, line, changed, phrase):
    from monitoring.clinical.thresholds import REPO_ROOT, load_thresholds

    text = (REPO_ROOT / "data" / "thresholds.toml").read_text()
    assert text.count(line) == 1
    local = tmp_path / "thresholds.toml"
    local.write_text(text.replace(line, changed))
    shipped, edited = _alert(rule)["standard"], _alert(rule, load_thresholds(local))["standard"]
    assert phrase not in shipped and phrase in edited


# --- the hold check at one moment (what the doses page shows then) ----------------------------------

def check_at(rows, dose_rows, hours: float, courses=None) -> tuple[str, list[str]]:
    """The pre-dose decision and the criteria met at T0 + hours, judged as at the time of dosing."""
    import numpy as np

    from monitoring.clinical.engine import _canonical, read_doses
    from monitoring.clinical.rules.context import prepare
    from monitoring.clinical.rules.il2_hold import DECISIONS, assess

    thresholds = default_thresholds()
    canonical = _canonical(obs(*rows)).assign(patient_id=0)
    dose_frame = read_doses(doses(*dose_rows)).assign(patient_id=0)
    data = prepare(canonical, dose_frame, courses, thresholds=thresholds, n_patients=1)
    moment = np.array([pd.Timestamp(at(hours)).as_unit(data.unit).asm8.view("i8")], dtype=np.int64)
    judged = assess(data, np.zeros(1, dtype=np.int64), moment, thresholds["il2_hold"], np.ones(1, dtype=bool))
    return DECISIONS[int(judged.decision[0])], judged.met_ids(0)


def test_febrile_neutropenia_holds_il2_while_the_count_stays_low_beyond_the_episode_gap():
    rows = [*vitals(1, temperature=39.0), (1, "anc", 0.1), (50, "anc", 0.1), *vitals(55.5)]
    decision, met = check_at(rows, ((0, "given"), (48, "given")), 56)
    assert decision == "hold" and "febrile_neutropenia" in met          # 55 h after the fever, ANC still 0.1
    recovered = [*vitals(1, temperature=39.0), (1, "anc", 0.1), (50, "anc", 2.1), *vitals(55.5)]
    assert "febrile_neutropenia" not in check_at(recovered, ((0, "given"), (48, "given")), 56)[1]


def test_the_phenylephrine_maximum_of_the_interval_counts_at_the_dose_that_ends_it():
    rows = [*vitals(-0.5), (3, "phenylephrine", 1.2), (5, "phenylephrine", 0.3), *vitals(7.5),
            (7.5, "phenylephrine", 0)]
    decision, met = check_at(rows, ((0, "given"), (8, "given")), 8)
    assert "phenylephrine_max_relative" in met                          # Dutcher: max 1-1.5 during the interval
