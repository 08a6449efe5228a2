"""The code systems, codes, profiles and extensions of the FHIR export, each with its source.

One table per concept; monitoring.export.fhir reads them and `terminology_markdown()` renders them for
docs/fhir.md (tests/export/test_fhir_docs.py checks the page carries the current tables, and the
export's checker that every code it emits is listed there).

Evidence tags as in docs/clinical.md §0: [V] seen in an authoritative artefact (HL7 specification,
HL7 terminology, CTCAE transcription), [S] seen in public FHIR code bases or implementation guides
only, [M] from memory, not verifiable here: check before a registry relies on it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitoring.clinical.catalogue import Catalogue, default_catalogue
from monitoring.clinical.rules import RULES
from monitoring.clinical.vocabulary import ALERT_STATUSES, DOSE_STATUSES

PROJECT = "https://il2-monitor.example/fhir"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
# HL7 Terminology (THO) CodeSystem "mdr": its canonical URL is https://www.meddra.org [V: THO CodeSystem-mdr,
# version 3.0.0 of 2023-06-14].
MEDDRA = "https://www.meddra.org"
# NCI Thesaurus as HL7 Terminology names it (the system of the THO value set of CTCAE grades) [V: THO].
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
ATC = "http://www.whocc.no/atc"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
AE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBSERVATION_CODES = f"{PROJECT}/CodeSystem/observation-code"
ALERT_RULES = f"{PROJECT}/CodeSystem/alert-rule"
DOSE_STATUS = f"{PROJECT}/CodeSystem/dose-status"
EXPORT_FLAG = f"{PROJECT}/CodeSystem/export-flag"


def answer_system(code: str) -> str:
    """The project's code system for the answers of one coded catalogue code that has no standard answers."""
    return f"{PROJECT}/CodeSystem/{code}"


@dataclass(frozen=True)
class Code:
    """One code the export may emit: its system, code, display and where it was checked."""

    system: str
    code: str
    display: str
    source: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


# --- vital-signs profiles (FHIR R4, hl7.org/fhir/R4/observation-vitalsigns.html) ---------------------

R4 = "http://hl7.org/fhir/StructureDefinition"
VITAL_SIGNS_SOURCE = ("FHIR R4 vital-signs profiles; codes of ValueSet observation-vitalsignresult [V: S29 of "
                      "docs/clinical.md]")


@dataclass(frozen=True)
class VitalProfile:
    """An R4 vital-signs profile: its canonical URL, the LOINC code it fixes, the UCUM units it takes."""

    url: str
    loinc: str | None          # None: the base profile (code from the vital-signs value set, extensible)
    units: tuple[str, ...]


VITALSIGNS = VitalProfile(f"{R4}/vitalsigns", None, ())
BP = VitalProfile(f"{R4}/bp", "85354-9", ("mm[Hg]",))
#: Catalogue code -> its profile. The blood-pressure panel is built from sbp and dbp (BP). MAP (8478-0)
#: takes the base profile, as the R4 example Observation 'mbp' does (category vital-signs, 8478-0) [V].
VITAL_PROFILES: dict[str, VitalProfile] = {
    "temperature": VitalProfile(f"{R4}/bodytemp", "8310-5", ("Cel", "[degF]")),
    "heart_rate": VitalProfile(f"{R4}/heartrate", "8867-4", ("/min",)),
    "resp_rate": VitalProfile(f"{R4}/resprate", "9279-1", ("/min",)),
    "spo2": VitalProfile(f"{R4}/oxygensat", "2708-6", ("%",)),
    "weight": VitalProfile(f"{R4}/bodyweight", "29463-7", ("kg", "g", "[lb_av]")),
    "map": VITALSIGNS,
}
BP_CODES = ("sbp", "dbp")  # the panel's components, in the panel's order

# LOINC codes the export adds to the catalogue's own (docs/clinical.md §7.1).
BP_PANEL = Code(LOINC, "85354-9", "Blood pressure panel with all children optional",
                "[V: S29; display as in the R4 example observation-example-bloodpressure]")
SAO2 = Code(LOINC, "2708-6", "Oxygen saturation in Arterial blood",
            "[V: S29] the code the R4 oxygensat profile fixes; 59408-5 (pulse oximetry) follows as a second coding")
BP_COMPONENTS = {
    "sbp": Code(LOINC, "8480-6", "Systolic blood pressure", "[V: S29]"),
    "dbp": Code(LOINC, "8462-4", "Diastolic blood pressure", "[V: S29]"),
}

# --- Observation.category (R4 CodeSystem observation-category) --------------------------------------

