"""The downtime print (issue 18 item 7): a ward's patients on paper, for when the system is down.

A4 landscape, each patient on pages of their own: the patient banner, the last 24 h of observation sets
as a NEWS2 chart that can be continued by hand, the alerts needing attention, the doses with the next
ones to write in, and a blank pre-dose check with the items of the live one. Made by
`il2-monitor print ward --ward CODE` (a scheduled job keeps a recent copy) and by the ward overview's
"Print ward (PDF)" button; names and record numbers leave the system on it, so each print is audited.

content.py reads what the pages read; layout.py lays it out with reportlab; fonts.py says why the
typeface is the one shipped inside reportlab.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone, tzinfo

from sqlmodel import Session

from monitoring.export.ward_print.content import WardSheet, ward_sheet
from monitoring.export.ward_print.layout import Rendered, render
from monitoring.permissions import PermissionDenied, require
from monitoring.store.repository import write_audit
from monitoring.views.dosing import blank_checklist

__all__ = ["MAX_HOURS", "Rendered", "WardSheet", "authorise", "filename", "record_print", "ward_pdf"]

#: The longest look-back a print accepts (hours): the grid of a longer one would not be a day's chart.
MAX_HOURS = 72.0
MEDIA_TYPE = "application/pdf"


def ward_pdf(*, session: Session, ward_ids: Sequence[int], now: datetime, tz: tzinfo, hours: float = 24.0,
             compress: bool = True) -> Rendered:
    """The downtime PDF of these wards' patients as of `now` (observation sets of the last `hours`)."""
    if not 0 < hours <= MAX_HOURS:
        raise ValueError(f"hours {hours:g} is not accepted: more than 0 and at most {MAX_HOURS:g}")
    sheet = ward_sheet(session=session, ward_ids=ward_ids, now=now, tz=tz, hours=hours)
    return render(sheet, blank_checklist(), compress=compress)


def authorise(role: str | None, *, ward_ids: Sequence[int], visible_ids: Sequence[int]) -> None:
    """Raise PermissionDenied unless the role may print (print_ward) and every ward is one it may see."""
    require(role, "print_ward")
    hidden = sorted(set(ward_ids) - set(visible_ids))
    if hidden:
        raise PermissionDenied(f"You may not print ward {', '.join(str(w) for w in hidden)}: it is not one of "
                               "your wards.")


def record_print(*, session: Session, username: str, ward_codes: Sequence[str], rendered: Rendered, hours: float,
                 os_user: str | None = None) -> None:
    """One audit row per print: who printed which wards, how many patients and pages (identifiable data
    leave the system on paper). From the command line also the operating-system user."""
    write_audit(session=session, username=username, action="print", entity="ward-print",
                entity_id=",".join(ward_codes),
                after={"wards": list(ward_codes), "patients": rendered.patients, "pages": rendered.pages,
                       "hours": hours, **({"os_user": os_user} if os_user is not None else {})})


def filename(ward_codes: Sequence[str], now: datetime) -> str:
    """'il2-ward-DEMO-20261204T1905Z.pdf': the wards and the time printed (UTC)."""
    return f"il2-ward-{'-'.join(ward_codes) or 'none'}-{now.astimezone(timezone.utc):%Y%m%dT%H%MZ}.pdf"
