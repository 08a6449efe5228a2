"""Driving the real dashboard under Streamlit's AppTest: sign in through the form, open a page."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from monitoring.services.auth import DEMO_PASSWORD

# Absolute: AppTest resolves a relative path against the file that calls it.
APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def signed_in(username: str, password: str = DEMO_PASSWORD, page: str | None = None) -> AppTest:
    """The app after signing in through the sign-in form, optionally switched to `page`."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click().run()
    assert not at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception
    return at


def idle_past_the_time_out(url: str) -> None:
    """Every open sign-in of the store at `url` was last active one minute beyond the idle time-out."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import select

    from monitoring.services.auth import SESSION_TIMEOUT_MINUTES
    from monitoring.store.db import make_engine, session_scope
    from monitoring.store.models import SignInSession

    engine = make_engine(url)
    with session_scope(engine) as session:
        for row in session.scalars(select(SignInSession)):
            row.last_activity_at = datetime.now(timezone.utc) - timedelta(minutes=SESSION_TIMEOUT_MINUTES + 1)
    engine.dispose()


def disable_account(url: str, username: str) -> None:
    """An administrator disables `username` (as on the Users page), while the user is signed in."""
    from monitoring.services.auth import set_active
    from monitoring.store.db import make_engine, session_scope

    engine = make_engine(url)
    with session_scope(engine) as session:
        set_active(session=session, username=username, active=False, changed_by="admin")
    engine.dispose()
