"""Tests of exneuro.stats.mixed against R lme4 / lmerTest / emmeans reference numbers.

References: ``reference/sleepstudy`` and ``reference/lme4_pastes`` (numbers in their READMEs, quoted
below) and ``reference/lmm_unbalanced`` (simulated unbalanced and nested designs; R output at full
precision in ``r_*.csv``, made by ``make_reference.R``).

Tolerances (relative): fixed effects and SE 1e-3, variance components 1e-2, Satterthwaite df 1e-2,
F 1e-3, p 1e-3. Planted effects, statistics-table rows and errors: ``test_stats_mixed_recovery.py``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from mixed_models import (
    REF,
    TOL_DF,
    TOL_F,
    TOL_FE,
    TOL_P,
    TOL_SE,
    TOL_VC,
    UNB,
    close,
    segments_fit,
    sleepstudy,
    sleepstudy_fit,
    unbalanced_design,
    unbalanced_fit,
    vc_value,
)
from scipy import stats

from exneuro.stats import lmm_engine
from exneuro.stats import mixed as mx


def r_name(name: str) -> str:
    """patsy column name -> lme4 name, e.g. C(g, Treatment('a'))[T.b] -> gb."""
    name = re.sub(r"C\((\w+)[^\[]*\)\[T\.(\w+)\]", r"\1\2", name)
    name = re.sub(r"(\w+)\[T\.(\w+)\]", r"\1\2", name)
    return "(Intercept)" if name == "Intercept" else name


# ----------------------------------------------------------------------------------------------
# data and fits
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return sleepstudy()


@pytest.fixture(scope="module")
def pastes() -> pd.DataFrame:
    return pd.read_csv(REF / "lme4_pastes" / "pastes.csv")


@pytest.fixture(scope="module")
def unbalanced() -> pd.DataFrame:
    return unbalanced_design()


@pytest.fixture(scope="module")
def r_ref() -> dict[str, pd.DataFrame]:
    return {
        kind: pd.read_csv(UNB / f"r_{kind}.csv")
        for kind in ("anova", "coef", "varcorr", "fit", "emmeans", "contrasts")
    }


@pytest.fixture(scope="module")
def fm1(sleep) -> mx.MixedModelFit:
    return sleepstudy_fit(sleep)


@pytest.fixture(scope="module")
def fm1_ml(sleep) -> mx.MixedModelFit:
    return mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Days", reml=False)


@pytest.fixture(scope="module")
def unb_fit(unbalanced) -> mx.MixedModelFit:
    return unbalanced_fit(unbalanced)


@pytest.fixture(scope="module")
def seg_fit() -> mx.MixedModelFit:
    return segments_fit()


def r_rows(r_ref, kind: str, model: str) -> pd.DataFrame:
    rows = r_ref[kind][r_ref[kind].model == model].reset_index(drop=True)
    assert len(rows), f"no R reference rows for {kind} {model}"
    return rows


def check_coefs(fit: mx.MixedModelFit, expected: pd.DataFrame) -> None:
    table = mx.coef_table(fit)
    table["rname"] = [r_name(t) for t in table.term]
    merged = expected.merge(table, left_on="term", right_on="rname", suffixes=("_r", ""))
    assert len(merged) == len(expected) == len(table), (list(table.rname), list(expected.term))
    close(merged.estimate, merged.estimate_r, TOL_FE)
    close(merged.se, merged.se_r, TOL_SE)
    close(merged.df, merged.df_r, TOL_DF)
    close(merged.t, merged.t_r, TOL_FE)
    close(merged.p, merged.p_r, TOL_P)


def check_anova(fit: mx.MixedModelFit, expected: pd.DataFrame) -> None:
    table = mx.anova_table(fit)
    assert list(table.term) == list(expected.term)
    close(table.F, expected.F, TOL_F)
    assert list(table.df_num) == list(expected.df_num)
    close(table.df_den, expected.df_den, TOL_DF)
    close(table.p, expected.p, TOL_P)


# ----------------------------------------------------------------------------------------------
# sleepstudy (README numbers, lme4 1.1-31 / lmerTest)
# ----------------------------------------------------------------------------------------------
def test_sleepstudy_random_slope_reml(fm1):
    table = mx.coef_table(fm1).set_index("term")
    close(table.estimate, [251.4051, 10.4673], TOL_FE)
    close(table.se, [6.8246, 1.5458], TOL_SE)
    close(table.t, [36.838, 6.771], TOL_FE)
    close(table.df, [16.99973, 16.99998], TOL_DF)
    close(table.loc["Days", "p"], 3.2638e-06, TOL_P)
    close(vc_value(fm1, "Subject"), 612.100, TOL_VC)
    close(vc_value(fm1, "Days"), 35.072, TOL_VC)
    close(vc_value(fm1, None), 654.940, TOL_VC)
    vc = mx.variance_components(fm1)
    corr = vc.loc[vc.var2 == "Days", "sdcor"].iloc[0]
    close(corr, 0.0655512382381282, TOL_VC)  # README: 0.066 (2 decimals); r_varcorr.csv
    close(fm1.deviance, 1743.628, 1e-6)  # REML criterion
    assert fm1.converged
    # the F test of a 1-df covariate term is the square of its t test
    anova = mx.anova_table(fm1)
    close(anova.F, [table.loc["Days", "t"] ** 2], 1e-10)
    close(anova.df_den, [table.loc["Days", "df"]], 1e-10)


@pytest.mark.parametrize("unit", [1e-9, 1e-6, 1e-3, 1e3, 1e6, 1e9])
def test_df_and_p_do_not_depend_on_the_units_of_the_data(sleep, unit):
    """Reaction time in kiloseconds or microseconds: the same Satterthwaite df, t and p as the
    README's lmerTest numbers (a recording in volts vs microvolts must not change a p-value)."""
    scaled = sleep.assign(Reaction=sleep["Reaction"] * unit)
    fit = mx.fit_lmm(scaled, "Reaction ~ Days", "Subject", re_formula="~Days")
    assert fit.converged
    table = mx.coef_table(fit).set_index("term")
    close(table.df, [16.99973, 16.99998], TOL_DF)
    close(table.t, [36.838, 6.771], TOL_FE)
    close(table.loc["Days", "p"], 3.2638e-06, TOL_P)
    close(table.se, np.array([6.8246, 1.5458]) * unit, TOL_SE)


