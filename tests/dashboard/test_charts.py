"""The patient chart's figure builders: pure, ChartData in, plotly Figure out."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts
from dashboard.theme import BAND_COLOURS, DOSE_COLOURS, DOSE_SYMBOLS, GRADE_COLOURS, SEVERITY_COLOURS
from monitoring.clinical.catalogue import ORGAN_SYSTEMS
from monitoring.views.patient_chart import ChartData, ctcae_bands, lab_panels

LONDON = ZoneInfo("Europe/London")
START = pd.Timestamp("2026-07-01T00:00Z")  # summer: London is UTC+1, so local differs from UTC
END = pd.Timestamp("2026-07-03T00:00Z")
TIME_CHARTS = ("vital_signs_figure", "news2_figure", "fluids_figure", "labs_figure")
ALL_CHARTS = (*TIME_CHARTS, "toxicity_grid_figure")


def t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def frame(columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=columns)
    for column in ("time", "onset_at", "shift_start", "shift_end"):
        if column in out:
            out[column] = pd.to_datetime(out[column], utc=True)
    return out


def vitals(*rows: tuple[str, str, float | None, str | None]) -> pd.DataFrame:
    return frame(["time", "code", "value_num", "value_code"], list(rows))


DOSES = frame(["time", "status", "dose_number", "reason"],
              [("2026-07-01T12:00Z", "given", 1, None), ("2026-07-01T20:00Z", "held", 2, "SBP 84 despite fluids")])
ALERTS = frame(["onset_at", "rule_id", "level", "severity", "status", "evidence_text", "standard", "context"],
               [("2026-07-01T14:00Z", "febrile-neutropenia", "febrile neutropenia", "emergency", "open",
                 "T 38.6 °C at 14:00Z with ANC < 0.5 ×10⁹/L at 09:00Z", "IDSA 2010", "2 h after dose 1")])


def full_data(**overrides) -> ChartData:
    """A day and a half of a patient on IL-2: every chart has something to draw."""
    data = dict(
        start=START, end=END, doses=DOSES, alerts=ALERTS,
        vitals=vitals(("2026-07-01T10:00Z", "temperature", 37.0, None),
                      ("2026-07-01T14:00Z", "temperature", 38.6, None),
                      ("2026-07-01T10:00Z", "heart_rate", 88, None), ("2026-07-01T10:00Z", "sbp", 118, None),
                      ("2026-07-01T10:00Z", "map", 84, None), ("2026-07-01T10:00Z", "resp_rate", 18, None),
                      ("2026-07-01T10:00Z", "spo2", 95, None), ("2026-07-01T10:00Z", "on_oxygen", None, "yes"),
                      ("2026-07-01T10:00Z", "o2_flow", 2, None)),
        news2=frame(["time", "news2", "band", "any3", "missing", "subscores"],
                    [("2026-07-01T10:00Z", 1, "low", False, "", "RR 0 · SpO₂ 1"),
                     ("2026-07-01T14:00Z", 3, "low-medium", True, "", "RR 3 · SpO₂ 0"),
                     ("2026-07-01T18:00Z", 8, "high", True, "", "RR 3 · SpO₂ 3")]),
        fluids=frame(["shift_start", "shift_end", "intake_ml", "urine_ml", "balance_ml"],
                     [("2026-07-01T06:00Z", "2026-07-01T14:00Z", 900.0, 300.0, 600.0),
                      ("2026-07-01T14:00Z", "2026-07-01T22:00Z", 700.0, np.nan, np.nan)]),
        weights=frame(["time", "weight_kg", "gain_kg", "gain_percent"], [("2026-07-02T06:00Z", 84.0, 4.0, 5.0)]),
        baseline_weight_kg=80.0, baseline_weight_source="course baseline",
        labs=frame(["time", "code", "value_num", "ref_low", "ref_high"],
                   [("2026-07-01T06:00Z", "platelets", 60.0, 150.0, 400.0),
                    ("2026-07-02T06:00Z", "platelets", 40.0, 150.0, 400.0)]),
        lab_ranges=pd.DataFrame([("platelets", 150.0, 400.0, "laboratory")],
                                columns=["code", "ref_low", "ref_high", "source"]),
        lab_bands={"platelets": ctcae_bands("platelets", ref_low=150, ref_high=400)},
        grades=pd.DataFrame([(1, date(2026, 7, 1), "hematologic", 2, "platelets", "Platelet count decreased", 60.0,
                              t("2026-07-01T06:00Z"), "Platelets 60 ×10⁹/L grade 2 at 07:00"),
                             (1, date(2026, 7, 1), "renal and fluid", 0, "creatinine", "", 0.9,
                              t("2026-07-01T06:00Z"), "Creatinine 0.90 mg/dL grade 0 at 07:00")],
                            columns=["patient_id", "day", "organ_system", "grade", "code", "term", "value_num", "time",
                                     "detail"]),
        usual_sbp=118.0, sbp_target=85.0)
    data.update(overrides)
    return ChartData(**data)


def build(name: str, data: ChartData) -> go.Figure:
    return getattr(charts, name)(data, tz=LONDON)


def trace(fig: go.Figure, name: str):
    found = [tr for tr in fig.data if tr.name == name]
    assert found, f"no trace named {name!r}; traces: {[tr.name for tr in fig.data]}"
    return found[0]


def axis_of(fig: go.Figure, ref: str):
    return fig.layout[ref[0] + "axis" + ref[1:]]


def texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


@pytest.mark.parametrize("name", ALL_CHARTS)
def test_every_builder_gives_a_figure_plotly_accepts(name):
    """The builders skip plotly's validation for speed: a validated copy must still accept every key."""
    for data in (full_data(), ChartData(start=START, end=END)):
        go.Figure(build(name, data).to_dict())


