"""Structured evidence: what a rule found, as records; words are rendered from them at the edges.

A rule describes each finding it shows as a list of *items* (JSON-ready dicts), stored with the
alert (Alert.evidence) and read by the pages, the pre-dose check, the exports and the alert levels.
Nothing downstream parses words: the text column of an alert is `render(items)`, and an edge that
needs other words (local times in a page, shifted dates in a FHIR export, no times at all in a
de-identified table) renders the same items with its own `when`.

Keys of an item (only `criterion` is always present):
  criterion   what the item states: the thresholds key it applies ("il2_hold.sbp_below",
              "news2.red_score"), or a rule's own name for a fact ("set", "missing", "context")
  kind        absolute | relative | discontinue (IL-2 hold criteria), met (a criterion of another
              rule), expected (explained by the IL-2 dose), not-explained, shown (a value shown
              for context), missing | stale (an input that could not be used), note
  code        the observation code or derived quantity the value is of ("sbp", "news2", "urine_per_8h")
  value       number or coded value (None when missing); unit: UCUM code of the value
  at          ISO 8601 UTC time of the value ("2026-11-20T15:00:00Z")
  op, limit   the comparison that was met ("<", 90)
  note        fixed words naming the source ("label: withhold", "Dutcher absolute")
  and, where a template needs them: from_value, from_at (the first reading of a run), hours,
  points (NEWS2 points of a parameter), missing (names), carried (value of an earlier set).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

Item = dict[str, Any]
When = Callable[[str], str]

#: Short label, unit as displayed and decimals of each code an item can name.
QUANTITIES: dict[str, tuple[str, str, int]] = {
    "temperature": ("T", " °C", 1), "heart_rate": ("HR", "/min", 0), "sbp": ("SBP", " mmHg", 0),
    "dbp": ("DBP", " mmHg", 0), "map": ("MAP", " mmHg", 0), "resp_rate": ("RR", "/min", 0),
    "spo2": ("SpO2", "%", 0), "on_oxygen": ("on oxygen", "", 0), "consciousness": ("ACVPU", "", 0),
    "gcs": ("GCS", "", 0), "o2_flow": ("oxygen", " L/min", 1), "fio2": ("FiO2", "%", 0),
    "anc": ("ANC", " x10^9/L", 2), "wbc": ("WBC", " x10^9/L", 2), "platelets": ("platelets", " x10^9/L", 0),
    "creatinine": ("creatinine", " mg/dL", 2), "bilirubin": ("bilirubin", " mg/dL", 1),
    "lactate": ("lactate", " mmol/L", 1), "albumin": ("albumin", " g/dL", 1), "weight": ("weight", " kg", 1),
    "weight_gain": ("weight", "% from baseline", 1), "urine_per_8h": ("urine output", " mL per 8 h", 0),
    "urine_output": ("urine output", " mL", 0), "urine_rate": ("urine output", " mL/kg/h", 2),
    "news2": ("NEWS2", "", 0), "qsofa": ("qSOFA", "", 0), "sirs": ("SIRS", "", 0),
    "phenylephrine": ("phenylephrine", " µg/kg/min", 2), "vasopressor": ("vasopressor", "", 0),
    "fluid_bolus": ("fluid bolus", " mL", 0), "blood_culture": ("blood culture", "", 0),
    "infection_suspected": ("infection suspected", "", 0), "antipyretic": ("antipyretic", "", 0),
    "held_doses": ("doses held this course", "", 0),
    "coma_hours": ("responds only to pain or unresponsive for", " h", 0),
}
#: Nurse-graded symptoms (CTCAE v5.0 grades) as items name them.
GRADE_LABELS: dict[str, str] = {
    "confusion": "confusion", "arrhythmia": "arrhythmia", "dyspnea": "shortness of breath", "diarrhea": "diarrhea",
    "vomiting": "vomiting", "nausea": "nausea", "mucositis": "mucositis", "rash": "rash", "pruritus": "pruritus",
    "rigors": "rigors", "fatigue": "fatigue", "hypotension": "hypotension",
}


def isos(ticks, unit: str) -> list[str | None]:
    """iso() of many ticks (NumPy's own formatting: one call for the lot)."""
    import numpy as np

    ticks = np.asarray(ticks, dtype=np.int64)
    texts = np.datetime_as_string(ticks.view(f"M8[{unit}]"), unit="s").tolist()
    return [None if t == "NaT" else t + "Z" for t in texts]


def utc_minute(at: str) -> str:
    """The engine's own wording of a time: '2026-11-20 15:00Z' (unambiguous on any ward)."""
    return f"{at[:10]} {at[11:16]}Z"


def number(value: Any) -> float | None:
    """A JSON-ready number: None for NaN (missing is never zero, and never NaN in JSON)."""
    if value is None:
        return None
    value = float(value)
    return None if value != value else value


def value_text(code: str, value: Any, decimals: int | None = None) -> str:
    """'85 mmHg', '38.6 °C', 'C' (coded), 'grade 3' (a graded symptom)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if decimals is None:
        fmt = _FORMATS.get(code)
        if fmt is not None:
            return fmt % value
    if code in GRADE_LABELS:
        return f"grade {int(value)}"
    _, unit, places = QUANTITIES.get(code, (code, "", 1))
    places = places if decimals is None else decimals
    return f"{value:.{places}f}{unit}"


#: '%.1f °C' per code: the formatting of value_text without a lookup per call (the engine formats
#: hundreds of thousands of values).
_FORMATS = {code: f"%.{places}f{unit.replace('%', '%%')}" for code, (_, unit, places) in QUANTITIES.items()}
_FORMATS.update({code: "grade %.0f" for code in GRADE_LABELS})


def label(code: str) -> str:
    return GRADE_LABELS.get(code) or QUANTITIES.get(code, (code,))[0]


def measured(item: Item, when: When) -> str:
    """'SBP 85 mmHg at 2026-11-20 15:00Z' for an item's code, value and time."""
    text = f"{label(item['code'])} {value_text(item['code'], item.get('value'), item.get('decimals'))}"
    return text + (f" at {when(item['at'])}" if item.get("at") else "")


def limit_text(item: Item) -> str:
    """'(< 90: label, withhold)' from op, limit and note; '' when the item has none."""
    parts = []
    if item.get("op") is not None and item.get("limit") is not None:
        limit = item["limit"]
        parts.append(f"{item['op']} {limit:g}" if isinstance(limit, (int, float)) else f"{item['op']} {limit}")
    if item.get("note"):
        parts.append(item["note"])
    return f" ({': '.join(parts)})" if parts else ""


def default_template(item: Item, when: When) -> str:
    if "code" not in item:
        return item.get("text", item["criterion"])
    return measured(item, when) + limit_text(item)


#: criterion -> template(item, when) -> words. Rule modules add theirs on import.
TEMPLATES: dict[str, Callable[[Item, When], str]] = {}


def template(*criteria: str):
    """Register the wording of these criteria (a decorator for a template function)."""
    def register(function: Callable[[Item, When], str]) -> Callable[[Item, When], str]:
        for criterion in criteria:
            TEMPLATES[criterion] = function
        return function
    return register


def is_structured(items) -> bool:
    """True for evidence stored as items (every alert evaluated since issue 14); False for the single
    text of older rows."""
    return isinstance(items, list) and all(isinstance(i, dict) and "criterion" in i for i in items)


def local_words(items, text: str | None, tz) -> str:
    """An alert's evidence for a page: rendered from its items with times in the installation's time zone ('04 Dec
    14:05 GMT'); the stored text of a row evaluated before the evidence was structured."""
    if not is_structured(items):
        return text or ""
    from monitoring.timefmt import local_text

    return render(items, lambda at: local_text(datetime.fromisoformat(at.replace("Z", "+00:00")), tz))


def render_item(item: Item, when: When = utc_minute) -> str:
    _load_templates()
    return TEMPLATES.get(item["criterion"], default_template)(item, when)


def render(items: Iterable[Item], when: When = utc_minute, sep: str = "; ") -> str:
    """The words of an alert's evidence: its items in order; the items of the onset finding, when
    the alert shows one apart from its worst, after ' | at onset: '."""
    worst, onset = [], []
    for item in items:
        (onset if item.get("at_onset") else worst).append(render_item(item, when))
    text = sep.join(t for t in worst if t)
    if onset:
        text += " | at onset: " + sep.join(t for t in onset if t)
    return text


def _load_templates() -> None:
    if not _loaded:
        import monitoring.clinical.rules  # noqa: F401  (rule modules register their templates on import)
        _loaded.append(True)


_loaded: list[bool] = []


@template("note")
def _note(item: Item, when: When) -> str:
    return item["text"]


@template("missing")
def _missing(item: Item, when: When) -> str:
    return "no valid value for: " + ", ".join(item["names"])


@template("stale")
def _stale(item: Item, when: When) -> str:
    return f"{measured(item, when)}: stale, not used"
