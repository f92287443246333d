"""Atomic writes: readers never see a half-written file, and a failed write leaves the old one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ssrl_core.io import atomic_write, atomic_write_json, atomic_write_text


def test_atomic_write_json_round_trip_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "status.json"
    atomic_write_json(target, {"state": "running", "step": 3})
    assert json.loads(target.read_text()) == {"state": "running", "step": 3}
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in target.parent.iterdir()] == ["status.json"]  # no temp file left


def test_failed_write_keeps_previous_content(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.txt"
    atomic_write_text(target, "good")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.txt"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_sha256_file_matches_hashlib_on_a_multi_block_file(tmp_path: Path) -> None:
    import hashlib

    from ssrl_core.io import sha256_file

    data = os.urandom((1 << 20) + 12345)  # more than one 1 MiB block
    (tmp_path / "blob.bin").write_bytes(data)
    assert sha256_file(tmp_path / "blob.bin") == hashlib.sha256(data).hexdigest()
