"""Declared families of tests: family-wise (Holm) or FDR (BH, BY) adjustment across analyses.

A study tests one outcome several ways (mixed model, RM ANOVA, post-hoc families, gain test) and
many outcomes at once. Each analysis corrects only within itself; what a reviewer asks is which
tests are primary and how the error rate is controlled across them. The config declares that
(``statistics.families``): each family names its tests by the columns of the statistics table
and its correction; :func:`apply_families` fills, for every member row,

* ``family`` — the family's id; ``primary`` — ``'yes'`` when the family is declared primary;
* ``p_family`` — the row's p adjusted across all members of its family;
* ``family_correction`` — e.g. ``'Holm (6 tests)'``.

The p that enters the family is the row's own p before any multiplicity correction (a post-hoc
row's Šidák within its own family is replaced by the declared family, not stacked on it), except
that a sphericity-corrected p (Greenhouse-Geisser, Huynh-Feldt) is used as corrected, since that
correction is part of the test itself. Holm (1979) controls the family-wise error rate under any
dependence; Benjamini-Hochberg (1995) the FDR for independent or positively dependent tests;
Benjamini-Yekutieli (2001) the FDR under any dependence (R ``p.adjust``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError
from exneuro.stats.multiplicity import PADJUST_METHODS, adjust_pvalues, correction_label

__all__ = ["FAMILY_CORRECTIONS", "SELECTOR_KEYS", "apply_families", "family_input_p"]

#: Corrections a family may declare (R ``p.adjust`` names in brackets): holm ("holm"),
#: fdr_bh ("BH"), fdr_by ("BY"), bonferroni, sidak, holm-sidak.
FAMILY_CORRECTIONS = tuple(m for m in PADJUST_METHODS if m != "none")

#: Statistics-table columns a family member may be selected by.
SELECTOR_KEYS = ("analysis", "outcome", "subset", "test", "term")

_SPHERICITY = ("Greenhouse-Geisser", "Huynh-Feldt")


def family_input_p(table: pd.DataFrame) -> pd.Series:
    """The p of each row that enters a family: sphericity-corrected where so, else the raw p."""
    sphericity = table["correction"].astype("string").isin(_SPHERICITY).fillna(False)
    return table["p_adj"].where(sphericity.to_numpy(), table["p"]).astype(float)


def _subset_pairs(text: object) -> set[str]:
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return set()
    return {part.strip() for part in str(text).split(";") if part.strip()}


def _matches(table: pd.DataFrame, selector: Mapping[str, str]) -> np.ndarray:
    """Rows matching every key of a selector; ``subset`` matches when all its pairs are present."""
    chosen = np.ones(len(table), dtype=bool)
    for key, wanted in selector.items():
        if key == "subset":
            pairs = _subset_pairs(wanted)
            chosen &= np.array([pairs <= _subset_pairs(v) for v in table["subset"]], dtype=bool)
        else:
            chosen &= (table[key].astype("string") == str(wanted)).fillna(False).to_numpy()
    return chosen


def apply_families(table: pd.DataFrame, families: Sequence[Mapping]) -> pd.DataFrame:
    """Return a copy of the statistics table with the family columns filled (module docstring).

    Each family: ``id``, ``correction`` (one of :data:`FAMILY_CORRECTIONS`, default ``holm``),
    ``primary`` (bool) and ``tests``, a list of selectors over :data:`SELECTOR_KEYS`. A selector
    that matches no row, a row claimed by two families or a member without a p value is a
    :class:`~exneuro.errors.ConfigError` naming the family and the fix.
    """
    out = table.copy()
    owner = pd.Series(pd.NA, index=out.index, dtype="string")
    input_p = family_input_p(out)
    for index, family in enumerate(families):
        name = str(family.get("id", f"#{index + 1}"))
        where = f"config statistics.families[{index}] (id '{name}')"
        correction = family.get("correction", "holm")
        if correction not in FAMILY_CORRECTIONS:
            raise ConfigError(
                f"{where}: correction '{correction}' is not one of {list(FAMILY_CORRECTIONS)}"
            )
        members = np.zeros(len(out), dtype=bool)
        for k, selector in enumerate(family.get("tests", [])):
            unknown = sorted(set(selector) - set(SELECTOR_KEYS))
            if unknown:
                raise ConfigError(
                    f"{where}, tests[{k}]: unknown key(s) {unknown}; use {list(SELECTOR_KEYS)}"
                )
            hit = _matches(out, selector)
            analysis = selector.get("analysis")
            if analysis is not None and not (out["analysis"].astype("string") == analysis).any():
                raise ConfigError(
                    f"{where}, tests[{k}]: analysis '{analysis}' has no rows in the statistics "
                    "table (is its section disabled or removed?); remove the test from the "
                    "family or enable the analysis"
                )
            if not hit.any():
                raise ConfigError(
                    f"{where}, tests[{k}] {dict(selector)} matches no row of the statistics "
                    "table: check the analysis, outcome, subset, test and term spelled as in "
                    "statistics/statistics.tsv"
                )
            members |= hit
        if not members.any():
            raise ConfigError(f"{where}: declares no tests; list them under 'tests'")
        taken = owner[members].dropna()
        if len(taken):
            row = out.loc[taken.index[0]]
            raise ConfigError(
                f"{where}: the row ({row['analysis']}, {row['outcome']}, {row['subset']}, "
                f"{row['test']}, {row['term']}) already belongs to family '{taken.iloc[0]}'; "
                "a test belongs to one family"
            )
        missing = members & input_p.isna().to_numpy()
        if missing.any():
            row = out.loc[out.index[missing][0]]
            raise ConfigError(
                f"{where}: the row ({row['analysis']}, {row['outcome']}, {row['test']}, "
                f"{row['term']}) has no p value; select only tests with a p"
            )
        owner[members] = name
        m = int(members.sum())
        out.loc[members, "family"] = name
        out.loc[members, "primary"] = "yes" if family.get("primary", False) else "no"
        out.loc[members, "p_family"] = adjust_pvalues(input_p[members].to_numpy(), correction)
        out.loc[members, "family_correction"] = correction_label(correction, m)
    return out
