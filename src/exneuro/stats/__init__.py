"""Statistics engine shared by every modality; every result is a row of the tidy table in
:mod:`exneuro.stats.table`."""
