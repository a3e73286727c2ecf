"""Group comparisons of nested cellular data (segments within neurons within mice), done right.

Spines are counted on segments, segments come from neurons and neurons from mice; Fos+ cells are
counted in sections of mice. Only the mice were randomised to groups, so the mouse is the
experimental unit. Testing segments or cells as if they were independent mice
(pseudoreplication; Lazic 2010, *BMC Neurosci* 11:5; Aarts et al. 2014, *Nat Neurosci*
17:491-496) shrinks the standard error by ignoring that cells of one mouse resemble each other,
and yields false positives far above 5 % when mice differ (see ``tests/test_cellular_spines.py``).

:func:`nested_group_statistics` therefore reports, for one outcome, four rows of the statistics
table (:func:`exneuro.stats.table.stats_frame`):

1. ``lmm`` — the linear mixed model ``value ~ group + (1 | mouse) + (1 | mouse:neuron)``, a random
   intercept for every level that has replicate rows, with the group coefficient tested by t
   with Satterthwaite df (:mod:`exneuro.stats.mixed`, lme4/lmerTest numbers). The primary test.
   A singular fit (a variance estimated at zero, lme4 ``isSingular``) treats the inner units as
   nearly independent; it is flagged (``singular_fit``) and carries the mouse-means p
   (``p_mouse_level``).
2. ``<test>_mouse_means`` — the two-group test on per-mouse means (n = mice;
   :func:`exneuro.stats.compare.cluster_level_test`); simple and exact in size.
3. ``hierarchical_bootstrap`` — mice, then neurons within mice, then segments resampled
   (Saravanan, Berman & Sober 2020, *NBDT* 3(5)).
4. ``<test>_naive`` — the same two-group test with every innermost unit as n, labelled
   "naive (pseudoreplicated)": shown only so that a lab sees the cost, never for inference.

Every row carries ``n_mice``, ``n_cells`` (neurons) and ``n_segments`` (segments or sections).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from exneuro.errors import InputDataError, data_error
from exneuro.model_factors import NO_FACTORS, ModelFactors, fit_lmm, usable_factors
from exneuro.stats import compare, mixed
from exneuro.stats.clustered import NAIVE_NOTE
from exneuro.stats.table import (
    format_n_by_group,
    stats_frame,
)

__all__ = [
    "ANALYSES",
    "join_sample_sheet",
    "nested_group_statistics",
]

#: The analyses :func:`nested_group_statistics` can run, in the order of its rows.
ANALYSES = ("lmm", "cluster", "bootstrap", "naive")


def join_sample_sheet(
    table: pd.DataFrame, sheet: pd.DataFrame, path: str = "data table"
) -> pd.DataFrame:
    """Add the sample sheet's columns (group, cohort, sex ...) to a table with a ``mouse`` column.

    A mouse missing from the sheet is an error naming the table's line; mice with an
    ``excluded_reason`` in the sheet are dropped (the sheet records why).
    """
    if "mouse_id" not in sheet.columns:
        raise KeyError("the sample sheet has no 'mouse_id' column")
    unknown = ~table["mouse"].isin(set(sheet["mouse_id"]))
    if unknown.any():
        first = table.loc[unknown.to_numpy()].iloc[0]
        line = first.get("source_line")
        raise data_error(
            table.attrs.get("path", path),
            f"mouse '{first['mouse']}' is not in the sample sheet",
            "add the mouse to the sample sheet or correct its id",
            line=int(line) if line is not None and pd.notna(line) else None,
        )
    extra = [c for c in sheet.columns if c not in table.columns and c != "mouse_id"]
    joined = table.merge(
        sheet[["mouse_id", *extra]], left_on="mouse", right_on="mouse_id", how="left"
    ).drop(columns="mouse_id")
    if "excluded_reason" in joined.columns:
        keep = joined["excluded_reason"].fillna("").astype(str).str.strip() == ""
        joined = joined.loc[keep.to_numpy()].reset_index(drop=True)
    joined.attrs = dict(table.attrs)
    return joined


# ------------------------------------------------------------------------------------------------
# One outcome
# ------------------------------------------------------------------------------------------------


def _default_count_columns(levels: Sequence[str]) -> dict[str, str]:
    names = ["n_cells", "n_segments"]
    return {level: names[k] for k, level in enumerate(levels[1:3])}


def _unit_counts(frame: pd.DataFrame, levels: list[str], count_columns: Mapping[str, str]) -> dict:
    """Number of distinct units (paths mouse/neuron/...) at each counted level."""
    counts = {}
    for k, level in enumerate(levels):
        if level in count_columns:
            counts[count_columns[level]] = int(
                frame.groupby(levels[: k + 1], observed=True).ngroups
            )
    return counts


def _safe(name: str) -> str:
    """A column name patsy can read in a formula."""
    safe = re.sub(r"\W", "_", str(name))
    return safe if re.match(r"^[A-Za-z_]", safe) else f"v_{safe}"


def _lmm_record(
    frame: pd.DataFrame,
    value: str,
    group: str,
    levels: list[str],
    labels: tuple[str, str],
    level: float,
    count_columns: Mapping[str, str],
    factors: ModelFactors = NO_FACTORS,
) -> list[dict]:
    """The group coefficient of value ~ group + (1|mouse) + (1|mouse:neuron) ... as one row.

    With fixed ``factors`` (e.g. sex) the model is ``value ~ group * sex + ...``: the group row
    is then the emmeans contrast of the groups averaged over the factor's levels (equal weights),
    and the type III F tests of group, sex and group:sex follow it as rows. With a random unit
    (e.g. cage) it is the model's top level: ``(1 | cage) + (1 | cage:mouse) + ...``."""
    rename = {c: _safe(c) for c in dict.fromkeys([value, group, *levels, *factors.columns])}
    if len(set(rename.values())) != len(rename):
        raise ValueError(f"columns {list(rename)} clash once made formula-safe")
    data = frame.rename(columns=rename)
    y, g, lv = rename[value], rename[group], [rename[x] for x in levels]
    vc = {}
    for k in range(1, len(lv)):
        n_units = data.groupby(lv[: k + 1], observed=True).ngroups
        if n_units < len(data):  # replicate rows within this level: it gets a random intercept
            vc[lv[k]] = "0 + " + ":".join(f"C({x})" for x in lv[1 : k + 1])
    safe_factors = ModelFactors(
        tuple(rename[f] for f in factors.fixed),
        rename[factors.random] if factors.random else None,
        levels={rename[f]: values for f, values in factors.levels.items()},
    )
    crossed = safe_factors.treatment_terms().removesuffix(" * ")
    formula = f"{y} ~ C({g}, Treatment({labels[0]!r}))" + (f" * {crossed}" if crossed else "")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_lmm(data, formula, safe_factors, lv[0], vc_formula=vc)
        contrast = None
        if factors.fixed:
            contrast = mixed.emm_contrasts(
                fit, g, method="trt.vs.ctrl", ref=labels[0], adjust="none", level=level
            )
        rows = mixed.to_stats(
            fit,
            contrasts=contrast,
            include_anova=bool(factors.fixed),
            include_coefficients=not factors.fixed,
            levels={
                safe: count_columns[name]
                for name, safe in zip(levels, lv, strict=True)
                if safe in vc and name in count_columns
            },
            between=g,
            level=level,
        )
    if factors.fixed:
        row = rows[rows["test"] == "emm_contrast"].iloc[0].to_dict()
        row["test"] = "lmm"
    else:
        row = rows[rows["term"].str.endswith(f"[T.{labels[1]}]")].iloc[0].to_dict()
    estimate = float(row["estimate"])
    total_sd = float(np.sqrt(fit.total_variance))
    messages = sorted({str(w.message).splitlines()[0] for w in caught})
    nested_levels = [levels[0]] + [
        ":".join(levels[: k + 1]) for k in range(1, len(levels)) if lv[k] in vc
    ]
    if factors.random:
        nested_levels = [factors.random, *(f"{factors.random}:{n}" for n in nested_levels)]
    tested = (
        f"t test of the group contrast ({labels[1]} - {labels[0]}) averaged over "
        f"{', '.join(factors.fixed)} with equal weights (emmeans); {factors.note()}"
        if factors.fixed
        else f"t test of the group coefficient ({labels[1]} - {labels[0]})"
        + (f"; {factors.note()}" if factors.random else "")
    )
    notes = (
        f"{tested}; random intercepts for "
        f"{', '.join(nested_levels)} (every level with replicate rows); d = estimate / "
        f"sqrt(sum of variance components); " + str(row["notes"]).split("; ", 1)[-1]
    )
    if messages:
        notes += "; warnings: " + " | ".join(messages)
    row.update(
        term=f"{labels[1]} - {labels[0]}",
        effect_size=estimate / total_sd if total_sd > 0 else np.nan,
        effect_size_name="d (total SD)",
        notes=notes,
    )
    row.update(_unit_counts(frame, levels, count_columns))
    if factors.random:
        row["n_mice"] = frame[levels[0]].nunique()
    f_rows = []
    if factors.fixed:
        back = {safe: name for name, safe in rename.items()}
        for f_row in rows[rows["statistic_name"] == "F"].to_dict("records"):
            f_row["term"] = ":".join(back.get(part, part) for part in f_row["term"].split(":"))
            f_row["notes"] = f"{factors.note()}; " + str(f_row["notes"])
            f_row.update(_unit_counts(frame, levels, count_columns), n_mice=row["n_mice"])
            f_rows.append(f_row)
    return [row, *f_rows]


