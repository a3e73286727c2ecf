"""Linear mixed models that report what R's lme4 + lmerTest (+ emmeans) report.

Why this module exists
----------------------
Mouse experiments have few independent units (6-12 mice per group) and many observations per
unit (sessions, cells, dendritic segments). Treating the observations as independent is
pseudo-replication; a linear mixed model with the mouse as grouping factor is the standard
remedy. With so few mice the Wald z-tests that statsmodels reports are too liberal, so every
test here uses t and F reference distributions with **Satterthwaite degrees of freedom**
(Satterthwaite 1946, *Biometrics Bulletin* 2:110-114), computed exactly as the R package
lmerTest does (Kuznetsova, Brockhoff & Christensen 2017, *J Stat Softw* 82(13)), so that a
reviewer who refits the model in R gets the same numbers.

What is computed, and how
-------------------------
* **Fit.** Two optimizers work on the same model. (1) lme4's profiled REML/ML deviance (Bates et
  al. 2015, *J Stat Softw* 67(1), eqs. 34 and 41), evaluated here from per-group
  cross-products, is minimized from lme4's start by a bounded derivative-free search (Powell, as
  lme4 uses BOBYQA) polished by L-BFGS-B. (2) statsmodels
  :class:`~statsmodels.regression.mixed_linear_model.MixedLM` is then run from that optimum with
  its default optimizer, falling back to ``lbfgs``, ``powell`` and ``nm`` while it does not
  converge cleanly; every warning it raises is kept in :attr:`MixedModelFit.warnings`. The
  candidate with the lower lme4 deviance, polished, is reported; its statsmodels result object is
  kept in :attr:`MixedModelFit.result`. The final optimum is checked as lme4 checks it (scaled
  gradient, Hessian eigenvalues, singular fits). statsmodels on its own stops at a looser
  tolerance and sometimes on the boundary when the optimum is interior (the nested-cells
  reference case), which is why lme4's criterion is optimized directly.
* **Parametrization** follows lme4: ``varpar = (theta, sigma)``, where ``theta`` holds the
  lower-triangular (column-major) Cholesky factor of the random-effect covariance relative to
  the residual variance, and the relative standard deviation of each variance component, and
  ``sigma`` is the residual standard deviation.
* **Satterthwaite df** for a contrast ``L beta`` (:func:`contrast`, :func:`coef_table`):
  ``df = 2 (L C L')^2 / (g' A g)`` with ``C(varpar) = sigma^2 (X' V*^-1 X)^-1`` the covariance of
  the fixed effects, ``g`` the gradient of ``L C L'`` with respect to ``varpar`` (central
  differences) and ``A = 2 H^-1`` the asymptotic covariance of ``varpar``, ``H`` being the
  Hessian of the (REML or ML) deviance ``-2 log L(theta, sigma)`` at the optimum (Kuznetsova et
  al. 2017, eqs. 5-7; lmerTest ``devfun_vp``/``contest1D``). As in lmerTest, ``H`` is inverted
  on its positive eigenvalues only, and non-positive eigenvalues are reported as warnings. The df
  is invariant, to first order, to the parametrization of the variance parameters; the tests
  check this numerically against the (covariance, sigma^2) scale.
* **Multi-df F tests** (:func:`anova_table`) follow lmerTest ``contestMD`` (after Fai &
  Cornelius 1996, *J Stat Comput Simul* 54:363-378): eigen-decompose ``L C L' = P D P'``; the
  ``q`` rows of ``P'L`` are independent 1-df contrasts with Satterthwaite df ``nu_m``;
  ``F = sum(t_m^2)/q`` and the denominator df is ``2E/(E - q)`` with ``E = sum nu_m/(nu_m - 2)``
  (``2`` if any ``nu_m <= 2``).
* **Type III hypotheses.** The F table reproduces lmerTest's ``anova(type = 3)``: SAS-style type
  III estimable functions built from the treatment-coded design, the all-level indicator design
  and term containment (lmerTest ``get_contrasts_type3``), mapped to the caller's coefficients.
  The hypotheses are the marginal ones of sum-to-zero coding for factor designs, and they do not
  depend on the coding the caller chose (treatment, sum, ...). Terms with continuous covariates
  are tested at covariate = 0, as in lmerTest/SAS. The *basis* of each hypothesis is reproduced
  too, because the contestMD df of a multi-df term depends on it (in lmerTest too: its df for a
  group test in a group x covariate model changes in the 4th digit with the order of the group
  levels; the treatment reference here is the first level, or the caller's ``Treatment``
  reference, like R's first factor level). Single-term models use lmerTest's type I basis, as
  its ``anova()`` does. A formula this construction cannot handle falls back to sum-coding
  hypotheses (noted in ``fit.warnings``). The coefficient table keeps the caller's coding.
* **Estimated marginal means** (:func:`emmeans`, :func:`emm_contrasts`) follow the R package
  emmeans (Lenth): predictions on the reference grid of all factor levels (covariates at their
  mean), averaged with equal weights over the factors not named, with Satterthwaite df as in
  ``emmeans(..., lmer.df = "satterthwaite")``.

Random-effect structures
------------------------
* ``groups="mouse"``: random intercept per mouse, ``(1 | mouse)``.
* ``re_formula="~Days"``: correlated random intercept and slope, ``(Days | mouse)``.
* ``vc_formula={"cell": "0 + C(cell)"}``: a random intercept for each cell within its mouse,
  ``(1 | mouse/cell)``. Labels need only be unique within a mouse. A third level (segments within
  cells within mice) is a second entry, ``{"cell": "0 + C(cell)", "segment": "0 +
  C(cell):C(segment)"}``.
* ``re_formula="1", vc_formula={"Days": "0 + Days"}``: uncorrelated intercept and slope,
  ``(1 | mouse) + (0 + Days | mouse)``.
"""

from __future__ import annotations

import builtins
import itertools
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import patsy
from patsy.contrasts import Sum
from patsy.design_info import DesignInfo, SubtermInfo
from scipy import linalg, optimize, stats
from statsmodels.regression.mixed_linear_model import (
    MixedLM,
    MixedLMParams,
    MixedLMResults,
    VCSpec,
)
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from exneuro.stats.compare import adjust_pvalues, correction_label
from exneuro.stats.table import stats_frame

__all__ = [
    "MixedModelFit",
    "adjust_pvalues",
    "anova_table",
    "coef_table",
    "contrast",
    "emm_contrasts",
    "emmeans",
    "fit_lmm",
    "model_label",
    "to_stats",
    "variance_components",
]

#: statsmodels optimizers tried in turn until one converges without a convergence warning;
#: ``None`` is statsmodels' default (bfgs, then lbfgs, then cg).
OPTIMIZERS: tuple[str | None, ...] = (None, "lbfgs", "powell", "nm")

# Names a formula may use that are not data columns (patsy built-ins and common transforms).
_FORMULA_NAMES = {
    "C",
    "Treatment",
    "Sum",
    "Poly",
    "Helmert",
    "Diff",
    "I",
    "Q",
    "np",
    "center",
    "standardize",
    "scale",
    "bs",
    "cr",
    "cc",
    "te",
}
_INDICATOR_VC = re.compile(r"^\s*0\s*\+\s*C\(\s*(\w+)\s*\)((?:\s*:\s*C\(\s*\w+\s*\))*)\s*$")


