"""The dashboard shell under Streamlit's AppTest: real entry point, real database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitoring.demo import seed as demo
from monitoring.services.auth import ensure_demo_accounts
from monitoring.store.db import make_engine, session_scope
from tests.app_helpers import signed_in

APP = "../../dashboard/app.py"


@pytest.fixture
def app_db(app_db_url):
    return app_db_url


def seed(url: str, end: datetime = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)) -> None:
    engine = make_engine(url)
    ward = demo.generate_ward(patients=12, days=3, seed=1, end=end)
    with session_scope(engine) as session:
        demo.write_ward(session=session, ward=ward)
    with session_scope(engine) as session:
        ensure_demo_accounts(session=session, ward_codes=["DEMO"])
    engine.dispose()



def test_an_empty_database_says_how_to_get_patients(app_db):
    engine = make_engine(app_db)
    with session_scope(engine) as session:
        from monitoring.services import auth
        from monitoring.store import repository
        repository.get_or_create_ward(session=session, code="W1", name="Ward 1")
        auth.add_user(session=session, username="n1", display_name="Nurse One", role="nurse",
                      password="long-enough-1", created_by="test", ward_codes=["W1"])
    engine.dispose()
    at = signed_in("n1", "long-enough-1")
    assert "No patients on these wards" in at.info[0].value
    assert not any("Synthetic demo data" in m.value for m in at.markdown)  # no synthetic label without synthetic data


def test_the_ward_page_lists_every_demo_patient_with_the_synthetic_banner(app_db):
    seed(app_db)
    at = signed_in("nurse")
    strip = next(m.value for m in at.markdown if "Synthetic demo data" in m.value)   # the page's first strip
    table = at.dataframe[0].value
    assert len(table) == 12
    assert table["Patient"].str.endswith("(synthetic)").all()
    assert table["Bed"].notna().all()
    regimens = set(table["Course"].str.split(" · ").str[0])
    assert regimens >= {"HD IV bolus q8h", "TIL + IL-2"}
    assert "Decision support only" in strip
    # The chart code is loaded by a timer tick after the overview is shown (dashboard.warm_up), never
    # in a full run of the page: the overview is drawn as fast as without it.
    at.run()
    assert not at.exception and not at.get("plotly_chart")


def test_under_the_overview_every_patient_graded_today_is_listed_with_the_values_behind_the_grades(app_db):
    now = datetime.now(timezone.utc)
    seed(app_db, end=now)
    # A temperature a minute ago, so that something is graded today even just after midnight.
    from monitoring.clinical.inputs import ObservationInput
    from monitoring.services import entry
    from monitoring.store.models import Patient

    engine = make_engine(app_db)
    with session_scope(engine) as session:
        first = session.scalars(select(Patient.id).order_by(Patient.id)).first()
        entry.record_set(session=session, patient_id=first, values=[ObservationInput("temperature", 38.4, "°C")],
                         observed_at=now - timedelta(minutes=1), username="nurse", now=now)
    engine.dispose()
    at = signed_in("nurse")
    table = at.dataframe[0].value
    # Bed and name (as written: markdown marks escaped): two synthetic patients may share a name.
    from dashboard.markdown_text import plain
    beds = table["Bed"].map(plain) + " · " + table["Patient"].map(plain)
    graded_today = beds[table["CTCAE today"] != "–"]
    # One text for the whole list (a hospital's list was one element per patient, issue 21).
    behind = next(e for e in at.expander if e.label == "Values behind today's grades").markdown
    assert len(behind) == 1 and len(graded_today) > 0
    assert [b for b in beds if f"**{b}**" in behind[0].value] == graded_today.tolist()
    assert "grade" in behind[0].value


def test_the_alerts_page_shows_each_alert_with_evidence_standard_and_context(app_db):
    from monitoring.services.alerting import sync_alerts

    seed(app_db)
    engine = make_engine(app_db)
    with session_scope(engine) as session:
        counts = sync_alerts(session=session)
    engine.dispose()
    assert counts["new"] > 0
    at = signed_in("oncologist")
    at.switch_page("app_pages/alerts.py").run()
    assert not at.exception
    patients = at.selectbox(key="alerts_patient")
    shown = {}
    for option in patients.options:
        at.selectbox(key="alerts_patient").select(option).run()
        shown[option] = [m.value for m in at.markdown if m.value.startswith("**Evidence:**")]
    assert not at.exception
    assert max(len(v) for v in shown.values()) > 0
    busiest = max(shown, key=lambda o: len(shown[o]))
    at.selectbox(key="alerts_patient").select(busiest).run()
    assert any("Standard:" in c.value and "[" in c.value for c in at.caption)
    at.toggle(key="show_expected").set_value(True).run()
    with_expected = [m.value for m in at.markdown if m.value.startswith("**Evidence:**")]
    assert len(with_expected) >= len(shown[busiest])


def test_a_database_without_the_current_schema_is_named_not_crashed(tmp_path, monkeypatch):
    """Issue 17: schemas change only through il2-monitor db upgrade; the app says so instead of failing
    on every page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    st.cache_resource.clear()
    try:
        at = AppTest.from_file("../../dashboard/app.py", default_timeout=30).run()
        assert not at.exception and not at.text_input
        assert "run `il2-monitor db upgrade` first" in at.error[0].value
    finally:
        st.cache_resource.clear()


def test_a_setting_the_monitor_cannot_use_is_named_on_screen_not_crashed(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("IL2_TIMEZONE", "Mars/Olympus")
    st.cache_resource.clear()
    try:
        at = AppTest.from_file("../../dashboard/app.py", default_timeout=30).run()
        assert not at.exception and not at.text_input   # no sign-in form on a misconfigured monitor
        assert "IL2_TIMEZONE 'Mars/Olympus': is not an IANA time zone" in at.error[0].value
    finally:
        st.cache_resource.clear()