def test_sleepstudy_ml(fm1, fm1_ml):
    close(fm1_ml.loglike, -875.9697, 1e-6)
    k = len(fm1_ml.beta) + len(fm1_ml.varpar)
    close(fm1_ml.deviance + 2 * k, 1763.939, 1e-6)  # AIC
    close(fm1_ml.deviance + np.log(fm1_ml.n_obs) * k, 1783.097, 1e-6)  # BIC
    close(vc_value(fm1_ml, "Subject"), 565.477, TOL_VC)
    close(vc_value(fm1_ml, "Days"), 32.682, TOL_VC)
    close(vc_value(fm1_ml, None), 654.946, TOL_VC)
    vc = mx.variance_components(fm1_ml)
    close(vc.loc[vc.var2 == "Days", "sdcor"].iloc[0], 0.081, TOL_VC)
    close(fm1_ml.beta, fm1.beta, 1e-6)  # balanced: fixed effects unchanged


def test_sleepstudy_random_intercept_and_lrt(sleep, fm1_ml):
    fit = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject")
    close(fit.deviance, 1786.465, 1e-6)
    close(vc_value(fit, "Subject"), 1378.18, TOL_VC)
    close(vc_value(fit, None), 960.46, TOL_VC)
    close(mx.coef_table(fit).set_index("term").loc["Days", "se"], 0.80422, TOL_SE)
    ml = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", reml=False)
    chisq = ml.deviance - fm1_ml.deviance
    close(chisq, 42.139, 1e-4)
    close(stats.chi2.sf(chisq, 2), 7.07e-10, TOL_P)


