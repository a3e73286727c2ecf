"""Simulated dendritic-spine counts, spine morphology and Fos/Bdnf histology with planted effects.

After Kindel et al. (*Neuron* 2026): three weeks of treadmill training about doubled the density
of excitatory spines on VMH SF1 neurons, and one exercise session raised Fos and Bdnf in SF1
neurons. The files look like what a lab exports (its own headers, one row per segment, spine or
section), and the planted truth is returned so that tests can check the analysis recovers it.

Spines. For mouse m, neuron n, segment s of length L (µm) and type t:

    count ~ NegBin(mean = d[group, t] / 10 * L * exp(a_m + b_n), size = k)

with d the planted density per 10 µm, a_m ~ N(-s_m²/2, s_m²) and b_n ~ N(-s_n²/2, s_n²)
mouse and neuron effects shared by all types (mean-one lognormal factors, so the expected
density is d exactly), and a gamma-Poisson mixture of shape k for segment-to-segment
overdispersion. For a subset of neurons each counted spine also gets a morphology row, drawn
inside the region of its type under the default classification rules of
:mod:`exneuro.cellular.spine_classification`, so that classifying them recovers the counts exactly.

Histology. In each section, SF1+ cells ~ Poisson(c) and positive cells ~ Binomial(SF1+, p) with
logit p = logit(p[group, marker]) + mouse effect + section effect (normal on the logit scale).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

#: Lab column headers of the per-segment file (Neurolucida Explorer branched-structure export).
SEGMENT_FILE = "dendritic_segments.csv"
SEGMENT_HEADERS = {
    "mouse": "Subject",
    "neuron": "Cell",
    "segment": "Segment",
    "length_um": "Length (µm)",
    "counts": {
        "thin": "Thin spines",
        "stubby": "Stubby spines",
        "mushroom": "Mushroom spines",
        "filopodia": "Filopodia",
    },
}
#: Lab column headers of the per-spine morphology file (Imaris Filament Tracer spine statistics).
SPINE_FILE = "spine_morphology.csv"
SPINE_HEADERS = {
    "mouse": "Animal",
    "neuron": "Filament",
    "segment": "Dendrite segment",
    "spine": "Spine ID",
    "head_width_um": "Spine head width (um)",
    "neck_length_um": "Spine neck length (um)",
    "length_um": "Spine length (um)",
}
#: Lab column headers of the histology file (one row per section, one column per marker).
HISTOLOGY_FILE = "sf1_marker_counts.csv"
HISTOLOGY_HEADERS = {
    "mouse": "Mouse",
    "section": "Section",
    "n_labelled": "SF1+ cells",
    "positives": {"Fos": "Fos+ SF1+ cells", "Bdnf": "Bdnf+ SF1+ cells"},
}

SPINE_TYPES = ("thin", "stubby", "mushroom", "filopodia")


def _default_density() -> dict[str, dict[str, float]]:
    # total 9 per 10 µm sedentary, 18 trained: the ~2x of Kindel et al. (2026)
    return {
        "sedentary": {"thin": 5.0, "stubby": 1.5, "mushroom": 2.0, "filopodia": 0.5},
        "trained": {"thin": 10.4, "stubby": 2.6, "mushroom": 4.6, "filopodia": 0.4},
    }


def _default_morphology() -> dict[str, dict[str, tuple[float, float]]]:
    # uniform ranges (µm) inside each type's region of the default rules, with margins
    return {
        "filopodia": {"length_um": (2.2, 3.6), "head_width_um": (0.10, 0.26)},
        "mushroom": {"length_um": (0.8, 2.4), "head_width_um": (0.65, 1.20)},
        "stubby": {"length_um": (0.35, 0.95), "head_width_um": (0.32, 0.58)},
        "thin": {"length_um": (1.05, 2.6), "head_width_um": (0.32, 0.58)},
    }


@dataclass(frozen=True)
class SpineEffects:
    """Planted spine densities (per 10 µm, by group and type) and the nesting of the data."""

    groups: tuple[str, str] = ("sedentary", "trained")
    cohort: str | None = None
    density_per_10um: dict[str, dict[str, float]] = field(default_factory=_default_density)
    mouse_sd: float = 0.25  # SD of the log density between mice (~25 %)
    neuron_sd: float = 0.15  # SD of the log density between neurons of one mouse
    segment_shape: float = 20.0  # gamma-Poisson shape: var = mu + mu^2 / shape
    neurons_per_mouse: tuple[int, int] = (4, 8)
    segments_per_neuron: tuple[int, int] = (3, 6)
    segment_length_um: tuple[float, float] = (15.0, 40.0)
    morphology_neurons_per_mouse: int = 2
    morphology: dict[str, dict[str, tuple[float, float]]] = field(
        default_factory=_default_morphology
    )


def _default_percent() -> dict[str, dict[str, float]]:
    return {
        "Fos": {"sedentary": 12.0, "exercised": 38.0},
        "Bdnf": {"sedentary": 20.0, "exercised": 31.0},
    }


@dataclass(frozen=True)
class HistologyEffects:
    """Planted % marker-positive SF1 cells (median mouse) by marker and group, and the nesting."""

    groups: tuple[str, str] = ("sedentary", "exercised")
    cohort: str | None = None
    percent_positive: dict[str, dict[str, float]] = field(default_factory=_default_percent)
    mouse_sd_logit: float = 0.3
    section_sd_logit: float = 0.15
    sections_per_mouse: tuple[int, int] = (3, 5)
    sf1_cells_per_section: float = 60.0


def default_mice(groups: tuple[str, ...], n_per_group: int = 6, prefix: str = "S") -> pd.DataFrame:
    """A small sample sheet: ``mouse_id`` S001..., ``group`` (n per group, in group order)."""
    n = len(groups) * n_per_group
    return pd.DataFrame(
        {
            "mouse_id": [f"{prefix}{k:03d}" for k in range(1, n + 1)],
            "group": np.repeat(list(groups), n_per_group),
        }
    )


def _study_mice(mice: pd.DataFrame, groups: tuple[str, ...], cohort: str | None) -> pd.DataFrame:
    chosen = mice[mice["group"].isin(groups)]
    if cohort is not None:
        chosen = chosen[chosen["cohort"] == cohort]
    if "excluded_reason" in chosen.columns:
        chosen = chosen[chosen["excluded_reason"].fillna("") == ""]
    if chosen["group"].nunique() < 2:
        raise ValueError(f"the mice table has no mice in both groups {list(groups)}")
    return chosen.reset_index(drop=True)


def _log_effects(rng: np.random.Generator, sd: float, size: int) -> np.ndarray:
    """Mean-one lognormal factors: exp(N(-sd²/2, sd²))."""
    return np.exp(rng.normal(-0.5 * sd**2, sd, size))


def simulate_segments(
    effects: SpineEffects, mice: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Per-segment spine counts in canonical columns (mouse, neuron, segment, length_um,
    <type>_count, group, and neuron_rank: 0 for the first neuron of each mouse), drawn as the
    module docstring says."""
    chosen = _study_mice(mice, effects.groups, effects.cohort)
    types = list(effects.density_per_10um[effects.groups[0]])
    n_mice = len(chosen)
    mouse_factor = _log_effects(rng, effects.mouse_sd, n_mice)
    lo, hi = effects.neurons_per_mouse
    neurons = rng.integers(lo, hi + 1, n_mice)
    neuron_mouse = np.repeat(np.arange(n_mice), neurons)
    neuron_rank = np.concatenate([np.arange(k) for k in neurons])
    neuron_factor = _log_effects(rng, effects.neuron_sd, neuron_mouse.size)
    lo, hi = effects.segments_per_neuron
    segments = rng.integers(lo, hi + 1, neuron_mouse.size)
    seg_neuron = np.repeat(np.arange(neuron_mouse.size), segments)
    seg_rank = np.concatenate([np.arange(k) for k in segments])
    seg_mouse = neuron_mouse[seg_neuron]
    length = np.round(rng.uniform(*effects.segment_length_um, seg_neuron.size), 2)
    group = chosen["group"].to_numpy()[seg_mouse]
    density = np.array(
        [[effects.density_per_10um[g][t] for t in types] for g in group]
    )  # segments x types
    mean = (
        density
        / 10.0
        * length[:, None]
        * (mouse_factor[seg_mouse] * neuron_factor[seg_neuron])[:, None]
    )
    shape = effects.segment_shape
    counts = rng.poisson(mean * rng.gamma(shape, 1.0 / shape, mean.shape))
    mouse_ids = chosen["mouse_id"].to_numpy()[seg_mouse]
    table = pd.DataFrame(
        {
            "mouse": mouse_ids,
            "neuron": [
                f"{m}-N{r + 1}" for m, r in zip(mouse_ids, neuron_rank[seg_neuron], strict=True)
            ],
            "segment": [f"D{r + 1}" for r in seg_rank],
            "length_um": length,
        }
    )
    for k, spine_type in enumerate(types):
        table[f"{spine_type}_count"] = counts[:, k]
    table["group"] = group
    table["neuron_rank"] = neuron_rank[seg_neuron]
    return table


