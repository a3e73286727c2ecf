"""Counts as counts: generalized linear mixed models for spines per segment and positive cells.

Spines counted on a segment of known length are counts with an exposure; marker-positive neurons
among labelled ones are successes out of trials. Their analysis is a generalized linear mixed
model with the mouse (and the neuron within it) as random intercepts: Poisson or negative
binomial (NB2, variance ``mu + mu^2/theta``) with ``offset(log(length))``, or binomial with the
labelled total as trials — R's ``glmer``/``glmmTMB``. Fits are by the Laplace approximation, as
``glmer(nAGQ = 1)`` and glmmTMB do, with the package ``glmm`` (numpy only; it agrees with glmmTMB
to ~1e-5 on fixed effects, SEs and variances, see ``tests/test_stats_glmm.py``).

For a two-group comparison this module reports, as statistics-table rows:

* the Wald test of the group coefficient, with the estimate **on the response scale** — the
  rate ratio (Poisson, NB) or odds ratio (binomial), treated / control, with its Wald CI — and
  the model-estimated control and treated densities (or proportions) at random effects 0. The
  group is a mouse-level factor and mice are few, so the Wald statistic is referred to a t
  distribution on the between-mouse df (mice - 2; SAS GLIMMIX ``ddfm=betwithin``) rather than
  glmer's normal z, which rejects a true null about 9 % of the time with 6 mice per group (the
  z p is kept in the notes);
* the likelihood-ratio test of the group term (``anova(glmer0, glmer1)``: chi-square on 1 df).

Rows carry the fit columns (Laplace, convergence, singular fit, variance components, logLik,
AIC, BIC) like every mixed model of the table.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import glmm
import numpy as np
import pandas as pd
from scipy import stats

from exneuro.stats.table import format_n_by_group, stats_frame

__all__ = ["FAMILIES", "GlmmComparison", "glmm_group_test"]

#: family name in the config -> (glmm family, test name, ratio name)
FAMILIES = {
    "poisson": ("poisson", "glmm_poisson", "rate ratio"),
    "negative_binomial": ("negativebinomial", "glmm_nb", "rate ratio"),
    "binomial": ("binomial", "glmm_binomial", "odds ratio"),
}


class GlmmComparison:
    """The full and group-free fits of one two-group GLMM comparison."""

    def __init__(self, full, reduced, family: str, formula: str) -> None:
        self.full, self.reduced, self.family, self.formula = full, reduced, family, formula

    @property
    def lrt(self) -> tuple[float, int, float]:
        """Likelihood-ratio chi-square, its df and p (lme4 ``anova(reduced, full)``)."""
        chisq = max(2.0 * (self.full.loglik - self.reduced.loglik), 0.0)
        df = int(self.full.df - self.reduced.df)
        return chisq, df, float(stats.chi2.sf(chisq, df))

    def variance_text(self) -> str:
        """'mouse: 0.0675 (SD 0.26); mouse:neuron: 0 (SD 0)' (+ NB theta)."""
        parts = []
        for (name, _), packed in zip(self.full.re_groups, self.full.varcorr, strict=True):
            variance = float(np.asarray(packed, dtype=float)[0])
            parts.append(f"{name}: {variance:.6g} (SD {np.sqrt(variance):.4g})")
        if self.family == "negative_binomial":
            parts.append(f"NB theta: {self.full.dispersion:.6g}")
        return "; ".join(parts)


def _fit(data: dict, formula: str, family: str, offset: np.ndarray | None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = glmm.fit(data, formula, family=FAMILIES[family][0], offset=offset)
    messages = [str(w.message).splitlines()[0] for w in caught if "Singular" not in str(w.message)]
    return fit, messages


def compare_groups(
    frame: pd.DataFrame,
    response: str,
    group: str,
    labels: Sequence[str],
    levels: Sequence[str],
    family: str,
    exposure: str | None = None,
    trials: str | None = None,
) -> tuple[GlmmComparison, list[str]]:
    """Fit ``response ~ group (+ offset(log(exposure))) + (1 | l0) + (1 | l0:l1) ...`` and the
    model without the group; every level with replicate rows gets a random intercept. ``labels``
    are the group levels, the first being the reference (control)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown GLMM family '{family}'; choose from {list(FAMILIES)}")
    data = {
        "y": frame[response].to_numpy(float),
        "g": pd.Categorical(frame[group].astype(str), categories=list(labels)),
    }
    terms = []
    for k in range(len(levels)):
        key = frame[list(levels[: k + 1])].astype(str).agg(":".join, axis=1)
        if k == 0 or key.nunique() < len(frame):
            data[f"l{k}"] = key.to_numpy()
            terms.append(f"(1 | l{k})")
    lhs = "y"
    if family == "binomial":
        if trials is None:
            raise ValueError("a binomial GLMM needs the trials column (labelled cells)")
        data["f"] = frame[trials].to_numpy(float) - data["y"]
        if np.any(data["f"] < 0):
            raise ValueError(f"{response} exceeds {trials} in some rows")
        lhs = "cbind(y, f)"
    offset = None
    if exposure is not None:
        length = frame[exposure].to_numpy(float)
        if np.any(~(length > 0)):
            raise ValueError(f"exposure column '{exposure}' must be positive")
        offset = np.log(length)
    random = " + ".join(terms)
    full, messages = _fit(data, f"{lhs} ~ g + {random}", family, offset)
    reduced, more = _fit(data, f"{lhs} ~ 1 + {random}", family, offset)
    names = {f"l{k}": ":".join(levels[: k + 1]) for k in range(len(levels))}
    shown = " + ".join(f"(1 | {names[t[5:-1]]})" for t in terms)
    offset_text = f" + offset(log({exposure}))" if exposure else ""
    response_text = f"cbind({response}, {trials} - {response})" if trials else response
    formula = f"{response_text} ~ {group}{offset_text} + {shown}"
    full.re_groups = [(names[name], terms_) for name, terms_ in full.re_groups]
    return GlmmComparison(full, reduced, family, formula), messages + more


