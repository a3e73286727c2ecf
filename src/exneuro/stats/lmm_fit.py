"""Fitting a linear mixed model as lme4 does: the fit object and :func:`fit_lmm`.

lme4's profiled deviance is minimized directly (bounded Powell then L-BFGS-B), statsmodels
``MixedLM`` is run from that optimum as a second optimizer, and the better optimum is checked as
lme4 checks it. See :mod:`exneuro.stats.mixed` for the method and references.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import patsy
from patsy.design_info import DesignInfo
from scipy import optimize
from statsmodels.regression.mixed_linear_model import (
    MixedLM,
    MixedLMParams,
    MixedLMResults,
    VCSpec,
)
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from exneuro.stats.lmm_design import (
    _eval_env,
    _formula_columns,
    _is_indicator,
    _type3_contrasts,
    _vc_design,
)
from exneuro.stats.lmm_engine import (
    _check_gradient,
    _Engine,
    _satterthwaite_inputs,
    _singular_components,
)

#: statsmodels optimizers tried in turn until one converges without a convergence warning;
#: ``None`` is statsmodels' default (bfgs, then lbfgs, then cg).
OPTIMIZERS: tuple[str | None, ...] = (None, "lbfgs", "powell", "nm")


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
    singular_components: list[str] = field(default_factory=list)

    @property
    def singular(self) -> bool:
        """lme4 ``isSingular``: a bounded variance parameter (theta) below 1e-4, i.e. a variance
        (or a random-effect correlation's Cholesky diagonal) estimated on its boundary."""
        return bool(self.singular_components)

    @property
    def n_params(self) -> int:
        """Parameters counted by lme4's ``logLik`` df: fixed effects, theta and sigma."""
        return len(self.beta) + len(self.varpar)

    @property
    def aic(self) -> float:
        """lme4 ``AIC``: -2 logLik + 2 k (on the REML criterion for REML fits, as lme4)."""
        return self.deviance + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """lme4 ``BIC``: -2 logLik + log(n) k."""
        return self.deviance + np.log(self.n_obs) * self.n_params

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


def _run_statsmodels(
    model: MixedLM,
    reml: bool,
    start: MixedLMParams | None = None,
    optimizers: tuple[str | None, ...] = OPTIMIZERS,
) -> tuple[MixedLMResults | None, str, bool, list]:
    """Try the ``optimizers`` in turn; return the accepted result, its method, clean flag,
    messages.

    A run is accepted when statsmodels reports convergence, the log-likelihood is finite and no
    ``ConvergenceWarning`` was raised other than "the MLE may be on the boundary" (a singular fit,
    which the next optimizers would only confirm); otherwise the next optimizer is tried. If none
    is clean, the run with the highest finite log-likelihood is returned (its optimum is refined
    anyway).
    """
    messages: list[str] = []
    candidates = []
    for method in optimizers:
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
    optimizers in turn (default, lbfgs, powell, nm; only the default when lme4's own optimum
    passes lme4's checks); the better optimum is reported (see the module docstring). Every
    optimizer message is kept in ``fit.warnings``, and a ``ConvergenceWarning`` is raised if the
    final optimum fails lme4's convergence checks.

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
    own_ok = _passes_lme4_checks(engine, theta_own)
    optimizers = OPTIMIZERS[:1] if own_ok else OPTIMIZERS
    res, method, clean_fit, sm_messages = _run_statsmodels(model, reml, sm_start, optimizers)
    messages.extend(sm_messages)
    if own_ok and not clean_fit:
        messages.append(
            "statsmodels' other optimizers not tried: the optimum of lme4's criterion passes"
            " lme4's checks"
        )
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
        singular_components=_singular_components(engine, varpar),
    )
    if not converged:
        warnings.warn(
            "mixed model fit is doubtful: " + "; ".join(messages[-3:]),
            ConvergenceWarning,
            stacklevel=2,
        )
    fit.fit_seconds = time.perf_counter() - start
    return fit


def _passes_lme4_checks(engine: _Engine, theta: np.ndarray) -> bool:
    """Whether ``theta`` passes lme4's convergence checks (scaled gradient of the deviance
    below 0.002, no negative eigenvalue of its Hessian unless the fit is singular).

    An optimum that passes needs no second opinion from statsmodels' slower optimizers: they
    loop over groups in Python (Powell and Nelder-Mead take minutes at a thousand animals), and
    from an optimum on the boundary (a variance at zero) statsmodels cannot even start.
    """
    varpar = np.append(theta, np.sqrt(engine.sigma2_hat(theta)))
    scratch: list[str] = []
    vcov_varpar, _, hess_ok = _satterthwaite_inputs(engine, varpar, scratch)
    return bool(hess_ok and _check_gradient(engine, varpar, vcov_varpar, scratch))


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