# p-value adjustment: the package's shared implementation (exneuro.stats.compare), whose method
# names are sidak, holm, holm-sidak, bonferroni, fdr_bh, none; "fdr" and "bh" are accepted here as
# the emmeans/R spelling of fdr_bh.
_ADJUST_ALIASES = {"fdr": "fdr_bh", "bh": "fdr_bh", "BH": "fdr_bh"}


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
# ----------------------------------------------------------------------------------------------
@dataclass
class MixedModelFit:
    """A fitted linear mixed model with everything needed for Satterthwaite inference.

    Attributes
    ----------
    result : statsmodels ``MixedLMResults`` of the accepted optimizer (before refinement).
    model : the statsmodels ``MixedLM``.
    data : the rows used (rows with a missing value in any used column are dropped).
    formula, groups, re_formula, vc_formula, reml : the model specification.
    design_info : patsy ``DesignInfo`` of the fixed effects (the caller's coding).
    exog_names : fixed-effect column names.
    beta, cov_beta : fixed effects and their covariance ``sigma^2 (X'V*^-1X)^-1`` (lme4 ``vcov``).
    cov_re : covariance matrix of the random effects per group (absolute scale).
    vcomp : variance of each variance component (absolute scale).
    scale : residual variance ``sigma^2``.
    varpar, varpar_names : the lme4 variance parameters ``(theta, sigma)``.
    vcov_varpar : asymptotic covariance of ``varpar``, ``2 H^-1`` (lmerTest ``vcov_varpar``).
    jac_cov_beta : derivative of ``cov_beta`` with respect to each ``varpar`` (k x p x p).
    deviance : REML criterion (REML fits) or ``-2 log L`` (ML fits), lme4's definition.
    n_obs, n_dropped : rows used and rows dropped for missing values.
    n_per_level : number of units per level: the groups, every variance component, ``obs``.
    optimizer : statsmodels method whose optimum was refined.
    converged : True if the refined optimum passes lme4's checks: scaled gradient (Newton step)
        of the deviance below 0.002 and no negative eigenvalue of its Hessian.
    statsmodels_converged : True if a statsmodels optimizer converged without warnings.
    warnings : every optimizer/convergence message, prefixed by the method that raised it.
    fit_seconds : wall time of :func:`fit_lmm`.
    type3_contrasts : the type III hypothesis matrix of every term, on the caller's coefficients.
    type3_method : how ``type3_contrasts`` was built: ``"lmerTest"`` (SAS-type estimable
        functions, as lmerTest) or ``"sum-coding"`` (fallback).
    """

    result: MixedLMResults | None
    model: MixedLM
    data: pd.DataFrame
    formula: str
    groups: str
    re_formula: str | None
    vc_formula: dict[str, str]
    reml: bool
    design_info: DesignInfo
    exog_names: list[str]
    beta: np.ndarray
    cov_beta: np.ndarray
    cov_re: pd.DataFrame
    vcomp: dict[str, float]
    scale: float
    varpar: np.ndarray
    varpar_names: list[str]
    vcov_varpar: np.ndarray
    jac_cov_beta: np.ndarray
    deviance: float
    n_obs: int
    n_dropped: int
    n_per_level: dict[str, int]
    optimizer: str
    converged: bool
    statsmodels_converged: bool = True
    warnings: list[str] = field(default_factory=list)
    fit_seconds: float = float("nan")
    re_names: list[str] = field(default_factory=list, repr=False)
    intercept_like: dict[str, bool] = field(default_factory=dict, repr=False)
    n_excluded_groups: int = 0
    _engine: _Engine | None = field(default=None, repr=False)
    type3_contrasts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    type3_method: str = ""

    @property
    def fe_params(self) -> pd.Series:
        """Fixed effects named by design column."""
        return pd.Series(self.beta, index=self.exog_names, name="estimate")

    @property
    def loglike(self) -> float:
        """Maximized (restricted) log-likelihood, ``-deviance / 2`` (lme4 ``logLik``)."""
        return -0.5 * self.deviance

    @property
    def total_variance(self) -> float:
        """Sum of the residual variance and every intercept-type variance component.

        Random-slope variances are not on the outcome's scale and are left out (a note says so in
        :func:`to_stats`); the sum is the variance of one observation at covariate value 0.
        """
        total = self.scale
        for i, name in enumerate(self.re_names):
            if self.intercept_like.get(name, False):
                total += float(self.cov_re.iloc[i, i])
        for name, value in self.vcomp.items():
            if self.intercept_like.get(name, False):
                total += value
        return float(total)


# ----------------------------------------------------------------------------------------------
# Formula helpers
# ----------------------------------------------------------------------------------------------
def _eval_env() -> patsy.EvalEnvironment:
    return patsy.EvalEnvironment([{"np": np}])


def _formula_columns(formula: str, data: pd.DataFrame, what: str) -> list[str]:
    """Data columns used by a formula; unknown names raise ValueError naming them."""
    desc = patsy.ModelDesc.from_formula(formula)
    names: list[str] = []
    for term in list(desc.lhs_termlist) + list(desc.rhs_termlist):
        for factor in term.factors:
            code = factor.code
            for quoted in re.findall(r"Q\(\s*['\"](.+?)['\"]\s*\)", code):
                names.append(quoted)
            for name in patsy.eval.ast_names(code):
                names.append(name)
    used = []
    for name in names:
        if name in data.columns:
            if name not in used:
                used.append(name)
            continue
        base = name.split(".")[0]
        if base in _FORMULA_NAMES or hasattr(builtins, base):
            continue
        raise ValueError(f"column {name!r} used in {what} {formula!r} is not in the data")
    return used


