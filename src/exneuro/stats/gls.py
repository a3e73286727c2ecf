"""Generalized least squares with AR(1) residuals within subject, as R's ``nlme::gls``.

Weekly body mass, glucose over a tolerance test and other repeated measures taken at regular
times are often analysed (e.g. in published weekly body-mass analyses) with
``gls(y ~ group * week, correlation = corAR1(form = ~ week | mouse))``: no random effects, but
residuals of one mouse correlated as ``corr(e_s, e_t) = phi^|s - t|``. This module fits that
model by REML (nlme's default) or ML and reports what ``summary()`` and ``anova()`` of the nlme
fit report (Pinheiro & Bates 2000, *Mixed-Effects Models in S and S-PLUS*, ch. 5).

Method. Within a subject ordered by position ``t`` (integer times, or the row order when no time
is given, as ``corAR1(form = ~ 1 | mouse)``), the AR(1) correlation is whitened exactly by
``e*_1 = e_1`` and ``e*_k = (e_k - phi^d e_{k-1}) / sqrt(1 - phi^{2d})`` with ``d`` the gap
between consecutive positions (a missed week keeps the Markov structure), so that
``log |R| = sum log(1 - phi^{2d})``. For fixed ``phi`` the whitened model is ordinary least
squares; ``sigma^2`` and ``beta`` are profiled out and the (restricted) log-likelihood is
maximized over ``phi`` in (-1, 1). Tests: ``t = beta / SE`` on ``N - p`` df, and type III F
tests of each term, ``F = (L beta)' (L C L')^-1 (L beta) / q`` on ``(q, N - p)`` df with the
type III hypotheses of :mod:`exneuro.stats.lmm_design` — nlme's ``anova(fit, type =
"marginal")`` of the model in sum-to-zero coding, whatever coding the formula uses (nlme's default
sequential tests depend on the order of the terms, its marginal tests on the coding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
from scipy import linalg, optimize, stats

from exneuro.stats.lmm_design import TYPE3_NOTES, _type3_contrasts
from exneuro.stats.table import stats_frame

__all__ = ["GlsFit", "fit_gls_ar1"]


@dataclass
class GlsFit:
    """A GLS fit with AR(1) residuals: coefficients, their covariance and the fit criteria."""

    formula: str
    subject: str
    time: str | None
    reml: bool
    exog_names: list[str]
    beta: np.ndarray
    cov_beta: np.ndarray
    phi: float
    sigma: float
    loglik: float
    n_obs: int
    n_subjects: int
    df_resid: int
    anova: pd.DataFrame

    @property
    def n_params(self) -> int:
        """Parameters counted by nlme: fixed effects, phi and sigma."""
        return len(self.beta) + 2

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """nlme's BIC: log(N - p) for REML fits, log(N) for ML fits."""
        n = self.n_obs - len(self.beta) if self.reml else self.n_obs
        return -2.0 * self.loglik + np.log(n) * self.n_params

    def coef_table(self) -> pd.DataFrame:
        """``summary(fit)$tTable``: estimate, SE, t on N - p df, two-sided p."""
        se = np.sqrt(np.diag(self.cov_beta))
        t = self.beta / se
        return pd.DataFrame(
            {
                "term": self.exog_names,
                "estimate": self.beta,
                "se": se,
                "t": t,
                "df": float(self.df_resid),
                "p": 2.0 * stats.t.sf(np.abs(t), self.df_resid),
            }
        )


def _positions(data: pd.DataFrame, subject: str, time: str | None) -> tuple[np.ndarray, ...]:
    """Row order (subject, position), positions and the gap to the previous row of the subject."""
    if time is None:
        position = data.groupby(subject, sort=False).cumcount().to_numpy(float)
    else:
        position = pd.to_numeric(data[time]).to_numpy(float)
        if not np.allclose(position, np.round(position)):
            raise ValueError(
                f"AR(1) needs integer times: column '{time}' has non-integer values; give "
                "session numbers (1, 2, 3, ...) or leave time out to use the row order"
            )
    codes = pd.factorize(data[subject])[0]
    order = np.lexsort((position, codes))
    pos, grp = position[order], codes[order]
    same = np.r_[False, grp[1:] == grp[:-1]]
    gap = np.r_[0.0, np.diff(pos)]
    if np.any(same & (gap == 0)):
        raise ValueError(f"a subject has two rows at the same time in column '{time}'")
    return order, same, np.where(same, gap, 0.0)


def _whiten(phi: float, same: np.ndarray, gap: np.ndarray, m: np.ndarray) -> tuple:
    """AR(1)-whitened rows of m (rows sorted by subject and time) and log |R|."""
    rho = np.where(same, phi**gap, 0.0)
    scale = np.sqrt(1.0 - rho**2)
    previous = np.vstack([np.zeros((1, m.shape[1])), m[:-1]])
    out = (m - rho[:, None] * previous) / scale[:, None]
    return out, float(np.sum(np.log(scale**2)))


