"""Baseline-adjusted comparison of groups: ANCOVA of the follow-up on the baseline.

In a baseline-and-follow-up design (endurance before and after training), the analysis
recommended over a test of change or of % change is the analysis of covariance
``follow_up ~ baseline + group`` (Vickers & Altman 2001, *BMJ* 323:1123; Senn 2006, *Stat Med*
25:4334): it removes the baseline imbalance between groups that change scores over-correct and
% change distorts, and it has more power. The group coefficient is the difference of follow-up
means at equal baseline, which is also the baseline-adjusted difference in change. Fitted by
ordinary least squares, as R's ``lm``: t tests on ``n - p`` df and, for more than two groups, the
F test of the group term given the baseline (R ``anova(lm(follow ~ baseline),
lm(follow ~ baseline + group))``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from exneuro.stats.table import format_n_by_group, stats_frame

__all__ = ["baseline_ancova"]


def _ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = len(y) - X.shape[1]
    rss = float(np.sum((y - X @ beta) ** 2))
    cov = rss / dof * np.linalg.inv(X.T @ X)
    return beta, cov, rss, dof


def baseline_ancova(
    data: pd.DataFrame,
    follow_up: str,
    baseline: str,
    group: str,
    groups: Sequence[str],
    level: float = 0.95,
    adjust_for: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Rows of the statistics table: each group against ``groups[0]`` (the control) by ANCOVA.

    ``adjust_for`` maps further factor columns (e.g. sex) to their levels, reference first: they
    enter additively, treatment-coded (``follow_up ~ baseline + group + sex``, R's ``lm``), so
    each group difference is adjusted for them too.

    ``data`` has one row per mouse with the ``follow_up`` and ``baseline`` values and its
    ``group``; mice missing either value are dropped (``n_excluded``). Each row: ``estimate`` =
    baseline-adjusted difference (group - control) with its t CI, ``t`` on ``n - p`` df, effect
    size = estimate / residual SD. With more than two groups a first row tests the group term
    (F on ``(k - 1, n - p)`` df).
    """
    groups = [str(g) for g in groups]
    labels = data[group].astype(str)
    adjust_for = {name: [str(v) for v in levels] for name, levels in (adjust_for or {}).items()}
    keep = labels.isin(groups) & data[[follow_up, baseline]].notna().all(axis=1)
    frame = data.loc[keep]
    labels = labels[keep]
    present = [g for g in groups if (labels == g).any()]
    if groups[0] not in present or len(present) < 2:
        raise ValueError(
            f"ANCOVA of {follow_up}: needs the control '{groups[0]}' and another group with "
            f"both {baseline} and {follow_up}; groups with data: {present}"
        )
    y = frame[follow_up].to_numpy(float)
    x0 = frame[baseline].to_numpy(float)
    dummies = np.column_stack([(labels == g).to_numpy(float) for g in present[1:]])
    covariates = [
        (frame[name].astype(str) == value).to_numpy(float)
        for name, levels in adjust_for.items()
        for value in levels[1:]
    ]
    X = np.column_stack([np.ones(len(y)), x0, dummies, *covariates])
    beta, cov, rss, dof = _ols(y, X)
    if dof < 1:
        raise ValueError(f"ANCOVA of {follow_up}: {len(y)} mice are too few for {X.shape[1]} terms")
    sd = np.sqrt(rss / dof)
    counts = {g: int((labels == g).sum()) for g in present}
    model = f"{follow_up} ~ {baseline} + {group}" + "".join(f" + {n}" for n in adjust_for)
    common = {
        "test": "ancova",
        "model": model,
        "fit_method": "OLS",
        "df_method": "residual (n - p)",
        "n_mice": len(y),
        "n_obs": len(y),
        "n_excluded": int((~keep & data[group].astype(str).isin(groups)).sum()),
        "n_by_group": format_n_by_group(counts),
    }
    note = (
        f"baseline-adjusted (ANCOVA of the follow-up on the baseline, Vickers & Altman 2001); "
        f"adjusted for {baseline} (slope {beta[1]:.4g})"
        + "".join(f" and {name}" for name in adjust_for)
        + "; the group difference at equal baseline, "
        "equal to the adjusted difference in change; % change is descriptive"
    )
    records = []
    if len(present) > 2:
        _, _, rss0, dof0 = _ols(y, np.delete(X, np.arange(2, 2 + dummies.shape[1]), axis=1))
        q = dof0 - dof
        f_value = ((rss0 - rss) / q) / (rss / dof)
        records.append(
            {
                **common,
                "term": group,
                "statistic_name": "F",
                "statistic": f_value,
                "df_num": q,
                "df_den": dof,
                "p": float(stats.f.sf(f_value, q, dof)),
                "effect_size": (rss0 - rss) / rss0,
                "effect_size_name": "partial eta^2",
                "notes": note,
            }
        )
    crit = stats.t.ppf(0.5 + level / 2.0, dof)
    for k, name in enumerate(present[1:]):
        j = k + 2
        se = float(np.sqrt(cov[j, j]))
        t = beta[j] / se
        records.append(
            {
                **common,
                "term": f"{name} - {present[0]}",
                "estimate": beta[j],
                "se": se,
                "ci_low": beta[j] - crit * se,
                "ci_high": beta[j] + crit * se,
                "ci_level": level,
                "statistic_name": "t",
                "statistic": t,
                "df_num": dof,
                "p": float(2.0 * stats.t.sf(abs(t), dof)),
                "effect_size": beta[j] / sd,
                "effect_size_name": "d (adjusted difference / residual SD)",
                "notes": note,
            }
        )
    return stats_frame(records)
