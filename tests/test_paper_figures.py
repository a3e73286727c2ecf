"""Paper figures declared in the config: legend text from statistics rows, the checks that name
a wrong figure declaration, and the panel catalogue against the schema and the drawing code."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from conftest import REPO

from exneuro.config import ConfigError, validate_config
from exneuro.figures.legend import (
    describe_row,
    describe_tests,
    format_number,
    format_p,
    in_animal_words,
    n_text,
    statistic_text,
)
from exneuro.figures.registry import DRAW, PANEL_TYPES, draws, panel_type
from exneuro.paper.catalogue import figure_inputs
from exneuro.paper.compose import draw_panels, figure_width_mm, legend_text
from exneuro.paper.panels import Panel, PanelError, Study
from exneuro.schema_doc import with_panel_types

# A row as the statistics table holds it: the example's silencing cohort, distance, group x
# session of the mixed-design ANOVA with its Greenhouse-Geisser correction.
GG_ROW = {
    "analysis": "treadmill",
    "outcome": "distance_m",
    "subset": "cohort=silencing",
    "test": "mixed_anova",
    "term": "group:session",
    "statistic_name": "F",
    "statistic": 6.1711,
    "df_num": 5.0,
    "df_den": 70.0,
    "p": 0.00008,
    "p_adj": 0.0147,
    "correction": "Greenhouse-Geisser",
    "epsilon": 0.2727,
    "effect_size": 0.3059,
    "effect_size_name": "partial eta^2",
    "n_mice": 16,
    "n_by_group": "control=8; silenced=8",
}


def test_numbers_and_p_are_written_as_journals_print_them():
    assert format_number(27.0) == "27.0"
    assert format_number(-6.8883) == "−6.89"
    assert format_number(0.09733) == "0.0973"
    assert format_number(920.4) == "920"
    assert format_p(0.0021) == "p = 0.002"
    assert format_p(0.0472) == "p = 0.047"
    assert format_p(0.64) == "p = 0.64"
    assert format_p(1.6e-5) == "p = 1.6 × 10⁻⁵"
    assert format_p(0.0) == "p < 10⁻¹⁶"


def test_sphericity_corrected_test_reports_corrected_df_and_p():
    # F(5, 70) with epsilon 0.2727 -> F(1.4, 19.1); the corrected p (p_adj) is the one reported
    assert statistic_text(GG_ROW) == "F(1.4, 19.1) = 6.17"
    assert describe_row(GG_ROW) == (
        "group × session: F(1.4, 19.1) = 6.17, p = 0.015, Greenhouse-Geisser corrected "
        "(ε = 0.273); partial η² = 0.306"
    )


def test_t_test_sentence_has_df_effect_size_and_its_ci():
    row = {
        "test": "welch_t",
        "term": "silenced - control",
        "statistic_name": "t",
        "statistic": -6.888266,
        "df_num": 10.856356,
        "p": 0.000028,
        "p_adj": 0.000028,
        "correction": "none",
        "effect_size": -3.255697,
        "effect_size_name": "Hedges g",
        "effect_size_ci_low": -4.744688,
        "effect_size_ci_high": -1.723182,
    }
    assert describe_tests(pd.DataFrame([row])) == (
        "Welch's t-test, silenced − control: t(10.9) = −6.89, p = 2.8 × 10⁻⁵; "
        "Hedges g = −3.26 [−4.74, −1.72]"
    )


def test_post_hoc_family_is_summarized_with_its_correction():
    rows = pd.DataFrame(
        [
            GG_ROW,
            {**GG_ROW, "test": "emm_contrast", "term": "silenced - control"},
        ]
    )
    rows.loc[1, "correction"] = "Sidak (6 tests)"
    text = describe_tests(rows)
    assert text.startswith("Mixed-design repeated-measures ANOVA, group × session: F(1.4, 19.1)")
    assert text.endswith(
        "Post-hoc contrasts of the mixed model's estimated marginal means (silenced − control), "
        "Šidák-corrected "
        "(6 tests); stars show adjusted p"
    )


def test_n_comes_from_the_row_with_group_labels():
    assert n_text(GG_ROW, {"control": "Control", "silenced": "Silenced"}) == (
        "n = 8 Control, 8 Silenced mice"
    )
    cells = {"n_by_group": "sedentary=6; trained=6", "n_cells": 67.0}
    assert n_text(cells) == "n = 6 sedentary, 6 trained mice (67 cells)"


def test_legend_has_a_sentence_per_panel_with_its_n_and_tests():
    panels = {
        "A": Panel(pd.DataFrame(), "Distance at each test", pd.DataFrame([GG_ROW])),
        "B": Panel(pd.DataFrame(), "Heatmap of every mouse (n = 5 mice)"),
    }
    text = legend_text({"id": "figure3", "number": 3, "title": "Silencing"}, panels, {})
    assert text.startswith("**Figure 3. Silencing**")
    assert "(A) Distance at each test (n = 8 control, 8 silenced mice). Mixed-design" in text
    assert "(B) Heatmap of every mouse (n = 5 mice)." in text
    assert text.rstrip().endswith("ns, not significant.")


def test_every_declared_panel_type_is_drawn_and_in_the_schema(config_schema):
    panel = config_schema["properties"]["paper"]["properties"]["figures"]["items"]
    kinds = panel["properties"]["panels"]["items"]["properties"]["plot"]["enum"]
    options = set(panel["properties"]["panels"]["items"]["properties"])
    assert kinds == list(PANEL_TYPES)  # written by python -m exneuro.schema_doc
    assert set(DRAW) == set(PANEL_TYPES)
    for name, kind in PANEL_TYPES.items():
        assert set(kind.options) <= options, name
        assert kind.draws, name


def test_a_drawing_of_an_undeclared_panel_type_is_refused():
    with pytest.raises(KeyError, match="'rnaseq_sashimi' is drawn but not declared"):
        draws("rnaseq_sashimi")


def test_a_panel_type_declared_twice_is_refused():
    with pytest.raises(ValueError, match="'ephys_fi' is declared twice"):
        panel_type("ephys_fi", section="ephys")(lambda panel: [])


def test_the_schema_s_panel_types_are_generated_from_the_registry():
    schema = (REPO / "workflow" / "schemas" / "config.schema.yaml").read_text(encoding="utf-8")
    assert with_panel_types(schema) == schema
    stale = schema.replace("rnaseq_gene, ", "")
    assert stale != schema and with_panel_types(stale) == schema


def test_widths_are_cell_press_columns(example_config):
    style = example_config["figures"]
    assert [figure_width_mm(w, style) for w in ("single", "one_and_half", "full", 120)] == [
        85,
        114,
        174,
        120,
    ]


def test_figure_reads_only_the_tables_its_panels_draw(example_config):
    figures = {f["id"]: f for f in example_config["paper"]["figures"]}
    assert figure_inputs(figures["figure3"]) == [
        "statistics/statistics.tsv",
        "treadmill/tests.parquet",
    ]
    assert "rnaseq/de/training_silenced.tsv" in figure_inputs(figures["figure4"])


def _with_figure_edit(raw, edit):
    raw = copy.deepcopy(raw)
    edit(raw["paper"]["figures"])
    return raw


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda f: f[2]["panels"][0].update(cohort="plasticity"),
            "paper.figures[2] (figure3).panels[0] (letter A, plot treadmill_course): cohort "
            "'plasticity' is not a treadmill cohort",
        ),
        (
            lambda f: f[2]["panels"][1].update(window="post_0_15"),
            "paper.figures[2] (figure3).panels[1] (letter B, plot treadmill_gain): option "
            "'window' does not apply (its options: cohort, metric, session)",
        ),
        (
            lambda f: f[2]["panels"][1].update(at=[0, 1]),
            "paper.figures[2] (figure3).panels[1]: overlaps panel A at row 0, column 1",
        ),
        (
            lambda f: f[2]["panels"][3].update(at=[2, 2]),
            "paper.figures[2] (figure3).panels[3]: at [2, 2] with span [1, 1] leaves the grid "
            "of 2 rows × 3 columns",
        ),
        (
            lambda f: f[2]["panels"][3].update(letter="A"),
            "paper.figures[2] (figure3): panel letter 'A' is used twice",
        ),
        (
            lambda f: f[3]["panels"][0].pop("cohort"),
            "paper.figures[3] (figure4).panels[0] (letter A, plot treadmill_course): option "
            "'cohort' is required",
        ),
        (
            lambda f: f[3]["panels"][3].update(contrast="training_trained"),
            "contrast 'training_trained' is not declared (declared: training_control, "
            "training_silenced, interaction)",
        ),
        (
            lambda f: f.append(copy.deepcopy(f[0])),
            "paper.figures: the id 'figure1' is declared twice",
        ),
        (
            lambda f: f[0]["panels"][0].update(event="session"),
            "paper.figures[0] (figure1).panels[0] (letter A, plot photometry_trace): event "
            "'session' is not an alignment of the recordings (choose run, onset: 'run', or an "
            "event named under photometry.peri_event.events)",
        ),
    ],
)
def test_wrong_figure_declaration_is_named_with_figure_panel_and_option(
    raw_example_config, config_schema, edit, message
):
    raw = _with_figure_edit(raw_example_config, edit)
    with pytest.raises(ConfigError) as error:
        validate_config(raw, config_schema, "config/config.yaml")
    assert message in str(error.value)


def test_panel_of_a_disabled_analysis_is_named(raw_example_config, config_schema):
    raw = copy.deepcopy(raw_example_config)
    raw["photometry"]["enabled"] = False
    with pytest.raises(ConfigError) as error:
        validate_config(raw, config_schema, "config/config.yaml")
    assert (
        "paper.figures[0] (figure1).panels[0] (letter A, plot photometry_trace): needs the "
        "'photometry' section, which is absent or disabled"
    ) in str(error.value)


def test_panel_asking_for_a_window_the_results_lack_names_figure_panel_and_choices():
    metrics = pd.DataFrame(
        {
            "mouse": ["M1", "M2"],
            "group": ["control", "control"],
            "day": [1, 1],
            "window": ["post_0_15", "post_0_15"],
            "metric": ["mean_dff", "mean_dff"],
            "value": [0.01, 0.02],
            "included": [True, True],
        }
    )
    settings = {
        "groups": [{"id": "control", "label": "Control", "color": "#4D4D4D"}],
        "cohorts": [{"id": "activity", "groups": ["control"], "control_group": "control"}],
        "photometry": {"cohort": "activity", "figure": {"window": "post_0_15", "metric": "x"}},
    }
    study = Study({"photometry/metrics.tsv": metrics}, pd.DataFrame(), settings)
    declaration = {
        "id": "figure1",
        "width": "single",
        "height_mm": 50,
        "rows": 1,
        "columns": 1,
        "panels": [{"letter": "A", "plot": "photometry_window", "window": "post_99", "at": [0, 0]}],
    }
    style = {"font_size_pt": 7, "single_column_mm": 85, "full_width_mm": 174}
    with pytest.raises(PanelError) as error:
        draw_panels(declaration, study, style)
    assert str(error.value) == (
        "paper.figures[figure1].panels[0] (letter A, plot photometry_window): photometry window "
        "'post_99' is not in the results (available: post_0_15)"
    )


def test_legends_use_the_study_word_for_its_animals():
    text = "n = 8 Control mice; Welch's t-test on mouse means. Mice were trained (n_mice 8)."
    rats = in_animal_words(text, {"singular": "rat", "plural": "rats"})
    assert rats == "n = 8 Control rats; Welch's t-test on rat means. Rats were trained (n_mice 8)."
    assert in_animal_words(text) == text  # default: mouse, mice
