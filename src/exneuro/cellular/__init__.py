"""Cellular measurements nested within mice: dendritic spines and histological cell counts.

* :mod:`exneuro.cellular.spines` reads per-segment spine counts (Neurolucida Explorer, Imaris
  Filament Tracer or hand counts) and per-spine morphology, classifies spines by configurable
  published rules, and computes densities per segment, neuron and mouse.
* :mod:`exneuro.cellular.histology` reads per-section counts (e.g. Fos+ among SF1+ cells) and
  gives each mouse its percentage of marker-positive cells.
* :mod:`exneuro.cellular.nested` tests groups on such nested data through the shared statistics
  engine: mixed model, per-mouse test and hierarchical bootstrap, next to the naive
  (pseudoreplicated) test so that a lab sees what treating cells as n costs.

Segments sit within neurons within mice and sections within mice: the mouse is the experimental
unit, never the cell or the segment.
"""
