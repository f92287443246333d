"""Resumable HTTP downloads with checksums and progress, for the dataset downloaders.

- Resumable: an interrupted download leaves `<file>.part`; the next call asks the server for the
  rest (HTTP `Range: bytes=N-`) and appends, or starts again when the server ignores ranges.
- Checksums: the sha256 of every finished file is recorded in `checksums.json` beside it; when
  a checksum is known (given or recorded), an existing file is verified instead of re-fetched,
  and a mismatch is an error (the bad file is removed).
- Offline: any failure to reach the server raises `NoNetwork` with a plain message.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from ssrl_core.io import atomic_write_json, sha256_file

Progress = Callable[[int, "int | None", str], None]  # (bytes done, total bytes or None, file name)
USER_AGENT = "ssrl-core/0.1 (microscopy self-supervised learning)"


class NoNetwork(RuntimeError):
    """The server could not be reached (no network, DNS failure, refused, timed out)."""


sha256_of = sha256_file


def _open(url: str, headers: dict | None = None, timeout: float = 30.0):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - http(s) URLs chosen by the user
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise FileNotFoundError(f"the server has no file at {url} (HTTP 404)") from exc
        if exc.code == 416:
            raise
        raise RuntimeError(f"the server refused {url} (HTTP {exc.code} {exc.reason})") from exc
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NoNetwork(f"no network: cannot reach {url.split('/')[2] if '//' in url else url} ({reason}). "
                        "Check the internet connection, or copy the data by hand into the data folder.") from exc


def get_json(url: str, timeout: float = 30.0) -> object:
    """GET a JSON document (e.g. a GitHub contents listing)."""
    with _open(url, {"Accept": "application/json"}, timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


def _checksums(folder: Path) -> dict:
    f = folder / "checksums.json"
    try:
        return json.loads(f.read_text()) if f.is_file() else {}
    except (ValueError, OSError):
        return {}


def _record(folder: Path, name: str, digest: str) -> None:
    sums = _checksums(folder)
    sums[name] = digest
    atomic_write_json(folder / "checksums.json", dict(sorted(sums.items())))


def fetch(url: str, dest: str | Path, sha256: str | None = None, progress: Progress | None = None,
          timeout: float = 30.0, chunk: int = 1 << 16) -> Path:
    """Download `url` to `dest` (resuming a `.part` file), verify/record its sha256, return `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    known = sha256 or _checksums(dest.parent).get(dest.name)
    if dest.is_file():
        if known is None:
            _record(dest.parent, dest.name, sha256_of(dest))
            return dest
        if sha256_of(dest) == known:
            return dest
        dest.unlink()  # damaged: fetch again
    part = dest.with_name(dest.name + ".part")
    done = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={done}-"} if done else {}
    try:
        resp = _open(url, headers, timeout)
    except urllib.error.HTTPError as exc:  # 416: the .part is already complete (or bigger)
        if exc.code != 416:
            raise
        part.unlink(missing_ok=True)
        done, resp = 0, _open(url, None, timeout)
    with resp:
        if done and resp.status != 206:  # the server ignored the range: start again
            done = 0
        length = resp.headers.get("Content-Length")
        total = done + int(length) if length is not None else None
        with open(part, "ab" if done else "wb") as out:
            if progress:
                progress(done, total, dest.name)
            while True:
                try:
                    block = resp.read(chunk)
                except (socket.timeout, ConnectionError, OSError) as exc:
                    raise NoNetwork(f"no network: the download of {dest.name} was interrupted ({exc}); "
                                    "run the same command again to resume") from exc
                if not block:
                    break
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total, dest.name)
    if total is not None and done < total:
        raise NoNetwork(f"no network: the download of {dest.name} stopped at {done} of {total} bytes; "
                        "run the same command again to resume")
    digest = sha256_of(part)
    if known is not None and digest != known:
        part.unlink()
        raise ValueError(f"{dest.name} is damaged: its checksum {digest[:12]}... differs from the expected "
                         f"{known[:12]}...; it was removed, please download again")
    part.replace(dest)
    _record(dest.parent, dest.name, digest)
    return dest


def terminal_progress(stream=None) -> Progress:
    """A progress callback that rewrites one terminal line: `name  12.3 / 45.6 MB  27%`
    (or `<plate> fields  3 / 12` while fields are being cropped)."""
    import sys

    out = stream or sys.stderr

    def show(done: int, total: int | None, name: str) -> None:
        if name.endswith(" fields"):  # a count of processed images, not bytes
            out.write(f"\r{name}  {done} / {total}".ljust(100) + ("\n" if done == total else ""))
            out.flush()
            return
        mb = done / 1e6
        text = f"{name}  {mb:.1f} MB" if not total else f"{name}  {mb:.1f} / {total / 1e6:.1f} MB  {100 * done // max(total, 1)}%"
        out.write("\r" + text[:100].ljust(100))
        if total and done >= total:
            out.write("\n")
        out.flush()

    return show
