"""A nurse prints her ward for downtime from the ward overview (issue 18 item 7): Chromium downloads the
PDF the button makes on the click, and its pages are the ward's patients."""
from playwright.sync_api import expect

from tests.e2e.test_smoke import sign_in
from tests.export.pdf_pages import cut_text, needs_poppler, page_texts, words


@needs_poppler
def test_a_nurse_downloads_the_wards_downtime_pdf_from_the_overview(page, tmp_path):
    sign_in(page, "nurse")
    button = page.get_by_role("button", name="Print ward (PDF)")
    expect(button).to_be_visible()
    with page.expect_download(timeout=60_000) as download:
        button.click()
    assert download.value.suggested_filename.startswith("il2-ward-DEMO-")
    path = tmp_path / "ward.pdf"
    download.value.save_as(path)
    data = path.read_bytes()
    texts = page_texts(data)
    firsts = [t for t in texts if "· SYNTHETIC patient" in t]
    assert len(firsts) == 12 and "Bed 01 · " in texts[0].splitlines()[0]
    assert all("downtime copy, check the live system when back" in t for t in texts)
    assert cut_text(words(data)) == []
