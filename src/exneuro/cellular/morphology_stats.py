"""Spine densities and histology percentages between two groups, with the nested models of
:mod:`exneuro.cellular.nested` and the count GLMMs of :mod:`exneuro.stats.glmm_fit` beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from exneuro.cellular.nested import ANALYSES, nested_group_statistics
from exneuro.cellular.spines import TOTAL, density_column
from exneuro.errors import InputDataError
from exneuro.model_factors import usable_factors
from exneuro.not_tested import TWO_GROUP_TEST_NAMES, not_tested_row, too_few_mice
from exneuro.stats import compare
from exneuro.stats.anova import rm_anova
from exneuro.stats.glmm_fit import glmm_group_test
from exneuro.stats.table import concat_stats, label_rows, subset_label

__all__ = ["histology_statistics", "spine_statistics"]


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
    model_factors: Mapping | None = None,
) -> pd.DataFrame:
    """:func:`nested_group_statistics` of segment spine density, per spine type and in total.

    ``density`` is the long table of :func:`exneuro.cellular.spine_density.segment_density` with the
    group column joined. Rows are labelled ``analysis='spines'``, ``outcome='density_per_10um'``
    and ``subset='spine_type=<type>'`` (after any ``subset`` levels, e.g. ``cohort``). The
    cluster-level test uses each mouse's length-weighted density (all its dendrite pooled).
    ``count_model`` (``negative_binomial``, ``poisson`` or ``none``) adds the GLMM of the counts
    per segment with offset log(length) and random intercepts for mouse and neuron
    (:func:`exneuro.stats.glmm_fit.glmm_group_test`): a Wald row (rate ratio) and an LRT row.
    ``model_factors`` (e.g. ``{'fixed': ['sex']}``, columns joined from the sample sheet) enter
    the density mixed model; the count GLMM, mouse means and bootstrap stay two-group tests.
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
            model_factors=model_factors,
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
        frames.append(label_rows(rows, analysis="spines", outcome=value, subset=label))
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
    model_factors: Mapping | None = None,
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

    With fixed ``model_factors`` (e.g. sex, columns of the per-mouse table) the two-way ANOVA of
    the per-mouse percentages ``percent ~ group * sex`` (type III, afex's numbers) follows, its
    group F test being the group difference averaged over sex; a random unit (cage) is not
    fitted on per-mouse percentages and says so in a "not tested" row.
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
        rows += _factor_rows(part, group, model_factors)
        frames.append(
            label_rows(
                concat_stats(rows),
                analysis="histology",
                outcome="percent_positive",
                subset=subset_label(**dict(subset or {}), marker=marker),
            )
        )
    return concat_stats(frames)


def _factor_rows(part: pd.DataFrame, group: str, declared: Mapping | None) -> list[pd.DataFrame]:
    """The two-way ANOVA of per-mouse percentages with the declared fixed factors, and the
    "not tested" rows of the factors the data (or a per-mouse test) cannot carry."""
    if not declared or not (declared.get("fixed") or declared.get("random")):
        return []
    factors = usable_factors(
        part, {"fixed": declared.get("fixed", [])}, "", group=group, test="anova"
    )
    rows = [factors.untested]
    if declared.get("random"):
        reason = (
            f"the histology tests compare per-mouse percentages: no random intercept for "
            f"{declared['random']} above the mouse"
        )
        rows.append(not_tested_row("anova", f"(1 | {declared['random']})", "", reason))
    if factors.fixed:
        anova = rm_anova(
            part, dv="percent_positive", subject="mouse", between=[group, *factors.fixed]
        ).to_stats()
        anova["notes"] = f"per-mouse percentages; {factors.note()}; " + anova["notes"]
        rows.insert(0, anova)
    return rows
