"""Wards and their beds (issue 19 item 4): add a ward, rename it, add and retire beds. No Streamlit here.

Permission manage_wards (monitoring.permissions), checked here on the server. Every change is one audit
row with the values before and after; each function raises RecordError listing every problem, with
nothing written. A bed is never deleted (patients refer to it): it is retired, refused while a patient
is in it, and comes back when its label is added again. The installation has one time zone
(IL2_TIMEZONE) for every ward; a ward has none of its own (migration 0011).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlmodel import Session, col

from monitoring.errors import RecordError
from monitoring.permissions import require
from monitoring.store.models import Bed, Ward
from monitoring.store.repository import write_audit
from monitoring.views.lists import GROUP_LABELS, occupied_bed_ids

CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
CODE_RULE = "1 to 32 letters, digits, '-' or '_', starting with a letter or digit"
MAX_NAME = 120
MAX_BED_LABEL = 32


def _ward(session: Session, code: str) -> Ward | None:
    return session.scalars(select(Ward).where(col(Ward.code) == code.strip().upper())).first()


def _name_problems(session: Session, name: str, ward_id: int | None = None) -> list[str]:
    name = name.strip()
    if not name:
        return ["Ward name is empty; give the name the ward is known by."]
    if len(name) > MAX_NAME:
        return [f"Ward name has {len(name)} characters; at most {MAX_NAME} are accepted."]
    # Pages choose wards by name: a ward named as a group of wards would be chosen for the group, or hide it.
    if name.lower() in {label.lower() for label in GROUP_LABELS}:
        return [f"Ward name '{name}' is a choice the pages offer beside the wards (a group of wards, or patients "
                "who have left); choose another name."]
    # Pages choose wards by name: two wards of one name could not be told apart.
    same = select(Ward).where(func.lower(col(Ward.name)) == name.lower(), col(Ward.id) != (ward_id or -1))
    holder = session.scalars(same).first()
    return [f"Ward name '{name}' is already the name of ward {holder.code}; choose another name."] if holder else []


def _label_problems(labels: list[str]) -> list[str]:
    problems = [f"Bed label '{label}' has {len(label)} characters; at most {MAX_BED_LABEL} are accepted."
                for label in labels if len(label) > MAX_BED_LABEL]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    problems += [f"Bed label '{label}' is given twice." for label in repeated]
    return problems


def bed_labels(text: str) -> list[str]:
    """Bed labels typed as a list ('1, 2, 3' or one per line), blanks dropped, order kept."""
    return [part.strip() for part in re.split(r"[,\n]", text or "") if part.strip()]


def add_ward(*, session: Session, role: str, username: str, code: str, name: str,
             beds: list[str] | None = None) -> Ward:
    """A new ward with its code (unique), name and beds."""
    require(role, "manage_wards")
    code = (code or "").strip().upper()
    labels = [label.strip() for label in beds or [] if label.strip()]
    errors = []
    if not CODE_PATTERN.fullmatch(code):
        errors.append(f"Ward code '{code}' is not accepted; use {CODE_RULE}.")
    else:
        holder = _ward(session, code)
        if holder is not None:
            errors.append(f"Ward code '{code}' is already used by ward '{holder.name}'; choose another code.")
    errors += _name_problems(session, name) + _label_problems(labels)
    if errors:
        raise RecordError(errors)
    ward = Ward(code=code, name=name.strip())
    session.add(ward)
    session.flush()
    for label in labels:
        session.add(Bed(ward_id=int(ward.id or 0), label=label))
    session.flush()
    write_audit(session=session, username=username, action="ward-create", entity="ward", entity_id=ward.id,
                after={"code": ward.code, "name": ward.name, "beds": labels})
    return ward


def rename_ward(*, session: Session, role: str, username: str, code: str, name: str) -> Ward:
    """A ward's new name (its code, which accounts and files refer to, stays)."""
    require(role, "manage_wards")
    ward = _ward(session, code or "")
    if ward is None:
        raise RecordError([f"No ward with code '{code}'."])
    errors = _name_problems(session, name, ward.id)
    if errors:
        raise RecordError(errors)
    before = ward.name
    ward.name = name.strip()
    write_audit(session=session, username=username, action="ward-rename", entity="ward", entity_id=ward.id,
                before={"code": ward.code, "name": before}, after={"code": ward.code, "name": ward.name})
    session.flush()
    return ward


def add_beds(*, session: Session, role: str, username: str, code: str, labels: list[str]) -> list[Bed]:
    """Beds added to a ward; a retired bed's label brings that bed back into use."""
    require(role, "manage_wards")
    ward = _ward(session, code or "")
    labels = [label.strip() for label in labels if label.strip()]
    if ward is None:
        raise RecordError([f"No ward with code '{code}'."])
    existing = {b.label: b for b in session.scalars(select(Bed).where(col(Bed.ward_id) == ward.id)).all()}
    errors = ([] if labels else ["No bed label given; type one or more, separated by commas."])
    errors += _label_problems(labels)
    errors += [f"Bed '{label}' is already in use on ward {ward.code}." for label in labels
               if label in existing and existing[label].retired_at is None]
    if errors:
        raise RecordError(errors)
    added, restored = [], []
    for label in labels:
        bed = existing.get(label)
        if bed is None:
            bed = Bed(ward_id=int(ward.id or 0), label=label)
            session.add(bed)
            added.append(label)
        else:
            bed.retired_at, bed.retired_by = None, None
            restored.append(label)
    session.flush()
    write_audit(session=session, username=username, action="bed-add", entity="ward", entity_id=ward.id,
                after={"code": ward.code, "added": added, "back_in_use": restored})
    return [existing.get(label) or session.scalars(select(Bed).where(col(Bed.ward_id) == ward.id,
                                                                     col(Bed.label) == label)).one()
            for label in labels]


def retire_bed(*, session: Session, role: str, username: str, code: str, label: str,
               now: datetime | None = None) -> Bed:
    """Take a bed out of use (a mark, never a deletion); refused while a patient is in it."""
    require(role, "manage_wards")
    ward = _ward(session, code or "")
    if ward is None:
        raise RecordError([f"No ward with code '{code}'."])
    bed = session.scalars(select(Bed).where(col(Bed.ward_id) == ward.id,
                                            col(Bed.label) == (label or "").strip())).first()
    if bed is None:
        raise RecordError([f"Ward {ward.code} has no bed '{label}'."])
    if bed.retired_at is not None:
        raise RecordError([f"Bed '{bed.label}' on ward {ward.code} is already retired."])
    if bed.id in occupied_bed_ids(session=session, ward_id=ward.id):
        raise RecordError([f"Bed '{bed.label}' on ward {ward.code} has a patient in it; move or discharge the "
                           "patient before retiring the bed."])
    bed.retired_at, bed.retired_by = now or datetime.now(timezone.utc), username
    session.flush()
    write_audit(session=session, username=username, action="bed-retire", entity="ward", entity_id=ward.id,
                after={"code": ward.code, "bed": bed.label})
    return bed