def test_the_temperature_panel_has_the_38_0_and_38_3_fever_lines_labelled():
    fig = build("vital_signs_figure", full_data())
    temperature = trace(fig, "Temperature")
    lines = {s.y0: s for s in fig.layout.shapes if s.type == "line" and s.yref == temperature.yaxis}
    assert set(lines) == {38.0, 38.3}
    assert all(s.y0 == s.y1 for s in lines.values())  # horizontal
    assert lines[38.3].line.color == SEVERITY_COLOURS["urgent"]
    assert lines[38.0].line.color == SEVERITY_COLOURS["warning"]
    # Beside each line, in the right margin, its value (a label inside the panel covered the newest
    # readings); what the lines mean is in the panel's title.
    beside = {a.text: a for a in fig.layout.annotations if a.text in ("38.0 °C", "38.3 °C")}
    assert set(beside) == {"38.0 °C", "38.3 °C"}
    assert all((a.x, a.xanchor, a.xref) == (1, "left", "x domain") for a in beside.values())
    assert any("38.0 °C: fever if sustained" in text and "38.3 °C: fever on one reading" in text for text in texts(fig))
    assert axis_of(fig, temperature.yaxis).range[1] > 38.6  # the fever reading is inside the panel


def test_the_sbp_panel_shows_the_patients_target_only_when_known():
    fig = build("vital_signs_figure", full_data())
    sbp_axis = trace(fig, "Systolic blood pressure").yaxis
    assert [s.y0 for s in fig.layout.shapes if s.yref == sbp_axis] == [85.0]
    assert any("SBP target > 85 mmHg (usual SBP 118)" in text for text in texts(fig))
    assert [(a.x, a.xanchor) for a in fig.layout.annotations if a.text == "> 85"] == [(1, "left")]
    unknown = build("vital_signs_figure", full_data(sbp_target=None, usual_sbp=None))
    assert not [s for s in unknown.layout.shapes if s.yref == sbp_axis]
    assert trace(unknown, "Mean arterial pressure").yaxis == sbp_axis  # MAP shares the blood-pressure panel


@pytest.mark.parametrize("name", TIME_CHARTS)
def test_every_time_chart_carries_the_il2_doses_as_markers_and_lines(name):
    fig = build(name, full_data())
    given, held = trace(fig, "IL-2 dose given"), trace(fig, "IL-2 dose held")
    assert (given.marker.symbol, given.marker.color) == (DOSE_SYMBOLS["given"], DOSE_COLOURS["given"])
    assert (held.marker.symbol, held.marker.color) == (DOSE_SYMBOLS["held"], DOSE_COLOURS["held"])
    assert "IL-2 dose 2 · held" in held.hovertext[0] and "SBP 84 despite fluids" in held.hovertext[0]
    # 12:00Z and 20:00Z are 13:00 and 21:00 in London (BST): the ward reads its own clock.
    assert list(given.x) == ["2026-07-01T13:00:00"] and list(held.x) == ["2026-07-01T21:00:00"]
    vertical = [s for s in fig.layout.shapes if s.type == "line" and s.yref == "paper"]
    assert {(s.x0, s.line.color) for s in vertical} >= {("2026-07-01T13:00:00", DOSE_COLOURS["given"]),
                                                        ("2026-07-01T21:00:00", DOSE_COLOURS["held"])}


