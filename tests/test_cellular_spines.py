"""Dendritic spines: reading, classification, densities, nested statistics, SuperPlots, simulator.

The key scientific checks are the two ``test_*_holds_false_positive_rate_where_cells_as_n_fails``:
on studies simulated with no group effect but mice that differ, the mixed model and the per-mouse
test reject about 5 % of the time while the test with segments as n rejects far more often.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

from exneuro.cellular import morphology_stats, nested
from exneuro.cellular import spines as sp
from exneuro.cellular.spine_classification import (
    DEFAULT_CRITERIA,
    classify_spine_table,
    classify_spines,
    spine_counts_per_segment,
)
from exneuro.cellular.spine_density import mouse_density, neuron_density, segment_density
from exneuro.errors import ConfigError, InputDataError
from exneuro.figures.superplot import mouse_shades, superplot
from exneuro.paper.standard.cellular import spine_figure
from exneuro.simulate import spines as sim
from exneuro.stats import compare
from exneuro.stats.table import significance_stars

TYPES = ["thin", "stubby", "mushroom"]
COLUMNS = {
    "mouse": "Animal",
    "neuron": "Cell",
    "segment": "Seg",
    "length_um": "Length (µm)",
    "counts": {"thin": "Thin", "stubby": "Stubby", "mushroom": "Mushroom"},
}
HEADER = "Animal,Cell,Seg,Length (µm),Thin,Stubby,Mushroom"
GOOD_ROWS = [
    "M1,c1,s1,20,3,1,0",
    "M1,c1,s2,10,1,0,0",
    "M1,c2,s1,30,9,0,3",
    "M2,c3,s1,40,8,2,2",
]


def write(tmp_path, rows, header=HEADER, name="segments.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def segments(tmp_path):
    return sp.read_segment_table(write(tmp_path, GOOD_ROWS), COLUMNS, TYPES)


# ------------------------------------------------------------------------------------------------
# Reading the per-segment table
# ------------------------------------------------------------------------------------------------


def test_segment_table_has_canonical_columns_and_lines(segments):
    assert list(segments.columns) == [
        "mouse",
        "neuron",
        "segment",
        "length_um",
        "thin_count",
        "stubby_count",
        "mushroom_count",
        "source_line",
    ]
    assert segments["length_um"].tolist() == [20.0, 10.0, 30.0, 40.0]
    assert segments["thin_count"].tolist() == [3, 1, 9, 8]
    assert segments["source_line"].tolist() == [2, 3, 4, 5]


def test_segment_table_reads_excel_the_same_as_csv(tmp_path, segments):
    table = pd.DataFrame([r.split(",") for r in GOOD_ROWS], columns=HEADER.split(","))
    path = tmp_path / "segments.xlsx"
    table.to_excel(path, index=False)
    from_excel = sp.read_segment_table(path, COLUMNS, TYPES)
    pd.testing.assert_frame_equal(from_excel, segments)


def test_segment_table_with_only_lengths(tmp_path):
    columns = {k: v for k, v in COLUMNS.items() if k != "counts"}
    table = sp.read_segment_table(write(tmp_path, GOOD_ROWS), columns, [])
    assert list(table.columns) == ["mouse", "neuron", "segment", "length_um", "source_line"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [*GOOD_ROWS, "M2,c1,s9,12,1,1,1"],
            r"segments\.csv line 6, column 'Cell': neuron 'c1' is listed under mouse M1 "
            r"\(line 2\) and mouse M2 \(line 6\).*neuron_ids: per_mouse",
        ),
        (["M1,c1,s1,0,3,1,0"], r"line 2, column 'Length \(µm\)': segment length 0 is zero"),
        (["M1,c1,s1,-5,3,1,0"], r"line 2, column 'Length \(µm\)': segment length -5 is negative"),
        (["M1,c1,s1,20 um,3,1,0"], r"line 2, column 'Length \(µm\)': '20 um' is not a number"),
        (["M1,c1,s1,,3,1,0"], r"line 2, column 'Length \(µm\)': empty cell"),
        ([*GOOD_ROWS[:2], "M1,c1,s2,12,-1,0,0"], r"line 4, column 'Thin': negative thin count"),
        (["M1,c1,s1,20,3,1.5,0"], r"line 2, column 'Stubby': stubby count 1.5 is not a whole"),
        (
            [*GOOD_ROWS, "M1,c1,s1,11,1,1,1"],
            r"line 6, column 'Seg': segment 's1' of neuron 'c1' \(mouse M1\) appears 2 times "
            r"\(lines 2, 6\)",
        ),
        ([",c1,s1,20,3,1,0"], r"line 2, column 'Animal': empty cell"),
    ],
)
def test_bad_segment_tables_stop_with_file_line_and_column(tmp_path, rows, expected):
    with pytest.raises(InputDataError, match=expected):
        sp.read_segment_table(write(tmp_path, rows), COLUMNS, TYPES)


def test_neurons_numbered_within_each_mouse_are_allowed_when_configured(tmp_path):
    rows = [*GOOD_ROWS, "M2,c1,s1,12,1,1,1"]
    table = sp.read_segment_table(write(tmp_path, rows), COLUMNS, TYPES, neuron_ids="per_mouse")
    density = segment_density(table, TYPES)
    neurons = neuron_density(density)
    assert len(neurons[neurons["spine_type"] == "total"]) == 4  # (M1, c1) and (M2, c1) differ


def test_missing_column_and_bad_mapping_are_named(tmp_path):
    path = write(tmp_path, GOOD_ROWS)
    with pytest.raises(InputDataError, match=r"no column 'Lenght' \(configured for 'length_um'\)"):
        sp.read_segment_table(path, {**COLUMNS, "length_um": "Lenght"}, TYPES)
    with pytest.raises(ConfigError, match=r"no column for spine type\(s\) \['filopodia'\]"):
        sp.read_segment_table(path, COLUMNS, [*TYPES, "filopodia"])
    with pytest.raises(ConfigError, match="'total' is reserved"):
        sp.read_segment_table(path, COLUMNS, ["total"])
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['lenght_um'\]"):
        sp.read_segment_table(path, {**COLUMNS, "lenght_um": "Length (µm)"}, TYPES)


# ------------------------------------------------------------------------------------------------
# Densities
# ------------------------------------------------------------------------------------------------


def test_segment_density_is_count_per_length_times_10(segments):
    density = segment_density(segments, TYPES)
    assert list(density.columns) == [
        "mouse",
        "neuron",
        "segment",
        "spine_type",
        "count",
        "length_um",
        "density_per_10um",
    ]
    first = density[(density["neuron"] == "c1") & (density["segment"] == "s1")]
    got = dict(zip(first["spine_type"], first["density_per_10um"], strict=True))
    assert got == pytest.approx({"thin": 1.5, "stubby": 0.5, "mushroom": 0.0, "total": 2.0})
    assert list(dict.fromkeys(density["spine_type"])) == [*TYPES, "total"]
    per_um = segment_density(segments, TYPES, per_um=1.0)
    assert per_um["density_per_1um"].to_numpy() == pytest.approx(
        density["density_per_10um"].to_numpy() / 10
    )


def test_neuron_and_mouse_densities_are_length_weighted(segments):
    density = segment_density(segments, TYPES)
    neurons = neuron_density(density).set_index(["neuron", "spine_type"])
    # neuron c1: thin 3 + 1 spines on 20 + 10 µm = 4/30*10 (not the mean of 1.5 and 1.0)
    assert neurons.loc[("c1", "thin"), "density_per_10um"] == pytest.approx(4 / 30 * 10)
    assert neurons.loc[("c1", "total"), "n_segments"] == 2
    assert neurons.loc[("c1", "total"), "length_um"] == 30
    mice = mouse_density(density).set_index(["mouse", "spine_type"])
    # mouse M1: total 4 + 1 + 12 spines on 60 µm
    assert mice.loc[("M1", "total"), "density_per_10um"] == pytest.approx(17 / 60 * 10)
    assert mice.loc[("M1", "total"), "n_neurons"] == 2
    assert mice.loc[("M1", "total"), "mean_neuron_density_per_10um"] == pytest.approx(
        (5 / 30 * 10 + 12 / 30 * 10) / 2
    )
    assert mice.loc[("M2", "mushroom"), "density_per_10um"] == pytest.approx(0.5)


def test_group_column_is_carried_to_every_level(segments):
    sheet = pd.DataFrame({"mouse_id": ["M1", "M2"], "group": ["a", "b"], "excluded_reason": ""})
    density = nested.join_sample_sheet(segment_density(segments, TYPES), sheet)
    assert set(mouse_density(density)["group"]) == {"a", "b"}
    assert "group" in neuron_density(density).columns


def test_mouse_missing_from_sample_sheet_is_named(segments):
    sheet = pd.DataFrame({"mouse_id": ["M1"], "group": ["a"]})
    with pytest.raises(InputDataError, match=r"line 5.*mouse 'M2' is not in the sample sheet"):
        nested.join_sample_sheet(segments, sheet)


# ------------------------------------------------------------------------------------------------
# Classification
# ------------------------------------------------------------------------------------------------


def spine_frame(rows):
    table = pd.DataFrame(
        rows, columns=["mouse", "neuron", "segment", "head_width_um", "neck_length_um", "length_um"]
    )
    table["source_line"] = np.arange(len(table)) + 2
    return table


HAND_SPINES = spine_frame(
    [
        ("M1", "c1", "s1", 0.20, 2.30, 2.50),  # filopodia
        ("M1", "c1", "s1", 0.80, 0.90, 1.70),  # mushroom
        ("M1", "c1", "s1", 0.45, 0.20, 0.70),  # stubby
        ("M1", "c1", "s2", 0.40, 1.20, 1.60),  # thin
        ("M1", "c1", "s2", 0.70, 0.05, 0.75),  # mushroom before stubby: first rule wins
        ("M1", "c1", "s2", 0.30, 1.80, 2.00),  # filopodia at both bounds (inclusive)
        ("M1", "c1", "s2", 0.31, 1.69, 2.00),  # head just too wide for filopodia: thin
    ]
)


def test_classification_follows_ordered_rules():
    types = classify_spines(HAND_SPINES, DEFAULT_CRITERIA, "Risher 2014", sp.DEFAULT_SPINE_TYPES)
    assert types.tolist() == [
        "filopodia",
        "mushroom",
        "stubby",
        "thin",
        "mushroom",
        "filopodia",
        "thin",
    ]
    assert types.attrs["source"] == "Risher 2014"


def test_rule_order_changes_the_result():
    stubby_first = [DEFAULT_CRITERIA[2], DEFAULT_CRITERIA[1], {"type": "thin", "when": {}}]
    types = classify_spines(HAND_SPINES, stubby_first, "custom")
    assert types.iloc[4] == "stubby"


def test_classified_table_records_the_published_source():
    table = classify_spine_table(HAND_SPINES, source="Harris et al. 1992 J Neurosci 12:2685")
    assert set(table["classification_source"]) == {"Harris et al. 1992 J Neurosci 12:2685"}
    with pytest.raises(ConfigError, match="published source"):
        classify_spines(HAND_SPINES, DEFAULT_CRITERIA, " ")


def test_derived_length_to_head_ratio_can_define_stubby():
    rules = [
        {"type": "stubby", "when": {"length_to_head_width": {"max": 1.0}}},
        {"type": "thin", "when": {}},
    ]
    spines = spine_frame([("M1", "c1", "s1", 0.6, 0.0, 0.5), ("M1", "c1", "s1", 0.3, 1.0, 1.3)])
    assert classify_spines(spines, rules, "ratio").tolist() == ["stubby", "thin"]


def test_spine_matching_no_rule_is_named_with_its_line():
    rules = [DEFAULT_CRITERIA[1], DEFAULT_CRITERIA[2]]  # no catch-all
    with pytest.raises(
        InputDataError,
        match=r"spine table line 2: spine on segment 's1' of neuron 'c1' \(mouse M1; head_width_um "
        r"0.2, neck_length_um 2.3, length_um 2.5\) matches no classification rule \(4 such",
    ):
        classify_spines(HAND_SPINES, rules, "x")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"type": "thin", "when": {"neck_width_um": {"max": 0.2}}}, "measurement 'neck_width_um'"),
        ({"type": "branched", "when": {}}, "type 'branched', which is not in the configured"),
        ({"type": "thin", "when": {"length_um": {"minimum": 1}}}, r"give \{min: <number>\}"),
        ({"type": "thin", "when": {"length_um": {"min": 2, "max": 1}}}, "min 2 is above max 1"),
        ({"type": "thin", "if": {}}, r"unknown key\(s\) \['if'\]"),
    ],
)
def test_bad_classification_rules_are_config_errors(rule, expected):
    with pytest.raises(ConfigError, match=expected):
        classify_spines(HAND_SPINES, [rule], "x", sp.DEFAULT_SPINE_TYPES)


def test_spine_counts_per_segment_match_the_segment_table_shape(segments):
    spines = classify_spine_table(HAND_SPINES)
    counts = spine_counts_per_segment(spines, sp.DEFAULT_SPINE_TYPES, segments)
    # only neuron c1 was analysed spine by spine: its two segments, zeros where no spine
    assert counts[["mouse", "neuron", "segment"]].values.tolist() == [
        ["M1", "c1", "s1"],
        ["M1", "c1", "s2"],
    ]
    assert counts["length_um"].tolist() == [20.0, 10.0]
    assert counts[[sp.count_column(t) for t in sp.DEFAULT_SPINE_TYPES]].values.tolist() == [
        [0, 1, 1, 1],
        [2, 0, 1, 1],
    ]
    density = segment_density(counts, sp.DEFAULT_SPINE_TYPES)
    assert density.loc[density["spine_type"] == "total", "count"].tolist() == [3, 4]


def test_spine_on_untraced_segment_is_an_error(segments):
    spines = classify_spine_table(HAND_SPINES)
    spines.loc[0, "segment"] = "s7"
    with pytest.raises(InputDataError, match=r"line 2.*segment 's7'.*no traced length"):
        spine_counts_per_segment(spines, sp.DEFAULT_SPINE_TYPES, segments)


def test_spine_table_reader_checks_measurements(tmp_path):
    columns = {
        "mouse": "Animal",
        "neuron": "Cell",
        "segment": "Seg",
        "head_width_um": "Head",
        "neck_length_um": "Neck",
        "length_um": "Length",
    }
    header = "Animal,Cell,Seg,Head,Neck,Length"
    table = sp.read_spine_table(write(tmp_path, ["M1,c1,s1,0.5,0,0.8"], header), columns)
    assert table[["head_width_um", "neck_length_um", "length_um"]].values.tolist() == [
        [0.5, 0.0, 0.8]
    ]
    with pytest.raises(InputDataError, match=r"column 'Head': spine head width 0 is zero"):
        sp.read_spine_table(write(tmp_path, ["M1,c1,s1,0,0,0.8"], header), columns)
    with pytest.raises(InputDataError, match=r"column 'Neck': spine neck length -0.1 is negative"):
        sp.read_spine_table(write(tmp_path, ["M1,c1,s1,0.5,-0.1,0.8"], header), columns)


# ------------------------------------------------------------------------------------------------
# Nested statistics
# ------------------------------------------------------------------------------------------------


def null_studies(rng, n_studies, n_mice=4, n_neurons=4, n_segments=4, mouse_sd=1.5, neuron_sd=0.5):
    """Studies with no group effect but strong mouse-to-mouse variance (ICC ~ 0.6)."""
    m = 2 * n_mice
    per_mouse = n_neurons * n_segments
    mouse = np.repeat(np.arange(m), per_mouse)
    neuron = np.tile(np.repeat(np.arange(n_neurons), n_segments), m)
    base = pd.DataFrame(
        {
            "group": np.where(mouse < n_mice, "control", "treated"),
            "mouse": [f"m{k}" for k in mouse],
            "neuron": [f"n{k}" for k in neuron],
            "segment": [f"s{k}" for k in np.tile(np.arange(n_segments), m * n_neurons)],
        }
    )
    for _ in range(n_studies):
        y = (
            10.0
            + rng.normal(0, mouse_sd, m)[mouse]
            + rng.normal(0, neuron_sd, m * n_neurons)[mouse * n_neurons + neuron]
            + rng.normal(0, 1.0, mouse.size)
        )
        yield base.assign(y=y)


LEVELS = ["mouse", "neuron", "segment"]
LABELS = ("control", "treated")


def null_rejection_rates(seed: int, n_studies: int, analyses: tuple[str, ...]) -> dict:
    """Share of null studies with p < 0.05 for each test run, and the CPU seconds taken."""
    start = time.process_time()
    p_values: dict[str, list[float]] = {}
    for study in null_studies(np.random.default_rng(seed), n_studies):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # singular fits are expected under the null
            rows = nested.nested_group_statistics(
                study, "y", "group", LEVELS, LABELS, analyses=analyses
            )
        for test, p in zip(rows["test"], rows["p"], strict=True):
            p_values.setdefault(test, []).append(p)
    rates = {test: float(np.mean(np.array(p) < 0.05)) for test, p in p_values.items()}
    return {**rates, "cpu_s": time.process_time() - start}


def test_per_mouse_test_holds_false_positive_rate_where_cells_as_n_fails():
    """200 null studies (4 + 4 mice, 4 neurons each, 4 segments each; ICC ~0.6)."""
    rates = null_rejection_rates(20260301, 200, ("cluster", "naive"))
    print(
        f"\n200 null studies, rejections at 0.05: per-mouse Welch "
        f"{rates['welch_t_mouse_means']:.3f}, naive segments-as-n {rates['welch_t_naive']:.3f} "
        f"({rates['cpu_s']:.1f} s CPU)"
    )
    assert rates["welch_t_mouse_means"] <= 0.09
    assert rates["welch_t_naive"] >= 0.20


def test_mixed_model_holds_false_positive_rate_where_cells_as_n_fails():
    """The mixed model (~0.13 s a fit) on 60 further null studies of the same design."""
    rates = null_rejection_rates(20260302, 60, ("lmm", "naive"))
    print(
        f"\n60 null studies, rejections at 0.05: mixed model {rates['lmm']:.3f}, naive "
        f"segments-as-n {rates['welch_t_naive']:.3f} ({rates['cpu_s']:.1f} s CPU)"
    )
    assert rates["lmm"] <= 0.10
    assert rates["welch_t_naive"] >= 0.20


def test_nested_rows_fill_every_level_and_label_the_naive_test():
    study = next(null_studies(np.random.default_rng(3), 1, n_mice=3, n_neurons=2, n_segments=3))
    rows = nested.nested_group_statistics(
        study, "y", "group", ["mouse", "neuron", "segment"], ("control", "treated"), n_boot=500
    )
    assert rows["test"].tolist() == [
        "lmm",
        "welch_t_mouse_means",
        "hierarchical_bootstrap",
        "welch_t_naive",
    ]
    assert rows["n_mice"].tolist() == [6] * 4
    assert rows["n_cells"].tolist() == [12] * 4
    assert rows["n_segments"].tolist() == [36] * 4
    assert set(rows["n_by_group"]) == {"control=3; treated=3"}
    assert set(rows["term"]) == {"treated - control"}
    assert rows["model"].iloc[0].startswith("y ~ group + (1 | mouse) + (1 | mouse:neuron)")
    assert rows["notes"].iloc[3].startswith("naive (pseudoreplicated)")
    means = study.groupby(["group", "mouse"])["y"].mean()
    expected = means["treated"].mean() - means["control"].mean()
    assert rows["estimate"].iloc[1] == pytest.approx(expected)


def test_levels_without_replicate_rows_get_no_random_effect():
    study = next(null_studies(np.random.default_rng(4), 1, n_mice=4, n_neurons=5, n_segments=1))
    rows = nested.nested_group_statistics(
        study, "y", "group", ["mouse", "neuron"], ("control", "treated"), analyses=["lmm"]
    )
    assert rows["model"].iloc[0].startswith("y ~ group + (1 | mouse); REML")
    assert rows["n_cells"].iloc[0] == 40


def test_mouse_in_both_groups_is_an_error():
    study = next(null_studies(np.random.default_rng(5), 1, n_mice=3, n_neurons=2, n_segments=2))
    study.loc[0, "group"] = "treated"
    with pytest.raises(InputDataError, match="mouse m0 has rows in both groups"):
        nested.nested_group_statistics(
            study, "y", "group", ["mouse", "neuron"], ("control", "treated")
        )


def test_spine_cluster_test_uses_length_weighted_mouse_density(segments):
    sheet = pd.DataFrame({"mouse_id": ["M1", "M2", "M3", "M4"], "group": ["a", "a", "b", "b"]})
    extra = segments.assign(mouse=segments["mouse"].map({"M1": "M3", "M2": "M4"}))
    extra["neuron"] = extra["neuron"] + "x"
    extra["thin_count"] = extra["thin_count"] * 2 + 1
    both = pd.concat([segments, extra], ignore_index=True)
    density = nested.join_sample_sheet(segment_density(both, TYPES), sheet)
    rows = morphology_stats.spine_statistics(density, ("a", "b"), spine_types=TYPES, n_boot=200)
    cluster = rows[(rows["test"] == "welch_t_mouse_means") & (rows["subset"] == "spine_type=thin")]
    mice = mouse_density(density)
    thin = mice[mice["spine_type"] == "thin"].set_index("mouse")["density_per_10um"]
    expected = compare.two_group_test(thin[["M1", "M2"]], thin[["M3", "M4"]], labels=("a", "b"))
    assert cluster["estimate"].iloc[0] == pytest.approx(expected["estimate"].iloc[0])
    assert cluster["p"].iloc[0] == pytest.approx(expected["p"].iloc[0])
    assert set(rows["subset"]) == {f"spine_type={t}" for t in [*TYPES, "total"]}
    assert set(rows["analysis"]) == {"spines"}


# ------------------------------------------------------------------------------------------------
# Simulator and planted-effect recovery
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spines")
    effects = sim.SpineEffects()
    mice = sim.default_mice(effects.groups)
    truth = sim.write_spines(effects, mice, folder, np.random.default_rng(11))
    segments = sp.read_segment_table(
        folder / sim.SEGMENT_FILE, sim.SEGMENT_HEADERS, sim.SPINE_TYPES
    )
    density = nested.join_sample_sheet(segment_density(segments, sim.SPINE_TYPES), mice)
    return folder, effects, mice, truth, segments, density


def test_simulator_is_deterministic_and_small(simulated, tmp_path):
    folder, effects, mice, truth, _, _ = simulated
    again = sim.write_spines(effects, mice, tmp_path, np.random.default_rng(11))
    assert again == truth
    for name in (sim.SEGMENT_FILE, sim.SPINE_FILE):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes()
    assert sum((folder / n).stat().st_size for n in (sim.SEGMENT_FILE, sim.SPINE_FILE)) < 2e6
    assert truth["total_density_ratio"] == pytest.approx(2.0)
    assert truth["n_mice"] == 12


def test_classifying_simulated_spines_recovers_the_segment_counts(simulated):
    folder, _, _, _, segments, _ = simulated
    spines = sp.read_spine_table(folder / sim.SPINE_FILE, sim.SPINE_HEADERS)
    classified = classify_spine_table(spines, spine_types=sim.SPINE_TYPES)
    counts = spine_counts_per_segment(classified, sim.SPINE_TYPES, segments)
    assert counts["neuron"].nunique() == 12 * sim.SpineEffects().morphology_neurons_per_mouse
    merged = counts.merge(segments, on=["mouse", "neuron", "segment"], suffixes=("", "_file"))
    assert len(merged) == len(counts)
    for spine_type in sim.SPINE_TYPES:
        column = sp.count_column(spine_type)
        assert (merged[column] == merged[f"{column}_file"]).all(), spine_type


def test_planted_doubling_of_spine_density_is_recovered(simulated):
    _, effects, _, truth, _, density = simulated
    # 99 % CIs, so that this check of one random study fails by chance about 1 time in 100
    rows = morphology_stats.spine_statistics(
        density, effects.groups, spine_types=sim.SPINE_TYPES, n_boot=2000, level=0.99
    )
    total = rows[rows["subset"] == "spine_type=total"].set_index("test")
    planted = truth["total_density_difference_per_10um"]
    for test in ("lmm", "welch_t_mouse_means", "hierarchical_bootstrap"):
        assert total.loc[test, "ci_low"] <= planted <= total.loc[test, "ci_high"], test
    assert total.loc["lmm", "p"] < 0.01
    assert total.loc["welch_t_mouse_means", "p"] < 0.01
    mice = mouse_density(density)
    means = mice[mice["spine_type"] == "total"].groupby("group")["density_per_10um"].mean()
    ratio = means[effects.groups[1]] / means[effects.groups[0]]
    print(f"\nrecovered trained/sedentary total density ratio {ratio:.2f} (planted 2.00)")
    assert 1.6 <= ratio <= 2.5
    filopodia = rows[(rows["subset"] == "spine_type=filopodia") & (rows["test"] == "lmm")]
    assert filopodia["p"].iloc[0] > 0.05  # planted 0.5 vs 0.4 per 10 µm: no detectable change


# ------------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------------

STYLE = {"font_size_pt": 7, "png_dpi": 150, "full_width_mm": 174, "single_column_mm": 85}
GROUPS = [
    {"id": "sedentary", "label": "Sedentary", "color": "#4D4D4D"},
    {"id": "trained", "label": "Trained", "color": "#D55E00"},
]


def test_mouse_shades_are_distinct_and_deterministic():
    shades = mouse_shades("#D55E00", 6)
    assert len(set(shades)) == 6
    assert shades == mouse_shades("#D55E00", 6)
    assert mouse_shades("#D55E00", 1) == ["#d55e00"]


def test_superplot_returns_every_point_drawn(simulated):
    import matplotlib.pyplot as plt

    _, effects, _, _, _, density = simulated
    total = density[density["spine_type"] == "total"]
    figure, axis = plt.subplots()
    source = superplot(
        axis,
        total,
        "density_per_10um",
        "group",
        "mouse",
        list(effects.groups),
        {"sedentary": "#4D4D4D", "trained": "#D55E00"},
        weight="length_um",
    )
    plt.close(figure)
    assert (source["kind"] == "cell").sum() == len(total)
    assert (source["kind"] == "mouse").sum() == 12
    pooled = mouse_density(density)
    pooled = pooled[pooled["spine_type"] == "total"].set_index("mouse")["density_per_10um"]
    mice = source[source["kind"] == "mouse"].set_index("mouse")["value"]
    assert mice.to_numpy() == pytest.approx(pooled[mice.index].to_numpy())
    group = source[source["kind"] == "group"].set_index("group")
    assert group.loc["trained", "value"] == pytest.approx(
        pooled[
            [m for m in pooled.index if m in set(total.loc[total.group == "trained", "mouse"])]
        ].mean()
    )


def test_spine_figure_writes_the_same_bytes_twice(simulated, tmp_path):
    _, effects, _, _, _, density = simulated
    stats = morphology_stats.spine_statistics(
        density,
        effects.groups,
        spine_types=sim.SPINE_TYPES,
        n_boot=200,
        analyses=["cluster"],
        subset={"cohort": "c"},
    )
    stats.loc[stats["test"] == "welch_t_mouse_means", "test"] = "lmm"  # stars from these rows
    outputs = []
    for run in ("a", "b"):
        paths = [str(tmp_path / run / f"spines.{fmt}") for fmt in ("pdf", "svg", "png")]
        spine_figure(
            density,
            stats,
            sim.SPINE_TYPES,
            list(effects.groups),
            GROUPS,
            STYLE,
            paths,
            str(tmp_path / run / "source"),
            subset={"cohort": "c"},
        )
        outputs.append(
            [(tmp_path / run / f"spines.{fmt}").read_bytes() for fmt in ("pdf", "svg", "png")]
            + [(tmp_path / run / "source" / f"panel_{p}.tsv").read_bytes() for p in "ABCDE"]
        )
    assert outputs[0] == outputs[1]
    panel_a = pd.read_csv(tmp_path / "a" / "source" / "panel_A.tsv", sep="\t")
    assert set(panel_a["spine_type"]) == {"total"}
    assert (panel_a["kind"] == "cell").sum() == (density["spine_type"] == "total").sum()
    row = stats[(stats["test"] == "lmm") & (stats["subset"] == "cohort=c; spine_type=total")].iloc[
        0
    ]
    stars = significance_stars(row["p_adj"])
    assert stars.startswith("*")
    assert f">{stars}<".encode() in outputs[0][1]  # the stars of the statistics row, in the SVG
