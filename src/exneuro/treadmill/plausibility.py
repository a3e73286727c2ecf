"""Plausible values of endurance tests: a value outside its declared range never reaches a
statistic silently.

A body mass typed in kilograms (0.024 for 24 g) makes vertical work 1000x too small; a time to
exhaustion typed in minutes where seconds are configured (28.7 for 28 min 42 s) makes distance
and work nearly zero. Such values are numbers, so no parser notices them: each quantity has a
plausible range in a declared unit (per species where it matters: the body mass of a mouse and of
a rat), and the typed distance is cross-checked against the distance the protocol gives for the
typed time. What an implausible value does is a config policy (``treadmill.implausible``): stop
with one line naming the file, line, column, value, range and the likely fix, or flag the test in
the QC table and exclude it from the statistics and figures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from exneuro.errors import data_error

QUANTITIES = {
    "body_mass_g": ("body mass", "g"),
    "time_to_exhaustion_s": ("time to exhaustion", "s"),
    "distance_m": ("distance", "m"),
    "speed_m_min": ("speed at exhaustion", "m/min"),
}
#: Default plausible ranges per species (adult animals on a treadmill run to exhaustion): body
#: mass of laboratory mice 10-80 g (obese strains included) and rats 50-1000 g; tests of 1 min to
#: 4 h; 10 m to 10 km (mice) or 20 km (rats); speeds at exhaustion 5-100 m/min (mice) or 120 m/min
#: (rats).
SPECIES_RANGES = {
    "mus musculus": {
        "body_mass_g": [10, 80],
        "time_to_exhaustion_s": [60, 14400],
        "distance_m": [10, 10000],
        "speed_m_min": [5, 100],
    },
    "rattus norvegicus": {
        "body_mass_g": [50, 1000],
        "time_to_exhaustion_s": [60, 14400],
        "distance_m": [10, 20000],
        "speed_m_min": [5, 120],
    },
}
SPECIES_ALIASES = {"mouse": "mus musculus", "mice": "mus musculus", "rat": "rattus norvegicus"}


def species_ranges(species: str) -> dict[str, list[float]] | None:
    """The default plausible ranges of a species (Latin or common name), None when unknown."""
    key = species.strip().lower()
    return SPECIES_RANGES.get(SPECIES_ALIASES.get(key, key))


def fill_plausible_ranges(treadmill: dict, species: str) -> list[str]:
    """Fill each range left null with the species' default; the problems if one stays unknown."""
    defaults = species_ranges(species) or {}
    ranges = treadmill["plausible_ranges"]
    for quantity in QUANTITIES:
        if ranges.get(quantity) is None and quantity in defaults:
            ranges[quantity] = list(defaults[quantity])
    problems = []
    unknown = [f"{q} ({QUANTITIES[q][1]})" for q, value in ranges.items() if value is None]
    if unknown:
        problems.append(
            f"treadmill.plausible_ranges: study.species '{species}' has no default ranges — give "
            f"[lowest, highest] for {', '.join(unknown)}"
        )
    for quantity, value in ranges.items():
        if value is not None and value[0] >= value[1]:
            problems.append(
                f"treadmill.plausible_ranges.{quantity}: {value} — the lowest value comes first "
                "and is below the highest"
            )
    return problems


def implausible_values(tests: pd.DataFrame, treadmill: Mapping) -> pd.DataFrame:
    """One row per implausible value of the tests (with their summary rows and computed metrics):
    ``test`` (its row label), ``quantity``, ``file``, ``line``, ``column`` and the ``problem``.

    Checked: the typed body mass; with the summary source, the typed time, distance and final
    speed, the distance the protocol gives for the typed time, and the typed distance against
    it (within ``cross_check_tolerance``); with the stage-log source, the time, distance and top
    speed of each log (the typed values are cross-checked against the logs in the QC table).
    """
    found = list(_out_of_range(tests, treadmill)) + list(_typed_distance_mismatch(tests, treadmill))
    return pd.DataFrame(found, columns=["test", "quantity", "file", "line", "column", "problem"])


def apply_policy(
    tests: pd.DataFrame, problems: pd.DataFrame, treadmill: Mapping, qc_row
) -> list[dict]:
    """Stop at the first problem (``implausible: stop``) or exclude each test with a problem and
    return its QC rows (``flag``); ``qc_row(test, check, detail, action)`` builds one. Tests
    already excluded (by the sheet or the config) reach no statistic and are not checked."""
    problems = problems[~tests.loc[problems["test"], "excluded"].to_numpy(bool)]
    if problems.empty:
        return []
    if treadmill["implausible"] == "stop":
        first = problems.iloc[0]
        test = tests.loc[first["test"]]
        raise data_error(
            first["file"],
            first["problem"],
            f"correct the value, {_setting(first['quantity'])} if it is right, or set "
            "treadmill.implausible: flag to exclude such tests from the statistics",
            line=None if pd.isna(first["line"]) else int(first["line"]),
            column=first["column"],
            mouse=f"{test['mouse']}, session {test['session']}",
        )
    rows = []
    for problem in problems.itertuples():
        test = tests.loc[problem.test]
        place = f"{problem.file} line {problem.line}" if pd.notna(problem.line) else problem.file
        rows.append(
            qc_row(
                test,
                "implausible value",
                f"{place}, column '{problem.column}': {problem.problem}",
                "excluded from statistics and figures",
            )
        )
        if not tests.at[problem.test, "excluded"]:  # the test's first problem is its reason
            tests.at[problem.test, "excluded"] = True
            tests.at[problem.test, "exclusion_reason"] = f"implausible value: {problem.problem}"
    return rows


