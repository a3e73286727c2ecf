"""Post-hoc families from a fitted mixed model, corrected for multiplicity as a family.

emmeans corrects the contrasts at each level of ``by`` as one family; GraphPad Prism corrects
all the contrasts of a two-way design together. Both are offered (``family='per_level'`` or
``'all'``). Sidak and Bonferroni families get simultaneous confidence intervals (per-comparison
level level^(1/m) and 1 - (1 - level)/m); step-wise methods (Holm, Benjamini-Hochberg) have no
such interval, so their CIs stay unadjusted and the notes say so.
"""

from __future__ import annotations

import pandas as pd

from exneuro.stats import compare, mixed
from exneuro.stats.table import subset_label

SIMULTANEOUS = {"sidak": "Sidak", "bonferroni": "Bonferroni"}


def family_ci_level(method: str, n_tests: int, level: float) -> float:
    """Per-comparison confidence level that makes a family of ``n_tests`` CIs simultaneous."""
    if method == "sidak":
        return level ** (1.0 / n_tests)
    if method == "bonferroni":
        return 1.0 - (1.0 - level) / n_tests
    return level


def contrast_family(
    fit: mixed.MixedModelFit,
    factor: str,
    by: str | None,
    method: str,
    ref: str | None,
    correction: str,
    level: float = 0.95,
    family: str = "all",
    context: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Contrasts of ``factor`` (at every level of ``by``) as statistics-table rows.

    ``method`` is an emmeans method ('trt.vs.ctrl' against ``ref``, 'pairwise', 'consec');
    ``correction`` one of :func:`exneuro.stats.compare.adjust_pvalues`'s methods. Each row's
    ``subset`` holds ``context`` (e.g. the cohort) and the ``by`` level; ``term`` the contrast.
    """

    def contrasts(ci_level: float) -> pd.DataFrame:
        return mixed.emm_contrasts(
            fit, factor=factor, by=by, method=method, ref=ref, adjust="none", level=ci_level
        )

    rows = contrasts(level)
    if by and family == "per_level":
        keys = rows["by_level"].astype(str)
    else:
        keys = pd.Series("all", index=rows.index)
    sizes = keys.map(keys.value_counts())
    for size in sorted(sizes.unique()) if correction in SIMULTANEOUS else []:
        wider = contrasts(family_ci_level(correction, int(size), level))
        chosen = sizes == size
        rows.loc[chosen, ["ci_low", "ci_high"]] = wider.loc[chosen, ["ci_low", "ci_high"]]
    rows["p_adj"] = rows.groupby(keys)["p"].transform(
        lambda p: compare.adjust_pvalues(p, correction)
    )
    table = mixed.to_stats(fit, contrasts=rows, include_anova=False)
    table["term"] = rows["contrast"].to_numpy()
    table["subset"] = [
        subset_label(**(context or {}), **({by: value} if by else {})) or pd.NA
        for value in rows["by_level"]
    ]
    table["correction"] = [compare.correction_label(correction, int(n)) for n in sizes]
    interval = (
        f"{SIMULTANEOUS[correction]}-adjusted {level:g} CI"
        if correction in SIMULTANEOUS
        else f"unadjusted {level:g} CI"
    )
    scope = f"at each {by}" if by and family == "per_level" else "all together"
    table["notes"] = (
        f"estimated marginal means of the mixed model; {factor} contrasts ({method})"
        f", corrected {scope}; {interval}; d = estimate / total SD"
    )
    return table
