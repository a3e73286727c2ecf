"""Multiple-testing adjustment of a family of p values, as R's ``p.adjust``."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# ------------------------------------------------------------------------------------------------
# Multiplicity
# ------------------------------------------------------------------------------------------------

#: Corrections from the joint (multivariate t) distribution of the contrasts (posthoc.py).
MULTIVARIATE_T = {"dunnett": "Dunnett"}
#: Method name -> label used in the ``correction`` column.
PADJUST_METHODS: dict[str, str] = {
    "sidak": "Sidak",
    "holm": "Holm",
    "holm-sidak": "Holm-Sidak",
    "bonferroni": "Bonferroni",
    "fdr_bh": "Benjamini-Hochberg FDR",
    "fdr_by": "Benjamini-Yekutieli FDR",
    "none": "none",
}


def adjust_pvalues(p: ArrayLike, method: str) -> np.ndarray:
    """Adjust a family of p values for multiple testing; NaNs pass through and do not count.

    With m the number of non-missing p values and p_(1) <= ... <= p_(m) the sorted values:

    * ``"bonferroni"``: min(1, m p).
    * ``"sidak"``: 1 - (1 - p)^m (Šidák 1967), exact for independent tests.
    * ``"holm"``: step-down, p̃_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)) (Holm 1979).
    * ``"holm-sidak"``: step-down Šidák, p̃_(i) = max_{j<=i} 1 - (1 - p_(j))^(m - j + 1).
    * ``"fdr_bh"``: Benjamini & Hochberg (1995) step-up,
      p̃_(i) = min_{j>=i} min(1, m p_(j) / j).
    * ``"fdr_by"``: Benjamini & Yekutieli (2001, *Ann Stat* 29:1165) step-up, valid under any
      dependence: p̃_(i) = min_{j>=i} min(1, c_m m p_(j) / j), c_m = sum_{k=1}^m 1/k.
    * ``"none"``: unchanged.

    Holm, Bonferroni, BH and BY reproduce R's ``p.adjust`` (which also drops NAs from m); Šidák and
    Holm-Šidák follow ``statsmodels.stats.multitest.multipletests``. The result has the shape of
    ``p``.
    """
    if method not in PADJUST_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(PADJUST_METHODS)}")
    values = np.asarray(p, dtype=float)
    flat = values.ravel()
    out = np.full(flat.shape, np.nan)
    ok = ~np.isnan(flat)
    q = flat[ok]
    if np.any((q < 0) | (q > 1)):
        raise ValueError("p values must lie in [0, 1]")
    m = q.size
    if m == 0:
        return out.reshape(values.shape)
    with np.errstate(divide="ignore"):
        if method == "none":
            adjusted = q.copy()
        elif method == "bonferroni":
            adjusted = np.minimum(1.0, m * q)
        elif method == "sidak":
            adjusted = -np.expm1(m * np.log1p(-q))
        elif method in ("holm", "holm-sidak"):
            order = np.argsort(q, kind="stable")
            factor = m - np.arange(m)  # m - i + 1 for 1-based rank i
            if method == "holm":
                stepped = factor * q[order]
            else:
                stepped = -np.expm1(factor * np.log1p(-q[order]))
            adjusted = np.empty(m)
            adjusted[order] = np.minimum(1.0, np.maximum.accumulate(stepped))
        else:  # fdr_bh, fdr_by
            order = np.argsort(q, kind="stable")[::-1]  # largest first
            rank = np.arange(m, 0, -1)
            c_m = np.sum(1.0 / np.arange(1, m + 1)) if method == "fdr_by" else 1.0
            adjusted = np.empty(m)
            adjusted[order] = np.minimum(1.0, np.minimum.accumulate(c_m * m / rank * q[order]))
    out[ok] = np.clip(adjusted, 0.0, 1.0)
    return out.reshape(values.shape)


def correction_label(method: str, m: int) -> str:
    """Text for the ``correction`` column, e.g. ``'Sidak (4 tests)'``, ``'Dunnett (multivariate
    t, 3 tests)'``; ``'none'`` for no method."""
    tests = f"{int(m)} test{'s' if int(m) != 1 else ''}"
    if method in MULTIVARIATE_T:
        return f"{MULTIVARIATE_T[method]} (multivariate t, {tests})"
    if method not in PADJUST_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(PADJUST_METHODS)}")
    if method == "none":
        return "none"
    return f"{PADJUST_METHODS[method]} ({tests})"
