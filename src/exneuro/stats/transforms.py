"""Declared transforms of an outcome before testing (log for multiplicative effects, etc.).

A right-skewed positive outcome whose group effects are multiplicative (endurance distance,
event frequencies, concentrations) is tested on the log scale, where the model's additive,
equal-variance assumptions hold better; a difference of logs is a log ratio, so
``exp(estimate)`` is the ratio of geometric means (Keene 1995, *Stat Med* 14:811). Values the
transform cannot take (zero or negative for logs, negative for the square root) are an error
naming the rows, never silently dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from exneuro.errors import InputDataError

__all__ = ["TRANSFORMS", "apply_transform", "transform_label"]

#: Transform name -> (function, smallest allowed value is exclusive?, what an estimate means).
TRANSFORMS = {
    "log": (np.log, True, "natural log: exp(estimate) is a ratio"),
    "log2": (np.log2, True, "log2: 2^estimate is a ratio"),
    "log10": (np.log10, True, "log10: 10^estimate is a ratio"),
    "sqrt": (np.sqrt, False, "square root (variance-stabilizing for counts)"),
}


def transform_label(name: str, column: str) -> str:
    """'log(distance_m)'."""
    return f"{name}({column})"


def apply_transform(values: pd.Series, name: str, where: str) -> pd.Series:
    """The transformed values; missing values stay missing.

    Raises :class:`~exneuro.errors.InputDataError` naming ``where`` (e.g. the outcome and
    cohort), the first offending row and the fix when a value is outside the transform's domain.
    """
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform '{name}'; choose from {sorted(TRANSFORMS)}")
    function, strict, _ = TRANSFORMS[name]
    numbers = pd.to_numeric(values, errors="raise").astype(float)
    bad = (numbers <= 0) if strict else (numbers < 0)
    if bad.any():
        first = bad[bad].index[0]
        raise InputDataError(
            f"{where}: {int(bad.sum())} value(s) {'<= 0' if strict else '< 0'} cannot be "
            f"{name}-transformed (first: row {first}, value {numbers[first]:g}); remove the "
            "transform from the config or correct the values"
        )
    return function(numbers)