def test_sleepstudy_uncorrelated_slope(sleep):
    fit = mx.fit_lmm(
        sleep, "Reaction ~ Days", "Subject", re_formula="1", vc_formula={"Days": "0 + Days"}
    )
    close(fit.deviance, 1743.669, 1e-6)
    close(vc_value(fit, "Subject"), 627.569, TOL_VC)
    close(vc_value(fit, "Days"), 35.858, TOL_VC)
    close(vc_value(fit, None), 653.584, TOL_VC)
    assert fit.intercept_like == {"Subject": True, "Days": False}
    assert "(0 + Days | Subject)" in mx.model_label(fit)


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        ("sleepstudy fm1", {"re_formula": "~Days"}),
        ("sleepstudy fm1 ML", {"re_formula": "~Days", "reml": False}),
        ("sleepstudy intercept", {}),
        ("sleepstudy uncorrelated", {"re_formula": "1", "vc_formula": {"Days": "0 + Days"}}),
    ],
)
def test_sleepstudy_satterthwaite_every_coefficient(sleep, r_ref, model, kwargs):
    fit = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", **kwargs)
    check_coefs(fit, r_rows(r_ref, "coef", model))
    close(fit.deviance, r_rows(r_ref, "fit", model).deviance, 1e-7)


# ----------------------------------------------------------------------------------------------
# Pastes: three-level nesting (batch > cask > assay)
# ----------------------------------------------------------------------------------------------
def test_pastes_nested_reml(pastes, r_ref):
    fit = mx.fit_lmm(pastes, "strength ~ 1", "batch", vc_formula={"cask": "0 + C(cask)"})
    table = mx.coef_table(fit)
    close(table.estimate, [60.05333], TOL_FE)
    close(table.se, [0.67687], TOL_SE)
    close(table.df, r_rows(r_ref, "coef", "pastes").df, TOL_DF)  # 8.99999754
    close(table.p, r_rows(r_ref, "coef", "pastes").p, TOL_P)
    close(vc_value(fit, "cask"), 8.4337, TOL_VC)
    close(vc_value(fit, "batch"), 1.6573, TOL_VC)
    close(vc_value(fit, None), 0.6780, TOL_VC)
    close(fit.deviance, 246.9907, 1e-6)
    assert fit.n_per_level == {"batch": 10, "cask": 30, "obs": 60}
    assert "(1 | batch:cask)" in mx.model_label(fit)


def test_pastes_nested_ml_and_lrt(pastes):
    fit = mx.fit_lmm(
        pastes, "strength ~ 1", "batch", vc_formula={"cask": "0 + C(cask)"}, reml=False
    )
    close(vc_value(fit, "cask"), 8.4336, TOL_VC)
    close(vc_value(fit, "batch"), 1.1992, TOL_VC)
    close(vc_value(fit, None), 0.6780, TOL_VC)
    close(fit.loglike, -123.9972, 1e-6)
    close(fit.deviance, 247.9945, 1e-6)
    sample_only = mx.fit_lmm(pastes, "strength ~ 1", "sample", reml=False)
    chisq = sample_only.deviance - fit.deviance
    close(chisq, 0.4072, 1e-3)
    close(stats.chi2.sf(chisq, 1), 0.5234, TOL_P)


# ----------------------------------------------------------------------------------------------
# Unbalanced group x session with missing values (lmerTest, emmeans)
# ----------------------------------------------------------------------------------------------
def test_unbalanced_missing_rows_dropped_and_counted(unb_fit):
    assert unb_fit.n_dropped == 8
    assert unb_fit.n_obs == 84
    assert unb_fit.n_per_level["mouse"] == 23
    assert unb_fit.converged


def test_unbalanced_type3_anova(unb_fit, r_ref):
    check_anova(unb_fit, r_rows(r_ref, "anova", "unbalanced"))


@pytest.mark.parametrize(
    "formula",
    [
        "distance_m ~ C(group, Treatment('control')) * C(session)",
        "distance_m ~ C(group, Sum) * C(session, Sum)",
        "distance_m ~ C(group, Treatment('silenced')) * C(session, Treatment('s3'))",
        "distance_m ~ C(session) * C(group, Diff)",
    ],
)
def test_unbalanced_type3_anova_does_not_depend_on_coding(formula, r_ref):
    data = pd.read_csv(UNB / "unbalanced.csv")  # plain string columns, levels sorted by patsy
    fit = mx.fit_lmm(data, formula, "mouse")
    expected = r_rows(r_ref, "anova", "unbalanced").set_index("term")
    table = mx.anova_table(fit).set_index("term")
    table.index = [":".join(sorted(t.split(":"))) for t in table.index]
    expected = expected.loc[table.index]
    close(table.F, expected.F, TOL_F)
    close(table.df_den, expected.df_den, TOL_DF)
    close(table.p, expected.p, TOL_P)


