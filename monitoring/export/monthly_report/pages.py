"""The page frame of the monthly report: A4 portrait, the marks on every page, 'page X of Y'.

Every page carries, drawn after its content: the report's name and period, "De-identified" or
"IDENTIFIABLE" in red (an identifiable report also says so in red in its footer), "SYNTHETIC DATA"
when every course is synthetic, the course whose page it is, and 'page X of Y'. The page count is a
form drawn once the document is complete (reportlab forms may be used before they are defined), so
the report is built in one pass.
"""
from __future__ import annotations

from collections.abc import Callable

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from monitoring.export.about import ExportAbout
from monitoring.export.monthly_report.text import BOLD, FONT, drawable

MM = 72 / 25.4
PAGE_W, PAGE_H = A4
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 15 * MM, 24 * MM, 16 * MM
FRAME_W = PAGE_W - 2 * MARGIN_X
FRAME_H = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM
RED = colors.HexColor("#C00000")          # 6.3:1 on white (WCAG AA for text)
PAGE_COUNT_FORM = "pagecount"
REPORT_NAME = "IL-2 Toxicity Monitor · Monthly toxicity and alert-quality report"
IDENTIFIABLE_FOOTER = "IDENTIFIABLE: names, record numbers and dates of patients. Handle as patient records."
SYNTHETIC_MARK = "SYNTHETIC DATA: invented patients"


class CourseMarker(Flowable):
    """A flowable of no size telling the page frame whose pages follow (None: no course's)."""

    def __init__(self, course_ref: str | None):
        super().__init__()
        self.course_ref = course_ref

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.canv.report_course = self.course_ref


class ReportCanvas(Canvas):
    """A canvas that writes the page count into the 'page X of Y' form when the document is saved."""

    report_course: str | None = None

    def save(self):
        self.beginForm(PAGE_COUNT_FORM)
        self.setFont(FONT, 7.5)
        self.drawString(0, 0, str(self.getPageNumber() - 1))
        self.endForm()
        super().save()


def _fitted(text: str, font: str, size: float, width: float) -> str:
    """The text's first line at this width (a period text too long for the header ends in '...')."""
    lines = simpleSplit(drawable(text), font, size, width)
    if not lines:
        return ""
    return lines[0] if len(lines) == 1 else lines[0].rstrip() + " ..."


def decorator(marks: ExportAbout) -> Callable[[Canvas, object], None]:
    """The onPageEnd callback drawing the marks of every page."""
    mark = marks.mark

    def decorate(canvas: Canvas, doc: object) -> None:
        top = PAGE_H - 11 * MM
        right = PAGE_W - MARGIN_X
        canvas.saveState()
        canvas.setFillColor(RED)
        canvas.setFont(BOLD, 11)
        canvas.drawRightString(right, top, mark)
        mark_w = stringWidth(mark, BOLD, 11)
        canvas.setFillColor(colors.black)
        canvas.setFont(BOLD, 8.5)
        canvas.drawString(MARGIN_X, top, _fitted(REPORT_NAME, BOLD, 8.5, FRAME_W - mark_w - 12))
        course = getattr(canvas, "report_course", None)
        course_text = f"Course {course}" if course else ""
        course_w = stringWidth(course_text, BOLD, 8.5)
        if course_text:
            canvas.drawRightString(right, top - 12, drawable(course_text))
        canvas.setFont(FONT, 8)
        canvas.drawString(MARGIN_X, top - 12, _fitted(marks.period, FONT, 8, FRAME_W - course_w - 12))
        canvas.setLineWidth(0.6)
        canvas.line(MARGIN_X, top - 17, right, top - 17)
        bottom = 8 * MM
        if marks.identifiable:
            canvas.setFillColor(RED)
            canvas.setFont(BOLD, 7.5)
            canvas.drawString(MARGIN_X, bottom, IDENTIFIABLE_FOOTER)
            canvas.setFillColor(colors.black)
        elif marks.synthetic:
            canvas.setFont(BOLD, 7.5)
            canvas.drawString(MARGIN_X, bottom, SYNTHETIC_MARK)
        if marks.identifiable and marks.synthetic:
            canvas.setFont(BOLD, 7.5)
            canvas.drawString(MARGIN_X, bottom + 10, SYNTHETIC_MARK)
        number = f"page {canvas.getPageNumber()} of "
        canvas.setFont(FONT, 7.5)
        # Room for a page count of up to four digits after 'of'.
        start = right - stringWidth(number + "0000", FONT, 7.5)
        canvas.drawString(start, bottom, number)
        canvas.saveState()
        canvas.translate(start + stringWidth(number, FONT, 7.5), bottom)
        canvas.doForm(PAGE_COUNT_FORM)
        canvas.restoreState()
        canvas.restoreState()

    return decorate
