"""Prepare canonical observations and doses once for every rule (vectorised, no per-patient loops).

Everything is held as NumPy arrays sorted by patient and time: patient numbers (int64), times as
int64 ticks of the observations' datetime unit (NAT when missing), values as float64 (NaN when
missing) or object (coded values).

- `series(code)`: one code's values in (patient, time) order.
- `asof(pid, time, series, tolerance)`: for each moment, the position of the patient's latest row
  of `series` at or before it (within `tolerance`), -1 when none; ties take the last row, as
  pandas.merge_asof does. One np.searchsorted over a (patient, time) key, no merge.
- `sets`: one row per patient and observation-set time with the vital signs valid at that moment
  (a value from an earlier set is carried only while it is valid, and its own time is kept so the
  evidence can say so), the latest valid WBC, NEWS2 / qSOFA / SIRS.
- `dose_context(pid, time)`: last given dose before each time, its number, and whether the time
  falls in the expected-effect window of the patient's regimen after it (a bolus: 1-4 h after; an
  infusion: while it runs and a set time after); `context_text` words it for the chosen rows.
- `next_due(pid, time)`: when the next dose is due (the last dose event + the course's interval),
  for the hold criteria judged 'at the time of dosing'.
- `cache`: results one rule computes and others read (febrile-neutropenia findings, the
  expected-effect judgement of each set), computed once per evaluation.

Two different values for one patient, code and time cannot be judged (which one is true?): `prepare`
refuses them with an InputError naming both, never deciding silently by row order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from monitoring.clinical.code_lists import ALL_VITAL_SIGNS
from monitoring.clinical.derived import urine_ml_per_8h, weight_baseline_kg
from monitoring.clinical.rules.common import NAT, Schedule, Validity, hours_text, ticks_of, total_seconds
from monitoring.clinical.scores import NEWS2_PARAMETERS, score_columns
from monitoring.errors import InputError

# The vital signs that make an observation set for the rules (the catalogue category, monitoring.clinical.
# code_lists), except FiO2: a ventilator or mask setting recorded on its own is no bedside round.
VITAL_CODES = tuple(code for code in ALL_VITAL_SIGNS if code != "fio2")
CODED = {"on_oxygen", "consciousness", "spo2_scale"}
#: first_weight_kg (optional): the course's first weight, for a course without a baseline weight whose
#: first weight is older than the observations given (the store passes it: monitoring.store.frames).
COURSE_COLUMNS = ["patient_id", "baseline_weight_kg", "baseline_creatinine_mg_dl", "usual_sbp_mm_hg", "regimen",
                  "dose_interval_hours", "after_lymphodepletion", "neutropenia_expected", "first_weight_kg"]
#: Course columns that are numbers; regimen is text; the two flags are booleans (False when absent).
COURSE_NUMBERS = ("baseline_weight_kg", "baseline_creatinine_mg_dl", "usual_sbp_mm_hg", "dose_interval_hours",
                  "first_weight_kg")
COURSE_FLAGS = ("after_lymphodepletion", "neutropenia_expected")
#: Regimens whose neutrophil count is expected to fall (IDSA 2010 "expected to decrease"): the
#: temozolomide of biochemotherapy (a course flag can say so for any other regimen).
NEUTROPENIA_REGIMENS = ("biochemotherapy",)
#: Longest look-back any setting may ask for (the parsers cap them at 1000 h); the (patient, time)
#: key leaves this much room on either side of a patient's times so window bounds stay in his band.
MAX_WINDOW = pd.Timedelta(days=60)
#: Largest (patient, time) key; the engine evaluates patients in groups when more would not fit.
KEY_LIMIT = 2.0**62


def take(values: np.ndarray, idx: np.ndarray, fill) -> np.ndarray:
    """values[idx], `fill` where idx < 0 (asof found nothing)."""
    if len(values) == 0:
        return np.full(len(idx), fill, dtype=values.dtype if values.dtype != object else object)
    found = idx >= 0
    out = values[np.where(found, idx, 0)]
    if found.all():
        return out
    if out.dtype == object:
        out = out.copy()
        out[~found] = fill
        return out
    return np.where(found, out, fill)


@dataclass
class Series:
    pid: np.ndarray
    time: np.ndarray
    key: np.ndarray
    num: np.ndarray
    code: np.ndarray            # object: coded value or NaN
    start: np.ndarray | None    # period_start ticks (NAT when none); None without the column
    origin: np.ndarray | None = None   # a subset's positions in the series it was taken from

    def __len__(self) -> int:
        return len(self.time)

    def previous(self) -> np.ndarray:
        """Position of the same patient's previous row, -1 for a patient's first row."""
        prev = np.arange(len(self.pid)) - 1
        if len(prev):
            prev[0] = -1
            prev[1:][self.pid[1:] != self.pid[:-1]] = -1
        return prev

    def first_of_patient(self) -> np.ndarray:
        """Position of the first row of each row's patient."""
        n = len(self.pid)
        starts = np.ones(n, dtype=bool)
        starts[1:] = self.pid[1:] != self.pid[:-1]
        return np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)


