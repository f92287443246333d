"""Storing files uploaded through the app: one folder per browser session, sanitised names.

Uploads go to `ssrl_core.paths.uploads_dir()/<session id>/<batch>/`. A name is reduced to
letters, digits, dot, dash and underscore, with no folder part, so an upload can never write
outside its folder or overwrite another batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Protocol

from ssrl_core import paths
from ssrl_core.data.folder import safe_filename
from ssrl_core.io import atomic_write

IMAGE_SUFFIXES = (".tif", ".tiff", ".png")


class Uploaded(Protocol):
    """What `st.file_uploader` returns: a name and the bytes."""
    name: str

    def getvalue(self) -> bytes: ...


def sanitise(name: str) -> str:
    """A safe file name (the one policy, `ssrl_core.data.folder.safe_filename`): no folders, no
    leading dots, only `[A-Za-z0-9._-]`, at most 120 characters with the suffix kept."""
    return safe_filename(name)


def session_folder(session: str) -> Path:
    """`uploads_dir()/<session>` (the id itself sanitised)."""
    return paths.uploads_dir() / (sanitise(session) or "session")


def save_uploads(files: Iterable[Uploaded], session: str, batch: str) -> Path:
    """Write the files into `uploads_dir()/<session>/<batch>/` atomically; return that folder.

    Two files that sanitise to the same name get `_2`, `_3`, ... suffixes instead of
    overwriting each other.
    """
    folder = session_folder(session) / sanitise(batch)
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for f in files:
        name = sanitise(f.name)
        stem, _, suffix = name.rpartition(".") if "." in name else (name, "", "")
        k = 2
        while name.lower() in used:
            name = f"{stem}_{k}.{suffix}" if suffix else f"{stem}_{k}"
            k += 1
        used.add(name.lower())
        data = f.getvalue()
        atomic_write(folder / name, lambda p, d=data: p.write_bytes(d))
    return folder
