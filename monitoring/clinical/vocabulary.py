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
# The route of each regimen (the dose form offers it first; the nurse can change it).
REGIMEN_ROUTE: dict[str, str] = {"hd-iv-bolus": "IV", "continuous-iv": "IV", "biochemotherapy": "IV",
                                 "til-il2": "IV", "low-dose-sc": "SC", "intralesional": "intralesional"}
# The indication of a course (issue 19 item 2): melanoma stage, and what IL-2 is given with.
INDICATION_STAGES: dict[str, str] = {"III": "Melanoma stage III", "IV": "Melanoma stage IV",
                                     "recurrent": "Recurrent melanoma"}
COMBINATIONS: dict[str, str] = {"il2-alone": "IL-2 alone", "il2-ifn": "IL-2 with interferon",
                                "il2-ifn-tmz": "IL-2 with interferon and temozolomide"}
# Which regimens each combination is given as. IL-2 with interferon and temozolomide is the
# biochemotherapy regimen and nothing else; IL-2 alone or with interferon is one of the schedules of
# IL-2 itself (interferon is a second drug, not a schedule of IL-2), biochemotherapy aside. IL-2 after
# TIL is the til-il2 regimen, and that regimen is always after TIL (services.courses checks both ways).
COMBINATION_REGIMENS: dict[str, tuple[str, ...]] = {
    "il2-alone": ("hd-iv-bolus", "continuous-iv", "low-dose-sc", "intralesional", "til-il2"),
    "il2-ifn": ("hd-iv-bolus", "continuous-iv", "low-dose-sc", "intralesional", "til-il2"),
    "il2-ifn-tmz": ("biochemotherapy",),
}
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
# Why a course ended, and the status it ends in: 'completed' as planned, 'stopped' for any other reason.
# Why an alert is declined (issue 20 item 3), chosen in the inbox so that a de-identified report can say why
# alerts are declined without the words typed; 'other' needs the reason typed.
DECLINE_CHOICES: dict[str, str] = {
    "expected-il2-effect": "Expected IL-2 effect, known and managed",
    "artefact": "Measurement artefact or wrong entry (the value is corrected)",
    "known-baseline": "The patient's known baseline, not new",
    "already-treated": "Already being treated for this",
    "duplicate": "Duplicate of another alert",
    "other": "Other (say why)",
}
END_REASONS: dict[str, str] = {"completed": "Completed", "toxicity": "Toxicity", "progression": "Progression",
                               "patient-choice": "Patient choice", "death": "Death"}
END_STATUS: dict[str, str] = {"completed": "completed", "toxicity": "stopped", "progression": "stopped",
                              "patient-choice": "stopped", "death": "stopped"}
# The oncologist's sign-off of the eligibility screen; the first two allow doses to be recorded.
SIGN_OFF_OUTCOMES: dict[str, str] = {"eligible": "Eligible",
                                     "eligible-after-discussion": "Eligible after discussion",
                                     "not-eligible": "Not eligible"}
