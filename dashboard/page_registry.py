"""The pages of the dashboard, in menu order: one list that app.py builds the navigation from and the
tests read (a page file not listed here is never served; tests/services/test_auth.py checks both ways)."""
from __future__ import annotations

from typing import NamedTuple


class PageEntry(NamedTuple):
    path: str          # the page file, relative to dashboard/
    title: str
    icon: str
    url: str           # the address; two pages may share one when no role sees both
    permission: str    # monitoring.permissions permission; each page checks it again on the server
    in_menu: bool = True   # False: reached from the header row (My password), not listed in the menu


PAGES = [PageEntry(*row) for row in [
    ("app_pages/ward.py", "Ward overview", ":material/bed:", "ward", "view_patients"),
    ("app_pages/doses.py", "IL-2 doses", ":material/vaccines:", "doses", "record_doses"),
    # The oncologist's doses page has the same address: each role sees its own (no role has both).
    ("app_pages/dose_decisions.py", "IL-2 doses", ":material/vaccines:", "doses", "decide_doses"),
    ("app_pages/record.py", "Record observations", ":material/edit_note:", "record", "record_observations"),
    ("app_pages/review.py", "Daily review", ":material/checklist:", "review", "record_observations"),
    ("app_pages/handover.py", "Shift handover", ":material/handshake:", "handover", "view_patients"),
    ("app_pages/alerts.py", "Alert inbox", ":material/notifications:", "alerts", "view_patients"),
    ("app_pages/chart.py", "Patient chart", ":material/monitoring:", "chart", "view_patients"),
    ("app_pages/summary.py", "Patient summary", ":material/assignment_ind:", "summary", "view_patients"),
    ("app_pages/patients.py", "Patients", ":material/person_add:", "patients", "admit_patients"),
    ("app_pages/courses.py", "Courses", ":material/medication:", "courses", "view_patients"),
    ("app_pages/lab_import.py", "Lab import", ":material/upload_file:", "lab-import", "record_observations"),
    ("app_pages/reports.py", "Reports", ":material/summarize:", "reports", "view_reports"),
    ("app_pages/thresholds.py", "Thresholds", ":material/tune:", "thresholds", "view_thresholds"),
    ("app_pages/users.py", "Users", ":material/group:", "users", "manage_users"),
    ("app_pages/wards.py", "Wards", ":material/domain:", "wards", "manage_wards"),
    ("app_pages/audit.py", "Audit log", ":material/history:", "audit", "view_audit_log"),
]] + [PageEntry("app_pages/password.py", "My password", ":material/key:", "password", "change_own_password",
                in_menu=False)]


def first_url(role: str) -> str:
    """The address of the role's first page in the menu: where the root address, and signing in there, lands."""
    from monitoring.permissions import may

    return next(e.url for e in PAGES if e.in_menu and may(role, e.permission))
