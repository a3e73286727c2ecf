"""Reading YAML files (the study config, the schemas) with errors that name the file, line and
column of the mistake and say how to fix it.

PyYAML reports where parsing failed (a ``Mark`` with 0-based line and column); that position is
turned into the 1-based line and column an editor shows. A key written twice in one mapping is an
error too: PyYAML would silently keep the last value, so a setting the user believes in would be
ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from exneuro.errors import ConfigError


class _UniqueKeys:
    """Refuse a key repeated within one mapping (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                first = seen[key].line + 1
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key '{key}' is written twice in one mapping (first on line {first})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


class _UniqueKeyLoader(_UniqueKeys, yaml.SafeLoader):
    """The pure-Python safe loader: its messages say what is wrong in words a user can act on."""


class _FastUniqueKeyLoader(_UniqueKeys, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """LibYAML's parser (ten times faster on the schema); a file it refuses is read again with
    :class:`_UniqueKeyLoader` for the message."""


def _load(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_FastUniqueKeyLoader)
    except yaml.YAMLError:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # raises, with the clearer message


def _position(mark: yaml.Mark | None) -> str:
    return f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _fix(problem: str) -> str:
    """What to do about one PyYAML problem, in words a biologist can act on."""
    if "\\t" in problem or "\t" in problem:
        return "YAML is indented with spaces only: replace the tab with spaces"
    if "written twice" in problem:
        return "keep one of the two entries"
    if "mapping values are not allowed" in problem:
        return "a value holding ': ' must be quoted, or the line is indented too deep"
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        return "close the bracket opened before this line"
    if "never closed" in problem:
        return "close it where the value ends"
    return "check the indentation and the quotes and brackets on this line and the one before"


def shown_path(path: str | Path) -> str:
    """``path`` as the user wrote it: relative to the working folder when inside it (Snakemake
    makes the --configfile paths absolute)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def undecodable_place(error: UnicodeDecodeError) -> str:
    """'line 2, column 15 (byte 0xe4)': where a whole file's bytes stopped decoding."""
    before = error.object[: error.start]
    line, column = before.count(b"\n") + 1, error.start - before.rfind(b"\n")
    return f"line {line}, column {column} (byte 0x{error.object[error.start]:02x})"


def read_yaml(path: str | Path) -> Any:
    """The YAML document in ``path`` (None when the file is empty), or :class:`ConfigError`
    naming the file, line and column of the first mistake."""
    try:
        data = Path(path).read_bytes()
        return _load(data.decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found — check the path") from None
    except UnicodeDecodeError as error:  # the whole file was decoded: positions are the file's
        raise ConfigError(
            f"{path} {undecodable_place(error)}: not UTF-8 text — save the file as UTF-8 text"
        ) from None
    except yaml.MarkedYAMLError as error:
        problem = str(error.problem or error.context or "not valid YAML").replace("\t", "\\t")
        mark = error.problem_mark
        if "end of stream" in problem and error.context_mark is not None:
            mark, problem = error.context_mark, "a quote or bracket opened here is never closed"
        raise ConfigError(
            f"{path}{_position(mark)}: not valid YAML: {problem} — {_fix(problem)}"
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A study config: a YAML mapping at the top level, with at least one key."""
    document = read_yaml(path)
    if document is None:
        raise ConfigError(
            f"{path}: the config file is empty — write the study's settings in it (study:, "
            "groups:, cohorts: ...; every key is described in config/README.md)"
        )
    if not isinstance(document, dict):
        found = {"list": "a list", "str": "text"}.get(type(document).__name__, "a single value")
        raise ConfigError(
            f"{path} line {_first_content_line(path)}, column 1: the top level must be keys with "
            "values (study:, groups:, "
            f"cohorts: ...), found {found} — write each setting as 'key: value' at the start of "
            "a line"
        )
    return document


def _first_content_line(path: str | Path) -> int:
    """The 1-based number of the first line that is not blank, a comment or a document marker."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith(("#", "---")):
            return number
    return 1


def main(argv: list[str] | None = None) -> int:
    """``python -m exneuro.yaml_files FILE...``: one line per config file that is not a valid
    study config, naming its line and column (Snakemake's own message for a broken
    ``--configfile`` names neither)."""
    import sys

    failed = 0
    for path in argv if argv is not None else sys.argv[1:]:
        try:
            read_config_file(path)
        except ConfigError as error:
            print(f"Error: {error}", file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
