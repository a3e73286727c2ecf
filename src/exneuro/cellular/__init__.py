"""Cellular measurements nested within mice: slice electrophysiology, dendritic spines and
histological cell counts.

* :mod:`exneuro.cellular.ephys` (shared cell checks, per-cell properties, joins),
  :mod:`exneuro.cellular.fi_curve` (current steps -> F–I features) and
  :mod:`exneuro.cellular.sepsc` (sEPSC events -> per-cell frequency and amplitude, pooled
  distributions) read the tables a lab exports; :mod:`exneuro.cellular.abf` measures raw Axon
  ``.abf`` sweeps (:mod:`~exneuro.cellular.spikes`, :mod:`~exneuro.cellular.passive`,
  :mod:`~exneuro.cellular.protocol`).
* :mod:`exneuro.cellular.spines` reads per-segment spine counts (Neurolucida Explorer, Imaris
  Filament Tracer or hand counts) and per-spine morphology;
  :mod:`exneuro.cellular.spine_classification` classifies spines by configurable published
  rules; :mod:`exneuro.cellular.spine_density` computes densities per segment, neuron and mouse.
* :mod:`exneuro.cellular.histology` reads per-section counts (e.g. Fos+ among SF1+ cells) and
  gives each mouse its percentage of marker-positive cells.
* :mod:`exneuro.cellular.nested` tests groups on such nested data through the shared statistics
  engine: mixed model, per-mouse test and hierarchical bootstrap, next to the naive
  (pseudoreplicated) test so that a lab sees what treating cells as n costs.

Cells sit within mice, segments within neurons within mice and sections within mice: the mouse
is the experimental unit, never the cell or the segment.
"""
