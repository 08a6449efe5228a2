"""The engine's per-patient fast path is the engine itself: evaluating one patient's rows must give
exactly that patient's rows of the whole ward's evaluation (same alerts, alert_key, evidence text,
context, counts and dtypes). The dashboard relies on it: it re-evaluates one patient after each save
(alerting.sync_alerts(patient_ids=[...])) and the whole ward on a schedule, and acknowledgements stay
attached only if both give the same alert identity."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pandas as pd
import pytest

from monitoring.clinical.engine import evaluate
from monitoring.demo import seed as demo

END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ward():
    obs, doses, courses = demo.engine_frames(demo.generate_ward(patients=12, days=7, seed=2026, end=END))
    return obs, doses, courses, evaluate(obs, doses, courses=courses, canonical=True, detail=True)


def test_the_demo_ward_raises_alerts_of_every_rule(ward):
    *_, alerts = ward
    from monitoring.clinical.rules import RULES

    assert set(alerts["rule"]) == set(RULES)


@pytest.mark.parametrize("patient", [f"DEMO-{i:03d}" for i in range(1, 13)])
def test_one_patient_alone_gives_exactly_his_rows_of_the_ward(ward, patient):
    obs, doses, courses, alerts = ward
    alone = evaluate(obs[obs["patient_id"] == patient], doses[doses["patient_id"] == patient],
                     courses=courses[courses["patient_id"] == patient], canonical=True, detail=True)
    expected = alerts[alerts["patient_id"] == patient].reset_index(drop=True)
    if expected.empty:
        assert alone.empty
        return
    pd.testing.assert_frame_equal(alone, expected)


def test_patients_in_any_order_and_with_others_give_the_same_alerts(ward):
    """Patient numbering and the neighbours in the frame do not change a patient's alerts."""
    obs, doses, courses, alerts = ward
    order = sorted(obs["patient_id"].unique(), reverse=True)
    shuffled = pd.concat([obs[obs["patient_id"] == p] for p in order], ignore_index=True)
    again = evaluate(shuffled, doses.iloc[::-1], courses=courses.iloc[::-1], canonical=True, detail=True)
    pd.testing.assert_frame_equal(again, alerts)


def test_the_store_gives_one_patient_the_alerts_of_the_whole_store(tmp_path, sqlite_template):
    """evaluate_store(patient_ids=[p]) (the path after each save) equals the full run's rows for p."""
    from monitoring.services.alerting import evaluate_store
    from monitoring.store.db import make_engine, session_scope

    path = tmp_path / "store.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=demo.generate_ward(patients=6, days=3, seed=1, end=END))
    with session_scope(engine) as session:
        everyone = evaluate_store(session=session)
        assert len(everyone)
        for patient_id in sorted(everyone["patient_id"].unique()):
            alone = evaluate_store(session=session, patient_ids=[int(patient_id)])
            expected = everyone[everyone["patient_id"] == patient_id].reset_index(drop=True)
            pd.testing.assert_frame_equal(alone, expected)
    engine.dispose()


def test_patients_too_many_for_one_key_are_evaluated_in_groups_with_the_same_result(ward, monkeypatch):
    """The (patient, time) key must fit int64; when it would not, the engine splits the patients."""
    from monitoring.clinical.rules import context

    obs, doses, courses, alerts = ward
    monkeypatch.setattr(context, "KEY_LIMIT", 2.0**44)  # about 3 patients per group here
    split = evaluate(obs, doses, courses=courses, canonical=True, detail=True)
    pd.testing.assert_frame_equal(split, alerts)
