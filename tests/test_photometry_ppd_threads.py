"""The .ppd decode gives the same numbers whether one thread or several share the chunks, and a
file cut while it is read is a clear error whichever thread meets the cut.

The files and the reference decode (the file's specification, decoded the obvious way) are those
of ``test_photometry_ppd_decode``; chunks of a few cycles put chunk boundaries, and so thread
boundaries, inside every planted pulse, clipped run and zero-filled chunk.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_photometry_ppd_decode import ALIGNED, SPECS, VPD, build, check, reference

from exneuro.errors import InputDataError
from exneuro.photometry import readers_ppd_decode
from exneuro.photometry.readers import read_ppd
from exneuro.photometry.readers_ppd_decode import PpdWordLayout, decode_samples


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize(("version", "how"), ALIGNED)
def test_every_number_of_threads_decodes_exactly(tmp_path, monkeypatch, version, how, workers):
    spec = SPECS[version]
    path = build(tmp_path / "planted.ppd", spec)
    monkeypatch.setattr(readers_ppd_decode, "CHUNK_CYCLES", 5)
    monkeypatch.setattr(readers_ppd_decode, "_workers", lambda n_chunks: workers)
    (recording,) = read_ppd(path, {"control_alignment": how}).values()
    check(recording, reference(path, spec, how), spec)


def test_the_threads_share_the_chunks_where_two_processors_are_free(monkeypatch):
    monkeypatch.setattr(readers_ppd_decode.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert readers_ppd_decode._workers(n_chunks=28) == readers_ppd_decode.MAX_WORKERS == 2
    assert readers_ppd_decode._workers(n_chunks=7) == 1  # a short file is not worth a thread
    monkeypatch.setattr(readers_ppd_decode.os, "sched_getaffinity", lambda pid: {0})
    assert readers_ppd_decode._workers(n_chunks=28) == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_cut_while_the_threads_read_it_is_a_clear_error(tmp_path, monkeypatch, workers):
    path = tmp_path / "m1.ppd"
    path.write_bytes(bytes(400))  # 100 two-word cycles where 200 are announced
    monkeypatch.setattr(readers_ppd_decode, "CHUNK_CYCLES", 16)
    monkeypatch.setattr(readers_ppd_decode, "_workers", lambda n_chunks: workers)
    layout = PpdWordLayout(words_per_cycle=2, n_slots=2, paired=False, digital_inputs=2)
    expected = "m1.ppd.*became shorter while it was read"
    with open(path, "rb", buffering=0) as handle, pytest.raises(InputDataError, match=expected):
        decode_samples(handle, 800, layout, np.array([VPD, VPD]), 100.0, str(path))
