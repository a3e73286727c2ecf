"""Looking into what a photometry reader returns: the one recording of a file, the anomalies of
one kind. Shared by the reader tests of every format."""

from __future__ import annotations

import pandas as pd

from exneuro.photometry.readers import Recording


def only(recordings: dict[str, Recording]) -> Recording:
    assert len(recordings) == 1
    return next(iter(recordings.values()))


def kinds(recording: Recording, kind: str) -> pd.DataFrame:
    return recording.anomalies[recording.anomalies["kind"] == kind]
