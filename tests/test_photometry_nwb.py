"""NWB: a recording written with pynwb and ndx-fiber-photometry (to the extension's documented
layout) is read back exactly; a processed session exported as NWB is read back exactly by pynwb
and passes the NWB Inspector without critical findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

pynwb = pytest.importorskip("pynwb")
ndx = pytest.importorskip("ndx_fiber_photometry")

from ndx_ophys_devices import (  # noqa: E402
    ExcitationSource,
    ExcitationSourceModel,
    FiberInsertion,
    Indicator,
    OpticalFiber,
    OpticalFiberModel,
    Photodetector,
    PhotodetectorModel,
)
from nwbinspector import Importance, inspect_nwbfile  # noqa: E402

from exneuro.errors import InputDataError  # noqa: E402
from exneuro.photometry.nwb import write_session_nwb  # noqa: E402
from exneuro.photometry.preprocess import preprocess_session  # noqa: E402
from exneuro.photometry.readers import read_photometry  # noqa: E402
from exneuro.simulate.photometry import PhotometryEffects, simulate_session  # noqa: E402
from exneuro.simulate.photometry_faults import plant_faults  # noqa: E402

FS = 30.0
N = 3000


def _write_recording(path, rng):
    nwbfile = pynwb.NWBFile(
        session_description="treadmill session",
        identifier="M7_d3",
        session_id="M7_d3",
        session_start_time=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
    )
    fiber_model = OpticalFiberModel(
        name="fiber_model",
        manufacturer="Doric",
        model_number="MFC_400",
        numerical_aperture=0.48,
        core_diameter_in_um=400.0,
    )
    fiber = OpticalFiber(
        name="fiber",
        model=fiber_model,
        fiber_insertion=FiberInsertion(name="fiber_insertion", depth_in_mm=5.0),
    )
    led_model = ExcitationSourceModel(
        name="led_model",
        manufacturer="Doric",
        source_type="LED",
        excitation_mode="one-photon",
        wavelength_range_in_nm=[400.0, 480.0],
    )
    leds = [ExcitationSource(name=f"led_{nm}", model=led_model) for nm in (465, 405)]
    detector_model = PhotodetectorModel(
        name="detector_model", manufacturer="Doric", detector_type="photodiode"
    )
    detector = Photodetector(name="detector", model=detector_model)
    indicator = Indicator(name="gcamp", label="GCaMP6s", description="calcium indicator")
    for device in (fiber_model, led_model, detector_model):
        nwbfile.add_device_model(device)
    for device in (fiber, *leds, detector):
        nwbfile.add_device(device)
    table = ndx.FiberPhotometryTable(name="fiber_photometry_table", description="fibres")
    for led, nm in zip(leds, (465.0, 405.0), strict=True):
        table.add_row(
            location="ARC",
            excitation_wavelength_in_nm=nm,
            emission_wavelength_in_nm=525.0,
            indicator=indicator,
            optical_fiber=fiber,
            excitation_source=led,
            photodetector=detector,
        )
    nwbfile.add_lab_meta_data(
        ndx.FiberPhotometry(
            name="fiber_photometry",
            fiber_photometry_table=table,
            fiber_photometry_indicators=ndx.FiberPhotometryIndicators(indicators=[indicator]),
        )
    )
    values = {
        "gcamp_465": 1.2 + 0.01 * rng.normal(size=N),
        "isos_405": 0.8 + 0.01 * rng.normal(size=N),
    }
    for row, (name, data) in enumerate(values.items()):
        nwbfile.add_acquisition(
            ndx.FiberPhotometryResponseSeries(
                name=name,
                description=f"{name} raw fluorescence",
                data=data,
                unit="V",
                starting_time=2.0,
                rate=FS,
                fiber_photometry_table_region=table.create_fiber_photometry_table_region(
                    region=[row], description="source fibre"
                ),
            )
        )
    nwbfile.add_trial(start_time=20.0, stop_time=50.0)
    nwbfile.add_trial(start_time=60.0, stop_time=65.0)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return values


def test_ndx_fiber_photometry_recording_is_read_exactly(tmp_path):
    path = tmp_path / "recording.nwb"
    values = _write_recording(path, np.random.default_rng(0))
    recording = read_photometry(path, "nwb")["ARC"]
    np.testing.assert_array_equal(recording.signal, values["gcamp_465"])
    np.testing.assert_array_equal(recording.control, values["isos_405"])
    np.testing.assert_allclose(recording.time_s, np.arange(N) / FS, rtol=0, atol=1e-9)
    assert recording.metadata["led_nm"] == {"signal": 465.0, "control": 405.0}
    assert recording.fs_hz == pytest.approx(FS)
    events = recording.events
    assert list(events["name"]) == ["trials", "trials"]
    np.testing.assert_allclose(events["time_s"], [18.0, 58.0])
    np.testing.assert_allclose(events["duration_s"], [30.0, 5.0])
    by_name = read_photometry(
        path, "nwb", {"signal_series": "isos_405", "control_series": "gcamp_465", "region": "x"}
    )["x"]
    np.testing.assert_array_equal(by_name.signal, values["isos_405"])


def test_unknown_series_is_named(tmp_path):
    path = tmp_path / "recording.nwb"
    _write_recording(path, np.random.default_rng(0))
    with pytest.raises(InputDataError, match="no FiberPhotometryResponseSeries 'nope'.*gcamp_465"):
        read_photometry(path, "nwb", {"signal_series": "gcamp_465", "control_series": "nope"})


def test_processed_session_exports_to_nwb_exactly(tmp_path):
    fs = 20.0
    sim = simulate_session(PhotometryEffects(), np.random.default_rng(1), fs, 1200, 300, 700, 0.05)
    sim = plant_faults(sim, np.random.default_rng(2), disconnections_s=[(800.0, 900.0)])
    settings = {"zscore": "baseline"}
    trace, qc = preprocess_session(
        sim["time_s"], sim["signal"], sim["control"], fs, settings, (0, 300)
    )
    faults = pd.DataFrame(qc["faults"])
    events = pd.DataFrame(
        {"name": ["run"], "time_s": [300.0], "duration_s": [400.0], "source": ["sheet"]}
    )
    identity = {"session": "M1_d1", "mouse": "M1", "group": "control", "day": 1}
    path = write_session_nwb(
        tmp_path / "session.nwb", trace, qc, faults, events, {"preprocessing": settings}, identity
    )
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        module = nwbfile.processing["ophys"]
        for column in ("dff", "z", "signal", "control", "fitted_control"):
            np.testing.assert_array_equal(module[column].data[:], trace[column].to_numpy())
        np.testing.assert_array_equal(module["dff"].timestamps[:], trace["time_s"].to_numpy())
        stored = module["qc"].to_dataframe().iloc[0]
        assert stored["fit_slope"] == qc["fit_slope"]
        assert stored["disconnected_fraction"] == qc["disconnected_fraction"]
        assert stored["snr_method"] == qc["snr_method"]
        spans = nwbfile.intervals["faults"].to_dataframe()
        gone = spans[spans["fault"] == "disconnected"]
        assert gone["start_time"].iloc[0] == pytest.approx(800.0, abs=0.1)
        assert gone["stop_time"].iloc[0] == pytest.approx(900.0, abs=0.1)
        run = nwbfile.intervals["events"].to_dataframe().iloc[0]
        assert (run["event"], run["start_time"], run["stop_time"]) == ("run", 300.0, 700.0)
        assert json.loads(nwbfile.notes)["settings"] == {"preprocessing": settings}
        assert nwbfile.subject.subject_id == "M1"
        assert nwbfile.subject.species == "Mus musculus"  # the default of study.species
        assert nwbfile.session_description.startswith("Processed fiber photometry of mouse M1,")
    critical = [
        m
        for m in inspect_nwbfile(nwbfile_path=str(path))
        if m.importance in (Importance.CRITICAL, Importance.ERROR)
    ]
    assert critical == []


def test_nwb_subject_is_the_study_s_species(tmp_path):
    fs = 20.0
    sim = simulate_session(PhotometryEffects(), np.random.default_rng(1), fs, 600, 200, 400, 0.05)
    sim = plant_faults(sim, np.random.default_rng(2), disconnections_s=[(500.0, 520.0)])
    trace, qc = preprocess_session(
        sim["time_s"], sim["signal"], sim["control"], fs, {"zscore": "baseline"}, (0, 200)
    )
    events = pd.DataFrame(
        {"name": ["run"], "time_s": [200.0], "duration_s": [200.0], "source": ["sheet"]}
    )
    identity = {"session": "R1_d1", "mouse": "R1", "group": "SED", "day": 1}
    path = write_session_nwb(
        tmp_path / "session.nwb",
        trace,
        qc,
        pd.DataFrame(qc["faults"]),
        events,
        {},
        identity,
        species="Rattus norvegicus",
        animal="rat",
    )
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        assert nwbfile.subject.species == "Rattus norvegicus"
        assert nwbfile.session_description.startswith("Processed fiber photometry of rat R1,")
