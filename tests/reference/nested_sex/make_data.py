"""Write segments.csv: simulated spine densities, segments within neurons within mice, two
groups x two sexes, mice housed two to a cage by group and sex (seed fixed; run here)."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(5)
rows = []
for g, group in enumerate(["control", "exercise"]):
    for s, sex in enumerate(["male", "female"]):
        for c in range(3):
            cage = f"K{g}{s}{c}"
            cage_effect = rng.normal(0, 0.5)
            for m in range(2):
                mouse = f"M{g}{s}{c}{m}"
                mouse_effect = rng.normal(0, 0.6)
                for n in range(3):
                    neuron_effect = rng.normal(0, 0.4)
                    for k in range(4):
                        density = (
                            12 + 1.5 * g + 2.0 * s + cage_effect + mouse_effect + neuron_effect
                        )
                        rows.append(
                            {
                                "mouse": mouse,
                                "neuron": f"n{n}",
                                "segment": f"s{k}",
                                "cage": cage,
                                "group": group,
                                "sex": sex,
                                "density_per_10um": round(density + rng.normal(0, 0.8), 3),
                            }
                        )
pd.DataFrame(rows).to_csv("segments.csv", index=False)