CATEGORY_SOURCE = "FHIR R4 CodeSystem observation-category [S: seen in FHIR examples and code bases]"
CATEGORIES = {name: Code(OBSERVATION_CATEGORY, name, display, CATEGORY_SOURCE) for name, display in (
    ("vital-signs", "Vital Signs"), ("laboratory", "Laboratory"), ("exam", "Exam"), ("therapy", "Therapy"))}

# --- answers ------------------------------------------------------------------------------------------

_ACVPU_SOURCE = ("[S: HL7 UK Care Connect ValueSet CareConnect-ACVPU-1 (SNOMED CT); the four AVPU codes also in "
                 "the ValueSet RS-AVPU-VS of the PH road-safety IG]")
_YES_NO_SOURCE = "[S: LOINC answer codes as used in several FHIR IGs' answer lists (LA33-6 Yes, LA32-8 No)]"
#: (catalogue code, stored value) -> the standard answer. Yes/no codes take LOINC's answers.
ANSWERS: dict[tuple[str, str], Code] = {
    ("consciousness", "A"): Code(SNOMED, "248234008", "Mentally alert", _ACVPU_SOURCE),
    ("consciousness", "C"): Code(SNOMED, "130987000", "Acute confusion", _ACVPU_SOURCE),
    ("consciousness", "V"): Code(SNOMED, "300202002", "Responds to voice", _ACVPU_SOURCE),
    ("consciousness", "P"): Code(SNOMED, "450847001", "Responds to pain", _ACVPU_SOURCE),
    ("consciousness", "U"): Code(SNOMED, "422768004", "Unresponsive", _ACVPU_SOURCE),
}
YES_NO = {"yes": Code(LOINC, "LA33-6", "Yes", _YES_NO_SOURCE), "no": Code(LOINC, "LA32-8", "No", _YES_NO_SOURCE)}


def answer(catalogue_code: str, value: str, allowed: Iterable[str]) -> Code | None:
    """The standard code of a coded value: ACVPU in SNOMED CT, yes/no in LOINC answers; None when none is
    known (the value then keeps the project's code system for that catalogue code)."""
    if (catalogue_code, value) in ANSWERS:
        return ANSWERS[(catalogue_code, value)]
    if set(allowed) == set(YES_NO):
        return YES_NO.get(value)
    return None


# --- the medication -----------------------------------------------------------------------------------

# Dose units the project records that are valid UCUM (dosing.py; clinical.md §7.2): others go as text.
DOSE_UNITS = ("[IU]", "[IU]/kg", "mg", "mg/kg", "ug", "ug/kg")

ALDESLEUKIN = Code(ATC, "L03AC01", "aldesleukin",
                   "[S: WHO ATC as listed in public code bases (a FHIR ValueSet of oncology drugs: 'L03AC01 "
                   "Aldesleukin'); the WHO ATC index itself was not reachable here]")
_ROUTE_SOURCE = "[S: SNOMED CT route codes in the FHIR rendering of DICOM CID 11 and the ONCOFAIR IG]"
#: The route the nurse recorded (monitoring.clinical.vocabulary.ROUTES) -> SNOMED CT.
ROUTES = {
    "IV": Code(SNOMED, "47625008", "Intravenous route", _ROUTE_SOURCE),
    "SC": Code(SNOMED, "34206005", "Subcutaneous route", _ROUTE_SOURCE),
    "intralesional": Code(SNOMED, "372466002", "Intralesional route",
                          "[S: SNOMED CT route listings in public code bases ('372466002 Intralesional route'; "
                          "FHIR value sets: 'Intralesional use')]"),
}

# --- adverse events -----------------------------------------------------------------------------------

_MEDDRA_SOURCE = "[V: S1] docs/clinical.md §1.3-1.14, table 'CTCAE v5.0 term (MedDRA code)'"
#: CTCAE v5.0 term -> its MedDRA code, for every term the monitor grades (monitoring.clinical.toxicity),
#: copied from docs/clinical.md (tests/export/test_fhir_terminology.py compares them with that table).
MEDDRA_CODES: dict[str, str] = {
    "Hypotension": "10021097", "Supraventricular tachycardia": "10042604", "Weight gain": "10047896",
    "Fever": "10016558", "Chills": "10008531", "Fatigue": "10016256", "Neutrophil count decreased": "10029366",
    "White blood cell decreased": "10049182", "Platelet count decreased": "10035528", "Anemia": "10002272",
    "Lymphocyte count decreased": "10025256", "Creatinine increased": "10011368",
    "Urine output decreased": "10059895", "Blood bilirubin increased": "10005364",
    "Aspartate aminotransferase increased": "10003481", "Alanine aminotransferase increased": "10001551",
    "Alkaline phosphatase increased": "10001675", "Hypoalbuminemia": "10020943", "Confusion": "10010300",
    "Diarrhea": "10012727", "Nausea": "10028813", "Vomiting": "10047700", "Mucositis oral": "10028130",
    "Rash maculo-papular": "10037868", "Pruritus": "10037087", "Dyspnea": "10013963",
    "Hypokalemia": "10021018", "Hyperkalemia": "10020647", "Hyponatremia": "10021038",
    "Hypomagnesemia": "10021028",
}
#: Terms the monitor grades that docs/clinical.md gives no MedDRA code for: exported as text only.
TERMS_WITHOUT_CODE = ("Hypernatremia",)


