"""The downtime print laid out with reportlab's platypus: A4 landscape, each patient on pages of their own.

Every table has column widths that add up to the frame's width or less (the widths of the grid's
columns are measured from their texts), long text wraps in Paragraphs, and each block (the banner, a
grid row of sets, the alerts, the doses, the blank check) is kept whole on a page: nothing is drawn
past the page's edge or cut between pages. The header and footer are drawn when the document is
complete, so every page names its patient and says 'page X of Y'.

Colours are print-safe: light tints whose greys still differ on a black-and-white printer, and every
shaded cell also carries its number or word (NEWS2 points in brackets, the band's name, the severity).
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from monitoring.export.ward_print.content import GRID_ROWS, NOT_RECORDED, PatientSheet, SetColumn, WardSheet
from monitoring.export.ward_print.fonts import BOLD, REGULAR, printable, register
from monitoring.timefmt import local_text
from monitoring.views.dosing import BlankLine

MM = 72 / 25.4
PAGE_W, PAGE_H = 297 * MM, 210 * MM        # A4 landscape
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 12 * MM, 21 * MM, 13 * MM
FRAME_W = PAGE_W - 2 * MARGIN_X
FRAME_H = PAGE_H - MARGIN_TOP - MARGIN_BOTTOM
FONT_SIZE = 7.5
PAD = 2.5                                  # cell padding, each side
# Light tints for 1, 2 and 3 NEWS2 points (and warning, urgent, emergency; medium and high bands): three
# greys a black-and-white printer keeps apart, under black text (contrast above 10:1 on each; tested).
TINTS = {1: "#FFEB99", 2: "#FFCF8A", 3: "#F5A3A3"}
SEVERITY_TINT = {"warning": 1, "urgent": 2, "emergency": 3}
BAND_TINT = {"low-medium": 1, "medium": 2, "high": 3}
BAND_WORD = {"low": "low", "low-medium": "3 in one", "medium": "medium", "high": "high"}
GRID_MIN_COLUMN = 31.0                     # wide enough for a hand-written value
MIN_BLANK_COLUMNS = 6                      # at least this many columns to continue by hand
GRID_ROW_H, TOTAL_ROW_H = 15.0, 19.0
WRITE_ROW_H = 21.0                         # rows meant for handwriting


@dataclass
class Rendered:
    data: bytes
    pages: int
    patients: int


def _styles():
    register()
    base = ParagraphStyle("print", fontName=REGULAR, fontSize=FONT_SIZE, leading=FONT_SIZE * 1.2)
    return {
        "text": base,
        "small": ParagraphStyle("small", parent=base, fontSize=6.5, leading=7.8),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7, leading=8.4),
        "total": ParagraphStyle("total", parent=base, fontSize=7.5, leading=7.5, alignment=1),
        "heading": ParagraphStyle("heading", parent=base, fontName=BOLD, fontSize=10, leading=12, spaceBefore=6,
                                  spaceAfter=3),
        "subheading": ParagraphStyle("subheading", parent=base, fontName=BOLD, fontSize=8.5, leading=10.5,
                                     spaceBefore=5, spaceAfter=2),
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=13, leading=16),
        "banner": ParagraphStyle("banner", parent=base, fontSize=9, leading=11.5),
    }


def _p(text: object, style, *, bold: bool = False):
    """A Paragraph of plain text (escaped: evidence says 'SBP < 90'), in the print's font."""
    words = escape(printable(text))
    return Paragraph(f"<b>{words}</b>" if bold else words, style)


def _width(text: str, size: float = 7, font: str = REGULAR) -> float:
    register()
    return stringWidth(printable(text), font, size)


class _Box(Flowable):
    """An empty tick box (a square drawn, not a glyph the font may lack), for a table cell."""
    def __init__(self, size: float = 7.5):
        super().__init__()
        self.size = size

    def wrap(self, available_width, available_height):
        return self.size, self.size

    def draw(self):
        self.canv.setLineWidth(0.6)
        self.canv.rect(0, 0, self.size, self.size)


