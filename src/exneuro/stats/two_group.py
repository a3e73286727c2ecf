"""Two independent groups, paired and one-sample tests (R ``t.test`` / ``wilcox.test``).

Each public test returns one row of the statistics table; estimates are ``second - first``
(``treated - control``, ``after - before``, ``mean - mu``), effect sizes carry the same sign.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from exneuro.stats.effect_sizes import (
    _check_level,
    _clean,
    _fisher_z_interval,
    _standardized_mean,
    _t_summary,
)
from exneuro.stats.ranks import _mann_whitney, _signed_rank, _signed_rank_biserial
from exneuro.stats.table import format_n_by_group, stats_frame

# ------------------------------------------------------------------------------------------------
# Two independent groups
# ------------------------------------------------------------------------------------------------

_TWO_GROUP_TESTS = ("welch", "student", "mann_whitney")


def _two_group_record(
    a: ArrayLike,
    b: ArrayLike,
    test: str,
    labels: Sequence[str],
    level: float,
    unit: str,
) -> dict[str, object]:
    if test not in _TWO_GROUP_TESTS:
        raise ValueError(f"test must be one of {_TWO_GROUP_TESTS}, got {test!r}")
    if unit not in ("mice", "cells"):
        raise ValueError("unit must be 'mice' or 'cells'")
    level = _check_level(level)
    labels = tuple(str(label) for label in labels)
    if len(labels) != 2:
        raise ValueError("labels must name the two groups (first = a, second = b)")
    xa, drop_a = _clean(a, "a")
    xb, drop_b = _clean(b, "b")
    na, nb = xa.size, xb.size
    if na < 2 or nb < 2:
        raise ValueError(
            f"need at least 2 values per group, got {labels[0]}={na}, {labels[1]}={nb}"
        )
    ma, mb = float(xa.mean()), float(xb.mean())
    va, vb = float(xa.var(ddof=1)), float(xb.var(ddof=1))
    df_pooled = na + nb - 2
    sp = math.sqrt(((na - 1) * va + (nb - 1) * vb) / df_pooled)
    hn = 1.0 / na + 1.0 / nb
    t_pooled = (mb - ma) / (sp * math.sqrt(hn)) if sp > 0 else float("nan")
    es = _standardized_mean(t_pooled, math.sqrt(hn), df_pooled, level)
    term = f"{labels[1]} - {labels[0]}"
    record: dict[str, object] = {
        "term": term,
        "ci_level": level,
        "n_obs": na + nb,
        "n_excluded": drop_a + drop_b,
        "n_by_group": format_n_by_group({labels[0]: na, labels[1]: nb}),
        ("n_mice" if unit == "mice" else "n_cells"): na + nb,
    }
    means = f"means {labels[0]}={ma:.6g}, {labels[1]}={mb:.6g}"
    hedges_note = (
        "Hedges g = J*(mean_b - mean_a)/SD_pooled, J exact = Gamma(df/2)/(sqrt(df/2)"
        "Gamma((df-1)/2)) with df = n1+n2-2 (Hedges 1981); CI = J x noncentral-t CI of Cohen's d "
        "(Steiger & Fouladi 1997), as R effectsize::hedges_g"
    )
    if test in ("welch", "student"):
        if test == "student":
            se = sp * math.sqrt(hn)
            df = float(df_pooled)
            name, model = "student_t", "two independent groups, equal variances (pooled SD)"
            df_note = "df = n1 + n2 - 2"
        else:
            sa, sb = va / na, vb / nb
            se = math.sqrt(sa + sb)
            df = (sa + sb) ** 2 / (sa**2 / (na - 1) + sb**2 / (nb - 1)) if se > 0 else float("nan")
            name, model = "welch_t", "two independent groups, unequal variances"
            df_note = "Welch-Satterthwaite df"
        diff = mb - ma
        summary = _t_summary(diff, se, df, level)
        record.update(
            test=name,
            model=model,
            estimate=diff,
            statistic_name="t",
            df_num=df,
            effect_size=es["g"],
            effect_size_name="Hedges g",
            effect_size_ci_low=es["g_low"],
            effect_size_ci_high=es["g_high"],
            effect_size_alt=es["d"],
            effect_size_alt_name="Cohen's d (pooled SD)",
            notes=f"estimate = mean difference ({means}); t-based CI, {df_note}; {hedges_note}",
            **summary,
        )
        return record
    mw = _mann_whitney(xb, xa, level)
    w_stat = float(mw["W"])  # type: ignore[arg-type]
    r_rb = 2.0 * w_stat / (na * nb) - 1.0
    r_low, r_high = _fisher_z_interval(r_rb, math.sqrt((na + nb + 1) / (3 * na * nb)), level)
    ci = mw["ci"]
    record.update(
        test="mann_whitney",
        model="two independent groups, Wilcoxon rank-sum / Mann-Whitney",
        estimate=mw["estimate"],
        ci_low=ci[0],  # type: ignore[index]
        ci_high=ci[1],  # type: ignore[index]
        ci_level=mw["ci_level"],
        statistic_name="W",
        statistic=w_stat,
        p=mw["p"],
        effect_size=r_rb,
        effect_size_name="rank-biserial r",
        effect_size_ci_low=r_low,
        effect_size_ci_high=r_high,
        effect_size_alt=es["g"],
        effect_size_alt_name="Hedges g",
        notes="; ".join(
            [
                f"W = rank sum of {labels[1]} - n({labels[1]})(n+1)/2 = #pairs {labels[1]} > "
                f"{labels[0]} (+0.5 per tie), as R wilcox.test({labels[1]}, {labels[0]}); "
                "U for the other order = n1*n2 - W",
                "estimate = Hodges-Lehmann shift median(b_i - a_j) with R's CI",
                *mw["notes"],  # type: ignore[misc]
                "rank-biserial r = 2W/(n1 n2) - 1 (Kerby 2014), CI tanh(atanh r +- z "
                "sqrt((n1+n2+1)/(3 n1 n2))) as R effectsize",
                f"{means}; Hedges g (alt) as for the t tests",
            ]
        ),
    )
    return record


def two_group_test(
    a: ArrayLike,
    b: ArrayLike,
    test: Literal["welch", "student", "mann_whitney"] = "welch",
    labels: Sequence[str] = ("control", "treated"),
    level: float = 0.95,
    unit: Literal["mice", "cells"] = "mice",
) -> pd.DataFrame:
    """Compare two independent groups (``a`` = first label, ``b`` = second); one table row.

    * ``"welch"`` (default) / ``"student"``: estimate = mean(b) - mean(a) with the t-based CI;
      t, df (Welch-Satterthwaite, Welch 1947, or n1 + n2 - 2) and two-sided p as R's ``t.test(b,
      a)``.
    * ``"mann_whitney"``: R's ``wilcox.test(b, a, conf.int = TRUE)`` — W (see notes for the
      convention), exact p and CI when both n < 50 without ties, normal approximation otherwise;
      the estimate is the Hodges-Lehmann shift. Effect size: rank-biserial r (Kerby 2014) with
      its Fisher-z CI; Hedges g in ``effect_size_alt``.

    The t tests report Hedges' g (pooled-SD Cohen's d times the exact J, Hedges 1981) with the
    noncentral-t CI scaled by J — what ``effectsize::hedges_g`` reports — and Cohen's d in
    ``effect_size_alt``. With Welch's test the effect size still standardises by the pooled SD.
    ``unit`` says whether the values are per mouse (``n_mice``) or per cell (``n_cells``; the
    naive, pseudoreplicated analysis).
    """
    return stats_frame([_two_group_record(a, b, test, labels, level, unit)])


# ------------------------------------------------------------------------------------------------
# Paired and one-sample tests
# ------------------------------------------------------------------------------------------------


def _location_record(
    diffs: np.ndarray,
    mu: float,
    test: str,
    level: float,
    kind: str,
) -> dict[str, object]:
    """Shared body of paired_test (kind='paired') and one_sample_test (kind='one_sample')."""
    n = diffs.size
    if n < 2:
        raise ValueError(f"need at least 2 observations, got {n}")
    mean = float(diffs.mean())
    sd = float(diffs.std(ddof=1))
    df = n - 1
    t_d = (mean - mu) / (sd / math.sqrt(n)) if sd > 0 else float("nan")
    es = _standardized_mean(t_d, 1.0 / math.sqrt(n), df, level)
    d_name = "Cohen's d_z" if kind == "paired" else "Cohen's d"
    g_name = "Hedges g_z" if kind == "paired" else "Hedges g"
    what = "after - before" if kind == "paired" else f"mean - {mu:g}"
    d_note = (
        f"{d_name} = (mean {'difference' if kind == 'paired' else '- mu'})/SD"
        f"{' of the differences' if kind == 'paired' else ''}, CI by noncentral-t inversion "
        f"(Steiger & Fouladi 1997) as R effectsize::cohens_d; {g_name} = J*d with exact J, "
        "df = n - 1"
    )
    record: dict[str, object] = {"ci_level": level, "n_obs": n}
    if test in ("paired_t", "t"):
        summary = _t_summary(mean - mu, sd / math.sqrt(n), df, level)
        record.update(
            test="paired_t" if kind == "paired" else "one_sample_t",
            estimate=mean - mu,
            statistic_name="t",
            df_num=float(df),
            effect_size=es["d"],
            effect_size_name=d_name,
            effect_size_ci_low=es["d_low"],
            effect_size_ci_high=es["d_high"],
            effect_size_alt=es["g"],
            effect_size_alt_name=g_name,
            notes=f"estimate = mean {what}; t-based CI, df = n - 1; {d_note}",
            **summary,
        )
        return record
    sr = _signed_rank(diffs, mu, level)
    r, r_low, r_high = _signed_rank_biserial(float(sr["V"]), int(sr["n"]), level)  # type: ignore[arg-type]
    ci = sr["ci"]
    shift = 0.0 if kind == "paired" else mu
    record.update(
        test="wilcoxon_signed_rank",
        estimate=float(sr["estimate"]) - shift,  # type: ignore[arg-type]
        ci_low=ci[0] - shift,  # type: ignore[index]
        ci_high=ci[1] - shift,  # type: ignore[index]
        ci_level=sr["ci_level"],
        statistic_name="V",
        statistic=sr["V"],
        p=sr["p"],
        effect_size=r,
        effect_size_name="matched-pairs rank-biserial r",
        effect_size_ci_low=r_low,
        effect_size_ci_high=r_high,
        effect_size_alt=es["d"],
        effect_size_alt_name=d_name,
        notes="; ".join(
            [
                f"V = sum of ranks of positive ({what}) as R wilcox.test",
                "estimate = Hodges-Lehmann pseudomedian (median of Walsh averages)"
                + (f" minus mu = {mu:g}" if kind == "one_sample" and mu != 0 else "")
                + " with R's CI",
                *sr["notes"],  # type: ignore[misc]
                "r = 4V/(n(n+1)) - 1 over nonzero differences (Kerby 2014), Fisher-z CI with "
                "SE sqrt(n(n+1)(2n+1)/6)/(n(n+1)/2) as R effectsize",
                f"mean {what} = {mean - mu:.6g}; {d_name} (alt) by the t formula",
            ]
        ),
    )
    record["n_obs"] = n
    return record


def paired_test(
    before: ArrayLike,
    after: ArrayLike,
    test: Literal["paired_t", "wilcoxon"] = "paired_t",
    level: float = 0.95,
    labels: Sequence[str] = ("before", "after"),
) -> pd.DataFrame:
    """Compare two measurements of the same mice (e.g. before vs after training); one row.

    Differences are ``after - before`` (pairs with a missing value are dropped: ``n_excluded``).

    * ``"paired_t"``: mean difference, t-based CI, t on n - 1 df, two-sided p (R ``t.test(after,
      before, paired = TRUE)``). Effect size: Cohen's d_z = mean(diff)/SD(diff) with the
      noncentral-t CI (R effectsize ``cohens_d(paired = TRUE)``); Hedges g_z = J(n - 1)·d_z in
      ``effect_size_alt``.
    * ``"wilcoxon"``: signed-rank test as R ``wilcox.test(after, before, paired = TRUE,
      conf.int = TRUE)``: V = sum of positive ranks, exact or normal-approximation p, the
      Hodges-Lehmann pseudomedian of the differences with its CI; matched-pairs rank-biserial r
      as effect size and d_z in ``effect_size_alt``.
    """
    if test not in ("paired_t", "wilcoxon"):
        raise ValueError("test must be 'paired_t' or 'wilcoxon'")
    level = _check_level(level)
    x0 = np.asarray(before, dtype=float).ravel()
    x1 = np.asarray(after, dtype=float).ravel()
    if x0.shape != x1.shape:
        raise ValueError("before and after must have the same length")
    keep = ~(np.isnan(x0) | np.isnan(x1))
    diffs = x1[keep] - x0[keep]
    record = _location_record(diffs, 0.0, test, level, "paired")
    labels = tuple(str(label) for label in labels)
    record.update(
        model=f"paired ({labels[1]} - {labels[0]}) within mouse",
        term=f"{labels[1]} - {labels[0]}",
        n_mice=diffs.size,
        n_excluded=int((~keep).sum()),
    )
    return stats_frame([record])


def one_sample_test(
    x: ArrayLike,
    mu: float = 0.0,
    test: Literal["t", "wilcoxon"] = "t",
    level: float = 0.95,
    unit: Literal["mice", "cells"] = "mice",
) -> pd.DataFrame:
    """Test whether per-mouse values (e.g. adaptation slopes) differ from ``mu``; one row.

    * ``"t"``: estimate = mean(x) - mu with the t CI, t on n - 1 df, two-sided p (R ``t.test(x,
      mu = mu)``; R prints the CI of the mean, which is this CI + mu). Effect size Cohen's d =
      (mean - mu)/SD with its noncentral-t CI, Hedges g in ``effect_size_alt``.
    * ``"wilcoxon"``: signed-rank test of x - mu (R ``wilcox.test(x, mu = mu, conf.int = TRUE)``);
      estimate = pseudomedian - mu with its CI, V, p, rank-biserial r.
    """
    if test not in ("t", "wilcoxon"):
        raise ValueError("test must be 't' or 'wilcoxon'")
    if unit not in ("mice", "cells"):
        raise ValueError("unit must be 'mice' or 'cells'")
    level = _check_level(level)
    values, dropped = _clean(x, "x")
    record = _location_record(values, float(mu), test, level, "one_sample")
    if test == "wilcoxon":
        record["model"] = f"one sample, location vs {mu:g}"
    else:
        record["model"] = f"one sample, mean vs {mu:g}"
    record.update(
        term=f"location - {mu:g}" if test == "wilcoxon" else f"mean - {mu:g}",
        n_excluded=dropped,
        **{("n_mice" if unit == "mice" else "n_cells"): values.size},
    )
    return stats_frame([record])
