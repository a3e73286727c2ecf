"""lme4's REML/ML deviance of a linear mixed model, its derivatives and convergence checks.

The deviance is evaluated from per-group cross-products (Bates et al. 2015, *J Stat Softw* 67(1),
eqs. 34 and 41); the Hessian and Jacobians are numDeriv-style Richardson-extrapolated central
differences, as lmerTest uses them for Satterthwaite df (Kuznetsova et al. 2017). See
:mod:`exneuro.stats.mixed` for the whole method.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import linalg


# ----------------------------------------------------------------------------------------------
# The lme4 deviance, evaluated from per-group sufficient statistics
# ----------------------------------------------------------------------------------------------
@dataclass
class _Pieces:
    """Quantities of the marginal model at one value of theta (sigma profiled out)."""

    logdet_v: float  # log |I + Lambda' Z' Z Lambda| = log |V*|, V = sigma^2 V*
    xvx: np.ndarray  # X' V*^-1 X
    logdet_xvx: float
    xvx_inv: np.ndarray
    beta: np.ndarray  # GLS estimate
    rss: float  # (y - X beta)' V*^-1 (y - X beta)


class _Engine:
    """REML/ML deviance of a linear mixed model, vectorized over groups.

    For group ``g`` with random-effect design ``Z_g`` (random-effect columns, then the columns of
    every variance component) and relative covariance factor ``Lambda_g`` (``T`` for the
    random-effect block, ``theta_j I`` for variance component ``j``), ``V_g = sigma^2 (I + Z_g
    Lambda_g Lambda_g' Z_g')``. By the Woodbury identity and the matrix determinant lemma
    everything needed (``X'V*^-1X``, ``X'V*^-1y``, ``y'V*^-1y``, ``log|V*|``) follows from the
    per-group cross-products ``Z'Z``, ``Z'X``, ``Z'y`` and ``M_g = I + Lambda' Z'Z Lambda``, so one
    evaluation costs O(G q^3) whatever the number of observations. Groups are padded to a common
    ``q`` with zero columns, which contribute nothing.
    """

    def __init__(
        self,
        y: np.ndarray,
        X: np.ndarray,
        z_blocks: list[np.ndarray],
        col_kind: list[np.ndarray],
        rows: list[np.ndarray],
        k_re: int,
        n_vc: int,
        reml: bool,
    ) -> None:
        self.n, self.p = X.shape
        self.k_re = k_re
        self.n_vc = n_vc
        self.reml = reml
        n_groups = len(z_blocks)
        q = max([z.shape[1] for z in z_blocks] + [1])
        self.q = q
        self.ztz = np.zeros((n_groups, q, q))
        self.ztx = np.zeros((n_groups, q, self.p))
        self.zty = np.zeros((n_groups, q))
        kind = np.full((n_groups, q), -1, dtype=int)
        for g, (z, idx) in enumerate(zip(z_blocks, rows, strict=True)):
            m = z.shape[1]
            self.ztz[g, :m, :m] = z.T @ z
            self.ztx[g, :m] = z.T @ X[idx]
            self.zty[g, :m] = z.T @ y[idx]
            kind[g, :m] = col_kind[g]
        self.vc_index = np.nonzero(kind >= 0)
        self.vc_of = kind[self.vc_index]
        self.xtx = X.T @ X
        self.xty = X.T @ y
        self.yty = float(y @ y)
        self.X, self.z_blocks, self.col_kind, self.rows = X, z_blocks, col_kind, rows
        self.tril = _tril_colmajor(k_re)
        self.n_theta = len(self.tril[0]) + n_vc
        self._cache: OrderedDict[bytes, _Pieces] = OrderedDict()
        self.theta_names: list[str] = []

    # theta layout --------------------------------------------------------------------------
    def t_matrix(self, theta: np.ndarray) -> np.ndarray:
        """Relative Cholesky factor of the random-effect covariance from theta."""
        T = np.zeros((self.k_re, self.k_re))
        T[self.tril] = theta[: len(self.tril[0])]
        return T

    def theta_lower_bounds(self) -> list[tuple[float | None, float | None]]:
        """lme4's bounds: diagonal elements of T and variance-component factors >= 0."""
        rows, cols = self.tril
        bounds: list[tuple[float | None, float | None]] = [
            (0.0, None) if r == c else (None, None) for r, c in zip(rows, cols, strict=True)
        ]
        return bounds + [(0.0, None)] * self.n_vc

    # evaluation ----------------------------------------------------------------------------
    def pieces(self, theta: np.ndarray) -> _Pieces:
        theta = np.asarray(theta, dtype=float)
        key = theta.tobytes()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        result = self._compute(theta)
        self._cache[key] = result
        if len(self._cache) > 512:
            self._cache.popitem(last=False)
        return result

    def _compute(self, theta: np.ndarray) -> _Pieces:
        k = self.k_re
        n_groups, q = self.zty.shape
        scale = np.zeros((n_groups, q))
        scale[self.vc_index] = theta[len(self.tril[0]) :][self.vc_of]
        # W = Lambda' Z'Z Lambda with Lambda = blockdiag(T, diag(scale))
        W = self.ztz * (scale[:, :, None] * scale[:, None, :])
        u = self.ztx * scale[:, :, None]
        uy = self.zty * scale
        if k:
            T = self.t_matrix(theta)
            cross = np.einsum("ji,gjc->gic", T, self.ztz[:, :k, :]) * scale[:, None, :]
            W[:, :k, k:] = cross[:, :, k:]
            W[:, k:, :k] = np.swapaxes(cross[:, :, k:], 1, 2)
            W[:, :k, :k] = np.einsum("ji,gjl,lm->gim", T, self.ztz[:, :k, :k], T)
            u[:, :k] = np.einsum("ji,gjp->gip", T, self.ztx[:, :k])
            uy[:, :k] = np.einsum("ji,gj->gi", T, self.zty[:, :k])
        W[:, np.arange(q), np.arange(q)] += 1.0
        chol = np.linalg.cholesky(W)
        rhs = np.concatenate([u, uy[:, :, None]], axis=2)
        S = np.einsum("gqi,gqj->ij", rhs, np.linalg.solve(W, rhs))
        p = self.p
        xvx = self.xtx - S[:p, :p]
        xvy = self.xty - S[:p, p]
        yvy = self.yty - S[p, p]
        logdet_v = 2.0 * float(np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())
        c_x = linalg.cho_factor(xvx, lower=True, check_finite=False)
        logdet_xvx = 2.0 * float(np.log(np.diag(c_x[0])).sum())
        xvx_inv = linalg.cho_solve(c_x, np.eye(p), check_finite=False)
        beta = xvx_inv @ xvy
        rss = float(yvy - xvy @ beta)
        return _Pieces(logdet_v, xvx, logdet_xvx, xvx_inv, beta, rss)

    def profiled_deviance(self, theta: np.ndarray) -> float:
        """lme4's profiled REML criterion or -2 log L (sigma at its conditional optimum)."""
        pc = self.pieces(theta)
        dof = self.n - self.p if self.reml else self.n
        if pc.rss <= 0:
            return np.inf
        dev = dof * (1.0 + np.log(2.0 * np.pi * pc.rss / dof)) + pc.logdet_v
        return dev + pc.logdet_xvx if self.reml else dev

    def deviance(self, varpar: np.ndarray) -> float:
        """REML criterion or -2 log L at (theta, sigma), as lmerTest's ``devfun_vp``."""
        varpar = np.asarray(varpar, dtype=float)
        pc = self.pieces(varpar[:-1])
        sigma2 = varpar[-1] ** 2
        dof = self.n - self.p if self.reml else self.n
        dev = dof * np.log(2.0 * np.pi * sigma2) + pc.logdet_v + pc.rss / sigma2
        return dev + pc.logdet_xvx if self.reml else dev

    def sigma2_hat(self, theta: np.ndarray) -> float:
        dof = self.n - self.p if self.reml else self.n
        return self.pieces(theta).rss / dof

    def cov_beta(self, varpar: np.ndarray) -> np.ndarray:
        """Covariance of the fixed effects at (theta, sigma): sigma^2 (X'V*^-1X)^-1."""
        varpar = np.asarray(varpar, dtype=float)
        return varpar[-1] ** 2 * self.pieces(varpar[:-1]).xvx_inv


def _tril_colmajor(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a k x k lower triangle in column-major (lme4 theta) order."""
    rows, cols = np.triu_indices(k)
    return cols, rows


# ----------------------------------------------------------------------------------------------
# numerical derivatives: central differences with Richardson extrapolation, as numDeriv (which
# lmerTest uses): steps h, h/2, h/4, h/8 with h = d |x| (d = 0.1 for the Hessian, 1e-4 for
# Jacobians; 1e-4 where x = 0), extrapolated to order h^8. Large first steps matter: the deviance is
# a sum of terms of order n, so rounding noise swamps small-step second differences.
# ----------------------------------------------------------------------------------------------
def _steps(x: np.ndarray, rel: float) -> np.ndarray:
    zero_tol = np.sqrt(np.finfo(float).eps / 7e-7)  # numDeriv: absolute step 1e-4 near zero
    return np.where(np.abs(x) >= zero_tol, rel * np.abs(x), 1e-4)


def _richardson(
    estimate: Callable[[np.ndarray], np.ndarray], h: np.ndarray, r: int = 4
) -> np.ndarray:
    """Richardson extrapolation of a central-difference estimate with error series in h^2."""
    table = [np.asarray(estimate(h / 2.0**i)) for i in range(r)]
    for m in range(1, r):
        factor = 4.0**m
        table = [(factor * table[i + 1] - table[i]) / (factor - 1.0) for i in range(len(table) - 1)]
    return table[0]


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, rel: float = 0.1) -> np.ndarray:
    """Hessian of a scalar function by Richardson-extrapolated central differences."""
    k = x.size
    f0 = f(x)

    def central(h: np.ndarray) -> np.ndarray:
        H = np.empty((k, k))
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h[i]
            H[i, i] = (f(x + ei) - 2.0 * f0 + f(x - ei)) / h[i] ** 2
            for j in range(i):
                ej = np.zeros(k)
                ej[j] = h[j]
                H[i, j] = H[j, i] = (
                    f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
                ) / (4.0 * h[i] * h[j])
        return H

    return _richardson(central, _steps(x, rel))


def _jacobian(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, rel: float = 1e-4
) -> np.ndarray:
    """Jacobian of an array-valued f; result has shape (len(x), *f(x).shape)."""

    def central(h: np.ndarray) -> np.ndarray:
        out = []
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = h[i]
            out.append((f(x + e) - f(x - e)) / (2.0 * h[i]))
        return np.array(out)

    return _richardson(central, _steps(x, rel))


# ----------------------------------------------------------------------------------------------
# The fit object


def _satterthwaite_inputs(
    engine: _Engine,
    varpar: np.ndarray,
    messages: list[str],
    scale: Literal["theta", "variance"] = "theta",
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Asymptotic covariance of the variance parameters and the Jacobian of cov(beta).

    ``scale="theta"`` works on lme4's (theta, sigma), as lmerTest; ``scale="variance"`` on
    (random-effect covariances, variance components, sigma^2) and exists to check that the
    Satterthwaite df does not depend on the parametrization. Returns (A, J, ok) with ``J`` of shape
    (k, p, p) on the same scale as ``A``.
    """
    # Derivatives are taken in units of the fitted residual SD (sigma, and every variance on the
    # variance scale, divided by its fitted value): sigma carries the data's units, and with
    # absolute steps and an absolute eigenvalue tolerance the df of data in volts or in
    # microvolts would differ (df 0.0016 instead of 3 for values near 1e-6). The df is free of
    # units, and A and J are returned on the caller's scale.
    sigma = varpar[-1] if varpar[-1] > 0 else 1.0
    if scale == "theta":
        unit = np.ones(varpar.size)
        unit[-1] = sigma
        point = varpar / unit
        to_varpar = lambda v: v * unit  # noqa: E731
    else:
        phi = _varpar_to_variance(engine, varpar)
        unit = np.full(phi.size, sigma**2)
        point = phi / unit
        to_varpar = lambda v: _variance_to_varpar(engine, v * unit)  # noqa: E731
    hess = _hessian(lambda v: engine.deviance(to_varpar(v)), point)
    hess = (hess + hess.T) / 2.0
    evals, evecs = np.linalg.eigh(hess)
    tol = 1e-8
    ok = True
    if np.any(evals < -tol):
        ok = False
        messages.append(
            "deviance Hessian has negative eigenvalue(s) "
            + " ".join(f"{e:.1e}" for e in evals[evals < -tol])
            + ": the fit may not have converged"
        )
    if np.any(np.abs(evals) <= tol):
        messages.append(
            "deviance Hessian has eigenvalue(s) close to zero "
            + " ".join(f"{e:.1e}" for e in evals[np.abs(evals) <= tol])
            + " (variance parameter on the boundary?)"
        )
    singular = _singular_components(engine, varpar)
    if singular:
        messages.append(
            f"boundary (singular) fit: {', '.join(singular)} estimated at zero (lme4 isSingular); "
            "as in lmerTest, only positive-curvature directions of the deviance enter the "
            "covariance of the variance parameters"
        )
        ok = True
    pos = evals > tol
    h_inv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    jac = _jacobian(lambda v: engine.cov_beta(to_varpar(v)), point)
    return 2.0 * unit[:, None] * h_inv * unit[None, :], jac / unit[:, None, None], ok


def _singular_components(engine: _Engine, varpar: np.ndarray, tol: float = 1e-4) -> list[str]:
    """Bounded theta components below ``tol`` (lme4 ``isSingular``), named by position."""
    names = []
    for i, (low, _) in enumerate(engine.theta_lower_bounds()):
        if low is not None and varpar[i] < tol:
            names.append(engine.theta_names[i] if engine.theta_names else f"theta[{i}]")
    return names


def _check_gradient(
    engine: _Engine, varpar: np.ndarray, vcov_varpar: np.ndarray, messages: list[str]
) -> bool:
    """lme4's convergence check: the Newton step ``H^-1 g`` of the deviance is below 0.002.

    Components of the gradient that push a parameter below its bound (a variance at zero) are
    ignored, since the optimum is on the boundary there.
    """
    # sigma in units of its fitted value, as in _satterthwaite_inputs: the step is then free of
    # the data's units
    unit = np.ones(varpar.size)
    unit[-1] = varpar[-1] if varpar[-1] > 0 else 1.0
    grad = _jacobian(lambda v: np.array(engine.deviance(v * unit)), varpar / unit)
    lower = [b[0] for b in engine.theta_lower_bounds()] + [None]
    for i, low in enumerate(lower):
        if low is not None and varpar[i] <= low + 1e-8 and grad[i] > 0:
            grad[i] = 0.0
    step = np.abs((vcov_varpar / np.outer(unit, unit) / 2.0) @ grad)
    if step.size and step.max() >= 2e-3:
        messages.append(f"scaled gradient at the optimum {step.max():.2g} >= 0.002: not converged")
        return False
    return True


def _varpar_to_variance(engine: _Engine, varpar: np.ndarray) -> np.ndarray:
    theta, sigma2 = varpar[:-1], varpar[-1] ** 2
    T = engine.t_matrix(theta)
    cov = sigma2 * (T @ T.T)
    vc = sigma2 * theta[len(engine.tril[0]) :] ** 2
    return np.concatenate([cov[engine.tril], vc, [sigma2]])


def _variance_to_varpar(engine: _Engine, phi: np.ndarray) -> np.ndarray:
    n_t = len(engine.tril[0])
    sigma2 = phi[-1]
    cov = np.zeros((engine.k_re, engine.k_re))
    cov[engine.tril] = phi[:n_t]
    cov = cov + np.tril(cov, -1).T
    T = np.linalg.cholesky(cov / sigma2) if engine.k_re else cov
    vc = np.sqrt(np.clip(phi[n_t:-1], 0, None) / sigma2)
    return np.concatenate([T[engine.tril], vc, [np.sqrt(sigma2)]])
