"""RNA-seq panels of the study: PCA, DE counts, overlap, heatmap of top genes, key genes;
condition colours and labels shared by every RNA-seq figure.

Each panel function draws on a matplotlib axis and returns the source data of what it drew
(one row per point, bar, cell or label); each is drawn through a panel type
(:mod:`exneuro.paper.transcriptome`), and the RNA-seq figures of the workflow are declared
figures (:mod:`exneuro.paper.standard.transcriptome`). The volcano and MA plots are in
:mod:`exneuro.figures.rnaseq_genes`, the sample QC panels in :mod:`exneuro.figures.rnaseq_qc`.
Everything is deterministic: no random jitter, clustering by a deterministic average-linkage
tree.

Colours: each group keeps its config colour; within a group, sedentary (or any first level of a
second factor) is drawn as a lighter tint of it and trained in the full colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex, to_rgb
from matplotlib.patches import Circle

from exneuro.figures.rnaseq_genes import DOWN, UP
from exneuro.figures.style import (
    legend_above,
)
from exneuro.figures.treadmill import spread_offsets


def tint(colour: str, amount: float = 0.55) -> str:
    """``colour`` mixed with white by ``amount`` (0 = unchanged, 1 = white)."""
    rgb = np.array(to_rgb(colour))
    return to_hex(rgb + (1 - rgb) * amount)


def condition_colours(
    conditions: Sequence[str], groups: Sequence[Mapping], light_levels: Sequence[str] = ()
) -> dict[str, str]:
    """Colour of each condition label such as 'control_trained': the colour of the config group
    its name starts with, tinted when it contains one of ``light_levels`` (e.g. 'sedentary')."""
    palette = {g["id"]: g["color"] for g in groups}
    fallback = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {}
    for k, condition in enumerate(conditions):
        base = next(
            (palette[g] for g in sorted(palette, key=len, reverse=True) if condition.startswith(g)),
            fallback[k % len(fallback)],
        )
        light = any(level in condition.split("_") or level == condition for level in light_levels)
        colours[condition] = tint(base) if light else base
    return colours


def condition_label(level: str, groups: Sequence[Mapping]) -> str:
    """A condition such as 'control_trained' as a reader reads it: 'Control, trained' (the
    group's label, then the rest of the name)."""
    for group in sorted(groups, key=lambda g: len(g["id"]), reverse=True):
        if str(level) == group["id"]:
            return group.get("label", group["id"])
        if str(level).startswith(f"{group['id']}_"):
            rest = str(level)[len(group["id"]) + 1 :].replace("_", " ")
            return f"{group.get('label', group['id'])}, {rest}"
    return str(level).replace("_", " ")


def contrast_label(contrast: Mapping, groups: Sequence[Mapping]) -> str:
    """A configured contrast as a reader reads it: 'Control: trained vs sedentary' for two
    levels of one group, 'A vs B' otherwise, its name (spaced) for a weighted contrast."""
    if "level" not in contrast or "reference" not in contrast:
        return str(contrast["name"]).replace("_", " ")
    level = condition_label(contrast["level"], groups)
    reference = condition_label(contrast["reference"], groups)
    head, _, rest = level.partition(", ")
    head_ref, _, rest_ref = reference.partition(", ")
    if rest and rest_ref and head == head_ref:
        return f"{head}: {rest} vs {rest_ref}"
    return f"{level} vs {reference}"


def condition_order(samples: pd.DataFrame, section: Mapping, groups: list[str]) -> list[str]:
    """Display order of the colour column's levels: config groups first, then training levels."""
    column = section["colour_column"]
    levels = list(dict.fromkeys(samples[column]))
    rank = {g: i for i, g in enumerate(groups)}
    return sorted(
        levels,
        key=lambda level: (
            min((rank[g] for g in rank if level.startswith(g)), default=len(rank)),
            level,
        ),
    )


def sample_order(samples: pd.DataFrame, column: str, order: Sequence[str]) -> list[str]:
    """Sample names grouped by their condition in ``order`` (then by name), as figures show them."""
    rank = {level: k for k, level in enumerate(order)}
    frame = pd.DataFrame(
        {
            "sample": samples.index.astype(str),
            "rank": samples[column].map(rank).fillna(len(rank)).to_numpy(),
        }
    )
    return frame.sort_values(["rank", "sample"], kind="stable")["sample"].tolist()


def heatmap(
    axis,
    vst: pd.DataFrame,
    genes: Sequence[str],
    samples: pd.DataFrame,
    column: str,
    order: Sequence[str],
    colours: Mapping[str, str],
    gene_names: pd.Series | None = None,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Heatmap of ``genes`` (ids): VST values z-scored per gene across samples, samples grouped
    by ``column`` in ``order`` (then by name), genes ordered by an average-linkage tree on their
    correlation (deterministic), and a bar of group colours above. Returns one row per cell."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    ordered_samples = sample_order(samples, column, order)
    values = vst.loc[list(genes), ordered_samples].to_numpy(float)
    sd = values.std(axis=1, ddof=1, keepdims=True)
    z = (values - values.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    if len(genes) > 2:
        rows = leaves_list(linkage(z, method="average", metric="correlation"))
    else:
        rows = np.arange(len(genes))
    z = z[rows]
    gene_ids = np.asarray(list(genes))[rows]
    names = (
        pd.Series(gene_ids).map(gene_names.astype(str)).fillna(pd.Series(gene_ids))
        if gene_names is not None
        else pd.Series(gene_ids)
    ).tolist()
    limit = max(2.0, float(np.nanmax(np.abs(z)))) if z.size else 2.0
    image = axis.imshow(
        z, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
    )
    # one name per row in a font that fits the row (the layout may still shrink the axes by
    # up to a third), every k-th name when even 3.5 pt does not fit
    height_pt = axis.get_position().height * axis.figure.get_figheight() * 72 * 0.6
    row_pt = height_pt / max(len(names), 1)
    size = min(plt.rcParams["font.size"] - 2, 0.8 * row_pt)
    step = 1 if size >= 3.5 else int(np.ceil(3.5 / size))
    shown = np.arange(0, len(names), step)
    axis.set_yticks(shown)
    axis.set_yticklabels([names[k] for k in shown], fontstyle="italic", fontsize=max(size, 3.5))
    axis.set_xticks([])
    axis.tick_params(length=0)
    for spine in axis.spines.values():
        spine.set_visible(False)
    group_of = samples[column].astype(str).reindex(ordered_samples).to_numpy()
    bar = axis.inset_axes([0, 1.01, 1, 0.04])
    bar.imshow(
        np.array([[to_rgb(colours.get(g, "0.5")) for g in group_of]]),
        aspect="auto",
        interpolation="nearest",
    )
    bar.set_axis_off()
    present = [g for g in order if g in set(group_of)]
    for k, level in enumerate(present):
        axis.text(
            k / max(len(present), 1),
            1.07,
            (labels or {}).get(level, level),
            transform=axis.transAxes,
            color=colours.get(level, "0.3"),
            fontsize=plt.rcParams["font.size"] - 2,
            va="bottom",
        )
    colourbar_axis = axis.inset_axes([1.02, 0.0, 0.03, 0.3])
    colourbar = axis.figure.colorbar(image, cax=colourbar_axis)
    colourbar.set_label("z (VST)", fontsize=plt.rcParams["font.size"] - 2)
    colourbar.ax.tick_params(labelsize=plt.rcParams["font.size"] - 2)
    cells = pd.DataFrame(z, columns=ordered_samples)
    cells.insert(0, "gene_id", gene_ids)
    cells.insert(1, "gene_name", names)
    cells["row"] = np.arange(len(cells))
    long = cells.melt(id_vars=["row", "gene_id", "gene_name"], var_name="sample", value_name="z")
    long["group"] = long["sample"].map(dict(zip(ordered_samples, group_of, strict=True)))
    vst_values = pd.DataFrame(
        vst.loc[gene_ids, ordered_samples].to_numpy(float), columns=ordered_samples
    )
    vst_values["row"] = np.arange(len(cells))
    long["vst"] = vst_values.melt(id_vars="row", var_name="sample")["value"].to_numpy()
    return long


def de_count_bars(
    axis, counts: pd.DataFrame, labels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Bars of DE genes per contrast: up above zero, down below (from
    :func:`exneuro.rnaseq.summary.de_counts`), each bar labelled with its number."""
    contrasts = list(dict.fromkeys(counts["contrast"]))
    wide = counts.pivot(index="contrast", columns="direction", values="n_genes").reindex(contrasts)
    x = np.arange(len(contrasts))
    up, down = wide["up"].to_numpy(float), wide["down"].to_numpy(float)
    axis.bar(x, up, color=UP, width=0.6, label="up")
    axis.bar(x, -down, color=DOWN, width=0.6, label="down")
    axis.axhline(0, color="0.2", lw=0.5)
    span = max(float(np.max(up, initial=0)), float(np.max(down, initial=0)), 1.0)
    for xi, u, d in zip(x, up, down, strict=True):
        axis.text(xi, u + span * 0.03, f"{int(u)}", ha="center", va="bottom")
        axis.text(xi, -d - span * 0.03, f"{int(d)}", ha="center", va="top")
    axis.set_ylim(-span * 1.25, span * 1.25)
    axis.set_xticks(x)
    axis.set_xticklabels(
        [(labels or {}).get(c, c.replace("_", " ")) for c in contrasts],
        rotation=30,
        ha="right",
        rotation_mode="anchor",
    )
    ticks = axis.get_yticks()
    axis.set_yticks(ticks)
    axis.set_yticklabels([f"{abs(int(t))}" for t in ticks])
    axis.set_ylim(-span * 1.25, span * 1.25)
    axis.set_ylabel("DE genes (down | up)")
    legend_above(axis, ncols=2, handlelength=0.8)
    return pd.DataFrame(
        {"contrast": contrasts, "x": x, "n_up": up.astype(int), "n_down": down.astype(int)}
    )


def _lens_area(r1: float, r2: float, d: float) -> float:
    """Area of the intersection of two circles of radii r1, r2 whose centres are d apart."""
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return float(np.pi * min(r1, r2) ** 2)
    a1 = r1**2 * np.arccos((d**2 + r1**2 - r2**2) / (2 * d * r1))
    a2 = r2**2 * np.arccos((d**2 + r2**2 - r1**2) / (2 * d * r2))
    triangle = 0.5 * np.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2))
    return float(a1 + a2 - triangle)


def _centre_distance(r1: float, r2: float, overlap_area: float) -> float:
    """Distance between centres giving ``overlap_area`` (bisection, 60 halvings)."""
    low, high = abs(r1 - r2), r1 + r2
    for _ in range(60):
        middle = (low + high) / 2
        if _lens_area(r1, r2, middle) > overlap_area:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def venn2(
    axis,
    n_only_a: int,
    n_both: int,
    n_only_b: int,
    labels: tuple[str, str],
    colours: tuple[str, str],
    region_names: tuple[str, str, str] = ("lost", "shared", "gained"),
) -> pd.DataFrame:
    """Area-proportional two-set Venn diagram (circle areas = set sizes, lens = overlap), the
    count in each region and 'count name' of every region underneath. Returns the regions and
    the circles."""
    size_a, size_b = n_only_a + n_both, n_only_b + n_both
    total = max(size_a, size_b, 1)
    r1, r2 = np.sqrt(max(size_a, 0) / total), np.sqrt(max(size_b, 0) / total)
    r1, r2 = max(r1, 0.05), max(r2, 0.05)
    area = np.pi * n_both / total  # circle areas are pi * size / total
    d = _centre_distance(r1, r2, area) if n_both else r1 + r2 + 0.15
    ca, cb = (-d / 2, 0.0), (d / 2, 0.0)
    for centre, radius, colour in ((ca, r1, colours[0]), (cb, r2, colours[1])):
        axis.add_patch(Circle(centre, radius, facecolor=colour, alpha=0.35, edgecolor=colour))
    left_a, right_a, left_b, right_b = ca[0] - r1, ca[0] + r1, cb[0] - r2, cb[0] + r2
    positions = [
        ((left_a + min(left_b, right_a)) / 2, 0.0),  # crescent of A only
        ((max(left_a, left_b) + min(right_a, right_b)) / 2, 0.0),  # lens
        ((max(right_a, left_b) + right_b) / 2, 0.0),  # crescent of B only
    ]
    counts = (n_only_a, n_both, n_only_b)
    for (x, y), n in zip(positions, counts, strict=True):
        axis.text(x, y, f"{n}", ha="center", va="center")
    axis.text(
        (left_a + right_b) / 2,
        -max(r1, r2) - 0.06,
        "   ".join(f"{n} {name}" for n, name in zip(counts, region_names, strict=True)),
        ha="center",
        va="top",
    )
    top = max(r1, r2)
    left = ca[0] - r1 - 0.1
    # the second set's name just above the circles, the first's stacked above it
    axis.text(left, top + 0.08, labels[1], ha="left", va="bottom", color=colours[1])
    lines = labels[1].count("\n") + 1
    axis.annotate(
        labels[0],
        xy=(left, top + 0.08),
        xytext=(0, lines * plt.rcParams["font.size"] * 1.25 + 1),
        textcoords="offset points",
        ha="left",
        va="bottom",
        color=colours[0],
    )
    axis.set_xlim(ca[0] - r1 - 0.1, cb[0] + r2 + 0.1)
    axis.set_ylim(-top - 0.3, top + 0.6)
    axis.set_aspect("equal")
    axis.set_axis_off()
    return pd.DataFrame(
        {
            "region": list(region_names) + ["circle_a", "circle_b"],
            "n_genes": list(counts) + [size_a, size_b],
            "x": [p[0] for p in positions] + [ca[0], cb[0]],
            "radius": [np.nan] * 3 + [r1, r2],
        }
    )


def gene_expression(
    axis,
    panel: pd.DataFrame,
    column: str,
    order: Sequence[str],
    colours: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    mouse_column: str = "mouse_id",
    title: str | None = None,
) -> pd.DataFrame:
    """One gene's normalized counts: every mouse a point (deterministic spread), bar = mean ±
    SEM of the mice, per level of ``column`` in ``order`` (``panel`` = rows of
    :func:`exneuro.rnaseq.summary.gene_panel` for this gene). Returns every point and bar."""
    records = []
    for k, level in enumerate(order):
        part = panel[panel[column].astype(str) == str(level)]
        values = part["normalized_count"].to_numpy(float)
        if not len(values):
            continue
        offsets = spread_offsets(values, 0.4)
        colour = colours.get(level, "0.4")
        mean = float(values.mean())
        sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.nan
        axis.bar(k, mean, width=0.65, color=tint(colour, 0.75), edgecolor=colour, lw=0.6)
        axis.errorbar(k, mean, yerr=sem, color=colour, lw=0.8, capsize=2)
        axis.scatter(k + offsets, values, s=6, color=colour, linewidths=0, zorder=3)
        mice = part[mouse_column] if mouse_column in part else part["sample"]
        for x, v, mouse in zip(k + offsets, values, mice, strict=True):
            records.append({"kind": "mouse", "level": level, "mouse": mouse, "x": x, "value": v})
        records.append(
            {"kind": "mean", "level": level, "x": k, "value": mean, "sem": sem, "n": len(values)}
        )
    axis.set_xticks(range(len(order)))
    axis.set_xticklabels(
        [(labels or {}).get(o, o) for o in order], rotation=35, ha="right", rotation_mode="anchor"
    )
    axis.set_ylabel("Normalized counts")
    axis.set_ylim(bottom=0)
    if title:
        axis.set_title(title, fontstyle="italic")
    return pd.DataFrame(records)


def conditions_in_order(
    samples: pd.DataFrame, section: Mapping, groups: Sequence[Mapping]
) -> tuple[list[str], dict[str, str]]:
    """Levels of the RNA-seq colour column in display order and their colours: each level the
    colour of its config group, sedentary levels tinted."""
    order = condition_order(samples, section, [g["id"] for g in groups])
    return order, condition_colours(order, groups, ["sedentary"])


def pca_plot(
    axis,
    scores: pd.DataFrame,
    variance: pd.DataFrame,
    samples: pd.DataFrame,
    column: str,
    order: Sequence[str],
    colours: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """PC1 against PC2 of the samples coloured by ``column``, % variance on the axes (from
    :func:`exneuro.rnaseq.normalize.pca`). Returns the points drawn."""
    data = scores.copy()
    data["level"] = data["sample"].map(samples[column].astype(str).rename(index=str))
    data["colour"] = data["level"].map(lambda v: colours.get(v, "0.5"))
    for level in order:
        part = data[data["level"] == level]
        axis.scatter(
            part["PC1"],
            part["PC2"],
            s=12,
            color=colours.get(level, "0.5"),
            label=(labels or {}).get(level, level),
            linewidths=0.3,
            edgecolors="white",
        )
    explained = variance.set_index("component")["variance_explained"]
    axis.set_xlabel(f"PC1 ({100 * explained['PC1']:.0f}% variance)")
    axis.set_ylabel(f"PC2 ({100 * explained['PC2']:.0f}% variance)")
    legend_above(axis, handletextpad=0.2)
    return data[["sample", "level", "PC1", "PC2", "colour"]]
