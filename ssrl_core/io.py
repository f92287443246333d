"""Small file helpers that must not lose data (atomic writes, a lock for read-modify-write) or be
fooled by input (YAML limits)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from ssrl_core.oserrors import errno_of


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` then rename onto `path`, so readers never see a half file.

    Nothing is left behind when the write fails (the temporary file is removed), and an OS
    error is raised again naming `path` itself, with its errno found even where a library did
    not set one (`oserrors.errno_of`: numpy's short write on a full disk, HDF5's text)."""

    path = Path(path)
    tmp_path: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp_path, path)
    except OSError as exc:
        code = errno_of(exc)
        if code is None:
            raise
        target = exc.filename if code in (errno.ENOTDIR, errno.EEXIST) and exc.filename else path
        raise OSError(code, os.strerror(code), str(target)) from exc
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()
    return path


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of `path`: `fcntl.flock` on `.<name>.lock`
    beside it, waited for (not refused), released when the block ends or the process dies.
    Every writer of the file takes it, so two processes never rewrite from the same old copy."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def overwrite_in_place(path: str | Path, data: bytes) -> None:
    """Rewrite an existing small file in place (not atomic): the last resort on a full disk,
    where its already allocated blocks can still be written but no new file can be made."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


class _WholeWrites:
    """A raw file whose `write` writes everything or records why not. torch replaces an error
    raised in a writer by its own RuntimeError about the file position; `_save` raises the
    recorded OSError instead, so a full disk is ENOSPC (said in words), not a bare RuntimeError."""

    def __init__(self, raw: Any, path: Path):
        self.raw, self.path, self.error = raw, path, None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        try:
            while done < len(view):
                n = self.raw.write(view[done:])
                if not n:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
                done += n
        except OSError as exc:
            self.error = exc
            raise
        return done

    def flush(self) -> None:
        self.raw.flush()


def save_torch(obj: Any, path: Path) -> None:
    """`torch.save(obj)` into `path` (use inside `atomic_write`), a full disk raised as ENOSPC."""
    import torch

    with open(path, "wb", buffering=0) as raw:
        out = _WholeWrites(raw, path)
        try:
            torch.save(obj, out)
        except RuntimeError:
            if out.error is not None:
                raise out.error from None
            raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically (indented, keys kept in order)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (checksums of downloads and checkpoints)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()



YAML_MAX_BYTES = 1 << 20  # a run config, recipe or sweep is a few kB
YAML_MAX_NODES = 100_000  # values once aliases are expanded (an alias bomb has billions)


class YAMLLimitError(ValueError):
    """A YAML document that is too large, too deeply nested, or expands too far through aliases."""


def _expanded_size(node: Any, memo: dict[int, int], open_: set[int]) -> int:
    """Values in `node` with every alias expanded (memoised, so shared nodes cost one visit)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in open_:
        raise YAMLLimitError("an alias refers to itself (a recursive structure)")
    open_.add(key)
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(c, memo, open_) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, open_) + _expanded_size(v, memo, open_) for k, v in node.value)
    else:
        size = 1
    open_.discard(key)
    memo[key] = size
    if size > YAML_MAX_NODES:
        raise YAMLLimitError(f"it expands to more than {YAML_MAX_NODES:,} values through aliases (&/*)")
    return size


class _LimitedLoader(yaml.SafeLoader):
    """The safe loader, refusing a document whose aliases expand past YAML_MAX_NODES values."""

    def compose_document(self) -> Any:
        node = super().compose_document()
        _expanded_size(node, {}, set())
        return node


def parse_yaml(text: str, source: str = "the YAML text") -> Any:
    """`yaml.safe_load` with limits: at most YAML_MAX_BYTES, YAML_MAX_NODES values after alias
    expansion, no recursive aliases, no deep nesting. Every problem is a ValueError naming
    `source` and the reason."""
    if len(text) > YAML_MAX_BYTES:
        raise YAMLLimitError(f"{source} is {len(text):,} characters; the limit is {YAML_MAX_BYTES:,}")
    try:
        return yaml.load(text, Loader=_LimitedLoader)  # noqa: S506 - a SafeLoader subclass
    except YAMLLimitError as exc:
        raise YAMLLimitError(f"{source} was refused: {exc}") from None
    except RecursionError:
        raise YAMLLimitError(f"{source} was refused: it is nested too deeply") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{source} is not valid YAML: {exc}") from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with `parse_yaml`'s limits; size and encoding are checked first, and a
    file that is not UTF-8 is refused with the position of the first bad byte."""
    path = Path(path)
    size = path.stat().st_size
    if size > YAML_MAX_BYTES:
        raise YAMLLimitError(f"{path} is {size:,} bytes; a YAML file here is at most {YAML_MAX_BYTES:,}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); "
                         "save it as UTF-8") from None
    return parse_yaml(text, str(path))
