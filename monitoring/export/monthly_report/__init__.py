"""The monthly report (issue 20 item 4): the PDF a quality committee reads.

A cover page (period, wards, regimens, courses, the pseudonym key's generation, "De-identified" or
"IDENTIFIABLE" in red), a one-page summary (courses, patient-days, doses given and held, grade 3-4
toxicities by organ system, alerts per 100 patient-days by rule, time to first response, the
expected-effect share, doses given over the pre-dose check), charts with titles and named axes,
tables in words (monitoring.export.labels), then a page per course for the courses with the highest
grades and most episodes. Every page says "De-identified" or "IDENTIFIABLE" in red.

It is written from the tables as released (monitoring.export.writers.for_release): small cells
withheld there stay withheld. The period, the wards and the key generation are the caller's: the
tables do not know them.

summary.py computes the summary's figures, charts.py draws the charts, pages.py the frame of every
page, document.py lays the content out, text.py writes the figures.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from monitoring.export.about import ExportAbout
from monitoring.export.monthly_report.document import TITLE, render_report
from monitoring.export.monthly_report.summary import ALL_BUT_EXPECTED, Summary, report_summary

__all__ = ["ALL_BUT_EXPECTED", "MAX_COURSE_PAGES", "TITLE", "Summary", "monthly_report_pdf", "report_summary"]

#: Course pages at most: the courses with the highest grades and most episodes (all are in CSV and Excel).
MAX_COURSE_PAGES = 50


def monthly_report_pdf(tables: Mapping[str, pd.DataFrame], about: ExportAbout, *,
                       max_course_pages: int = MAX_COURSE_PAGES) -> bytes:
    """The monthly report of these (released) tables as PDF bytes; `about` gives the period, the wards,
    the key generation and whether it is identifiable (monitoring.export.about)."""
    if max_course_pages < 0:
        raise ValueError(f"max_course_pages {max_course_pages} is not accepted: 0 or more")
    return render_report(tables, about, max_course_pages=max_course_pages)
