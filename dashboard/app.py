"""Entry point: page configuration, sign-in (kept across a refresh), synthetic-data banner and
role-based navigation. Every page has an address; opened before signing in, the address shows the
sign-in form and then the page."""
import sys
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `streamlit run dashboard/app.py` from anywhere

import streamlit as st

# No traceback (SQL, paths) on any screen, wherever the app was started from: .streamlit/config.toml
# is read only from the working directory, so the settings are made here as well, before anything
# that could fail on import (issue 16 item 10; the Makefile also passes them on the command line,
# which applies from the very first run).
st.set_option("client.showErrorDetails", "none")
# Tables have no download or copy (issue 16 item 5): data leaves only through the audited exports.
st.set_option("client.disableDataExport", True)

# A setting the monitor cannot use: name it, its value and what is accepted, instead of failing on import.
from dashboard.resources import get_settings  # noqa: E402
from monitoring.config import SettingsError  # noqa: E402

try:
    get_settings()
except SettingsError as problem:
    st.error(f"The monitor is not configured correctly; an administrator must fix: {problem}")
    st.stop()

from dashboard import cookie, sign_in  # noqa: E402  (after the options above, on purpose)
from dashboard.alert_bar import show_alert_bar  # noqa: E402
from dashboard.banner import show_banner  # noqa: E402
from dashboard.page_registry import PAGES, first_url  # noqa: E402
from dashboard.session import (  # noqa: E402
    FAILED_BEFORE_KEY,
    NOT_ALLOWED_KEY,
    TOKEN_KEY,
    current_user,
    enforce_timeout,
    resume_from_cookie,
    sign_out,
    watch_idle,
)
from monitoring.services.auth import SESSION_TIMEOUT_MINUTES, may  # noqa: E402
from monitoring.sso_settings import sso_setting_problems  # noqa: E402

st.set_page_config(page_title="IL-2 Toxicity Monitor", page_icon=":material/monitor_heart:", layout="wide")

# A database whose schema is behind this code: say what to run instead of failing on every page
# (schemas change only through `il2-monitor db upgrade` or make run). Checked once per browser session.
if "schema_checked" not in st.session_state:
    from dashboard.resources import get_engine
    from monitoring.services.transactions import schema_problem

    schema = schema_problem(get_engine())
    if schema is not None:
        st.error(f"The monitor cannot open this database: {schema}.")
        st.stop()
    st.session_state["schema_checked"] = True

# A forgeable identity cookie would sign anyone in as anyone: refuse to run (issue 16 item 2).
sso_problems = sso_setting_problems(sign_in.sso_section())
if sso_problems:
    st.error("Single sign-on is not configured safely, so the monitor does not run. An administrator must "
             "fix .streamlit/secrets.toml:\n\n" + "\n".join(f"- {problem}" for problem in sso_problems))
    st.stop()


HOME = "home"   # the hidden default page behind "/" (never shown in the menu)

resume_from_cookie()     # a refresh: the browser's sign-in, if still open
enforce_timeout()
show_banner()
user = current_user()
if user is None:
    cookie.clear()
    # Each page's address shows the sign-in form; a page has the same identity (its url path) signed in
    # or not, so after signing in the rerun opens the page that was asked for.
    addresses = {url: st.Page(sign_in.show, title="Sign in", url_path=url)
                 for url in dict.fromkeys(entry.url for entry in PAGES)}
    # Signed in at the root address, the rerun goes straight to the role's first page (one run fewer than
    # through the signed-in root below, which would switch to it: issue 21).
    root = st.Page(lambda: sign_in.show(then=lambda role: addresses[first_url(role)]), title="Sign in",
                   url_path=HOME, default=True, visibility="hidden")
    st.navigation([root, *addresses.values()], position="hidden").run()
    st.stop()

# The menu shows titles only: with their icons, a nurse's 11 pages overflowed a 1366-px screen into "3 more",
# which hid Patients, Courses and Lab import (and which page was open) behind a click; without, all fit.
pages = [st.Page(entry.path, title=entry.title, url_path=entry.url,
                 visibility="visible" if entry.in_menu else "hidden")
         for entry in PAGES if may(user["role"], entry.permission)]
# One header row (issue 18 item 5: the ward's rows must fit a 768-px screen): the open alerts of the
# user's wards (drawn below, once the page is known), who is signed in, their own password, and Sign out.
alerts_area, who, own, leave = st.columns([8.8, 2.3, 1.4, 1.1], vertical_alignment="center")
who.markdown(f"<div style='font-size:0.85rem;text-align:right'>Signed in as <b>{escape(user['display_name'])}</b> "
             f"({escape(user['role'])})</div>", unsafe_allow_html=True)
leave.button("Sign out", on_click=sign_out, key="sign_out", width="stretch",
             help=f"Signs out after {SESSION_TIMEOUT_MINUTES:g} min without activity")
with who:   # zero-height helpers in the header row, not as gaps above the page
    if TOKEN_KEY in st.session_state:
        cookie.keep(st.session_state[TOKEN_KEY])
    watch_idle()
# The root address opens the role's first page under its own address: Streamlit serves its default page
# only at "/", so a default Ward overview made "/ward" (a bookmark, the sign-in's address) "Page not found".
first = next(p for p in pages if p.url_path == first_url(user["role"]))   # the role's first page in the menu
home = st.Page(lambda: st.switch_page(first, query_params=st.query_params.to_dict()), title=first.title,
               url_path=HOME, default=True, visibility="hidden")   # the address's patient is kept
page = st.navigation([home, *pages], position="top")  # the full width for tables on a 1366-px ward workstation
own_page = next((p for p in pages if p.url_path == "password"), None)
if own_page is not None:   # linked once the navigation holds it (a link before would name the sign-in's page)
    own.page_link(own_page, label="Password", icon=":material/key:", help="My password: change your own password")
if FAILED_BEFORE_KEY in st.session_state and page is not home:   # shown on the page opened, once
    st.warning(st.session_state.pop(FAILED_BEFORE_KEY), icon=":material/lock:")
if NOT_ALLOWED_KEY in st.session_state:
    st.error(st.session_state.pop(NOT_ALLOWED_KEY), icon=":material/block:")
inbox = next((p for p in pages if p.url_path == "alerts"), None)
if inbox is not None and page is not home:
    # Every clinical page: the open alerts of the user's wards, and a toast for each new emergency or
    # escalation (issue 18 item 1).
    with alerts_area:
        show_alert_bar(user, inbox)
page.run()
