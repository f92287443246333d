"""File names the project writes and reads: the one sanitiser and the image suffixes.

`safe_filename` is the single policy for any name that comes from outside (an upload, a metadata
table, a session id): no folder part, no `..`, only letters, digits and `._-`, so a file can never
be written outside its folder. `IMAGE_SUFFIXES` are the single-cell image files read by
`imagefile.read_image` (TIFF, PNG, JPEG); the app's upload widgets and the folder loader use the
same list.
"""

from __future__ import annotations

import re
import unicodedata

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
MAX_NAME = 120  # characters of a sanitised file name, suffix included


def safe_filename(name: str, default: str = "file") -> str:
    """A file name safe to write anywhere: no folders, no `..`, only letters, digits, `._-`, at
    most MAX_NAME characters; a long name is cut in its stem, so its suffix (`.tif`) is kept."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-")
    base = re.sub(r"\.{2,}", ".", base)
    if not base:
        base = default
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem or len(suffix) > 10:
        return base[:MAX_NAME]
    return f"{stem[:MAX_NAME - len(suffix) - 1]}.{suffix}"
