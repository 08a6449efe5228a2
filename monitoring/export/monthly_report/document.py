"""The monthly report's content laid out with platypus: cover, one-page summary, charts, tables, course pages.

Every table has column widths that add up to the frame's width, and its cells are Paragraphs that
wrap, so no text runs past its cell or the page. Every chart is kept on one page with its heading;
a course's chart is kept with the course's heading, and every page of a course names the course in
its header (pages.CourseMarker), so no chart is left on a page without its course.
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import pandas as pd
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from monitoring.clinical.catalogue import ORGAN_SYSTEMS
from monitoring.export import labels
from monitoring.export.about import ExportAbout
from monitoring.export.monthly_report.charts import Series, bar_chart
from monitoring.export.monthly_report.pages import (
    FRAME_H,
    FRAME_W,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    MM,
    PAGE_H,
    PAGE_W,
    RED,
    CourseMarker,
    ReportCanvas,
    decorator,
)
from monitoring.export.monthly_report.summary import Summary, report_summary
from monitoring.export.monthly_report.text import BOLD, FONT, drawable, figure, markup
from monitoring.export.quality import ALL_REGIMENS, GRADE_COLUMNS, TABLE_TITLES

TITLE = "Monthly toxicity and alert-quality report"
GRADE_COLOURS = {"3": "#E08A2C", "4": "#B22222"}    # print-safe: two greys apart on a mono printer
BAR_COLOUR = "#4C72B0"
MAX_EPISODE_ROWS, MAX_DECLINE_ROWS = 25, 40
# Decimals of a figure by its unit (the monitoring and summary tables give the unit on each row).
UNIT_DIGITS = {"count": 0, "%": 1, "min": 1, "days": 2, "per patient-day": 3}
CHART_H, COURSE_CHART_H = 205.0, 190.0


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("report", fontName=FONT, fontSize=8.5, leading=11)
    return {
        "text": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "note": ParagraphStyle("note", parent=base, fontSize=7.5, leading=9.5, spaceBefore=4),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
        "number": ParagraphStyle("number", parent=base, fontSize=7.5, leading=9, alignment=2),
        "head": ParagraphStyle("head", parent=base, fontName=BOLD, fontSize=7.5, leading=9),
        "head_number": ParagraphStyle("head_number", parent=base, fontName=BOLD, fontSize=7.5, leading=9,
                                      alignment=2),
        "h1": ParagraphStyle("h1", parent=base, fontName=BOLD, fontSize=14, leading=17, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=10.5, leading=13, spaceBefore=8,
                             spaceAfter=4),
        "cover_title": ParagraphStyle("cover_title", parent=base, fontName=BOLD, fontSize=22, leading=27),
        "cover_sub": ParagraphStyle("cover_sub", parent=base, fontSize=12, leading=15),
        "cover_mark": ParagraphStyle("cover_mark", parent=base, fontName=BOLD, fontSize=20, leading=24,
                                     textColor=RED),
        "cover_cell": ParagraphStyle("cover_cell", parent=base, fontSize=10, leading=13),
        "cover_label": ParagraphStyle("cover_label", parent=base, fontName=BOLD, fontSize=10, leading=13),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(markup(text), style)


class LayoutError(ValueError):
    """A table whose columns cannot all hold their longest word within the page's width."""


CELL_SIZE, CELL_PAD = 7.5, 3.0


def _longest_word(text: str, font: str) -> float:
    return max([stringWidth(w, font, CELL_SIZE) for w in drawable(text).split()] or [0.0]) + 2 * CELL_PAD + 0.5


