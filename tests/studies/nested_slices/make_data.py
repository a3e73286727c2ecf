"""Write the nested slice study's tables (run once).

Tables only, no sample sheet: spine density per dendritic segment, two segments per neuron,
three neurons per mouse, four wild-type ('WT', the control) and four knockout ('KO') mice, KO
density lower by 0.3 spines/um (planted), with mouse and neuron variation. And a pilot table of
resting potentials per cell in which the KO group has a single mouse.
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(77)
rows = []
for group, shift in (("WT", 0.0), ("KO", -0.3)):
    for m in range(1, 5):
        mouse_effect = rng.normal(0, 0.08)
        for n in range(1, 4):
            neuron_effect = rng.normal(0, 0.06)
            for s in (1, 2):
                density = 1.6 + shift + mouse_effect + neuron_effect + rng.normal(0, 0.05)
                rows.append((f"{group}{m}", group, f"n{n}", f"s{s}", round(density, 3)))
columns = ["mouse", "genotype", "neuron", "segment", "density_per_um"]
pd.DataFrame(rows, columns=columns).to_csv("spines.csv", index=False)

cells = [
    (mouse, genotype, f"c{c}", round(-65 + 3 * (genotype == "KO") + rng.normal(0, 2), 1))
    for mouse, genotype in [("P1", "WT"), ("P2", "WT"), ("P3", "WT"), ("P4", "KO")]
    for c in range(1, 5)
]
pd.DataFrame(cells, columns=["mouse", "genotype", "cell", "rmp_mv"]).to_csv(
    "pilot.csv", index=False
)