@dataclass
class DoseContext:
    has: np.ndarray          # a given dose before the time
    last_time: np.ndarray
    number: np.ndarray       # float, NaN when unnumbered
    hours: np.ndarray        # hours since that dose
    in_window: np.ndarray
    paused: np.ndarray       # held or stopped since the last given dose
    regimen: np.ndarray      # object: the regimen whose window applied
    running: np.ndarray      # an infusion still running at the time


@dataclass
class EvalData:
    n_patients: int
    unit: str
    base: int
    span: int
    validity: Validity
    schedule: Schedule
    courses: dict[str, np.ndarray]           # per patient number: the course column (NaN when none)
    doses: Series                            # all doses, (patient, time) order; code = status
    now: int
    _codes: dict[str, slice] = field(default_factory=dict)
    _obs: Series | None = None
    _series: dict[str, Series] = field(default_factory=dict)
    sets: dict | None = None
    thresholds: object = None
    dose_scheduled: np.ndarray | None = None   # per row of `doses`: its scheduled time (ticks)
    _subsets: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    # --- time and keys
    def ticks(self, delta: pd.Timedelta) -> float:
        return ticks_of(delta, self.unit)

    def key(self, pid: np.ndarray, time: np.ndarray) -> np.ndarray:
        """(patient, time) as one sortable int64: patient bands of width `span`."""
        return pid * self.span + (time - self.base)

    def hours(self, delta: np.ndarray) -> np.ndarray:
        """Timedelta ticks -> hours as (t1 - t0).dt.total_seconds() / 3600."""
        return total_seconds(delta, self.unit) / 3600

    # --- observations
    def series(self, code: str) -> Series:
        if code not in self._series:
            o, where = self._obs, self._codes.get(code)
            if where is None:
                empty = np.zeros(0, dtype=np.int64)
                self._series[code] = Series(empty, empty, empty, np.zeros(0), np.zeros(0, dtype=object),
                                            None if o.start is None else empty)
            else:
                self._series[code] = Series(o.pid[where], o.time[where], o.key[where], o.num[where],
                                            o.code[where], None if o.start is None else o.start[where])
        return self._series[code]

    def dose_subset(self, *statuses: str) -> Series:
        if statuses not in self._subsets:
            d = self.doses
            rows = np.flatnonzero(np.isin(d.code, list(statuses))) if len(d) else np.zeros(0, dtype=np.int64)
            self._subsets[statuses] = Series(d.pid[rows], d.time[rows], d.key[rows], d.num[rows], d.code[rows], None,
                                             rows)
        return self._subsets[statuses]

    def asof(self, pid: np.ndarray, time: np.ndarray, series: Series, tolerance: pd.Timedelta | None = None,
             *, key: np.ndarray | None = None) -> np.ndarray:
        """Position in `series` of each patient's latest row at or before `time`; -1 when none (or
        older than `tolerance`)."""
        if len(series) == 0 or len(pid) == 0:
            return np.full(len(pid), -1, dtype=np.int64)
        key = self.key(pid, time) if key is None else key
        idx = np.searchsorted(series.key, key, side="right") - 1
        safe = np.maximum(idx, 0)
        ok = (idx >= 0) & (series.pid[safe] == pid)
        if tolerance is not None:
            ok &= (time - series.time[safe]) <= self.ticks(tolerance)
        return np.where(ok, idx, -1)

    def course(self, column: str) -> np.ndarray:
        return self.courses[column]

    def weight_baselines(self, weights: Series) -> np.ndarray:
        """Per row of the weight series: its patient's weight-gain baseline (monitoring.clinical.derived:
        the course's baseline weight, else the first weight of the course: the course's first_weight_kg
        when given, else the patient's first weight here, as the data hold one course per patient)."""
        given = self.course("first_weight_kg")[weights.pid]
        first = np.where(np.isnan(given), weights.num[weights.first_of_patient()], given)
        return weight_baseline_kg(self.course("baseline_weight_kg")[weights.pid], first)

    def urine_per_8h(self, urine: Series) -> np.ndarray:
        """Per row of the urine series: mL per 8 h over its period (NaN without a period)."""
        no_period = urine.start == NAT
        return urine_ml_per_8h(urine.num, self.hours(urine.time - np.where(no_period, urine.time, urine.start))
                               ) if urine.start is not None else np.full(len(urine), np.nan)

    # --- IL-2 doses
    def regimens(self, pid: np.ndarray) -> np.ndarray:
        """Each patient's regimen (the schedule's default regimen when the course does not say)."""
        regimen = self.courses["regimen"][pid]
        known = np.isin(regimen, list(self.schedule.windows))
        return np.where(known, regimen, self.schedule.default_regimen)

    def dose_context(self, pid: np.ndarray, time: np.ndarray) -> DoseContext:
        given = self.dose_subset("given")
        i = self.asof(pid, time, given)
        has = i >= 0
        last = take(given.time, i, NAT)
        delta = np.where(has, time - last, 0)
        hours = np.where(has, self.hours(delta), np.nan)
        regimen = self.regimens(pid)
        windows = self.schedule.windows
        start = np.array([windows[r].from_hours for r in regimen.tolist()], dtype=float)
        end = np.array([windows[r].to_hours if not windows[r].infusion else np.nan for r in regimen.tolist()],
                       dtype=float)
        infusion = np.array([windows[r].infusion for r in regimen.tolist()], dtype=bool)
        running = np.zeros(len(pid), dtype=bool)
        if infusion.any():
            # An infusion runs for the course's dose interval from its start, or until the next dose
            # event (a new bag, a held or a stopped dose), whichever comes first.
            length = self.courses["dose_interval_hours"][pid]
            length = np.where(np.isnan(length), self.schedule.infusion_default_hours, length)
            following = take(self._next_event_time(), take(given.origin, i, -1), NAT)
            stop = last + (length * self.ticks(pd.Timedelta(hours=1))).astype(np.int64)
            stop = np.where((following != NAT) & (following < stop), following, stop)
            after = np.array([windows[r].after_hours for r in regimen.tolist()], dtype=float)
            running = has & infusion & (time <= stop)
            end = np.where(infusion, self.hours(np.where(has, stop - last, 0)) + after, end)
        in_window = has & (hours >= start) & (hours <= end)
        j = self.asof(pid, time, self.dose_subset("held", "stopped"))
        held = take(self.dose_subset("held", "stopped").time, j, NAT)
        paused = (j >= 0) & (~has | (held > last))
        return DoseContext(has, last, take(given.num, i, np.nan), hours, in_window, paused, regimen, running)

    def _next_event_time(self) -> np.ndarray:
        """For each dose row (data.doses order): the time of the same patient's next dose event (NAT if none)."""
        if "next_event" not in self.cache:
            d = self.doses
            following = np.full(len(d), NAT, dtype=np.int64)
            if len(d) > 1:
                same = d.pid[1:] == d.pid[:-1]
                following[:-1] = np.where(same, d.time[1:], NAT)
            self.cache["next_event"] = following
        return self.cache["next_event"]

    def next_due(self, pid: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in data.doses of the last dose event at or before each time, -1 when none;
        when the next dose is due: that event's scheduled time (its own time when none is known) +
        the course's dose interval, or the thresholds' default interval: the schedule does not shift
        with a late dose, as on the doses page)."""
        events = self.dose_subset("given", "held", "stopped")
        i = self.asof(pid, time, events)
        interval = self.courses["dose_interval_hours"][pid]
        # Without the course's interval: an infusion's own length (the infusion window's default), else
        # the bolus interval of [il2_hold].
        infusion = np.array([self.schedule.windows[r].infusion for r in self.regimens(pid).tolist()], dtype=bool)
        default = np.where(infusion, self.schedule.infusion_default_hours,
                           self.thresholds["il2_hold"].values["default_interval_hours"])
        interval = np.where(np.isnan(interval), default, interval)
        scheduled = take(self.dose_scheduled[events.origin] if len(events) else np.zeros(0, dtype=np.int64), i, NAT)
        due = scheduled + (interval * self.ticks(pd.Timedelta(hours=1))).astype(np.int64)
        return i, np.where(i >= 0, due, NAT)

    def context_text(self, ctx: DoseContext, rows: np.ndarray) -> list[str]:
        """'within 1-4 h after IL-2 dose 5 (2 h 10 min)' / '6 h 20 min after IL-2 dose 5 (outside ...)';
        for an infusion 'during the IL-2 infusion of dose 3 (5 h 0 min after its start)'."""
        windows = self.schedule.windows
        since = hours_text(ctx.hours[rows])
        out = []
        for has, number, s, inside, paused, regimen, running in zip(
                ctx.has[rows].tolist(), ctx.number[rows].tolist(), since, ctx.in_window[rows].tolist(),
                ctx.paused[rows].tolist(), ctx.regimen[rows].tolist(), ctx.running[rows].tolist()):
            if not has:
                out.append("no IL-2 dose given before this time")
                continue
            n = "<NA>" if number != number else str(int(number))
            w = windows[regimen]
            if w.infusion:
                text = (f"during the IL-2 infusion of dose {n} ({s} after its start)" if running else
                        f"{s} after the start of the IL-2 infusion of dose {n} (within {w.after_hours:g} h after it "
                        "ended: its post-dose window)" if inside else
                        f"{s} after the start of the IL-2 infusion of dose {n} (outside its post-dose window: "
                        f"{w.describe()})")
            else:
                span = f"{w.from_hours:g}-{w.to_hours:g} h"
                text = (f"within {span} after IL-2 dose {n} ({s})" if inside
                        else f"{s} after IL-2 dose {n} (outside the {span} post-dose window)")
            out.append(text + "; doses held or stopped since" if paused else text)
        return out

    def context_at(self, pid: np.ndarray, time: np.ndarray) -> list[str]:
        """The IL-2 dose context of each (patient, time)."""
        ctx = self.dose_context(pid, time)
        return self.context_text(ctx, np.arange(len(pid)))


def _ticks(column: pd.Series, unit: str) -> np.ndarray:
    """Datetime column -> int64 UTC ticks of `unit` (NAT when missing)."""
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        column = pd.to_datetime(column, utc=True)
    return np.asarray(column.array.as_unit(unit).asi8)


def prepare(obs: pd.DataFrame, doses, courses, *, thresholds, now: pd.Timestamp | None = None,
            n_patients: int | None = None, obs_pid: np.ndarray | None = None) -> EvalData:
    """Observations, doses and courses whose patient_id are integer patient numbers (0..n_patients-1)
    -> EvalData. doses and courses may be frames or dicts of arrays; obs_pid, when given, stands for
    obs['patient_id']. Raises InputError for two different values of one code at one time."""
    time_col = obs["time"]
    if not isinstance(time_col.dtype, pd.DatetimeTZDtype):
        time_col = pd.to_datetime(time_col, utc=True)
    unit = time_col.dt.unit
    obs_t = _ticks(time_col, unit)
    obs_pid = np.asarray(obs["patient_id"] if obs_pid is None else obs_pid, dtype=np.int64)
    has_doses = doses is not None and len(doses["patient_id"]) > 0
    dose_pid = np.asarray(doses["patient_id"], dtype=np.int64) if has_doses else np.zeros(0, dtype=np.int64)
    dose_t = _ticks(doses["time"], unit) if has_doses else np.zeros(0, dtype=np.int64)
    if n_patients is None:
        n_patients = int(max(obs_pid.max(initial=-1), dose_pid.max(initial=-1))) + 1
    known = np.concatenate([obs_t, dose_t])
    known = known[known != NAT]
    margin = int(ticks_of(MAX_WINDOW, unit))
    low = int(known.min()) if len(known) else 0
    high = int(known.max()) if len(known) else 0
    span = high - low + 2 * margin + 1
    if n_patients * float(span) >= KEY_LIMIT:
        raise OverflowError("too many patients over too long a time for one (patient, time) key; "
                            "evaluate them in smaller groups")
    data = EvalData(n_patients=n_patients, unit=unit, base=low - margin, span=span,
                    validity=thresholds["validity"], schedule=thresholds["il2_schedule"], courses={}, doses=None,
                    now=int(pd.Timestamp(now).as_unit(unit).asm8.view('i8')) if now is not None else int(high),
                    thresholds=thresholds)
    # Observations: (code, patient, time) order, stable, so each code is one contiguous slice.
    key = data.key(obs_pid, obs_t)
    codes, names = pd.factorize(obs["code"], sort=False)
    order = np.argsort(key, kind="stable")
    order = order[np.argsort(codes[order], kind="stable")]
    sorted_codes = codes[order]
    bounds = np.searchsorted(sorted_codes, np.arange(len(names) + 1))
    data._codes = {str(name): slice(int(bounds[i]), int(bounds[i + 1])) for i, name in enumerate(names)}
    start = None
    if "period_start" in obs:
        start = _ticks(obs["period_start"], unit)[order]
    code_values = obs["value_code"].to_numpy(dtype=object, na_value=np.nan) if "value_code" in obs \
        else np.full(len(obs), np.nan, dtype=object)
    data._obs = Series(obs_pid[order], obs_t[order], key[order],
                       obs["value_num"].to_numpy(dtype=float, na_value=np.nan)[order], code_values[order], start)
    _refuse_conflicts(obs, order, sorted_codes, data._obs)
    pid, time, number, status, scheduled = _dose_arrays(doses if has_doses else None, unit, data.key)
    data.doses = Series(pid, time, data.key(pid, time), number, status, None)
    data.dose_scheduled = scheduled
    data.courses = _course_arrays(courses, n_patients)
    data.sets = _build_sets(data)
    return data


def _refuse_conflicts(obs: pd.DataFrame, order: np.ndarray, sorted_codes: np.ndarray, o: Series) -> None:
    """Two different values for one patient, code and time: InputError naming both (rows are
    neighbours once sorted by code, patient and time). The same value twice is harmless."""
    if len(order) < 2:
        return
    same = (sorted_codes[1:] == sorted_codes[:-1]) & (o.key[1:] == o.key[:-1])
    if not same.any():
        return
    a, b = np.flatnonzero(same), np.flatnonzero(same) + 1
    num_differs = ~((o.num[a] == o.num[b]) | (np.isnan(o.num[a]) & np.isnan(o.num[b])))
    code_differs = np.array([x != y and not (x != x and y != y)
                             for x, y in zip(o.code[a].tolist(), o.code[b].tolist())],
                            dtype=bool)
    conflict = np.flatnonzero(num_differs | code_differs)
    if not len(conflict):
        return
    rows = obs["row"].to_numpy() if "row" in obs else order + 1
    patients = obs["patient_id"].to_numpy()
    problems = []
    for k in conflict[:100].tolist():
        i, j = order[a[k]], order[b[k]]
        first, second = (o.code[a[k]], o.code[b[k]]) if code_differs[k] else (o.num[a[k]], o.num[b[k]])
        when = pd.Timestamp(int(o.time[a[k]]), unit=_unit_of(obs), tz="UTC").isoformat()
        problems.append((int(rows[j]), "value",
                         f"two different values for patient {patients[i]}, {obs['code'].iloc[i]} at {when}: "
                         f"{_shown(first)} (row {int(rows[i])}) and {_shown(second)} (row {int(rows[j])}); "
                         "keep one (a correction is an amendment of the first)"))
    raise InputError(problems, len(conflict))


def _unit_of(obs: pd.DataFrame) -> str:
    column = obs["time"]
    return column.dt.unit if isinstance(column.dtype, pd.DatetimeTZDtype) else "ns"


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _course_arrays(courses, n: int) -> dict[str, np.ndarray]:
    """Per patient number: each course column (NaN / None / False without a course or a column);
    the last row of a patient wins. `neutropenia_expected` is also true after lymphodepletion and
    for the temozolomide regimen (IDSA 2010: ANC 'expected to decrease')."""
    out: dict[str, np.ndarray] = {c: np.full(n, np.nan) for c in COURSE_NUMBERS}
    out["regimen"] = np.full(n, None, dtype=object)
    for flag in COURSE_FLAGS:
        out[flag] = np.zeros(n, dtype=bool)
    out["present"] = np.zeros(n, dtype=bool)
    if courses is None or not len(courses["patient_id"]):
        return out
    pid = np.asarray(courses["patient_id"], dtype=np.int64)
    _, last_reversed = np.unique(pid[::-1], return_index=True)
    last = len(pid) - 1 - last_reversed
    for column in COURSE_NUMBERS:
        if column not in courses:
            continue
        values = courses[column]
        try:
            values = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            values = pd.to_numeric(pd.Series(values)).to_numpy(dtype=float, na_value=np.nan)
        out[column][pid[last]] = values[last]
    if "regimen" in courses:
        regimen = np.asarray(courses["regimen"], dtype=object)
        out["regimen"][pid[last]] = [r if isinstance(r, str) and r else None for r in regimen[last].tolist()]
    for flag in COURSE_FLAGS:
        if flag in courses:
            values = pd.Series(np.asarray(courses[flag], dtype=object)).map(_flag).to_numpy(dtype=bool)
            out[flag][pid[last]] = values[last]
    out["neutropenia_expected"] |= out["after_lymphodepletion"] | np.isin(out["regimen"], NEUTROPENIA_REGIMENS)
    out["present"][pid[last]] = True
    return out


def _flag(value) -> bool:
    """A course flag from a frame or CSV: true/yes/1 are true; empty, false/no/0 are false."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value == value and value != 0
    return str(value).strip().casefold() in ("true", "yes", "1", "y")


