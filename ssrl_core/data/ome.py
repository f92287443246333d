"""OME-TIFF fields: pixels as `(H, W, C)`, channel names and physical pixel size from OME-XML.

The OME data model (Goldberg et al., Genome Biology 2005; the OME-XML schema 2016-06) keeps, in
the TIFF's ImageDescription, an `<Image><Pixels PhysicalSizeX=.. PhysicalSizeXUnit=..>` element
with one `<Channel Name=..>` per channel. `tifffile` reads the pixels and the XML
(`TiffFile.ome_metadata`) and turns the XML into a dict (`tifffile.xml2dict`, namespaces
dropped, so any OME schema version works without `ome-types`). Only the first image of a file, and its
first time point and focal plane, are read (a field for nucleus crops is one 2-D plane).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssrl_core.data.imagefile import (
    FIELD_BYTES_PER_PIXEL,
    FIELD_PIXELS,
    BadImage,
    check_budget,
    read_field_image,
)


@dataclass
class Field:
    """One field of view: `(H, W, C)` pixels, channel names (None = unnamed) and physical metadata."""

    image: np.ndarray
    channels: list[str] | None = None
    physical: dict = field(default_factory=dict)


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else ([] if value is None else [value])


def parse_ome_xml(xml: str) -> dict:
    """`{channels: [names], physical_size_x, physical_size_y, physical_size_unit}` of the first image
    (`tifffile.xml2dict`)."""
    import tifffile

    ome = tifffile.xml2dict(xml).get("OME") or {}
    image = next(iter(_as_list(ome.get("Image"))), {}) if isinstance(ome, dict) else {}
    pixels = image.get("Pixels") if isinstance(image, dict) else None
    if not isinstance(pixels, dict):
        return {"channels": []}
    names = [(c.get("Name") or c.get("ID") or f"ch{i}") if isinstance(c, dict) else f"ch{i}"
             for i, c in enumerate(_as_list(pixels.get("Channel")))]
    out: dict = {"channels": [str(n) for n in names]}
    for axis in ("X", "Y"):
        value = pixels.get(f"PhysicalSize{axis}")
        if value is not None:
            out[f"physical_size_{axis.lower()}"] = float(value)
    if "physical_size_x" in out:
        out["physical_size_unit"] = str(pixels.get("PhysicalSizeXUnit", "µm"))
    return out


def _to_hwc(a: np.ndarray, axes: str) -> np.ndarray:
    """Keep the first index of every axis but Y, X, C (and S samples); return `(H, W, C)`."""
    index, kept = [], []
    for i, ax in enumerate(axes):
        if ax in "YXCS":
            index.append(slice(None))
            kept.append(ax)
        else:
            index.append(0)
    a = a[tuple(index)]
    order = [kept.index("Y"), kept.index("X")] + [i for i, ax in enumerate(kept) if ax in "CS"]
    a = np.transpose(a, order)
    if a.ndim == 2:
        a = a[..., None]
    return a.reshape(a.shape[0], a.shape[1], -1)


def read_field(path: str | Path) -> Field:
    """Read a whole field (TIFF, OME-TIFF or PNG). OME channel names and pixel size are kept.

    Raises `ssrl_core.data.imagefile.BadImage` with the reason for a file that cannot be read.
    """

    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        check_budget(path, FIELD_PIXELS, FIELD_PIXELS * FIELD_BYTES_PER_PIXEL, "a whole field")  # before decoding
        try:
            with tifffile.TiffFile(path) as tf:
                if tf.is_ome and tf.ome_metadata:
                    info = parse_ome_xml(tf.ome_metadata)
                    series = tf.series[0]
                    image = _to_hwc(series.asarray(), series.axes)
                    names = info.pop("channels") or None
                    if names is not None and len(names) != image.shape[2]:
                        names = None  # the XML does not describe these planes one per channel
                    return Field(image, names, info)
        except (OSError, ValueError, SyntaxError, KeyError, IndexError) as exc:  # a bad XML: a SyntaxError
            raise BadImage(f"cannot be read as an OME-TIFF ({type(exc).__name__}: {exc})") from exc
    return Field(read_field_image(path))


def write_ome_tiff(path: str | Path, image: np.ndarray, channels: list[str],
                   pixel_size: float | None = None) -> Path:
    """Write `(H, W, C)` as an OME-TIFF (`CYX`) with channel names and an optional pixel size (µm)."""
    import tifffile

    a = np.asarray(image)
    a = a[..., None] if a.ndim == 2 else a
    meta: dict = {"axes": "CYX", "Channel": {"Name": list(channels)}}
    if pixel_size is not None:
        meta.update(PhysicalSizeX=float(pixel_size), PhysicalSizeY=float(pixel_size),
                    PhysicalSizeXUnit="µm", PhysicalSizeYUnit="µm")
    tifffile.imwrite(path, np.moveaxis(a, -1, 0), ome=True, metadata=meta)
    return Path(path)
