"""Tables the lab declares in the config (serum, body mass, VO2max, counts ...): their design
(`design`: reading, subjects, factor levels) and their statistics (`statistics`)."""
