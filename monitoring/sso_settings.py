"""Single sign-on settings that must hold before the app trusts an identity cookie (issue 16 item 2).

Streamlit signs its identity cookie (`_streamlit_user`) with `[auth] cookie_secret`. Anyone who knows
the secret can forge the cookie and be signed in as any mapped account, so the app refuses to run
with a secret that is missing, published (the example file's text) or short. 32 characters of
`secrets.token_urlsafe` carry about 190 bits; OWASP ASVS 4.0 V3.5.3 and V6.2 ask for signed tokens
with keys from a cryptographically secure generator, NIST SP 800-131A for at least 112 bits.
"""
from __future__ import annotations

from collections.abc import Mapping

MIN_COOKIE_SECRET_CHARS = 32
MIN_DISTINCT_CHARS = 12  # a long but repetitive secret ("aaaa...", "abcabc...") is as weak as a short one
# Published secrets: the example this repository ships, and Streamlit's documentation placeholder.
PUBLISHED_SECRETS = frozenset({"a long random string, identical on every replica", "xxx",
                               "from the identity provider"})
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def sso_setting_problems(auth_section: Mapping | None) -> list[str]:
    """Why the [auth] section cannot be trusted (empty when single sign-on is not configured or is sound)."""
    if not auth_section:
        return []
    problems = []
    secret = str(auth_section.get("cookie_secret") or "")
    if not secret:
        problems.append("[auth] cookie_secret is missing.")
    elif secret in PUBLISHED_SECRETS:
        problems.append("[auth] cookie_secret is the published example; anyone could forge a sign-in with it.")
    elif len(secret) < MIN_COOKIE_SECRET_CHARS:
        problems.append(f"[auth] cookie_secret has {len(secret)} characters; at least {MIN_COOKIE_SECRET_CHARS} "
                        "random characters are needed.")
    elif len(set(secret)) < MIN_DISTINCT_CHARS:
        problems.append(f"[auth] cookie_secret uses {len(set(secret))} different characters; a random secret of "
                        f"{MIN_COOKIE_SECRET_CHARS} characters uses more than {MIN_DISTINCT_CHARS}.")
    if str(auth_section.get("client_secret") or "") in PUBLISHED_SECRETS:
        problems.append("[auth] client_secret is still the example's text; copy it from the identity provider.")
    if problems:
        problems.append(f"Generate a cookie secret with: {GENERATE} (the same on every replica).")
    return problems
