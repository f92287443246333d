"""Walking an imported folder without leaving it: the files to read, and what was not read, said why.

Every importer of a folder (image folders, plates, uploads) lists its files here. Nothing outside
the folder is ever opened: a symbolic link is looked at with `lstat` and resolved as a path, and
is followed only when it ends at a regular file inside the folder. Links that lead out of the
folder, links to folders (never descended: they could lead out, loop, or list a file twice),
broken links, links that loop, named pipes (opening one waits forever), devices and sockets are
left out and listed with the reason, as are sub-folders that cannot be read. Hidden files and
folders (a name starting with ".") are left out silently, as before.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO), not a file"), (stat.S_ISCHR, "a device, not a file"),
            (stat.S_ISBLK, "a device, not a file"), (stat.S_ISSOCK, "a socket, not a file"))


@dataclass
class FolderWalk:
    """The regular files under a folder (sorted) and `(relative path, reason)` for what was left out."""

    root: Path
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _special(mode: int) -> str | None:
    for test, what in _SPECIAL:
        if test(mode):
            return what
    return None


def _link_problem(path: Path, root: Path) -> str | None:
    """Why the link at `path` is not followed, or None when it ends at a regular file inside `root`."""
    target = os.readlink(path)
    try:
        real = path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return "a link that loops back on itself: not followed"
    except OSError as exc:
        if getattr(exc, "errno", None) == errno.ELOOP:
            return "a link that loops back on itself: not followed"
        return f"a broken link (its target {target} does not exist): skipped"
    if not real.is_relative_to(root):
        return f"a link to {real}, outside the imported folder: not followed"
    mode = real.stat().st_mode
    if stat.S_ISDIR(mode):
        return "a link to a folder: not followed (copy the folder itself here to import it)"
    special = _special(mode)
    if special is not None:
        return f"a link to {special}: not read"
    return None


def walk_folder(folder: str | Path) -> FolderWalk:
    """The regular files under `folder` (links followed only to files inside it), and the rest listed."""
    root = Path(folder).expanduser().resolve()
    out = FolderWalk(root)
    errors: list[OSError] = []
    for here, dirs, names in os.walk(root, followlinks=False, onerror=errors.append):
        base = Path(here)
        keep = []
        for d in sorted(dirs):
            if d.startswith("."):
                continue
            p = base / d
            if p.is_symlink():
                out.skipped.append((p.relative_to(root).as_posix() + "/", _link_problem(p, root)
                                    or "a link to a folder: not followed (copy the folder itself here to import it)"))
            else:
                keep.append(d)
        dirs[:] = keep
        for name in sorted(names):
            if name.startswith("."):
                continue
            p = base / name
            rel = p.relative_to(root).as_posix()
            try:
                mode = p.lstat().st_mode
            except OSError as exc:
                out.skipped.append((rel, f"cannot be looked at ({exc.strerror or exc})"))
                continue
            if stat.S_ISLNK(mode):
                problem = _link_problem(p, root)
                if problem is not None:
                    out.skipped.append((rel, problem))
                    continue
            elif not stat.S_ISREG(mode):
                out.skipped.append((rel, f"{_special(mode) or 'not a regular file'}: not read"))
                continue
            out.files.append(p)
    for exc in errors:
        where = Path(exc.filename).relative_to(root).as_posix() + "/" if exc.filename else str(root)
        out.skipped.append((where, f"this folder cannot be read ({exc.strerror or exc}): skipped"))
    out.files.sort()
    return out
