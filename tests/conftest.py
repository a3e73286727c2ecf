"""Shared fixtures: the repository root, the schemas and the example config."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from exneuro.config import load_yaml, validate_config
from exneuro.config_files import load_config

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "workflow" / "schemas"


@pytest.fixture(scope="session")
def config_schema() -> dict:
    return load_yaml(SCHEMAS / "config.schema.yaml")


@pytest.fixture(scope="session")
def sheet_schema() -> dict:
    return load_yaml(SCHEMAS / "samples.schema.yaml")


@pytest.fixture(scope="session")
def raw_example_config() -> dict:
    return load_config(REPO / "config" / "config.yaml")


@pytest.fixture()
def example_config(raw_example_config, config_schema) -> dict:
    """The validated example config (a fresh copy per test)."""
    return validate_config(copy.deepcopy(raw_example_config), config_schema, "config/config.yaml")
