"""Controlled vocabularies of the ward record: regimens, routes, eligibility items, statuses, roles.

Plain constants (no database): the clinical core, the pages and the store share them. The store's
migration turns each into a CHECK constraint, so a typo in code cannot store an unknown status.
"""
from __future__ import annotations

REGIMENS: dict[str, str] = {
    "hd-iv-bolus": "High-dose IV bolus every 8 h",
    "continuous-iv": "Continuous IV infusion",
    "low-dose-sc": "Low-dose subcutaneous (including self-injection at home)",
    "biochemotherapy": "IL-2 with interferon and temozolomide",
    "til-il2": "IL-2 after TIL cell infusion (after lymphodepletion)",
    "intralesional": "Intralesional IL-2",
}
# Short names for tables read on a 1366-px ward workstation.
REGIMEN_SHORT: dict[str, str] = {
    "hd-iv-bolus": "HD IV bolus q8h",
    "continuous-iv": "Continuous IV",
    "low-dose-sc": "Low-dose SC",
    "biochemotherapy": "IL-2 + IFN + TMZ",
    "til-il2": "TIL + IL-2",
    "intralesional": "Intralesional",
}
ROUTES = ("IV", "SC", "intralesional")
ELIGIBILITY_ITEMS: dict[str, str] = {
    "bedbound": "Bedbound",
    "supplemental_oxygen": "Needs supplemental oxygen",
    "active_brain_metastases": "Active brain metastases",
    "on_steroids": "On systemic steroids",
    "heart_disease": "Significant heart disease",
    "liver_disease": "Significant liver disease",
    "lung_disease": "Significant lung disease",
    "kidney_disease": "Significant kidney disease",
    "autoimmune_disease": "Autoimmune disease",
}
ELIGIBILITY_ANSWERS = ("yes", "no", "unknown")
DOSE_STATUSES = ("given", "held", "stopped")
# The oncologist's decision on one scheduled dose (DoseDecision): give it, hold it, discuss it at the
# bedside first, or stop IL-2 for the course.
DOSE_DECISIONS = ("give", "hold", "discuss", "stop")
RECORD_STATUSES = ("final", "amended", "entered-in-error")
OBSERVATION_SOURCES = ("manual", "device", "lab-import")
ALERT_STATUSES = ("open", "acknowledged", "declined", "escalated", "snoozed", "resolved", "retracted")
ALERT_ACTIONS = ("acknowledge", "decline", "escalate", "snooze", "resolve")
ROLES = ("nurse", "oncologist", "quality", "admin")
COURSE_STATUSES = ("planned", "active", "completed", "stopped")
# Administrative sex as FHIR R4 codes it (AdministrativeGender): what the admission form offers and the
# FHIR export maps one to one; 'unknown' is an answer, never a blank.
SEXES = ("female", "male", "other", "unknown")
# Where a patient is (monitoring.services.admission): in a bed of a ward; at home on a ward's list (low-dose
# SC self-injection, between cycles: still monitored); or gone from every ward's list (left the service;
# the record is kept). Each move is a Placement row with one of PLACEMENT_EVENTS.
PLACES = ("bed", "home", "left")
PLACEMENT_EVENTS = ("admit", "transfer", "discharge-home", "discharge")