def fit_widths(fractions: Sequence[float], minimums: Sequence[float], total: float = FRAME_W) -> list[float]:
    """Column widths adding up to `total`, in these proportions as far as every column keeps its minimum
    (the longest word of the column: a word is never broken). LayoutError when the minimums do not fit."""
    if sum(minimums) > total + 0.01:
        raise LayoutError(f"columns needing {sum(minimums):.0f} pt do not fit the page's {total:.0f} pt")
    fixed: set[int] = set()
    while True:
        free = [i for i in range(len(fractions)) if i not in fixed]
        room = total - sum(minimums[i] for i in fixed)
        share = sum(fractions[i] for i in free)
        widths = [minimums[i] if i in fixed else room * fractions[i] / share for i in range(len(fractions))]
        short = [i for i in free if widths[i] < minimums[i]]
        if not short:
            return widths
        fixed.update(short)


def grid(header: Sequence[str], rows: Sequence[Sequence[object]], fractions: Sequence[float], styles, *,
         numeric: Sequence[bool] | None = None, digits: Sequence[int | None] | None = None) -> Table:
    """A table the width of the frame (column widths in proportion to `fractions`, each at least its
    longest word), every cell a wrapping Paragraph; numeric columns right-aligned, their figures written
    by text.figure with the column's `digits`."""
    numeric = numeric or [i > 0 for i in range(len(header))]
    digits = digits or [None] * len(header)
    texts = [[figure(v, digits[i]) if numeric[i] else figure(v) for i, v in enumerate(row)] for row in rows]
    minimums = [max([_longest_word(str(h), BOLD)] + [_longest_word(r[i], FONT) for r in texts])
                for i, h in enumerate(header)]
    widths = fit_widths(fractions, minimums)
    data = [[_p(h, styles["head_number"] if numeric[i] else styles["head"]) for i, h in enumerate(header)]]
    data += [[_p(text, styles["number"] if numeric[i] else styles["cell"]) for i, text in enumerate(row)]
             for row in texts]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#8C8C8C")),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8E8E8")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
                               ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
                               ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return table


# --- cover ----------------------------------------------------------------------------------------

def cover(tables: Mapping[str, pd.DataFrame], summary: Summary, about: ExportAbout, max_course_pages: int,
          styles) -> list:
    courses = tables["courses"]
    shown = min(len(courses), max_course_pages)
    what = about.warning + ("" if about.identifiable else " A figure describing fewer courses than the small-cell "
                            "limit is withheld ('<5', 'withheld (<5)').")
    facts = [*about.facts()[:3],
             ("Courses", f"{figure(summary.courses)} courses of {figure(summary.patients)} patients, "
                         f"{figure(summary.patient_days)} patient-days"), *about.facts()[3:]]
    rows = [[_p(label, styles["cover_label"]), _p(value, styles["cover_cell"])] for label, value in facts]
    table = Table(rows, colWidths=[90, FRAME_W - 90], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                               ("LINEBELOW", (0, 0), (-1, -2), 0.3, colors.HexColor("#BBBBBB"))]))
    contents = [
        "1. Summary: courses, patient-days, doses given and held, grade 3-4 toxicities by organ system, alerts "
        "per 100 patient-days by rule, time to first response, expected-effect share, doses given over the "
        "pre-dose check.",
        "2. Charts: grade 3-4 toxicities by organ system; alerts per 100 patient-days by rule; time to first "
        "response by rule.",
        "3. Tables: counts and rates per regimen, grade distribution, distributions per course, monitoring "
        "performance, declined alerts.",
        f"4. Course pages: {shown} of {len(courses)} courses, those with the highest grades and most episodes "
        "first; every course is in the CSV and Excel exports.",
    ]
    notes = ("How to read it: '–' is a figure that could not be determined (missing is never zero). Rates per "
             "100 patient-days divide by the selection's patient-days (a course's run from its start to its last "
             "observation or dose). Expected post-dose IL-2 effects are counted apart from sepsis-screen alerts. "
             "Decision support only: the basis of every alert is in the monitor.")
    return [Spacer(1, 30 * MM), _p("IL-2 Toxicity Monitor", styles["cover_sub"]), Spacer(1, 3 * MM),
            _p(TITLE, styles["cover_title"]), Spacer(1, 6 * MM), _p(about.mark, styles["cover_mark"]),
            Spacer(1, 2 * MM),
            _p(what, styles["text"]), Spacer(1, 10 * MM), table, Spacer(1, 10 * MM),
            _p("Contents", styles["h2"]), *[_p(line, styles["text"]) for line in contents], Spacer(1, 6 * MM),
            _p(notes, styles["small"])]


