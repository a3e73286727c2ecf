"""GLS with AR(1) residuals within subject equals R nlme 3.1.162 ``gls(corAR1())`` to 1e-4.

Reference: nlme's BodyWeight (weekly body mass of 16 rats on three diets), fitted in
tests/reference/model_output_r/make_reference.R by REML and ML with
``correlation = corAR1(form = ~ 1 | Rat)``; marginal F tests of the model in sum-to-zero coding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exneuro.stats.gls import fit_gls_ar1, gls_to_stats

REF = Path(__file__).parent / "reference" / "model_output_r"
NAMES = {
    "Intercept": "(Intercept)",
    "Time": "Time",
    "C(Diet)[T.2]": "Diet2",
    "C(Diet)[T.3]": "Diet3",
    "Time:C(Diet)[T.2]": "Time:Diet2",
    "Time:C(Diet)[T.3]": "Time:Diet3",
}
TOL = 1e-4


@pytest.fixture(scope="module")
def body_weight():
    return pd.read_csv(REF / "body_weight.csv")


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_gls_ar1_equals_nlme(body_weight, method):
    ref = json.loads((REF / "r_results.json").read_text())[f"gls_{method}"]
    fit = fit_gls_ar1(body_weight, "weight ~ Time * C(Diet)", "Rat", reml=method == "REML")
    want = pd.DataFrame({k: ref[k] for k in ("term", "estimate", "se", "t", "p")}).set_index("term")
    got = fit.coef_table().set_index("term").rename(index=NAMES).loc[want.index]
    for column in ("estimate", "se", "t", "p"):
        np.testing.assert_allclose(got[column], want[column], rtol=TOL)
    np.testing.assert_allclose(
        [fit.phi, fit.sigma, fit.loglik, fit.aic, fit.bic],
        [ref["phi"], ref["sigma"], ref["logLik"], ref["AIC"], ref["BIC"]],
        rtol=TOL,
    )
    assert fit.df_resid == ref["df_resid"] == 170
    pairs = zip(ref["marginal_F"], ref["marginal_p"], strict=True)
    marginal = dict(zip(ref["marginal_term"], pairs, strict=True))
    anova = fit.anova.set_index("term")
    for term in ("Time", "Diet", "Time:Diet"):
        np.testing.assert_allclose(
            anova.loc[term, ["F", "p"]].astype(float), marginal[term], rtol=TOL
        )
    rows = gls_to_stats(fit, include_coefficients=True)
    assert set(rows["test"]) == {"gls_ar1"}
    assert rows["model"].iloc[0].endswith("correlation = corAR1(form = ~ 1 | Rat)")
    assert set(rows["fit_method"]) == {f"GLS-{method}"}


def test_gls_ar1_time_column_gives_the_same_fit_and_recovers_planted_correlation():
    rng = np.random.default_rng(7)
    n_mice, weeks, phi = 40, 10, 0.6
    e = np.zeros((n_mice, weeks))
    e[:, 0] = rng.normal(size=n_mice)
    for k in range(1, weeks):
        e[:, k] = phi * e[:, k - 1] + np.sqrt(1 - phi**2) * rng.normal(size=n_mice)
    frame = pd.DataFrame(
        {
            "mouse": np.repeat([f"m{i}" for i in range(n_mice)], weeks),
            "week": np.tile(np.arange(1, weeks + 1), n_mice),
            "mass": 20 + 0.3 * np.tile(np.arange(weeks), n_mice) + e.ravel(),
        }
    )
    by_order = fit_gls_ar1(frame, "mass ~ week", "mouse")
    shuffled = frame.sample(frac=1.0, random_state=1)
    by_time = fit_gls_ar1(shuffled, "mass ~ week", "mouse", time="week")
    np.testing.assert_allclose(by_time.beta, by_order.beta, rtol=1e-8)
    assert abs(by_order.phi - phi) < 0.1
    assert abs(by_order.beta[1] - 0.3) < 3 * np.sqrt(by_order.cov_beta[1, 1])


def test_gls_ar1_bad_input_is_named(body_weight):
    with pytest.raises(ValueError, match="integer times: column 'weight'"):
        fit_gls_ar1(
            body_weight.assign(weight=body_weight["weight"] + 0.5), "Time ~ 1", "Rat", "weight"
        )
    with pytest.raises(ValueError, match=r"\['cage'\] not in the data"):
        fit_gls_ar1(body_weight, "weight ~ Time", "cage")