def test_unbalanced_coefficients_treatment_coding(unb_fit, r_ref):
    check_coefs(unb_fit, r_rows(r_ref, "coef", "unbalanced"))


def test_unbalanced_coefficients_user_coding_kept(r_ref):
    data = pd.read_csv(UNB / "unbalanced.csv")
    fit = mx.fit_lmm(data, "distance_m ~ C(group, Treatment('control')) * C(session)", "mouse")
    check_coefs(fit, r_rows(r_ref, "coef", "unbalanced"))
    # sum coding: same order of columns as R's contr.sum (last level omitted)
    fit_sum = mx.fit_lmm(
        data.assign(
            group=pd.Categorical(data.group, categories=["control", "silenced", "activated"])
        ),
        "distance_m ~ C(group, Sum) * C(session, Sum)",
        "mouse",
    )
    expected = r_rows(r_ref, "coef", "unbalanced_sum")
    table = mx.coef_table(fit_sum)
    close(table.estimate, expected.estimate, TOL_FE)
    close(table.se, expected.se, TOL_SE)
    close(table.df, expected.df, TOL_DF)
    close(table.p, expected.p, TOL_P)


def test_unbalanced_variance_components_and_criterion(unb_fit, r_ref):
    expected = r_rows(r_ref, "varcorr", "unbalanced")
    close(vc_value(unb_fit, "mouse"), expected.vcov[0], TOL_VC)
    close(vc_value(unb_fit, None), expected.vcov[1], TOL_VC)
    close(unb_fit.deviance, r_rows(r_ref, "fit", "unbalanced").deviance, 1e-7)


def test_unbalanced_ml(unbalanced, r_ref):
    fit = mx.fit_lmm(unbalanced, "distance_m ~ group * session", "mouse", reml=False)
    check_anova(fit, r_rows(r_ref, "anova", "unbalanced_ml"))
    expected = r_rows(r_ref, "varcorr", "unbalanced_ml")
    close(vc_value(fit, "mouse"), expected.vcov[0], TOL_VC)
    close(vc_value(fit, None), expected.vcov[1], TOL_VC)
    close(fit.loglike, r_rows(r_ref, "fit", "unbalanced_ml").logLik, 1e-7)


@pytest.mark.parametrize(
    ("model", "levels", "re_formula"),
    [
        ("covariate", ["control", "silenced", "activated"], None),
        ("covariate_alpha", ["activated", "control", "silenced"], None),
        ("covariate_slope", ["control", "silenced", "activated"], "~day"),
    ],
)
def test_covariate_by_factor_type3(r_ref, model, levels, re_formula):
    # lmerTest's multi-df df depends on the basis of the hypothesis (here, on the level order:
    # 50.528 vs 50.518 for the group test); the basis is reproduced, so both orders match.
    data = pd.read_csv(UNB / "unbalanced.csv")
    data["day"] = 7.0 * data.session.str[1:].astype(float)
    data["group"] = pd.Categorical(data.group, categories=levels)
    fit = mx.fit_lmm(data, "distance_m ~ group * day", "mouse", re_formula=re_formula)
    assert fit.type3_method == "lmerTest"
    check_anova(fit, r_rows(r_ref, "anova", model))
    check_coefs(fit, r_rows(r_ref, "coef", model))
    expected = r_rows(r_ref, "varcorr", model)
    close(vc_value(fit, "mouse"), expected.vcov[0], TOL_VC)
    close(vc_value(fit, None), expected.vcov.iloc[-1], TOL_VC)
    close(fit.deviance, r_rows(r_ref, "fit", model).deviance, 1e-7)
    # the basis of the hypothesis matters at the 1e-4 level (50.528 vs 50.518 between the two level
    # orders), so the contestMD df must match much more tightly than TOL_DF to show it is lmerTest's
    close(mx.anova_table(fit).df_den, r_rows(r_ref, "anova", model).df_den, 2e-5)
    if re_formula:  # singular fit: slope variance tiny, correlation -1, reported as boundary
        close(vc_value(fit, "day"), expected.vcov[1], TOL_VC)
        assert any("boundary (singular) fit" in w for w in fit.warnings)
        assert fit.converged


