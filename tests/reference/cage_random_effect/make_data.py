"""Write cage_mice.csv: mice housed three to a cage, whole cages assigned to a group.

Four cages per group (control, trained), three mice per cage, a measure at weeks 1, 2 and 3.
Planted: cage SD 1.5, mouse SD 1.0, residual SD 0.7; trained mice gain 1.5 per week more.
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(3)
rows = []
for g, group in enumerate(("control", "trained")):
    for c in range(4):
        cage = f"K{g * 4 + c + 1}"
        cage_effect = rng.normal(0, 1.5)
        for m in range(3):
            mouse = f"{cage}m{m + 1}"
            mouse_effect = rng.normal(0, 1.0)
            for week in (1, 2, 3):
                value = 20 + cage_effect + mouse_effect + 1.5 * g * (week - 1) + rng.normal(0, 0.7)
                rows.append((mouse, cage, group, week, round(value, 2)))
columns = ["mouse", "cage", "group", "week", "score"]
pd.DataFrame(rows, columns=columns).to_csv("cage_mice.csv", index=False)
