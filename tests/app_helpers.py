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