def test_single_term_model(unbalanced, r_ref):
    fit = mx.fit_lmm(unbalanced, "distance_m ~ group", "mouse")
    check_anova(fit, r_rows(r_ref, "anova", "group_only"))
    check_coefs(fit, r_rows(r_ref, "coef", "group_only"))


def test_unbalanced_emmeans(unb_fit, r_ref):
    expected = r_rows(r_ref, "emmeans", "unbalanced group|session")
    table = mx.emmeans(unb_fit, ["group"], by="session")
    assert list(table.group) == list(expected.level)
    assert list(table.session) == list(expected.by)
    close(table.emmean, expected.emmean, TOL_FE)
    close(table.se, expected.se, TOL_SE)
    close(table.df, expected.df, TOL_DF)
    close(table.ci_low, expected.ci_low, TOL_FE)
    close(table.ci_high, expected.ci_high, TOL_FE)
    # averaged over sessions with equal weights (not weighted by the unequal cell counts)
    expected = r_rows(r_ref, "emmeans", "unbalanced group")
    table = mx.emmeans(unb_fit, ["group"])
    close(table.emmean, expected.emmean, TOL_FE)
    close(table.se, expected.se, TOL_SE)
    close(table.df, expected.df, TOL_DF)


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        *[
            ("unbalanced pairwise group|session", {"factor": "group", "by": "session", "adjust": a})
            for a in ("sidak", "bonferroni", "holm", "fdr", "none")
        ],
        (
            "unbalanced trt.vs.ctrl session|group",
            {"factor": "session", "by": "group", "method": "trt.vs.ctrl", "adjust": "sidak"},
        ),
        (
            "unbalanced consec session|group",
            {"factor": "session", "by": "group", "method": "consec", "adjust": "holm"},
        ),
        ("unbalanced pairwise group", {"factor": "group", "adjust": "sidak"}),
    ],
)
def test_unbalanced_emm_contrasts(unb_fit, r_ref, model, kwargs):
    expected = r_rows(r_ref, "contrasts", model)
    r_adjust = {"fdr": "fdr"}.get(kwargs["adjust"], kwargs["adjust"])
    expected = expected[expected.adjust == r_adjust].reset_index(drop=True)
    table = mx.emm_contrasts(unb_fit, **kwargs)
    assert list(table.contrast) == list(expected.contrast)
    assert list(table.by_level) == list(expected.by.fillna(""))
    close(table.estimate, expected.estimate, TOL_FE)
    close(table.se, expected.se, TOL_SE)
    close(table.df, expected.df, TOL_DF)
    close(table.t, expected.t, TOL_FE)
    close(table.p, expected.p, TOL_P)
    close(table.p_adj, expected.p_adj, TOL_P)
    close(table.ci_low, expected.ci_low, TOL_FE)
    close(table.ci_high, expected.ci_high, TOL_FE)


def test_contrast_reproduces_coefficient_tests(unb_fit):
    L = np.zeros((2, len(unb_fit.beta)))
    L[0, 1] = 1.0
    L[1, 1], L[1, 2] = 1.0, -1.0
    res = mx.contrast(unb_fit, L, ["b1", "b1 - b2"])
    coefs = mx.coef_table(unb_fit)
    close(
        res.loc[0, ["estimate", "se", "df", "p"]].astype(float),
        coefs.loc[1, ["estimate", "se", "df", "p"]].astype(float),
        1e-12,
    )
    assert res.loc[1, "estimate"] == pytest.approx(unb_fit.beta[1] - unb_fit.beta[2])
    with pytest.raises(ValueError, match="columns"):
        mx.contrast(unb_fit, np.ones((1, 3)))