@pytest.mark.parametrize("name", TIME_CHARTS)
def test_an_alert_marker_shows_its_evidence_standard_and_il2_context_on_hover(name):
    fig = build(name, full_data())
    alert = trace(fig, "Alert: emergency")
    assert alert.marker.color == SEVERITY_COLOURS["emergency"]
    assert list(alert.x) == ["2026-07-01T15:00:00"]
    hover = alert.hovertext[0]
    assert "EMERGENCY · febrile-neutropenia" in hover
    assert "T 38.6 °C at 14:00Z with ANC &lt; 0.5 ×10⁹/L" in hover  # escaped: '<' would start a tag
    assert "IDSA 2010" in hover and "2 h after dose 1" in hover


def test_expected_il2_effects_are_named_as_such_not_as_alerts():
    info = ALERTS.assign(severity="info", rule_id="expected-il2-effect")
    fig = build("vital_signs_figure", full_data(alerts=info))
    assert trace(fig, "Expected IL-2 effect").marker.color == SEVERITY_COLOURS["info"]


@pytest.mark.parametrize("name, units", [
    ("vital_signs_figure", {"°C", "/min", "mmHg", "%", "O₂ L/min"}),
    ("news2_figure", {"NEWS2 (points)"}),
    ("fluids_figure", {"mL", "kg"}),
    ("labs_figure", {"×10⁹/L"}),
])
def test_axis_titles_carry_the_units_and_the_time_axis_the_zone(name, units):
    fig = build(name, full_data())
    titles = {fig.layout[k].title.text for k in fig.layout if k.startswith("yaxis") and fig.layout[k].title.text}
    assert titles == units
    x_titles = {fig.layout[key].title.text for key in fig.layout if key.startswith("xaxis")}
    assert x_titles == {"Local time (Europe/London)"}
    assert fig.layout.xaxis.range == ("2026-07-01T01:00:00", "2026-07-03T01:00:00")  # the period, local


@pytest.mark.parametrize("name, message", [
    ("vital_signs_figure", "No vital signs recorded in this period"),
    ("news2_figure", "No NEWS2 in this period"),
    ("fluids_figure", "No fluid intake or urine output"),
    ("labs_figure", "No laboratory results in this period"),
    ("toxicity_grid_figure", "No CTCAE grade in this period"),
])
def test_a_period_without_data_says_so_instead_of_failing(name, message):
    fig = build(name, ChartData(start=START, end=END))
    assert any(text.startswith(message) for text in texts(fig))
    if name != "toxicity_grid_figure":
        assert any(text == "no IL-2 dose and no alert in this period" for text in texts(fig))


def test_a_panel_without_its_values_says_none_recorded():
    only_temperature = vitals(("2026-07-01T10:00Z", "temperature", 37.0, None))
    fig = build("vital_signs_figure", full_data(vitals=only_temperature))
    assert texts(fig).count(charts.NO_DATA) == 4  # heart rate, blood pressure, respiratory rate, SpO2
    assert not [text for text in texts(fig) if text.startswith("No vital signs")]


def test_spo2_hover_says_whether_the_patient_was_on_oxygen():
    fig = build("vital_signs_figure", full_data())
    assert trace(fig, "Oxygen saturation (SpO₂)").hovertext[0] == "on oxygen"
    flow = trace(fig, "Oxygen flow rate (L/min)")
    assert axis_of(fig, flow.yaxis).overlaying == trace(fig, "Oxygen saturation (SpO₂)").yaxis


def test_news2_points_take_their_band_colour_and_the_bands_are_shaded():
    fig = build("news2_figure", full_data())
    news2 = trace(fig, "NEWS2")
    assert list(news2.marker.color) == [BAND_COLOURS["low"], BAND_COLOURS["low-medium"], BAND_COLOURS["high"]]
    sizes = list(news2.marker.size)
    assert sizes[1] > sizes[0]  # 3 in one parameter stands out
    assert "3 in one parameter" in news2.hovertext[1] and "RR 3" in news2.hovertext[1]
    rects = [(s.y0, s.fillcolor) for s in fig.layout.shapes if s.type == "rect"]
    assert rects[:2] == [(-0.5, BAND_COLOURS["low"]), (4.5, BAND_COLOURS["medium"])]
    assert rects[2][0] == 6.5 and rects[2][1] == BAND_COLOURS["high"]