def _dose_arrays(doses, unit: str, data_key) -> tuple[np.ndarray, ...]:
    """(patient, time, dose number, status, scheduled time) sorted by patient and time (stable). Doses
    are numbered in schedule order, given or not, as the ward counts them, unless the numbers are
    given; the scheduled time is the event's own time unless a `scheduled_at` column gives it."""
    if doses is None or not len(doses["patient_id"]):
        return (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=object),
                np.zeros(0, dtype=np.int64))
    pid = np.asarray(doses["patient_id"], dtype=np.int64)
    time = _ticks(doses["time"], unit)
    scheduled = _ticks(doses["scheduled_at"], unit) if "scheduled_at" in doses else time.copy()
    scheduled = np.where(scheduled == NAT, time, scheduled)
    order = np.argsort(data_key(pid, time), kind="stable")
    pid, time, scheduled = pid[order], time[order], scheduled[order]
    status = np.asarray(doses["status"], dtype=object)[order]
    number = None
    if "dose_number" in doses:
        number = pd.array(doses["dose_number"]).to_numpy(dtype=float, na_value=np.nan)[order]
        if np.isnan(number).all():
            number = None
    if number is None:
        starts = np.ones(len(pid), dtype=bool)
        starts[1:] = pid[1:] != pid[:-1]
        first = np.maximum.accumulate(np.where(starts, np.arange(len(pid)), 0))
        number = (np.arange(len(pid)) - first + 1).astype(float)
    return pid, time, number, status, scheduled