def _measure_rows(frame: pd.DataFrame) -> list[list[object]]:
    """(measure, value, unit) rows in words, each value with the decimals of its unit."""
    return [[labels.measure_label(m), figure(v, UNIT_DIGITS.get(u)), u]
            for m, v, u in frame[["measure", "value", "unit"]].itertuples(index=False)]


# --- summary --------------------------------------------------------------------------------------

def summary_page(summary: Summary, styles) -> list:
    """Everything the committee reads first, kept on one page."""
    intro = (f"{figure(summary.courses)} courses of {figure(summary.patients)} patients, "
             f"{figure(summary.patient_days)} patient-days, all regimens.")
    counts = grid(["Measure", "Count", "per 100 patient-days"],
                  [[labels.measure_label(r["measure"]), r["count"], r["per_100_patient_days"]]
                   for r in summary.counts.to_dict("records")], [5, 1.2, 1.6], styles)
    grades = grid(["Organ system", "Courses with grade 3", "Courses with grade 4", "% of courses with grade 3 or 4"],
                  [[labels.organ_system_label(r["organ_system"]), r["grade_3"], r["grade_4"], r["percent_grade_3_or_4"]]
                   for r in summary.grades.to_dict("records")], [3, 1.4, 1.4, 1.8], styles, digits=[0, 0, 0, 1])
    alerts = grid(["Alert rule", "Alerts", "per 100 patient-days", "Answered", "First response, median (min)",
                   "90th percentile (min)", "Declined"],
                  [[labels.rule_label(r["rule_id"]), r["alerts"], r["per_100_patient_days"], r["responded"],
                    r["latency_median_min"], r["latency_p90_min"], r["declined"]]
                   for r in summary.alerts.to_dict("records")], [3, 0.9, 1.2, 1.1, 1.4, 1.4, 1], styles,
                  digits=[0, 0, 1, 0, 1, 1, 0])
    checks = grid(["Measure", "Value", "Unit"], _measure_rows(summary.checks), [5, 1.2, 1], styles,
                  numeric=[False, True, False])
    return [KeepTogether([
        _p("Summary", styles["h1"]), _p(intro, styles["text"]),
        _p("Courses, doses and events", styles["h2"]), counts,
        _p("Grade 3-4 toxicities by organ system (highest CTCAE v5.0 grade of each course)", styles["h2"]), grades,
        _p("Alerts per 100 patient-days by rule, and time from first seen to first response", styles["h2"]), alerts,
        _p("Alert quality and the pre-dose check", styles["h2"]), checks])]


# --- charts ---------------------------------------------------------------------------------------

def chart_pages(summary: Summary, styles) -> list:
    systems = [labels.organ_system_label(s) for s in summary.grades["organ_system"]]
    grade_chart = bar_chart(
        title="Courses with a CTCAE grade 3 or 4, by organ system (all regimens)", categories=systems,
        series=[Series("Grade 3", list(summary.grades["grade_3"]), GRADE_COLOURS["3"]),
                Series("Grade 4", list(summary.grades["grade_4"]), GRADE_COLOURS["4"])],
        x_title="Organ system", y_title="Courses", width=FRAME_W, height=CHART_H, integer_axis=True)
    rules = summary.alerts
    rate_chart = bar_chart(
        title="Alerts per 100 patient-days, by alert rule", categories=[labels.rule_label(r) for r in rules["rule_id"]],
        series=[Series("per 100 patient-days", list(rules["per_100_patient_days"]), BAR_COLOUR)],
        x_title="Alert rule", y_title="Alerts per 100 patient-days", width=FRAME_W, height=CHART_H,
        value_text=lambda v: figure(v, 1))
    latency_chart = bar_chart(
        title="Time from first seen to first response, median, by alert rule ('–': no alert answered)",
        categories=[labels.rule_label(r) for r in rules["rule_id"]],
        series=[Series("median (min)", list(rules["latency_median_min"]), BAR_COLOUR)],
        x_title="Alert rule", y_title="Minutes (median)", width=FRAME_W, height=CHART_H,
        value_text=lambda v: figure(v, 1))
    return [_p("Charts", styles["h1"]), KeepTogether([grade_chart]), Spacer(1, 6 * MM), KeepTogether([rate_chart]),
            Spacer(1, 6 * MM), KeepTogether([latency_chart])]