def test_news2_counts_the_sets_it_could_not_score():
    incomplete = frame(["time", "news2", "band", "any3", "missing", "subscores"],
                       [("2026-07-01T10:00Z", pd.NA, None, pd.NA, "spo2", "")])
    incomplete["news2"] = incomplete["news2"].astype("Int64")
    fig = build("news2_figure", full_data(news2=incomplete))
    assert any(text.startswith("1 set not scored") for text in texts(fig))
    assert any(text.startswith("No NEWS2 in this period") for text in texts(fig))


def test_a_shift_without_urine_output_has_no_bar_not_a_zero_bar():
    fig = build("fluids_figure", full_data())
    urine = trace(fig, "Urine output (mL/shift)")
    assert urine.y[0] == 300 and np.isnan(urine.y[1])
    assert "Urine output not recorded" in urine.hovertext[1] and "Balance +600 mL" in urine.hovertext[0]
    assert list(urine.x)[0] == "2026-07-01T11:00:00"  # middle of the 07:00-15:00 shift, local


def test_weight_shows_the_gain_from_baseline_and_the_capillary_leak_levels():
    fig = build("fluids_figure", full_data())
    weight = trace(fig, "Weight")
    assert weight.hovertext[0] == "84.0 kg, +4.0 kg (+5.0%) from the course baseline"
    levels = sorted(round(s.y0, 1) for s in fig.layout.shapes if s.yref == weight.yaxis)
    assert levels == [80.0, 88.0, 92.0]  # baseline, +10% and +15% of 80 kg
    assert axis_of(fig, weight.yaxis).range[1] > 92.0


def test_a_lab_panel_shades_its_reference_range_and_the_ctcae_bands_in_grade_colours():
    fig = build("labs_figure", full_data())
    platelets = trace(fig, "Platelets")
    y_range = axis_of(fig, platelets.yaxis).range
    rects = [s for s in fig.layout.shapes if s.type == "rect" and s.yref == platelets.yaxis]
    reference = [s for s in rects if s.fillcolor == GRADE_COLOURS[0]]
    assert [(s.y0, s.y1) for s in reference] == [(150.0, 400.0)]
    bands = {GRADE_COLOURS.get(g): g for g in range(1, 5)}
    shown = sorted((bands[s.fillcolor], s.y0, s.y1) for s in rects if s.fillcolor in bands)
    # Published CTCAE v5.0 cut-offs, clipped to the panel (values 40-60 and the range 150-400).
    assert shown[:2] == [(1, 75.0, 150.0), (2, 50.0, 75.0)]
    assert shown[2][0] == 3 and shown[2][1] == pytest.approx(max(25.0, y_range[0])) and shown[2][2] == 50.0
    assert all(s.opacity < 0.5 for s in rects if s.fillcolor in bands)  # light: the values stay readable
    assert "G1" in texts(fig)  # grade named in text too (narrow bands are left unlabelled: no room)
    assert "reference 150 ×10⁹/L to 400 ×10⁹/L (laboratory)" in platelets.hovertemplate


def test_toxicity_grid_leaves_ungraded_days_empty_and_keeps_grade_0():
    fig = build("toxicity_grid_figure", full_data())
    heatmap = fig.data[0]
    assert list(heatmap.y) == [s.capitalize() for s in ORGAN_SYSTEMS]
    # The period runs 01:00 to 01:00 local time: its first and last days are partial and say so.
    assert list(heatmap.x) == ["Wed 01 Jul (from 01:00)", "Thu 02 Jul", "Fri 03 Jul (to 01:00)"]
    z = np.array(heatmap.z, dtype=float)
    renal, blood = ORGAN_SYSTEMS.index("renal and fluid"), ORGAN_SYSTEMS.index("hematologic")
    assert z[blood, 0] == 2 and z[renal, 0] == 0  # grade 0 is a graded day
    assert np.isnan(z[blood, 1]) and np.isnan(z[renal, 2])  # not graded is not 0
    assert int(np.isnan(z).sum()) == z.size - 2
    assert heatmap.text[blood][0] == "2" and heatmap.text[blood][1] == ""
    assert "Platelets 60 ×10⁹/L grade 2 at 07:00" in heatmap.customdata[blood][0]
    assert heatmap.customdata[blood][1].startswith("not graded")
    assert fig.layout.xaxis.title.text == "Local day (Europe/London)"


