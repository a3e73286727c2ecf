"""Distribution and proportion tests: Kolmogorov-Smirnov and Fisher's exact (the equal-weight
pooling of cells before a KS test is :mod:`exneuro.stats.pooling`)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats
from scipy.stats.contingency import odds_ratio as _scipy_odds_ratio

from exneuro.stats.effect_sizes import _check_level, _clean
from exneuro.stats.table import format_n_by_group, stats_frame

# ------------------------------------------------------------------------------------------------
# Distributions and proportions
# ------------------------------------------------------------------------------------------------


def ks_test(
    a: ArrayLike,
    b: ArrayLike,
    labels: Sequence[str] = ("control", "treated"),
    method: Literal["auto", "exact", "asymp"] = "auto",
) -> pd.DataFrame:
    """Two-sample Kolmogorov-Smirnov test of two distributions (e.g. inter-event intervals).

    D = sup |F_a - F_b|. p is two-sided:

    * ``"auto"`` (default): exact (``scipy.stats.ks_2samp(method="exact")``, Hodges 1958) when
      max(n_a, n_b) <= 10000, as scipy decides, else asymptotic;
    * ``"exact"``: always exact (scipy falls back to asymptotic if the recursion fails; noted);
    * ``"asymp"``: the limiting Kolmogorov distribution, p = Q_KS(sqrt(n_a n_b/(n_a+n_b)) D),
      which is what R's ``ks.test(exact = FALSE)`` reports (and what R uses by default once
      n_a n_b >= 10000). scipy's own "asymp" uses a finite-n approximation instead.

    The exact p assumes continuous data; with ties R 4.2 computes a tie-aware exact p and the two
    differ (noted). The test treats every value as independent: pool per-cell values with
    :func:`equal_weight_pool` so each cell weighs the same, and remember that events within a
    cell are still not independent (prefer a cell- or mouse-level summary for inference).
    """
    if method not in ("auto", "exact", "asymp"):
        raise ValueError("method must be 'auto', 'exact' or 'asymp'")
    labels = tuple(str(label) for label in labels)
    xa, drop_a = _clean(a, "a")
    xb, drop_b = _clean(b, "b")
    na, nb = xa.size, xb.size
    if na == 0 or nb == 0:
        raise ValueError("both samples need at least one value")
    if method == "auto":
        method = "exact" if max(na, nb) <= 10000 else "asymp"
    if method == "exact":
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = stats.ks_2samp(xb, xa, alternative="two-sided", method="exact")
        d_stat, p = float(res.statistic), float(res.pvalue)
        used = "exact (Hodges 1958, scipy)"
        if any("Switching to method=asymp" in str(w.message) for w in caught):
            used = "scipy asymptotic (exact recursion failed)"
    else:
        d_stat = float(stats.ks_2samp(xb, xa, alternative="two-sided", method="asymp").statistic)
        p = float(stats.kstwobign.sf(math.sqrt(na * nb / (na + nb)) * d_stat))
        used = "asymptotic Kolmogorov distribution (as R ks.test exact = FALSE)"
    ties = np.unique(np.concatenate([xa, xb])).size < na + nb
    notes = [
        f"p {used}",
        f"medians {labels[0]}={np.median(xa):.6g}, {labels[1]}={np.median(xb):.6g}",
        "every value treated as an independent observation",
    ]
    if ties:
        notes.append("ties present: p assumes continuous data and differs from R's exact p")
    return stats_frame(
        [
            {
                "test": "ks_2samp",
                "model": "two-sample Kolmogorov-Smirnov, two-sided",
                "term": f"{labels[1]} vs {labels[0]}",
                "statistic_name": "D",
                "statistic": d_stat,
                "p": min(1.0, max(0.0, p)),
                "n_obs": na + nb,
                "n_excluded": drop_a + drop_b,
                "n_by_group": format_n_by_group({labels[0]: na, labels[1]: nb}),
                "notes": "; ".join(notes),
            }
        ]
    )


def fisher_exact_test(
    table: ArrayLike | None = None,
    *,
    successes: Sequence[int] | None = None,
    totals: Sequence[int] | None = None,
    labels: Sequence[str] = ("control", "treated"),
    level: float = 0.95,
    unit: Literal["mice", "cells"] = "mice",
) -> pd.DataFrame:
    """Fisher's exact test of responders vs non-responders between two groups; one row.

    Give either ``table`` (2x2, rows = groups in ``labels`` order, columns = responders,
    non-responders) or ``successes`` and ``totals`` per group. The estimate is the odds ratio of
    responding in the second group relative to the first, as the *conditional maximum-likelihood
    estimate* with the exact conditional CI — what R's ``fisher.test`` reports (via
    ``scipy.stats.contingency.odds_ratio(kind="conditional")``), not the sample odds ratio ad/bc
    (which ``scipy.stats.fisher_exact`` returns; given in ``effect_size_alt``). p is the two-sided
    exact p (sum of table probabilities <= the observed one). ``effect_size`` is the difference
    in response proportions (second - first).
    """
    level = _check_level(level)
    labels = tuple(str(label) for label in labels)
    if table is not None:
        if successes is not None or totals is not None:
            raise ValueError("give either table or successes/totals, not both")
        tab = np.asarray(table)
    else:
        if successes is None or totals is None:
            raise ValueError("give table, or both successes and totals")
        k = np.asarray(successes)
        nn = np.asarray(totals)
        tab = np.column_stack([k, nn - k])
    if tab.shape != (2, 2) or np.any(tab < 0) or np.any(tab != np.round(tab)):
        raise ValueError("need a 2x2 table of non-negative counts")
    tab = tab.astype(np.int64)
    swapped = tab[::-1]  # second group first: OR = odds(second) / odds(first)
    cond = _scipy_odds_ratio(swapped, kind="conditional")
    ci = cond.confidence_interval(confidence_level=level)
    p = float(stats.fisher_exact(swapped, alternative="two-sided").pvalue)
    n_groups = tab.sum(axis=1)
    props = tab[:, 0] / n_groups
    with np.errstate(divide="ignore", invalid="ignore"):
        sample_or = (swapped[0, 0] * swapped[1, 1]) / (swapped[0, 1] * swapped[1, 0])
    return stats_frame(
        [
            {
                "test": "fisher_exact",
                "model": "2x2 table: group x (responder, non-responder)",
                "term": f"{labels[1]} vs {labels[0]}",
                "estimate": float(cond.statistic),
                "ci_low": float(ci.low),
                "ci_high": float(ci.high),
                "ci_level": level,
                "statistic_name": "odds ratio",
                "statistic": float(cond.statistic),
                "p": p,
                "effect_size": float(props[1] - props[0]),
                "effect_size_name": "difference in proportions",
                "effect_size_alt": float(sample_or),
                "effect_size_alt_name": "sample odds ratio",
                "n_obs": int(tab.sum()),
                ("n_mice" if unit == "mice" else "n_cells"): int(tab.sum()),
                "n_by_group": format_n_by_group({labels[0]: n_groups[0], labels[1]: n_groups[1]}),
                "notes": (
                    f"odds ratio = odds of responding in {labels[1]} / {labels[0]}, "
                    "conditional MLE with exact conditional CI (as R fisher.test); "
                    "two-sided exact p; responders "
                    f"{labels[0]} {tab[0, 0]}/{n_groups[0]}, {labels[1]} {tab[1, 0]}/{n_groups[1]}"
                ),
            }
        ]
    )
