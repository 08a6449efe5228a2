"""The wards and patient lists the pages choose from (read only).

Queries over the store that return plain frames, values or Ward rows; the pages call these instead of
building queries (tests/test_architecture.py keeps SQL out of dashboard/).
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import case, func, null, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from monitoring.clinical.derived import NO_BASELINE
from monitoring.permissions import may
from monitoring.store.frames import weight_baselines
from monitoring.store.models import Bed, DoseEvent, Observation, Patient, PatientIdentity, TreatmentCourse, Ward
from monitoring.store.repository import rows_frame

HOME = "Home"   # the bed column of a patient at home on a ward's list
WARD_LIST_COLUMNS = ["patient_id", "ward", "bed", "name", "mrn", "is_synthetic", "course_id", "regimen",
                     "cycle", "course_start", "planned_doses", "doses_given", "last_dose_status",
                     "last_dose_at", "last_set_at"]


def ward_patient_list(*, session: Session, ward_id: int | None = None,
                      ward_ids: Sequence[int] | None = None, departed: bool = False) -> pd.DataFrame:
    """One row per patient on the ward with the latest course, dose counts and the last set time; the bed
    is 'Home' for a patient at home on the ward's list. `departed`: instead, the patients who have left the
    service (on no ward's list; their record is kept whole), for those who may see every ward.

    The aggregates are computed for the ward's patients only (a hospital holds a million
    observations: aggregating them all took seconds on every overview refresh)."""
    on_ward = select(Patient.id)
    if departed:
        on_ward = on_ward.where(Patient.ward_id.is_(None))
    if ward_id is not None:
        on_ward = on_ward.where(Patient.ward_id == ward_id)
    if ward_ids is not None:
        on_ward = on_ward.where(Patient.ward_id.in_(list(ward_ids)))
    patient_ids = list(session.scalars(on_ward).all())
    if not patient_ids:
        return pd.DataFrame(columns=WARD_LIST_COLUMNS)
    latest_course = (select(TreatmentCourse.patient_id, func.max(TreatmentCourse.id).label("course_id"))
                     .where(TreatmentCourse.patient_id.in_(patient_ids))
                     .group_by(TreatmentCourse.patient_id).subquery())
    given = (select(DoseEvent.course_id, func.count().label("n"))
             .where(DoseEvent.status == "given", DoseEvent.record_status != "entered-in-error",
                    DoseEvent.course_id.in_(select(latest_course.c.course_id)))
             .group_by(DoseEvent.course_id).subquery())
    last_dose_id = (select(DoseEvent.course_id, func.max(DoseEvent.id).label("dose_id"))
                    .where(DoseEvent.course_id.in_(select(latest_course.c.course_id)))
                    .group_by(DoseEvent.course_id).subquery())
    last_dose = aliased(DoseEvent)
    # The newest bedside value, read backwards along ix_observation_patient_time (a few rows each).
    last_set_at = (select(Observation.observed_at)
                   .where(Observation.patient_id == Patient.id, Observation.source != "lab-import")
                   .order_by(Observation.observed_at.desc()).limit(1).correlate(Patient).scalar_subquery())
    # A patient on a ward without a bed is at home on the ward's list (monitoring.services.admission).
    bed = case((Patient.ward_id.is_(None), null()), (Patient.bed_id.is_(None), HOME), else_=Bed.label)
    query = (
        select(Patient.id, Ward.name, bed,
               (PatientIdentity.family_name + ", " + PatientIdentity.given_name), PatientIdentity.mrn,
               Patient.is_synthetic, TreatmentCourse.id, TreatmentCourse.regimen, TreatmentCourse.cycle,
               TreatmentCourse.start_at, TreatmentCourse.planned_doses, func.coalesce(given.c.n, 0),
               last_dose.status, func.coalesce(last_dose.given_at, last_dose.scheduled_at), last_set_at)
        .join(PatientIdentity, PatientIdentity.patient_id == Patient.id)
        .outerjoin(Ward, Ward.id == Patient.ward_id)
        .outerjoin(Bed, Bed.id == Patient.bed_id)
        .outerjoin(latest_course, latest_course.c.patient_id == Patient.id)
        .outerjoin(TreatmentCourse, TreatmentCourse.id == latest_course.c.course_id)
        .outerjoin(given, given.c.course_id == TreatmentCourse.id)
        .outerjoin(last_dose_id, last_dose_id.c.course_id == TreatmentCourse.id)
        .outerjoin(last_dose, last_dose.id == last_dose_id.c.dose_id)
        .where(Patient.id.in_(patient_ids))
        .order_by(Ward.name, bed, Patient.id)
    )
    frame = rows_frame(session.execute(query).all(), WARD_LIST_COLUMNS)  # parses last_dose_at, last_set_at
    frame["course_start"] = pd.to_datetime(frame["course_start"], utc=True)
    return frame


def departed_count(*, session: Session) -> int:
    """Patients who have left the service (on no ward's list)."""
    return int(session.scalar(select(func.count()).select_from(Patient).where(Patient.ward_id.is_(None))) or 0)


def list_wards(*, session: Session) -> list[Ward]:
    return list(session.scalars(select(Ward).order_by(Ward.name)).all())


def wards_with_courses(*, session: Session) -> set[int]:
    """Ids of the wards that hold at least one patient with an IL-2 course."""
    query = select(Patient.ward_id).join(TreatmentCourse, TreatmentCourse.patient_id == Patient.id).distinct()
    return {ward for ward in session.scalars(query) if ward is not None}


def holds_synthetic_data(*, session: Session) -> bool:
    """True when any patient is synthetic (the banner then says so on every page)."""
    return session.scalar(select(Patient.id).where(Patient.is_synthetic).limit(1)) is not None


def patient_ward_id(*, session: Session, patient_id: int | None) -> int | None:
    """The ward of a patient (None for an unknown patient or none given)."""
    return None if patient_id is None else session.scalar(select(Patient.ward_id).where(Patient.id == patient_id))


def course_weight_baseline(*, session: Session, course_id: int | None) -> tuple[float | None, str]:
    """A course's weight-gain baseline and where it came from (monitoring.clinical.derived: recorded,
    else the course's first weight); (None, "none") without a course or a weight: never zero."""
    if course_id is None:
        return None, NO_BASELINE
    row = weight_baselines(session=session, course_ids=[course_id]).iloc[0]
    return (None if pd.isna(row["baseline_kg"]) else float(row["baseline_kg"])), str(row["source"])


# The pages' choices that name a group of wards, or no ward, beside the wards' own names; no ward may be
# named so (monitoring.services.wards), or choosing the ward would choose the group.
EVERY_ASSIGNED_WARD, ASSIGNED_WARDS, EVERY_WARD = "All my wards", "My wards", "All wards"
LEFT_THE_SERVICE = "Left the service (records kept)"
GROUP_LABELS = (EVERY_ASSIGNED_WARD, ASSIGNED_WARDS, EVERY_WARD, LEFT_THE_SERVICE)


def ward_choice(wards: Sequence[Ward], assigned_ids: Sequence[int]) -> tuple[dict[str, int], list[str]]:
    """A ward chooser's options, label -> ward id in the order given, and the labels it opens on: the wards
    assigned to the user, else every ward (an oncologist sees every ward, and opens on their own: a
    hospital-wide default listed 2,000 patients). The label is the ward's name, with its code where the name
    is not enough: two wards of one name, or a ward named as a group (both refused since session 15, but a
    store may hold them), which would otherwise hide a ward or a group."""
    names = [w.name.lower() for w in wards]
    groups = {label.lower() for label in GROUP_LABELS}
    labels = {(f"{w.name} ({w.code})" if names.count(w.name.lower()) > 1 or w.name.lower() in groups else w.name):
              int(w.id or 0) for w in wards}
    if len(labels) < len(wards):   # a name that reads as another's "name (code)": every ward by its code
        labels = {f"{w.name} ({w.code})": int(w.id or 0) for w in wards}   # codes are unique, without spaces
    assigned = set(assigned_ids)
    return labels, [label for label, ward_id in labels.items() if ward_id in assigned] or list(labels)


def visible_wards(*, session: Session, role: str, ward_ids: Sequence[int]) -> list[Ward]:
    """The wards whose patients a user may see: those assigned, or every ward with the view_all_wards
    permission (the oncologist: monitoring.permissions)."""
    wards = list_wards(session=session)
    return wards if may(role, "view_all_wards") else [w for w in wards if w.id in set(ward_ids)]


# --- wards and beds, for the Wards page (issue 19 item 4) -------------------------------------------

WARD_TABLE_COLUMNS = ["Code", "Name", "Beds in use", "Retired beds", "Patients now"]


def occupied_bed_ids(*, session: Session, ward_id: int | None = None) -> set[int]:
    """Beds a patient is placed in now. (The seam for admission's discharge, issue 19 item 3: a discharged
    patient who keeps bed_id would count here until discharge clears or marks it.)"""
    query = select(Patient.bed_id).where(Patient.bed_id.is_not(None))
    if ward_id is not None:   # by the bed's ward, whatever the patient row says
        query = query.join(Bed, Bed.id == Patient.bed_id).where(Bed.ward_id == ward_id)
    return set(session.scalars(query).all())


def ward_beds(*, session: Session, ward_id: int) -> pd.DataFrame:
    """A ward's beds: label, in use or retired (since when), and whether a patient is in it."""
    occupied = occupied_bed_ids(session=session, ward_id=ward_id)
    beds = session.scalars(select(Bed).where(Bed.ward_id == ward_id).order_by(Bed.label)).all()
    return pd.DataFrame([{"Bed": b.label, "In use": b.retired_at is None, "Patient in it": b.id in occupied,
                          "Retired at": b.retired_at} for b in beds],
                        columns=["Bed", "In use", "Patient in it", "Retired at"])


def active_beds(*, session: Session, ward_id: int) -> list[Bed]:
    """The beds a patient may be placed in: the ward's beds not retired."""
    return list(session.scalars(select(Bed).where(Bed.ward_id == ward_id, Bed.retired_at.is_(None))
                                .order_by(Bed.label)).all())


def ward_table(*, session: Session) -> pd.DataFrame:
    """Every ward with its beds (in use, retired) and the patients placed on it now."""
    beds = dict(session.execute(select(Bed.ward_id, func.count()).where(Bed.retired_at.is_(None))
                                .group_by(Bed.ward_id)).all())
    retired = dict(session.execute(select(Bed.ward_id, func.count()).where(Bed.retired_at.is_not(None))
                                   .group_by(Bed.ward_id)).all())
    patients = dict(session.execute(select(Patient.ward_id, func.count()).where(Patient.ward_id.is_not(None))
                                    .group_by(Patient.ward_id)).all())
    rows = [[w.code, w.name, beds.get(w.id, 0), retired.get(w.id, 0), patients.get(w.id, 0)]
            for w in list_wards(session=session)]
    return pd.DataFrame(rows, columns=WARD_TABLE_COLUMNS)