def _profile(phi: float, same, gap, yx: np.ndarray, reml: bool) -> tuple[float, dict]:
    """-2 (restricted) log-likelihood at phi with beta and sigma profiled out (nlme's)."""
    w, logdet_r = _whiten(phi, same, gap, yx)
    y, X = w[:, 0], w[:, 1:]
    n, p = X.shape
    q, r = linalg.qr(X, mode="economic")
    beta = linalg.solve_triangular(r, q.T @ y)
    rss = float(np.sum((y - X @ beta) ** 2))
    dof = n - p if reml else n
    m2ll = dof * (np.log(2.0 * np.pi * rss / dof) + 1.0) + logdet_r
    if reml:  # nlme's restricted likelihood: + log |X*'X*| (no constant for the design)
        m2ll += 2.0 * float(np.sum(np.log(np.abs(np.diag(r)))))
    return m2ll, {"beta": beta, "rss": rss, "q": q, "r": r, "y": y, "dof": dof}


def fit_gls_ar1(
    data: pd.DataFrame,
    formula: str,
    subject: str,
    time: str | None = None,
    reml: bool = True,
) -> GlsFit:
    """Fit ``gls(formula, correlation = corAR1(form = ~ time | subject), method = REML or ML)``.

    ``time`` is an integer-valued column (``None``: the row order within subject, ``~ 1 |
    subject``). Rows with a missing value in a used column are dropped. Raises ``ValueError``
    naming the column for unknown columns, non-integer times and duplicated times.
    """
    needed = [subject] + ([time] if time else [])
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not in the data; columns: {list(data.columns)}")
    y_frame, x_frame = patsy.dmatrices(formula, data, NA_action="drop", return_type="dataframe")
    frame = data.loc[y_frame.index]
    order, same, gap = _positions(frame, subject, time)
    yx = np.column_stack([y_frame.to_numpy(float), x_frame.to_numpy(float)])[order]
    result = optimize.minimize_scalar(
        lambda a: _profile(np.tanh(a), same, gap, yx, reml)[0],
        bounds=(-12.0, 12.0),
        method="bounded",
        options={"xatol": 1e-12},
    )
    phi = float(np.tanh(result.x))
    m2ll, part = _profile(phi, same, gap, yx, reml)
    sigma2 = part["rss"] / part["dof"]
    r_inv = linalg.solve_triangular(part["r"], np.eye(part["r"].shape[0]))
    n, p = yx.shape[0], yx.shape[1] - 1
    # nlme scales the coefficient covariance (and so the t and F tests) by RSS / (N - p) for ML
    # fits too; only the reported sigma is the ML one
    cov_beta = part["rss"] / (n - p) * (r_inv @ r_inv.T)
    messages: list[str] = []
    X = x_frame.to_numpy(float)
    hypotheses, method = _type3_contrasts(x_frame.design_info, frame, X, messages)
    rows = []
    for term, L in hypotheses.items():
        estimate = L @ part["beta"]
        q = L.shape[0]
        f_value = float(estimate @ np.linalg.solve(L @ cov_beta @ L.T, estimate) / q)
        rows.append(
            {
                "term": term,
                "F": f_value,
                "df_num": q,
                "df_den": n - p,
                "p": float(stats.f.sf(f_value, q, n - p)),
                "hypotheses": method,
            }
        )
    return GlsFit(
        formula=formula,
        subject=subject,
        time=time,
        reml=reml,
        exog_names=list(x_frame.columns),
        beta=part["beta"],
        cov_beta=cov_beta,
        phi=phi,
        sigma=float(np.sqrt(sigma2)),
        loglik=-0.5 * m2ll,
        n_obs=n,
        n_subjects=int(frame[subject].nunique()),
        df_resid=n - p,
        anova=pd.DataFrame(rows),
    )


def gls_to_stats(fit: GlsFit, include_coefficients: bool = False) -> pd.DataFrame:
    """Rows of the statistics table: nlme's sequential F tests (and optionally the t tests)."""
    form = f"~ {fit.time} | {fit.subject}" if fit.time else f"~ 1 | {fit.subject}"
    common = {
        "test": "gls_ar1",
        "model": f"{fit.formula}; correlation = corAR1(form = {form})",
        "fit_method": f"GLS-{'REML' if fit.reml else 'ML'}",
        "df_method": "residual (N - p)",
        "converged": "yes",
        "variance_components": f"AR(1) phi: {fit.phi:.6g}; Residual: {fit.sigma**2:.6g} "
        f"(SD {fit.sigma:.4g})",
        "loglik": fit.loglik,
        "aic": fit.aic,
        "bic": fit.bic,
        "n_mice": fit.n_subjects,
        "n_obs": fit.n_obs,
    }
    records = [
        {
            **common,
            "term": row.term,
            "statistic_name": "F",
            "statistic": row.F,
            "df_num": row.df_num,
            "df_den": row.df_den,
            "p": row.p,
            "notes": TYPE3_NOTES[row.hypotheses] + "; Wald F on (q, N - p) df as nlme",
        }
        for row in fit.anova.itertuples(index=False)
    ]
    if include_coefficients:
        records += [
            {
                **common,
                "term": row.term,
                "estimate": row.estimate,
                "se": row.se,
                "statistic_name": "t",
                "statistic": row.t,
                "df_num": row.df,
                "p": row.p,
                "notes": "coefficient t test on N - p df, as nlme summary.gls",
            }
            for row in fit.coef_table().itertuples(index=False)
        ]
    return stats_frame(records)
