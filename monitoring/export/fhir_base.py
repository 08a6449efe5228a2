"""What every FHIR resource of the export shares: ids, references, meta (date-shift tag, security
label, profiles), JSON numbers and the shifted times of a de-identified export (module doc of
monitoring.export.fhir)."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from monitoring.clinical.rules.evidence import is_structured, render
from monitoring.export.deid import days_from
from monitoring.export.fhir_terminology import DATE_SHIFTED, PROJECT, PSEUDONYMISED, SYNTHETIC

EPOCH = pd.Timestamp("2000-01-01T00:00:00Z")
LEGACY_EVIDENCE_WITHHELD = "[evidence recorded before it was structured: withheld in a de-identified export]"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, PROJECT)
_NAMESPACE_BYTES = _NAMESPACE.bytes
_HEX = frozenset("0123456789abcdef")


def resource_id(export_key: str, kind: str, key: Any) -> str:
    """A uuid5 over the export key and the database id: stable per key, no database id readable.
    The string of uuid.uuid5(namespace, name), computed without its UUID objects (RFC 4122: SHA-1 of
    namespace + name, version 5, variant 10): a tenth of a large export's time went to them."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{export_key}|{kind}|{key}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _is_canonical_uuid(text: str) -> bool:
    """True for a UUID in its canonical lower-case form (as resource_id writes them)."""
    return (len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-"
            and set(text.replace("-", "")) <= _HEX)


def full_url(resource_type: str, resource_id_: str) -> str:
    """'urn:uuid:...' for a resource: its id when that is a UUID, else a uuid5 of 'Type/id'."""
    if _is_canonical_uuid(resource_id_):
        return f"urn:uuid:{resource_id_}"
    try:
        return f"urn:uuid:{uuid.UUID(resource_id_)}"
    except ValueError:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{resource_type}/{resource_id_}')}"


def reference(resource_type: str, resource_id_: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id_}"}


def meta(*, identifiable: bool, synthetic: bool = False, profile: str | None = None) -> dict[str, Any]:
    """meta of a resource: the profile it claims; de-identified, the date-shift tag and the HL7 security
    label PSEUDED; the synthetic-data tag on a synthetic Patient."""
    result: dict[str, Any] = {"profile": [profile]} if profile else {}
    tags = ([] if identifiable else [dict(_DATE_SHIFTED)]) + ([SYNTHETIC.coding()] if synthetic else [])
    if tags:
        result["tag"] = tags
    if not identifiable:
        result["security"] = [dict(_PSEUDONYMISED)]
    return result


_DATE_SHIFTED, _PSEUDONYMISED = DATE_SHIFTED.coding(), PSEUDONYMISED.coding()  # copied per resource (dict())


def with_meta(resource: dict[str, Any], meta_: dict[str, Any]) -> dict[str, Any]:
    """The resource with resourceType, id and meta first (the order FHIR's JSON examples use)."""
    return {"resourceType": resource.pop("resourceType"), "id": resource.pop("id"),
            **({"meta": meta_} if meta_ else {}), **resource}


def number(value: Any) -> int | float:
    """A JSON number (numpy scalars are not); integers without '.0'."""
    value = float(value)
    return int(value) if value.is_integer() else value


def iso_seconds(times: pd.Series) -> list[str | None]:
    """FHIR dateTimes in UTC to the second ('2000-01-01T07:55:12Z'); None where missing."""
    if times.empty:
        return []
    naive = pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy("datetime64[s]")
    return [None if text == "NaT" else text + "Z" for text in np.datetime_as_string(naive, unit="s").tolist()]


def _times_in(value: Any) -> Iterable[str]:
    """The ISO UTC times ('2026-11-20T15:00:00Z') anywhere in an evidence item."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _times_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _times_in(item)
    elif isinstance(value, str) and len(value) == 20 and value[10] == "T" and value[-1] == "Z":
        yield value


class Dates:
    """Real UTC times (identifiable: `starts` None) or times shifted so that each patient's first exported
    course starts at EPOCH: EPOCH + monitoring.export.deid.days_from(time, course start) days, i.e. the
    CSV export's 0.01 day, in whole seconds."""

    def __init__(self, starts: dict[int, pd.Timestamp] | None) -> None:
        self.starts = starts
        self._shifted: dict[tuple[int, str], str | None] = {}  # (patient, evidence time) -> shifted time

    def times(self, times: pd.Series, patient_ids: pd.Series) -> list[str | None]:
        times = pd.to_datetime(times, utc=True)
        if self.starts is not None and not times.empty:
            start = pd.to_datetime(patient_ids.map(self.starts), utc=True)
            seconds = (days_from(times, start) * 86_400).round()  # whole seconds: 0.01 day = 864 s
            times = EPOCH + pd.to_timedelta(seconds, unit="s")
        return iso_seconds(times)

    def prepare_evidence(self, evidence: Iterable[Any], patient_ids: Iterable[int]) -> None:
        """Shift every time in these alerts' evidence items at once (vectorised), for evidence() to look up:
        shifting one time at a time costs a pandas call each."""
        if self.starts is None:
            return
        pairs = sorted({(int(pid), at) for items, pid in zip(evidence, patient_ids) if is_structured(items)
                        for at in _times_in(items)} - self._shifted.keys())
        if pairs:
            shifted = self.times(pd.Series([at for _, at in pairs]), pd.Series([pid for pid, _ in pairs]))
            self._shifted.update(zip(pairs, shifted))

    def evidence(self, items: list | None, text: str | None, patient_id: int) -> str:
        """An alert's evidence in words, rendered from its structured items with every time shifted as
        the structured times are (real UTC when identifiable). Evidence stored before it was structured
        is shown as written when identifiable and withheld when not (its text holds real times)."""
        if not is_structured(items):
            return (text or "") if self.starts is None else LEGACY_EVIDENCE_WITHHELD
        structured: list[dict[str, Any]] = list(items or [])
        if self.starts is None:
            return render(structured)
        pid = int(patient_id)

        def when(at: str) -> str:
            if (pid, at) not in self._shifted:  # a time prepare_evidence did not see
                stamp = pd.Timestamp(datetime.fromisoformat(at))
                self._shifted[(pid, at)] = self.times(pd.Series([stamp]), pd.Series([pid]))[0]
            shifted = self._shifted[(pid, at)] or ""
            return f"{shifted[:10]} {shifted[11:16]}Z"

        return render(structured, when)
