"""Quality summaries and exports against figures computed by hand on a small fixture, on SQLite and
PostgreSQL; de-identification in every format; formula injection; permission and audit."""
from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import event, select

from monitoring.clinical.inputs import ObservationInput as V
from monitoring.export import quality
from monitoring.export import writers as export
from monitoring.export.deid import FREE_TEXT_WITHHELD
from monitoring.services import alert_actions, auth
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import session_scope
from monitoring.store.models import Alert, AuditEvent

S = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)  # course A starts (day 0)
KEY = "test-export-key-8e2c5a1f9b7d3e60"
IDENTIFIERS = ("MRN-QA-7731", "Zebulon", "Quaxley", "1961-03-14", "MRN-QB-5520", "Philippa", "Ormsbury", "1948-07-02",
               "2026-11-20", "2026-11-21")
HOLD = '=HYPERLINK("http://evil.example","click")'
STOP = "@SUM(1)"
COMPLETE_NORMAL = [V("resp_rate", 16), V("spo2", 97), V("on_oxygen", "no"), V("sbp", 125), V("heart_rate", 70),
                   V("consciousness", "A"), V("temperature", 37.0)]


def add_set(session, patient_id, course_id, at, values, source="manual"):
    repository.add_observation_set(session=session, patient_id=patient_id, course_id=course_id, values=values,
                                   observed_at=at, recorded_by="nurse", source=source, now=at + timedelta(minutes=5),
                                   confirmed=[v.code for v in values])


@pytest.fixture
def cohort(engine):
    """Two courses. A (HD bolus, ward QA): doses 1-2 given, 3 held, 4 stopped; a complete normal set at
    +1 h (NEWS2 0: next due +13 h), labs at +13 h (ANC 0.3, creatinine 2.0 = 2.2 x baseline 0.9),
    a partial febrile set at +14 h (overdue); the FN alert acknowledged 25 min after it was first seen.
    B (low-dose SC, ward QB): one dose, one complete normal set."""
    with session_scope(engine) as session:
        qa = repository.get_or_create_ward(session=session, code="QA", name="Quality A")
        qb = repository.get_or_create_ward(session=session, code="QB", name="Quality B")
        a = repository.add_patient(session=session, mrn="MRN-QA-7731", given_name="Zebulon", family_name="Quaxley",
                                   birth_date=date(1961, 3, 14), recorded_by="t", ward_id=qa.id)
        b = repository.add_patient(session=session, mrn="MRN-QB-5520", given_name="Philippa",
                                   family_name="Ormsbury", birth_date=date(1948, 7, 2), recorded_by="t", ward_id=qb.id)
        ca = repository.add_course(session=session, patient_id=a.id, regimen="hd-iv-bolus", start_at=S,
                                   created_by="t", planned_doses=6, dose_interval_hours=8, baseline_weight_kg=80,
                                   baseline_creatinine_mg_dl=0.9)
        cb = repository.add_course(session=session, patient_id=b.id, regimen="low-dose-sc",
                                   start_at=S + timedelta(days=1), created_by="t", planned_doses=10)
        for number, hours, status, reason in ((1, 2, "given", None), (2, 10, "given", None), (3, 18, "held", HOLD),
                                              (4, 26, "stopped", STOP)):
            at = S + timedelta(hours=hours)
            repository.record_dose(session=session, course_id=ca.id, dose_number=number, scheduled_at=at, status=status,
                                   given_at=at if status == "given" else None, reason=reason, recorded_by="nurse")
        repository.record_dose(session=session, course_id=cb.id, dose_number=1,
                               scheduled_at=S + timedelta(days=1, hours=1),
                               status="given", given_at=S + timedelta(days=1, hours=1), recorded_by="nurse")
        add_set(session, a.id, ca.id, S + timedelta(hours=1), COMPLETE_NORMAL + [V("weight", 80)])
        add_set(session, a.id, ca.id, S + timedelta(hours=13), [V("anc", 0.3), V("creatinine", 2.0)],
                source="lab-import")
        add_set(session, a.id, ca.id, S + timedelta(hours=14), [V("temperature", 38.9), V("heart_rate", 118),
                                                                V("weight", 84)])
        add_set(session, b.id, cb.id, S + timedelta(days=1, hours=2), COMPLETE_NORMAL)
        ids = {"a": a.id, "b": b.id, "ca": ca.id, "cb": cb.id}
    seen = S + timedelta(hours=14, minutes=10)
    with session_scope(engine) as session:
        sync_alerts(session=session, now=seen)
    with session_scope(engine) as session:
        fn = session.scalars(select(Alert).where(Alert.rule_id == "febrile-neutropenia")).one()
        alert_actions.act(session=session, alert_id=fn.id, action="acknowledge", username="onc", role="oncologist",
                          note="cultures, antibiotics", now=seen + timedelta(minutes=25))
        other = session.scalars(select(Alert).where(Alert.rule_id != "febrile-neutropenia", Alert.severity != "info")
                                .order_by(Alert.id)).first()
        if other is not None:
            alert_actions.act(session=session, alert_id=other.id, action="decline", username="onc", role="oncologist",
                              note="-2+3 expected after IL-2", now=seen + timedelta(minutes=40))
        ids["declined_rule"] = None if other is None else other.rule_id
    return ids