# --- tables ---------------------------------------------------------------------------------------

def _by_regimen(counts: pd.DataFrame, value: str) -> tuple[list[str], list[list[object]]]:
    """A measure-by-regimen table of one column of cohort_counts ('All regimens' last)."""
    regimens = [r for r in dict.fromkeys(counts["regimen"]) if r != ALL_REGIMENS] + [ALL_REGIMENS]
    cells = counts.set_index(["measure", "regimen"])[value]
    first = counts.drop_duplicates("regimen").set_index("regimen")
    rows = [["Courses", *[first["courses"].get(r) for r in regimens]],
            ["Patients", *[first["patients"].get(r) for r in regimens]]] if value == "count" else []
    for measure in dict.fromkeys(counts["measure"]):
        rows.append([labels.measure_label(measure), *[cells.get((measure, r)) for r in regimens]])
    return [str(labels.regimen_label(r)) for r in regimens], rows


def table_pages(tables: Mapping[str, pd.DataFrame], styles) -> list:
    counts = tables["cohort_counts"]
    story: list = [_p("Tables", styles["h1"])]
    if not counts.empty:
        names, rows = _by_regimen(counts, "count")
        story += [_p("Counts per regimen", styles["h2"]),
                  grid(["Measure", *names], rows, [3.2] + [1] * len(names), styles, digits=[0] * (len(names) + 1))]
        names, rows = _by_regimen(counts, "per_100_patient_days")
        story += [_p("Rates per 100 patient-days, per regimen", styles["h2"]),
                  grid(["Measure", *names], rows, [3.2] + [1] * len(names), styles, digits=[1] * (len(names) + 1))]
    grades = tables["grade_distribution"]
    everyone = grades[grades["regimen"] == ALL_REGIMENS]
    if not everyone.empty:
        levels = list(dict.fromkeys(everyone["grade"]))
        cells = everyone.set_index(["organ_system", "grade"])
        rows = [[labels.organ_system_label(system),
                 *[_count_and_percent(cells.at[(system, g), "courses"], cells.at[(system, g), "percent_of_courses"])
                   for g in levels]] for system in dict.fromkeys(everyone["organ_system"])]
        story += [CondPageBreak(80 * MM), _p(TABLE_TITLES["grade_distribution"] + " (courses, % of courses; all "
                                                 "regimens)", styles["h2"]),
                  grid(["Organ system", *[f"Grade {g}" if g.isdigit() else g.capitalize() for g in levels]], rows,
                       [2.4] + [1] * len(levels), styles, numeric=[False] + [True] * len(levels))]
    distributions = tables["distributions"]
    everyone = distributions[distributions["regimen"] == ALL_REGIMENS]
    if not everyone.empty:
        columns = ["n", "mean", "min", "p25", "median", "p75", "max"]
        story += [CondPageBreak(60 * MM), _p(TABLE_TITLES["distributions"] + " (per course, all regimens)",
                                                 styles["h2"]),
                  grid(["Measure", "Unit", *labels.column_labels(columns)],
                       [[labels.measure_label(r["measure"]), r["unit"], *[r[c] for c in columns]]
                        for r in everyone.to_dict("records")], [2.6, 1.1] + [1] * len(columns), styles,
                       numeric=[False, False] + [True] * len(columns))]
    monitoring = tables["monitoring"]
    story += [CondPageBreak(60 * MM), _p(TABLE_TITLES["monitoring"], styles["h2"]),
              grid(["Measure", "Value", "Unit"], _measure_rows(monitoring), [5, 1.2, 1.2], styles,
                   numeric=[False, True, False])]
    declined = tables["declined_alerts"]
    story += [CondPageBreak(40 * MM), _p(TABLE_TITLES["declined_alerts"], styles["h2"])]
    if declined.empty:
        story.append(_p("No alert was declined.", styles["text"]))
    else:
        columns = ["course_ref", "regimen", "rule_id", "level", "onset_day", "declined_day", "decline_reason"]
        shown = labels.labelled_values(declined.head(MAX_DECLINE_ROWS))
        story.append(grid(labels.column_labels(columns), shown[columns].values.tolist(), [1.5, 1.1, 1.2, 1.6, 0.7,
                                                                                          0.8, 2.2], styles,
                          numeric=[False, False, False, False, True, True, False]))
        if len(declined) > MAX_DECLINE_ROWS:
            story.append(_p(f"The first {MAX_DECLINE_ROWS} of {len(declined)} declined alerts; all are in the CSV "
                            "and Excel exports.", styles["small"]))
    return story


