"""Write the rat training study's tables (run once; the CSVs beside it are its output).

Shaped like the public MoTrPAC endurance-training physiology tables (PASS1B): one row per rat
with its sex and training group (sedentary control 'SED', eight weeks of training '8W'), VO2max
and maximal run speed before and after training as wide 'pre'/'post' columns, and body mass
every week in a long table. Planted effects: 8W rats gain VO2max (+8 mL/kg/min) and run speed
(+6 m/min) from pre to post, SED rats do not; males weigh ~340 g and females ~180 g. Rat ids
are numbered within each sex and group ('1'..'4' in each), so a rat is its sex and number together.
Missing values are written as the lab does: 'nd' (not determined) and 'Dead'.
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(20260412)
rats = pd.DataFrame(
    [
        (sex, group, str(number))
        for sex in ("male", "female")
        for group in ("SED", "8W")
        for number in range(1, 5)
    ],
    columns=["sex", "group", "rat"],
)
trained = (rats["group"] == "8W").to_numpy()
male = (rats["sex"] == "male").to_numpy()
n = len(rats)

vo2_pre = 62 + 4 * ~male + rng.normal(0, 2.5, n)
vo2_post = vo2_pre + 8 * trained + rng.normal(0, 2.0, n)
speed_pre = 30 + 2 * ~male + rng.normal(0, 2.0, n)
speed_post = speed_pre + 6 * trained + rng.normal(0, 1.5, n)
vo2 = rats.assign(vo2max_pre=vo2_pre.round(1), vo2max_post=vo2_post.round(1).astype(object))
vo2.loc[3, "vo2max_post"] = "nd"  # a SED male's post test was not determined
vo2.to_csv("vo2max.csv", index=False)
rats.assign(speed_pre=speed_pre.round(1), speed_post=speed_post.round(1)).to_csv(
    "run_speed.csv", index=False
)

start = np.where(male, 340, 180) + rng.normal(0, 12, n)
weeks = np.arange(1, 9)
growth = np.where(male, 6.0, 2.5)[:, None] * weeks - 4.0 * trained[:, None] * (weeks - 1) / 7
mass = start[:, None] + growth + rng.normal(0, 3, (n, weeks.size))
body = pd.DataFrame(
    {
        "sex": np.repeat(rats["sex"], weeks.size),
        "group": np.repeat(rats["group"], weeks.size),
        "rat": np.repeat(rats["rat"], weeks.size),
        "week": np.tile([f"week {w}" for w in weeks], n),
        "body_mass_g": mass.round(1).ravel().astype(object),
    }
)
last_week_of_one_rat = (
    (body["sex"] == "female")
    & (body["group"] == "8W")
    & (body["rat"] == "4")
    & (body["week"] == "week 8")
)
body.loc[last_week_of_one_rat, "body_mass_g"] = "Dead"
body.to_csv("body_mass.csv", index=False)
