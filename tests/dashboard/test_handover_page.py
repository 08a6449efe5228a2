"""Issue 18 item 6 through the real page (AppTest): the outgoing nurse writes and saves the handover,
the incoming nurse acknowledges it, the writer cannot, and the oncologist reads it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitoring.clinical.shifts import handover_shift
from monitoring.config import load_settings
from monitoring.services import auth, handover
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent, Ward
from monitoring.views.handover import handover_record
from monitoring.views.lists import ward_patient_list
from tests.app_helpers import signed_in
from tests.conftest import seed_demo_ward

PAGE = "app_pages/handover.py"
NIGHT_NURSE = ("nurse.night", "Night nurse", "Night-nurse-pass-2026")


@pytest.fixture
def ward_url(app_db_url):
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    seed_demo_ward(app_db_url, patients=2, days=2, seed=5, end=end)
    engine = make_engine(app_db_url)
    with session_scope(engine) as session:
        auth.add_user(session=session, username=NIGHT_NURSE[0], display_name=NIGHT_NURSE[1], role="nurse",
                      password=NIGHT_NURSE[2], created_by="admin", ward_codes=["DEMO"])
    engine.dispose()
    return app_db_url


def ward_state(url):
    """The demo ward's id, its patients (bed order) and the stored handover of the shift handed over now."""
    engine = make_engine(url)
    tz = load_settings().timezone
    with session_scope(engine) as session:
        ward_id = session.scalars(select(Ward.id)).one()
        patients = [int(p) for p in ward_patient_list(session=session, ward_ids=[ward_id])["patient_id"]]
        stored = handover_record(session=session, ward_id=ward_id,
                                 shift_start=handover_shift(datetime.now(timezone.utc), tz).start)
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "handover")).all()
    engine.dispose()
    return ward_id, patients, stored, actions


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_outgoing_nurse_writes_and_saves_a_recommendation_per_patient(ward_url):
    _, patients, _, _ = ward_state(ward_url)
    at = signed_in("nurse", page=PAGE)
    assert at.title[0].value == "Shift handover" and not at.error
    shown = markdown(at)
    for section in ("S · Situation", "B · Background", "A · Assessment"):
        assert shown.count(section) == len(patients)
    assert "Not handed over yet" in shown
    assert [t.label for t in at.text_area] == [f"R · Recommendation for {bed}" for bed in ("Bed 01", "Bed 02")]
    at.text_area(key=f"handover_r_0_{patients[0]}").input("Recheck SBP at 21:00; fluid bolus if < 90")
    next(b for b in at.button if b.label == "Save handover").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.endswith("saved: 1 recommendation written.")
    assert "Handed over by** Demo nurse" in markdown(at) and "not acknowledged yet" in markdown(at)
    # The form starts again from what is stored: the words in their box, ready for a change.
    assert at.text_area(key=f"handover_r_1_{patients[0]}").value == "Recheck SBP at 21:00; fluid bolus if < 90"
    _, _, stored, actions = ward_state(ward_url)
    assert stored.notes[patients[0]].text == "Recheck SBP at 21:00; fluid bolus if < 90"
    assert actions == ["handover-save"]
    # The writer cannot acknowledge their own handover: no button, and why.
    assert not [b for b in at.button if b.label == "Acknowledge handover"]
    assert any("You wrote this handover" in c.value for c in at.caption)


def save_as_day_nurse(url, words: str) -> None:
    ward_id, patients, _, _ = ward_state(url)
    engine = make_engine(url)
    settings = load_settings()
    now = datetime.now(timezone.utc)
    with session_scope(engine) as session:
        handover.save(session=session, ward_id=ward_id, shift=handover_shift(now, settings.timezone),
                      recommendations={patients[-1]: words}, role="nurse", username="nurse", now=now,
                      tz=settings.timezone)
    engine.dispose()


def test_the_incoming_nurse_acknowledges_and_both_see_who_wrote_and_who_acknowledged(ward_url):
    save_as_day_nurse(ward_url, "Blood cultures due at 22:00")
    at = signed_in(NIGHT_NURSE[0], NIGHT_NURSE[2], page=PAGE)
    assert "Handed over by** Demo nurse" in markdown(at) and "not acknowledged yet" in markdown(at)
    assert "written by Demo nurse" in markdown(at)
    at.button(key="handover_acknowledge").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.endswith("acknowledged; written by Demo nurse.")
    assert "acknowledged by** Night nurse at" in markdown(at)
    assert any("You acknowledged this handover at" in c.value for c in at.caption)
    _, _, stored, actions = ward_state(ward_url)
    assert [a.by for a in stored.current_acknowledgements()] == [NIGHT_NURSE[0]]
    assert actions == ["handover-save", "handover-acknowledge"]


def test_the_oncologist_reads_the_handover_with_the_recommendations_and_cannot_write_or_acknowledge(ward_url):
    save_as_day_nurse(ward_url, "Blood cultures due at 22:00")
    at = signed_in("oncologist", page=PAGE)
    assert not at.exception and not at.text_area
    shown = markdown(at)
    assert "R · Recommendation" in shown and "Blood cultures due at 22:00" in shown and "none written" in shown
    assert not [b for b in at.button if b.label in ("Save handover", "Acknowledge handover")]
    assert any("The incoming nurse acknowledges the handover." in c.value for c in at.caption)
