"""Issue 18 item 6 in the browser, at the 1366x768 ward workstation: the day nurse writes the handover
and saves it; the night nurse, in a browser of her own, reads who wrote it and acknowledges it. On its
own copy of the seeded demo ward (with a second nurse account) and its own server."""
from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bench.streamlit_server import serve
from monitoring.services import auth
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent, HandoverAcknowledgement, HandoverNote
from tests.e2e.conftest import wait_for_app_run
from tests.e2e.test_smoke import SHOTS, sign_in

NIGHT_NURSE = ("nurse.night", "Night nurse", "Night-nurse-pass-2026")
WORDS = "Dose due at 22:00: recheck SBP and urine output first; call the oncologist if SBP < 90."


@pytest.fixture(scope="module")
def handover_db(seeded_db_url, tmp_path_factory) -> str:
    copy = tmp_path_factory.mktemp("handover") / "ward.db"
    shutil.copy(seeded_db_url.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    with session_scope(engine) as session:
        auth.add_user(session=session, username=NIGHT_NURSE[0], display_name=NIGHT_NURSE[1], role="nurse",
                      password=NIGHT_NURSE[2], created_by="admin", ward_codes=["DEMO"])
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def handover_url(handover_db, tmp_path_factory, chromium_path):
    with serve(handover_db, tmp_path_factory.mktemp("handover-log") / "streamlit.log") as url:
        yield url


def open_page(browser, url: str, username: str, password: str):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(url + "/handover")
    wait_for_app_run(page)
    sign_in(page, username, password)
    expect(page.get_by_role("heading", name="Shift handover", exact=True)).to_be_visible()
    return context, page


def test_a_nurse_writes_the_handover_and_the_incoming_nurse_acknowledges_it(browser, handover_url, handover_db):
    day, nurse = open_page(browser, handover_url, "nurse", "demo-il2")
    try:
        expect(nurse.get_by_text("Not handed over yet", exact=False)).to_be_visible()
        expect(nurse.get_by_text("S · Situation").first).to_be_visible()
        box = nurse.get_by_role("textbox", name="R · Recommendation for Bed 02", exact=True)
        box.fill(WORDS)
        nurse.get_by_role("button", name="Save handover").click()
        expect(nurse.get_by_text("saved: 1 recommendation written.", exact=False)).to_be_visible(timeout=30_000)
        wait_for_app_run(nurse)
        expect(nurse.get_by_text("not acknowledged yet", exact=False)).to_be_visible()
        expect(nurse.get_by_text("You wrote this handover", exact=False)).to_be_visible()
        expect(nurse.get_by_role("button", name="Acknowledge handover")).to_have_count(0)
    finally:
        day.close()
    night, incoming = open_page(browser, handover_url, *NIGHT_NURSE[::2])
    try:
        expect(incoming.get_by_text("Handed over by Demo nurse", exact=False)).to_be_visible()
        expect(incoming.get_by_role("textbox", name="R · Recommendation for Bed 02", exact=True)).to_have_value(WORDS)
        button = incoming.get_by_role("button", name="Acknowledge handover")
        button.scroll_into_view_if_needed()
        SHOTS.mkdir(exist_ok=True)
        incoming.screenshot(path=str(SHOTS / "e2e-handover-before-acknowledging.png"))
        button.click()
        expect(incoming.get_by_text("acknowledged; written by Demo nurse.", exact=False)).to_be_visible(timeout=30_000)
        wait_for_app_run(incoming)
        expect(incoming.get_by_text("acknowledged by Night nurse at", exact=False)).to_be_visible()
        incoming.screenshot(path=str(SHOTS / "e2e-handover-acknowledged.png"))
    finally:
        night.close()
    engine = make_engine(handover_db)
    with session_scope(engine) as session:
        notes = session.scalars(select(HandoverNote)).all()
        acks = session.scalars(select(HandoverAcknowledgement)).all()
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "handover")
                                  .order_by(AuditEvent.id)).all()
        assert [(n.recommendation, n.written_by) for n in notes] == [(WORDS, "nurse")]
        assert [(a.acknowledged_by, a.version) for a in acks] == [(NIGHT_NURSE[0], 1)]
        assert actions == ["handover-save", "handover-acknowledge"]
    engine.dispose()
