"""A study's config in several files: the study, the analysis settings, the paper figures.

A config file may name other files under ``include:`` (paths relative to that file's folder); their
keys are merged into it, section by section, so that one section can be split between files (an
analysis's data files with the study, its settings with the analysis). A key set in two files is
an error naming both, never a silent override. A config without ``include`` is read as it is:
small studies keep one file. Works the same with the default config and with ``--configfile``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from exneuro.config import load_yaml
from exneuro.errors import ConfigError

INCLUDE = "include"


def _merge(
    into: MutableMapping, part: Mapping, sources: dict[str, str], source: str, prefix: str = ""
) -> None:
    """Merge ``part`` (read from ``source``) into ``into``; ``sources`` maps each key path set so
    far to its file. Mappings are merged key by key; anything else is set by one file only."""
    for key, value in part.items():
        path = f"{prefix}{key}"
        if key in into and isinstance(into[key], Mapping) and isinstance(value, Mapping):
            _merge(into[key], value, sources, source, f"{path}.")
        elif key in into:
            raise ConfigError(
                f"{source}: '{path}' is also set in {_source_of(path, sources)} — "
                "set it in one file only"
            )
        else:
            into[key] = value
            sources[path] = source


def _source_of(path: str, sources: Mapping[str, str]) -> str:
    """The file that set ``path`` or the mapping holding it."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in sources:
            return sources[".".join(parts[:end])]
    return "another file"


def _included(part: Mapping, path: str | Path) -> list[Path]:
    names = part.pop(INCLUDE, [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{path}: '{INCLUDE}' must be a list of file names, e.g. [study.yaml]")
    return [Path(path).parent / name for name in names]


def merge_included(config: MutableMapping, source: str | Path) -> list[str]:
    """Merge the files ``config`` (read from ``source``) names under ``include`` into it, in
    place; return the files read, ``source`` first. Includes nest (an included file may include
    others, relative to its own folder); a file included twice is an error."""
    files = [str(source)]
    sources: dict[str, str] = {}
    pending = [(path, str(source)) for path in _included(config, source)]
    for key in config:
        sources[key] = str(source)
    while pending:
        path, parent = pending.pop(0)
        if str(path) in files:
            raise ConfigError(f"{parent}: '{path}' is included twice — include it once")
        part = load_yaml(path)
        if not isinstance(part, Mapping):
            raise ConfigError(f"{path}: expected keys and values (a mapping) at the top level")
        pending += [(included, str(path)) for included in _included(part, path)]
        files.append(str(path))
        _merge(config, part, sources, str(path))
    return files


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a study's config file with every file it includes, merged (not validated)."""
    config = load_yaml(path)
    merge_included(config, path)
    return config


def config_label(files: list[str]) -> str:
    """How messages name a config made of several files."""
    if len(files) == 1:
        return files[0]
    return f"{files[0]} (with {', '.join(Path(name).name for name in files[1:])})"