def tables_of(engine, **kwargs):
    with session_scope(engine) as session:
        return quality.export_tables(session=session, filters=quality.QualityFilter(**kwargs.pop("filters", {})),
                                     export_key=KEY, **kwargs)


def test_course_table_matches_hand_computed_figures(engine, cohort):
    courses = tables_of(engine)["courses"].set_index("regimen")
    a, b = courses.loc["hd-iv-bolus"], courses.loc["low-dose-sc"]
    assert (a["doses_planned"], a["doses_given"], a["doses_held"], a["doses_stopped"]) == (6, 2, 1, 1)
    # De-identified: text typed by staff may name people, so it is withheld (monitoring.export.deid.scrub_reason).
    assert a["hold_reasons"] == f"dose 3: {FREE_TEXT_WITHHELD}" and a["stop_reasons"] == f"dose 4: {FREE_TEXT_WITHHELD}"
    typed = tables_of(engine, identifiable=True)["courses"].set_index("regimen").loc["hd-iv-bolus"]
    assert typed["hold_reasons"] == f"dose 3: {HOLD}" and typed["stop_reasons"] == f"dose 4: {STOP}"
    assert a["first_dose_day"] == pytest.approx(0.08)               # 2 h
    assert a["patient_days"] == pytest.approx(1.08)                 # last record: stopped dose 4 at 26 h
    assert b["patient_days"] == pytest.approx(0.08)                 # 2 h after its start
    assert a["grade_hematologic"] == 4                              # ANC 0.3 x 10^9/L
    assert a["grade_renal_and_fluid"] == 2                          # creatinine 2.2 x baseline
    assert a["grade_constitutional_and_infection"] == 1             # 38.9 °C
    assert pd.isna(b["grade_hematologic"])                          # nothing gradable: NA, never 0
    assert b["grade_constitutional_and_infection"] == 0
    assert a["peak_weight_gain_pct"] == pytest.approx(5.0)          # 84 / 80 kg
    assert pd.isna(b["peak_weight_gain_pct"])
    assert a["aki_highest_stage"] == 2 and pd.isna(b["aki_highest_stage"])
    assert a["fn_episodes"] == 1 and b["fn_episodes"] == 0
    assert (a["observation_sets"], a["overdue_sets"]) == (2, 1)     # +14 h set after the +13 h due time
    assert (b["observation_sets"], b["overdue_sets"]) == (1, 0)
    assert a["icu_transfer"] == "not recorded"
    assert a["course_ref"].startswith(a["pseudonym"]) and a["course_ref"].endswith("-C1")


