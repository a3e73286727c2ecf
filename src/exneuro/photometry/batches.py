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


def recording_batches(sessions: Sequence[str], per_job: int) -> list[list[str]]:
    """The recordings split into batches of ``per_job`` on average, in name order.

    Content-defined boundaries (as rsync and backup tools cut files into chunks): a batch ends
    just before a recording that :func:`starts_batch`. Whether a recording opens a batch depends
    on its own name only, so adding a recording changes the batch it falls into and no other
    (or splits that one batch in two when it opens one), and removing one changes its own batch.
    Fixed-size slices of the list would shift every batch after an insertion and rerun them all.
    Sizes vary around ``per_job`` (geometric: the largest of n/``per_job`` batches is about
    ``per_job`` × ln(n/``per_job``)); each recording is analysed alone in its turn, so a batch's
    memory is that of its largest recording whatever its size.
    """
    if per_job < 1:
        raise ValueError(f"recordings per job must be at least 1, not {per_job}")
    batches: list[list[str]] = []
    for session in sorted(sessions):
        if not batches or starts_batch(session, per_job):
            batches.append([session])
        else:
            batches[-1].append(session)
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