def test_toxicity_grid_marks_no_day_partial_when_the_period_runs_midnight_to_midnight():
    local_midnights = dict(start=pd.Timestamp("2026-06-30T23:00Z"), end=pd.Timestamp("2026-07-02T23:00Z"))
    heatmap = build("toxicity_grid_figure", full_data(**local_midnights)).data[0]
    assert list(heatmap.x) == ["Wed 01 Jul", "Thu 02 Jul"]  # it ends as Friday begins: no Friday column


def test_toxicity_grid_colours_are_the_grade_palette_one_colour_per_grade():
    heatmap = build("toxicity_grid_figure", full_data()).data[0]
    low, high = heatmap.zmin, heatmap.zmax
    colour_at = {}
    for position, colour in heatmap.colorscale:
        colour_at.setdefault(colour, []).append(low + position * (high - low))
    for grade in range(5):  # each grade's value sits inside its own colour's stretch of the scale
        lo, hi = colour_at[GRADE_COLOURS[grade]][0], colour_at[GRADE_COLOURS[grade]][-1]
        assert lo <= grade <= hi


def test_dense_hourly_values_are_drawn_as_a_line_sparse_ones_with_markers():
    times = pd.date_range(START, periods=400, freq="h")
    dense = pd.DataFrame({"time": times, "code": "heart_rate", "value_num": 80.0, "value_code": None})
    fig = build("vital_signs_figure", full_data(vitals=dense, end=times[-1]))
    assert trace(fig, "Heart rate").mode == "lines"
    assert trace(build("vital_signs_figure", full_data()), "Heart rate").mode == "lines+markers"


def test_key_labs_and_every_abnormal_lab_are_drawn_at_once_and_normal_others_on_request():
    labs = frame(["time", "code", "value_num", "ref_low", "ref_high"],
                 [("2026-07-01T06:00Z", "albumin", 4.0, 3.5, 5.0),     # key lab, normal: drawn at once
                  ("2026-07-01T06:00Z", "sodium", 128.0, 135.0, 145.0),  # other, low: drawn at once
                  ("2026-07-01T06:00Z", "potassium", 4.0, 3.5, 5.1),   # other, normal: on request
                  ("2026-07-01T06:00Z", "crp", 30.0, None, None)])     # other, no range: drawn at once
    ranges = pd.DataFrame([("albumin", 3.5, 5.0, "laboratory"), ("sodium", 135.0, 145.0, "laboratory"),
                           ("potassium", 3.5, 5.1, "laboratory")], columns=["code", "ref_low", "ref_high", "source"])
    data = full_data(labs=labs, lab_ranges=ranges, lab_bands={})
    first, later = lab_panels(data)
    assert first == ["albumin", "sodium", "crp"] and later == ["potassium"]
    titles = texts(charts.labs_figure(data, tz=LONDON, codes=later))
    assert any(text.startswith("Potassium") for text in titles)
    assert not any(text.startswith("Sodium") for text in titles)


def test_only_the_vital_signs_chart_carries_the_legend_the_others_name_their_lines_in_titles():
    """The first chart's legend is the key to the strip for the page (a legend per chart cost 30-70 ms
    of drawing each); the charts below say in their titles what their bars are."""
    data = full_data()
    assert build("vital_signs_figure", data).layout.showlegend is True
    for name in ("news2_figure", "fluids_figure", "labs_figure"):
        assert build(name, data).layout.showlegend is False
    fluids = texts(build("fluids_figure", data))
    assert any("Fluid intake (light bars) and urine output (dark bars)" in t for t in fluids)