def test_terms_and_episodes_time_to_onset_and_latency(engine, cohort):
    tables = tables_of(engine)
    terms = tables["terms"]
    assert pd.isna(terms[terms["highest_grade"] == 0]["onset_days_from_first_dose"]).all()
    terms = terms[terms["regimen"] == "hd-iv-bolus"].set_index("ctcae_term")
    anc = terms.loc["Neutrophil count decreased"]
    assert anc["highest_grade"] == 4
    assert anc["onset_days_from_first_dose"] == pytest.approx(0.46)  # 13 h - 2 h = 11 h
    assert anc["onset_day"] == pytest.approx(0.54)                   # 13 h
    assert terms.loc["Fever", "onset_days_from_first_dose"] == pytest.approx(0.5)
    episodes = tables["episodes"]
    fn = episodes[episodes["rule_id"] == "febrile-neutropenia"].iloc[0]
    assert fn["minutes_to_first_response"] == pytest.approx(25.0) and fn["first_response"] == "acknowledge"
    # Onset: 38.9 °C at +14 h with ANC 0.3 at +13 h (IDSA 2010); first seen +14 h 10; acknowledged +14 h 35.
    assert fn["minutes_from_onset_to_first_response"] == pytest.approx(35.0)
    unanswered = episodes[episodes["first_response"].isna()]
    assert unanswered["minutes_to_first_response"].isna().all()    # missing is never zero
    assert unanswered["minutes_from_onset_to_first_response"].isna().all()


def test_cohort_rates_per_course_and_per_100_patient_days(engine, cohort):
    tables = tables_of(engine)
    counts = tables["cohort_counts"].set_index(["regimen", "measure"])
    held = counts.loc[("all", "doses_held")]
    assert held["courses"] == 2 and held["patient_days_total"] == pytest.approx(1.16)
    assert held["per_course"] == pytest.approx(0.5)
    assert held["per_100_patient_days"] == pytest.approx(100 / 1.16, abs=1e-3)
    assert counts.loc[("hd-iv-bolus", "fn_episodes"), "per_100_patient_days"] == pytest.approx(100 / 1.08, abs=1e-3)
    grades = tables["grade_distribution"].set_index(["regimen", "organ_system", "grade"])
    assert grades.loc[("all", "hematologic", "4"), "courses"] == 1
    assert grades.loc[("all", "hematologic", "not graded"), "courses"] == 1
    rules = tables["alerts_by_rule"].set_index("rule_id")
    assert rules.loc["febrile-neutropenia", "latency_median_min"] == pytest.approx(25.0)
    assert rules.loc["febrile-neutropenia", "alerts_per_patient_day"] == pytest.approx(1 / 1.16, abs=1e-4)
    monitoring = tables["monitoring"].set_index("measure")["value"]
    assert monitoring["observation sets"] == 3 and monitoring["overdue observation sets"] == 1
    with session_scope(engine) as session:
        stored = session.scalars(select(Alert).where(Alert.status != "retracted")).all()
    assert rules.loc["all rules except expected effects", "alerts"] == sum(a.rule_id != "il2-expected-effect"
                                                                           for a in stored)
    if cohort["declined_rule"]:
        declined = tables["declined_alerts"]
        assert declined["decline_reason"].tolist() == [FREE_TEXT_WITHHELD]
        typed = tables_of(engine, identifiable=True)["declined_alerts"]
        assert typed["decline_reason"].tolist() == ["-2+3 expected after IL-2"]
        assert monitoring["alerts declined"] == 1


def test_filters_select_by_period_ward_and_regimen(engine, cohort):
    with session_scope(engine) as session:
        ward_b = repository.get_or_create_ward(session=session, code="QB", name="Quality B").id
    assert tables_of(engine, filters={"ward_ids": [ward_b]})["courses"]["regimen"].tolist() == ["low-dose-sc"]
    assert tables_of(engine, filters={"regimens": ["hd-iv-bolus"]})["courses"]["ward_code"].tolist() == ["QA"]
    assert len(tables_of(engine, filters={"start": S + timedelta(hours=1), "basis": "course-start"})["courses"]) == 1
    assert tables_of(engine, filters={"end": S - timedelta(days=1)})["courses"].empty


def by_events(engine, start, end, basis="events"):
    tables = tables_of(engine, filters={"start": start, "end": end, "basis": basis})
    return tables["courses"].set_index("regimen"), tables["monitoring"].set_index("measure")


