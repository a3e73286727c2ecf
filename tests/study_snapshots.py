"""Snapshots of a study's numbers: its statistics table and figure legends, every number rounded to
6 significant digits, committed under ``tests/snapshots/<study>/`` and compared by the tests that
run the study. A change that moves a p value in the 3rd digit fails them, with the difference.

Regenerate after a deliberate change, then review the diff before committing::

    make snapshots                                       # every study (the example: minutes)
    python tests/study_snapshots.py two_group             # some of them
    python tests/study_snapshots.py --results results example  # from a finished run's folder
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOTS = HERE / "snapshots"
#: A decimal number (with optional exponent) in a table cell or a legend.
NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])|(?<![\w.])-?\d+[eE][-+]?\d+")
SIGNIFICANT = 6
#: Study -> its config, relative to the project (foreign studies: tests/studies/<name>).
SHIPPED = {"example": "config/config.yaml", "two_group": "config/two_group/config.yaml"}


def _rounded(match: re.Match) -> str:
    text = match.group()
    digits = re.sub(r"[eE].*$", "", text).lstrip("-").replace(".", "").lstrip("0")
    if len(digits) <= SIGNIFICANT:
        return text  # already short: keep it as written (a legend's 0.50 stays 0.50)
    return f"{float(text):.{SIGNIFICANT}g}"


def round_numbers(text: str) -> str:
    """``text`` with every decimal number of more than 6 significant digits rounded to 6."""
    return NUMBER.sub(_rounded, text)


def snapshot_of(results: Path) -> dict[str, str]:
    """File name -> snapshot text: the statistics table and the paper figures' legends."""
    files = {"statistics.tsv": round_numbers((results / "statistics/statistics.tsv").read_text())}
    legends = sorted((results / "paper").glob("*_legend.md"))
    if legends:
        files["legends.md"] = "".join(
            f"## {path.name}\n\n{round_numbers(path.read_text(encoding='utf-8'))}\n"
            for path in legends
        )
    return files


def difference(results: Path, name: str) -> str:
    """'' when the study's numbers equal its committed snapshot; else a diff (truncated) and how
    to regenerate it."""
    folder = SNAPSHOTS / name
    current = snapshot_of(results)
    lines = []
    for file in sorted(set(current) | {p.name for p in folder.glob("*") if p.is_file()}):
        committed = folder / file
        old = committed.read_text(encoding="utf-8") if committed.exists() else ""
        new = current.get(file, "")
        if old != new:
            lines += difflib.unified_diff(
                old.splitlines(), new.splitlines(), f"snapshot/{file}", f"now/{file}", lineterm=""
            )
    if not lines:
        return ""
    shown = "\n".join(lines[:60]) + ("\n..." if len(lines) > 60 else "")
    return (
        f"the numbers of study '{name}' differ from tests/snapshots/{name}/ — if the change is "
        f"intended, run `make snapshots` (or `python tests/study_snapshots.py {name}`) and "
        f"review the diff:\n{shown}"
    )


def write(results: Path, name: str) -> None:
    folder = SNAPSHOTS / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*"):
        old.unlink()
    for file, text in snapshot_of(results).items():
        (folder / file).write_text(text, encoding="utf-8")


def foreign_studies() -> list[str]:
    return sorted(p.parent.name for p in (HERE / "studies").glob("*/config.yaml"))


def _run(name: str, root: Path) -> Path:
    """Run study ``name`` in a copy of the project under ``root``; its results folder."""
    from test_foreign_studies import run_study
    from test_workflow import copy_project, snakemake

    from exneuro.config_files import load_config

    if name not in SHIPPED:
        return run_study(name, root, snapshot=False)
    copy_project(root)
    result = snakemake("--cores", "2", "--configfile", SHIPPED[name], cwd=root)
    if result.returncode != 0:
        sys.exit(f"study '{name}' failed:\n{result.stderr[-3000:]}")
    return root / load_config(root / SHIPPED[name])["output_dir"]


def main(arguments: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    if arguments[:1] == ["--results"]:
        write(Path(arguments[1]), arguments[2])
    for name in (
        [] if arguments[:1] == ["--results"] else arguments or [*SHIPPED, *foreign_studies()]
    ):
        with tempfile.TemporaryDirectory() as folder:
            print(f"running {name} ...", flush=True)
            write(_run(name, Path(folder)), name)
    subprocess.run(["git", "diff", "--stat", "--", str(SNAPSHOTS)], cwd=HERE.parent, check=False)
    subprocess.run(["git", "diff", "--", str(SNAPSHOTS)], cwd=HERE.parent, check=False)
    subprocess.run(["git", "status", "--short", "--", str(SNAPSHOTS)], cwd=HERE.parent, check=False)


if __name__ == "__main__":
    main(sys.argv[1:])