def _setting(quantity: str) -> str:
    """The config setting that accepts a value this check refused."""
    if quantity == "typed_distance":
        return "raise treadmill.cross_check_tolerance"
    return f"widen treadmill.plausible_ranges.{quantity}"


def _out_of_range(tests: pd.DataFrame, treadmill: Mapping) -> Iterator[dict]:
    columns = treadmill["summary_columns"]
    log_columns = treadmill["stage_log_columns"]
    summary = treadmill["summary_table"]
    typed_time = tests["summary_time_s"].notna()
    checks = [("body_mass_g", "body_mass_g", columns["body_mass_g"], None)]
    if treadmill["metrics_source"] == "summary":  # the typed values are the test's values
        checks += [
            ("time_to_exhaustion_s", "summary_time_s", columns["time_to_exhaustion"], None),
            ("distance_m", "summary_distance_m", columns["distance_m"], None),
            ("speed_m_min", "summary_final_speed_m_min", columns["final_speed_m_min"], None),
            ("distance_m", "distance_m", columns["time_to_exhaustion"], "protocol"),
        ]
    else:  # the logs' values are used; typed ones are cross-checked against them in the QC
        checks += [
            ("time_to_exhaustion_s", "time_to_exhaustion_s", log_columns["elapsed_s"], "log"),
            ("distance_m", "distance_m", log_columns["speed_m_min"], "log"),
            ("speed_m_min", "stage_peak_speed_m_min", log_columns["speed_m_min"], "log"),
        ]
    ranges = treadmill["plausible_ranges"]
    for quantity, name, column, origin in checks:
        low, high = ranges[quantity]
        values = tests[name].to_numpy(float)
        outside = np.flatnonzero(~np.isnan(values) & ((values < low) | (values > high)))
        for index in tests.index[outside]:
            test = tests.loc[index]
            value = float(test[name])
            label, unit = QUANTITIES[quantity]
            if name == "stage_peak_speed_m_min":
                label = "top belt speed"
            text = (
                f"{label} {value:g} {unit} is outside the plausible range {low:g}–{high:g} {unit}"
            )
            if origin == "protocol":
                source = (
                    f"time to exhaustion {test['time_to_exhaustion_s']:g} s"
                    if typed_time[index]
                    else "the typed distance"
                )
                text = f"{label} {value:g} m, computed from the {source} on protocol "
                text += f"'{test['protocol']}', is outside the plausible range {low:g}–{high:g} m"
            unit_setting = "log" if origin == "log" else treadmill["time_to_exhaustion_unit"]
            hint = _hint(quantity, value, low, high, unit_setting)
            file, line, shown = summary, test["source_line"], column
            if origin == "protocol" and not typed_time[index]:
                shown = columns["distance_m"]  # the time was found from the typed distance
            if origin == "log":
                file = treadmill["stage_logs"].format(mouse=test["mouse"], session=test["session"])
                line = None
            yield {
                "test": index,
                "quantity": quantity,
                "file": file,
                "line": line,
                "column": shown,
                "problem": f"{text}{hint}",
            }


def _hint(quantity: str, value: float, low: float, high: float, time_unit: str) -> str:
    """The likely unit mistake behind an implausible value, when one explains it (``time_unit``:
    the configured unit of typed times, or 'log' for a stage log's seconds)."""

    def inside(scaled: float) -> bool:
        return low <= scaled <= high

    if quantity == "body_mass_g":
        if value <= 0:
            return " (a body mass is positive)"
        if inside(value * 1000):
            return f"; it looks like kilograms: enter grams ({value * 1000:g})"
    if quantity == "time_to_exhaustion_s":
        if time_unit == "log" and value < low and inside(value * 60):
            return "; it looks like minutes: a stage log gives elapsed time in seconds"
        if time_unit == "s" and value < low and inside(value * 60):
            return "; it looks like minutes: set treadmill.time_to_exhaustion_unit: min"
        if time_unit == "min" and value > high and inside(value / 60):
            return "; it looks like seconds: set treadmill.time_to_exhaustion_unit: s"
    if quantity == "distance_m" and value < low and inside(value * 1000):
        return f"; it looks like kilometres: enter metres ({value * 1000:g})"
    if (
        quantity == "speed_m_min"
        and value < low
        and (inside(value * 1000 / 60) or inside(value * 60))
    ):
        return "; it looks like km/h or m/s: enter m/min"
    return ""


def _typed_distance_mismatch(tests: pd.DataFrame, treadmill: Mapping) -> Iterator[dict]:
    """Typed distance vs the distance the typed time gives on the protocol (summary source)."""
    if treadmill["metrics_source"] == "stage_logs":
        return  # the stage logs are cross-checked against the summary in the QC table
    typed = tests["summary_distance_m"].to_numpy(float)
    computed = tests["distance_m"].to_numpy(float)
    both = tests["summary_time_s"].notna().to_numpy() & ~np.isnan(typed)
    with np.errstate(divide="ignore", invalid="ignore"):
        apart = np.abs(typed - computed) / np.maximum(np.abs(typed), 1e-12)
    for index in tests.index[both & (apart > treadmill["cross_check_tolerance"])]:
        test = tests.loc[index]
        unit = treadmill["time_to_exhaustion_unit"]
        yield {
            "test": index,
            "quantity": "typed_distance",
            "file": treadmill["summary_table"],
            "line": test["source_line"],
            "column": treadmill["summary_columns"]["distance_m"],
            "problem": (
                f"the typed distance {test['summary_distance_m']:g} m differs from the "
                f"{test['distance_m']:.4g} m that the typed time to exhaustion "
                f"({test['summary_time_s']:g} s, time_to_exhaustion_unit: {unit}) gives on "
                f"protocol '{test['protocol']}'; check the unit and the protocol's stages"
            ),
        }