class _Marker(Flowable):
    """A flowable of no size that tells the canvas whose pages follow (the header and footer read it)."""
    def __init__(self, key: int):
        super().__init__()
        self.key = key

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.canv.print_patient = self.key


def _text_width(row: int, column: int, text: str) -> float:
    """The width a plain-text cell needs: the header row and the label column are bold."""
    font = BOLD if row == 0 or column == 0 else REGULAR
    return max(_width(line, font=font) for line in text.split("\n")) + 2 * PAD


def _fit(rows: list[list], widths: Sequence[float]) -> list[float]:
    """Column widths for these rows: each given width widened to its plain-text cells, and the one 0
    width (a wrapping column) given what the frame has left."""
    fitted = [w if not w else max([w] + [_text_width(r, c, cell) for r, row in enumerate(rows)
                                         if isinstance(cell := row[c], str) and cell])
              for c, w in enumerate(widths)]
    return [w or FRAME_W - sum(fitted) for w in fitted]


class LayoutError(ValueError):
    """A table the page cannot hold whole: wider than the frame, or a text wider than its column."""


def _table(data, widths, style_commands, *, repeat: int = 0, heights=None):
    """A table of these column widths, refused (LayoutError) if it would cut text: wider than the frame,
    or a plain-text cell wider than its column (Paragraph cells wrap)."""
    if sum(widths) > FRAME_W + 0.01:
        raise LayoutError(f"a table of {sum(widths):.1f} pt is wider than the page's {FRAME_W:.1f} pt")
    for r, row in enumerate(data):
        for c, cell in enumerate(row):
            if isinstance(cell, str) and cell and _text_width(r, c, cell) > widths[c] + 0.01:
                raise LayoutError(f"'{cell}' needs {_text_width(r, c, cell):.1f} pt, its column is {widths[c]:.1f} pt")
    table = Table(data, colWidths=widths, rowHeights=heights, repeatRows=repeat, hAlign="LEFT")
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), REGULAR, 7), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("LEFTPADDING", (0, 0), (-1, -1), PAD), ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
                               ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                               *style_commands]))
    return table


# --- the blocks ---------------------------------------------------------------------------------------

