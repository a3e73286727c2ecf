"""The mouse-level test beside every singular mixed-model fit of the study's statistics table.

A mixed model whose mouse variance is estimated at zero (lme4 ``isSingular``) treats the cells,
segments or sessions of one mouse as if they were independent mice: its df and p are not those
of an experiment with a handful of mice. The statistics table flags such rows
(``singular_fit = yes``); :func:`attach_mouse_level` then fills ``p_mouse_level`` from the test
of the same outcome and subset that uses mice as n:

* a test on mouse means (``test`` ending in ``_mouse_means``) for the group term (``term`` =
  ``group`` or the same ``a - b`` contrast);
* otherwise the repeated-measures ANOVA of the same term (``rm_anova``/``mixed_anova``), with its
  sphericity-corrected p.

Rows that already carry ``p_mouse_level`` (the nested analyses fill it themselves) are left as
they are; a singular row with no mouse-level test beside it keeps a blank, and its notes say so.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["attach_mouse_level"]

_ANOVA_TESTS = ("rm_anova", "mixed_anova")


def attach_mouse_level(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of the statistics table with ``p_mouse_level`` filled beside singular fits."""
    out = table.copy()
    singular = (out["singular_fit"].astype("string") == "yes").fillna(False).to_numpy()
    missing = out["p_mouse_level"].isna().to_numpy()
    keys = ["analysis", "outcome", "subset"]
    frame = out[keys].astype("string").fillna("")
    tests = out["test"].astype("string").fillna("")
    for index in out.index[singular & missing]:
        same = (frame == frame.loc[index]).all(axis=1)
        term = str(out.at[index, "term"])
        means = out[same & tests.str.endswith("_mouse_means")]
        if len(means) == 1 and term in ("group", str(means["term"].iloc[0])):
            out.at[index, "p_mouse_level"] = float(means["p"].iloc[0])
            continue
        anova = out[same & tests.isin(_ANOVA_TESTS) & (out["term"].astype("string") == term)]
        if len(anova) == 1:
            out.at[index, "p_mouse_level"] = float(anova["p_adj"].iloc[0])
    return out
