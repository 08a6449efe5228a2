"""Who may do what: each permission with the roles that hold it (one table; services check it on the
server for every action, the views use it to decide what a role sees, and the pages hide what a role
may not use)."""
from __future__ import annotations

PERMISSIONS: dict[str, frozenset[str]] = {
    # Identifiable patient data on the ward: names, record numbers, observations, alerts.
    "view_patients": frozenset({"nurse", "oncologist"}),
    # Every ward's patients, not only the wards assigned: the oncologist covers the whole unit.
    "view_all_wards": frozenset({"oncologist"}),
    "record_observations": frozenset({"nurse"}),
    "record_doses": frozenset({"nurse"}),
    "decide_doses": frozenset({"oncologist"}),
    "act_on_alerts": frozenset({"oncologist"}),
    # Start an IL-2 course, answer and sign off its eligibility screen, end it, start the next cycle.
    "manage_courses": frozenset({"oncologist"}),
    "escalate_alerts": frozenset({"nurse", "oncologist"}),
    # The ward's downtime print (names, record numbers, observations and alerts on paper; audited).
    "print_ward": frozenset({"nurse", "oncologist"}),
    # The shift handover (issue 18 item 6): the outgoing nurse writes it, the incoming nurse acknowledges
    # it; the oncologist reads it (view_patients).
    "write_handover": frozenset({"nurse"}),
    "acknowledge_handover": frozenset({"nurse"}),
    # Admission (issue 19 item 1): admit a new patient, find one already known (by record number across the
    # hospital, by name on the user's wards and among those who left), correct an identity with a reason.
    "admit_patients": frozenset({"nurse", "oncologist"}),
    # Transfer to another bed or ward, discharge home (stays on a ward's list) or out of the service.
    "move_patients": frozenset({"nurse", "oncologist"}),
    # De-identified summaries only: never a name or record number.
    "view_reports": frozenset({"quality", "oncologist"}),
    "export_identifiable": frozenset({"oncologist"}),
    "view_thresholds": frozenset({"admin", "oncologist"}),
    "manage_users": frozenset({"admin"}),
    # Wards and their beds (issue 19 item 4): apart from accounts, so a hospital could give it to a ward manager.
    "manage_wards": frozenset({"admin"}),
    "view_audit_log": frozenset({"admin"}),
    # Who an audit log's pseudonym is (issue 19 item 4): the administrator reads the trail by pseudonym;
    # only a clinician who may see every ward's patients may name the patient behind one (audited).
    "resolve_pseudonyms": frozenset({"oncologist"}),
    # Every signed-in user changes her own password (current password required).
    "change_own_password": frozenset({"nurse", "oncologist", "quality", "admin"}),
}


class PermissionDenied(PermissionError):
    """The signed-in role may not do this; the message says what and who may."""


def may(role: str | None, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return role in PERMISSIONS[permission]


def require(role: str | None, permission: str) -> None:
    """Raise PermissionDenied unless `role` holds `permission` (checked on the server for every action)."""
    if not may(role, permission):
        allowed = ", ".join(sorted(PERMISSIONS[permission]))
        raise PermissionDenied(f"Your role ({role or 'not signed in'}) may not {permission.replace('_', ' ')}; "
                               f"allowed: {allowed}.")
