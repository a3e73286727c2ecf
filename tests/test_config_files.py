"""A config in several files (study, analysis settings, paper figures) reads as one, with a key set
in two files refused; a one-file config reads as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from exneuro.config import load_yaml, validate_config
from exneuro.config_files import config_label, load_config, merge_included
from exneuro.errors import ConfigError


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_included_files_merge_section_by_section(tmp_path):
    main = write(tmp_path, "config.yaml", "include: [study.yaml, sub/analysis.yaml]\n")
    write(tmp_path, "study.yaml", "groups: [a]\nrnaseq: {counts: c.tsv, cohort: m}\n")
    write(tmp_path, "sub/analysis.yaml", "include: [paper.yaml]\nrnaseq: {alpha: 0.1}\n")
    write(tmp_path, "sub/paper.yaml", "figures: {png_dpi: 300}\n")
    config = load_yaml(main)
    files = merge_included(config, main)
    assert config == {
        "groups": ["a"],
        "rnaseq": {"counts": "c.tsv", "cohort": "m", "alpha": 0.1},
        "figures": {"png_dpi": 300},
    }
    assert list(config["rnaseq"]) == ["counts", "cohort", "alpha"]  # first file's keys first
    assert [Path(f).name for f in files] == [
        "config.yaml",
        "study.yaml",
        "analysis.yaml",
        "paper.yaml",
    ]
    assert config_label(files) == f"{main} (with study.yaml, analysis.yaml, paper.yaml)"


def test_a_key_set_in_two_files_is_refused_naming_both(tmp_path):
    main = write(tmp_path, "config.yaml", "include: [a.yaml, b.yaml]\nrnaseq: {cohort: m}\n")
    write(tmp_path, "a.yaml", "rnaseq: {alpha: 0.1}\n")
    write(tmp_path, "b.yaml", "rnaseq: {alpha: 0.05}\n")
    with pytest.raises(ConfigError) as error:
        load_config(main)
    assert str(error.value) == (
        f"{tmp_path / 'b.yaml'}: 'rnaseq.alpha' is also set in {tmp_path / 'a.yaml'} — "
        "set it in one file only"
    )
    write(tmp_path, "b.yaml", "rnaseq: {cohort: other}\n")
    with pytest.raises(ConfigError, match=rf"'rnaseq.cohort' is also set in {main}"):
        load_config(main)


def test_bad_includes_stop_with_one_line(tmp_path):
    main = write(tmp_path, "config.yaml", "include: study.yaml\n")
    with pytest.raises(ConfigError, match=r"'include' must be a list of file names"):
        load_config(main)
    write(tmp_path, "config.yaml", "include: [a.yaml, a.yaml]\n")
    write(tmp_path, "a.yaml", "groups: []\n")
    with pytest.raises(ConfigError, match=r"is included twice"):
        load_config(main)
    write(tmp_path, "config.yaml", "include: [missing.yaml]\n")
    with pytest.raises(ConfigError, match=r"missing.yaml: file not found"):
        load_config(main)


def test_a_one_file_config_reads_as_it_is():
    path = REPO / "config" / "two_group" / "config.yaml"
    assert load_config(path) == load_yaml(path)


def test_the_example_is_three_files_a_user_recognises(config_schema):
    config = load_config(REPO / "config" / "config.yaml")
    study, analysis, paper = (
        load_yaml(REPO / "config" / f"{name}.yaml") for name in ("study", "analysis", "paper")
    )
    assert {"study", "samples", "groups", "cohorts"} <= set(study)
    assert set(paper) == {"figures", "paper", "photometry"}
    assert set(paper["photometry"]) == {"figure"}  # the photometry figure's panels only
    assert "groups" not in analysis and "paper" not in analysis
    # settings left at their defaults are omitted: no electrophysiology key in the analysis file
    assert "ephys" not in analysis and "ephys" in study
    validate_config(config, config_schema, "config/config.yaml")
