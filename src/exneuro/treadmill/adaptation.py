"""Per-mouse adaptation curves across training, and responders.

Claims such as "this cohort does not adapt" or "stimulated mice broke through their plateau" are
tested on per-mouse numbers: the linear slope across training days (does performance rise?) and a
rise-to-plateau fit y(day) = y0 + A (1 - exp(-day / tau)) giving the plateau y0 + A, the rise A
(as % of y0) and the days to reach a fraction f of the rise, tau * ln(1 / (1 - f)).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit

MIN_TESTS_FOR_PLATEAU = 4  # three parameters need at least four tests


def rise_to_plateau(day: np.ndarray, y0: float, rise: float, tau: float) -> np.ndarray:
    """y0 + rise * (1 - exp(-day / tau))."""
    return y0 + rise * (1.0 - np.exp(-day / tau))


def fit_mouse_curve(
    day: np.ndarray, value: np.ndarray, plateau_fraction: float, fit_plateau: bool = True
) -> dict:
    """Linear slope and rise-to-plateau fit for one mouse's tests.

    ``fit_status`` says why a plateau is missing: 'plateau fit switched off in the config',
    'too few tests' (with the number it needs), 'no rise' (fitted rise <= 0),
    'no plateau within the tests' (tau at its upper bound: still rising linearly),
    'plateau reached only after the tests' (the fitted curve comes within ``plateau_fraction``
    of its plateau after the last test: the plateau is an extrapolation, not a measurement; its
    numbers stay in the table, the group comparison leaves it out), or 'did not converge'.
    """
    day, value = np.asarray(day, float), np.asarray(value, float)
    result = {
        "n_tests": len(day),
        "slope_per_day": np.nan,
        "y0": np.nan,
        "plateau": np.nan,
        "rise_percent": np.nan,
        "tau_days": np.nan,
        "days_to_plateau": np.nan,
        "fit_r2": np.nan,
        "fit_status": "ok",
    }
    if len(day) >= 2:
        result["slope_per_day"] = float(np.polyfit(day, value, 1)[0])
    if not fit_plateau:
        result["fit_status"] = "plateau fit switched off in the config"
        return result
    if len(day) < MIN_TESTS_FOR_PLATEAU:
        result["fit_status"] = f"too few tests (the plateau fit needs {MIN_TESTS_FOR_PLATEAU})"
        return result
    span = float(day.max() - day.min()) or 1.0
    tau_max = 10.0 * span
    start = (value[0], value[-1] - value[0], span / 4)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", OptimizeWarning)
            (y0, rise, tau), _ = curve_fit(
                rise_to_plateau,
                day,
                value,
                p0=start,
                bounds=([-np.inf, -np.inf, 0.05 * span / len(day)], [np.inf, np.inf, tau_max]),
                maxfev=20000,
            )
    except (RuntimeError, OptimizeWarning, ValueError):
        result["fit_status"] = "did not converge"
        return result
    residual = value - rise_to_plateau(day, y0, rise, tau)
    total = np.sum((value - value.mean()) ** 2)
    result.update(
        y0=y0,
        plateau=y0 + rise,
        rise_percent=100.0 * rise / y0,
        tau_days=tau,
        fit_r2=1.0 - np.sum(residual**2) / total if total > 0 else np.nan,
    )
    if rise <= 0:
        result["fit_status"] = "no rise"
    elif tau >= 0.999 * tau_max:
        result["fit_status"] = "no plateau within the tests"
    else:
        result["days_to_plateau"] = tau * np.log(1.0 / (1.0 - plateau_fraction))
        if result["days_to_plateau"] > span:
            result["fit_status"] = "plateau reached only after the tests"
    return result


def fit_adaptation(
    tests: pd.DataFrame, column: str, plateau_fraction: float, fit_plateau: bool = True
) -> pd.DataFrame:
    """One row per included mouse: slope, plateau fit and its status (:func:`fit_mouse_curve`)."""
    included = tests[~tests["excluded"]].sort_values(["mouse", "day"])
    rows = []
    for (mouse, cohort, group), mouse_tests in included.groupby(
        ["mouse", "cohort", "group"], sort=True, observed=True
    ):
        fit = fit_mouse_curve(
            mouse_tests["day"], mouse_tests[column], plateau_fraction, fit_plateau
        )
        rows.append({"mouse": mouse, "cohort": cohort, "group": group, "metric": column, **fit})
    return pd.DataFrame(rows)


def classify_responders(
    tests: pd.DataFrame, column: str, baseline_session: str, session: str, min_percent_change: float
) -> pd.DataFrame:
    """Responder = % change of ``column`` from baseline to ``session`` ('last' = the mouse's last
    included test) of at least ``min_percent_change``. Mice without that test are not classified."""
    included = tests[~tests["excluded"]].sort_values(["mouse", "day"])
    baseline = included[included["session"] == baseline_session].set_index("mouse")[column]
    if session == "last":
        final = included[included["session"] != baseline_session].groupby("mouse").tail(1)
    else:
        final = included[included["session"] == session]
    final = final.set_index("mouse")
    change = 100.0 * (final[column] / baseline.reindex(final.index) - 1.0)
    table = final[["cohort", "group", "session"]].assign(
        metric=column,
        percent_change=change,
        responder=change >= min_percent_change,
        rule=f"{column} change from {baseline_session} to {session} >= {min_percent_change:g}%",
    )
    return table.dropna(subset=["percent_change"]).reset_index()
