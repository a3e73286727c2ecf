"""Wall time and peak memory of photometry preprocessing on a one-hour, two-channel 1 kHz session.

Usage: python bench/photometry_bench.py [--fs 1000] [--minutes 60] [--rlm-samples N] [--repeats 3]

Simulates one session (exneuro.simulate.photometry: 10 min rest, 30 min run, 20 min recovery;
bleaching, motion artifacts 5x the signal, transients) and, with the arrays already in memory
("after loading"), times on one core (BLAS/OpenMP threads pinned to 1 before NumPy loads):

1. the default chain of ``preprocess_session`` (trim, signal-fault checks, 3 Hz low-pass,
   decimation to 20 Hz, robust IRLS control fit on the pre-run baseline, dF/F, z-score, QC),
   and the same chain with every optional step on (spike removal, a 5-min excluded segment, an
   airPLS bleaching baseline);
2. the same chain without decimation (IRLS on the full-rate baseline epoch, every output sample
   at 1 kHz);
3. the robust control fit alone on the full-rate low-passed whole session (3.6 M samples):
   exneuro's vectorized IRLS (default convergence rule, and statsmodels' own rule) against
   ``statsmodels.RLM(TukeyBiweight(4.685))``, as time to the fit and per reweighting iteration
   (statsmodels' absolute deviance rule sits at floating-point noise on 3.6 M samples, so the
   two implementations may stop after different numbers of iterations at the same fit). With
   ``--rlm-samples N`` RLM runs on the first N samples only and its time is extrapolated
   linearly in n (each iteration is O(n), but the iteration count and cache behaviour change
   with n, so this underestimates; the printout says so).

Peak memory is traced with ``tracemalloc`` (NumPy reports its buffers to it) in separate runs, so
that tracing does not slow the timed runs; it is compared with the size of the two raw float64
channels.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import statsmodels.api as sm  # noqa: E402

from exneuro.photometry.control_fit import fit_irls  # noqa: E402
from exneuro.photometry.preprocess import lowpass, preprocess_session  # noqa: E402
from exneuro.simulate.photometry import PhotometryEffects, simulate_session  # noqa: E402


def timed(function, repeats: int) -> tuple[float, float, object]:
    """First-call and median wall time (s) of ``function()`` over ``repeats`` calls."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times), result


