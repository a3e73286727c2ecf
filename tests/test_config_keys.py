"""Which rule reads which config key: every key of the schema names its readers, rule params are
built from those lists alone, and a rule reading a key it does not own stops with one line."""

from __future__ import annotations

import copy
import pickle
import re

import pytest
import yaml
from conftest import REPO

from exneuro.config_keys import (
    PLANNER,
    OwnedSettings,
    figure_only,
    key_owners,
    owned_part,
    owned_table,
    rules_owning,
)
from exneuro.errors import ConfigError

RULES_DIR = REPO / "workflow" / "rules"
#: Params helpers of common.smk whose first argument is the rule they build params for.
OWNED_HELPERS = ("owned", "section_params", "section_cohort", "section_groups", "table_declaration")


def workflow_rules() -> dict[str, str]:
    """Rule name -> its text (dedented), from every .smk file; a rule declared inside an ``if``
    block (the one-recording photometry rule) counts too."""
    rules = {}
    for path in sorted(RULES_DIR.glob("*.smk")):
        for block in re.split(r"(?m)^(?= *rule \w+:)", path.read_text()):
            match = re.match(r"( *)rule (\w+):", block)
            if match:
                indent = len(match.group(1))
                rules[match.group(2)] = re.sub(rf"(?m)^ {{{indent}}}", "", block)
    return rules


@pytest.fixture(scope="module")
def owners(config_schema) -> dict[str, tuple[str, ...]]:
    return key_owners(config_schema)


def test_every_config_key_names_the_rules_that_read_it(owners):
    assert len(owners) > 100
    assert [key for key, rules in owners.items() if not rules] == []
    unknown = rules_owning(owners) - set(workflow_rules()) - {PLANNER}
    assert unknown == set()


def test_rule_params_take_config_only_through_the_ownership_lists():
    rules = workflow_rules()
    for name, text in rules.items():
        params = re.search(r"\n    params:\n(.*?)(?=\n    \w+:|\Z)", text, re.S)
        body = params.group(1) if params else ""
        assert "config[" not in body and "config.get" not in body, name
        for helper, rule in re.findall(rf"\b({'|'.join(OWNED_HELPERS)})\(\s*\"(\w+)\"", body):
            assert rule == name, f"rule {name} builds its params as rule {rule} ({helper})"
    common = (RULES_DIR / "common.smk").read_text()
    assert "_KEYS" not in common  # no hand-kept key list beside the schema


def test_figure_keys_are_read_by_figure_rules_only(owners):
    figure_keys = {key for key in owners if figure_only(owners, key)}
    assert {
        "figures",
        "paper",
        "rnaseq.figures",
        "photometry.figure",
        "tables.*.figure",
    } <= figure_keys
    analysis_rules = {
        rule for rule in rules_owning(owners) if not rule.endswith("_figure") and rule != PLANNER
    }
    for key in figure_keys:
        assert not set(owners[key]) & analysis_rules, key


def test_rnaseq_analysis_rules_get_no_figure_key(example_config, owners):
    for rule in ("rnaseq_qc", "rnaseq_de", "rnaseq_summary", "rnaseq_facility"):
        settings = owned_part(example_config, owners, rule, "rnaseq")
        assert "design" in dict(settings) and "figures" not in dict(settings), rule
    figure = owned_part(example_config, owners, "rnaseq_figure", "rnaseq")
    assert set(figure) == {
        "contrasts",
        "alpha",
        "lfc_threshold",
        "colour_column",
        "figures",
        "cohort",
    }


def test_params_of_a_rule_owning_nothing_of_a_section_stop_the_plan(example_config, owners):
    with pytest.raises(ConfigError, match=r"rule 'rnaseq_de' takes the config key 'figures'"):
        owned_part(example_config, owners, "rnaseq_de", "figures")
    with pytest.raises(ConfigError, match=r"no key of the section lists the rule"):
        owned_part(example_config, owners, "treadmill_metrics", "rnaseq")


def test_reading_a_key_the_rule_does_not_own_stops_with_one_line(example_config, owners):
    settings = owned_part(example_config, owners, "treadmill_statistics", "treadmill")
    assert settings["baseline_session"] == "baseline"
    expected = (
        "workflow/schemas/config.schema.yaml: rule 'treadmill_statistics' reads the config key "
        "'treadmill.protocols', whose x-read-by does not list it — add 'treadmill_statistics' "
        "there, so that a change to the key reruns the rule"
    )
    for read in (
        lambda: settings["protocols"],
        lambda: settings.get("protocols"),
        lambda: "protocols" in settings,
    ):
        with pytest.raises(ConfigError) as error:
            read()
        assert str(error.value) == expected


def test_owned_settings_travel_to_the_script_unchanged(example_config, owners):
    settings = owned_part(example_config, owners, "photometry_combine", "photometry")
    plain = dict(settings)
    # the rerun check compares repr of the params: the same as the plain dict's
    assert repr(settings) == repr(plain)
    for copied in (pickle.loads(pickle.dumps(settings)), copy.deepcopy(settings)):
        assert copied == plain and isinstance(copied, OwnedSettings)
        with pytest.raises(ConfigError, match="photometry.figure"):
            copied["figure"]
    assert yaml.safe_load(yaml.safe_dump(settings)) == yaml.safe_load(yaml.safe_dump(plain))


def test_table_declarations_give_the_figure_key_to_the_figure_only(example_config, owners):
    declaration = {**example_config["tables"]["glucose"], "group_order": ["control"]}
    analysis = owned_table(declaration, owners, "table_statistics", "glucose")
    assert "figure" not in dict(analysis) and analysis["group_order"] == ["control"]
    with pytest.raises(ConfigError, match="'tables.glucose.figure'"):
        analysis.get("figure")
    assert owned_table(declaration, owners, "table_figure", "glucose")["figure"] == "line"


def test_paper_figures_own_every_section_their_panels_draw_from(owners):
    from exneuro.figures.registry import PANEL_TYPES
    from exneuro.paper import catalogue  # noqa: F401  (declares every panel type)

    for section in {spec.section for spec in PANEL_TYPES.values()}:
        keys = [key for key in owners if key == section or key.startswith(f"{section}.")]
        assert keys, section
        assert all("paper_figure" in owners[key] for key in keys), section


def test_the_config_snapshot_leaves_out_the_keys_only_figures_read(example_config, owners):
    from exneuro.config_keys import analysis_part

    part = analysis_part(example_config, owners)
    assert "figures" not in part and "paper" not in part
    assert "figure" not in part["photometry"] and "figures" not in part["rnaseq"]
    assert all("figure" not in table for table in part["tables"].values())
    assert part["photometry"]["preprocessing"] == example_config["photometry"]["preprocessing"]
    assert part["tables"]["glucose"]["tests"] == example_config["tables"]["glucose"]["tests"]
    assert part["groups"] == example_config["groups"]
    assert part["treadmill"]["enabled"] and part["photometry"]["enabled"]
