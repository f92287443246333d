"""Storing files uploaded through the app: one folder per browser session, sanitised names.

Uploads go to `ssrl_core.paths.uploads_dir()/<session id>/<batch>/`. A name is reduced by the
one sanitiser (`ssrl_core.data.names.safe_filename`) to letters, digits, dot, dash and underscore,
with no folder part, so an upload can never write outside its folder or overwrite another batch.
Image uploads accept `ssrl_core.data.names.IMAGE_SUFFIXES`, the files the core reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Protocol

from ssrl_core import paths
from ssrl_core.data.names import safe_filename
from ssrl_core.io import atomic_write

__all__ = ["Uploaded", "save_uploads", "session_folder"]


class Uploaded(Protocol):
    """What `st.file_uploader` returns: a name and the bytes."""
    name: str

    def getvalue(self) -> bytes: ...


def session_folder(session: str) -> Path:
    """`uploads_dir()/<session>` (the id itself sanitised)."""
    return paths.uploads_dir() / (safe_filename(session, default="session"))


def save_uploads(files: Iterable[Uploaded], session: str, batch: str) -> Path:
    """Write the files into `uploads_dir()/<session>/<batch>/` atomically; return that folder.

    Two files that sanitise to the same name get `_2`, `_3`, ... suffixes instead of
    overwriting each other.
    """
    folder = session_folder(session) / safe_filename(batch)
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for f in files:
        name = safe_filename(f.name)
        stem, _, suffix = name.rpartition(".") if "." in name else (name, "", "")
        k = 2
        while name.lower() in used:
            name = f"{stem}_{k}.{suffix}" if suffix else f"{stem}_{k}"
            k += 1
        used.add(name.lower())
        data = f.getvalue()
        atomic_write(folder / name, lambda p, d=data: p.write_bytes(d))
    return folder
