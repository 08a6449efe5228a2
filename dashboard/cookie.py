"""The sign-in cookie: set and cleared in the browser by a zero-height component (issue 15).

`st.context.cookies` reads the cookies a browser sent when it connected, but Streamlit has no way to
set one. An st.iframe of an HTML string is served from the app's own origin (srcdoc, allow-same-origin),
so its script can write `parent.document.cookie`: no third-party package and nothing new to install.
What that gives: the cookie is a session cookie (gone when the browser closes), path /, SameSite=Strict,
and Secure whenever the page is served over HTTPS. What it cannot give: HttpOnly (a cookie set from
script is readable by script). The token alone is worthless after sign-out or the idle time-out
(monitoring.services.sessions ends it on the server); a reverse proxy can add HttpOnly in production.
"""
from __future__ import annotations

import json

import streamlit as st

from monitoring.services.sessions import COOKIE_NAME


def read() -> str | None:
    """The token the browser sent when this Streamlit session connected (None outside a browser)."""
    try:
        value = st.context.cookies.get(COOKIE_NAME)
    except Exception:  # bare runs have no request context
        return None
    return value if isinstance(value, str) and value else None   # AppTest answers with a stand-in object


def _script(value: str | None) -> str:
    cookie = (f"{COOKIE_NAME}={value}; path=/; SameSite=Strict" if value is not None else
              f"{COOKIE_NAME}=; path=/; SameSite=Strict; max-age=0")
    return (f"<script>const c = {json.dumps(cookie)} + (location.protocol === 'https:' ? '; Secure' : '');"
            "window.parent.document.cookie = c;</script>")


def keep(token: str) -> None:
    """Write the sign-in's token into the browser's cookie (idempotent: drawn on every run)."""
    st.iframe(_script(token), height=1)


def clear() -> None:
    """Remove the cookie (on the sign-in page: no sign-in to keep)."""
    st.iframe(_script(None), height=1)
