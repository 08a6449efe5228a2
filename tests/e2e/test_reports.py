"""The quality account downloads the de-identified cohort report in every format, in the browser, and
each download is in the audit trail."""
import io
import json
import zipfile

from sqlalchemy import select

from monitoring.store.db import make_engine, session_scope
from monitoring.store.models import AuditEvent
from tests.e2e.conftest import wait_for_app_run
from tests.e2e.test_smoke import sign_in

FORMATS = {"Download CSV (zip)": "csv", "Download Excel": "xlsx", "Download PDF": "pdf",
           "Download FHIR R4 (Bundle)": "fhir", "Download FHIR R4 (ndjson)": "ndjson"}


def test_the_quality_account_downloads_each_format_and_each_is_audited(page, seeded_db_url):
    sign_in(page, "quality")  # one page for this role: the Reports page opens directly
    wait_for_app_run(page)
    page.get_by_role("heading", name="Reports", exact=True).wait_for()
    # The quality role may not export identifiable data: the option is not even offered.
    assert page.get_by_text("Identifiable export", exact=False).count() == 0
    # Issue 16 item 5: a table's toolbar (shown on hover: its search button proves it is there) offers
    # no "Download as CSV": files leave only through the audited buttons below.
    page.get_by_test_id("stDataFrame").first.hover()
    page.get_by_test_id("stElementToolbarButton").first.wait_for()
    labels = page.get_by_test_id("stElementToolbarButton").evaluate_all(
        "buttons => buttons.map(b => b.getAttribute('aria-label') || b.innerText)")
    assert labels and not [label for label in labels if "download" in (label or "").lower()], labels
    contents, names = {}, {}
    for label, fmt in FORMATS.items():
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name=label, exact=True).click()
        contents[fmt] = open(download.value.path(), "rb").read()
        names[fmt] = download.value.suggested_filename
        assert contents[fmt], f"{label}: empty file"
    # Issue 20: a de-identified file says so in its name (and an identifiable one IDENTIFIABLE).
    assert [name for name in names.values() if "-de-identified." not in name] == [], names
    assert names["pdf"].startswith("il2-quality-report-")
    assert "courses.csv" in zipfile.ZipFile(io.BytesIO(contents["csv"])).namelist()
    assert contents["xlsx"][:2] == b"PK" and contents["pdf"][:5] == b"%PDF-"
    assert json.loads(contents["fhir"])["resourceType"] == "Bundle"
    assert json.loads(contents["ndjson"].splitlines()[0])["resourceType"] == "Patient"
    for data in (contents["csv"], contents["fhir"], contents["ndjson"]):
        assert b"SYN-0" not in data  # no record number of the demo ward
    engine = make_engine(seeded_db_url)
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.entity == "quality-export",
                                                        AuditEvent.username == "quality")).all()
        audited = [row.after["format"] for row in rows]
    engine.dispose()
    assert set(FORMATS.values()) <= set(audited)
