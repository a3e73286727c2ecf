"""Malformed photometry inputs: each stops with one line naming the file, the place and the fix,
or runs and is flagged in the QC or anomaly table; the raw files are never changed.

Files are written by the simulator's writers (pyPhotometry ``.ppd``, Neurophotometrics CSV and
digital-input files), then broken the way labs break them. Each case runs at the layer the
workflow's recording job calls: the reader (:func:`read_photometry`), the events-file reader, or
the session's processing and QC flags.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from malformed import CLEAR_STOP, FLAGGED, Case, assert_one_line, digests

from exneuro.errors import ConfigError, InputDataError
from exneuro.photometry.qc import qc_flags
from exneuro.photometry.readers import read_photometry
from exneuro.photometry.recording import process_session, read_event_table
from exneuro.simulate.photometry_files import PPD_VOLTS_PER_DIVISION, write_npm, write_ppd

FS = 10.0
#: 10 min at 10 Hz: 2 min rest, a 2-min run from 120 s, then 6 min after it.
N = int(600 * FS)
RUN = (120.0, 240.0)
WINDOWS = [
    {"name": "baseline", "ref": "onset", "start_s": -60, "end_s": 0},
    {"name": "running", "ref": "onset", "start_s": 0, "end_s": "offset"},
    {"name": "post_0_3", "ref": "offset", "start_s": 0, "end_s": 180},
    {"name": "post_3_6", "ref": "offset", "start_s": 180, "end_s": 360},
]
SETTINGS = {
    "preprocessing": {"lowpass": {"cutoff_hz": 2.0, "order": 2}},
    "baseline_window": {"ref": "onset", "start_s": -60, "end_s": 0},
    "windows": WINDOWS,
    "min_window_coverage": 0.9,
    "traces": {"bin_s": 10, "start_s": -60, "end_s": 300},
    "peri_event": {"events": [], "window_s": [-30, 60], "baseline_s": [-30, -5], "bin_s": 5},
}
IDENTITY = {"session": "M1_d1", "mouse": "M1", "group": "control", "day": 1}
PPD_CONFIG = {"region": "VMH", "digital_names": {"digital_1": "run"}}

CASES = [
    Case(
        "photometry-ppd-empty-file",
        "ppd",
        CLEAR_STOP,
        "{f}: the .ppd file is empty — re-copy it from the acquisition PC",
    ),
    Case(
        "photometry-ppd-damaged-json-header",
        "ppd",
        CLEAR_STOP,
        "{f}: the .ppd file's JSON header (bytes 2-{end}) is damaged at byte {at} (Expecting ',' "
        "delimiter) — the file was edited or corrupted; copy it again from the acquisition PC",
    ),
    Case(
        "photometry-ppd-no-sampling-rate",
        "ppd",
        CLEAR_STOP,
        "{f}: the .ppd header has no 'sampling_rate' (fields: mode, n_analog_signals, "
        "n_digital_signals, version, volts_per_division); the samples carry no timestamps, so the "
        "rate is needed — copy the file again from the acquisition PC, or add the rate to the "
        "header of a copy",
    ),
    Case(
        "photometry-ppd-zero-sampling-rate",
        "ppd",
        CLEAR_STOP,
        "{f}: sampling_rate 0 in the .ppd header is not a positive number — copy the file again "
        "from the acquisition PC",
    ),
    Case(
        "photometry-ppd-misspelt-channel",
        "ppd",
        CLEAR_STOP,
        "pyPhotometry config: signal 'analog1' is not a channel of mode '2EX_2EM_continuous' "
        "(analog_1, analog_2); closest: 'analog_1' — fix photometry.readers.ppd.signal",
    ),
    Case(
        "photometry-ppd-truncated-window-not-computed",
        "ppd",
        FLAGGED,
        "window(s) not computed, the recording covers too little of them: post_0_3 covered 37% "
        "of 240-420 s (< 90%); post_3_6 covered 0% of 420-600 s (< 90%)",
    ),
    Case(
        "photometry-ppd-excluded-segment-cuts-window",
        "ppd",
        FLAGGED,
        "window(s) not computed, the recording covers too little of them: post_0_3 covered 66% "
        "of 240-420 s (< 90%)",
    ),
    Case(
        "photometry-ppd-all-saturated",
        "ppd",
        FLAGGED,
        "saturated (100.00% samples); SNR -1.2 dB < 3 dB",
    ),
    Case(
        "photometry-ppd-constant-at-the-rail",
        "ppd",
        CLEAR_STOP,
        "{f}: fibre 'VMH': the signal is 3.2999 in every sample (a saturated or unconnected "
        "detector) — check the detector gain and LED power of this recording, and remove it from "
        "the recordings sheet",
    ),
    Case(
        "photometry-ppd-unknown-mode",
        "ppd",
        CLEAR_STOP,
        "{f}: unknown pyPhotometry acquisition mode '4 colour continuous': the mode decides how "
        "the samples interleave, and guessing can mix colours into one trace — for a modified "
        "firmware declare layout: {{analog_inputs, colours_per_input, pulsed}} in the config; "
        "known modes: 2EX_2EM_continuous, 2EX_1EM_pulsed, 2EX_2EM_pulsed, 3EX_2EM_pulsed, 2 "
        "colour continuous, 1 colour time div., 2 colour time div., GCaMP/RFP, GCaMP/iso, "
        "GCaMP/RFP_dif, 4 colour time div.",
    ),
    Case(
        "photometry-npm-time-unit-inconsistent-with-frame-rate",
        "npm",
        CLEAR_STOP,
        "{f}, column 'Timestamp': the frames are 50 s apart with time_unit 's' (0.02 frames per "
        "s), not a camera frame rate — set time_unit to the unit of 'Timestamp' (probably 'ms')",
    ),
    Case(
        "photometry-npm-empty-file",
        "npm",
        CLEAR_STOP,
        "{f}: the Neurophotometrics file is empty (0 bytes) — re-export it from the software",
    ),
    Case(
        "photometry-npm-header-only",
        "npm",
        CLEAR_STOP,
        "{f}: no frames under the header — check the export",
    ),
    Case(
        "photometry-npm-truncated-gzip",
        "npm",
        CLEAR_STOP,
        "{f}: the gzip file is cut short (it ends before its compressed data do) — copy it again "
        "from the acquisition PC (the copy stopped early) or unpack it with another tool to see "
        "what is left",
    ),
    Case(
        "photometry-npm-missing-led-flags",
        "npm",
        CLEAR_STOP,
        "{f}: not a Neurophotometrics photometry file: no 'LedState' or 'Flags' column (the LED "
        "flags say which LED lit each frame); closest: 'LedStat' — columns found: FrameCounter, "
        "Timestamp, LedStat, Region0G; give the photometry table (not the digital-input file), "
        "with its LED column as exported",
    ),
    Case(
        "photometry-npm-misspelt-region-column",
        "npm",
        CLEAR_STOP,
        "{f}: no column 'Region0' (configured as region 'VMH'); closest: 'Region0G' — columns "
        "found: FrameCounter, Timestamp, LedState, Region0G; fix the column name in the config",
    ),
    Case(
        "photometry-npm-time-goes-backwards",
        "npm",
        FLAGGED,
        "time goes back by 0.95 s at line 402 (from 19.95 to 19 s): the clock or the rows are out "
        "of order there, not a missing sample",
    ),
    Case(
        "photometry-npm-gap-cuts-window",
        "npm",
        FLAGGED,
        "window(s) not computed, the recording covers too little of them: post_0_3 covered 67% "
        "of 240-420 s (< 90%)",
    ),
    Case(
        "photometry-ttl-value-not-a-level",
        "ttl/events file",
        CLEAR_STOP,
        "{f} line 3, column 'Value': 'maybe' is not True/False — the Value column holds the line "
        "level",
    ),
    Case(
        "photometry-ttl-empty-file",
        "ttl/events file",
        CLEAR_STOP,
        "{f}: the Neurophotometrics digital-input file is empty (0 bytes) — re-export it from the "
        "software",
    ),
    Case(
        "photometry-events-time-not-a-number",
        "ttl/events file",
        CLEAR_STOP,
        "{f} line 3, column 'time_s': 'abc' is not a number — enter a plain number (decimal "
        "point, no units)",
    ),
    Case(
        "photometry-events-missing-column",
        "ttl/events file",
        CLEAR_STOP,
        "{f}: no column 'event' (configured for 'event name') — columns found: name, t; fix the "
        "column name in the config or the file's header",
    ),
    Case(
        "photometry-csv-misspelt-column",
        "photometry csv",
        CLEAR_STOP,
        "{f}: no column 'GCaMP' (configured as signal of fibre 'fibre'); closest: 'gcamp' — "
        "columns found: time, gcamp, iso; fix the column name in the config",
    ),
    Case(
        "photometry-csv-time-goes-backwards",
        "photometry csv",
        FLAGGED,
        "time goes back by 0.05 s at line 4 (from 0.1 to 0.05 s): the clock or the rows are out "
        "of order there, not a missing sample",
    ),
    Case(
        "photometry-doric-not-hdf5",
        "doric",
        CLEAR_STOP,
        "{f}: not an HDF5 .doric file (Unable to synchronously open file (file signature not "
        "found))",
    ),
    Case(
        "photometry-doric-missing-dataset",
        "doric",
        CLEAR_STOP,
        "{f}: no channel 'LockInAOUT01/AIN01' (its values and Time datasets); closest: "
        "'LockInAOUT02/AIN01' — channels in the file: DigitalIO/DIO01, LockInAOUT02/AIN01; fix "
        "the channel name in the config, or export the file again if the channel was recorded",
    ),
]

BY_ID = {case.id: case for case in CASES}


# ------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------
def _traces(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time, GCaMP and isosbestic volts (shared slow drift and noise), and the run's TTL."""
    rng = np.random.default_rng(seed)
    t = np.arange(N) / FS
    drift = 0.05 * np.exp(-t / 300)
    running = (t >= RUN[0]) & (t < RUN[1])
    signal = 1.0 + drift + 0.05 * running + 0.004 * rng.standard_normal(N)
    control = 0.8 + drift + 0.004 * rng.standard_normal(N)
    return t, signal, control, running


