"""What the electrophysiology statistics test, by name: the analysis label of their rows, the
per-cell outcomes in figure order and the event distributions.

Kept apart from :mod:`exneuro.cellular.ephys_stats`, which fits mixed models: the figures read
these names to find their rows, and a figure job should not load the model-fitting stack
(statsmodels, formulaic: about a second per process) to draw.
"""

ANALYSIS = "ephys"

#: Per-cell outcomes tested by default, in figure order (those present in the table are used).
CELL_OUTCOMES = [
    "rheobase_pa",
    "fi_slope_hz_per_pa",
    "max_rate_hz",
    "input_resistance_mohm",
    "resting_potential_mv",
    "spike_threshold_mv",
    "sepsc_frequency_hz",
    "sepsc_amplitude_median_pa",
]
#: Per-event distributions compared with the KS test: event column -> outcome label.
DISTRIBUTIONS = {"iei_s": "sepsc_iei_s", "amplitude_pa": "sepsc_amplitude_pa"}