#: Columns of `sets` scored per parameter: NEWS2 points (NaN when the parameter is unknown).
POINT_COLUMNS = tuple(f"news2_{name}" for name in NEWS2_PARAMETERS)


def missing_parameters(sets: dict, rows: np.ndarray) -> list[list[str]]:
    """The NEWS2 parameters unknown at each chosen set (read from the points, never from text)."""
    unknown = np.column_stack([np.isnan(sets[c][rows]) for c in POINT_COLUMNS]).tolist() if len(rows) else []
    return [[name for name, absent in zip(NEWS2_PARAMETERS, row) if absent] for row in unknown]


def _build_sets(data: EvalData) -> dict:
    """One row per (patient, time) at which any vital sign was recorded, with valid values carried;
    NEWS2 in full (NaN when incomplete), its points per parameter (NaN where unknown), the sum of the
    points present (`news2_partial`) and whether any present parameter scores 3 (`news2_red`).

    Not monitoring.clinical.sets on purpose: the rules judge the latest VALID value of each parameter
    at each moment (carried within its validity window), while the ward overview, chart and reports
    show each set scored from its own values; both score through monitoring.clinical.scores."""
    parts = [data.series(code).key for code in VITAL_CODES]
    keys, first = np.unique(np.concatenate(parts), return_index=True)
    pid = np.concatenate([data.series(code).pid for code in VITAL_CODES])[first]
    time = np.concatenate([data.series(code).time for code in VITAL_CODES])[first]
    sets = {"pid": pid, "time": time, "key": keys}
    for code in VITAL_CODES:
        series = data.series(code)
        idx = data.asof(pid, time, series, data.validity.vital_signs, key=keys)
        sets[code] = take(series.code if code in CODED else series.num, idx, np.nan)
        sets[code + "_time"] = take(series.time, idx, NAT)
    wbc = data.series("wbc")
    has_wbc = len(wbc) > 0
    if has_wbc:
        idx = data.asof(pid, time, wbc, data.validity.labs, key=keys)
        sets["wbc"] = take(wbc.num, idx, np.nan)
    if not len(pid):
        for column in ("news2", "qsofa", "sirs", "news2_partial", *POINT_COLUMNS):
            sets[column] = np.zeros(0)
        sets["news2_red"] = np.zeros(0, dtype=bool)
        sets["news2_band"] = sets["news2_missing"] = np.zeros(0, dtype=object)
        return sets
    frame = {"patient_id": pid, "time": pd.DatetimeIndex(time.view(f"M8[{data.unit}]")).tz_localize("UTC")}
    for column in ("resp_rate", "spo2", "spo2_scale", "on_oxygen", "sbp", "heart_rate", "consciousness",
                   "temperature", "wbc", "gcs"):
        if column == "wbc" and not has_wbc:
            continue
        frame[column] = pd.Series(sets[column], dtype="str") if column in CODED else sets[column]
    scored = score_columns(pd.DataFrame(frame), data.thresholds, detail=True)
    for column in ("news2", "qsofa", "sirs", *POINT_COLUMNS):
        sets[column] = scored[column].to_numpy(dtype=float, na_value=np.nan)
    points = np.column_stack([sets[c] for c in POINT_COLUMNS])
    sets["news2_partial"] = np.nansum(points, axis=1)
    sets["news2_red"] = (points >= data.thresholds["news2"].red_score_points).any(axis=1)
    for column in ("news2_band", "news2_missing"):
        categorical = scored[column]
        names = np.array(list(categorical.categories) + [np.nan], dtype=object)
        sets[column] = names[categorical.codes]   # code -1 (missing) -> the NaN appended last
    return sets