def meddra(term: str) -> Code | None:
    """The MedDRA code of a CTCAE v5.0 term (None when docs/clinical.md lists none: never invented)."""
    code = MEDDRA_CODES.get(term)
    return Code(MEDDRA, code, term, _MEDDRA_SOURCE) if code else None


# The CTCAE grade: extension 'ae-grade' of HL7's Adverse Event Clinical Research R4 Backport IG (STU1,
# 1.0.1), value from HL7 Terminology's ValueSet adverse-event-clinical-research-grades (NCI Thesaurus).
AE_GRADE_URL = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
_GRADE_SOURCE = "[V: THO ValueSet adverse-event-clinical-research-grades]"
_GRADE_SOURCE_45 = "[V: THO value set (code); display as in the CodeX RT value set of CTCAE grades]"
GRADES = {
    1: Code(NCIT, "C41338", "Grade 1 Mild Adverse Event", _GRADE_SOURCE),
    2: Code(NCIT, "C41339", "Grade 2 Moderate Adverse Event", _GRADE_SOURCE),
    3: Code(NCIT, "C41340", "Grade 3 Severe Adverse Event", _GRADE_SOURCE),
    4: Code(NCIT, "C41337", "Life Threatening or Disabling Adverse Event", _GRADE_SOURCE_45),
    5: Code(NCIT, "C48275", "Death Related to Adverse Event", _GRADE_SOURCE_45),
}
# AdverseEvent.severity (R4: required binding to adverse-event-severity): CTCAE's own words for the grades,
# "Mild" 1, "Moderate" 2, "Severe" 3 (docs/clinical.md §1.1 [V: S3]); 4 and 5 are beyond 'severe'.
_SEVERITY_SOURCE = "FHIR R4 CodeSystem adverse-event-severity [M]; mapping from CTCAE §1.1 [V: S3]"
SEVERITIES = {name: Code(AE_SEVERITY, name, name.capitalize(), _SEVERITY_SOURCE)
              for name in ("mild", "moderate", "severe")}
GRADE_SEVERITY = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}

# --- the rest -----------------------------------------------------------------------------------------

DATA_ABSENT_UNKNOWN = Code(DATA_ABSENT, "unknown", "Unknown", "FHIR R4 CodeSystem data-absent-reason [M]")
PSEUDONYMISED = Code(V3_OBSERVATION_VALUE, "PSEUDED", "pseudonymized", "HL7 v3 ObservationValue security label [M]")
SYNTHETIC = Code(V3_ACT_REASON, "HTEST", "test health data", "HL7 v3 ActReason [M]")
MRN_TYPE = Code(V2_0203, "MR", "Medical record number", "HL7 v2 table 0203 [M] (identifiable exports only)")
DATE_SHIFTED = Code(EXPORT_FLAG, "date-shifted", "Dates shifted: the course starts at 2000-01-01T00:00:00Z",
                    "this project (de-identified exports)")

# --- extensions ---------------------------------------------------------------------------------------

LOINC_EVIDENCE_URL = f"{PROJECT}/StructureDefinition/loinc-evidence"
DOSE_NUMBER_URL = f"{PROJECT}/StructureDefinition/il2-dose-number"
ALERT_STATUS_URL = f"{PROJECT}/StructureDefinition/alert-status"
EXTENSIONS = {
    AE_GRADE_URL: ("AdverseEvent", "CTCAE v5.0 grade (valueCodeableConcept, NCI Thesaurus grade codes)",
                   "HL7 Adverse Event Clinical Research R4 Backport IG, STU1 1.0.1 [V]"),
    LOINC_EVIDENCE_URL: ("Observation.code.coding (LOINC)", "evidence tag of the LOINC code: V, V2, S or M "
                         "(valueCode; docs/clinical.md §7.1)", "this project"),
    DOSE_NUMBER_URL: ("MedicationAdministration", "number of the IL-2 dose in the course (valuePositiveInt)",
                      "this project"),
    ALERT_STATUS_URL: ("DetectedIssue", "the alert's status on the ward (valueCode: "
                       + ", ".join(s for s in ALERT_STATUSES if s != "retracted") + ")", "this project"),
}


