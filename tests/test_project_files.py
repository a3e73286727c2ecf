"""The project's own files agree with each other: bundled data, environments, documentation."""

from __future__ import annotations

import pandas as pd
import yaml
from conftest import REPO

from exneuro.config import load_yaml, validate_config
from exneuro.config_files import load_config
from exneuro.schema_doc import BEGIN, END, render
from exneuro.simulate.design import DESIGNS
from exneuro.simulate.study import write_study

SHIPPED = {"example": "config/config.yaml", "two_group": "config/two_group/config.yaml"}


def test_bundled_example_data_regenerate_identically(tmp_path, config_schema, monkeypatch):
    monkeypatch.chdir(tmp_path)  # every relative path of the configs now lands in tmp_path
    for design, path in SHIPPED.items():
        config = validate_config(load_config(REPO / path), config_schema, path)
        write_study(DESIGNS[design], config)
    generated = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(generated) > 300
    for path in generated:
        committed = REPO / path.relative_to(tmp_path)
        if path.suffix == ".xlsx":  # zip members carry timestamps: compare the cells
            pd.testing.assert_frame_equal(pd.read_excel(path), pd.read_excel(committed))
        else:
            assert path.read_bytes() == committed.read_bytes(), committed


def test_data_folder_stays_small():
    size = sum(p.stat().st_size for p in (REPO / "data").rglob("*") if p.is_file())
    assert size < 25 * 1024 * 1024


def test_conda_environment_pins_the_versions_of_the_lock_file():
    lock = dict(
        line.strip().lower().split("==")
        for line in (REPO / "requirements.lock").open()
        if "==" in line
    )
    env = yaml.safe_load((REPO / "envs" / "exneuro.yaml").read_text())
    pinned = [entry for entry in env["dependencies"] if isinstance(entry, str) and "=" in entry]
    assert len(pinned) > 5
    for entry in pinned:
        name, version = entry.split("=")
        if name != "python":
            assert lock[name.lower()] == version, name


def test_config_readme_documents_every_key_of_the_schemas():
    readme = (REPO / "config" / "README.md").read_text()
    generated = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    schemas = REPO / "workflow" / "schemas"
    expected = render(
        load_yaml(schemas / "config.schema.yaml"), load_yaml(schemas / "samples.schema.yaml")
    )
    assert generated == expected, "config/README.md is out of date: run `make docs`"


def test_code_is_ruff_and_snakefmt_clean():
    import subprocess
    import sys
    from pathlib import Path

    bin_dir = Path(sys.executable).parent
    for command in (
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["snakefmt", "--check", "Snakefile", "workflow/rules"],
    ):
        result = subprocess.run(
            [str(bin_dir / command[0]), *command[1:]],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
