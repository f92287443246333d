"""The Data page's own widgets: folder, plate and CellProfiler imports and their checks."""
