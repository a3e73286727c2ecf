"""What the ANOVA tests share: the published reference data sets (tests/reference/<case>/) and
the comparison of a result with printed reference numbers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd

from exneuro.stats.anova import AnovaResult

REF = Path(__file__).parent / "reference"


def close(actual: float, expected: float, rel: float = 1e-4) -> bool:
    """True if ``actual`` matches a printed reference value.

    The tolerance is ``rel`` relative, or half a unit in the last printed digit of ``expected``
    when the reference was printed with too few digits for ``rel`` (e.g. JASP's 0.1668): the
    test then asserts that our value rounds to the printed one.
    """
    half_unit = 0.5 * 10.0 ** Decimal(repr(float(expected))).as_tuple().exponent
    tolerance = max(rel * abs(expected), half_unit) * (1 + 1e-9)
    return abs(actual - expected) <= tolerance


def check(result: AnovaResult, expected: dict[str, dict[str, float]]) -> None:
    """Assert every (term, column) reference number; report all mismatches at once."""
    table = result.table.set_index("term")
    assert set(expected) <= set(table.index), f"terms {list(table.index)}"
    bad = [
        f"{term}.{column}: got {table.loc[term, column]!r}, expected {value!r}"
        for term, columns in expected.items()
        for column, value in columns.items()
        if not close(table.loc[term, column], value)
    ]
    assert not bad, "\n".join(bad)


def sleepstudy() -> pd.DataFrame:
    return pd.read_csv(REF / "sleepstudy" / "sleepstudy.csv")


def pingouin(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "pingouin_jasp_refs" / name, encoding="utf-8-sig")


def rm_anova_wide_long() -> pd.DataFrame:
    wide = pingouin("rm_anova_wide.csv").rename_axis("Subject").reset_index()
    return wide.melt(id_vars="Subject", var_name="Time", value_name="Scores")


def bugs() -> pd.DataFrame:
    return pd.read_csv(REF / "bugs_ryan2013" / "bugs_ryan2013.csv")


#: The two within factors of the bugs data set (Ryan 2013).
BUGS_WITHIN = ["Disgustingness", "Frighteningness"]
