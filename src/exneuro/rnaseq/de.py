"""Differential expression with DESeq2's method (Love, Huber & Anders 2014, Genome Biol 15:550).

A negative binomial GLM per gene with median-of-ratios size factors, dispersions shrunk towards a
fitted mean-dispersion trend, Wald tests of contrasts, Cook's-distance outliers (p set to NA, and
counts replaced and refitted when a condition has >= 7 replicates), independent filtering on the
mean of normalized counts maximising discoveries at ``alpha``, Benjamini-Hochberg adjusted p.
The fit is :mod:`exneuro.rnaseq.deseq` (NumPy over all genes at once, step for step R DESeq2
1.38's ``DESeq()`` and ``results()``, incl. LFC 0 / p 1 where both compared groups have no
count). Optional apeGLM shrinkage of the log2 fold change (Zhu, Ibrahim & Love 2019) for ranking
and plotting, from pydeseq2 (Muzellec et al. 2023); p-values are never from the shrunk estimate.

Contrast specifications (what the config writes), each with a ``name``:

- ``{factor, level, reference}`` — ``level`` vs ``reference`` of one design variable, e.g.
  ``{name: training_in_control, factor: group_training, level: control_trained,
  reference: control_sedentary}`` with design ``~ batch + group_training``. Other variables are
  held at their reference level (in an additive design they cancel). As DESeq2's
  ``contrast = c(factor, level, reference)``: genes with zero counts in every sample of both
  levels get log2 fold change 0 and p 1.
- ``{cells: [{weight, where: {variable: level, ...}}, ...]}`` — any linear combination of
  condition means, ``sum(weight x design row of the condition)``; variables not named in
  ``where`` are at their reference level. The weights must sum to 0 (a comparison). The
  interaction "training response in silenced minus in control" is
  ``+1 silenced/trained, -1 silenced/sedentary, -1 control/trained, +1 control/sedentary``,
  with either ``~ group * training`` or ``~ group_training``: the same test. As DESeq2's numeric
  contrasts (zero counts in every sample the contrast involves: LFC 0, p 1).
- ``{coefficient: <design-matrix column>}`` — one coefficient of the formulaic design matrix,
  e.g. ``group[T.silenced]:training[T.trained]`` for ``~ group * training`` with the references
  given in ``reference_levels``; the error lists the columns there are.

With ``lfc_shrink``, pydeseq2 is fitted as well and the design re-parameterised so that the
contrast is one coefficient (``X' = X M^-1``, ``beta' = M beta`` with the contrast as a row of
M: same fit, same likelihood); that coefficient is shrunk with pydeseq2's apeGLM prior — what
DESeq2 users do by relevelling and ``lfcShrink(type = "apeglm", coef = ...)``. pydeseq2 stops
that optimisation (L-BFGS-B) at a relative tolerance: for very highly expressed genes (baseMean
in the thousands) the shrunk value can move by up to ~0.3 log2 between equivalent
parameterisations (2% of genes in our simulation; the objective agrees to 5 digits either way).
Use shrunk fold changes to rank and plot; the Wald p-values never depend on them.

Checked against R DESeq2 1.38.3 (tests/test_rnaseq_deseq2_reference.py): pasilla with
``~ condition`` and ``~ type + condition``, airway with ``~ cell + dex`` (3 residual degrees of
freedom: DESeq2's simulation-based dispersion prior), and a simulated 42-sample
``~ batch + group_training`` study with all-zero groups and outlier replacement, every contrast:
the same genes at padj < 0.05, log2 fold changes within 1e-6.

The engine draws no random numbers and runs on one BLAS thread (bit-reproducible); ``n_cpus``
and ``seed`` apply to the pydeseq2 shrinkage (numpy's legacy global generator is seeded around
it so that any future random step is reproducible too).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError
from exneuro.rnaseq.deseq import fit_deseq, wald_results
from exneuro.rnaseq.normalize import single_threaded_blas, size_factors

RESULT_COLUMNS = ["gene_id", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


def design_variables(design: str) -> list[str]:
    """The sample-sheet columns a design formula uses."""
    from formulaic import Formula

    try:
        formula = Formula(design if design.strip().startswith("~") else f"~ {design}")
    except Exception as error:  # formulaic raises several parser errors
        raise ConfigError(
            f"rnaseq design '{design}' is not a formula ({error}) — write e.g. "
            "'~ batch + group_training' or '~ group * training'"
        ) from None
    return sorted(formula.required_variables)


def _prepare_metadata(
    samples: pd.DataFrame,
    variables: Sequence[str],
    reference_levels: Mapping[str, str],
    design: str,
    continuous: Sequence[str] = (),
) -> pd.DataFrame:
    """Design variables as categoricals whose first category is the reference level (those in
    ``continuous`` as numbers: a sample sheet's '1'/'2' batch is a category, not a slope)."""
    metadata = pd.DataFrame(index=samples.index.astype(str))
    for variable in variables:
        if variable not in samples.columns:
            raise ConfigError(
                f"rnaseq design '{design}' uses '{variable}', which is not a sample-sheet column "
                f"— columns: {', '.join(map(str, samples.columns))}"
            )
        column = samples[variable]
        if variable in continuous:
            numbers = pd.to_numeric(column, errors="coerce")
            if numbers.isna().any():
                bad = column[numbers.isna()].index[0]
                raise ConfigError(
                    f"design variable '{variable}' is declared continuous but sample '{bad}' has "
                    f"'{column[bad]}' — give a number for every sample"
                )
            metadata[variable] = numbers.to_numpy(float)
            continue
        values = column.astype(str).str.strip().to_numpy()
        levels = sorted(set(values))
        if "" in levels:
            raise ConfigError(
                f"sample sheet column '{variable}' is empty for sample(s) "
                f"{', '.join(metadata.index[values == ''])} — fill it for every sequenced sample"
            )
        if len(levels) < 2:
            raise ConfigError(
                f"design variable '{variable}' has one level ('{levels[0]}') in the sequenced "
                "samples — remove it from the rnaseq design"
            )
        reference = reference_levels.get(variable, levels[0])
        if reference not in levels:
            raise ConfigError(
                f"rnaseq reference level '{reference}' of '{variable}' is not among its levels "
                f"({', '.join(levels)})"
            )
        order = [reference] + [level for level in levels if level != reference]
        metadata[variable] = pd.Categorical(values, categories=order)
    return metadata


def _levels(metadata: pd.DataFrame, variable: str, where: str) -> list[str]:
    if variable not in metadata.columns:
        raise ConfigError(
            f"{where}: '{variable}' is not a variable of the design "
            f"({', '.join(metadata.columns)}) — contrasts can only use design variables"
        )
    column = metadata[variable]
    if not isinstance(column.dtype, pd.CategoricalDtype):
        raise ConfigError(f"{where}: '{variable}' is numeric; contrast a categorical variable")
    return list(column.cat.categories)


def contrast_vector(model, metadata: pd.DataFrame, spec: Mapping) -> np.ndarray:
    """The numeric contrast vector (one weight per design-matrix column) of a contrast spec.

    ``model`` is the design's ``formulaic_contrasts.FormulaicContrasts`` (as pydeseq2 keeps in
    ``dds.formulaic_contrasts``); ``metadata`` the design variables from the sample sheet.
    """
    name = spec.get("name", "?")
    where = f"rnaseq contrast '{name}'"
    columns = list(model.design_matrix.columns)
    kinds = [key for key in ("factor", "cells", "coefficient") if key in spec]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where}: give exactly one of factor/level/reference, cells, or coefficient"
        )
    if "factor" in spec:
        factor = spec["factor"]
        levels = _levels(metadata, factor, where)
        for key in ("level", "reference"):
            if spec.get(key) not in levels:
                raise ConfigError(
                    f"{where}: {key} '{spec.get(key)}' is not a level of '{factor}' "
                    f"({', '.join(levels)})"
                )
        cells = [
            {"weight": 1, "where": {factor: spec["level"]}},
            {"weight": -1, "where": {factor: spec["reference"]}},
        ]
    elif "coefficient" in spec:
        if spec["coefficient"] not in columns:
            raise ConfigError(
                f"{where}: no design coefficient '{spec['coefficient']}' — the design's "
                f"coefficients are {', '.join(columns)}"
            )
        return (np.array(columns) == spec["coefficient"]).astype(float)
    else:
        cells = spec["cells"]
    weights = np.array([float(cell["weight"]) for cell in cells])
    if abs(weights.sum()) > 1e-9:
        raise ConfigError(
            f"{where}: the cell weights sum to {weights.sum():g}; a contrast compares "
            "conditions, so they must sum to 0"
        )
    vector = np.zeros(len(columns))
    for weight, cell in zip(weights, cells, strict=True):
        condition = dict(cell["where"])
        for variable, level in condition.items():
            levels = _levels(metadata, variable, where)
            if str(level) not in levels:
                raise ConfigError(
                    f"{where}: '{level}' is not a level of '{variable}' ({', '.join(levels)})"
                )
        vector += weight * np.asarray(
            model.cond(**{k: str(v) for k, v in condition.items()}), float
        )
    if not np.any(vector):
        raise ConfigError(f"{where}: the contrast is zero — the cells compare nothing")
    return vector


