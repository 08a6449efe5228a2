"""The one pseudonym scheme (monitoring.export.deid explains it): "P-" (or another prefix) + the first 10 hex
digits of HMAC-SHA256(key, a patient's pseudo_id, 128 random bits never shown). Used by the de-identified
exports (the export key; prefix P-) and by the administrator's audit view (the server's own key, migration
0018; prefix A-, so the two are never taken for each other). Pure: no database, no layer imported."""
from __future__ import annotations

import hashlib
import hmac

PSEUDONYM_PREFIX = "P-"
PSEUDONYM_HEX_DIGITS = 10
# 32 characters: 128 bits as hex (new_export_key), more as any other random text (NIST SP 800-107
# asks an HMAC key to hold at least the security strength wanted; 128 bits here).
MIN_EXPORT_KEY_CHARS = 32
GENERATE_KEY = "il2-monitor export-key"


def export_key_problems(export_key: str | None) -> list[str]:
    """Why a key cannot make pseudonyms (empty when it can)."""
    key = export_key or ""
    if not key:
        return [f"an export key is needed for pseudonyms (IL2_EXPORT_KEY or --key-stdin); make one with {GENERATE_KEY}"]
    if len(key) < MIN_EXPORT_KEY_CHARS or len(set(key)) < 8:
        return [f"the export key has {len(key)} characters ({len(set(key))} different); at least "
                f"{MIN_EXPORT_KEY_CHARS} random characters (128 bits) are needed, so that nobody can find it by "
                f"trying keys; make one with {GENERATE_KEY}"]
    return []


def pseudonym(pseudo_id: str, export_key: str, prefix: str = PSEUDONYM_PREFIX) -> str:
    """The patient's stable pseudonym under `export_key` (see monitoring.export.deid)."""
    problems = export_key_problems(export_key)
    if problems:
        raise ValueError(problems[0])
    digest = hmac.new(export_key.encode(), str(pseudo_id).encode(), hashlib.sha256).hexdigest()
    return prefix + digest[:PSEUDONYM_HEX_DIGITS]