def _weighted_mouse_means(
    frame: pd.DataFrame, value: str, group: str, mouse: str, weight: str
) -> pd.DataFrame:
    weights = frame[weight].to_numpy(float)
    if np.any(~np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"weights in column '{weight}' must be finite and non-negative")
    work = frame[[mouse, group]].copy()
    work["_wy"] = frame[value].to_numpy(float) * weights
    work["_w"] = weights
    sums = work.groupby([group, mouse], observed=True, sort=True)[["_wy", "_w"]].sum()
    sums[value] = sums["_wy"] / sums["_w"]
    return sums.reset_index()[[group, mouse, value]]


def _cluster_record(
    frame: pd.DataFrame,
    value: str,
    group: str,
    levels: list[str],
    labels: tuple[str, str],
    test: str,
    level: float,
    weight: str | None,
    count_columns: Mapping[str, str],
) -> dict:
    mouse = levels[0]
    if weight is None:
        row = compare.cluster_level_test(frame, value, group, mouse, test, labels, level)
    else:
        means = _weighted_mouse_means(frame, value, group, mouse, weight)
        row = compare.cluster_level_test(means, value, group, mouse, test, labels, level)
    record = row.iloc[0].to_dict()
    if weight is not None:
        notes = str(record["notes"]).split("; ", 1)[-1]
        record.update(
            model=f"{weight}-weighted mean({value}) per {mouse} ~ {group}",
            notes=(
                f"{value} averaged within each {mouse} weighted by {weight} (sum({value} x "
                f"{weight}) / sum({weight}): for densities, all of the mouse's dendrite pooled), "
                f"then the test on {mouse} means (n = {len(means)} mice); " + notes
            ),
        )
    record.update(n_obs=len(frame), **_unit_counts(frame, levels, count_columns))
    return record