def _count_and_percent(count: object, percent: object) -> str:
    if isinstance(count, str):
        return count
    if count is None or pd.isna(count):
        return figure(None)
    return f"{figure(count)} ({figure(percent, 1)}%)" if not isinstance(percent, str) else figure(count)


# --- course pages ---------------------------------------------------------------------------------

def course_order(courses: pd.DataFrame) -> pd.DataFrame:
    """Courses with the highest grade first, then the most febrile-neutropenia and sepsis-screen episodes,
    then the most doses held or stopped; course reference last (a stable order)."""
    if courses.empty:
        return courses
    highest = courses[GRADE_COLUMNS].apply(pd.to_numeric, errors="coerce").max(axis=1).fillna(-1)
    episodes = pd.to_numeric(courses["fn_episodes"]) + pd.to_numeric(courses["sepsis_screen_episodes"])
    held = pd.to_numeric(courses["doses_held"]) + pd.to_numeric(courses["doses_stopped"])
    order = pd.DataFrame({"highest": -highest, "episodes": -episodes, "held": -held, "ref": courses["course_ref"]})
    return courses.loc[order.sort_values(["highest", "episodes", "held", "ref"], kind="stable").index]


FACT_SKIP = {"course_ref", "regimen", "ward_code", "cycle", "course_status", "hold_reasons", "stop_reasons",
             *GRADE_COLUMNS}


def _course_facts(row: pd.Series, styles) -> Table:
    """The course's figures as label-value pairs, two pairs a row."""
    pairs = [(labels.column_label(c), figure(row[c])) for c in row.index if c not in FACT_SKIP]
    rows = []
    for i in range(0, len(pairs), 2):
        line: list = []
        for label, value in pairs[i:i + 2]:
            line += [_p(label, styles["head"]), _p(value, styles["cell"])]
        rows.append(line + [""] * (4 - len(line)))
    widths = [FRAME_W * f for f in (0.29, 0.21, 0.29, 0.21)]
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#8C8C8C")),
                               ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")),
                               ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#F2F2F2")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return table


