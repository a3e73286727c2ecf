"""Which recordings share a job: batches planned at DAG time, from the recordings' names alone.

Kept apart from :mod:`exneuro.photometry.recording_job` (which runs a batch and imports the
processing chain, SciPy included) so that the workflow plans 10,000 recordings without importing
anything heavier than :mod:`hashlib`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence


def starts_batch(session: str, per_job: int) -> bool:
    """Whether ``session`` opens a new batch: the first 8 bytes of the SHA-256 of its name are
    a multiple of ``per_job`` (true for every recording when ``per_job`` is 1)."""
    digest = hashlib.sha256(session.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % per_job == 0


def recording_runs(sessions: Sequence[str], per_job: int) -> list[list[str]]:
    """The recordings in name order, cut just before each recording that :func:`starts_batch`.

    Content-defined boundaries (as rsync and backup tools cut files into chunks): whether a
    recording opens a run depends on its own name only, so adding a recording changes the run
    it falls into and no other (or splits that one run in two when it opens one), and removing
    one changes its own run. Fixed-size slices of the list would shift every slice after an
    insertion and rerun them all. Run lengths are geometric with mean ``per_job``: a few runs
    are several times longer (the longest of n/``per_job`` runs is about ``per_job`` ×
    ln(n/``per_job``)), which :func:`recording_batches` cuts.
    """
    if per_job < 1:
        raise ValueError(f"recordings per job must be at least 1, not {per_job}")
    runs: list[list[str]] = []
    for session in sorted(sessions):
        if not runs or starts_batch(session, per_job):
            runs.append([session])
        else:
            runs[-1].append(session)
    return runs


def recording_batches(sessions: Sequence[str], per_job: int) -> list[list[str]]:
    """The recordings split into batches of at most 2 × ``per_job`` (a little under ``per_job``
    on average), in name order.

    The batches are the runs of :func:`recording_runs`, each run longer than 2 × ``per_job``
    cut into the fewest near-equal consecutive parts of at most that many: a run of 80 kept
    whole would keep one core busy long after the others had finished (a 48-recording study
    at 20 per job is a single run). Rerun scope is that of the runs: a new or removed recording
    changes the batches of its run only. Each recording is analysed alone in its turn, so a
    batch's memory is that of its largest recording whatever its size.
    """
    most = 2 * per_job
    batches: list[list[str]] = []
    for run in recording_runs(sessions, per_job):
        parts = -(-len(run) // most)
        size, longer = divmod(len(run), parts)
        start = 0
        for part in range(parts):
            stop = start + size + (part < longer)
            batches.append(run[start:stop])
            start = stop
    return batches


def batch_rule_names(batches: Sequence[Sequence[str]]) -> list[str]:
    """A Snakemake rule name per batch, after its first recording (``photometry_batch_M01_d1``;
    characters other than letters, digits and ``_`` become ``_``, and a name taken twice gets
    its batch's number), so that logs and scheduler jobs say which recordings they hold."""
    names: list[str] = []
    for number, members in enumerate(batches):
        name = "photometry_batch_" + re.sub(r"\W", "_", members[0], flags=re.ASCII)
        names.append(f"{name}_{number}" if name in names else name)
    return names
