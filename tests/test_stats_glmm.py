"""GLMMs for counts equal R (glmmTMB 1.1.5 / lme4 1.1.31 glmer), and keep their size under the null.

References: tests/reference/model_output_r (make_reference.R section 6): simulated spine counts
(12 mice x 8 segments, NB counts, ``offset(log(length_um))``, ``(1 | mouse)``) as Poisson and NB2,
and R's cbpp (binomial with trials, ``(1 | herd)``). Tolerances as required of the package:
fixed effects and SEs 1e-3 relative, variance components 1e-2, LRT statistics 1e-3.
"""

from __future__ import annotations

import json
from pathlib import Path

import glmm
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from exneuro.stats.glmm_fit import compare_groups, glmm_group_test

REF = Path(__file__).parent / "reference" / "model_output_r"


@pytest.fixture(scope="module")
def r():
    return json.loads((REF / "r_results.json").read_text())


@pytest.fixture(scope="module")
def spines():
    return pd.read_csv(REF / "spine_counts.csv")


def check(comparison, ref, variance):
    fit = comparison.full
    np.testing.assert_allclose(fit.beta, ref["estimate"], rtol=1e-3)
    np.testing.assert_allclose(fit.se, ref["se"], rtol=1e-3)
    np.testing.assert_allclose(float(np.asarray(fit.varcorr[0])[0]), variance, rtol=1e-2)
    np.testing.assert_allclose(fit.loglik, ref["logLik"], rtol=1e-6)
    np.testing.assert_allclose(comparison.lrt[0], ref["lrt_chisq"], rtol=1e-3)


@pytest.mark.parametrize(
    ("family", "key", "also"),
    [("poisson", "tmb_poisson", "glmm_poisson"), ("negative_binomial", "glmm_nb", None)],
)
def test_spine_count_glmm_equals_r(spines, r, family, key, also):
    comparison, _ = compare_groups(
        spines,
        "spines",
        "group",
        ("control", "trained"),
        ["mouse", "segment"],
        family,
        exposure="length_um",
    )
    check(comparison, r[key], r[key]["mouse_var"])
    if also:  # lme4 glmer of the same model, to its own (finite-difference) precision
        np.testing.assert_allclose(comparison.full.beta, r[also]["estimate"], rtol=1e-4)
        np.testing.assert_allclose(comparison.full.se, r[also]["se"], rtol=1e-3)
        np.testing.assert_allclose(comparison.lrt[0], r[also]["lrt_chisq"], rtol=1e-3)
    if family == "negative_binomial":
        np.testing.assert_allclose(comparison.full.dispersion, r[key]["theta"], rtol=1e-3)
    rows = glmm_group_test(
        spines,
        "spines",
        "group",
        ("control", "trained"),
        ["mouse", "segment"],
        family,
        exposure="length_um",
        per=10,
    ).set_index("statistic_name")
    wald, lrt = rows.loc["t"], rows.loc["chi2"]
    np.testing.assert_allclose(np.log(wald["estimate"]), r[key]["estimate"][1], rtol=1e-3)
    np.testing.assert_allclose(wald["statistic"], r[key]["z"][1], rtol=1e-3)
    assert wald["df_num"] == 10  # 12 mice - 2 groups
    assert f"z p (glmer) = {r[key]['p'][1]:.4g}"[:19] in wald["notes"]
    np.testing.assert_allclose(lrt["statistic"], r[key]["lrt_chisq"], rtol=1e-3)
    assert wald["term"] == "trained / control" and wald["effect_size_name"] == "rate ratio"
    assert wald["fit_method"] == "Laplace" and wald["singular_fit"] == "no"
    assert wald["model"] == "spines ~ group + offset(log(length_um)) + (1 | mouse)"
    assert wald["variance_components"].startswith("mouse: ")


def test_binomial_glmm_with_trials_equals_glmmtmb(r):
    cbpp = pd.read_csv(REF / "cbpp.csv").astype({"period": str, "herd": str})
    comparison, _ = compare_groups(
        cbpp, "incidence", "period", ["1", "2", "3", "4"], ["herd"], "binomial", trials="size"
    )
    ref = r["tmb_binomial"]
    check(comparison, ref, ref["herd_var"])
    assert comparison.lrt[1] == 3


def _null_spine_study(rng, n_mice=12, n_neurons=3, n_segments=4):
    """Spine counts with real mouse-to-mouse variation and no group effect."""
    mice = np.arange(n_mice)
    mouse_effect = rng.normal(0.0, 0.3, n_mice)
    rows = n_mice * n_neurons * n_segments
    mouse = np.repeat(mice, n_neurons * n_segments)
    neuron = np.tile(np.repeat(np.arange(n_neurons), n_segments), n_mice)
    length = rng.uniform(20, 60, rows)
    mu = length / 10 * np.exp(np.log(1.5) + mouse_effect[mouse])
    return pd.DataFrame(
        {
            "mouse": [f"m{m}" for m in mouse],
            "neuron": [f"n{n}" for n in neuron],
            "segment": np.arange(rows).astype(str),
            "group": np.where(mouse < n_mice // 2, "control", "trained"),
            "length_um": length,
            "spines": rng.poisson(mu),
        }
    )


def test_glmm_false_positive_rate_over_200_null_spine_studies():
    """Mouse-level variation, no group effect, 6 mice per group: the GLMM's group test rejects at
    5 % +- 2 %; a Poisson GLM with segments as n (no mouse effect, R ``glm`` z test) rejects far
    more often, reported beside it. The likelihood-ratio rate is printed too."""
    rng = np.random.default_rng(20261204)
    glmm_rejects, lrt_rejects, naive_rejects = 0, 0, 0
    n_studies = 200
    for _ in range(n_studies):
        study = _null_spine_study(rng)
        rows = glmm_group_test(
            study,
            "spines",
            "group",
            ("control", "trained"),
            ["mouse", "neuron", "segment"],
            "poisson",
            exposure="length_um",
        )
        glmm_rejects += rows["p"].iloc[0] < 0.05
        lrt_rejects += rows["p"].iloc[1] < 0.05
        naive = glmm.fit(
            {"y": study["spines"].to_numpy(float), "g": study["group"].to_numpy()},
            "y ~ g",
            family="poisson",
            offset=np.log(study["length_um"].to_numpy()),
        )
        naive_rejects += 2.0 * stats.norm.sf(abs(naive.beta[1] / naive.se[1])) < 0.05
    glmm_rate, naive_rate = glmm_rejects / n_studies, naive_rejects / n_studies
    print(
        f"false-positive rate: GLMM {glmm_rate:.3f} (LRT {lrt_rejects / n_studies:.3f}), "
        f"segments-as-n Poisson GLM {naive_rate:.3f}"
    )
    assert 0.03 <= glmm_rate <= 0.07
    assert naive_rate > 0.3