def _metadata(
    samples: pd.DataFrame,
    design: str,
    reference_levels: Mapping[str, str] | None,
    continuous: Sequence[str],
) -> pd.DataFrame:
    return _prepare_metadata(
        samples, design_variables(design), dict(reference_levels or {}), design, continuous
    )


def contrast_matrix(
    samples: pd.DataFrame,
    design: str,
    contrasts: Sequence[Mapping],
    reference_levels: Mapping[str, str] | None = None,
    continuous: Sequence[str] = (),
) -> pd.DataFrame:
    """Every contrast's weights on the design-matrix coefficients (rows = contrasts).

    Checks the whole specification without fitting anything — the design variables exist and
    vary, the design matrix has full rank, each contrast names real levels — so that a config
    mistake stops the run at once; and documents exactly what each contrast tests.
    """
    from formulaic_contrasts import FormulaicContrasts

    names = [spec.get("name") for spec in contrasts]
    if not contrasts or any(not n for n in names) or len(set(names)) != len(names):
        raise ConfigError("rnaseq contrasts: give at least one, each with its own unique name")
    samples = samples.copy()
    samples.index = samples.index.astype(str)
    metadata = _metadata(samples, design, reference_levels, continuous)
    model = FormulaicContrasts(metadata, design)
    matrix = model.design_matrix
    if np.linalg.matrix_rank(matrix.to_numpy(float)) < matrix.shape[1]:
        raise ConfigError(
            f"rnaseq design '{design}' is not full rank: a combination of its variables has "
            "no sample, or two variables are confounded (e.g. every batch is one group) — "
            "simplify the design"
        )
    vectors = [contrast_vector(model, metadata, spec) for spec in contrasts]
    return pd.DataFrame(
        vectors, index=pd.Index(names, name="contrast"), columns=list(matrix.columns)
    )


