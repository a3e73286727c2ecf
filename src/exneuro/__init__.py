"""exneuro: the analysis library behind the exercise-neuroscience Snakemake workflow.

Pure functions on tidy pandas tables: readers turn each instrument's files into tidy tables, the
per-modality modules compute metrics, `exneuro.stats` runs every test into one statistics table,
and `exneuro.figures` draws Cell Press-style panels.
"""

__version__ = "0.1.0"
