"""Statistics rows for analyses the data cannot support.

A test that cannot run on the data it is given (too few subjects, one level, an empty design
cell, a singular design) is never a crash that stops the study and never a silent gap: it is one
row of the statistics table with no statistic and no p, whose ``notes`` say "not tested:" and
why. Figures find no p there and draw no star.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from exneuro.stats.table import label_rows, stats_frame

#: The statistics table's name of each two-group test a config can choose.
TWO_GROUP_TEST_NAMES = {"welch": "welch_t", "student": "student_t", "mann_whitney": "mann_whitney"}
#: Failures of a test on the data it is given, as the statistics engine raises them.
DATA_FAILURES = (ValueError, np.linalg.LinAlgError, ZeroDivisionError)


def not_tested_row(test: str, term: str, subset: str, reason: str) -> pd.DataFrame:
    """A statistics row saying a test was not run and why (no statistic, no p, no star)."""
    row = stats_frame([{"test": test, "term": term, "notes": f"not tested: {reason}"}])
    return label_rows(row, subset=subset) if subset else row


def untested_on_failure(
    run_test: Callable[[], pd.DataFrame | list[pd.DataFrame]],
    test: str,
    term: str,
    subset: str = "",
) -> list[pd.DataFrame]:
    """The rows of ``run_test()``, or one "not tested" row naming the reason the data gave."""
    try:
        rows = run_test()
    except DATA_FAILURES as failure:
        return [not_tested_row(test, term, subset, str(failure))]
    return rows if isinstance(rows, list) else [rows]


def too_few_mice(data: pd.DataFrame, group: str, mouse: str, labels) -> str:
    """Why groups cannot be compared on these data ('run has 1 mouse ...'), or '': each group
    needs two mice, the unit of the comparison (the cells of one mouse are not n)."""
    mice = data.groupby(data[group].astype(str))[mouse].nunique()
    counts = {str(g): int(mice.get(str(g), 0)) for g in labels}
    few = [f"{g} has {n} {'mouse' if n == 1 else 'mice'}" for g, n in counts.items() if n < 2]
    if not few:
        return ""
    return "; ".join(few) + " (a group comparison needs 2 or more mice per group)"