@pytest.mark.parametrize("hours, expected", [
    # (period from S + h0 to S + h1) -> per course (regimen): doses given, held, stopped, sets, patient-days
    ((0, 12), {"hd-iv-bolus": (2, 0, 0, 1, 0.42)}),                     # doses at +2 h and +10 h; a set at +1 h
    ((12, 24), {"hd-iv-bolus": (0, 1, 0, 1, 0.25)}),                    # held at +18 h; the febrile set at +14 h
    ((24, 36), {"hd-iv-bolus": (0, 0, 1, 0, 0.08), "low-dose-sc": (1, 0, 0, 1, 0.08)}),   # B starts at +24 h
    ((27, 28), {}),                                                      # nothing happened in that hour
    # The period's bounds, [start, end): the set at exactly +1 h counts in a period that starts then; in one
    # that ends then it does not, and the course, with no other event in it, is not selected (the store is
    # read by the same bounds, issue 21).
    ((1, 2), {"hd-iv-bolus": (0, 0, 0, 1, 0.0)}),
    ((0.5, 1), {}),
])
def test_a_period_counts_the_events_dated_in_it_whenever_the_course_started(engine, cohort, hours, expected):
    """Issue 20 item 1, basis "events": a course counts when it has an event in the period (or starts in it),
    and only the events inside the period count; patient-days from the later of the course start and the
    period's start to the last event in the period."""
    per, _ = by_events(engine, S + timedelta(hours=hours[0]), S + timedelta(hours=hours[1]))
    found = {regimen: (int(row.doses_given), int(row.doses_held), int(row.doses_stopped), int(row.observation_sets),
                       round(float(row.patient_days), 2)) for regimen, row in per.iterrows()}
    assert found == expected


def test_each_measure_says_what_it_counts_under_the_period_and_basis(engine, cohort):
    _, events = by_events(engine, S, S + timedelta(days=1))
    _, started = by_events(engine, S, S + timedelta(days=1), basis="course-start")
    assert events.loc["courses", "counted"] == "courses with an event in the period"
    assert events.loc["observation sets", "counted"] == "events dated in the period (patient-days inside it)"
    assert started.loc["courses", "counted"] == "courses started in the period"
    assert started.loc["observation sets", "counted"] == "every event of those courses, in or after the period"
    # Course-start basis: course A started in the first day; all its events count, the stopped dose of day 2 too.
    assert started.loc["courses", "value"] == 1
    assert events.loc["courses", "value"] == 1 and tables_of(engine)["monitoring"].set_index("measure").loc[
        "courses", "counted"] == "courses (every course)"


def test_an_unknown_basis_is_refused():
    with pytest.raises(ValueError, match="basis 'weekly' is not known; accepted: events, course-start"):
        quality.QualityFilter(basis="weekly")


def test_pseudonyms_are_stable_per_key(engine, cohort):
    with session_scope(engine) as session:
        first = quality.course_table(session=session, filters=quality.QualityFilter(), export_key=KEY)
        again = quality.course_table(session=session, filters=quality.QualityFilter(), export_key=KEY)
        other = quality.course_table(session=session, filters=quality.QualityFilter(),
                                     export_key="another-key-5d0b7e2a9c4f1e8b3a6d")
    assert first["pseudonym"].tolist() == again["pseudonym"].tolist()
    assert set(first["pseudonym"]).isdisjoint(other["pseudonym"])


def _all_bytes(tables, fmt) -> bytes:
    data = export.render(tables, fmt, docs=quality.COLUMN_DOCS, synthetic=False, deidentified=True)
    if fmt in ("csv", "xlsx"):  # both are zip files: read every member (the XML of the workbook)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return b"".join(archive.read(name) for name in archive.namelist())
    return data


def deidentified_content(engine, fmt) -> bytes:
    """Every byte of a de-identified export of the whole store in `fmt` (zip members read out)."""
    if fmt in export.FHIR_FORMATS:
        with session_scope(engine) as session:
            return export.render_fhir(session=session, fmt=fmt, filters=quality.QualityFilter(), export_key=KEY,
                                      identifiable=False)
    return _all_bytes(tables_of(engine), fmt)


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_no_identifier_of_the_fixture_appears_in_any_format(engine, cohort, fmt):
    if fmt in export.FHIR_FORMATS:
        content = deidentified_content(engine, fmt)
        assert content.count(b'"resourceType"') > 1
    else:
        content = _all_bytes(tables_of(engine), fmt)
    if fmt == "pdf":
        assert b"De-identified" in content  # uncompressed: the text is searchable
    for identifier in IDENTIFIERS:
        assert identifier.encode() not in content, identifier


