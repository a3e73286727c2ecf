"""Negative binomial GLM fitted to every gene at once, as DESeq2's ``fitNbinomGLMs`` does it.

Model (Love, Huber & Anders 2014): ``K_gj ~ NB(mu_gj, alpha_g)``, ``mu_gj = s_j exp(x_j' beta_g)``
with size factors ``s_j``, design row ``x_j`` and a known dispersion ``alpha_g`` per gene. The
coefficients are found by iteratively reweighted least squares with DESeq2's small ridge
``lambda = 1e-6`` (on the log2 scale; ``lambda / log(2)^2`` on the natural-log scale):

``beta <- (X'WX + Lambda)^-1 X'W z``, ``W = diag(mu / (1 + alpha mu))``,
``z = log(mu / s) + (K - mu) / mu``,

with ``mu`` bounded below by ``minmu = 0.5`` inside the iteration, started from the least-squares
fit of ``log(normalized counts + 0.1)``, stopped when the NB deviance changes by less than
``1e-8`` relative (after at least two iterations) or after 100 iterations, and abandoned when a
coefficient leaves +/-30 (natural log). Genes that did not converge are refitted by L-BFGS-B on
the log2-scale posterior within +/-30, as DESeq2's ``fitNbinomGLMsOptim`` does with R's
``optim`` (central-difference gradient with step 1e-3). The covariance of the coefficients is
the sandwich ``(X'WX + Lambda)^-1 X'WX (X'WX + Lambda)^-1`` at the estimate (``mu`` bounded at
``minmu``), and the hat-matrix diagonal ``w_j x_j' (X'WX + Lambda)^-1 x_j`` feeds Cook's distances.

All genes are processed together with NumPy (batched p x p solves); only the few genes that go
to L-BFGS-B (typically those with a group of zero counts) are handled one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

RIDGE_LOG2 = 1e-6
MIN_MU = 0.5
LARGE = 30.0
LOG2E = 1.0 / np.log(2.0)


def nb_log_density(counts: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log NB(counts | mean mu, size 1/alpha), element-wise (R ``dnbinom(log = TRUE)``);
    ``alpha`` broadcasts over the last axis (one dispersion per gene row)."""
    size = 1.0 / alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = -np.log1p(mu / size)  # log(size / (size + mu))
        log_q = np.log(mu) - np.log(size + mu)
        value = (
            gammaln(counts + size)
            - gammaln(size)
            - gammaln(counts + 1.0)
            + size * log_p
            + np.where(counts > 0, counts * log_q, 0.0)
        )
    return value


