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

from exneuro.cellular.spines import TOTAL, density_column
from exneuro.errors import InputDataError, data_error
from exneuro.not_tested import TWO_GROUP_TEST_NAMES, not_tested_row, too_few_mice
from exneuro.stats import compare, mixed
from exneuro.stats.glmm_fit import glmm_group_test
from exneuro.stats.table import (
    concat_stats,
    format_n_by_group,
    label_rows,
    stats_frame,
    subset_label,
)

__all__ = [
    "ANALYSES",
    "histology_statistics",
    "join_sample_sheet",
    "nested_group_statistics",
    "spine_statistics",
]

#: The analyses :func:`nested_group_statistics` can run, in the order of its rows.
ANALYSES = ("lmm", "cluster", "bootstrap", "naive")

NAIVE_NOTE = (
    "naive (pseudoreplicated): every {unit} treated as an independent n although {units} of one "
    "mouse are not independent; anti-conservative (false positives far above the nominal rate "
    "when mice differ); reported only to show the cost of pseudoreplication, not for inference"
)


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
) -> dict:
    """The group coefficient of value ~ group + (1|mouse) + (1|mouse:neuron) ... as one row."""
    rename = {c: _safe(c) for c in dict.fromkeys([value, group, *levels])}
    if len(set(rename.values())) != len(rename):
        raise ValueError(f"columns {list(rename)} clash once made formula-safe")
    data = frame.rename(columns=rename)
    y, g, lv = rename[value], rename[group], [rename[x] for x in levels]
    vc = {}
    for k in range(1, len(lv)):
        n_units = data.groupby(lv[: k + 1], observed=True).ngroups
        if n_units < len(data):  # replicate rows within this level: it gets a random intercept
            vc[lv[k]] = "0 + " + ":".join(f"C({x})" for x in lv[1 : k + 1])
    formula = f"{y} ~ C({g}, Treatment({labels[0]!r}))"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = mixed.fit_lmm(data, formula, lv[0], vc_formula=vc or None)
        rows = mixed.to_stats(
            fit,
            include_anova=False,
            include_coefficients=True,
            levels={
                safe: count_columns[name]
                for name, safe in zip(levels, lv, strict=True)
                if safe in vc and name in count_columns
            },
            between=g,
            level=level,
        )
    term = f"[T.{labels[1]}]"
    row = rows[rows["term"].str.endswith(term)].iloc[0].to_dict()
    estimate = float(row["estimate"])
    total_sd = float(np.sqrt(fit.total_variance))
    messages = sorted({str(w.message).splitlines()[0] for w in caught})
    nested_levels = [levels[0]] + [
        ":".join(levels[: k + 1]) for k in range(1, len(levels)) if lv[k] in vc
    ]
    notes = (
        f"t test of the group coefficient ({labels[1]} - {labels[0]}); random intercepts for "
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
    return row


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
    ``bootstrap``, ``naive``.

    A mouse listed in both groups is an error; rows with a missing value are dropped.
    """
    levels = [str(x) for x in levels]
    labels = (str(labels[0]), str(labels[1]))
    unknown = sorted(set(analyses) - set(ANALYSES))
    if unknown:
        raise ValueError(f"unknown analyses {unknown}; choose from {list(ANALYSES)}")
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
    if "lmm" in analyses:
        lmm_row = _lmm_record(frame, value, group, levels, labels, level, count_columns)
        if lmm_row["singular_fit"] == "yes":  # the mouse-level test is the one to read
            lmm_row["p_mouse_level"] = cluster["p"]
            lmm_row["notes"] += (
                f"; test on {levels[0]} means beside it: {cluster['test']} p = {cluster['p']:.4g}"
            )
        records.append(lmm_row)
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


# ------------------------------------------------------------------------------------------------
# Spines and histology
# ------------------------------------------------------------------------------------------------


def spine_statistics(
    density: pd.DataFrame,
    labels: tuple[str, str],
    group: str = "group",
    spine_types: Sequence[str] | None = None,
    per_um: float = 10.0,
    levels: Sequence[str] = ("mouse", "neuron", "segment"),
    n_boot: int = 10000,
    seed: int = 0,
    level: float = 0.95,
    test: str = "welch",
    subset: Mapping[str, object] | None = None,
    analyses: Sequence[str] = ANALYSES,
    count_model: str = "negative_binomial",
) -> pd.DataFrame:
    """:func:`nested_group_statistics` of segment spine density, per spine type and in total.

    ``density`` is the long table of :func:`exneuro.cellular.spines.segment_density` with the
    group column joined. Rows are labelled ``analysis='spines'``, ``outcome='density_per_10um'``
    and ``subset='spine_type=<type>'`` (after any ``subset`` levels, e.g. ``cohort``). The
    cluster-level test uses each mouse's length-weighted density (all its dendrite pooled).
    ``count_model`` (``negative_binomial``, ``poisson`` or ``none``) adds the GLMM of the counts
    per segment with offset log(length) and random intercepts for mouse and neuron
    (:func:`exneuro.stats.glmm_fit.glmm_group_test`): a Wald row (rate ratio) and an LRT row.
    """
    value = density_column(per_um)
    present = list(dict.fromkeys(density["spine_type"]))
    types = list(spine_types) + [TOTAL] if spine_types is not None else present
    frames = []
    for spine_type in types:
        part = density[density["spine_type"] == spine_type]
        if not len(part):
            raise KeyError(f"no rows for spine type '{spine_type}' in the density table")
        label = subset_label(**dict(subset or {}), spine_type=spine_type)
        reason = too_few_mice(part.dropna(subset=[value]), group, levels[0], labels)
        if reason:  # a group difference on one animal: a "not tested" row, the study goes on
            row = not_tested_row("lmm", f"{labels[1]} - {labels[0]}", "", reason)
            frames.append(label_rows(row, analysis="spines", outcome=value, subset=label))
            continue
        rows = nested_group_statistics(
            part,
            value,
            group,
            list(levels),
            labels,
            n_boot=n_boot,
            seed=seed,
            level=level,
            test=test,
            weight="length_um",
            analyses=analyses,
        )
        if count_model != "none":
            counts = part[part[group].astype(str).isin(labels)].dropna(
                subset=["count", "length_um"]
            )
            glmm_rows = glmm_group_test(
                counts,
                "count",
                group,
                (str(labels[0]), str(labels[1])),
                list(levels),
                count_model,
                exposure="length_um",
                per=per_um,
                level=level,
                rate_unit=f"spines per {per_um:g} µm",
            )
            rows = concat_stats([glmm_rows, rows])
        frames.append(
            label_rows(
                rows,
                analysis="spines",
                outcome=value,
                subset=subset_label(**dict(subset or {}), spine_type=spine_type),
            )
        )
    return concat_stats(frames)


def histology_statistics(
    per_mouse_percent: pd.DataFrame,
    labels: tuple[str, str],
    group: str = "group",
    test: str = "welch",
    level: float = 0.95,
    subset: Mapping[str, object] | None = None,
    sections: pd.DataFrame | None = None,
    count_model: str = "binomial",
) -> pd.DataFrame:
    """Two-group test of each marker's per-mouse percentage of positive cells (n = mice), and
    with ``sections`` (per-section ``n_positive`` of ``n_labelled``, group joined) the binomial
    GLMM of the counts with a random intercept per mouse beside it (``count_model='none'`` omits
    it; :func:`exneuro.stats.glmm_fit.glmm_group_test`, estimate = odds ratio).

    ``per_mouse_percent`` is :func:`exneuro.cellular.histology.percent_positive` with the group
    column joined. One row per marker: estimate = treated - control in percentage points, the t
    (or Mann-Whitney) test and Hedges' g with its CI (:func:`exneuro.stats.compare.
    two_group_test`); ``n_cells`` = labelled cells counted, ``n_segments`` = sections. Labelled
    ``analysis='histology'``, ``outcome='percent_positive'``, ``subset='marker=<marker>'``.
    """
    labels = (str(labels[0]), str(labels[1]))
    frames = []
    for marker in dict.fromkeys(per_mouse_percent["marker"]):
        part = per_mouse_percent[per_mouse_percent["marker"] == marker]
        part = part[part[group].astype(str).isin(labels)]
        groups_per_mouse = part.groupby("mouse")[group].nunique()
        if (groups_per_mouse > 1).any():
            raise InputDataError(
                f"{marker}: mouse {groups_per_mouse[groups_per_mouse > 1].index[0]} is in both "
                "groups — a mouse belongs to one group; check the sample sheet"
            )
        values = {g: part.loc[part[group].astype(str) == g, "percent_positive"] for g in labels}
        reason = too_few_mice(part, group, "mouse", labels)
        if reason:  # a group difference on one animal: a "not tested" row, the study goes on
            frames.append(
                label_rows(
                    not_tested_row(
                        TWO_GROUP_TEST_NAMES[test], f"{labels[1]} - {labels[0]}", "", reason
                    ),
                    analysis="histology",
                    outcome="percent_positive",
                    subset=subset_label(**dict(subset or {}), marker=marker),
                )
            )
            continue
        row = compare.two_group_test(values[labels[0]], values[labels[1]], test, labels, level)
        record = row.iloc[0].to_dict()
        record.update(
            model=f"percent_positive per mouse ~ {group}",
            n_cells=int(part["n_labelled"].sum()),
            n_segments=int(part["n_sections"].sum()),
            notes=(
                f"per-mouse % {marker}+ = 100 x sum(positive) / sum(labelled) over the mouse's "
                "sections (cells pooled; the mouse is the unit, n = mice); " + str(record["notes"])
            ),
        )
        rows = [pd.DataFrame([record])]
        if sections is not None and count_model != "none":
            counted = sections[
                (sections["marker"] == marker)
                & sections[group].astype(str).isin(labels)
                & (sections["n_labelled"] > 0)
            ]
            glmm_rows = glmm_group_test(
                counted.astype({group: str, "mouse": str, "section": str}),
                "n_positive",
                group,
                labels,
                ["mouse", "section"],
                count_model,
                trials="n_labelled",
                level=level,
            )
            glmm_rows["n_segments"] = len(counted)
            glmm_rows["n_cells"] = int(counted["n_labelled"].sum())
            rows.insert(0, glmm_rows)
        frames.append(
            label_rows(
                concat_stats(rows),
                analysis="histology",
                outcome="percent_positive",
                subset=subset_label(**dict(subset or {}), marker=marker),
            )
        )
    return concat_stats(frames)
