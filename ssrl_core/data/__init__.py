"""Data layer: CellSet, readers (npz, folders, cell stores), the table of named sources
(`sources.py`: MitoCheck, BBBC021, CIFAR-10, demo nuclei, MNIST-5k), nucleus detection and crops,
display. See docs/data.md."""

from ssrl_core.data.cellset import (
    STANDARD_COLUMNS,
    CellSet,
    channel_ranges,
    to_unit_float,
)

__all__ = ["CellSet", "STANDARD_COLUMNS", "channel_ranges", "to_unit_float"]