def _strip_codings(text: str) -> str:
    """'C(group, Treatment("control")) * C(session)' -> 'group * session'."""
    out = []
    i = 0
    while i < len(text):
        if text.startswith("C(", i) and (
            i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            depth, j = 0, i + 1
            first_end = None
            while j < len(text):
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                elif text[j] == "," and depth == 1 and first_end is None:
                    first_end = j
                j += 1
            inner = text[i + 2 : first_end if first_end is not None else j]
            out.append(inner.strip())
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _term_label(term: Any) -> str:
    return ":".join(_strip_codings(f.code) for f in term.factors)


def _zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest absolute value."""
    x = np.asarray(x, dtype=float)
    mx = np.abs(x).max() if x.size else 0.0
    if not mx > 0:
        return x
    return np.round(x, max(0, digits - int(np.ceil(np.log10(mx)))))


def _treatment_reference(cm: Any, levels: list) -> int:
    """Index of the reference level of a reduced-rank coding (0 unless it is a Treatment coding)."""
    m = np.asarray(cm.matrix)
    zero_rows = np.flatnonzero(np.all(m == 0, axis=1))
    if len(zero_rows) == 1 and np.isin(m, (0.0, 1.0)).all() and (m.sum(axis=0) == 1).all():
        return int(zero_rows[0])
    return 0


def _recoded_design(
    design_info: DesignInfo, full_rank: bool
) -> tuple[DesignInfo, list[tuple[Any, tuple[int, ...]]]]:
    """The caller's design re-coded as R's contr.treatment (``full_rank=False``) or as the
    overparametrized all-level-indicator design lmerTest calls ``rdX`` (``full_rank=True``).

    Returns the DesignInfo and, per column, its identity ``(term, level or column index per
    factor)``; patsy orders columns with the left-most factor varying fastest, as R does.
    """
    codings: OrderedDict[Any, list[SubtermInfo]] = OrderedDict()
    identities: list[tuple[Any, tuple[int, ...]]] = []
    names: list[str] = []
    for term, subterms in design_info.term_codings.items():
        if len(subterms) != 1:
            raise ValueError(f"term {term.name()} has several subterms")
        st = subterms[0]
        matrices = {}
        per_factor: list[list[int]] = []
        for factor in st.factors:
            info = design_info.factor_infos[factor]
            if info.type == "categorical":
                levels = list(info.categories)
                k = len(levels)
                cm = st.contrast_matrices[factor]
                if full_rank or cm.matrix.shape[1] == k:
                    matrices[factor] = patsy.ContrastMatrix(np.eye(k), [f"[{i}]" for i in range(k)])
                    per_factor.append(list(range(k)))
                else:
                    ref = _treatment_reference(cm, levels)
                    keep = [i for i in range(k) if i != ref]
                    matrices[factor] = patsy.ContrastMatrix(
                        np.eye(k)[:, keep], [f"[{i}]" for i in keep]
                    )
                    per_factor.append(keep)
            else:
                per_factor.append(list(range(info.num_columns)))
        combos = [c[::-1] for c in itertools.product(*reversed(per_factor))]
        codings[term] = [SubtermInfo(st.factors, matrices, len(combos))]
        identities.extend((term, tuple(c)) for c in combos)
        names.extend(f"{term.name()}#{len(names) + i}" for i in range(len(combos)))
    info = DesignInfo(names, factor_infos=design_info.factor_infos, term_codings=codings)
    return info, identities


def _type3_lmertest(
    design_info: DesignInfo, data: pd.DataFrame, X: np.ndarray
) -> dict[str, np.ndarray]:
    """Type III hypothesis matrices built exactly as lmerTest 3.1 ``get_contrasts_type3`` does.

    SAS-style type III estimable functions (Goodnight 1978): express the overparametrized
    all-level design ``rdX`` in the treatment-coded coefficients, ``L = (X^+ rdX)'``; for every
    term, from the highest order down, make its columns orthogonal to those of the terms that
    contain it (containment as in lmerTest: all variables included, plus more, same numeric
    variables); the rows of the term's columns are its hypothesis. They are finally mapped to the
    caller's coefficients with ``X_trt^+ X``. The Satterthwaite df of ``contestMD`` depends on
    the basis of L, not only on the hypothesis, so the basis is reproduced too; the treatment
    reference is the first level of each factor (or the caller's Treatment reference), as R's
    first factor level.
    """
    trt_info, trt_ids = _recoded_design(design_info, full_rank=False)
    rd_info, rd_ids = _recoded_design(design_info, full_rank=True)
    X_trt, rdX = (
        np.asarray(m)
        for m in patsy.build_design_matrices([trt_info, rd_info], data, NA_action="raise")
    )
    pinv = np.linalg.pinv(X_trt)
    L = _zapsmall((pinv @ rdX).T)  # rows: rdX parameters, columns: X_trt coefficients
    terms = [t for t in design_info.terms if t.factors]
    cols = {t: [j for j, (tt, _) in enumerate(trt_ids) if tt == t] for t in terms}

    def variables(term: Any) -> set:
        return set(term.factors)

    def numerics(term: Any) -> set:
        return {f for f in term.factors if design_info.factor_infos[f].type != "categorical"}

    def contains(t1: Any, t2: Any) -> bool:
        return (
            variables(t1) <= variables(t2)
            and bool(variables(t2) - variables(t1))
            and numerics(t1) == numerics(t2)
        )

    for term in sorted(terms, key=lambda t: -len(t.factors)):  # stable: ties keep model order
        containers = [t for t in terms if contains(term, t)]
        if containers:
            xc = L[:, [j for t in containers for j in cols[t]]]
            y = L[:, cols[term]]
            coef, *_ = np.linalg.lstsq(xc, y, rcond=None)
            L[:, cols[term]] = _zapsmall(y - xc @ coef)
    rd_index = {identity: i for i, identity in enumerate(rd_ids)}
    L = L[[rd_index[identity] for identity in trt_ids]]  # rows named as the X_trt columns
    to_user = _zapsmall(pinv @ X)
    out: dict[str, np.ndarray] = {}
    for term in terms:
        Lt = L[:, cols[term]].T
        Lt = Lt[np.abs(Lt).sum(axis=1) > 1e-8]
        out[_term_label(term)] = Lt @ to_user
    return out


def _type3_sum(design_info: DesignInfo, data: pd.DataFrame, X: np.ndarray) -> dict[str, np.ndarray]:
    """Fallback type III hypotheses: each term's coefficients in sum-to-zero coding equal zero."""
    codings: OrderedDict[Any, list[SubtermInfo]] = OrderedDict()
    for term, subterms in design_info.term_codings.items():
        new_subterms = []
        for st in subterms:
            matrices = {}
            for factor, cm in st.contrast_matrices.items():
                levels = list(design_info.factor_infos[factor].categories)
                if cm.matrix.shape[1] == len(levels) - 1:
                    matrices[factor] = Sum().code_without_intercept(levels)
                else:
                    matrices[factor] = cm
            new_subterms.append(SubtermInfo(st.factors, matrices, st.num_columns))
        codings[term] = new_subterms
    info = DesignInfo(
        design_info.column_names, factor_infos=design_info.factor_infos, term_codings=codings
    )
    X_sum = np.asarray(patsy.build_design_matrices([info], data, NA_action="raise")[0])
    to_user, *_ = np.linalg.lstsq(X_sum, X, rcond=None)
    if not np.allclose(X_sum @ to_user, X, atol=1e-8 * max(1.0, np.abs(X).max())):
        raise ValueError("the sum-coded design spans a different space")
    eye = np.eye(X.shape[1])
    return {
        _term_label(term): eye[cols] @ to_user
        for term, cols in info.term_slices.items()
        if term.factors
    }


def _doolittle_l(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Unit lower-triangular factor of the Doolittle LU of ``x`` (lmerTest's ``doolittle``)."""
    n = x.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        U[i, :] = x[i, :] - L[i, :i] @ U[:i, :]
        for j in range(i + 1, n):
            value = x[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else value / U[i, i]
    L[np.abs(L) < eps] = 0.0
    return L


def _type1_single_term(design_info: DesignInfo, X: np.ndarray) -> dict[str, np.ndarray]:
    """lmerTest's ``get_contrasts_type1`` (rows of the Doolittle factor of X'X), which lmerTest's
    ``anova()`` uses instead of type III when the model has a single term."""
    Lt = _doolittle_l(X.T @ X).T if X.shape[1] > 1 else np.ones((1, 1))
    return {_term_label(t): Lt[c] for t, c in design_info.term_slices.items() if t.factors}


def _type3_contrasts(
    design_info: DesignInfo, data: pd.DataFrame, X: np.ndarray, messages: list[str]
) -> tuple[dict[str, np.ndarray], str]:
    """Type III hypothesis matrices: lmerTest's construction, else sum coding, else the caller's.

    As lmerTest's ``anova()``, a model with a single term (besides the intercept) uses the type I
    construction, which tests the same hypothesis in another basis.
    """
    if sum(1 for t in design_info.terms if t.factors) <= 1 or X.shape[1] <= 1:
        return _type1_single_term(design_info, X), "lmerTest"
    try:
        return _type3_lmertest(design_info, data, X), "lmerTest"
    except Exception as exc:  # unusual formulas: fall back, and say so
        messages.append(f"type III: lmerTest construction failed ({exc}); using sum coding")
    try:
        return _type3_sum(design_info, data, X), "sum-coding"
    except Exception as exc:
        messages.append(f"type III: sum coding failed ({exc}); testing the caller's coefficients")
    eye = np.eye(X.shape[1])
    return {
        _term_label(t): eye[c] for t, c in design_info.term_slices.items() if t.factors
    }, "caller-coding"


# ----------------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------------
def _vc_design(
    vc_formula: str, data: pd.DataFrame, rows: list[np.ndarray]
) -> tuple[list[np.ndarray], list[list[str]]]:
    """Per-group design of one variance component; indicator designs are built directly."""
    mats, names = [], []
    match = _INDICATOR_VC.match(vc_formula)
    if match:
        columns = [match.group(1)] + re.findall(r"C\(\s*(\w+)\s*\)", match.group(2) or "")
        key_codes, key_values = pd.factorize(
            pd.MultiIndex.from_frame(data[columns].astype(str)), sort=True
        )
        key_names = np.array([":".join(k) for k in key_values], dtype=object)
        for idx in rows:
            codes, uniques = pd.factorize(key_codes[idx], sort=True)
            mat = np.zeros((len(idx), len(uniques)))
            mat[np.arange(len(idx)), codes] = 1.0
            mats.append(mat)
            names.append(list(key_names[uniques]))
        return mats, names
    env = _eval_env()
    for idx in rows:
        frame = patsy.dmatrix(
            vc_formula, data.iloc[idx], eval_env=env, NA_action="raise", return_type="dataframe"
        )
        keep = np.abs(frame.to_numpy()).sum(axis=0) > 0
        mats.append(frame.to_numpy()[:, keep])
        names.append([c for c, k in zip(frame.columns, keep, strict=True) if k])
    return mats, names


def _is_indicator(mats: list[np.ndarray]) -> bool:
    """True if each row of every matrix has at most one 1 and otherwise 0 (an intercept-type RE)."""
    for m in mats:
        if m.size and not (np.isin(m, (0.0, 1.0)).all() and (m.sum(axis=1) <= 1).all()):
            return False
    return True


def _run_statsmodels(
    model: MixedLM, reml: bool, start: MixedLMParams | None = None
) -> tuple[MixedLMResults | None, str, bool, list]:
    """Try the optimizers in turn; return the accepted result, its method, clean flag, messages.

    A run is accepted when statsmodels reports convergence, the log-likelihood is finite and no
    ``ConvergenceWarning`` was raised other than "the MLE may be on the boundary" (a singular fit,
    which the next optimizers would only confirm); otherwise the next optimizer is tried. If none
    is clean, the run with the highest finite log-likelihood is returned (its optimum is refined
    anyway).
    """
    messages: list[str] = []
    candidates = []
    for method in OPTIMIZERS:
        label = "default" if method is None else method
        kwargs = {} if method is None else {"method": method}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml, start_params=start, **kwargs)
            except Exception as exc:
                messages.append(f"statsmodels {label}: failed ({type(exc).__name__}: {exc})")
                continue
        failed = not bool(getattr(res, "converged", False)) or not np.isfinite(res.llf)
        for w in caught:
            text = str(w.message).strip().replace("\n", " ")
            messages.append(f"statsmodels {label}: {w.category.__name__}: {text}")
            boundary = "on the boundary" in text  # a singular fit, not a failure
            failed = failed or (issubclass(w.category, ConvergenceWarning) and not boundary)
        if not failed:
            return res, label, True, messages
        messages.append(f"statsmodels {label}: not accepted (did not converge cleanly)")
        if np.isfinite(res.llf):
            candidates.append((res, label))
    if not candidates:
        return None, "none", False, messages
    best = max(candidates, key=lambda c: c[0].llf)
    messages.append(f"no statsmodels optimizer converged cleanly; refining the {best[1]} optimum")
    return best[0], best[1], False, messages


def _theta_from_statsmodels(res: MixedLMResults, engine: _Engine) -> np.ndarray:
    """lme4 theta from a statsmodels result (relative Cholesky factor, relative SDs)."""
    scale = float(res.scale)
    theta = []
    if engine.k_re:
        rel = np.asarray(res.cov_re, dtype=float) / scale
        try:
            T = np.linalg.cholesky(rel)
        except np.linalg.LinAlgError:
            w, v = np.linalg.eigh(rel)
            T = np.linalg.qr((v * np.sqrt(np.clip(w, 0, None))).T)[1].T
            T = T * np.sign(np.where(np.diag(T) == 0, 1.0, np.diag(T)))
        theta.extend(T[engine.tril])
    theta.extend(np.sqrt(np.clip(np.asarray(res.vcomp, dtype=float), 0, None) / scale))
    return np.asarray(theta, dtype=float)


def fit_lmm(
    data: pd.DataFrame,
    formula: str,
    groups: str,
    re_formula: str | None = None,
    vc_formula: dict[str, str] | None = None,
    reml: bool = True,
) -> MixedModelFit:
    """Fit a linear mixed model and prepare Satterthwaite inference (lme4 + lmerTest numbers).

    Parameters
    ----------
    data : long-format data, one row per observation.
    formula : fixed-effect formula as statsmodels/patsy take it, e.g.
        ``"distance_m ~ C(group, Treatment('control')) * C(session)"``.
    groups : column of the top-level grouping unit (usually the mouse): random intercept per group.
    re_formula : random slopes within groups, e.g. ``"~Days"`` for ``(Days | mouse)``; ``None``
        gives a random intercept only.
    vc_formula : nested random intercepts (or uncorrelated slopes) within groups, e.g.
        ``{"cell": "0 + C(cell)"}`` for ``(1 | mouse/cell)``.
    reml : REML (default, as lme4) or maximum likelihood.

    Rows with a missing value in any used column are dropped and counted (``n_dropped``). lme4's
    criterion is optimized directly and statsmodels MixedLM is run from that optimum, trying its
    optimizers in turn (default, lbfgs, powell, nm); the better optimum is reported (see the
    module docstring). Every optimizer message is kept in ``fit.warnings``, and a
    ``ConvergenceWarning`` is raised if the final optimum fails lme4's convergence checks.

    Raises ``ValueError`` naming the column when ``groups`` or a column used in a formula is not in
    ``data``, and when the fixed-effect design is rank deficient (e.g. empty cells).
    """
    start = time.perf_counter()
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame")
    if groups not in data.columns:
        raise ValueError(f"groups column {groups!r} is not in the data")
    vc_formula = dict(vc_formula or {})
    used = _formula_columns(formula, data, "formula")
    if re_formula is not None:
        used += _formula_columns(re_formula.lstrip().lstrip("~"), data, "re_formula")
    for name, vcf in vc_formula.items():
        used += _formula_columns(vcf, data, f"vc_formula[{name!r}]")
    used = list(dict.fromkeys([*used, groups]))

    complete = data[used].notna().all(axis=1).to_numpy()
    n_dropped = int((~complete).sum())
    clean = data.loc[complete].reset_index(drop=True)
    if len(clean) == 0:
        raise ValueError("no complete rows left after dropping missing values")
    n_excluded_groups = int(data[groups].dropna().nunique() - clean[groups].nunique())

    env = _eval_env()
    y_frame, x_frame = patsy.dmatrices(
        formula, clean, eval_env=env, NA_action="raise", return_type="dataframe"
    )
    design_info = x_frame.design_info
    y = y_frame.to_numpy()[:, 0].astype(float)
    X = x_frame.to_numpy().astype(float)
    exog_names = list(x_frame.columns)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(
            "the fixed-effect design is rank deficient (empty cells or collinear predictors)"
        )

    group_values = clean[groups].to_numpy()
    labels = sorted(set(group_values.tolist()))
    lookup = {label: i for i, label in enumerate(labels)}
    codes = np.array([lookup[v] for v in group_values.tolist()])
    order = np.argsort(codes, kind="stable")
    rows = np.split(order, np.cumsum(np.bincount(codes, minlength=len(labels)))[:-1])

    # random effects per group (always a random intercept unless re_formula removes it)
    if re_formula is None or re_formula.strip().lstrip("~").strip() == "1":
        re_frame = pd.DataFrame({groups: np.ones(len(clean))})
    else:
        re_frame = patsy.dmatrix(
            re_formula.strip().lstrip("~"),
            clean,
            eval_env=env,
            NA_action="raise",
            return_type="dataframe",
        )
        re_frame = re_frame.rename(columns={"Intercept": groups})
    re_names = list(re_frame.columns)
    Z_re = re_frame.to_numpy().astype(float)
    k_re = Z_re.shape[1]

    vc_names = sorted(vc_formula)
    vc_mats, vc_colnames = [], []
    for name in vc_names:
        mats, names = _vc_design(vc_formula[name], clean, rows)
        vc_mats.append(mats)
        vc_colnames.append(names)

    z_blocks, col_kind = [], []
    for g, idx in enumerate(rows):
        blocks = [Z_re[idx]] + [vc_mats[j][g] for j in range(len(vc_names))]
        z_blocks.append(np.hstack(blocks))
        col_kind.append(
            np.concatenate(
                [np.full(k_re, -1)]
                + [np.full(vc_mats[j][g].shape[1], j) for j in range(len(vc_names))]
            )
        )
    engine = _Engine(y, X, z_blocks, col_kind, rows, k_re, len(vc_names), reml)

    model = MixedLM(
        pd.Series(y, name=y_frame.columns[0]),
        x_frame,
        groups=group_values,
        exog_re=re_frame,
        exog_vc=VCSpec(vc_names, vc_colnames, vc_mats) if vc_names else None,
    )
    messages: list[str] = []
    # 1. lme4's criterion from lme4's start (theta = identity), 2. statsmodels from that optimum
    # with its optimizer chain, 3. refine the better of the two on the lme4 criterion.
    theta_own = _minimize_deviance(
        engine, np.concatenate([np.eye(k_re)[engine.tril], np.ones(len(vc_names))])
    )
    sm_start = _statsmodels_start(engine, theta_own)
    res, method, clean_fit, sm_messages = _run_statsmodels(model, reml, sm_start)
    messages.extend(sm_messages)
    candidates = [theta_own]
    if res is not None and np.isfinite(res.scale) and res.scale > 0:
        candidates.append(_theta_from_statsmodels(res, engine))
    theta = min(
        (_minimize_deviance(engine, c, search=False) for c in candidates),
        key=engine.profiled_deviance,
    )
    if len(candidates) == 2:
        gap = engine.profiled_deviance(candidates[1]) - engine.profiled_deviance(theta)
        if gap > 1e-3:
            messages.append(f"the statsmodels optimum has a deviance {gap:.3g} above the final one")
    sigma = float(np.sqrt(engine.sigma2_hat(theta)))
    varpar = np.append(theta, sigma)

    pieces = engine.pieces(theta)
    T = engine.t_matrix(theta)
    cov_re = pd.DataFrame(sigma**2 * (T @ T.T), index=re_names, columns=re_names)
    vc_rel = theta[len(engine.tril[0]) :]
    vcomp = {name: float(sigma**2 * vc_rel[j] ** 2) for j, name in enumerate(vc_names)}

    varpar_names = [
        f"theta[{re_names[r]},{re_names[c]}]" for r, c in zip(*engine.tril, strict=True)
    ]
    varpar_names += [f"theta[{name}]" for name in vc_names] + ["sigma"]
    engine.theta_names = varpar_names[:-1]
    vcov_varpar, jac, hess_ok = _satterthwaite_inputs(engine, varpar, messages)
    grad_ok = _check_gradient(engine, varpar, vcov_varpar, messages)
    if not clean_fit:
        messages.append(
            "the refined optimum "
            + ("passes" if hess_ok and grad_ok else "FAILS")
            + " lme4's checks (scaled gradient < 0.002, no negative deviance-Hessian eigenvalue"
            " unless the fit is singular)"
        )

    type3, type3_method = _type3_contrasts(design_info, clean, X, messages)

    intercept_like = {name: bool(np.all(re_frame[name].to_numpy() == 1.0)) for name in re_names}
    intercept_like.update({name: _is_indicator(vc_mats[j]) for j, name in enumerate(vc_names)})
    n_per_level = {groups: len(labels)}
    n_per_level.update(
        {name: int(sum(m.shape[1] for m in vc_mats[j])) for j, name in enumerate(vc_names)}
    )
    n_per_level["obs"] = len(clean)

    converged = bool(hess_ok and grad_ok)
    fit = MixedModelFit(
        result=res,
        model=model,
        data=clean,
        formula=formula,
        groups=groups,
        re_formula=re_formula,
        vc_formula=vc_formula,
        reml=reml,
        design_info=design_info,
        exog_names=exog_names,
        beta=pieces.beta.copy(),
        cov_beta=engine.cov_beta(varpar),
        cov_re=cov_re,
        vcomp=vcomp,
        scale=sigma**2,
        varpar=varpar,
        varpar_names=varpar_names,
        vcov_varpar=vcov_varpar,
        jac_cov_beta=jac,
        deviance=float(engine.deviance(varpar)),
        n_obs=len(clean),
        n_dropped=n_dropped,
        n_per_level=n_per_level,
        optimizer=method,
        converged=converged,
        statsmodels_converged=clean_fit,
        warnings=messages,
        re_names=re_names,
        intercept_like=intercept_like,
        n_excluded_groups=n_excluded_groups,
        _engine=engine,
        type3_contrasts=type3,
        type3_method=type3_method,
    )
    if not converged:
        warnings.warn(
            "mixed model fit is doubtful: " + "; ".join(messages[-3:]),
            ConvergenceWarning,
            stacklevel=2,
        )
    fit.fit_seconds = time.perf_counter() - start
    return fit


def _polish(engine: _Engine, theta0: np.ndarray) -> np.ndarray:
    """Bounded L-BFGS-B on the profiled deviance from a point near the optimum."""
    bounds = engine.theta_lower_bounds()
    best, best_dev = theta0, engine.profiled_deviance(theta0)
    for _ in range(3):
        res = optimize.minimize(
            engine.profiled_deviance,
            best,
            method="L-BFGS-B",
            jac="3-point",
            bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 500},
        )
        if not res.fun < best_dev - 1e-10:
            break
        best, best_dev = np.asarray(res.x), float(res.fun)
    return best


def _minimize_deviance(engine: _Engine, theta0: np.ndarray, search: bool = True) -> np.ndarray:
    """Minimize the profiled lme4 deviance over theta, within lme4's bounds.

    ``search=True``: a derivative-free bounded Powell search first (as lme4 uses the
    derivative-free BOBYQA), then L-BFGS-B polishing. A gradient method alone is unsafe from afar:
    the deviance depends on each variance-component factor only through its square, so theta = 0
    is always a stationary point, and a first step that lands on the bound stays there. Bounded
    components that end at zero are restarted once from 1 (lme4's start) and the better optimum
    kept.
    """
    bounds = engine.theta_lower_bounds()
    lower = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    theta0 = np.maximum(np.asarray(theta0, dtype=float), lower)
    if theta0.size == 0:
        return theta0

    def run(start: np.ndarray) -> np.ndarray:
        if search:
            res = optimize.minimize(
                engine.profiled_deviance,
                start,
                method="Powell",
                bounds=bounds,
                options={"xtol": 1e-8, "ftol": 1e-13, "maxfev": 50_000},
            )
            if res.fun < engine.profiled_deviance(start):
                start = np.maximum(np.asarray(res.x), lower)
        return _polish(engine, start)

    best = run(theta0)
    at_zero = np.isfinite(lower) & (best < 1e-6)
    if search and at_zero.any():
        restart = run(np.where(at_zero, 1.0, best))
        if engine.profiled_deviance(restart) < engine.profiled_deviance(best) - 1e-10:
            best = restart
    return best


def _statsmodels_start(engine: _Engine, theta: np.ndarray) -> MixedLMParams | None:
    """statsmodels starting values (covariances relative to the residual variance) from theta."""
    try:
        T = engine.t_matrix(theta)
        vc = theta[len(engine.tril[0]) :] ** 2
        return MixedLMParams.from_components(
            fe_params=engine.pieces(theta).beta, cov_re=T @ T.T, vcomp=vc
        )
    except Exception:
        return None


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
    if scale == "theta":
        point = varpar
        to_varpar = lambda v: v  # noqa: E731
    else:
        point = _varpar_to_variance(engine, varpar)
        to_varpar = lambda v: _variance_to_varpar(engine, v)  # noqa: E731
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
    return 2.0 * h_inv, jac, ok


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
    grad = _jacobian(lambda v: np.array(engine.deviance(v)), varpar)
    lower = [b[0] for b in engine.theta_lower_bounds()] + [None]
    for i, low in enumerate(lower):
        if low is not None and varpar[i] <= low + 1e-8 and grad[i] > 0:
            grad[i] = 0.0
    step = np.abs((vcov_varpar / 2.0) @ grad)
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


# ----------------------------------------------------------------------------------------------
# Inference
# ----------------------------------------------------------------------------------------------
def _satterthwaite_1d(fit: MixedModelFit, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variance and Satterthwaite df of each row of L (lmerTest ``contest1D``)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    var = np.einsum("ij,jk,ik->i", L, fit.cov_beta, L)
    grad = np.einsum("ij,vjk,ik->iv", L, fit.jac_cov_beta, L)
    denom = np.einsum("iv,vw,iw->i", grad, fit.vcov_varpar, grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denom > 0, 2.0 * var**2 / denom, np.inf)
    return var, df


def contrast(
    fit: MixedModelFit, L: np.ndarray, names: list[str] | None = None, level: float = 0.95
) -> pd.DataFrame:
    """t test of each row of ``L`` (a 1-df linear combination of the fixed effects).

    Returns estimate, se, df (Satterthwaite), t, p (two-sided) and a t-based CI at ``level``
    with that df — lmerTest's ``contest1D``, the base of the estimated-marginal-means comparisons.
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.shape[1] != len(fit.beta):
        raise ValueError(f"L has {L.shape[1]} columns; the model has {len(fit.beta)} fixed effects")
    if names is None:
        names = [f"contrast {i + 1}" for i in range(L.shape[0])]
    if len(names) != L.shape[0]:
        raise ValueError("names must give one name per row of L")
    estimate = L @ fit.beta
    var, df = _satterthwaite_1d(fit, L)
    se = np.sqrt(var)
    t = estimate / se
    p = 2.0 * stats.t.sf(np.abs(t), df)
    crit = stats.t.ppf(0.5 + level / 2.0, df)
    return pd.DataFrame(
        {
            "term": names,
            "estimate": estimate,
            "se": se,
            "df": df,
            "t": t,
            "p": p,
            "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se,
        }
    )


def coef_table(fit: MixedModelFit, level: float = 0.95) -> pd.DataFrame:
    """Fixed effects in the caller's coding: estimate, se, Satterthwaite df, t, p, t-based CI.

    The same numbers as ``summary()`` of an lmerTest fit (Kuznetsova et al. 2017).
    """
    return contrast(fit, np.eye(len(fit.beta)), list(fit.exog_names), level=level)


def _fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """lmerTest ``get_Fstat_ddf``: combine the per-eigenvector df of a multi-df F test."""
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - nu.size)


def _contest_md(fit: MixedModelFit, L: np.ndarray) -> tuple[float, int, float]:
    """Multi-df F test of ``L beta = 0`` with lmerTest's ``contestMD`` Satterthwaite df."""
    vl = L @ fit.cov_beta @ L.T
    evals, evecs = np.linalg.eigh((vl + vl.T) / 2.0)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    tol = max(np.sqrt(np.finfo(float).eps) * evals[0], 0.0)
    pos = evals > tol
    q = int(pos.sum())
    if q == 0:
        return np.nan, 0, np.nan
    ptl = (evecs.T @ L)[:q]
    t2 = (ptl @ fit.beta) ** 2 / evals[:q]
    f_value = float(t2.sum() / q)
    _, nu = _satterthwaite_1d(fit, ptl)
    return f_value, q, _fstat_ddf(nu)


def anova_table(fit: MixedModelFit) -> pd.DataFrame:
    """Type III F tests with Satterthwaite denominator df (lmerTest ``anova()`` default).

    The hypothesis matrices are those of lmerTest (see :func:`_type3_contrasts`), so the table does
    not depend on the caller's coding. Multi-df terms use lmerTest's ``contestMD`` (Fai &
    Cornelius 1996).
    """
    rows = []
    for label, L in fit.type3_contrasts.items():
        f_value, q, ddf = _contest_md(fit, L)
        rows.append(
            {
                "term": label,
                "F": f_value,
                "df_num": q,
                "df_den": ddf,
                "p": stats.f.sf(f_value, q, ddf) if q else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["term", "F", "df_num", "df_den", "p"])


def variance_components(fit: MixedModelFit) -> pd.DataFrame:
    """Variance components as lme4's ``as.data.frame(VarCorr())``: grp, var1, var2, vcov, sdcor."""
    rows = []
    names = fit.re_names
    for i, a in enumerate(names):
        v = float(fit.cov_re.iloc[i, i])
        rows.append({"grp": fit.groups, "var1": a, "var2": None, "vcov": v, "sdcor": np.sqrt(v)})
    for i, j in itertools.combinations(range(len(names)), 2):
        c = float(fit.cov_re.iloc[i, j])
        denom = np.sqrt(fit.cov_re.iloc[i, i] * fit.cov_re.iloc[j, j])
        rows.append(
            {
                "grp": fit.groups,
                "var1": names[i],
                "var2": names[j],
                "vcov": c,
                "sdcor": c / denom if denom > 0 else np.nan,
            }
        )
    for name, v in fit.vcomp.items():
        rows.append(
            {
                "grp": f"{fit.groups}:{name}",
                "var1": name,
                "var2": None,
                "vcov": v,
                "sdcor": np.sqrt(v),
            }
        )
    rows.append(
        {
            "grp": "Residual",
            "var1": None,
            "var2": None,
            "vcov": fit.scale,
            "sdcor": np.sqrt(fit.scale),
        }
    )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Estimated marginal means
# ----------------------------------------------------------------------------------------------
def _factor_columns(fit: MixedModelFit) -> tuple[dict[str, list], list[str]]:
    """Categorical data columns with their levels (model order) and numeric columns used."""
    categorical: dict[str, list] = {}
    numeric: list[str] = []
    for factor, info in fit.design_info.factor_infos.items():
        names = [n for n in patsy.eval.ast_names(factor.code) if n in fit.data.columns]
        if info.type == "categorical":
            if len(names) != 1:
                raise ValueError(
                    f"cannot build a reference grid for factor {factor.code!r}: "
                    "it must use exactly one data column"
                )
            categorical.setdefault(names[0], list(info.categories))
        else:
            numeric.extend(n for n in names if n not in numeric)
    numeric = [n for n in numeric if n not in categorical]
    return categorical, numeric


def _emm_basis(
    fit: MixedModelFit, factors: list[str]
) -> tuple[list[tuple], np.ndarray, dict[str, list]]:
    """Rows of L giving the EMM of every level combination of ``factors`` (equal weights)."""
    categorical, numeric = _factor_columns(fit)
    for name in factors:
        if name not in categorical:
            raise ValueError(
                f"{name!r} is not a categorical factor of the model; factors: {list(categorical)}"
            )
    names = list(categorical)
    grid = pd.DataFrame(list(itertools.product(*(categorical[n] for n in names))), columns=names)
    for name in numeric:
        grid[name] = float(pd.to_numeric(fit.data[name]).mean())
    X_grid = np.asarray(patsy.build_design_matrices([fit.design_info], grid, NA_action="raise")[0])
    keys = list(itertools.product(*(categorical[n] for n in factors)))
    key_of_row = list(grid[factors].itertuples(index=False, name=None))
    L = np.array([X_grid[[k == key for k in key_of_row]].mean(axis=0) for key in keys])
    return keys, L, categorical


def emmeans(
    fit: MixedModelFit, specs: list[str], by: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Estimated marginal means of the cells of ``specs`` (and ``by``), as R's emmeans.

    Each mean is the model prediction averaged with equal weight over the levels of the factors
    not named (covariates at their mean), with SE, Satterthwaite df and a t-based CI — what
    ``emmeans(model, ~ specs | by, lmer.df = "satterthwaite")`` reports.
    """
    if isinstance(specs, str):
        specs = [specs]
    factors = ([by] if by is not None else []) + list(specs)  # emmeans order: by outermost
    keys, L, _ = _emm_basis(fit, factors)
    res = contrast(fit, L, [str(k) for k in keys], level=level)
    out = pd.DataFrame(keys, columns=factors)[list(specs) + ([by] if by is not None else [])]
    out["emmean"] = res["estimate"].to_numpy()
    for column in ("se", "df", "ci_low", "ci_high"):
        out[column] = res[column].to_numpy()
    return out


def _contrast_pairs(levels: list, method: str, ref: Any) -> list[tuple[int, int]]:
    """(i, j) index pairs meaning level i minus level j, in emmeans' order."""
    n = len(levels)
    if method == "pairwise":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    if method in ("trt.vs.ctrl", "vs.first"):
        r = 0 if (ref is None or method == "vs.first") else levels.index(ref)
        return [(i, r) for i in range(n) if i != r]
    if method == "consec":
        return [(i + 1, i) for i in range(n - 1)]
    raise ValueError(f"unknown contrast method {method!r}: pairwise, trt.vs.ctrl, vs.first, consec")


def emm_contrasts(
    fit: MixedModelFit,
    factor: str,
    by: str | None = None,
    method: Literal["pairwise", "trt.vs.ctrl", "vs.first", "consec"] = "pairwise",
    adjust: Literal["sidak", "holm", "bonferroni", "fdr", "fdr_bh", "none"] = "sidak",
    ref: Any = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Contrasts of the estimated marginal means of ``factor``, within each level of ``by``.

    ``method``: ``pairwise`` (every level minus every later level), ``trt.vs.ctrl`` (every level
    minus ``ref``, default the first level), ``vs.first`` (minus the first level), ``consec``
    (each level minus the previous one). p values are adjusted within each ``by`` level (the
    family, as emmeans does). Confidence intervals are adjusted as emmeans adjusts them: Sidak
    level ``level^(1/m)`` for ``sidak``; Bonferroni ``1 - (1 - level)/m`` for ``bonferroni`` and
    for the step-wise methods (``holm``, ``fdr``), which have no interval form.
    """
    adjust_key = _ADJUST_ALIASES.get(adjust, adjust)
    if adjust_key not in ("sidak", "holm", "bonferroni", "fdr_bh", "none"):
        raise ValueError(f"unknown adjustment {adjust!r}: sidak, holm, bonferroni, fdr, none")
    factors = [factor] + ([by] if by is not None else [])
    keys, L, categorical = _emm_basis(fit, factors)
    levels = categorical[factor]
    if ref is not None and ref not in levels:
        raise ValueError(f"reference level {ref!r} is not a level of {factor!r}: {levels}")
    pairs = _contrast_pairs(levels, method, ref)
    by_levels = categorical[by] if by is not None else [None]
    frames = []
    for b in by_levels:
        index = {k[0]: i for i, k in enumerate(keys) if by is None or k[1] == b}
        rows = np.array([L[index[levels[i]]] - L[index[levels[j]]] for i, j in pairs])
        names = [f"{levels[i]} - {levels[j]}" for i, j in pairs]
        res = contrast(fit, rows, names, level=level)
        m = len(pairs)
        res["p_adj"] = adjust_pvalues(res["p"].to_numpy(), adjust_key)
        if adjust_key == "sidak":
            per_level = level ** (1.0 / m)
        elif adjust_key == "none":
            per_level = level
        else:
            per_level = 1.0 - (1.0 - level) / m
        crit = stats.t.ppf(0.5 + per_level / 2.0, res["df"].to_numpy())
        res["ci_low"] = res["estimate"] - crit * res["se"]
        res["ci_high"] = res["estimate"] + crit * res["se"]
        res.insert(0, "by_level", "" if b is None else b)
        res["n_tests"] = m
        frames.append(res)
    out = pd.concat(frames, ignore_index=True).rename(columns={"term": "contrast"})
    out.insert(0, "by", by if by is not None else "")
    out.insert(0, "factor", factor)
    out["ci_level"] = level
    out["adjust"] = adjust_key
    columns = ["factor", "by", "by_level", "contrast", "estimate", "se", "df", "t", "p", "p_adj"]
    return out[columns + ["ci_low", "ci_high", "ci_level", "adjust", "n_tests"]]


# ----------------------------------------------------------------------------------------------
# Rows of the project's statistics table
# ----------------------------------------------------------------------------------------------
def model_label(fit: MixedModelFit) -> str:
    """lme4-style description, e.g. 'distance_m ~ group * session + (1 | mouse); REML; ...'."""
    fixed = _strip_codings(fit.formula).strip()
    fixed = re.sub(r"\s+", " ", fixed)
    random = []
    if fit.re_formula is None or fit.re_formula.strip().lstrip("~").strip() == "1":
        random.append(f"(1 | {fit.groups})")
    else:
        random.append(
            f"({_strip_codings(fit.re_formula.strip().lstrip('~')).strip()} | {fit.groups})"
        )
    for name in sorted(fit.vc_formula):
        vcf = fit.vc_formula[name]
        match = _INDICATOR_VC.match(vcf)
        if match:
            nested = [match.group(1)] + re.findall(r"C\(\s*(\w+)\s*\)", match.group(2) or "")
            random.append(f"(1 | {fit.groups}:{':'.join(nested)})")
        else:
            random.append(f"({_strip_codings(vcf).strip()} | {fit.groups})")
    method = "REML" if fit.reml else "ML"
    return f"{fixed} + {' + '.join(random)}; {method}; Satterthwaite df"


def to_stats(
    fit: MixedModelFit,
    contrasts: pd.DataFrame | None = None,
    levels: Mapping[str, str] | None = None,
    *,
    include_anova: bool = True,
    include_coefficients: bool = False,
    between: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Rows for the project's statistics table (:func:`exneuro.stats.table.stats_frame`).

    * one ``test="lmm"`` row per type III F test (``statistic_name="F"``, ``df_num``/``df_den``);
    * optionally one ``test="lmm"`` row per fixed-effect coefficient (``t``, Satterthwaite df);
    * one ``test="emm_contrast"`` row per row of ``contrasts`` (from :func:`emm_contrasts`) with
      estimate, adjusted CI, t, df, p, p_adj, the correction named (e.g. ``"Sidak (3 tests)"``)
      and the standardized effect ``estimate / sqrt(total variance)`` named ``"d (total SD)"``.

    ``levels`` maps variance-component names to count columns, e.g. ``{"cell": "n_cells"}``;
    ``between`` names the between-group column whose groups are counted in ``n_by_group``.
    The caller fills ``analysis``, ``outcome`` and ``subset`` with ``label_rows``.
    """
    levels = dict(levels or {})
    unknown = sorted(set(levels) - set(fit.vc_formula))
    if unknown:
        raise ValueError(
            f"levels names unknown variance components {unknown}; known {sorted(fit.vc_formula)}"
        )
    bad = sorted(set(levels.values()) - {"n_cells", "n_segments"})
    if bad:
        raise ValueError(f"levels must map to 'n_cells' or 'n_segments', not {bad}")
    model = model_label(fit)
    common: dict[str, Any] = {
        "model": model,
        "n_mice": fit.n_per_level[fit.groups],
        "n_obs": fit.n_obs,
    }
    for name, column in levels.items():
        common[column] = fit.n_per_level[name]
    if fit.n_excluded_groups:
        common["n_excluded"] = fit.n_excluded_groups
    if between is not None:
        counts = fit.data.groupby(between, sort=True, observed=True)[fit.groups].nunique()
        common["n_by_group"] = "; ".join(f"{k}={int(v)}" for k, v in counts.items())
    base_note = (
        f"{'REML' if fit.reml else 'ML'} (lme4 deviance); Satterthwaite df (lmerTest method)"
        + (f"; {fit.n_dropped} rows with missing values dropped" if fit.n_dropped else "")
        + ("" if fit.converged else "; CONVERGENCE WARNING: " + " | ".join(fit.warnings))
    )
    records: list[dict[str, Any]] = []
    if include_anova:
        for row in anova_table(fit).itertuples(index=False):
            records.append(
                {
                    **common,
                    "test": "lmm",
                    "term": row.term,
                    "statistic_name": "F",
                    "statistic": row.F,
                    "df_num": row.df_num,
                    "df_den": row.df_den,
                    "p": row.p,
                    # F-to-eta-squared conversion (effectsize::F_to_eta2): F df1 / (F df1 + df2)
                    "effect_size": row.F * row.df_num / (row.F * row.df_num + row.df_den),
                    "effect_size_name": "partial eta^2 (from F and Satterthwaite df)",
                    "notes": "type III (sum-to-zero contrasts) F test; " + base_note,
                }
            )
    if include_coefficients:
        for row in coef_table(fit, level=level).itertuples(index=False):
            records.append(
                {
                    **common,
                    "test": "lmm",
                    "term": row.term,
                    "estimate": row.estimate,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "ci_level": level,
                    "statistic_name": "t",
                    "statistic": row.t,
                    "df_num": row.df,
                    "p": row.p,
                    "notes": "fixed-effect coefficient (caller's coding); " + base_note,
                }
            )
    if contrasts is not None and len(contrasts):
        total_sd = np.sqrt(fit.total_variance)
        slopes = [n for n, v in fit.intercept_like.items() if not v]
        es_note = "d = estimate / sqrt(sum of variance components)" + (
            f" (random-slope variances {slopes} excluded)" if slopes else ""
        )
        for row in contrasts.itertuples(index=False):
            term = row.contrast if not row.by else f"{row.contrast} | {row.by}={row.by_level}"
            correction = correction_label(row.adjust, int(row.n_tests))
            ci_note = {
                "sidak": "Sidak-adjusted CI",
                "none": "unadjusted CI",
            }.get(row.adjust, "Bonferroni-adjusted CI")
            records.append(
                {
                    **common,
                    "test": "emm_contrast",
                    "term": f"{row.factor}: {term}",
                    "estimate": row.estimate,
                    "ci_low": row.ci_low,
                    "ci_high": row.ci_high,
                    "ci_level": row.ci_level,
                    "statistic_name": "t",
                    "statistic": row.t,
                    "df_num": row.df,
                    "p": row.p,
                    "p_adj": row.p_adj,
                    "correction": correction,
                    "effect_size": row.estimate / total_sd,
                    "effect_size_name": "d (total SD)",
                    "notes": (
                        f"estimated marginal means (emmeans); {ci_note}; {es_note}; {base_note}"
                    ),
                }
            )
    return stats_frame(records)
