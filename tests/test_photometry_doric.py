"""Doric Neuroscience Studio ``.doric`` files, built with h5py to the v1 and v5/v6 layouts, read
back exactly."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from exneuro.errors import InputDataError
from exneuro.photometry.readers import read_photometry
from exneuro.photometry.readers_doric import doric_channels

FS = 120.0
N = 2400


def _traces(seed: int = 0):
    rng = np.random.default_rng(seed)
    t = 12.5 + np.arange(N) / FS
    signal = 1.2 + 0.01 * rng.normal(size=N)
    control = 0.8 + 0.01 * rng.normal(size=N)
    digital = ((t >= 14.0) & (t < 15.0)) | ((t >= 20.0) & (t < 20.5))
    return t, signal, control, digital.astype(float)


def _write_v6(path, shifted_control: bool):
    t, signal, control, digital = _traces()
    with h5py.File(path, "w") as f:
        f.create_group("Configurations").attrs["Version"] = "6.1.2.0"
        series = f.create_group("DataAcquisition/FPConsole/Signals/Series0001")
        for group, values, clock in (
            ("LockInAOUT02", signal, t),
            ("LockInAOUT01", control, t + (0.5 / FS if shifted_control else 0.0)),
            ("DigitalIO", digital, t),
        ):
            g = series.create_group(group)
            g.create_dataset("Time", data=clock)
            g.create_dataset("DIO01" if group == "DigitalIO" else "AIN01", data=values)
    return t, signal, control


def _write_v5(path):
    t, signal, control, digital = _traces(1)
    with h5py.File(path, "w") as f:
        f.create_group("Configurations")
        series = f.create_group("DataAcquisition/FPConsole/Signals/Series0001")
        for group, values in (
            ("AIN01xAOUT02-LockIn", signal),
            ("AIN01xAOUT01-LockIn", control),
            ("DigitalIO/DIO01", digital),
        ):
            g = series.create_group(group)
            g.create_dataset("Time", data=t)
            g.create_dataset("Values", data=values)
    return t, signal, control


def _write_v1(path):
    t, signal, control, digital = _traces(2)
    with h5py.File(path, "w") as f:
        console = f.create_group("Traces/Console")
        console.create_group("Time(s)").create_dataset("Time(s)", data=t)
        for name, values in (
            ("AIn-1 - Dem (AOut-2)", signal),
            ("AIn-1 - Dem (AOut-1)", control),
            ("DI--O-1", digital),
        ):
            console.create_group(name).create_dataset(name, data=values)
    return t, signal, control


def _check_events(recording):
    events = recording.events
    assert list(events["name"]) == ["DIO01"] * 2 or list(events["name"]) == ["DI--O-1"] * 2
    np.testing.assert_allclose(events["time_s"], [1.5, 7.5], atol=0.5 / FS)
    np.testing.assert_allclose(events["duration_s"], [1.0, 0.5], atol=1.5 / FS)


def test_v6_layout_is_read_exactly(tmp_path):
    path = tmp_path / "session.doric"
    t, signal, control = _write_v6(path, shifted_control=False)
    config = {"signal_column": "LockInAOUT02/AIN01", "control_column": "LockInAOUT01/AIN01"}
    recording = read_photometry(path, "doric", config)["fibre"]
    np.testing.assert_array_equal(recording.signal, signal)
    np.testing.assert_array_equal(recording.control, control)
    np.testing.assert_allclose(recording.time_s, t - t[0], rtol=0, atol=1e-12)
    assert recording.fs_hz == pytest.approx(FS)
    assert recording.metadata["format_version"] == "v5/v6 (DataAcquisition)"
    assert len(recording.anomalies) == 0
    _check_events(recording)


def test_v6_control_on_its_own_clock_is_interpolated(tmp_path):
    path = tmp_path / "session.doric"
    t, signal, control = _write_v6(path, shifted_control=True)
    config = {"signal_column": "LockInAOUT02/AIN01", "control_column": "LockInAOUT01/AIN01"}
    recording = read_photometry(path, "doric", config)["fibre"]
    np.testing.assert_array_equal(recording.signal, signal)
    expected = np.interp(t, t + 0.5 / FS, control)
    np.testing.assert_array_equal(recording.control[1:], expected[1:])
    # the first signal sample precedes the control's clock: no control there, reported
    assert np.isnan(recording.control[0])
    assert list(recording.anomalies["kind"]) == ["missing_value"]


def test_v5_layout_is_read_exactly(tmp_path):
    path = tmp_path / "session.doric"
    t, signal, control = _write_v5(path)
    with h5py.File(path) as handle:
        assert set(doric_channels(handle)) == {
            "AIN01xAOUT02-LockIn",
            "AIN01xAOUT01-LockIn",
            "DigitalIO/DIO01",
        }
    config = {
        "fibres": {"NAc": {"signal": "AIN01xAOUT02-LockIn", "control": "AIN01xAOUT01-LockIn"}}
    }
    recording = read_photometry(path, "doric", config)["NAc"]
    np.testing.assert_array_equal(recording.signal, signal)
    np.testing.assert_array_equal(recording.control, control)
    _check_events(recording)


def test_v1_layout_is_read_exactly(tmp_path):
    path = tmp_path / "old.doric"
    t, signal, control = _write_v1(path)
    config = {"signal_column": "AIn-1 - Dem (AOut-2)", "control_column": "AIn-1 - Dem (AOut-1)"}
    recording = read_photometry(path, "doric", {**config, "ttl_columns": {"DI--O-1": "DI--O-1"}})
    recording = recording["fibre"]
    np.testing.assert_array_equal(recording.signal, signal)
    np.testing.assert_array_equal(recording.control, control)
    assert recording.metadata["format_version"] == "v1 (Traces)"
    _check_events(recording)


def test_unknown_channel_is_named_with_the_channels_in_the_file(tmp_path):
    path = tmp_path / "session.doric"
    _write_v6(path, shifted_control=False)
    config = {"signal_column": "LockInAOUT03/AIN01", "control_column": "LockInAOUT01/AIN01"}
    with pytest.raises(InputDataError, match="no channel 'LockInAOUT03/AIN01'.*LockInAOUT02/AIN01"):
        read_photometry(path, "doric", config)
    (tmp_path / "text.doric").write_text("not hdf5")
    with pytest.raises(InputDataError, match="not an HDF5 .doric file"):
        read_photometry(tmp_path / "text.doric", "doric", config)


def test_doric_file_without_configured_channels_names_the_channels_to_pick(tmp_path):
    path = tmp_path / "session.doric"
    _write_v6(path, shifted_control=False)
    with pytest.raises(
        InputDataError,
        match=r"no signal and control channels configured for this \.doric file.*two of: .*"
        r"LockInAOUT01/AIN01.*LockInAOUT02/AIN01",
    ):
        read_photometry(path, "doric", {})
