"""The quality team's kept export key and its generation (issue 20 item 2).

The key comes from the settings (IL2_EXPORT_KEY or IL2_EXPORT_KEY_FILE, at least 128 bits: Settings checks
it) with its generation number (IL2_EXPORT_KEY_GENERATION); it is never typed into a page. The same key gives
the same pseudonyms in every export (monitoring.export.deid), so a team follows a patient from one month's
report to the next. Rotating the key (a new key, the next generation number) starts a new pseudonym space:
the first export under it records the generation (exportkeygeneration, append-only, migration 0019) and
says so, and every export names the generation it used.

A generation names one key: the table keeps each generation's fingerprint (HMAC-SHA256 of a fixed text
under the key, 128 bits: it tells a changed key and never gives the key back). `team_key` refuses a key
changed under a generation already used, a key already used under another generation, and a generation
older than the newest one used (a rotation goes forward). Without a kept key, the Reports page uses a
one-off key per session (`ONE_OFF`), whose pseudonyms match no other export, and says so.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from monitoring.errors import RecordError
from monitoring.store.models import ExportKeyGeneration
from monitoring.store.repository import write_audit

FINGERPRINT_TEXT = b"il2-monitor export key fingerprint"
ONE_OFF = "one-off key of this session (no team key is set: these pseudonyms match no other export)"


def fingerprint(key: str) -> str:
    """32 hex digits of HMAC-SHA256(key, a fixed text): the same key, the same fingerprint."""
    return hmac.new(key.encode("utf-8"), FINGERPRINT_TEXT, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class TeamKey:
    key: str
    generation: int
    first_used_at: datetime
    first_used_by: str
    new: bool                    # this export is the first under this generation (a new pseudonym space)
    previous: int | None         # the generation before it, if any

    def describe(self, tz=timezone.utc) -> str:
        """'key generation 2 (first used 04 Dec 2026 by quality.lead)'."""
        return (f"key generation {self.generation} (first used {self.first_used_at.astimezone(tz):%d %b %Y} by "
                f"{self.first_used_by})")

    def rotation_note(self) -> str | None:
        """What a new generation means for the reader, on its first export; None otherwise."""
        if not self.new or self.previous is None:
            return None
        return (f"Key generation {self.generation} starts a new pseudonym space: its pseudonyms differ from those of "
                f"exports made with generation {self.previous} and earlier, so patients cannot be followed across "
                "the rotation.")


def team_key(*, session: Session, key: str, generation: int, username: str) -> TeamKey:
    """The kept key with its generation, recorded on first use (module docstring). RecordError naming the
    setting to change when the key and the generation do not agree with the generations already used."""
    seen = session.scalars(select(ExportKeyGeneration).order_by(col(ExportKeyGeneration.generation))).all()
    mark = fingerprint(key)
    by_generation = {g.generation: g for g in seen}
    by_mark = {g.fingerprint: g for g in seen}
    if generation in by_generation:
        row = by_generation[generation]
        if row.fingerprint != mark:
            raise RecordError([f"The export key changed but IL2_EXPORT_KEY_GENERATION is still {generation}: a new key "
                               "starts a new pseudonym space, so give it the next generation, "
                               f"{max(by_generation) + 1}."])
        return TeamKey(key, generation, row.first_used_at, row.first_used_by, False, None)
    if mark in by_mark:
        raise RecordError([f"This export key is generation {by_mark[mark].generation}, not {generation}: set "
                           f"IL2_EXPORT_KEY_GENERATION={by_mark[mark].generation}."])
    newest = max(by_generation) if by_generation else None
    if newest is not None and generation < newest:
        raise RecordError([f"IL2_EXPORT_KEY_GENERATION {generation} is older than generation {newest}, already used: "
                           f"a new key takes generation {newest + 1}."])
    row = ExportKeyGeneration(generation=generation, fingerprint=mark, first_used_by=username,
                              first_used_at=datetime.now(timezone.utc))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Two first exports under a new generation at once: the other one recorded it.
        return team_key(session=session, key=key, generation=generation, username=username)
    write_audit(session=session, username=username, action="export-key-generation", entity="export-key",
                after={"generation": generation, "previous": newest})
    return TeamKey(key, generation, row.first_used_at, username, True, newest)
