"""Write cages.csv: a simulated three-session endurance study, two groups x two sexes, mice
housed three to a cage by group and sex (random seed fixed; run from this folder)."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(2)
rows = []
for g, group in enumerate(["sedentary", "trained"]):
    for s, sex in enumerate(["male", "female"]):
        for c in range(2):
            cage = f"K{g}{s}{c}"
            cage_effect = rng.normal(0, 60)
            for m in range(3):
                mouse = f"M{g}{s}{c}{m}"
                mouse_effect = rng.normal(0, 50)
                for k, session in enumerate(["d0", "d14", "d28"]):
                    mean = 500 + 80 * s + 100 * k * g + cage_effect + mouse_effect
                    rows.append(
                        {
                            "mouse": mouse,
                            "cage": cage,
                            "group": group,
                            "sex": sex,
                            "session": session,
                            "distance_m": round(mean + rng.normal(0, 30), 1),
                        }
                    )
pd.DataFrame(rows).to_csv("cages.csv", index=False)