def _shrink(stats, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """apeGLM-shrunk log2 fold change and SE of the contrast (see the module docstring)."""
    k = int(np.argmax(np.abs(vector)))
    transform = np.eye(len(vector))
    transform[k] = vector
    columns = list(stats.design_matrix.columns)
    columns[k] = "contrast"
    stats.design_matrix = pd.DataFrame(
        stats.design_matrix.to_numpy() @ np.linalg.inv(transform),
        index=stats.design_matrix.index,
        columns=columns,
    )
    stats.LFC = pd.DataFrame(
        stats.LFC.to_numpy() @ transform.T, index=stats.LFC.index, columns=columns
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stats.lfc_shrink(coeff="contrast")
    return (
        stats.results_df["log2FoldChange"].to_numpy(float),
        stats.results_df["lfcSE"].to_numpy(float),
    )


def run_deseq2(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    contrasts: Sequence[Mapping],
    alpha: float = 0.05,
    lfc_shrink: bool = False,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    n_cpus: int = 1,
    seed: int = 0,
    *,
    reference_levels: Mapping[str, str] | None = None,
    min_total_count: int = 0,
    fit_type: str = "parametric",
    continuous: Sequence[str] = (),
) -> dict[str, pd.DataFrame]:
    """Fit DESeq2 once and test every contrast (see the module docstring).

    ``counts``: genes x samples integers (index gene_id); ``samples``: one row per sample,
    indexed by the count column names, with the design variables as columns; ``design``: a
    formulaic formula; ``contrasts``: specs as in the module docstring; ``alpha``: the FDR used by
    independent filtering (DESeq2 ``results(alpha=)``); ``min_total_count``: drop genes with
    fewer reads over all samples first (the DESeq2 vignette uses 10; 0 = DESeq2's default of no
    pre-filter). ``reference_levels``: variable -> reference level (default: first in sort order);
    ``continuous``: design variables that are numbers (all others are categories).

    Returns contrast name -> table of every gene: gene_id, baseMean, log2FoldChange (MLE), lfcSE,
    stat, pvalue, padj (NA where DESeq2 gives NA: independently filtered, Cook's outlier or all
    zero), plus log2FoldChange_shrunk and lfcSE_shrunk with ``lfc_shrink``.
    """
    missing = [s for s in counts.columns if s not in samples.index.astype(str)]
    if missing:
        raise ConfigError(f"rnaseq: no sample-sheet row for count sample(s) {', '.join(missing)}")
    samples = samples.copy()
    samples.index = samples.index.astype(str)
    samples = samples.loc[[str(s) for s in counts.columns]]
    weights = contrast_matrix(samples, design, contrasts, reference_levels, continuous)
    metadata = _metadata(samples, design, reference_levels, continuous)
    kept = counts.loc[counts.sum(axis=1) >= min_total_count] if min_total_count else counts
    if kept.empty:
        raise ConfigError(f"rnaseq: no gene has >= {min_total_count} reads; lower min_total_count")
    design_matrix = _design_matrix(metadata, design, list(weights.columns))
    if fit_type not in ("parametric", "mean"):
        raise ConfigError(f"rnaseq fit_type '{fit_type}': use parametric or mean")
    with single_threaded_blas():
        fit = fit_deseq(
            kept.to_numpy(np.int64),
            design_matrix,
            size_factors(kept).to_numpy(float),
            fit_type=fit_type,
            two_group_design=_is_two_group(metadata),
        )
        results = {}
        for spec in contrasts:
            table = wald_results(
                fit,
                weights.loc[spec["name"]].to_numpy(float),
                alpha=alpha,
                cooks_filter=cooks_filter,
                independent_filter=independent_filter,
                compared_samples=_compared_samples(metadata, spec),
            )
            table.insert(0, "gene_id", kept.index.astype(str))
            results[spec["name"]] = table
    if lfc_shrink:
        shrunk = _pydeseq2_shrunk(kept, metadata, design, fit_type, weights, n_cpus, seed)
        for name, (values, errors) in shrunk.items():
            results[name]["log2FoldChange_shrunk"] = values
            results[name]["lfcSE_shrunk"] = errors
    return results


def _design_matrix(metadata: pd.DataFrame, design: str, columns: list[str]) -> np.ndarray:
    """The formulaic design matrix (the columns the contrast weights refer to)."""
    from formulaic_contrasts import FormulaicContrasts

    matrix = FormulaicContrasts(metadata, design).design_matrix
    if list(matrix.columns) != columns:
        raise RuntimeError("the design matrix differs from the contrasts' columns")
    if matrix.shape[0] <= matrix.shape[1]:
        raise ConfigError(
            f"rnaseq design '{design}' has {matrix.shape[1]} coefficients for "
            f"{matrix.shape[0]} samples: no replicate is left to estimate dispersions — "
            "simplify the design or add samples"
        )
    return matrix.to_numpy(float)


def _is_two_group(metadata: pd.DataFrame) -> bool:
    """One design variable, a factor of two levels (DESeq2's two-group Cook's rule)."""
    return metadata.shape[1] == 1 and (
        isinstance(metadata.iloc[:, 0].dtype, pd.CategoricalDtype)
        and len(metadata.iloc[:, 0].cat.categories) == 2
    )


def _compared_samples(metadata: pd.DataFrame, spec: Mapping) -> np.ndarray | None:
    """The samples of the two levels of a level-vs-level contrast (None for other kinds)."""
    if "factor" not in spec:
        return None
    return metadata[spec["factor"]].isin([spec["level"], spec["reference"]]).to_numpy()


def _pydeseq2_shrunk(kept, metadata, design, fit_type, weights, n_cpus, seed):
    """apeGLM-shrunk log2 fold change and SE of every contrast, from a pydeseq2 fit."""
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    matrix = pd.DataFrame(
        kept.to_numpy(np.int64).T, index=metadata.index, columns=kept.index.astype(str)
    )
    state = np.random.get_state()  # noqa: NPY002 - pydeseq2 would use the legacy global state
    np.random.seed(seed)  # noqa: NPY002
    try:
        with single_threaded_blas(), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # log(0) inside pydeseq2
            dds = DeseqDataSet(
                counts=matrix,
                metadata=metadata,
                design=design,
                fit_type=fit_type,
                refit_cooks=True,
                inference=DefaultInference(n_cpus=n_cpus),
                quiet=True,
            )
            dds.deseq2()
            shrunk = {}
            for name in weights.index:
                vector = weights.loc[name].to_numpy(float)
                stats = DeseqStats(
                    dds,
                    contrast=vector,
                    inference=DefaultInference(n_cpus=n_cpus),
                    quiet=True,
                )
                stats.summary()
                shrunk[name] = _shrink(stats, vector)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return shrunk