def glmm_group_test(
    frame: pd.DataFrame,
    response: str,
    group: str,
    labels: tuple[str, str],
    levels: Sequence[str],
    family: str,
    exposure: str | None = None,
    trials: str | None = None,
    per: float = 1.0,
    level: float = 0.95,
    rate_unit: str | None = None,
) -> pd.DataFrame:
    """Two statistics-table rows (Wald on the response scale, LRT) of treated vs control.

    ``per`` scales the reported model-estimated rates (10 for spines per 10 µm); binomial rates
    are proportions in %.
    """
    comparison, messages = compare_groups(
        frame, response, group, labels, levels, family, exposure, trials
    )
    fit = comparison.full
    b, se = float(fit.beta[1]), float(fit.se[1])
    df_between = int(frame[levels[0]].nunique()) - 2
    if df_between < 1:
        raise ValueError(f"{response}: a GLMM group test needs at least 3 {levels[0]}s")
    crit = stats.t.ppf(0.5 + level / 2.0, df_between)
    z = b / se
    _, test, ratio_name = FAMILIES[family]
    if family == "binomial":

        def scale(eta):
            return 100.0 / (1.0 + np.exp(-eta))

        unit = "% positive"
    else:

        def scale(eta):
            return per * np.exp(eta)

        unit = rate_unit or f"per {per:g} {exposure or 'unit'}"
    means = f"{labels[0]} {scale(fit.beta[0]):.4g}, {labels[1]} {scale(fit.beta[0] + b):.4g} {unit}"
    chisq, df, p_lrt = comparison.lrt
    mice = frame.groupby(group)[levels[0]].nunique()
    common = {
        "test": test,
        "model": comparison.formula,
        "fit_method": "Laplace",
        "converged": "yes" if fit.converged else "no",
        "singular_fit": "yes" if fit.singular else "no",
        "variance_components": comparison.variance_text(),
        "loglik": fit.loglik,
        "aic": fit.aic,
        "bic": fit.bic,
        "n_mice": int(frame[levels[0]].nunique()),
        "n_obs": len(frame),
        "n_by_group": format_n_by_group({g: int(mice.get(g, 0)) for g in labels}),
    }
    note = (
        f"GLMM ({family.replace('_', ' ')}, Laplace approximation as glmer/glmmTMB); "
        f"model-estimated {means} (random effects 0); log {ratio_name} = {b:.4g} (SE {se:.4g})"
        + ("; CONVERGENCE WARNING" if not fit.converged else "")
        + ("; SINGULAR FIT: a variance estimated at zero (lme4 isSingular)" if fit.singular else "")
        + (f"; warnings: {' | '.join(sorted(set(messages)))}" if messages else "")
    )
    wald = {
        **common,
        "term": f"{labels[1]} / {labels[0]}",
        "estimate": np.exp(b),
        "ci_low": np.exp(b - crit * se),
        "ci_high": np.exp(b + crit * se),
        "ci_level": level,
        "statistic_name": "t",
        "statistic": z,
        "df_num": df_between,
        "p": float(2.0 * stats.t.sf(abs(z), df_between)),
        "df_method": "between-mouse (mice - 2)",
        "effect_size": np.exp(b),
        "effect_size_name": ratio_name,
        "notes": (
            f"Wald test on the between-mouse df, estimate = {ratio_name} ({labels[1]} / "
            f"{labels[0]}); z p (glmer) = {2.0 * stats.norm.sf(abs(z)):.4g}; {note}"
        ),
    }
    lrt = {
        **common,
        "term": f"{group} (likelihood ratio)",
        "statistic_name": "chi2",
        "statistic": chisq,
        "df_num": df,
        "p": p_lrt,
        "df_method": "chi-square (LRT)",
        "notes": f"likelihood-ratio test of the group term (anova(reduced, full)); {note}",
    }
    return stats_frame([wald, lrt])