def test_the_de_identified_path_never_reads_patient_identity(engine, cohort):
    statements = []
    listener = lambda conn, cursor, statement, *args: statements.append(statement.lower())  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        tables_of(engine)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements and not [s for s in statements if "patientidentity" in s]


def test_identifiable_export_has_identifiers_and_is_refused_for_quality(engine, cohort):
    courses = tables_of(engine, identifiable=True)["courses"]
    assert "MRN-QA-7731" in courses["mrn"].tolist() and "2026-11-20T08:00:00Z" in courses["course_start_utc"].tolist()
    with pytest.raises(auth.PermissionDenied):
        export.authorise("quality", identifiable=True)
    export.authorise("quality", identifiable=False)
    export.authorise("oncologist", identifiable=True)
    with session_scope(engine) as session:
        export.record_export(session=session, username="oncologist", fmt="csv", filters={"start": None},
                             identifiable=True, rows=len(courses))
    with session_scope(engine) as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.entity == "quality-export")).one()
    assert row.action == "export-identifiable" and row.after["identifiable"] is True and row.after["rows"] == 2


def test_formula_injection_is_neutralised_in_csv_and_excel(engine, cohort):
    tables = tables_of(engine, identifiable=True)  # text typed by staff reaches identifiable exports only
    csv = zipfile.ZipFile(io.BytesIO(export.to_csv_zip(tables, quality.COLUMN_DOCS)))
    courses = csv.read("courses.csv").decode()
    assert "'dose 3" not in courses and "dose 3: =HYPERLINK" in courses  # not at the cell start: left alone
    tables["courses"].loc[0, "hold_reasons"] = HOLD
    tables["courses"].loc[0, "stop_reasons"] = STOP
    content = _all_bytes(tables, "csv").decode("utf-8", "replace")
    assert "'=HYPERLINK" in content and "'@SUM(1)" in content
    assert ',=HYPERLINK' not in content
    # Excel: a text cell with the quotePrefix style, never a formula, no apostrophe (tests/export/test_excel.py).
    content = _all_bytes(tables, "xlsx").decode("utf-8", "replace")
    assert "<f>" not in content and "'=HYPERLINK" not in content and "'@SUM" not in content
    if cohort["declined_rule"]:
        assert "'-2+3 expected" in _all_bytes(tables, "csv").decode()


def test_every_column_is_documented_and_excel_headers_are_readable(engine, cohort):
    tables = tables_of(engine, identifiable=True)
    dictionary = pd.read_csv(zipfile.ZipFile(io.BytesIO(export.to_csv_zip(tables, quality.COLUMN_DOCS)))
                             .open("data_dictionary.csv"))
    assert set(dictionary["table"]) == set(quality.TABLE_TITLES)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(export.to_excel(tables, quality.COLUMN_DOCS)))
    sheet = book["courses"]
    headers = [c.value for c in sheet[1]]
    assert "Patient-days" in headers and "patient_days" not in headers and sheet.freeze_panes == "A2"
    with pytest.raises(export.ExportError, match="undocumented"):
        export.to_csv_zip({"x": pd.DataFrame({"mystery": [1]})}, quality.COLUMN_DOCS)


def test_pdf_marks_every_page(engine, cohort):
    from monitoring.export.about import ExportAbout
    data = export.to_pdf(tables_of(engine), about=ExportAbout(synthetic=True))
    pages = data.count(b"/Type /Page\n")
    assert data.startswith(b"%PDF") and pages >= 6   # cover, summary, charts, tables, one page per course
    # Every page's header and the cover's title (uncompressed: the words are searchable bytes).
    assert data.count(b"(De-identified) Tj") == pages + 1
    assert data.count(b"(SYNTHETIC DATA: invented patients) Tj") == pages