def peak_mb(function) -> float:
    """Peak traced allocation (MB) while ``function()`` runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fs", type=float, default=1000.0)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rlm-samples", type=int, default=0, help="0 = RLM on every sample")
    parser.add_argument("--seed", type=int, default=20260212)
    args = parser.parse_args()

    duration = args.minutes * 60.0
    onset, offset = 600.0, min(600.0 + 1800.0, duration - 60.0)
    session = simulate_session(
        PhotometryEffects(),
        np.random.default_rng(args.seed),
        args.fs,
        duration,
        onset,
        offset,
        0.05,
    )
    t, s, c = session["time_s"], session["signal"], session["control"]
    n = t.size
    raw_mb = (s.nbytes + c.nbytes) / 1e6
    print(
        f"session: {n:,} samples per channel at {args.fs:g} Hz ({duration / 60:g} min), two "
        f"float64 channels = {raw_mb:.1f} MB; python {platform.python_version()}, numpy "
        f"{np.__version__}, {os.cpu_count()} CPUs (1 thread used), load "
        f"{os.getloadavg()[0]:.1f}"
    )
    baseline = (0.0, onset)

    def chain(decimate_hz):
        return preprocess_session(t, s, c, args.fs, {"decimate_hz": decimate_hz}, baseline)

    first, median, (table, qc) = timed(lambda: chain(20.0), args.repeats)
    print(
        f"default chain (decimate to 20 Hz)      first {first:6.3f} s, median {median:6.3f} s"
        f"  -> {n / median / 1e6:5.1f} M samples/s per channel; {len(table):,} output rows;"
        f" fit slope {qc['fit_slope']:.4f} (planted {session['truth']['isosbestic_slope']})"
    )
    every_step = {
        "decimate_hz": 20.0,
        "faults": {"remove_spikes": True},
        "bleaching": {"method": "airpls"},
    }
    segment = [(duration - 900.0, duration - 600.0)]
    first_a, median_a, (_, qc_a) = timed(
        lambda: preprocess_session(t, s, c, args.fs, every_step, baseline, segment),
        args.repeats,
    )
    print(
        f"every optional step on                 first {first_a:6.3f} s, median {median_a:6.3f} s"
        f"  -> {n / median_a / 1e6:5.1f} M samples/s per channel; excluded "
        f"{qc_a['excluded_fraction']:.3f} of the session, {len(qc_a['faults'])} fault spans"
    )
    first_f, median_f, (table_f, _) = timed(lambda: chain(None), args.repeats)
    print(
        f"full-rate chain (no decimation)        first {first_f:6.3f} s, median {median_f:6.3f} s"
        f"  -> {n / median_f / 1e6:5.1f} M samples/s per channel; {len(table_f):,} output rows"
    )
    peak_default = peak_mb(lambda: chain(20.0))
    peak_full = peak_mb(lambda: chain(None))
    print(
        f"peak traced memory: default chain {peak_default:6.1f} MB = {peak_default / raw_mb:4.2f}"
        f" x raw; full-rate chain {peak_full:6.1f} MB = {peak_full / raw_mb:4.2f} x raw"
    )

    s_lp = lowpass(s, args.fs, 3.0, 2)
    c_lp = lowpass(c, args.fs, 3.0, 2)
    first_i, median_i, fit = timed(lambda: fit_irls(c_lp, s_lp, 4.685), args.repeats)
    print(
        f"IRLS, whole session, full rate         first {first_i:6.3f} s, median {median_i:6.3f} s"
        f"  ({fit.n_iter} iterations; slope {fit.slope:.6f}, intercept {fit.intercept:.6f})"
    )
    first_d, median_d, fit_d = timed(
        lambda: fit_irls(c_lp, s_lp, 4.685, criterion="deviance", tol=1e-8), args.repeats
    )
    print(
        f"IRLS, statsmodels' convergence rule    first {first_d:6.3f} s, median {median_d:6.3f} s"
        f"  ({fit_d.n_iter} refits; slope {fit_d.slope:.6f}, intercept {fit_d.intercept:.6f})"
    )
    m = n if args.rlm_samples <= 0 else min(n, args.rlm_samples)
    start = time.perf_counter()
    rlm = sm.RLM(s_lp[:m], sm.add_constant(c_lp[:m]), M=sm.robust.norms.TukeyBiweight(4.685))
    result = rlm.fit()
    rlm_time = time.perf_counter() - start
    scale = n / m
    note = "" if m == n else f" on {m:,} samples, extrapolated x{scale:.1f} to {n:,}"
    print(
        f"statsmodels RLM (TukeyBiweight 4.685)  {rlm_time * scale:7.2f} s{note}"
        f"  ({result.fit_history['iteration']} iterations; slope {result.params[1]:.6f},"
        f" intercept {result.params[0]:.6f})"
    )
    if m == n:
        print(
            f"  |slope - RLM| = {abs(fit.slope - result.params[1]):.2e} (default rule), "
            f"{abs(fit_d.slope - result.params[1]):.2e} (statsmodels' rule)"
        )
    rlm_iterations = result.fit_history["iteration"] - 1  # RLM counts the OLS start
    print(
        f"speed-up over RLM, time to the fit: {rlm_time * scale / median_i:5.1f}x (default rule), "
        f"{rlm_time * scale / median_d:5.1f}x (statsmodels' rule)"
    )
    print(
        f"speed-up over RLM per reweighting iteration: "
        f"{rlm_time * scale / rlm_iterations / (median_i / fit.n_iter):5.1f}x (default rule), "
        f"{rlm_time * scale / rlm_iterations / (median_d / fit_d.n_iter):5.1f}x (statsmodels' "
        "rule, which also computes the deviance)"
    )


if __name__ == "__main__":
    main()
