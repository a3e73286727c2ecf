"""Kenward-Roger df and adjusted covariance for a linear mixed model, as R's pbkrtest.

Kenward & Roger (1997, *Biometrics* 53:983-997) correct both the covariance of the fixed effects
(the REML plug-in ``Phi = (X' V^-1 X)^-1`` underestimates it) and the denominator df of Wald F
tests; with few mice it is the small-sample method many reviewers ask for beside Satterthwaite.
The computation follows pbkrtest 0.5 (Halekoh & Højsgaard 2014, *J Stat Softw* 59(9);
``vcovAdj``, ``.KR_adjust``, ``Lb_ddf``) exactly:

* ``V = sum_i gamma_i G_i`` over the variance parameters on the covariance scale (each
  random-effect variance and covariance, each nested variance component, the residual),
  ``G_i = dV/dgamma_i``;
* ``P_i = -X' V^-1 G_i V^-1 X``, ``Q_ij = X' V^-1 G_i V^-1 G_j V^-1 X``;
* expected information ``I_ij = tr(V^-1 G_i V^-1 G_j) - 2 tr(Phi Q_ij) + tr(Phi P_i Phi P_j)``,
  ``W = 2 I^-1``;
* ``Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j)] Phi``;
* for ``L`` of rank ``q``: ``Theta = L' (L Phi L')^-1 L``, ``A1 = sum W_ij tr(Theta Phi P_i Phi)
  tr(Theta Phi P_j Phi)``, ``A2 = sum W_ij tr(Theta Phi P_i Phi Theta Phi P_j Phi)``, and from
  them the scaling ``lambda`` and df ``m = 4 + (q + 2) / (q rho - 1)``; ``F = lambda (L beta)'
  (L Phi_A L')^-1 (L beta) / q`` on ``(q, m)`` df.

Dense n x n matrices are used: fine for the sizes of mouse studies (hundreds of rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, stats

from exneuro.stats.lmm_fit import MixedModelFit

__all__ = ["KenwardRoger", "kenward_roger", "kr_anova_table", "kr_coef_table", "kr_test"]


@dataclass
class KenwardRoger:
    """Adjusted covariance ``phi_a``, unadjusted ``phi`` and the ``P`` and ``W`` of pbkrtest."""

    phi: np.ndarray
    phi_a: np.ndarray
    P: list[np.ndarray]
    W: np.ndarray


def _g_matrices(fit: MixedModelFit) -> tuple[list[np.ndarray], np.ndarray]:
    """dV/dgamma for every variance parameter (covariance scale) and the values gamma."""
    engine = fit._engine
    n, k = engine.n, engine.k_re
    mats, values = [], []
    for i in range(k):
        for j in range(i, k):
            G = np.zeros((n, n))
            for z, kind, idx in zip(engine.z_blocks, engine.col_kind, engine.rows, strict=True):
                zi, zj = z[:, kind == -1][:, i], z[:, kind == -1][:, j]
                block = np.outer(zi, zj)
                G[np.ix_(idx, idx)] += block if i == j else block + block.T
            mats.append(G)
            values.append(float(fit.cov_re.iloc[i, j]))
    for j, name in enumerate(sorted(fit.vc_formula)):
        G = np.zeros((n, n))
        for z, kind, idx in zip(engine.z_blocks, engine.col_kind, engine.rows, strict=True):
            zv = z[:, kind == j]
            G[np.ix_(idx, idx)] += zv @ zv.T
        mats.append(G)
        values.append(fit.vcomp[name])
    mats.append(np.eye(n))
    values.append(fit.scale)
    return mats, np.asarray(values)


def kenward_roger(fit: MixedModelFit) -> KenwardRoger:
    """pbkrtest ``vcovAdj`` of a REML fit (see the module docstring)."""
    if not fit.reml:
        raise ValueError("Kenward-Roger needs a REML fit (fit_lmm(..., reml=True))")
    X = fit._engine.X
    G, gamma = _g_matrices(fit)
    sigma = sum(g * m for g, m in zip(gamma, G, strict=True))
    sigma_inv = linalg.cho_solve(linalg.cho_factor(sigma), np.eye(len(sigma)))
    phi = np.asarray(fit.cov_beta)
    TT = sigma_inv @ X
    H = [g @ sigma_inv for g in G]
    HX = [h @ X for h in H]
    m = len(G)
    P = [-(o.T @ TT + (o.T @ TT).T) / 2.0 for o in HX]
    Q = {(r, s): HX[r].T @ sigma_inv @ HX[s] for r in range(m) for s in range(r, m)}
    info = np.empty((m, m))
    for i in range(m):
        phi_p_i = phi @ P[i]
        for j in range(i, m):
            info[i, j] = info[j, i] = (
                np.sum(H[i].T * H[j]) - 2.0 * np.sum(phi * Q[i, j]) + np.sum(phi_p_i * (P[j] @ phi))
            )
    evals = np.linalg.eigvalsh(info)
    W = 2.0 * (np.linalg.inv(info) if np.min(np.abs(evals)) > 1e-10 else np.linalg.pinv(info))
    W = (W + W.T) / 2.0
    U = np.zeros_like(phi)
    for i in range(m):
        for j in range(i, m):
            term = W[i, j] * (Q[i, j] - P[i] @ phi @ P[j])
            U += term if i == j else term + term.T
    return KenwardRoger(phi=phi, phi_a=phi + 2.0 * phi @ U @ phi, P=P, W=W)


def kr_test(fit: MixedModelFit, L: np.ndarray, kr: KenwardRoger | None = None) -> dict:
    """Kenward-Roger F test of ``L beta = 0``: F, ndf, ddf, p, F scaling (pbkrtest
    ``.KR_adjust``); for one row also the adjusted SE (``sqrt(L Phi_A L')``)."""
    kr = kr or kenward_roger(fit)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    q = int(np.linalg.matrix_rank(L))
    phi = kr.phi
    theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
    theta_phi = theta @ phi
    u = [theta_phi @ p @ phi for p in kr.P]
    A1 = A2 = 0.0
    for i in range(len(u)):
        for j in range(i, len(u)):
            e = 1.0 if i == j else 2.0
            A1 += e * kr.W[i, j] * np.trace(u[i]) * np.trace(u[j])
            A2 += e * kr.W[i, j] * np.sum(u[i] * u[j].T)
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    denom = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
    v0 = 1 + c1 * B
    v0 = 0.0 if abs(v0) < 1e-10 else v0
    v1, v2 = 1 - c2 * B, 1 - c3 * B
    rho = (1.0 / q) * ((1 - A2 / q) / v1) ** 2 * v0 / v2
    ddf = 4 + (q + 2) / (q * rho - 1)
    scaling = 1.0 if abs(ddf - 2) < 1e-2 else ddf * (1 - A2 / q) / (ddf - 2)
    estimate = L @ fit.beta
    wald = float(estimate @ np.linalg.solve(L @ kr.phi_a @ L.T, estimate))
    f_value = scaling * wald / q
    out = {
        "F": f_value,
        "ndf": q,
        "ddf": ddf,
        "p": float(stats.f.sf(f_value, q, ddf)),
        "F_scaling": scaling,
    }
    if L.shape[0] == 1:
        out["se"] = float(np.sqrt((L @ kr.phi_a @ L.T)[0, 0]))
    return out


def kr_anova_table(fit: MixedModelFit) -> pd.DataFrame:
    """Type III F tests with Kenward-Roger df (lmerTest ``anova(ddf = "Kenward-Roger")``)."""
    kr = kenward_roger(fit)
    rows = []
    for term, L in fit.type3_contrasts.items():
        test = kr_test(fit, L, kr)
        rows.append(
            {
                "term": term,
                "F": test["F"],
                "df_num": test["ndf"],
                "df_den": test["ddf"],
                "p": test["p"],
            }
        )
    return pd.DataFrame(rows, columns=["term", "F", "df_num", "df_den", "p"])


def kr_coef_table(fit: MixedModelFit, level: float = 0.95) -> pd.DataFrame:
    """Coefficients with KR-adjusted SEs and df (lmerTest ``summary(ddf = "Kenward-Roger")``)."""
    kr = kenward_roger(fit)
    tests = [kr_test(fit, row[None, :], kr) for row in np.eye(len(fit.beta))]
    se = np.array([t["se"] for t in tests])
    df = np.array([t["ddf"] for t in tests])
    t_value = fit.beta / se
    crit = stats.t.ppf(0.5 + level / 2.0, df)
    return pd.DataFrame(
        {
            "term": fit.exog_names,
            "estimate": fit.beta,
            "se": se,
            "df": df,
            "t": t_value,
            "p": 2.0 * stats.t.sf(np.abs(t_value), df),
            "ci_low": fit.beta - crit * se,
            "ci_high": fit.beta + crit * se,
        }
    )
