"""Data layer: CellSet, sources (npz, folders, MNIST-5k, MitoCheck, BBBC021, demo nuclei),
nucleus detection and crops, display. See docs/data.md."""

from ssrl_core.data.cellset import STANDARD_COLUMNS, CellSet, channel_ranges, to_unit_float

__all__ = ["CellSet", "STANDARD_COLUMNS", "channel_ranges", "to_unit_float"]