def _ppd(folder: Path, name: str = "M1_d1.ppd") -> Path:
    _, signal, control, running = _traces()
    return write_ppd(folder / name, signal, control, FS, running)


def _split_ppd(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    size = int.from_bytes(raw[:2], "little")
    return json.loads(raw[2 : 2 + size]), raw[2 + size :]


def _rewrite_ppd(path: Path, header: dict, payload: bytes) -> Path:
    text = json.dumps(header, sort_keys=True).encode()
    path.write_bytes(len(text).to_bytes(2, "little") + text + payload)
    return path


def _npm(folder: Path, name: str = "M1_d1.csv") -> tuple[Path, Path]:
    _, signal, control, running = _traces(1)
    path, ttl = write_npm(folder / name, folder / "M1_d1_ttl.csv", signal * 1e3, control * 1e3,
                          2 * FS, running)  # fmt: skip
    return path, ttl


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------------------------------
# Cases: each builds its files, then returns (files to keep unchanged, the call, what to check)
# ------------------------------------------------------------------------------------------
#: Digests of each case's raw files, taken before the reader or the session sees them.
WRITTEN: dict[str, dict] = {}


def _written(case_id: str, *paths: Path) -> None:
    WRITTEN[case_id] = digests(paths)


def _stop(call: Callable[[], object], error: type[Exception] = InputDataError) -> str:
    with pytest.raises(error) as caught:
        call()
    return str(caught.value)


def _session_qc(recording, settings=SETTINGS):
    tables = process_session(recording, *RUN, settings, IDENTITY)
    return tables, qc_flags(tables["qc"]).iloc[0]


def _coverage_reason(qc) -> str:
    """The QC reason naming the windows not computed (the last rule, so the rest of the text)."""
    reasons = qc["qc_reasons"]
    return reasons[reasons.index("window(s) not computed") :]


def run_case(case_id: str, folder: Path) -> tuple[list[Path], str, dict]:
    """Build the case's files in ``folder`` and run it; return the raw files, the user's text
    (the message, or the QC reasons / anomaly details) and the format fields of the message."""
    fields: dict = {}
    if case_id == "photometry-ppd-empty-file":
        path = folder / "M1_d1.ppd"
        path.write_bytes(b"")
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "ppd", PPD_CONFIG)), {"f": path}
    if case_id == "photometry-ppd-damaged-json-header":
        path = _ppd(folder)
        raw = bytearray(path.read_bytes())
        size = int.from_bytes(raw[:2], "little")
        at = raw.index(b", ", 2)  # a comma between two header fields, lost
        raw[at] = ord(" ")
        path.write_bytes(bytes(raw))
        fields = {"f": path, "end": size + 1, "at": at + 2}  # where the next field starts
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "ppd", PPD_CONFIG)), fields
    if case_id == "photometry-ppd-no-sampling-rate":
        path = _ppd(folder)
        header, payload = _split_ppd(path)
        del header["sampling_rate"]
        _rewrite_ppd(path, header, payload)
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "ppd", PPD_CONFIG)), {"f": path}
    if case_id == "photometry-ppd-zero-sampling-rate":
        path = _ppd(folder)
        header, payload = _split_ppd(path)
        _rewrite_ppd(path, {**header, "sampling_rate": 0}, payload)
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "ppd", PPD_CONFIG)), {"f": path}
    if case_id == "photometry-ppd-misspelt-channel":
        path = _ppd(folder)
        config = {**PPD_CONFIG, "signal": "analog1"}
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "ppd", config), ConfigError), {}
    if case_id == "photometry-ppd-truncated-window-not-computed":
        path = _ppd(folder)
        header, payload = _split_ppd(path)
        keep = int((RUN[1] + 0.37 * 180) * FS) * 4 + 3  # 37 % into post_0_3, mid-sample
        _rewrite_ppd(path, header, payload[:keep])
        _written(case_id, path)
        recording = read_photometry(path, "ppd", PPD_CONFIG)["VMH"]
        assert list(recording.anomalies["kind"]) == ["truncated"]
        tables, qc = _session_qc(recording)
        metrics = tables["metrics"].set_index(["window", "metric"])["value"]
        assert metrics.loc["post_0_3"].isna().all() and metrics.loc["post_3_6"].isna().all()
        assert metrics.loc["running"].notna().all()
        assert not qc["qc_pass"]
        return [path], _coverage_reason(qc), {}
    if case_id == "photometry-ppd-excluded-segment-cuts-window":
        path = _ppd(folder)
        _written(case_id, path)
        recording = read_photometry(path, "ppd", PPD_CONFIG)["VMH"]
        cut = {"mouse": "M1", "day": 1, "start_s": 300.0, "end_s": 360.0, "reason": "cord"}
        tables, qc = _session_qc(recording, {**SETTINGS, "exclude_segments": [cut]})
        metrics = tables["metrics"].set_index(["window", "metric"])["value"]
        assert metrics.loc["post_0_3"].isna().all() and metrics.loc["post_3_6"].notna().all()
        assert not qc["qc_pass"]
        return [path], _coverage_reason(qc), {}
    if case_id == "photometry-ppd-all-saturated":
        rng = np.random.default_rng(3)
        top = PPD_VOLTS_PER_DIVISION * ((1 << 15) - 1)
        signal, control = top - 0.02 * rng.random(N), top - 0.02 * rng.random(N)
        path = write_ppd(folder / "M1_d1.ppd", signal, control, FS, _traces()[3])
        _written(case_id, path)
        recording = read_photometry(path, "ppd", PPD_CONFIG)["VMH"]
        _, qc = _session_qc(recording)
        for key in ("saturation_fraction", "saturation_fraction_signal", "spike_fraction"):
            assert 0.0 <= qc[key] <= 1.0, (key, qc[key])
        assert qc["saturation_fraction"] == 1.0
        assert qc["snr_db"] < 20  # no absurd SNR from a clipped trace
        assert not qc["qc_pass"]
        return [path], qc["qc_reasons"], {}
    if case_id == "photometry-ppd-constant-at-the-rail":
        path = write_ppd(folder / "M1_d1.ppd", np.full(N, 5.0), np.full(N, 5.0), FS, _traces()[3])
        _written(case_id, path)
        recording = read_photometry(path, "ppd", PPD_CONFIG)["VMH"]
        return [path], _stop(lambda: _session_qc(recording)), {"f": path}
    if case_id == "photometry-ppd-unknown-mode":
        path = _ppd(folder)
        header, payload = _split_ppd(path)
        _rewrite_ppd(path, {**header, "mode": "4 colour continuous"}, payload)
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "ppd", PPD_CONFIG)), {"f": path}
    if case_id == "photometry-npm-time-unit-inconsistent-with-frame-rate":
        path, _ = _npm(folder)
        lines = _lines(path)
        for row in range(1, len(lines)):  # the clock exported in milliseconds
            cells = lines[row].split(",")
            cells[1] = f"{float(cells[1]) * 1000:g}"
            lines[row] = ",".join(cells)
        _write_lines(path, lines)
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "neurophotometrics")), {"f": path}
    if case_id == "photometry-npm-empty-file":
        path = folder / "M1_d1.csv"
        path.write_text("")
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "neurophotometrics")), {"f": path}
    if case_id == "photometry-npm-header-only":
        path, _ = _npm(folder)
        _write_lines(path, _lines(path)[:1])
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "neurophotometrics")), {"f": path}
    if case_id == "photometry-npm-truncated-gzip":
        source, _ = _npm(folder)
        packed = gzip.compress(source.read_bytes(), mtime=0)
        path = folder / "M1_d1.csv.gz"
        path.write_bytes(packed[: len(packed) // 2])
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "neurophotometrics")), {"f": path}
    if case_id == "photometry-npm-missing-led-flags":
        path, _ = _npm(folder)
        path.write_text(path.read_text().replace("LedState", "LedStat", 1))
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "neurophotometrics")), {"f": path}
    if case_id == "photometry-npm-misspelt-region-column":
        path, _ = _npm(folder)
        _written(case_id, path)
        call = lambda: read_photometry(path, "neurophotometrics", {"regions": {"VMH": "Region0"}})  # noqa: E731
        return [path], _stop(call), {"f": path}
    if case_id == "photometry-npm-time-goes-backwards":
        path, _ = _npm(folder)
        lines = _lines(path)
        cells = lines[401].split(",")  # line 402 of the file: the clock jumps back 1 s
        cells[1] = f"{float(cells[1]) - 1.0:g}"
        lines[401] = ",".join(cells)
        _write_lines(path, lines)
        _written(case_id, path)
        recording = read_photometry(path, "neurophotometrics", {"regions": {"VMH": "Region0G"}})
        anomalies = recording["VMH"].anomalies
        back = anomalies[anomalies["kind"] == "time_backwards"]
        assert list(back["line"]) == [402]
        missing = anomalies[anomalies["kind"] == "missing_value"]["detail"]
        assert all("timestamps go backwards at line 402" in d for d in missing)
        return [path], back["detail"].iloc[0], {}
    if case_id == "photometry-npm-gap-cuts-window":
        path, _ = _npm(folder)
        lines = _lines(path)
        start, stop = (int(t * 2 * FS) + 1 for t in (300.0, 360.0))  # 60 s lost in post_0_3
        _write_lines(path, lines[:start] + lines[stop:])
        _written(case_id, path)
        recording = read_photometry(path, "neurophotometrics", {"regions": {"VMH": "Region0G"}})
        assert "dropped_frames" in set(recording["VMH"].anomalies["kind"])
        tables, qc = _session_qc(recording["VMH"])
        metrics = tables["metrics"].set_index(["window", "metric"])["value"]
        assert metrics.loc["post_0_3"].isna().all() and metrics.loc["post_3_6"].notna().all()
        assert not qc["qc_pass"]
        return [path], _coverage_reason(qc), {}
    if case_id == "photometry-ttl-value-not-a-level":
        path, _ = _npm(folder)
        ttl = folder / "M1_d1_ttl.csv"
        ttl.write_text("Timestamp,Value\n1.0,True\n2.0,maybe\n")
        _written(case_id, path, ttl)
        call = lambda: read_photometry(path, "neurophotometrics", ttl={"run": ttl})  # noqa: E731
        return [path, ttl], _stop(call), {"f": ttl}
    if case_id == "photometry-ttl-empty-file":
        path, _ = _npm(folder)
        ttl = folder / "M1_d1_ttl.csv"
        ttl.write_text("")
        _written(case_id, path, ttl)
        call = lambda: read_photometry(path, "neurophotometrics", ttl={"run": ttl})  # noqa: E731
        return [path, ttl], _stop(call), {"f": ttl}
    if case_id == "photometry-events-time-not-a-number":
        path = folder / "M1_d1_events.csv"
        path.write_text("event,time_s\nlick,1.0\nlick,abc\n")
        _written(case_id, path)
        return [path], _stop(lambda: read_event_table(str(path))), {"f": path}
    if case_id == "photometry-events-missing-column":
        path = folder / "M1_d1_events.csv"
        path.write_text("name,t\nlick,1.0\n")
        _written(case_id, path)
        return [path], _stop(lambda: read_event_table(str(path))), {"f": path}
    if case_id == "photometry-csv-misspelt-column":
        path = folder / "M1_d1.csv"
        path.write_text("time,gcamp,iso\n0,1.0,2.0\n0.1,1.1,2.1\n0.2,1.0,2.0\n")
        config = {"time_column": "time", "signal_column": "GCaMP", "control_column": "iso"}
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "csv", config)), {"f": path}
    if case_id == "photometry-csv-time-goes-backwards":
        path = folder / "M1_d1.csv"
        path.write_text("time,gcamp,iso\n0,1.0,2.0\n0.1,1.1,2.1\n0.05,1.0,2.0\n0.3,1.2,2.2\n")
        config = {"time_column": "time", "signal_column": "gcamp", "control_column": "iso"}
        _written(case_id, path)
        anomalies = read_photometry(path, "csv", config)["fibre"].anomalies
        back = anomalies[anomalies["kind"] == "time_backwards"]
        assert list(back["line"]) == [4]
        return [path], back["detail"].iloc[0], {}
    if case_id == "photometry-doric-not-hdf5":
        path = folder / "M1_d1.doric"
        path.write_text("not hdf5")
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "doric")), {"f": path}
    if case_id == "photometry-doric-missing-dataset":
        path = folder / "M1_d1.doric"
        t, signal, _, running = _traces()
        with h5py.File(path, "w") as handle:
            series = handle.create_group("DataAcquisition/FPConsole/Signals/Series0001")
            for group, name, values in (
                ("LockInAOUT02", "AIN01", signal),
                ("LockInAOUT01", None, None),  # the control's datasets were not exported
                ("DigitalIO", "DIO01", running.astype(float)),
            ):
                g = series.create_group(group)
                g.create_dataset("Time", data=t)
                if name:
                    g.create_dataset(name, data=values)
        config = {"signal_column": "LockInAOUT02/AIN01", "control_column": "LockInAOUT01/AIN01"}
        _written(case_id, path)
        return [path], _stop(lambda: read_photometry(path, "doric", config)), {"f": path}
    raise KeyError(case_id)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_malformed_photometry_input(case, tmp_path):
    files, text, fields = run_case(case.id, tmp_path)
    assert digests(files) == WRITTEN.pop(case.id)  # the raw files are as the lab left them
    assert_one_line(text)
    assert text == case.expected.format(**fields)
