"""Write the cue photometry study's recordings, events file and sheets (run once).

One group of four mice, no running: each session (days 1 and 5) is 4 min at 5 Hz with an
auditory cue every 30 s (TTL column 'cue'), in the lab's own CSV (time, 465 nm signal, 405 nm
control, cue). Planted: a transient after every cue (rise 0.5 s, decay 3 s) of 4 % dF/F on day 1
and 10 % on day 5, on a slowly bleaching baseline with a shared motion component. Mouse C4's
day-5 TTL line failed: its cue times are in an events file instead. Mouse C3's day-5 TTL line
failed too: its cue times are typed in the recordings sheet (column cue_s, '30; 60; ...').
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(465)
fs, duration, cues = 5.0, 240.0, np.arange(30.0, 240.0, 30.0)
t = np.arange(0, duration, 1 / fs)
sheet_rows = []
for mouse in ("C1", "C2", "C3", "C4"):
    for day, amplitude in ((1, 0.04), (5, 0.10)):
        since = t[None, :] - cues[:, None]
        shape = np.where(since > 0, (1 - np.exp(-since / 0.5)) * np.exp(-since / 3.0), 0.0)
        response = amplitude * shape.sum(axis=0)
        motion = np.convolve(rng.normal(0, 0.01, t.size), np.ones(5) / 5, mode="same")
        bleach = 1.0 + 0.1 * np.exp(-t / 120.0)
        control = 2.0 * bleach * (1 + motion) + rng.normal(0, 0.002, t.size)
        signal = 3.0 * bleach * (1 + motion) * (1 + response) + rng.normal(0, 0.003, t.size)
        ttl = ((since >= 0) & (since < 1.0)).any(axis=0).astype(int)
        events_file = typed = ""
        if (mouse, day) == ("C3", 5):
            ttl[:] = 0
            typed = "; ".join(f"{cue:g}" for cue in cues)
        if (mouse, day) == ("C4", 5):
            ttl[:] = 0
            events_file = "tests/studies/cue_photometry/recordings/C4_day5_events.csv"
            pd.DataFrame({"event": "cue", "time_s": cues}).to_csv(
                "recordings/C4_day5_events.csv", index=False
            )
        name = f"recordings/{mouse}_day{day}.csv"
        pd.DataFrame(
            {"Time (s)": t.round(2), "G465": signal.round(4), "G405": control.round(4), "cue": ttl}
        ).to_csv(name, index=False)
        path = f"tests/studies/cue_photometry/{name}"
        sheet_rows.append((mouse, day, path, "csv", events_file, typed))
columns = ["mouse", "day", "file", "format", "events_file", "cue_s"]
pd.DataFrame(sheet_rows, columns=columns).to_csv("recordings.tsv", sep="\t", index=False)
pd.DataFrame(
    {
        "mouse_id": ["C1", "C2", "C3", "C4"],
        "cohort": "cue",
        "sex": ["female", "male", "female", "male"],
        "group": "cue_trained",
    }
).to_csv("samples.tsv", sep="\t", index=False)
