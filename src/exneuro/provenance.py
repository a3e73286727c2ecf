"""What a set of results rests on: the raw inputs' SHA-256, the software versions, the code.

Written beside the results so that a table or figure can be traced to the exact bytes and code
that produced it. Nothing here depends on the time or the machine, so the same inputs and code
give the same files.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pandas as pd

#: Bytes read at a time while hashing (large recordings are never held whole in memory).
CHUNK = 1 << 22


def sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def shown_path(path: str | Path) -> str:
    """The path relative to the working folder when it lies inside it (the same table whatever
    folder the project is in), else as given."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def input_hashes(
    paths: Iterable[str | Path], recording_tables: Iterable[pd.DataFrame] = ()
) -> pd.DataFrame:
    """``path``, ``bytes`` and ``sha256`` of every raw input, sorted by path.

    ``paths`` are hashed here; ``recording_tables`` (photometry QC tables in which each
    recording's job wrote ``file``/``ttl_file`` with their ``_bytes`` and ``_sha256``) add the
    recordings.
    """
    rows = [
        {"path": path, "bytes": Path(path).stat().st_size, "sha256": sha256(path)}
        for path in sorted({str(p) for p in paths})
    ]
    for table in recording_tables:
        for key in ("file", "ttl_file"):
            known = table[f"{key}_sha256"].fillna("").astype(str) != ""
            part = table.loc[known, [key, f"{key}_bytes", f"{key}_sha256"]]
            part.columns = ["path", "bytes", "sha256"]
            rows += part.astype({"bytes": int}).to_dict("records")
    frame = pd.DataFrame(rows, columns=["path", "bytes", "sha256"])
    frame["path"] = frame["path"].map(shown_path)
    return frame.drop_duplicates("path").sort_values("path", ignore_index=True)


def software_versions(lock_file: str | Path) -> pd.DataFrame:
    """Installed version of every package pinned in ``lock_file`` (``name==version`` lines),
    with the pinned version beside it and Python's own version first."""
    rows = [{"package": "python", "installed": platform.python_version(), "pinned": ""}]
    for line in Path(lock_file).read_text(encoding="utf-8").splitlines():
        name, _, pinned = line.strip().partition("==")
        if not pinned or name.startswith("#"):
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        rows.append({"package": name, "installed": installed, "pinned": pinned})
    return pd.DataFrame(rows, columns=["package", "installed", "pinned"])


def code_state(folder: str | Path, library_digest: str) -> pd.DataFrame:
    """The git commit of the workflow's folder (and whether files differ from it), and the
    SHA-256 digest of the library source the jobs ran."""

    def git(*args: str) -> str:
        try:
            result = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return ""
        return result.stdout.strip()

    commit = git("rev-parse", "HEAD") or "not a git checkout"
    changed = git("status", "--porcelain", "--untracked-files=no")
    return pd.DataFrame(
        [
            {"item": "git_commit", "value": commit},
            {"item": "uncommitted_changes", "value": "yes" if changed else "no"},
            {"item": "library_source_digest (SHA-256, 16 hex digits)", "value": library_digest},
        ]
    )