def test_an_empty_selection_gives_empty_tables(engine, cohort):
    tables = tables_of(engine, filters={"regimens": ["intralesional"]})
    assert tables["courses"].empty
    assert zipfile.ZipFile(io.BytesIO(export.to_csv_zip(tables, quality.COLUMN_DOCS))).namelist()


# Identifiers typed into every free-text field a person fills, in several notations (issue 16 item 1).
TYPED = ("Jane Roe", "MRN 443322", "RX-443322", "04/03/1925", "4 March 1925", "1925-03-04", "07700 900123",
         "+44 7700 900123")
TYPED_TEXT = "daughter Jane Roe (MRN 443322 / RX-443322, born 04/03/1925, 4 March 1925, 1925-03-04) on 07700 900123 " \
             "or +44 7700 900123"


@pytest.fixture
def typed_cohort(engine, cohort):
    """The cohort with identifiers typed into every free-text field: the dose reason and note, the
    override, the alert action notes, an amendment reason, a late-entry reason and the allergies."""
    from monitoring.store.models import Observation, Patient
    with session_scope(engine) as session:
        patient = session.get(Patient, cohort["a"])
        patient.allergies = TYPED_TEXT
        at = S + timedelta(hours=30)
        repository.record_dose(session=session, course_id=cohort["ca"], dose_number=5, scheduled_at=at, status="held",
                               reason=TYPED_TEXT, reason_criteria=["sbp_below"], reason_note=TYPED_TEXT,
                               recorded_by="nurse")
        repository.record_dose(session=session, course_id=cohort["cb"], dose_number=2, scheduled_at=S + timedelta(
            days=1, hours=9), status="given", given_at=S + timedelta(days=1, hours=9), recorded_by="nurse",
            override_by=TYPED_TEXT, override_reason=TYPED_TEXT)
        late = S + timedelta(hours=31)
        repository.add_observation_set(session=session, patient_id=cohort["a"], course_id=cohort["ca"],
                                       values=[V("heart_rate", 90)], observed_at=late, recorded_by="nurse",
                                       now=late + timedelta(hours=3), late_reason=TYPED_TEXT)
        first = session.scalars(select(Observation).where(Observation.patient_id == cohort["a"],
                                                          Observation.code == "heart_rate")).first()
        repository.amend_observation(session=session, observation_id=first.id, value="71", reason=TYPED_TEXT,
                                     recorded_by="nurse", now=late + timedelta(hours=3))
    with session_scope(engine) as session:
        sync_alerts(session=session, now=S + timedelta(hours=35))
    with session_scope(engine) as session:
        for alert in session.scalars(select(Alert).where(Alert.status == "open", Alert.severity != "info")).all():
            alert_actions.act(session=session, alert_id=alert.id, action="decline", username="onc", role="oncologist",
                              note=TYPED_TEXT, now=S + timedelta(hours=36))
    return cohort


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_identifiers_typed_into_any_free_text_field_reach_no_de_identified_format(engine, typed_cohort, fmt):
    content = deidentified_content(engine, fmt)
    for identifier in TYPED:
        assert identifier.encode() not in content, identifier
    # The typed words were there to be leaked: the identifiable export carries them.
    if fmt == "csv":
        assert b"Jane Roe" in _all_bytes(tables_of(engine, identifiable=True), fmt)


@pytest.mark.parametrize("hours, basis, expected", [
    ((0, 12), "events", ["ca"]),
    ((24, 36), "events", ["ca", "cb"]),          # A's stopped dose at +26 h; B starts at +24 h
    ((27, 28), "events", []),
    ((1, 48), "course-start", ["cb"]),           # only B started in it
])
def test_the_fhir_export_selects_the_same_courses_as_the_tables(engine, cohort, hours, basis, expected):
    """The FHIR export takes each selected course whole; its selection (without reading the records) is the
    tables' selection."""
    filters = quality.QualityFilter(start=S + timedelta(hours=hours[0]), end=S + timedelta(hours=hours[1]),
                                    basis=basis)
    with session_scope(engine) as session:
        ids = quality.selected_course_ids(session=session, filters=filters)
        table = quality.export_tables(session=session, filters=filters, export_key=KEY)["courses"]
    assert ids == [cohort[name] for name in expected]
    assert len(table) == len(expected)
