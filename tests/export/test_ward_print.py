"""The downtime print (issue 18 item 7) as a nurse holds it: each patient on pages of their own, nothing
cut, the values of the chart those stored, a grid to continue by hand, the alerts, the doses, the blank
pre-dose check with the live check's items; and the permission and the audit row of a print.

The PDF is read back with poppler's pdftotext (tests/export/pdf_pages.py), the way its pages print."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from reportlab.platypus import SimpleDocTemplate, Table
from sqlalchemy import select

from monitoring.clinical.inputs import ObservationInput
from monitoring.export import ward_print
from monitoring.export.ward_print import content, fonts, layout
from monitoring.permissions import PermissionDenied
from monitoring.services import alert_actions
from monitoring.services.alerting import sync_alerts
from monitoring.store import repository
from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent
from monitoring.views import dosing
from monitoring.views.patient_banner import patient_banner
from tests.conftest import seed_demo_ward
from tests.export.pdf_pages import cut_text, needs_poppler, page_texts, words
from tests.factories import NOW

LONDON = ZoneInfo("Europe/London")
DEMO_END = datetime(2026, 11, 27, 8, tzinfo=timezone.utc)
FULL = dict(resp_rate=16, spo2=97, on_oxygen="no", sbp=120, heart_rate=80, consciousness="A", temperature=37.0)
# RR 25 (3 points), SpO2 95 (1), air (0), SBP 100 (2), pulse 131 (3), alert (0), 38.6 °C (1): NEWS2 10, high.
SICK = dict(resp_rate=25, spo2=95, on_oxygen="no", sbp=100, heart_rate=131, consciousness="A", temperature=38.6)


# --- a ward of two patients with known values ----------------------------------------------------------

def observe(engine, patient_id: int, at: datetime, source: str = "manual", **values) -> None:
    with session_scope(engine) as session:
        repository.add_observation_set(session=session, patient_id=patient_id, observed_at=at, recorded_by="nurse.a",
                                       values=[ObservationInput(c, v) for c, v in values.items()], now=at,
                                       confirmed=list(values), source=source)


def known_ward(engine) -> tuple[int, int, int]:
    """Bed B1: a course with dose 1 given and dose 2 held, sets 30 h (outside the day), 20 h, 6 h (sick)
    and 2 h ago (a temperature alone), a creatinine from the laboratory; bed B2: one set 30 h ago.
    Returns (ward id, patient in B1, patient in B2); alerts synced at NOW."""
    with session_scope(engine) as session:
        ward = repository.get_or_create_ward(session=session, code="T", name="Test ward")
        ids = []
        for bed, mrn, family in (("B1", "SYN-T-1", "Alpha"), ("B2", "SYN-T-2", "Bravo")):
            place = repository.get_or_create_bed(session=session, ward_id=ward.id, label=bed)
            ids.append(repository.add_patient(session=session, mrn=mrn, given_name="Test", family_name=family,
                                              recorded_by="tester", ward_id=ward.id, bed_id=place.id,
                                              is_synthetic=True, allergies="Penicillin: rash").id)
        course = repository.add_course(session=session, patient_id=ids[0], regimen="hd-iv-bolus",
                                       start_at=NOW - timedelta(days=1), created_by="tester", planned_doses=14,
                                       dose_per_kg=600_000, dose_interval_hours=8, baseline_weight_kg=80)
        repository.record_dose(session=session, course_id=course.id, dose_number=1, scheduled_at=course.start_at,
                               status="given", recorded_by="nurse.a", given_at=course.start_at, dose=48_000_000,
                               dose_unit="[IU]", route="IV", now=course.start_at)
        repository.record_dose(session=session, course_id=course.id, dose_number=2,
                               scheduled_at=course.start_at + timedelta(hours=8), status="held",
                               recorded_by="nurse.a", reason="SBP 85 mmHg despite fluid bolus",
                               now=course.start_at + timedelta(hours=8))
        ward_id = ward.id
    a, b = ids
    observe(engine, a, NOW - timedelta(hours=30), **{**FULL, "heart_rate": 99})
    observe(engine, a, NOW - timedelta(hours=20), **FULL)
    observe(engine, a, NOW - timedelta(hours=6), **SICK)
    observe(engine, a, NOW - timedelta(hours=2), temperature=37.9)
    observe(engine, a, NOW - timedelta(hours=3), source="lab-import", creatinine=1.1)
    observe(engine, b, NOW - timedelta(hours=30), **FULL)
    with session_scope(engine) as session:
        sync_alerts(session=session, now=NOW)
    return ward_id, a, b


def row_cells(text: str, label: str) -> list[str]:
    """The cells of the grid row starting with `label` on a page laid out by pdftotext."""
    line = next(line for line in text.splitlines() if line.strip().startswith(label))
    return re.split(r"\s{2,}", line.strip()[len(label):].strip()) if line.strip() != label else []


def test_the_chart_holds_the_stored_sets_of_the_last_24_h_with_their_points(engine):
    ward_id, a, b = known_ward(engine)
    with session_scope(engine) as session:
        sheet = content.ward_sheet(session=session, ward_ids=[ward_id], now=NOW, tz=LONDON)
    first, second = sheet.patients
    assert [p.banner.bed for p in sheet.patients] == ["B1", "B2"]       # bed order, a binder's order
    assert [c.at for c in first.sets] == [NOW - timedelta(hours=h) for h in (20, 6, 2)]   # 30 h ago and the lab: out
    sick = first.sets[1]
    assert {code: (cell.text, cell.points) for code, cell in sick.cells.items()} == {
        "resp_rate": ("25", 3), "spo2": ("95", 1), "on_oxygen": ("Air", 0), "sbp": ("100", 2),
        "heart_rate": ("131", 3), "consciousness": ("A", 0), "temperature": ("38.6", 1)}
    assert (sick.news2, sick.band) == (10, "high")
    partial = first.sets[2]
    assert partial.news2 is None and partial.cells["resp_rate"] == content.GridCell("–", None)
    assert partial.cells["temperature"] == content.GridCell("37.9", 0)
    assert second.sets == []
    assert first.progress == "1 of 14 given, 1 held" and list(first.doses["Status"]) == ["held", "given"]
    assert [d.number for d in first.next_doses] == [3, 4, 5]
    assert first.next_doses[0].due_at == NOW - timedelta(days=1) + timedelta(hours=16)
    with session_scope(engine) as session:
        inbox = alert_actions.inbox(session=session, patient_ids=[a], now=NOW, tz=LONDON)
    assert [(x.rule, x.level) for x in first.alerts] == list(zip(inbox["rule_id"], inbox["level"]))
    assert first.alerts, "the sick set raised an alert"


@needs_poppler
def test_the_printed_grid_shows_the_values_stored_and_an_empty_day_says_so(engine):
    ward_id, a, _ = known_ward(engine)
    with session_scope(engine) as session:
        printed = ward_print.ward_pdf(session=session, ward_ids=[ward_id], now=NOW, tz=LONDON)
        banner = patient_banner(session=session, patient_id=a, now=NOW, tz=LONDON)
    texts = page_texts(printed.data)
    first = texts[0]
    assert row_cells(first, "Time") == ["14:00", "04:00", "08:00"]
    assert row_cells(first, "Respiration rate (/min)") == ["16", "25 (3)", "–"]
    assert row_cells(first, "SpO2 (%)") == ["97", "95 (1)", "–"]
    assert row_cells(first, "Systolic BP (mmHg)") == ["120", "100 (2)", "–"]
    assert row_cells(first, "Pulse (/min)") == ["80", "131 (3)", "–"]
    assert row_cells(first, "Temperature (°C)") == ["37.0", "38.6 (1)", "37.9"]
    assert banner.identity() in first and "Allergies: Penicillin: rash" in first
    assert "3 sets recorded" in first
    b_first = next(t for t in texts if "B2 · BRAVO, Test · SYNTHETIC patient" in t)
    assert "No observation set was recorded in the last 24 h." in b_first
    assert row_cells(b_first, "Respiration rate (/min)") == []       # the grid is there, blank for the pen
    assert "No IL-2 course is recorded for this patient." in "".join(t for t in texts if "BRAVO" in t)
    assert cut_text(words(printed.data)) == []


# --- the demo ward: structure, page by page ------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory, sqlite_template):
    """A 4-patient synthetic ward with its alerts, printed once for the tests below."""
    import shutil
    path = tmp_path_factory.mktemp("print") / "demo.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    seed_demo_ward(url, patients=4, days=2, seed=5, end=DEMO_END, sync=True)
    engine = make_engine(url)
    with session_scope(engine) as session:
        ward_ids = [1]
        sheet = content.ward_sheet(session=session, ward_ids=ward_ids, now=DEMO_END, tz=LONDON)
        printed = ward_print.ward_pdf(session=session, ward_ids=ward_ids, now=DEMO_END, tz=LONDON)
    yield engine, sheet, printed
    engine.dispose()


HEADER = re.compile(r"^\s*(.+?) · (\S+(?: \S+)?) · (.+?) · MRN (\S+)")


@needs_poppler
def test_each_patient_starts_on_a_new_page_and_every_page_names_its_patient(demo):
    _, sheet, printed = demo
    texts = page_texts(printed.data)
    assert len(texts) == printed.pages and printed.patients == len(sheet.patients) == 4
    owners = []
    for number, text in enumerate(texts, start=1):
        header = HEADER.match(text.splitlines()[0])
        assert header, f"page {number} has no patient header"
        owners.append(header.group(4))
        assert "Printed 27 Nov 2026 08:00 GMT – downtime copy, check the live system when back" in text
        assert "SYNTHETIC DATA: invented patients, not real people" in text
        assert re.search(rf"sheet \d+ of \d+ · page {number} of {len(texts)}\s*$", text.rstrip()), number
    mrns = [p.banner.mrn for p in sheet.patients]
    # One section per patient, in bed order, each on whole pages of its own: a patient's pages follow each
    # other, and the first of them opens with that patient's banner (a new page, never mid-page).
    assert list(dict.fromkeys(owners)) == mrns
    for patient in sheet.patients:
        pages = [i for i, owner in enumerate(owners) if owner == patient.banner.mrn]
        assert pages == list(range(pages[0], pages[-1] + 1))
        title = f"{patient.banner.bed} · {patient.banner.name} · SYNTHETIC patient"
        assert [i for i, text in enumerate(texts) if title in text] == [pages[0]]
        lines = [line.strip() for line in texts[pages[0]].splitlines() if line.strip()]
        assert lines[2] == title        # under the two header lines: nothing of the patient before
        for i in pages:
            others = [m for m in mrns if m != patient.banner.mrn and m in texts[i]]
            assert not others, f"page {i + 1} of {patient.banner.mrn} shows {others}"


@needs_poppler
def test_no_text_is_cut_or_drawn_over_other_text_on_any_page(demo):
    _, _, printed = demo
    pages = words(printed.data)
    assert len(pages) == printed.pages and all(page.words for page in pages)
    assert cut_text(pages) == []


@needs_poppler
def test_the_cut_text_check_fails_on_a_table_too_wide_for_the_page(tmp_path):
    """The check above can fail: a table wider than the page (drawn past its edge) and a cell whose text
    runs into the next are both found."""
    import io
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=(layout.PAGE_W, layout.PAGE_H), leftMargin=layout.MARGIN_X,
                            rightMargin=layout.MARGIN_X)
    wide = Table([[f"column{i:02d}" for i in range(30)]], colWidths=[45] * 30)   # 1,350 pt on a 842-pt page
    crowded = Table([["a text much longer than its column", "next"]], colWidths=[40, 40])
    doc.build([wide, crowded])
    problems = cut_text(words(buffer.getvalue()))
    assert any("'column29'" in p and "outside the printable" in p for p in problems)   # past the edge: found
    assert any("drawn over each other" in p for p in problems)


def test_the_print_refuses_to_lay_out_a_table_that_would_cut_text():
    with pytest.raises(layout.LayoutError, match="wider than the page"):
        layout._table([["x"] * 30], [45] * 30, [])
    with pytest.raises(layout.LayoutError, match="needs .* pt, its column is 40.0 pt"):
        layout._table([["Dose"], ["a text much longer than its column"]], [40], [])


@needs_poppler
def test_banner_alerts_doses_and_a_blank_checklist_with_the_live_checks_items(demo):
    engine, sheet, printed = demo
    texts = page_texts(printed.data)
    cells = page_texts(printed.data, layout=False)
    lines = dosing.blank_checklist()
    with session_scope(engine) as session:
        live = dosing.pre_dose_check(session=session, patient_id=sheet.patients[0].patient_id, now=DEMO_END)
    assert [line.label for line in lines] == [item.label for item in live.checklist]   # the same items
    for patient in sheet.patients:
        mine = [t for t in texts if patient.banner.mrn in t.splitlines()[0]]
        joined = "\n".join(mine)
        assert patient.banner.identity() in joined and f"Allergies: {patient.banner.allergies}" in joined
        assert f"Alerts needing attention at print time ({len(patient.alerts)})" in joined
        flat = re.sub(r"\s+", " ", "\n".join(c for c, t in zip(cells, texts) if t in mine))
        for alert in patient.alerts:
            assert alert.severity.upper() in flat and f"{alert.rule} · {alert.level}" in flat
        if patient.next_doses:
            check = next(t for t in mine if "Pre-dose check on paper" in t)
            assert f"Pre-dose check on paper for dose {patient.next_doses[0].number}" in check
            for line in lines:
                assert (line.label.split(",")[0]) in check
            # Blank: nothing recorded in it (the value and time columns are empty on every line).
            # (pdftotext's layout may close up '4 h')
            assert [c.replace(" ", "") for c in row_cells(check, "SBP *")] == ["absolute:<90mmHg(label:withhold)", "4h"]
            assert "Decision:" in check and "PERMANENTLY DISCONTINUE" in check
    assert any(p.alerts for p in sheet.patients) and any(p.next_doses for p in sheet.patients)


@pytest.mark.parametrize("sets, blank", [
    # (sets recorded, blank columns), in grid rows of `row` columns: a whole blank row when nothing was
    # recorded; the last row filled up; a further blank row when fewer than MIN_BLANK_COLUMNS would be left.
    (lambda row, least: 0, lambda row, least: row),
    (lambda row, least: 1, lambda row, least: row - 1),
    (lambda row, least: row - least, lambda row, least: least),
    (lambda row, least: row - least + 1, lambda row, least: row + least - 1),
    (lambda row, least: row, lambda row, least: row),
    (lambda row, least: row + 1, lambda row, least: row - 1),
])
def test_the_grid_always_leaves_columns_to_continue_by_hand(sets, blank):
    cell = content.GridCell("100", 2)
    column = content.SetColumn(NOW, {code: cell for code, _, _ in content.GRID_ROWS}, 5, "medium", "")
    width, row, _ = layout.grid_layout([], label_width=100)
    least = layout.MIN_BLANK_COLUMNS
    recorded = sets(row, least)
    found_width, found_row, found_blank = layout.grid_layout([column] * recorded, label_width=100)
    assert (found_width, found_row) == (width, row) and row * width <= layout.FRAME_W - 100
    assert found_blank == blank(row, least)


def test_text_the_font_lacks_is_replaced_never_printed_as_an_empty_box():
    shown = fonts.printable("SpO₂ ≥ 90%, 38.3 °C, 0.5 μg/kg/min, 2 × 10⁹")
    assert shown == "SpO2 ≥ 90%, 38.3 °C, 0.5 µg/kg/min, 2 × 10?"      # '?', never an empty box
    assert fonts.printable("HR → 131 – ok · done ✓") == "HR -> 131 – ok · done yes"
    assert fonts.printable("Zoë Ødegård") == "Zoë Ødegård"       # Latin-1 names as written


def test_printing_needs_the_permission_and_a_ward_of_ones_own():
    ward_print.authorise("nurse", ward_ids=[1], visible_ids=[1, 2])
    ward_print.authorise("oncologist", ward_ids=[1, 2], visible_ids=[1, 2])
    for role in ("quality", "admin", None):
        with pytest.raises(PermissionDenied, match="may not print ward"):
            ward_print.authorise(role, ward_ids=[1], visible_ids=[1])
    with pytest.raises(PermissionDenied, match="may not print ward 3: it is not one of your wards"):
        ward_print.authorise("nurse", ward_ids=[1, 3], visible_ids=[1])


def test_a_print_is_audited_with_who_which_ward_and_how_much(demo):
    engine, _, printed = demo
    with session_scope(engine) as session:
        ward_print.record_print(session=session, username="nurse", ward_codes=["DEMO"], rendered=printed, hours=24)
    with session_scope(engine) as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.action == "print")).one()
    assert (row.username, row.entity, row.entity_id) == ("nurse", "ward-print", "DEMO")
    assert row.after == {"wards": ["DEMO"], "patients": 4, "pages": printed.pages, "hours": 24}


@pytest.mark.parametrize("hours", [0, -1, 72.5])
def test_a_look_back_outside_0_to_72_h_is_refused(demo, hours):
    engine, _, _ = demo
    with session_scope(engine) as session, pytest.raises(ValueError, match="more than 0 and at most 72"):
        ward_print.ward_pdf(session=session, ward_ids=[1], now=DEMO_END, tz=LONDON, hours=hours)


# --- the ward overview's button ------------------------------------------------------------------------

def test_a_nurse_prints_her_ward_from_the_overview_and_the_print_is_audited(app_db_url, monkeypatch):
    """The button makes the PDF only when clicked (Streamlit runs its callable then, as the browser's
    download asks for it); here the callable the page registered is called as that click would."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    from tests.app_helpers import signed_in
    registered = {}
    original = MediaFileManager.add_deferred

    def keep(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        registered[file_name] = (data_callable, mimetype)
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", keep)
    seed_demo_ward(app_db_url, patients=2, days=1, seed=8, end=DEMO_END)
    at = signed_in("nurse")
    assert not at.exception and [t.value for t in at.title] == ["Ward overview"]
    button, = [b for b in at.get("download_button") if b.proto.label == "Print ward (PDF)"]
    assert "audit trail" in button.proto.help
    (name, (produce, mime)), = registered.items()
    assert re.fullmatch(r"il2-ward-DEMO-\d{8}T\d{4}Z\.pdf", name) and mime == "application/pdf"
    engine = make_engine(app_db_url)
    with session_scope(engine) as session:
        assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "print")).all()  # not yet
    data = produce()
    assert data.startswith(b"%PDF-")
    with session_scope(engine) as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.action == "print")).one()
    engine.dispose()
    assert (row.username, row.entity_id, row.after["patients"]) == ("nurse", "DEMO", 2)


def test_the_shading_reads_in_black_and_white_under_black_text():
    """1, 2 and 3 points (and warning, urgent, emergency) are three greys apart on a black-and-white
    printer, each under black text at better than WCAG AAA contrast; the number is printed in the cell too."""
    from dashboard.theme import contrast_ratio, relative_luminance
    greys = [relative_luminance(layout.TINTS[points]) for points in (1, 2, 3)]
    assert greys[0] - greys[1] >= 0.1 and greys[1] - greys[2] >= 0.1
    assert all(contrast_ratio("#000000", tint) >= 7 for tint in layout.TINTS.values())
