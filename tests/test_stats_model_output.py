"""What a mixed model is, read from the statistics table, equal to R (lme4 1.1.31, lmerTest 3.1.3).

Reference numbers: tests/reference/model_output_r (make_reference.R, r_results.json): singular
fits (lme4 isSingular) with the mouse-means test beside them, logLik/AIC/BIC, variance components,
ML likelihood-ratio tests, Benjamini-Yekutieli and the paired Wilcoxon exact/normal choice.
Declared families of tests are checked on small tables with hand-computed Holm/BH/BY numbers.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.cellular.nested import nested_group_statistics
from exneuro.errors import ConfigError
from exneuro.figures.legend import describe_row, describe_tests
from exneuro.stats import compare, families
from exneuro.stats import mixed as mx
from exneuro.stats.kenward_roger import kr_test
from exneuro.stats.mouse_level import attach_mouse_level
from exneuro.stats.table import stats_frame

REF = Path(__file__).parent / "reference" / "model_output_r"
SLEEP = Path(__file__).parent / "reference" / "sleepstudy" / "sleepstudy.csv"


@pytest.fixture(scope="module")
def r():
    return json.loads((REF / "r_results.json").read_text())


@pytest.fixture(scope="module")
def sleep():
    return pd.read_csv(SLEEP)


@pytest.fixture(scope="module")
def cells():
    return pd.read_csv(REF / "singular_cells.csv")


def close(got, want, rtol, atol=0.0):
    np.testing.assert_allclose(
        np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=atol
    )


def _fit_singular(cells):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mx.fit_lmm(cells, "value ~ C(group)", "mouse")


def test_singular_fit_is_detected_as_lme4_is_singular(cells, r):
    ref = r["singular"]
    assert ref["singular"] is True
    fit = _fit_singular(cells)
    assert fit.singular
    assert fit.singular_components == ["theta[mouse,mouse]"]
    close(fit.beta, ref["estimate"], 1e-6)
    close(mx.coef_table(fit)["se"], ref["se"], 1e-5)
    close(fit.loglike, ref["logLik"], 1e-8)
    close([fit.aic, fit.bic], [ref["AIC"], ref["BIC"]], 1e-8)
    close(fit.scale, ref["vc_vcov"][1], 1e-5)
    rows = mx.to_stats(fit, include_anova=False, include_coefficients=True)
    assert set(rows["singular_fit"]) == {"yes"}
    assert rows["notes"].str.contains("SINGULAR FIT").all()


def test_non_singular_fit_columns_equal_lme4(sleep, r):
    for reml, key in ((True, "sleep_reml"), (False, "sleep_ml")):
        ref = r[key]
        fit = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Days", reml=reml)
        assert not fit.singular and ref["singular"] is False
        rows = mx.to_stats(fit, include_coefficients=True)
        rows = rows[rows["statistic_name"] == "t"].set_index("term")
        assert set(rows["fit_method"]) == {"REML" if reml else "ML"}
        assert set(rows["df_method"]) == {"Satterthwaite"}
        assert set(rows["converged"]) == {"yes"}
        assert set(rows["singular_fit"]) == {"no"}
        close(rows["loglik"], ref["logLik"], 1e-8)
        close(rows["aic"], ref["AIC"], 1e-8)
        close(rows["bic"], ref["BIC"], 1e-8)
        close(rows.loc[["Intercept", "Days"], "se"], ref["se"], 1e-4)
        text = rows["variance_components"].iloc[0]
        parts = text.split("; ")
        assert [p.split(":")[0] for p in parts] == [
            "Subject",
            "Subject Days",
            "Subject corr(intercept, Days)",
            "Residual",
        ]
        vc = mx.variance_components(fit)
        close(vc["vcov"], ref["vc_vcov"], 1e-3)


def test_mouse_means_test_is_reported_beside_a_singular_fit(cells, r):
    ref = r["singular"]
    frame = cells.assign(segment=cells["cell"].astype(str))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = nested_group_statistics(
            frame,
            "value",
            "group",
            ["mouse", "cell"],
            ("control", "trained"),
            analyses=("lmm", "cluster"),
        ).set_index("test")
    lmm = rows.loc["lmm"]
    assert lmm["singular_fit"] == "yes"
    close(lmm["df_num"], ref["df"][1], 1e-6)  # 94 df for 12 mice: the number a reader must doubt
    close(lmm["p"], ref["p"][1], 1e-5)
    close(lmm["p_mouse_level"], ref["mouse_means_p"], 1e-10)
    close(rows.loc["welch_t_mouse_means", "p"], ref["mouse_means_p"], 1e-10)
    legend = describe_row(lmm.to_dict() | {"term": "trained - control"})
    assert "singular fit (a variance estimated at zero)" in legend
    assert "test on mouse means p = 0.002" in legend


def test_likelihood_ratio_tests_equal_lme4_anova(sleep, r):
    full = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Days", reml=False)
    no_days = mx.fit_lmm(sleep, "Reaction ~ 1", "Subject", re_formula="~Days", reml=False)
    got = mx.likelihood_ratio_test(no_days, full)
    close([got["chisq"], got["df"], got["p"]], list(r["lrt_fixed"].values()), 1e-4)
    intercept_only = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", reml=False)
    got = mx.likelihood_ratio_test(intercept_only, full)
    close([got["chisq"], got["df"], got["p"]], list(r["lrt_random"].values()), 1e-4)
    reml_full = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Days")
    reml_reduced = mx.fit_lmm(sleep, "Reaction ~ 1", "Subject", re_formula="~Days")
    with pytest.raises(ValueError, match="reml=False"):
        mx.likelihood_ratio_test(reml_reduced, reml_full)


def test_benjamini_yekutieli_equals_r_p_adjust(r):
    p = pd.to_numeric(pd.Series(r["by"]["p"]), errors="coerce").to_numpy(float)  # "NA" -> NaN
    want = pd.to_numeric(pd.Series(r["by"]["p_by"]), errors="coerce").to_numpy(float)
    assert np.isnan(p).sum() == 1
    close(compare.adjust_pvalues(p, "fdr_by"), want, 1e-12)
    assert compare.correction_label("fdr_by", 10) == "Benjamini-Yekutieli FDR (10 tests)"


def test_paired_wilcoxon_exact_below_50_pairs_normal_from_50(r):
    data = pd.read_csv(REF / "paired_50.csv")
    ref = r["wilcox_paired"]
    exact = compare.paired_test(data["before"][:49], data["after"][:49], test="wilcoxon").iloc[0]
    normal = compare.paired_test(data["before"], data["after"], test="wilcoxon").iloc[0]
    assert abs(exact["p"] - ref["p49"]) < 1e-8 and exact["statistic"] == ref["V49"]
    assert abs(normal["p"] - ref["p50"]) < 1e-8 and normal["statistic"] == ref["V50"]
    assert "exact" in exact["notes"] and "normal" in normal["notes"]


# ----------------------------------------------------------------------------------------------
# Declared families
# ----------------------------------------------------------------------------------------------
def _table():
    rows = [
        {
            "analysis": "treadmill",
            "outcome": "distance_m",
            "subset": "cohort=a",
            "test": "ancova",
            "term": "group",
            "p": 0.01,
        },
        {
            "analysis": "treadmill",
            "outcome": "distance_m",
            "subset": "cohort=b",
            "test": "ancova",
            "term": "group",
            "p": 0.04,
        },
        {
            "analysis": "treadmill",
            "outcome": "distance_m",
            "subset": "cohort=a",
            "test": "mixed_anova",
            "term": "session",
            "p": 0.001,
            "p_adj": 0.03,
            "correction": "Greenhouse-Geisser",
        },
        {
            "analysis": "spines",
            "outcome": "density",
            "subset": "spine_type=total",
            "test": "lmm",
            "term": "trained - control",
            "p": 0.03,
        },
        {
            "analysis": "spines",
            "outcome": "density",
            "subset": "spine_type=thin",
            "test": "emm_contrast",
            "term": "x",
            "p": 0.02,
            "p_adj": 0.06,
            "correction": "Sidak (3 tests)",
        },
    ]
    return stats_frame(rows)


def test_family_holm_across_analyses_uses_sphericity_corrected_p():
    declared = [
        {
            "id": "primary",
            "primary": True,
            "correction": "holm",
            "tests": [
                {"analysis": "treadmill", "test": "ancova"},
                {"analysis": "spines", "test": "lmm"},
            ],
        },
        {
            "id": "secondary",
            "correction": "fdr_by",
            "tests": [{"test": "mixed_anova"}, {"subset": "spine_type=thin"}],
        },
    ]
    out = families.apply_families(_table(), declared)
    # Holm over (0.01, 0.04, 0.03): 0.03, 0.06, 0.06
    close(out["p_family"].iloc[[0, 1, 3]], [0.03, 0.06, 0.06], 1e-12)
    assert list(out["family"].iloc[[0, 1, 3]]) == ["primary"] * 3
    assert set(out["primary"].iloc[[0, 1, 3]]) == {"yes"}
    assert set(out["family_correction"].iloc[[0, 1, 3]]) == {"Holm (3 tests)"}
    # BY over (0.03 GG-corrected, 0.02 raw): c2 = 1.5; sorted 0.02 -> 1.5*2/1*0.02 = 0.06,
    # 0.03 -> 1.5*2/2*0.03 = 0.045; step-up min: (0.045, 0.045)
    close(out["p_family"].iloc[[2, 4]], [0.045, 0.045], 1e-12)
    assert out["primary"].iloc[2] == "no"
    text = describe_row(out.iloc[0].to_dict())
    assert "p = 0.030" in text and "Holm-adjusted across primary family primary (3 tests)" in text


def test_family_declarations_that_cannot_be_honoured_stop_with_a_message():
    table = _table()
    with pytest.raises(ConfigError, match="analysis 'ephys' has no rows.*section disabled"):
        families.apply_families(table, [{"id": "x", "tests": [{"analysis": "ephys"}]}])
    with pytest.raises(ConfigError, match=r"families\[0\].*matches no row"):
        families.apply_families(table, [{"id": "x", "tests": [{"outcome": "distanse_m"}]}])
    twice = [
        {"id": "a", "tests": [{"test": "lmm"}]},
        {"id": "b", "tests": [{"analysis": "spines"}]},
    ]
    with pytest.raises(ConfigError, match="already belongs to family 'a'"):
        families.apply_families(table, twice)
    with pytest.raises(ConfigError, match="correction 'fdr'"):
        families.apply_families(
            table, [{"id": "a", "correction": "fdr", "tests": [{"test": "lmm"}]}]
        )
    assert families.apply_families(table, [])["family"].isna().all()


def test_legend_of_a_post_hoc_family_names_both_corrections():
    rows = families.apply_families(
        _table(), [{"id": "spine_types", "tests": [{"test": "emm_contrast"}]}]
    )
    text = describe_tests(rows[rows["test"] == "emm_contrast"])
    assert "Šidák-corrected (3 tests); stars show adjusted p" in text
    assert "p also Holm-adjusted across family spine_types (1 test)" in text


def test_kenward_roger_equals_pbkrtest(sleep, r):
    fit = mx.fit_lmm(sleep, "Reaction ~ Days", "Subject", re_formula="~Days")
    got = kr_test(fit, np.array([[0.0, 1.0]]))
    want = r["kr_sleep"]
    close(
        [got["F"], got["ddf"], got["p"], got["F_scaling"]],
        [want["F"], want["ddf"], want["p"], want["F_scaling"]],
        1e-4,
    )
    rows = mx.to_stats(fit, include_anova=False, include_coefficients=True, ddf="Kenward-Roger")
    coef = r["kr_sleep_coef"]
    close(rows["se"], coef["se"], 1e-4)
    close(rows["df_num"], coef["df"], 1e-3)
    close(rows["p"], coef["p"], 1e-3)
    assert set(rows["df_method"]) == {"Kenward-Roger"}
    assert rows["model"].str.endswith("Kenward-Roger df").all()


def test_kenward_roger_type3_anova_equals_lmertest():
    data = pd.read_csv(Path(__file__).parent / "reference" / "lmm_unbalanced" / "unbalanced.csv")
    want = json.loads((REF / "r_results.json").read_text())["kr_unbalanced"]
    fit = mx.fit_lmm(data, "distance_m ~ C(group) * C(session)", "mouse")
    rows = mx.to_stats(fit, ddf="Kenward-Roger").set_index("term").loc[want["term"]]
    close(rows["statistic"], want["F"], 1e-4)
    close(rows["df_num"], want["ndf"], 0)
    close(rows["df_den"], want["ddf"], 1e-3)
    close(rows["p"], want["p"], 1e-3)


def test_random_slope_at_a_nested_level_equals_lmer(r):
    """(1 | mouse) + (1 | mouse:cell) + (0 + current | mouse:cell): a slope per cell."""
    ref = r["nested_slope"]
    data = pd.read_csv(REF / "fi_cells.csv")
    fit = mx.fit_lmm(
        data,
        "rate ~ C(group) * current",
        "mouse",
        vc_formula={"cell": "0 + C(cell)", "cell_slope": "0 + C(cell):current"},
    )
    table = mx.coef_table(fit)
    close(table["estimate"], ref["estimate"], 1e-6)
    close(table["se"], ref["se"], 1e-4)
    close(table["df"], ref["df"], 1e-3)
    close(fit.loglike, ref["logLik"], 1e-8)
    want = dict(zip(ref["vc_grp"], ref["vc_vcov"], strict=True))
    close(
        [fit.vcomp["cell_slope"], fit.vcomp["cell"], float(fit.cov_re.iloc[0, 0]), fit.scale],
        [want["mouse.cell"], want["mouse.cell.1"], want["mouse"], want["Residual"]],
        1e-3,
    )
    assert not fit.singular and ref["singular"] is False


def test_legend_of_a_sphericity_corrected_family_member_names_both():
    out = families.apply_families(_table(), [{"id": "course", "tests": [{"test": "mixed_anova"}]}])
    row = out[out["test"] == "mixed_anova"].iloc[0].to_dict() | {"epsilon": 0.5}
    text = describe_row(row)
    assert "p = 0.030" in text  # the GG-corrected p, alone in its family
    assert (
        "Greenhouse-Geisser corrected (ε = 0.500), then Holm-adjusted across family course" in text
    )


def test_mouse_level_p_is_attached_beside_singular_fits():
    rows = [
        {
            "analysis": "ephys",
            "outcome": "gain",
            "subset": "cohort=p",
            "test": "lmm",
            "term": "group",
            "p": 1e-5,
            "singular_fit": "yes",
        },
        {
            "analysis": "ephys",
            "outcome": "gain",
            "subset": "cohort=p",
            "test": "welch_t_mouse_means",
            "term": "trained - sedentary",
            "p": 0.04,
        },
        {
            "analysis": "photometry",
            "outcome": "dff",
            "subset": "w=run",
            "test": "lmm",
            "term": "group:day",
            "p": 0.001,
            "singular_fit": "yes",
        },
        {
            "analysis": "photometry",
            "outcome": "dff",
            "subset": "w=run",
            "test": "mixed_anova",
            "term": "group:day",
            "p": 0.01,
            "p_adj": 0.02,
            "correction": "Greenhouse-Geisser",
        },
        {
            "analysis": "photometry",
            "outcome": "dff",
            "subset": "w=run",
            "test": "lmm",
            "term": "day",
            "p": 0.001,
            "singular_fit": "no",
        },
        {
            "analysis": "tables",
            "outcome": "x",
            "subset": "t=a",
            "test": "lmm",
            "term": "group",
            "p": 0.001,
            "singular_fit": "yes",
        },
    ]
    out = attach_mouse_level(stats_frame(rows))
    assert out["p_mouse_level"].iloc[0] == 0.04
    assert out["p_mouse_level"].iloc[2] == 0.02  # the GG-corrected p of the same term
    assert out["p_mouse_level"].iloc[[1, 3, 4, 5]].isna().all()


def test_type3_fallbacks_are_labelled_for_what_they_test(sleep, monkeypatch):
    from exneuro.stats import lmm_design

    def broken(*args, **kwargs):
        raise ValueError("construction failed")

    data = pd.read_csv(Path(__file__).parent / "reference" / "lmm_unbalanced" / "unbalanced.csv")
    monkeypatch.setattr(lmm_design, "_type3_lmertest", broken)
    fit = mx.fit_lmm(data, "distance_m ~ C(group) * C(session)", "mouse")
    assert fit.type3_method == "sum-coding"
    notes = mx.to_stats(fit)["notes"]
    assert notes.str.startswith(
        "F test of the term's sum-to-zero-coded coefficients (fallback"
    ).all()
    monkeypatch.setattr(lmm_design, "_type3_sum", broken)
    fit = mx.fit_lmm(data, "distance_m ~ C(group) * C(session)", "mouse")
    assert fit.type3_method == "caller-coding"
    notes = mx.to_stats(fit)["notes"]
    assert notes.str.contains("NOT a type III test").all()
    assert not notes.str.contains("type III F test (SAS", regex=False).any()
