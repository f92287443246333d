"""Nucleus measurements (count, central-object shape and position): see `ssrl_core.data.morphology`.

They moved to the data floor so that the augmentation floor (the invariance preview,
`ssrl_core.augment.invariance`) measures cells with the same code as the `hand-features`
baseline and the factor probe; this module keeps the old import path working.
"""

from ssrl_core.data.morphology import MEASURES, default_min_area, nucleus_measurements

__all__ = ["MEASURES", "default_min_area", "nucleus_measurements"]