def linear_model_mu(values: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Least-squares fitted values of every row of ``values`` (genes x samples) on the design
    (DESeq2 ``linearModelMu``): ``values H`` with the hat matrix ``H = X (X'X)^-1 X'``."""
    hat = design @ np.linalg.solve(design.T @ design, design.T)
    return values @ hat


def initial_beta(normalized: np.ndarray, design: np.ndarray) -> np.ndarray:
    """DESeq2's start: least squares of ``log(normalized counts + 0.1)`` on the design."""
    q, r = np.linalg.qr(design)
    return np.linalg.solve(r, q.T @ np.log(normalized + 0.1).T).T


def _xtwx(design: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``X' diag(w_g) X`` for every gene g: (genes, p, p)."""
    return np.einsum("ni,gn,nj->gij", design, weights, design, optimize=True)


def covariance(
    design: np.ndarray, mu: np.ndarray, alpha: np.ndarray, ridge: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sandwich covariance (natural-log scale) and hat diagonals at ``mu`` (already bounded)."""
    weights = mu / (1.0 + alpha[:, None] * mu)
    information = _xtwx(design, weights)
    inverse = np.linalg.inv(information + np.diag(ridge)[None])
    sigma = inverse @ information @ inverse
    hat = weights * np.einsum("ni,gij,nj->gn", design, inverse, design, optimize=True)
    return sigma, hat


@dataclass
class GlmFit:
    """Coefficients (natural log, genes x p), covariance (genes x p x p), fitted means
    (unbounded), hat diagonals, convergence and iterations of every gene."""

    beta: np.ndarray
    sigma: np.ndarray
    mu: np.ndarray
    hat: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def _irls(counts, design, offsets, alpha, beta, ridge, tolerance, max_iterations):
    """Vectorized IRLS (DESeq2 ``fitBeta``); returns beta, the bounded mu of the last accepted
    step (for the hat matrix) and the iterations (``max_iterations`` for genes that left the
    +/-30 bound or whose deviance became NaN)."""
    n_genes = counts.shape[0]
    mu = np.maximum(offsets * np.exp(beta @ design.T), MIN_MU)
    iterations = np.zeros(n_genes, int)
    deviance_old = np.zeros(n_genes)
    active = np.ones(n_genes, bool)
    ridge_matrix = np.diag(ridge)[None]
    for step in range(max_iterations):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        iterations[rows] += 1
        m, a, y, s = mu[rows], alpha[rows, None], counts[rows], offsets[rows]
        weights = m / (1.0 + a * m)
        z = np.log(m / s) + (y - m) / m
        lhs = _xtwx(design, weights) + ridge_matrix
        rhs = np.einsum("ni,gn->gi", design, weights * z)
        new_beta = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        out = np.any(np.abs(new_beta) > LARGE, axis=1) | ~np.all(np.isfinite(new_beta), axis=1)
        beta[rows] = new_beta
        keep = rows[~out]
        active[rows[out]] = False
        iterations[rows[out]] = max_iterations
        mu[keep] = np.maximum(offsets[keep] * np.exp(new_beta[~out] @ design.T), MIN_MU)
        deviance = -2.0 * nb_log_density(counts[keep], mu[keep], alpha[keep, None]).sum(axis=1)
        change = np.abs(deviance - deviance_old[keep]) / (np.abs(deviance) + 0.1)
        broken = np.isnan(change)
        iterations[keep[broken]] = max_iterations
        done = broken | ((step > 0) & (change < tolerance))
        active[keep[done]] = False
        deviance_old[keep] = deviance
    return beta, mu, iterations


def _r_gradient(objective, point: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """R ``optim``'s central-difference gradient for L-BFGS-B, steps clipped at the bounds."""
    gradient = np.empty_like(point)
    for i in range(point.size):  # one per coefficient (a handful), not per gene
        up, down = point.copy(), point.copy()
        up[i] = min(point[i] + step, LARGE)
        down[i] = max(point[i] - step, -LARGE)
        gradient[i] = (objective(up) - objective(down)) / (up[i] - down[i])
    return gradient


def _optim_row(counts_row, offsets_row, alpha, design, start):
    """One gene by L-BFGS-B on the log2-scale negative log posterior (DESeq2 optim fallback)."""
    sd = np.sqrt(1.0 / RIDGE_LOG2)

    def objective(p):
        mu = offsets_row * 2.0 ** (design @ p)
        log_like = nb_log_density(counts_row, mu, np.asarray(alpha)).sum()
        log_prior = np.sum(-0.5 * np.log(2 * np.pi) - np.log(sd) - 0.5 * (p / sd) ** 2)
        value = -(log_like + log_prior)
        return value if np.isfinite(value) else 1e300

    result = minimize(
        objective,
        start,
        jac=lambda p: _r_gradient(objective, p),
        method="L-BFGS-B",
        bounds=[(-LARGE, LARGE)] * start.size,
        options={"maxcor": 5, "ftol": 1e7 * np.finfo(float).eps, "gtol": 0.0, "maxiter": 100},
    )
    return result.x, bool(result.success)


def fit_glm(
    counts: np.ndarray,
    design: np.ndarray,
    size_factors: np.ndarray,
    alpha: np.ndarray,
    tolerance: float = 1e-8,
    max_iterations: int = 100,
) -> GlmFit:
    """DESeq2 ``fitNbinomGLMs`` (no beta prior) for every row of ``counts`` (genes x samples)."""
    counts = np.asarray(counts, float)
    offsets = np.broadcast_to(size_factors[None, :], counts.shape)
    ridge = np.full(design.shape[1], RIDGE_LOG2 / np.log(2.0) ** 2)
    start = initial_beta(counts / size_factors[None, :], design)
    beta, bounded_mu, iterations = _irls(
        counts, design, offsets, alpha, start.copy(), ridge, tolerance, max_iterations
    )
    _, hat = covariance(design, bounded_mu, alpha, ridge)
    converged = iterations < max_iterations
    mu = offsets * np.exp(beta @ design.T)
    sigma, _ = covariance(design, np.maximum(mu, MIN_MU), alpha, ridge)
    stable = np.all(np.isfinite(beta), axis=1)
    positive = np.all(np.diagonal(sigma, axis1=1, axis2=2) > 0, axis=1)
    for row in np.flatnonzero(~converged | ~stable | ~positive):  # few genes: DESeq2's optim
        log2_beta = beta[row] * LOG2E
        initial = log2_beta if stable[row] and np.all(np.abs(log2_beta) < LARGE) else start[row]
        solution, success = _optim_row(counts[row], offsets[row], alpha[row], design, initial)
        converged[row] = converged[row] or success
        beta[row] = solution / LOG2E
        mu[row] = offsets[row] * 2.0 ** (design @ solution)
    refitted = ~(iterations < max_iterations) | ~stable | ~positive
    if refitted.any():
        sigma[refitted], _ = covariance(
            design, np.maximum(mu[refitted], MIN_MU), alpha[refitted], ridge
        )
    return GlmFit(beta, sigma, mu, hat, converged, iterations)
