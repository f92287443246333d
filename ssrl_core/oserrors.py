"""Plain words for what the operating system refused: the one handler of the CLI and app edges.

A full disk, a read-only folder, a path that is a file where a folder is needed (`SSRL_RUNS`
pointing at a file, `--out` at an existing file) or not enough memory are expected problems, not
bugs: `describe(exc)` says which file, what went wrong and what to do, e.g.

    could not write /data/emb.parquet: the disk is full (3 MB free in /data). Free some space
    there (or write somewhere else) and run it again.

`ssrl_core.cli.main` and `ssrl_app.shell.errors.message` use it for every `OSError` and `MemoryError`.
Libraries do not all set `errno` (numpy reports a short write in words, HDF5 in its own text),
so `errno_of` also reads the message. `io.atomic_write` re-raises a write error with the target
file's name (not the temporary one) and the errno found here.
"""

from __future__ import annotations

import errno as E
import os
import re
import shutil
from pathlib import Path

ENV_FOLDERS = ("SSRL_RUNS", "SSRL_CACHE", "SSRL_DATA", "SSRL_UPLOADS")
_TEXT = ((re.compile(r"no space left|disk quota|requested and \d+ written|errno = 28|\[errno 28\]", re.I), E.ENOSPC),
         (re.compile(r"read-only file system|errno = 30", re.I), E.EROFS),
         (re.compile(r"permission denied|errno = 13", re.I), E.EACCES))
_FULL = (E.ENOSPC, E.EDQUOT, E.EFBIG)


def errno_of(exc: BaseException) -> int | None:
    """The errno of an OS-level failure: `exc.errno`, else one read from its message."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code:
        return code
    text = str(exc)
    for pattern, value in _TEXT:
        if pattern.search(text):
            return value
    return None


def is_disk_full(exc: BaseException) -> bool:
    """True for a write refused because the disk (or the user's quota) is full."""
    return errno_of(exc) in _FULL


def existing_folder(path: str | Path) -> Path:
    """The nearest folder of `path` that exists (the path itself when it is one)."""
    p = Path(path).expanduser().absolute()
    while not p.is_dir() and p != p.parent:
        p = p.parent
    return p


def free_mb(path: str | Path) -> float:
    """Free megabytes on the file system holding `path` (or its nearest existing folder)."""
    try:
        return shutil.disk_usage(existing_folder(path)).free / 1e6
    except OSError:
        return float("nan")


def disk_full_text(path: str | Path) -> str:
    """"the disk is full (N MB free in FOLDER)" for the file system holding `path`."""
    folder = existing_folder(path)
    mb = free_mb(folder)
    if mb != mb:
        return f"the disk holding {folder} is full"
    return f"the disk is full ({mb:.1f} MB free in {folder})" if mb < 10 else f"the disk is full ({mb:.0f} MB free in {folder})"


def _env_hint(path: Path) -> str:
    """Which SSRL_* setting points at (or above) `path`, said as what to change."""
    for name in ENV_FOLDERS:
        value = os.environ.get(name)
        if not value:
            continue
        root = Path(value).expanduser().absolute()
        if path == root or root in path.parents:
            return f" (this folder comes from {name}={value}: set {name} to a folder you can write)"
    return ""


def _file_in_the_way(path: Path) -> Path | None:
    """The first part of `path` that exists as something other than a folder."""
    for part in [*reversed(path.parents), path]:
        if part.exists() and not part.is_dir():
            return part
    return None


def describe(exc: BaseException) -> str:
    """One or two plain sentences for an OSError or MemoryError: the file, what went wrong, what to do."""
    if isinstance(exc, MemoryError):
        return ("this machine ran out of memory for this step (MemoryError). Use fewer cells (a filter, "
                "max_cells, a smaller --batch-size) or keep a large set on disk as a cell store (NAME.cells).")
    code = errno_of(exc)
    raw = getattr(exc, "filename", None)
    path = Path(os.fsdecode(raw)).expanduser().absolute() if raw not in (None, "") else None
    where = str(path) if path is not None else "a file"
    hint = _env_hint(path) if path is not None else ""
    if code in _FULL:
        full = disk_full_text(path) if path is not None else "the disk is full"
        return f"could not write {where}: {full}. Free some space there (or write somewhere else) and run it again."
    if code == E.EROFS:
        return (f"could not write {where}: {existing_folder(path) if path else 'its folder'} is on a read-only file "
                f"system{hint}. Choose a folder you can write to.")
    if code in (E.EACCES, E.EPERM):
        return (f"permission denied for {where}: you may not write (or read) there{hint}. Choose another folder, "
                "or change its permissions.")
    if code == E.ENOTDIR and path is not None:
        blocker = _file_in_the_way(path)
        if blocker is not None:
            return (f"{blocker} is a file, not a folder, so {where} cannot be made{_env_hint(blocker)}. Give a "
                    "folder there, or move the file away.")
    if code == E.EEXIST and path is not None and path.exists() and not path.is_dir():
        return (f"{where} is a file, not a folder{hint}. Give a folder path (a new name is created), or move "
                "the file away.")
    if code == E.EISDIR:
        return f"{where} is a folder, not a file. Give a file name inside it (e.g. {Path(where) / 'out.parquet'})."
    if code == E.ENOENT:
        return f"no such file or folder: {where}. Check the path."
    if code == E.EIO:
        return (f"the disk reported an input/output error on {where} (the disk, a USB stick or a network share may "
                "be failing). Copy the file somewhere else and try again.")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{where}: {reason}"


def plain(exc: BaseException) -> str:
    """The user-facing text of any expected exception: `describe` for what the operating system
    refused (an OSError carrying an errno, a MemoryError), the message itself otherwise."""
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and errno_of(exc) is not None
                                        and (getattr(exc, "filename", None) or isinstance(exc.errno, int))):
        return describe(exc)
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text or type(exc).__name__
