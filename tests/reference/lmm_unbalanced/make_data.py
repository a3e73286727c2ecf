"""Generate the simulated unbalanced reference data sets of this folder (numpy seed 20240611).

Run from this folder: ``python make_data.py``; then ``Rscript make_reference.R`` computes the
lme4/lmerTest/emmeans reference numbers from the CSV files written here.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def unbalanced(rng: np.random.Generator) -> pd.DataFrame:
    """group (3) x session (4), 6/8/9 mice, random mouse intercepts, ~10% missing outcomes."""
    n_mice = {"control": 8, "silenced": 6, "activated": 9}
    sessions = ["s1", "s2", "s3", "s4"]
    group_effect = {"control": 0.0, "silenced": -4.0, "activated": 2.0}
    session_effect = {"s1": 0.0, "s2": 3.0, "s3": 5.0, "s4": 6.0}
    # interaction: silenced mice do not improve after s2, activated improve faster
    inter = {("silenced", "s3"): -3.0, ("silenced", "s4"): -5.0, ("activated", "s4"): 2.5}
    rows = []
    mouse_number = 0
    for group, n in n_mice.items():
        for _ in range(n):
            mouse_number += 1
            mouse = f"m{mouse_number:02d}"
            u = rng.normal(0.0, 3.0)
            for session in sessions:
                mean = 40.0 + group_effect[group] + session_effect[session]
                mean += inter.get((group, session), 0.0)
                rows.append(
                    {
                        "mouse": mouse,
                        "group": group,
                        "session": session,
                        "distance_m": round(mean + u + rng.normal(0.0, 2.5), 4),
                    }
                )
    frame = pd.DataFrame(rows)
    missing = rng.random(len(frame)) < 0.10
    frame.loc[missing, "distance_m"] = np.nan
    return frame


def nested_cells(rng: np.random.Generator) -> pd.DataFrame:
    """2 groups x 5 mice, 3-12 cells per mouse, one value per cell, random mouse intercepts."""
    rows = []
    for g_index, group in enumerate(["control", "silenced"]):
        for m in range(5):
            mouse = f"{group[:3]}{m + 1}"
            u = rng.normal(0.0, 1.0)
            for c in range(int(rng.integers(3, 13))):
                value = 10.0 + 1.5 * g_index + u + rng.normal(0.0, 2.0)
                rows.append(
                    {"mouse": mouse, "group": group, "cell": f"c{c + 1}", "y": round(value, 4)}
                )
    return pd.DataFrame(rows)


def nested_segments(rng: np.random.Generator) -> pd.DataFrame:
    """2 groups x 5 mice, 3-12 cells per mouse, 1-6 segments per cell: mouse and cell intercepts.

    Cell labels repeat across mice (c1, c2, ...), so the nesting must be explicit.
    """
    rows = []
    for g_index, group in enumerate(["control", "silenced"]):
        for m in range(5):
            mouse = f"{group[:3]}{m + 1}"
            u = rng.normal(0.0, 1.0)
            for c in range(int(rng.integers(3, 13))):
                v = rng.normal(0.0, 1.5)
                for s in range(int(rng.integers(1, 7))):
                    value = 5.0 - 1.0 * g_index + u + v + rng.normal(0.0, 1.0)
                    rows.append(
                        {
                            "mouse": mouse,
                            "group": group,
                            "cell": f"c{c + 1}",
                            "segment": f"s{s + 1}",
                            "density": round(value, 4),
                        }
                    )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    rng = np.random.default_rng(20240611)
    unbalanced(rng).to_csv(HERE / "unbalanced.csv", index=False)
    nested_cells(rng).to_csv(HERE / "nested_cells.csv", index=False)
    nested_segments(rng).to_csv(HERE / "nested_segments.csv", index=False)