def test_satterthwaite_df_does_not_depend_on_parametrization(unb_fit, fm1, seg_fit):
    for fit in (unb_fit, fm1, seg_fit):
        A, J, ok = lmm_engine._satterthwaite_inputs(fit._engine, fit.varpar, [], scale="variance")
        assert ok
        other = mx.MixedModelFit(**{**fit.__dict__, "vcov_varpar": A, "jac_cov_beta": J})
        close(mx.coef_table(other).df, mx.coef_table(fit).df, 1e-3)
        if len(mx.anova_table(fit)):
            close(mx.anova_table(other).df_den, mx.anova_table(fit).df_den, 1e-3)


# ----------------------------------------------------------------------------------------------
# Nested designs: cells within mice, segments within cells within mice
# ----------------------------------------------------------------------------------------------
def test_cells_within_mice(r_ref):
    data = pd.read_csv(UNB / "nested_cells.csv")
    fit = mx.fit_lmm(data, "y ~ C(group)", "mouse")
    check_anova(fit, r_rows(r_ref, "anova", "cells"))
    check_coefs(fit, r_rows(r_ref, "coef", "cells"))
    expected = r_rows(r_ref, "varcorr", "cells")
    close(vc_value(fit, "mouse"), expected.vcov[0], TOL_VC)
    close(vc_value(fit, None), expected.vcov[1], TOL_VC)
    close(fit.deviance, r_rows(r_ref, "fit", "cells").deviance, 1e-7)
    assert fit.converged


def test_segments_within_cells_within_mice(seg_fit, r_ref):
    check_anova(seg_fit, r_rows(r_ref, "anova", "segments"))
    check_coefs(seg_fit, r_rows(r_ref, "coef", "segments"))
    expected = r_rows(r_ref, "varcorr", "segments").set_index("grp").vcov
    close(vc_value(seg_fit, "cell"), expected["cell:mouse"], TOL_VC)
    close(vc_value(seg_fit, "mouse"), expected["mouse"], TOL_VC)
    close(vc_value(seg_fit, None), expected["Residual"], TOL_VC)
    close(seg_fit.deviance, r_rows(r_ref, "fit", "segments").deviance, 1e-7)
    assert seg_fit.n_per_level == {"mouse": 10, "cell": 69, "obs": 249}
    expected = r_rows(r_ref, "contrasts", "segments trt.vs.ctrl group")
    table = mx.emm_contrasts(seg_fit, "group", method="trt.vs.ctrl", adjust="none")
    assert list(table.contrast) == list(expected.contrast)
    for column in ("estimate", "se", "t", "ci_low", "ci_high"):
        close(table[column], expected[column], TOL_FE)
    close(table.df, expected.df, TOL_DF)
    close(table.p, expected.p, TOL_P)


def test_segments_ml(r_ref):
    data = pd.read_csv(UNB / "nested_segments.csv")
    fit = mx.fit_lmm(
        data, "density ~ C(group)", "mouse", vc_formula={"cell": "0 + C(cell)"}, reml=False
    )
    check_anova(fit, r_rows(r_ref, "anova", "segments_ml"))
    check_coefs(fit, r_rows(r_ref, "coef", "segments_ml"))
    expected = r_rows(r_ref, "varcorr", "segments_ml").set_index("grp").vcov
    close(vc_value(fit, "cell"), expected["cell:mouse"], TOL_VC)
    close(vc_value(fit, "mouse"), expected["mouse"], TOL_VC)
    close(fit.loglike, r_rows(r_ref, "fit", "segments_ml").logLik, 1e-7)


def test_cell_labels_need_only_be_unique_within_mouse():
    data = pd.read_csv(UNB / "nested_segments.csv")
    unique_ids = data.assign(cell=data.mouse + "_" + data.cell)
    a = mx.fit_lmm(data, "density ~ C(group)", "mouse", vc_formula={"cell": "0 + C(cell)"})
    b = mx.fit_lmm(unique_ids, "density ~ C(group)", "mouse", vc_formula={"cell": "0 + C(cell)"})
    close(b.varpar, a.varpar, 1e-6)
    # the general (patsy) path for a variance component gives the same fit as the indicator path
    c = mx.fit_lmm(data, "density ~ C(group)", "mouse", vc_formula={"cell": "0 + C(cell) + 0"})
    close(c.varpar, a.varpar, 1e-6)