@pytest.mark.parametrize("name", ALL_CHARTS)
def test_every_chart_travels_as_streamlit_sends_it_so_that_the_browser_draws_it_once(name):
    """Streamlit re-draws a chart from a JSON copy after mounting it; plotly.js skips that redraw only
    when the copy compares equal: no base64 typed arrays, no template object, a data revision."""
    import json

    import plotly.io as pio
    from plotly.tools import return_figure_from_figure_or_data

    def sent(data):  # what st.plotly_chart puts on the wire
        return json.loads(pio.to_json(return_figure_from_figure_or_data(build(name, data), True), validate=False))

    spec = sent(full_data())
    assert "template" not in spec["layout"]
    assert '"bdata"' not in json.dumps(spec)
    assert spec["layout"]["datarevision"] == sent(full_data())["layout"]["datarevision"]  # same data, same revision
    other = full_data(labs=full_data().labs.assign(value_num=[61.0, 41.0]),
                      grades=full_data().grades.assign(grade=[3, 0]))
    if name in ("labs_figure", "toxicity_grid_figure"):
        assert sent(other)["layout"]["datarevision"] != spec["layout"]["datarevision"]  # other data, another
    assert spec["layout"]["plot_bgcolor"] == "white"  # the plotly_white look, set on the figure itself


@pytest.mark.parametrize("name", TIME_CHARTS)
def test_an_emergency_is_drawn_over_a_milder_alert_at_the_same_time_and_listed_first(name):
    """Issue 18: the orange febrile-neutropenia diamond hid the red septic-shock one at the same
    moment. Plotly draws later traces on top: the worst severity comes last, the legend still lists it
    first."""
    same_time = frame(["onset_at", "rule_id", "level", "severity", "status", "evidence_text", "standard", "context"],
                      [("2026-07-01T14:00Z", "sepsis-screen", "septic shock pattern", "emergency", "open", "SBP 84",
                        "Sepsis-3", ""),
                       ("2026-07-01T14:00Z", "febrile-neutropenia", "febrile neutropenia", "urgent", "open",
                        "T 38.6 °C", "IDSA 2010", ""),
                       ("2026-07-01T14:00Z", "capillary-leak", "weight gain at the warning level", "warning", "open",
                        "+11 %", "Dutcher 2014", ""),
                       ("2026-07-01T14:00Z", "expected-effect", "post-dose fever", "info", "open", "T 38.2 °C",
                        "Dutcher 2014", "")])
    fig = build(name, full_data(alerts=same_time))
    drawn = [tr.name for tr in fig.data if (tr.name or "").startswith(("Alert", "Expected"))]
    assert drawn == ["Expected IL-2 effect", "Alert: warning", "Alert: urgent", "Alert: emergency"]
    ranks = {tr.name: tr.legendrank for tr in fig.data if tr.name in drawn}
    assert sorted(drawn, key=ranks.get) == ["Alert: emergency", "Alert: urgent", "Alert: warning",
                                            "Expected IL-2 effect"]


def test_the_feedback_trend_has_a_panel_per_value_entered_in_local_time_with_its_unit():
    """The record page's 'Last 24 h' after a save (charts.recent_trend): one panel per numeric value with
    its label and unit, the points in time order on the ward's clock; a coded value (ACVPU) has no panel."""
    trend = pd.DataFrame({"code": ["heart_rate", "temperature", "heart_rate", "consciousness"],
                          "observed_at": pd.to_datetime(["2026-07-01 10:00", "2026-07-01 09:00", "2026-07-01 08:00",
                                                         "2026-07-01 10:00"], utc=True),
                          "value_num": [110.0, 38.4, 92.0, np.nan], "unit": ["/min", "Cel", "/min", None]})
    fig = charts.recent_trend(trend, tz=ZoneInfo("Europe/London"))
    go.Figure(fig.to_dict())   # plotly accepts every key of the unvalidated figure
    assert [t.name for t in fig.data] == ["Heart rate", "Temperature"]
    heart = fig.data[0]
    assert list(heart.x) == ["2026-07-01T09:00:00", "2026-07-01T11:00:00"] and list(heart.y) == [92.0, 110.0]
    assert {a.text for a in fig.layout.annotations} == {"Heart rate (/min)", "Temperature (°C)"}
    assert fig.layout.yaxis.title.text == "/min" and fig.layout.yaxis2.title.text == "°C"
    assert heart.yaxis != fig.data[1].yaxis and heart.xaxis == fig.data[1].xaxis == "x"   # one time axis
    assert fig.layout.xaxis.title.text == "local time (Europe/London)"


def test_the_feedback_trend_of_a_set_without_numbers_is_an_empty_figure_not_an_error():
    trend = pd.DataFrame({"code": ["consciousness"], "observed_at": pd.to_datetime(["2026-07-01 10:00"], utc=True),
                          "value_num": [np.nan], "unit": [None]})
    fig = charts.recent_trend(trend, tz=ZoneInfo("Europe/London"))
    go.Figure(fig.to_dict())
    assert not fig.data