def course_page(row: pd.Series, tables: Mapping[str, pd.DataFrame], styles) -> list:
    ref = str(row["course_ref"])
    grades = [pd.to_numeric(row[c], errors="coerce") for c in GRADE_COLUMNS]
    chart = bar_chart(title=f"{ref}: highest CTCAE grade per organ system", categories=[
        labels.organ_system_label(s) for s in ORGAN_SYSTEMS],
        series=[Series("Highest grade", [None if pd.isna(g) else float(g) for g in grades], BAR_COLOUR)],
        x_title="Organ system", y_title="Highest CTCAE grade (0-4)", width=FRAME_W, height=COURSE_CHART_H,
        value_max=4, integer_axis=True, blank_text="not graded")
    about = " · ".join(f"{name}: {figure(labels.regimen_label(row[c]) if c == 'regimen' else row[c])}"
                       for c, name in (("regimen", "Regimen"), ("ward_code", "Ward"), ("cycle", "Cycle"),
                                       ("course_status", "Status")))
    if "mrn" in row.index:   # an identifiable report names the patient under the course, as the ward does
        about = (f"{figure(row['family_name'])}, {figure(row['given_name'])} · MRN {figure(row['mrn'])} · born "
                 f"{figure(row['birth_date'])} · " + about)
    story: list = [PageBreak(), CourseMarker(ref), KeepTogether([
        _p(f"Course {ref}", styles["h1"]), _p(about, styles["text"]), Spacer(1, 3 * MM), chart, Spacer(1, 3 * MM),
        _course_facts(row, styles)])]
    for column in ("hold_reasons", "stop_reasons"):
        if isinstance(row[column], str) and row[column]:
            story.append(Paragraph(f"<b>{markup(labels.column_label(column))}:</b> {markup(row[column])}",
                                   styles["note"]))
    terms = tables["terms"]
    severe = terms[(terms["course_ref"] == ref) & (pd.to_numeric(terms["highest_grade"], errors="coerce") >= 3)]
    if len(severe):
        words = "; ".join(f"{t} (grade {figure(g)}, day {figure(d)})" for t, g, d in
                          severe[["ctcae_term", "highest_grade", "onset_day"]].itertuples(index=False))
        story.append(Paragraph(f"<b>CTCAE terms at grade 3 or 4:</b> {markup(words)}", styles["note"]))
    episodes = tables["episodes"]
    mine = episodes[episodes["course_ref"] == ref]
    if len(mine):
        columns = ["rule_id", "onset_day", "level", "severity", "status", "first_response",
                   "minutes_to_first_response", "minutes_from_onset_to_first_response"]
        shown = labels.labelled_values(mine.head(MAX_EPISODE_ROWS))
        story += [_p(TABLE_TITLES["episodes"], styles["h2"]),
                  grid(labels.column_labels(columns), shown[columns].values.tolist(), [1.3, 0.8, 2, 0.9, 1, 1, 1, 1],
                       styles, numeric=[False, True, False, False, False, False, True, True], digits=[0, 2, 0, 0, 0,
                                                                                                    0, 1, 1])]
        if len(mine) > MAX_EPISODE_ROWS:
            story.append(_p(f"The first {MAX_EPISODE_ROWS} of {len(mine)} episodes of this course; all are in the "
                            "CSV and Excel exports.", styles["small"]))
    return story



def render_report(tables: Mapping[str, pd.DataFrame], about: ExportAbout, *, max_course_pages: int) -> bytes:
    """The report's PDF: uncompressed and invariant (the same tables give the same bytes)."""
    styles = _styles()
    summary = report_summary(dict(tables))
    buffer = io.BytesIO()
    doc = BaseDocTemplate(buffer, pagesize=(PAGE_W, PAGE_H), title=TITLE, author="IL-2 Toxicity Monitor",
                          invariant=1, pageCompression=0, leftMargin=MARGIN_X, rightMargin=MARGIN_X,
                          topMargin=MARGIN_TOP, bottomMargin=MARGIN_BOTTOM)
    doc.addPageTemplates([PageTemplate(id="report", onPageEnd=decorator(about), frames=[
        Frame(MARGIN_X, MARGIN_BOTTOM, FRAME_W, FRAME_H, id="body", leftPadding=0, rightPadding=0, topPadding=0,
              bottomPadding=0)])])
    story: list = [CourseMarker(None), *cover(tables, summary, about, max_course_pages, styles), PageBreak(),
                   *summary_page(summary, styles), PageBreak(), *chart_pages(summary, styles), PageBreak(),
                   *table_pages(tables, styles)]
    for _, row in course_order(tables["courses"]).head(max_course_pages).iterrows():
        story += course_page(row, tables, styles)
    doc.build(story, canvasmaker=ReportCanvas)
    return buffer.getvalue()