# --- every code, for the documentation and the checks -------------------------------------------------

def project_codes(catalogue: Catalogue) -> list[Code]:
    """The codes of the project's own code systems: catalogue codes, answers without a standard code,
    alert rules, dose statuses, the export flag."""
    codes = [Code(OBSERVATION_CODES, entry.code, entry.label, "data/catalogue.toml (docs/catalogue.md)")
             for entry in catalogue]
    for entry in catalogue:
        if entry.kind != "coded":
            continue
        codes += [Code(answer_system(entry.code), value, value, f"data/catalogue.toml: allowed values of {entry.code}")
                  for value in entry.allowed if answer(entry.code, value, entry.allowed) is None]
    codes += [Code(ALERT_RULES, rule_id, rule.standard, "monitoring.clinical.rules (docs/clinical-rules.md)")
              for rule_id, rule in RULES.items()]
    codes += [Code(DOSE_STATUS, status, status, "monitoring.clinical.vocabulary.DOSE_STATUSES")
              for status in DOSE_STATUSES if status != "given"]
    return codes + [DATE_SHIFTED]


def loinc_codes(catalogue: Catalogue) -> list[Code]:
    """The catalogue's LOINC codes with their evidence tags, then the codes the vital-signs profiles add."""
    codes = [Code(LOINC, entry.loinc, entry.label, f"[{entry.loinc_status}] docs/clinical.md §7.1 (catalogue: "
                  f"{entry.code})") for entry in catalogue if entry.loinc]
    return codes + [BP_PANEL, SAO2, *BP_COMPONENTS.values()]


def ucum_codes(catalogue: Catalogue, dose_units: Iterable[str]) -> list[Code]:
    """The UCUM units of the quantities: each catalogue code's canonical unit, and the dose units."""
    units: dict[str, str] = {}
    for entry in catalogue:
        if entry.kind == "numeric":
            units.setdefault(entry.unit, entry.unit_label or entry.unit)
    for unit in dose_units:
        units.setdefault(unit, unit)
    return [Code(UCUM, unit, label, "docs/clinical.md §7.2; data/catalogue.toml") for unit, label in units.items()]


def all_codes(catalogue: Catalogue | None = None, dose_units: Iterable[str] = DOSE_UNITS) -> list[Code]:
    """Every code the export can emit, once each (system, code)."""
    catalogue = catalogue or default_catalogue()
    codes = [*loinc_codes(catalogue), *CATEGORIES.values(), *ANSWERS.values(), *YES_NO.values(), ALDESLEUKIN,
             *ROUTES.values(), *(meddra(term) for term in MEDDRA_CODES), *GRADES.values(), *SEVERITIES.values(),
             DATA_ABSENT_UNKNOWN, PSEUDONYMISED, SYNTHETIC, MRN_TYPE, *ucum_codes(catalogue, dose_units),
             *project_codes(catalogue)]
    unique: dict[tuple[str, str], Code] = {}
    for code in codes:
        if code is not None:
            unique.setdefault((code.system, code.code), code)
    return list(unique.values())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def terminology_markdown(catalogue: Catalogue | None = None, dose_units: Iterable[str] = DOSE_UNITS) -> str:
    """The tables of docs/fhir.md: profiles, extensions and every (system, code) with its source."""
    lines = ["| Profile (meta.profile) | Fixed LOINC code | UCUM units | Exported from |", "|---|---|---|---|"]
    for code, profile in VITAL_PROFILES.items():
        lines.append(f"| `{profile.url}` | {profile.loinc or 'any vital-sign code'} | "
                     f"{', '.join(f'`{u}`' for u in profile.units) or 'any UCUM'} | {code} |")
    lines += [f"| `{BP.url}` | {BP.loinc} (components 8480-6, 8462-4) | `mm[Hg]` | sbp + dbp of one set |", "",
              "| Extension | On | Holds | Defined by |", "|---|---|---|---|"]
    lines += [f"| `{url}` | {on} | {_cell(holds)} | {source} |" for url, (on, holds, source) in EXTENSIONS.items()]
    lines += ["", "| System | Code | Display or label | Source |", "|---|---|---|---|"]
    lines += [f"| `{c.system}` | `{c.code}` | {_cell(c.display)} | {_cell(c.source)} |"
              for c in all_codes(catalogue, dose_units)]
    lines += ["", "CTCAE v5.0 terms the monitor grades for which docs/clinical.md gives no MedDRA code (exported "
              "as AdverseEvent.event.text only): " + ", ".join(TERMS_WITHOUT_CODE) + "."]
    return "\n".join(lines) + "\n"