def simulate_spine_morphology(
    effects: SpineEffects, segments: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """One row per counted spine of the first ``morphology_neurons_per_mouse`` neurons of each
    mouse: head width, neck length and length (µm, 2 decimals) inside its type's region."""
    types = [c[: -len("_count")] for c in segments.columns if c.endswith("_count")]
    missing = [t for t in types if t not in effects.morphology]
    if missing:
        raise ValueError(
            f"SpineEffects.morphology gives no size ranges for spine type(s) {missing}"
        )
    chosen = segments[segments["neuron_rank"] < effects.morphology_neurons_per_mouse]
    counts = chosen[[f"{t}_count" for t in types]].to_numpy(np.int64)
    per_segment = counts.sum(axis=1)
    row = np.repeat(np.arange(len(chosen)), per_segment)
    type_code = (
        np.concatenate([np.repeat(np.arange(len(types)), c) for c in counts])
        if len(chosen)
        else np.zeros(0, np.int64)
    )
    spine_types = np.asarray(types, dtype=object)[type_code]
    length = np.empty(row.size)
    head = np.empty(row.size)
    for k, spine_type in enumerate(types):
        pick = type_code == k
        ranges = effects.morphology[spine_type]
        length[pick] = rng.uniform(*ranges["length_um"], pick.sum())
        head[pick] = rng.uniform(*ranges["head_width_um"], pick.sum())
    length = np.round(length, 2)
    head = np.round(head, 2)
    neck = np.round(np.maximum(length - head, 0.0), 2)
    start = np.concatenate([[0], np.cumsum(per_segment)[:-1]])
    spine_number = np.arange(row.size) - np.repeat(start, per_segment) + 1
    rows = chosen.iloc[row]
    return pd.DataFrame(
        {
            "mouse": rows["mouse"].to_numpy(),
            "neuron": rows["neuron"].to_numpy(),
            "segment": rows["segment"].to_numpy(),
            "spine": [f"{s}-{n}" for s, n in zip(rows["segment"], spine_number, strict=True)],
            "head_width_um": head,
            "neck_length_um": neck,
            "length_um": length,
            "true_type": spine_types,
        }
    )


def segment_headers(types: list[str]) -> dict:
    """The per-segment file's headers for these spine types (the config's column mapping)."""
    headers = copy.deepcopy(SEGMENT_HEADERS)
    known = headers["counts"]
    headers["counts"] = {t: known.get(t, f"{t.capitalize()} spines") for t in types}
    return headers


def _lab_frame(table: pd.DataFrame, headers: Mapping[str, object]) -> pd.DataFrame:
    out = {}
    for field_name, header in headers.items():
        if isinstance(header, Mapping):
            for sub, column in header.items():
                out[column] = table[f"{sub}_count"] if f"{sub}_count" in table else table[sub]
        else:
            out[header] = table[field_name]
    return pd.DataFrame(out)


def write_spines(
    effects: SpineEffects,
    mice: pd.DataFrame,
    folder: Path,
    rng: np.random.Generator,
) -> dict:
    """Write ``dendritic_segments.csv`` and ``spine_morphology.csv`` into ``folder``; return the
    planted truth (densities, ratio trained/sedentary, random-effect SDs, files and headers).

    ``mice`` has ``mouse_id`` and ``group`` (and ``cohort`` when ``effects.cohort`` is set);
    mice of the two ``effects.groups`` are used, excluded mice are skipped.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    segments = simulate_segments(effects, mice, rng)
    spines = simulate_spine_morphology(effects, segments, rng)
    headers = segment_headers(list(effects.density_per_10um[effects.groups[0]]))
    _lab_frame(segments, headers).to_csv(
        folder / SEGMENT_FILE, index=False, lineterminator="\n", float_format="%.2f"
    )
    _lab_frame(spines, SPINE_HEADERS).to_csv(
        folder / SPINE_FILE, index=False, lineterminator="\n", float_format="%.2f"
    )
    control, treated = effects.groups
    totals = {g: float(sum(effects.density_per_10um[g].values())) for g in effects.groups}
    return {
        "model": (
            "count ~ NegBin(mean = density[group, type] / 10 * length_um * mouse_factor * "
            "neuron_factor, size = segment_shape); factors mean-one lognormal"
        ),
        "groups": [control, treated],
        "density_per_10um_by_group_and_type": {
            g: dict(effects.density_per_10um[g]) for g in effects.groups
        },
        "total_density_per_10um_by_group": totals,
        "total_density_ratio": round(totals[treated] / totals[control], 6),
        "total_density_difference_per_10um": round(totals[treated] - totals[control], 6),
        "mouse_sd_log": effects.mouse_sd,
        "neuron_sd_log": effects.neuron_sd,
        "segment_shape": effects.segment_shape,
        "n_mice": int(segments["mouse"].nunique()),
        "n_neurons": int(segments["neuron"].nunique()),
        "n_segments": len(segments),
        "n_spines_with_morphology": len(spines),
        "files": {"segments": SEGMENT_FILE, "spines": SPINE_FILE},
        "columns": {"segments": headers, "spines": dict(SPINE_HEADERS)},
    }


def simulate_sections(
    effects: HistologyEffects, mice: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Per-section counts, wide: mouse, section, n_labelled, a count column per marker, group."""
    chosen = _study_mice(mice, effects.groups, effects.cohort)
    markers = list(effects.percent_positive)
    lo, hi = effects.sections_per_mouse
    n_sections = rng.integers(lo, hi + 1, len(chosen))
    mouse = np.repeat(np.arange(len(chosen)), n_sections)
    rank = np.concatenate([np.arange(k) for k in n_sections])
    labelled = rng.poisson(effects.sf1_cells_per_section, mouse.size)
    group = chosen["group"].to_numpy()[mouse]
    table = pd.DataFrame(
        {
            "mouse": chosen["mouse_id"].to_numpy()[mouse],
            "section": [f"S{r + 1}" for r in rank],
            "n_labelled": labelled,
        }
    )
    for marker in markers:
        base = special.logit(np.array([effects.percent_positive[marker][g] for g in group]) / 100.0)
        mouse_effect = rng.normal(0.0, effects.mouse_sd_logit, len(chosen))[mouse]
        section_effect = rng.normal(0.0, effects.section_sd_logit, mouse.size)
        table[marker] = rng.binomial(labelled, special.expit(base + mouse_effect + section_effect))
    table["group"] = group
    return table


def _expected_percent(percent: float, effects: HistologyEffects) -> float:
    """Mean % positive over mice and sections: E[expit(logit p + u)], u ~ N(0, sd_mouse² +
    sd_section²), by 40-point Gauss-Hermite quadrature (differs from p: expit is not linear)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    sd = float(np.hypot(effects.mouse_sd_logit, effects.section_sd_logit))
    values = special.expit(special.logit(percent / 100.0) + sd * nodes)
    return float(100.0 * np.sum(weights * values) / np.sum(weights))


def write_histology(
    effects: HistologyEffects,
    mice: pd.DataFrame,
    folder: Path,
    rng: np.random.Generator,
) -> dict:
    """Write ``sf1_marker_counts.csv`` (one row per section, one column per marker) into
    ``folder``; return the planted truth."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sections = simulate_sections(effects, mice, rng)
    headers = dict(HISTOLOGY_HEADERS)
    headers["positives"] = {m: f"{m}+ SF1+ cells" for m in effects.percent_positive}
    out = pd.DataFrame(
        {
            headers["mouse"]: sections["mouse"],
            headers["section"]: sections["section"],
            headers["n_labelled"]: sections["n_labelled"],
            **{column: sections[m] for m, column in headers["positives"].items()},
        }
    )
    out.to_csv(folder / HISTOLOGY_FILE, index=False, lineterminator="\n")
    control, treated = effects.groups
    expected = {
        m: {g: round(_expected_percent(v[g], effects), 6) for g in effects.groups}
        for m, v in effects.percent_positive.items()
    }
    return {
        "model": (
            "positive ~ Binomial(SF1+ cells, expit(logit(p[group, marker]) + mouse + section)); "
            "SF1+ cells ~ Poisson(sf1_cells_per_section)"
        ),
        "groups": [control, treated],
        "percent_positive_median_mouse_by_marker_and_group": {
            m: dict(v) for m, v in effects.percent_positive.items()
        },
        "difference_percentage_points_median_mouse": {
            m: round(v[treated] - v[control], 6) for m, v in effects.percent_positive.items()
        },
        "expected_percent_positive_by_marker_and_group": expected,
        "expected_difference_percentage_points": {
            m: round(v[treated] - v[control], 6) for m, v in expected.items()
        },
        "mouse_sd_logit": effects.mouse_sd_logit,
        "section_sd_logit": effects.section_sd_logit,
        "n_mice": int(sections["mouse"].nunique()),
        "n_sections": len(sections),
        "files": {"sections": HISTOLOGY_FILE},
        "columns": {"sections": headers},
    }
