"""Write the pre/post treadmill study's sample sheet and summary table (run once).

Two endurance tests per mouse, before (day 0) and after (day 28) four weeks of training. Cohort
'training': four sedentary and four trained mice; trained mice run ~250 m further at the post
test, sedentary mice do not change. Cohort 'pilot': three trained mice and no control group. The
lab's table has no time to exhaustion column: only the distance run (the time follows from the
protocol). Pilot mouse T11 died before its post test: the lab wrote 'Dead'.
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(28)
mice = [("training", "sedentary")] * 4 + [("training", "trained")] * 4 + [("pilot", "trained")] * 3
sheet = pd.DataFrame(
    {
        "mouse_id": [f"T{i:02d}" for i in range(1, len(mice) + 1)],
        "cohort": [c for c, _ in mice],
        "sex": ["male", "female"] * 5 + ["male"],
        "group": [g for _, g in mice],
    }
)
sheet.to_csv("samples.tsv", sep="\t", index=False)
trained = (sheet["group"] == "trained").to_numpy()
pre = 600 + rng.normal(0, 40, len(sheet))
post = pre + 250 * trained + rng.normal(0, 30, len(sheet))
rows = [
    (mouse, session, "ramp", round(distance, 1), round(24 + rng.normal(0, 1.5), 1))
    for session, distances in (("pre", pre), ("post", post))
    for mouse, distance in zip(sheet["mouse_id"], distances, strict=True)
]
table = pd.DataFrame(rows, columns=["Animal", "Test", "Protocol", "Distance (m)", "Weight (g)"])
table = table.astype({"Distance (m)": object})
table.loc[(table["Animal"] == "T11") & (table["Test"] == "post"), "Distance (m)"] = "Dead"
table.to_csv("endurance.csv", index=False)
