"""Fiber-photometry preprocessing: raw signal and isosbestic control to artifact-corrected ΔF/F.

The chain is the best-accepted one (project notes ``photometry.md`` §2; Simpson et al. 2024,
*Neuron* primer; Keevers & Jean-Richard-dit-Bressel 2025, *Neurophotonics* 12:025003), every
step a function with its parameters so that the workflow can record them with the outputs:

1. :func:`trim_warmup` — drop the first ``warmup_s`` seconds (LED and detector warm-up).
2. :func:`lowpass` — zero-phase Butterworth low-pass (``sosfiltfilt``) of both channels. The
   forward-backward pass squares the magnitude response: −6 dB at ``cutoff_hz``, roll-off of order
   ``2 * order``, no phase shift (transient latencies are not delayed).
3. :func:`decimate` — optional reduction to ``target_hz`` after an anti-alias low-pass. When the
   step-2 filter already attenuates the new Nyquist frequency by ≥ 40 dB it is the anti-alias
   filter and no second filter is run (:func:`zero_phase_gain`).
4. :func:`~exneuro.photometry.bleaching.correct_bleaching` — ``none`` (default: the fitted
   control tracks the shared bleaching and the ΔF/F denominator normalises it, as GuPPy and
   Keevers & JRdB do), ``airpls``/``arpls`` (asymmetric least squares), ``double_exponential``
   (Akam: ``F(t) = C + A_slow e^(−t/τ_slow) + A_fast e^(−t/(m τ_slow))``, fitted on a copy
   block-averaged to ``fit_hz`` and evaluated at the full rate) or ``highpass`` (trend = the part
   a Butterworth high-pass at ``highpass_hz`` removes, computed at ``fit_hz``). Both trends are
   divided out (``x · mean(F̂)/F̂``): fluorescence and its changes scale with the remaining
   fluorophore, so a ΔF/F computed afterwards is unbiased — a subtracted trend would leave
   ``Ŝ ≈ 0`` in the denominator. Detrended channels suit a whole-session fit (Akam). They do
   not suit a baseline-epoch fit: a flat control over 10 min of rest gives the fit no leverage,
   the slope is estimated from noise and the motion artifacts stay in ΔF/F (the QC metric
   ``artifact_correlation`` catches it, |r| ≈ 0.97 in simulations vs ≈ 0.02 with ``none``).
   For treadmill sessions keep ``none`` with the baseline fit: the control's own bleaching
   during the rest supplies the leverage.
5. :func:`fit_control` — ``Ŝ = β₀ + β₁·control`` by OLS or by robust IRLS with Tukey's bisquare
   (tuning constant ``k``, MAD scale), over the whole session or over a baseline epoch only. A
   run on the treadmill is a sustained step of activity: a whole-session fit absorbs part of it
   into β₀ and β₁ (GuPPy issue #200), a fit on the pre-run rest does not.
6. :func:`delta_f_over_f` — ``ΔF/F = (S − Ŝ)/Ŝ``.
7. :func:`zscore` — whole session, baseline window, or robust (median/MAD).

:func:`preprocess_session` runs the chain from a settings mapping (keys: :data:`DEFAULT_SETTINGS`)
and returns the processed table and one QC record; :func:`qc_flags` turns QC records into flags
with reasons. A session that fails QC is flagged, never dropped.

Before step 2 the raw channels are checked for signal faults (:mod:`exneuro.photometry.faults`:
spikes, disconnection, dark channel, saturation, level change), spikes optionally replaced by the
running median; disconnected spans and spans excluded in the config are left out of the control
fit and the z-score reference and carry NaN in ΔF/F and z (the table's ``excluded`` column). The
control fit is in :mod:`exneuro.photometry.control_fit`, the QC metrics and rules in
:mod:`exneuro.photometry.qc`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from exneuro.errors import ConfigError, InputDataError
from exneuro.photometry.baselines import martianova_zdff
from exneuro.photometry.bleaching import BLEACHING_METHODS, correct_bleaching
from exneuro.photometry.control_fit import FIT_METHODS, IRLS_CRITERIA, MAD_TO_SD, fit_control
from exneuro.photometry.faults import (
    FAULT_COLUMNS,
    FAULT_DEFAULTS,
    detect_faults,
    paint,
    runs,
    spans_table,
)
from exneuro.photometry.filters import (
    ANTIALIAS_ATTENUATION,
    check_arrays,
    decimate,
    lowpass,
    trim_warmup,
    zero_phase_gain,
)
from exneuro.photometry.qc import (
    artifact_correlation,
    r_squared,
    saturation_fraction,
    signalto_noise_db,
)

#: Every preprocessing parameter, with its default. :func:`resolve_settings` fills a partial
#: mapping from these and rejects unknown keys.
DEFAULT_SETTINGS: dict[str, Any] = {
    "warmup_s": 10.0,
    "lowpass": {"cutoff_hz": 3.0, "order": 2},
    "decimate_hz": 20.0,
    "bleaching": {
        "method": "none",
        "fit_hz": 1.0,
        "highpass_hz": 0.001,
        "highpass_order": 2,
        "lam": 5.0e4,
        "diff_order": 1,
        "max_iter": 50,
    },
    "control_fit": {
        "method": "irls",
        "tuning": 4.685,
        "window": "baseline",
        "max_iter": 50,
        "tol": 1e-6,
        "criterion": "fitted",
    },
    "zscore": "baseline",
    "method": "chain",
    "martianova": {"smooth_window": 10, "lam": 5.0e4, "max_iter": 50, "alpha": 1e-4},
    "faults": {k: v for k, v in FAULT_DEFAULTS.items() if k != "edge_s"},
    "qc": {
        "saturation_limits": None,
        "bleaching_edge_s": 60.0,
        "snr_noise_band_hz": None,
        "artifact_highpass_hz": 0.05,
    },
}

FIT_WINDOWS = ("session", "baseline")

#: The chain of this module, or the whole recipe of Martianova, Aronson & Proulx 2019.
PREPROCESSING_METHODS = ("chain", "martianova2019")
ZSCORE_METHODS = ("session", "baseline", "robust")


# ----------------------------------------------------------------------------------------------
# settings
# ----------------------------------------------------------------------------------------------
def _merge(defaults: Mapping, given: Mapping, path: str) -> dict:
    out = copy.deepcopy(dict(defaults))
    for key, value in given.items():
        if key not in defaults:
            raise ConfigError(
                f"photometry preprocessing setting {path}{key!r} is unknown; "
                f"known: {sorted(defaults)}"
            )
        if isinstance(defaults[key], Mapping) and value is not None:
            if not isinstance(value, Mapping):
                raise ConfigError(f"photometry setting {path}{key!r} must be a mapping")
            out[key] = _merge(defaults[key], value, f"{path}{key}.")
        else:
            out[key] = value
    return out


def resolve_settings(settings: Mapping | None = None) -> dict[str, Any]:
    """The full preprocessing settings: ``settings`` over :data:`DEFAULT_SETTINGS`, checked.

    ``lowpass: null`` skips the low-pass and ``decimate_hz: null`` the decimation. Raises
    :class:`~exneuro.errors.ConfigError` naming the key for an unknown key or a bad value.
    """
    out = _merge(DEFAULT_SETTINGS, settings or {}, "")
    choices = [
        ("method", out["method"], PREPROCESSING_METHODS),
        ("bleaching.method", out["bleaching"]["method"], BLEACHING_METHODS),
        ("control_fit.method", out["control_fit"]["method"], FIT_METHODS),
        ("control_fit.window", out["control_fit"]["window"], FIT_WINDOWS),
        ("control_fit.criterion", out["control_fit"]["criterion"], IRLS_CRITERIA),
        ("zscore", out["zscore"], ZSCORE_METHODS),
    ]
    for key, value, allowed in choices:
        if value not in allowed:
            raise ConfigError(f"photometry setting {key} = {value!r}; choose one of {allowed}")
    if out["warmup_s"] is None or out["warmup_s"] < 0:
        raise ConfigError(f"photometry setting warmup_s must be >= 0, not {out['warmup_s']!r}")
    if out["lowpass"] is not None and not (
        out["lowpass"]["cutoff_hz"] and out["lowpass"]["cutoff_hz"] > 0
    ):
        raise ConfigError("photometry setting lowpass.cutoff_hz must be > 0 (or lowpass: null)")
    if out["control_fit"]["tuning"] <= 0:
        raise ConfigError("photometry setting control_fit.tuning must be > 0 (e.g. 1.4 or 4.685)")
    if out["decimate_hz"] is not None and out["decimate_hz"] <= 0:
        raise ConfigError("photometry setting decimate_hz must be > 0 (or null to keep the rate)")
    return out


# ----------------------------------------------------------------------------------------------
# 6-7: dF/F and z-scores
# ----------------------------------------------------------------------------------------------
def delta_f_over_f(signal: np.ndarray, fitted_control: np.ndarray) -> np.ndarray:
    """``ΔF/F = (S − Ŝ)/Ŝ`` (fraction; × 100 for %), Ŝ the fitted control (notes §2.5)."""
    fitted_control = np.asarray(fitted_control, dtype=float)
    if np.any(fitted_control <= 0):
        raise InputDataError(
            "the fitted control is zero or negative somewhere, so ΔF/F is undefined; check the "
            "channels (offset-subtracted or inverted data?) and the control fit"
        )
    return (np.asarray(signal, dtype=float) - fitted_control) / fitted_control


def zscore(x: np.ndarray, method: str = "session", mask: np.ndarray | None = None) -> np.ndarray:
    """z-score of ``x`` (notes §2.6; NumPy's population SD, ddof = 0, as GuPPy).

    ``session``: ``(x − mean(x))/sd(x)``; ``baseline``: ``(x − mean(x_B))/sd(x_B)`` over the
    samples of ``mask``; ``robust``: ``0.6745·(x − median(x))/MAD(x)``, MAD = median(|x −
    median(x)|). For ``session`` and ``robust`` a ``mask`` restricts the reference samples (the
    usable ones: disconnected and excluded spans are left out).
    """
    x = np.asarray(x, dtype=float)
    if method == "baseline" and (mask is None or not np.any(mask)):
        raise ConfigError("zscore 'baseline' needs a baseline window with samples")
    ref = x if mask is None else x[mask]
    if method == "robust":
        med = float(np.median(ref))
        mad = float(np.median(np.abs(ref - med)))
        if mad == 0:
            raise InputDataError("robust z-score: the MAD of the trace is 0")
        return MAD_TO_SD * (x - med) / mad
    if method not in ("session", "baseline"):
        raise ConfigError(f"zscore {method!r}; choose one of {ZSCORE_METHODS}")
    sd = float(ref.std())
    if sd == 0:
        raise InputDataError(f"z-score ({method}): the reference samples have SD 0")
    return (x - float(ref.mean())) / sd


# ----------------------------------------------------------------------------------------------
# the chain
# ----------------------------------------------------------------------------------------------
def _window_mask(time_s: np.ndarray, window_s: tuple[float, float] | None, what: str) -> np.ndarray:
    if window_s is None:
        raise ConfigError(f"{what} needs baseline_window_s (start, end) in session seconds")
    start, end = window_s
    mask = (time_s >= start) & (time_s < end)
    if np.count_nonzero(mask) < 10:
        raise InputDataError(
            f"baseline window {start:g}-{end:g} s holds {np.count_nonzero(mask)} samples after "
            f"trimming (recording {time_s[0]:g}-{time_s[-1]:g} s); {what} needs at least 10"
        )
    return mask


def _exclusion_spans(time_s: np.ndarray, spans_s: Sequence[Sequence[float]]) -> np.ndarray:
    """Samples inside any ``(start, end)`` of ``spans_s`` (session seconds, end inclusive)."""
    if not spans_s:
        return np.zeros(time_s.size, bool)
    bounds = np.asarray(spans_s, dtype=float).reshape(-1, 2)
    if np.any(bounds[:, 1] <= bounds[:, 0]):
        raise ConfigError(f"an excluded segment ends before it starts: {bounds.tolist()}")
    starts = np.searchsorted(time_s, bounds[:, 0], side="left")
    ends = np.searchsorted(time_s, bounds[:, 1], side="right")
    return paint(time_s.size, starts, ends)


def _fill_unusable(x: np.ndarray, unusable: np.ndarray) -> np.ndarray:
    """``x`` with each run of unusable samples replaced by a straight line between the usable
    samples on either side (the nearer one at an end), so that filters do not spread an
    unplugged stretch into its neighbours."""
    starts, ends = runs(unusable)
    if starts.size == 0:
        return x
    n = x.size
    left = x[np.maximum(starts - 1, 0)]
    right = x[np.minimum(ends, n - 1)]
    left = np.where(starts == 0, right, left)
    right = np.where(ends == n, left, right)
    lengths = ends - starts
    step = np.repeat((right - left) / (lengths + 1), lengths)
    offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
    out = x.copy()
    out[unusable] = np.repeat(left, lengths) + step * offset
    return out


def _mask_at(t_raw: np.ndarray, mask: np.ndarray, t_out: np.ndarray, pad_s: float) -> np.ndarray:
    """``mask`` (on ``t_raw``) carried to the output times ``t_out``, each span widened by
    ``pad_s`` on both sides (the reach of the low-pass filter)."""
    if not mask.any():
        return np.zeros(t_out.size, bool)
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    starts = np.searchsorted(t_out, t_raw[first] - pad_s, side="left")
    ends = np.searchsorted(t_out, t_raw[last] + pad_s, side="right")
    return paint(t_out.size, starts, ends)


def _martianova(
    t_raw: np.ndarray,
    s: np.ndarray,
    c: np.ndarray,
    fs: float,
    unusable: np.ndarray,
    cfg: Mapping[str, Any],
    qc: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Method ``martianova2019``: the recipe (:func:`~exneuro.photometry.baselines.
    martianova_zdff`) at the recorded rate on the fault-checked channels, its outputs then
    decimated like the chain's (anti-alias filter on). ``z`` is the recipe's z ΔF/F (its own
    whole-session standardisation: the ``zscore`` and ``control_fit`` settings do not apply),
    ``dff`` its ΔF/F counterpart relative to the airPLS baseline."""
    m = cfg["martianova"]
    out = martianova_zdff(s, c, m["smooth_window"], m["lam"], m["max_iter"], m["alpha"])
    columns = {
        "signal": out["smoothed_signal"],
        "control": out["smoothed_control"],
        "fitted_control": out["fitted_signal"],
        "dff": out["dff"],
        "z": out["zdff"],
    }
    t, fs_out = t_raw, fs
    if cfg["decimate_hz"] is not None and round(fs / cfg["decimate_hz"]) > 1:
        for name, values in columns.items():
            t, columns[name], fs_out = decimate(t_raw, values, fs, cfg["decimate_hz"])
    excluded = _mask_at(t_raw, unusable, t, 0.0)
    fitted_z = out["fitted_control"]
    qc.update(
        {
            "fs_hz": fs_out,
            "n_samples": int(len(t)),
            "antialias_filter": bool(fs_out != fs),
            "fit_method": "nonnegative_lasso",
            "fit_window": "session",
            "fit_tuning": float(m["alpha"]),
            "fit_intercept": out["intercept"],
            "fit_slope": out["slope"],
            "fit_r2": r_squared(out["z_signal"][~unusable], fitted_z[~unusable]),
            "fit_r2_session": float("nan"),
            "negative_slope": False,
            "fit_scale": float("nan"),
            "fit_rejected_fraction": 0.0,
            "fit_iterations": 0,
            "fit_converged": True,
            "fit_n_samples": int(np.count_nonzero(~unusable)),
            "artifact_correlation": artifact_correlation(
                columns["dff"], columns["control"], fs_out, cfg["qc"]["artifact_highpass_hz"]
            ),
        }
    )
    qc["snr_db"], qc["snr_method"] = signalto_noise_db(
        s[~unusable], fs, out["dff"][~unusable], None, 1, cfg["qc"]["snr_noise_band_hz"]
    )
    table = pd.DataFrame({"time_s": t, **columns})
    table.loc[excluded, list(columns)] = np.nan
    table["in_baseline"] = False
    table["excluded"] = excluded
    return table, qc


def preprocess_session(
    time_s: np.ndarray,
    signal: np.ndarray,
    control: np.ndarray,
    fs_hz: float,
    settings: Mapping | None = None,
    baseline_window_s: tuple[float, float] | None = None,
    exclude_spans_s: Sequence[Sequence[float]] = (),
    detector: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw channels of one fibre and session → processed table and QC record.

    ``settings`` is resolved over :data:`DEFAULT_SETTINGS` (:func:`resolve_settings`);
    ``baseline_window_s = (start, end)`` in session seconds (e.g. the 10 min of rest before the
    run) is needed when the control fit or the z-score uses the baseline. ``exclude_spans_s``:
    ``(start, end)`` spans (session seconds) left out like a disconnection. ``detector``: what
    the reader knows of the detector (``detector_floor``, ``detector_full_scale``), used when
    ``faults.floor`` / ``faults.full_scale`` are not set.

    Returns
    -------
    table
        ``time_s``, ``signal`` and ``control`` (filtered, decimated, bleach-corrected),
        ``fitted_control`` (Ŝ), ``dff`` ((S − Ŝ)/Ŝ), ``z`` (z-scored ΔF/F), ``in_baseline``,
        ``excluded`` (disconnected or excluded in the config: every value column is NaN there).
    qc
        Rates and sizes; the signal faults (:meth:`exneuro.photometry.faults.Faults.metrics`:
        ``disconnected_fraction``, ``spike_fraction``, ``n_spikes_*``, ``dark``,
        ``level_ratio_*``, ``bleaching_fraction``, ``saturation_fraction``; ``excluded_fraction``;
        ``faults``: the fault spans as records); the fit (``fit_intercept``, ``fit_slope``,
        ``fit_r2`` over the fit window, ``fit_r2_session``, ``negative_slope``,
        ``fit_rejected_fraction``, iterations), ``snr_db`` and ``snr_method``
        (:func:`~exneuro.photometry.qc.signalto_noise_db`), ``artifact_correlation``, whether the
        anti-alias filter ran. Flag with :func:`~exneuro.photometry.qc.qc_flags`.
    """
    cfg = resolve_settings(settings)
    time_s = np.asarray(time_s, dtype=float)
    check_arrays(time_s, signal, control)
    raw_s = np.asarray(signal, dtype=float)
    raw_c = np.asarray(control, dtype=float)
    for name, values in (("time_s", time_s), ("signal", raw_s), ("control", raw_c)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise InputDataError(
                f"photometry {name} has {bad} missing or non-finite samples; the reader reports "
                "where (anomalies table) — cut or repair the session first"
            )
    t_raw, s, c = trim_warmup(time_s, raw_s, raw_c, cfg["warmup_s"])
    fs = float(fs_hz)
    qc: dict[str, Any] = {
        "fs_hz_raw": fs,
        "n_samples_raw": int(len(time_s)),
        "duration_s": float(t_raw[-1] - t_raw[0]),
    }

    # signal faults on the raw channels
    detector = detector or {}
    limits = cfg["qc"]["saturation_limits"]
    fault_cfg = {**cfg["faults"], "edge_s": cfg["qc"]["bleaching_edge_s"]}
    if fault_cfg["floor"] is None:
        fault_cfg["floor"] = detector.get("detector_floor")
    if fault_cfg["full_scale"] is None:
        fault_cfg["full_scale"] = (
            limits[1] if limits is not None else detector.get("detector_full_scale")
        )
    faults = detect_faults(t_raw, {"signal": s, "control": c}, fs, fault_cfg)
    qc.update(faults.metrics())
    if limits is not None:  # both rails of a known range
        qc["saturation_fraction_signal"] = saturation_fraction(s, limits)
        qc["saturation_fraction_control"] = saturation_fraction(c, limits)
        qc["saturation_fraction"] = max(
            qc["saturation_fraction_signal"], qc["saturation_fraction_control"]
        )
    excluded_raw = _exclusion_spans(t_raw, exclude_spans_s)
    unusable = excluded_raw | (faults.disconnected if fault_cfg["mask_disconnected"] else False)
    if unusable.all():
        raise InputDataError(
            "every sample of the session is disconnected or excluded; exclude the session"
        )
    qc["excluded_fraction"] = float(np.count_nonzero(unusable)) / unusable.size
    spans = [faults.spans, spans_table(t_raw, excluded_raw, "all", "excluded", "config")]
    qc["faults"] = (
        pd.concat([x for x in spans if len(x)], ignore_index=True)[FAULT_COLUMNS].to_dict("records")
        if any(len(x) for x in spans)
        else []
    )
    s = _fill_unusable(faults.cleaned["signal"], unusable)
    c = _fill_unusable(faults.cleaned["control"], unusable)
    if cfg["method"] == "martianova2019":
        return _martianova(t_raw, s, c, fs, unusable, cfg, qc)

    lp = cfg["lowpass"]
    raw_for_snr = s[~unusable]
    t = t_raw
    if lp is not None:
        s = lowpass(s, fs, lp["cutoff_hz"], lp["order"])
        c = lowpass(c, fs, lp["cutoff_hz"], lp["order"])
    antialias_run = False
    if cfg["decimate_hz"] is not None and round(fs / cfg["decimate_hz"]) > 1:
        q = int(round(fs / cfg["decimate_hz"]))
        new_nyquist = fs / q / 2.0
        antialias_run = lp is None or (
            zero_phase_gain(new_nyquist, lp["cutoff_hz"], lp["order"]) > ANTIALIAS_ATTENUATION
        )
        t_dec, s, _ = decimate(t, s, fs, cfg["decimate_hz"], antialias=antialias_run)
        _, c, fs_out = decimate(t, c, fs, cfg["decimate_hz"], antialias=antialias_run)
        t = t_dec
    else:
        fs_out = fs
    reach_s = 0.0 if lp is None else 1.0 / lp["cutoff_hz"]
    excluded = _mask_at(t_raw, unusable, t, reach_s)
    qc["fs_hz"] = fs_out
    qc["n_samples"] = int(len(t))
    qc["antialias_filter"] = bool(antialias_run)

    bl = cfg["bleaching"]
    if bl["method"] != "none":
        options = {k: bl[k] for k in ("lam", "diff_order", "max_iter")}
        detrend = (bl["method"], bl["fit_hz"], bl["highpass_hz"], bl["highpass_order"], options)
        s, _ = correct_bleaching(t, s, fs_out, *detrend)
        c, _ = correct_bleaching(t, c, fs_out, *detrend)

    fit_cfg = cfg["control_fit"]
    needs_baseline = fit_cfg["window"] == "baseline" or cfg["zscore"] == "baseline"
    in_baseline = (
        _window_mask(t, baseline_window_s, "the baseline control fit or z-score")
        if needs_baseline
        else (
            (t >= baseline_window_s[0]) & (t < baseline_window_s[1])
            if baseline_window_s is not None
            else np.zeros(len(t), dtype=bool)
        )
    )
    usable = ~excluded
    fit_mask = (in_baseline if fit_cfg["window"] == "baseline" else np.ones(len(t), bool)) & usable
    if needs_baseline and np.count_nonzero(in_baseline & usable) < 10:
        raise InputDataError(
            "the baseline window is disconnected or excluded (fewer than 10 usable samples); "
            "move the baseline window or exclude the session"
        )
    fit = fit_control(
        c,
        s,
        fit_cfg["method"],
        fit_cfg["tuning"],
        fit_mask,
        fit_cfg["max_iter"],
        fit_cfg["tol"],
        fit_cfg["criterion"],
    )
    fitted = fit.predict(c)
    dff = delta_f_over_f(s, fitted)
    reference = in_baseline & usable if cfg["zscore"] == "baseline" else usable
    z = zscore(dff, cfg["zscore"], reference)

    qc.update(
        {
            "fit_method": fit.method,
            "fit_window": fit_cfg["window"],
            "fit_tuning": fit.tuning,
            "fit_intercept": fit.intercept,
            "fit_slope": fit.slope,
            "fit_r2": r_squared(s[fit_mask], fitted[fit_mask]),
            "fit_r2_session": r_squared(s[usable], fitted[usable]),
            "negative_slope": bool(fit.slope < 0),
            "fit_scale": fit.scale,
            "fit_rejected_fraction": fit.rejected,
            "fit_iterations": fit.n_iter,
            "fit_converged": fit.converged,
            "fit_n_samples": fit.n_fit,
            "artifact_correlation": artifact_correlation(
                dff, c, fs_out, cfg["qc"]["artifact_highpass_hz"]
            ),
        }
    )
    qc["snr_db"], qc["snr_method"] = signalto_noise_db(
        raw_for_snr,
        fs,
        dff[usable],
        None if lp is None else lp["cutoff_hz"],
        1 if lp is None else lp["order"],
        cfg["qc"]["snr_noise_band_hz"],
    )
    for values in (s, c, fitted, dff, z):  # the filled stretches are no data: leave them out
        values[excluded] = np.nan
    table = pd.DataFrame(
        {
            "time_s": t,
            "signal": s,
            "control": c,
            "fitted_control": fitted,
            "dff": dff,
            "z": z,
            "in_baseline": in_baseline,
            "excluded": excluded,
        }
    )
    return table, qc