def banner_block(patient: PatientSheet, styles) -> list:
    b = patient.banner
    title = f"{b.bed} · {b.name}" + (" · SYNTHETIC patient" if b.synthetic else "")
    rows = [[_p(title, styles["title"])], [_p(b.identity(), styles["banner"])],
            [_p(f"IL-2: {b.course()}", styles["banner"])],
            [_p(f"Allergies: {b.allergies}", styles["banner"], bold=True)]]
    return [_table(rows, [FRAME_W], [("BOX", (0, 0), (-1, -1), 0.8, colors.black),
                                     ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#F2F2F2"))])]


def _cell_text(cell) -> str:
    return cell.text if not cell.points else f"{cell.text} ({cell.points})"


def grid_layout(sets: list[SetColumn], label_width: float) -> tuple[float, int, int]:
    """(column width, columns per grid row, blank columns): the widest value decides the width; the
    sets fill grid rows of equal columns and blank columns complete the last one (a whole further row of
    them when fewer than MIN_BLANK_COLUMNS would be left)."""
    texts = [_cell_text(c) for s in sets for c in s.cells.values()]
    widest = max([_width(t) for t in texts] + [_width("00 Mmm", font=BOLD)], default=0)
    width = max(GRID_MIN_COLUMN, widest + 2 * PAD + 1)
    per_row = int((FRAME_W - label_width) // width)
    blank = (-len(sets)) % per_row
    if blank < MIN_BLANK_COLUMNS:
        blank += per_row
    return width, per_row, blank


LABELS = [("Date", ""), ("Time", ""), *((label, unit) for _, label, unit in GRID_ROWS), ("NEWS2 total", ""),
          ("Initials", "")]


def _label(label: str, unit: str) -> str:
    return f"{label} ({unit})" if unit else label


def grid_block(patient: PatientSheet, sheet: WardSheet, styles) -> list:
    """The NEWS2 chart of the last hours: a column per recorded set, then blank columns."""
    tz = sheet.tz
    label_width = max(_width(_label(*pair), font=BOLD) for pair in LABELS) + 2 * PAD + 1
    width, per_row, blank = grid_layout(patient.sets, label_width)
    columns: list[SetColumn | None] = [*patient.sets, *([None] * blank)]
    heading = _p(f"Observations, last {sheet.hours:g} h ({local_text(sheet.since, tz)} to "
                 f"{local_text(sheet.printed_at, tz)}): NEWS2 chart, continue by hand", styles["heading"])
    note = _p(f"No observation set was recorded in the last {sheet.hours:g} h." if not patient.sets else
              f"{len(patient.sets)} set{'s' * (len(patient.sets) != 1)} recorded. ", styles["text"])
    legend = _p("(n): the NEWS2 points of that value; shading light, medium, dark = 1, 2, 3 points (total row: "
                "the band, also in words). – : not recorded in that set; a set without all seven parameters has "
                "no NEWS2 (–). S2: SpO2 scale 2. Score a hand-written set with the ward's paper NEWS2 chart.",
                styles["small"])
    blocks = []
    for start in range(0, len(columns), per_row):
        part = columns[start:start + per_row]
        rows = [[label_text] for label_text in (_label(*pair) for pair in LABELS)]
        style = [("FONT", (0, 0), (0, -1), BOLD, 7), ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#555555")),
                 ("BOX", (0, 0), (-1, -1), 0.9, colors.black), ("ALIGN", (1, 0), (-1, -1), "CENTER"),
                 ("LINEBELOW", (0, 1), (-1, 1), 0.9, colors.black),
                 ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#E6E6E6")),
                 ("LINEABOVE", (0, len(LABELS) - 2), (-1, len(LABELS) - 2), 0.9, colors.black)]
        for j, column in enumerate(part, start=1):
            if column is None:
                for i in range(len(LABELS)):
                    rows[i].append("")
                continue
            local = column.at.astimezone(tz)
            rows[0].append(f"{local:%d %b}")
            rows[1].append(f"{local:%H:%M}")
            for i, (code, _, _) in enumerate(GRID_ROWS, start=2):
                cell = column.cells[code]
                rows[i].append(_cell_text(cell))
                if cell.points:
                    style.append(("BACKGROUND", (j, i), (j, i), colors.HexColor(TINTS[min(cell.points, 3)])))
            total = len(LABELS) - 2
            if column.news2 is None:
                rows[total].append(Paragraph(f"{NOT_RECORDED}<br/><font size=5.5>partial</font>", styles["total"]))
            else:
                band = escape(BAND_WORD.get(column.band or "", str(column.band)))
                rows[total].append(Paragraph(f"<b>{column.news2}</b><br/><font size=5.5>{band}</font>",
                                             styles["total"]))
                if column.band in BAND_TINT:
                    style.append(("BACKGROUND", (j, total), (j, total),
                                  colors.HexColor(TINTS[BAND_TINT[column.band]])))
            rows[-1].append("")
        heights = [GRID_ROW_H] * (len(LABELS) - 2) + [TOTAL_ROW_H, GRID_ROW_H]
        blocks.append(_table(rows, [label_width] + [width] * len(part), style, heights=heights))
    first = KeepTogether([heading, note, blocks[0], legend] if len(blocks) == 1 else [heading, note, blocks[0]])
    rest = [KeepTogether([b, legend] if i == len(blocks) - 1 else [b]) for i, b in enumerate(blocks[1:], start=1)]
    return [first, *rest]


def alerts_block(patient: PatientSheet, sheet: WardSheet, styles) -> list:
    tz = sheet.tz
    count = len(patient.alerts)
    heading = _p(f"Alerts needing attention at print time ({count})", styles["heading"])
    expected = (f"{patient.expected_effects} open expected IL-2 effect{'s' * (patient.expected_effects != 1)} "
                "(fever, rigors or tachycardia in the post-dose window) not listed: see the live system."
                if patient.expected_effects else "")
    if not count:
        return [KeepTogether([heading, _p("No alert needs attention at print time. " + expected, styles["text"])])]
    widths = [58, 150, 64, 128, 0]
    rows: list[list] = [["Severity", "Alert and level", "Onset", "Status, last action", "Evidence and IL-2 context"]]
    style = [("FONT", (0, 0), (-1, 0), BOLD, 7), ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#555555")),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E6E6E6")), ("VALIGN", (0, 1), (-1, -1), "TOP")]
    for i, a in enumerate(patient.alerts, start=1):
        rows.append([_p(a.severity.upper(), styles["cell"], bold=True), _p(f"{a.rule} · {a.level}", styles["cell"]),
                     _p(local_text(a.onset_at, tz), styles["cell"]),
                     _p(f"{a.status}; {a.last_action}", styles["cell"]),
                     _p(a.evidence + (f" · IL-2 context: {a.context}" if a.context else ""), styles["cell"])])
        if a.severity in SEVERITY_TINT:
            style.append(("BACKGROUND", (0, i), (0, i), colors.HexColor(TINTS[SEVERITY_TINT[a.severity]])))
    parts = [heading, _table(rows, _fit(rows, widths), style, repeat=1)]
    if expected:
        parts.append(_p(expected, styles["small"]))
    return [KeepTogether(parts)]


HISTORY_WIDTHS = {"Dose": 30, "Scheduled": 66, "Status": 42, "Given at": 66, "Amount": 78, "Route": 52,
                  "Reason or basis": 0, "Recorded": 150}
NEXT_HEADERS = ["Dose", "Due", "Check done", "Decision", "Given at", "Amount", "Route", "Held or stopped: reason",
                "Signature"]
NEXT_WIDTHS = [30, 84, 46, 70, 66, 78, 52, 0, 110]


def doses_block(patient: PatientSheet, sheet: WardSheet, styles) -> list:
    """The course, the next doses with empty cells to write in (first: they are what downtime needs),
    and the doses recorded, newest first."""
    if patient.course is None:
        return [KeepTogether([_p("IL-2 doses", styles["heading"]),
                              _p("No IL-2 course is recorded for this patient.", styles["text"])])]
    grid = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#555555")), ("FONT", (0, 0), (-1, 0), BOLD, 7),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E6E6E6"))]
    upcoming = [_p(f"IL-2 doses: {patient.course}", styles["heading"])]
    if patient.next_doses:
        upcoming += [_p(f"{patient.progress}. Next doses: record each one here while the system is down, and in "
                        "the system when it is back.", styles["text"]), Spacer(1, 2)]
        rows: list[list] = [list(NEXT_HEADERS)]
        for dose in patient.next_doses:
            due = "time not scheduled" if dose.due_at is None else local_text(dose.due_at, sheet.tz)
            if dose.due_at is not None and dose.due_at <= sheet.printed_at:
                due += " (overdue at print)"
            rows.append([str(dose.number), printable(due), _Box(), "", "", "", "", "", ""])
        heights = [None] + [WRITE_ROW_H] * len(patient.next_doses)
        upcoming.append(_table(rows, _fit(rows, NEXT_WIDTHS), grid + [("ALIGN", (2, 1), (2, -1), "CENTER")],
                               heights=heights))
        if patient.forecast:
            upcoming.append(_p(f"Pre-dose check at print time (a forecast from the values valid then; judge again "
                               f"at the time of dosing): {patient.forecast}", styles["text"]))
    else:
        upcoming.append(_p(f"{patient.progress}. No next dose: {patient.no_next_dose or 'none is scheduled.'}",
                           styles["text"]))
    recorded = [_p("Doses recorded, newest first", styles["subheading"])]
    if patient.doses.empty:
        recorded.append(_p("No dose recorded yet.", styles["text"]))
    else:
        rows = [list(HISTORY_WIDTHS)]
        for event in patient.doses.to_dict("records"):
            rows.append([_p(event[c], styles["cell"]) if c in ("Reason or basis", "Recorded")
                         else printable(event[c]) for c in HISTORY_WIDTHS])
        recorded.append(_table(rows, _fit(rows, list(HISTORY_WIDTHS.values())),
                               grid + [("VALIGN", (0, 1), (-1, -1), "TOP")], repeat=1))
    if patient.earlier_doses:
        recorded.append(_p(patient.earlier_doses, styles["small"]))
    return [KeepTogether(upcoming), KeepTogether(recorded)]


CHECK_HEADERS = ["Input (* required)", "Hold criteria in force", "Valid for", "Value", "Time", "Met"]
CHECK_WIDTHS = [150, 0, 52, 74, 52, 30]
DECISIONS = ("GIVE", "DISCUSS", "HOLD", "INCOMPLETE", "PERMANENTLY DISCONTINUE")


def _valid_text(valid_for: timedelta | None) -> str:
    if valid_for is None:
        return "course"
    hours = valid_for.total_seconds() / 3600
    return f"{hours / 24:g} d" if hours >= 48 else f"{hours:g} h"


def checklist_block(patient: PatientSheet, lines: list[BlankLine], styles) -> list:
    """The pre-dose check on paper: every input the live check reads, its criteria, blank value, time
    and tick box; then the decision boxes and signatures."""

    if not patient.next_doses:
        return []
    first = patient.next_doses[0]
    heading = _p(f"Pre-dose check on paper for dose {first.number} (blank; one sheet per dose, copy it for the "
                 "doses after)", styles["heading"])
    intro = _p("Write the latest value of each input and its time; tick Met when its hold criterion is met. A "
               "value older than its validity does not count: a required input (*) without a valid value makes "
               "the check INCOMPLETE. The decision stays with the clinical team.", styles["small"])
    rows = [CHECK_HEADERS]
    for line in lines:
        rows.append([_p(line.label + (" *" if line.required else ""), styles["cell"], bold=line.required),
                     _p(line.rule, styles["cell"]), _valid_text(line.valid_for), "", "", _Box()])
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#555555")), ("FONT", (0, 0), (-1, 0), BOLD, 7),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E6E6E6")), ("ALIGN", (-1, 1), (-1, -1), "CENTER"),
             # Room to write a value by hand.
             ("TOPPADDING", (0, 1), (-1, -1), 2.6), ("BOTTOMPADDING", (0, 1), (-1, -1), 2.6)]
    table = _table(rows, _fit(rows, CHECK_WIDTHS), style, repeat=1)
    decision = [["Decision:"]]
    for word in DECISIONS:
        decision[0] += [_Box(), word]
    widths = [44] + [w for word in DECISIONS for w in (12, _width(word, font=BOLD) + 2 * PAD + 4)]
    decision_row = _table(decision, widths, [("FONT", (0, 0), (-1, -1), BOLD, 7)])
    sign = _table([["Checked by (name, signature):", "", "Time:", "", "Oncologist informed (name, time):", ""]],
                  _fit([["Checked by (name, signature):", "", "Time:", "", "Oncologist informed (name, time):",
                         ""]], [1, 190, 1, 70, 1, 0]),
                  [("LINEBELOW", (1, 0), (1, 0), 0.5, colors.black), ("LINEBELOW", (3, 0), (3, 0), 0.5, colors.black),
                   ("LINEBELOW", (5, 0), (5, 0), 0.5, colors.black)], heights=[WRITE_ROW_H])
    return [KeepTogether([heading, intro, table, decision_row, sign])]


# --- the document -------------------------------------------------------------------------------------

def _canvas_class(decorate: Callable):
    """A canvas that keeps every page until the end, then draws each page's header and footer knowing the
    page count and whose pages they are (reportlab's usual 'page X of Y' pattern)."""

    class PagedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.print_patient = None
            self._kept: list[dict] = []

        def showPage(self):
            self._kept.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            owners = [state["print_patient"] for state in self._kept]
            for number, state in enumerate(self._kept, start=1):
                self.__dict__.update(state)
                decorate(self, number, owners)
                Canvas.showPage(self)
            Canvas.save(self)

    return PagedCanvas


def _decorator(sheet: WardSheet, pages: dict) -> Callable:
    by_id = {p.patient_id: p for p in sheet.patients}
    printed = local_text(sheet.printed_at, sheet.tz, "%d %b %Y %H:%M")
    wards = ", ".join(f"{name} ({code})" for code, name in sheet.wards) or "no ward"

    def decorate(canvas, number: int, owners: list) -> None:
        pages["total"] = len(owners)
        owner = owners[number - 1]
        patient = by_id.get(owner)
        top = PAGE_H - 9 * MM
        canvas.saveState()
        canvas.setFillColor(colors.black)
        canvas.setFont(BOLD, 9.5)
        if patient is None:
            who = wards
        else:
            b = patient.banner
            who = f"{patient.ward_name} · {b.bed} · {b.name} · MRN {b.mrn}"
        canvas.drawString(MARGIN_X, top, printable(who))
        if sheet.synthetic:
            canvas.drawRightString(PAGE_W - MARGIN_X, top, "SYNTHETIC DATA: invented patients, not real people")
        canvas.setFont(REGULAR, 8)
        canvas.drawString(MARGIN_X, top - 11, printable(
            f"Printed {printed} – downtime copy, check the live system when back"))
        canvas.setLineWidth(0.6)
        canvas.line(MARGIN_X, top - 15, PAGE_W - MARGIN_X, top - 15)
        canvas.setFont(REGULAR, 7)
        canvas.drawString(MARGIN_X, 7 * MM, "IL-2 Toxicity Monitor, downtime print · decision support only: the "
                                            "decision stays with the clinical team")
        mine = [n for n, o in enumerate(owners, start=1) if o == owner]
        where = f"{patient.banner.bed}: sheet {mine.index(number) + 1} of {len(mine)} · " if patient else ""
        canvas.setFont(BOLD, 8)
        canvas.drawRightString(PAGE_W - MARGIN_X, 7 * MM, printable(f"{where}page {number} of {len(owners)}"))
        canvas.restoreState()

    return decorate


def render(sheet: WardSheet, lines: list[BlankLine], *, compress: bool = True) -> Rendered:
    """The ward's PDF: per patient the banner, the NEWS2 grid, the alerts, the doses and the blank check."""
    styles = _styles()
    buffer = io.BytesIO()
    names = ", ".join(code for code, _ in sheet.wards)
    doc = BaseDocTemplate(buffer, pagesize=(PAGE_W, PAGE_H), title=f"Downtime print, ward {names}",
                          author="IL-2 Toxicity Monitor", invariant=1, pageCompression=1 if compress else 0,
                          leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
                          bottomMargin=MARGIN_BOTTOM)
    doc.addPageTemplates([PageTemplate(id="sheet", frames=[
        Frame(MARGIN_X, MARGIN_BOTTOM, FRAME_W, FRAME_H, id="body", leftPadding=0, rightPadding=0, topPadding=0,
              bottomPadding=0)])])
    story: list = []
    for i, patient in enumerate(sheet.patients):
        if i:
            story.append(PageBreak())
        story.append(_Marker(patient.patient_id))
        story += banner_block(patient, styles)
        story += grid_block(patient, sheet, styles)
        story += alerts_block(patient, sheet, styles)
        story += doses_block(patient, sheet, styles)
        story += checklist_block(patient, lines, styles)
    if not sheet.patients:
        story.append(_p(f"No patients on {', '.join(n for _, n in sheet.wards) or 'this ward'} at print time.",
                        styles["heading"]))
    pages: dict[str, int] = {}
    doc.build(story, canvasmaker=_canvas_class(_decorator(sheet, pages)))
    return Rendered(buffer.getvalue(), pages.get("total", 0), len(sheet.patients))