def nested_group_statistics(
    data: pd.DataFrame,
    value: str,
    group: str,
    levels: Sequence[str],
    labels: tuple[str, str],
    n_boot: int = 10000,
    seed: int = 0,
    level: float = 0.95,
    test: str = "welch",
    weight: str | None = None,
    count_columns: Mapping[str, str] | None = None,
    analyses: Sequence[str] = ANALYSES,
    model_factors: Mapping | None = None,
) -> pd.DataFrame:
    """Compare two groups on nested data; rows of the statistics table (see module docstring).

    ``data`` has one row per innermost unit (e.g. segment) with ``value``, ``group`` and the
    ``levels`` columns, outermost first (``["mouse", "neuron", "segment"]``); ids of an inner
    level need only be unique within their parent. ``labels`` = (control, treated): estimates
    are treated - control. ``test`` is the two-group test of the per-mouse and naive rows
    (``welch``, ``student`` or ``mann_whitney``). ``weight`` (e.g. ``"length_um"``) makes the
    per-mouse means of the cluster test weighted means (for densities: the mouse's pooled
    density); the mixed model and the bootstrap weigh rows equally. ``count_columns`` maps
    levels to the ``n_cells``/``n_segments`` columns (default: second level -> ``n_cells``,
    third -> ``n_segments``). ``analyses`` selects rows among ``lmm``, ``cluster``,
    ``bootstrap``, ``naive``. ``model_factors`` (``{'fixed': [sex], 'random': cage}``, columns
    of ``data``) enter the mixed model (:func:`_lmm_record`); a factor the data cannot support is
    a "not tested" row instead (:func:`exneuro.model_factors.usable_factors`).

    A mouse listed in both groups is an error; rows with a missing value are dropped.
    """
    levels = [str(x) for x in levels]
    labels = (str(labels[0]), str(labels[1]))
    unknown = sorted(set(analyses) - set(ANALYSES))
    if unknown:
        raise ValueError(f"unknown analyses {unknown}; choose from {list(ANALYSES)}")
    declared = {"fixed": [], "random": None, **(model_factors or {})}
    needed = [value, group, *levels] + ([weight] if weight else [])
    missing = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if missing:
        raise KeyError(f"columns not found: {missing}; columns: {list(data.columns)}")
    count_columns = dict(count_columns or _default_count_columns(levels))
    frame = data.dropna(subset=needed).copy()
    frame[group] = frame[group].astype(str)
    for name in levels:
        frame[name] = frame[name].astype(str)
    absent = [g for g in labels if g not in set(frame[group])]
    if absent:
        raise InputDataError(
            f"{value}: group(s) {absent} have no data — groups present: "
            f"{sorted(set(frame[group]))}; check the group names in the config and sample sheet"
        )
    frame = frame[frame[group].isin(labels)].reset_index(drop=True)
    groups_per_mouse = frame.groupby(levels[0])[group].nunique()
    crossed = groups_per_mouse[groups_per_mouse > 1]
    if len(crossed):
        raise InputDataError(
            f"{value}: mouse {crossed.index[0]} has rows in both groups {list(labels)} — a mouse "
            "belongs to one group; check the sample sheet"
        )
    mice = frame.groupby(group)[levels[0]].nunique()
    n_by_group = format_n_by_group({g: int(mice.get(g, 0)) for g in labels})
    records = []
    cluster = None
    if "cluster" in analyses or "lmm" in analyses:
        cluster = _cluster_record(
            frame, value, group, levels, labels, test, level, weight, count_columns
        )
    factors = NO_FACTORS
    if "lmm" in analyses and (declared["fixed"] or declared["random"]):
        factors = usable_factors(frame, declared, "", subject=levels[0], group=group)
    if "lmm" in analyses:
        lmm_row, *f_rows = _lmm_record(
            frame, value, group, levels, labels, level, count_columns, factors
        )
        if lmm_row["singular_fit"] == "yes":  # the mouse-level test is the one to read
            lmm_row["p_mouse_level"] = cluster["p"]
            lmm_row["notes"] += (
                f"; test on {levels[0]} means beside it: {cluster['test']} p = {cluster['p']:.4g}"
            )
        records += [lmm_row, *f_rows, *factors.untested.to_dict("records")]
    if "cluster" in analyses:
        records.append(cluster)
    if "bootstrap" in analyses:
        row = compare.hierarchical_bootstrap(
            frame, value, group, levels, n_boot=n_boot, seed=seed, labels=labels, level=level
        )
        record = row.iloc[0].to_dict()
        record.update(_unit_counts(frame, levels, count_columns))
        records.append(record)
    if "naive" in analyses:
        a = frame.loc[frame[group] == labels[0], value].to_numpy(float)
        b = frame.loc[frame[group] == labels[1], value].to_numpy(float)
        record = compare.two_group_test(a, b, test, labels, level, unit="cells").iloc[0].to_dict()
        unit = levels[-1]
        record.update(
            test=f"{record['test']}_naive",
            model=f"naive (pseudoreplicated): {value} ~ {group}, every {unit} as n",
            n_mice=int(frame[levels[0]].nunique()),
            n_by_group=n_by_group,
            notes=(
                NAIVE_NOTE.format(unit=unit, units=f"{unit}s")
                + f"; n = {len(a)} + {len(b)} {unit}s from {n_by_group.replace('; ', ' and ')} "
                "mice; " + str(record["notes"])
            ),
        )
        record.update(_unit_counts(frame, levels, count_columns))
        records.append(record)
    for record in records:
        record["n_by_group"] = n_by_group
    return stats_frame(records)
