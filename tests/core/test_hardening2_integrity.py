"""Issue 23, items 5, 8 and 13: silent corruption is refused, npz bombs are refused from their
headers, and messages name the file and the real problem. Inputs are built in tmp_path."""

from __future__ import annotations

import json
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ssrl_core import paths
from ssrl_core.checksums import Damaged, read_parquet
from ssrl_core.cli import main
from ssrl_core.data.npz import load_npz, npz_header
from ssrl_core.evaluate.export import write_table
from ssrl_core.train.checkpoint import save_checkpoint

MiB = 1 << 20


def peak(fn, *args):
    """(result or the exception raised, peak traced bytes) of `fn(*args)`."""
    tracemalloc.start()
    try:
        try:
            out = fn(*args)
        except Exception as exc:  # noqa: BLE001 - the caller asserts on it
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def tiny_cells(path: Path, n: int = 8, channels: int = 1, size: int = 64) -> Path:
    rng = np.random.default_rng(1)
    np.savez(path, images=rng.integers(0, 255, (n, size, size, channels), dtype=np.uint8),
             label=np.array(["a", "b"] * (n // 2)))
    return path


# -- item 5: checksums and finite checks ----------------------------------------------------------

def test_zeroed_bytes_in_an_embedding_parquet_are_refused_never_read_as_other_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(400, 16)).astype(np.float32), columns=[f"emb_{i}" for i in range(16)])
    table.insert(0, "label", ["a", "b"] * 200)
    good = write_table(table, tmp_path / "emb.parquet")
    raw = good.read_bytes()
    plain_pandas_fooled, refused = 0, 0
    for offset in range(64, len(raw) - 64, max(1, (len(raw) - 128) // 40)):
        bad = tmp_path / "bad.parquet"
        bad.write_bytes(raw[:offset] + bytes(8) + raw[offset + 8:])
        try:
            got = read_parquet(bad)
        except Damaged as exc:
            assert str(exc).startswith("bad.parquet is damaged")
            refused += 1
            try:
                plain_pandas_fooled += not pd.read_parquet(bad).equals(table)
            except Exception:  # noqa: BLE001 - pandas may also fail outright; that is not being fooled
                pass
            continue
        assert got.equals(table), offset  # bytes that carried nothing (padding): the same values
    assert refused >= 30 and plain_pandas_fooled >= 1  # pandas alone reads some of them as other numbers


def test_a_same_shape_all_zero_cache_file_is_recomputed_not_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ssrl_core.data.npz import load_npz as load
    from ssrl_core.evaluate.embedding import embed_with_info

    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    cells = load(tiny_cells(tmp_path / "cells.npz"))
    first, info = embed_with_info(cells, "hand-features", device="cpu")
    npy = paths.cache_dir() / "embeddings" / f"{info['key']}.npy"
    np.save(npy, np.zeros_like(first))  # same shape, all zero: another tool or a bad disk
    again, info2 = embed_with_info(cells, "hand-features", device="cpu")
    assert info2["cached"] is False and np.array_equal(again, first) and np.abs(first).sum() > 0
    third, info3 = embed_with_info(cells, "hand-features", device="cpu")
    assert info3["cached"] is True and np.array_equal(third, first)  # rewritten, with its checksum


@pytest.fixture()
def encoder_ckpt(tmp_path: Path) -> dict:
    from ssrl_core.models.encoder_file import load_checkpoint

    return load_checkpoint(paths.pretrained_dir() / "mitocheck_set_a.pt")


def test_nan_weights_are_refused_with_a_nonzero_exit_and_no_table(tmp_path: Path, encoder_ckpt: dict,
                                                                  capsys: pytest.CaptureFixture,
                                                                  one_torch_thread) -> None:
    data = tiny_cells(tmp_path / "cells.npz")
    name = next(k for k, v in encoder_ckpt["model"].items() if torch.is_floating_point(v) and v.ndim == 4)
    nan = dict(encoder_ckpt, model={**encoder_ckpt["model"], name: torch.full_like(encoder_ckpt["model"][name],
                                                                                     float("nan"))})
    save_checkpoint(tmp_path / "nan.pt", nan)
    out = tmp_path / "emb.parquet"
    assert main(["embed", "--checkpoint", str(tmp_path / "nan.pt"), "--data", str(data), "--out", str(out),
                 "--device", "cpu", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: nan.pt holds NaN or infinite weights (1 tensor(s), e.g. {name}), so it cannot "
                          "embed cells or resume training") and not out.exists()
    # finite weights that overflow: the embeddings themselves are checked
    huge = dict(encoder_ckpt, model={k: v * 1e5 if torch.is_floating_point(v) and v.ndim == 4 else v
                                     for k, v in encoder_ckpt["model"].items()})
    save_checkpoint(tmp_path / "huge.pt", huge)
    assert main(["embed", "--checkpoint", str(tmp_path / "huge.pt"), "--data", str(data), "--out", str(out),
                 "--device", "cpu", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "gave NaN or infinite embeddings for 8 of 8 cells" in err and "nothing was written" in err
    assert not out.exists()


def test_a_checkpoint_changed_on_disk_is_refused(tmp_path: Path, encoder_ckpt: dict) -> None:
    from ssrl_core.models.encoder_file import load_checkpoint

    path = save_checkpoint(tmp_path / "ok.pt", encoder_ckpt)
    assert load_checkpoint(path)["tensors_digest"]
    changed = torch.load(path, weights_only=True)
    key = next(iter(changed["model"]))
    changed["model"][key] = changed["model"][key].clone()
    changed["model"][key].view(-1)[0] += 1.0  # a few bytes of one weight differ, the digest is the old one
    torch.save(changed, tmp_path / "changed.pt")
    with pytest.raises(ValueError, match=r"^changed.pt is damaged: its weights no longer match the checksum"):
        load_checkpoint(tmp_path / "changed.pt")


def test_npz_written_by_us_detects_changed_bytes(tmp_path: Path) -> None:
    from ssrl_core.data.npz import save_npz

    cells = load_npz(tiny_cells(tmp_path / "a.npz"))
    path = save_npz(cells, tmp_path / "b.npz", compress=False)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("images.npy")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200  # inside the pixel bytes
    raw[at:at + 4] = bytes(4) if raw[at:at + 4] != bytes(4) else b"\x01\x02\x03\x04"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"^b.npz is damaged or truncated \(BadZipFile: Bad CRC-32"):
        load_npz(path)


# -- item 8: npz decompression bombs --------------------------------------------------------------

def bomb(path: Path, planes: int = 128) -> Path:
    """An npz whose `images` are `planes` MiB of zeros (about 1 kB compressed per MiB)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("images.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (planes, 1024, 1024)})
            for _ in range(planes):
                fh.write(bytes(MiB))
    return path


def forged(path: Path) -> Path:
    """An npz whose header declares a terabyte of pixels in a few bytes."""
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("images.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (1 << 20, 1024, 1024)})
            fh.write(bytes(64))
    return path


def test_an_npz_bomb_is_refused_from_its_headers_in_little_memory(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    b = bomb(tmp_path / "bomb.npz")
    assert b.stat().st_size < MiB
    import ssrl_core.data.registry  # noqa: F401  (imported up front: only the command's memory is traced)
    code, used = peak(main, ["data", "info", str(b)])
    assert code == 2 and used < 4 * MiB
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: bomb.npz: the array 'images' (128x1024x1024 uint8) expands from 0 MB to 128 MB, ")
    assert err.endswith("times: a decompression bomb or an all-blank array; it was not read")
    monkeypatch.setenv("SSRL_NPZ_MAX_BYTES", str(16 * MiB))
    result, used = peak(load_npz, b)
    assert isinstance(result, ValueError) and used < 4 * MiB
    assert str(result).startswith("bomb.npz: the array 'images' (128x1024x1024 uint8) would take 128 MB in memory, "
                                  "more than the 16 MB allowed for one dataset file; it was not read")
    monkeypatch.delenv("SSRL_NPZ_MAX_BYTES")
    result, used = peak(npz_header, forged(tmp_path / "forged.npz"))
    assert isinstance(result, ValueError) and used < MiB
    assert str(result).startswith("forged.npz: the array 'images' (1048576x1024x1024 uint8) would take 1024.0 GB")
    assert main(["data", "list", "--json"]) == 0  # a listing never decodes it either


def test_an_array_shorter_than_its_header_says_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("images.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False, "shape": (4, 32, 32)})
            fh.write(bytes(100))
    with pytest.raises(ValueError, match=r"^short.npz is damaged: the array 'images' says 4x32x32 uint8 but its "
                                         r"entry holds only 100 of 4,096 bytes$"):
        load_npz(path)


# -- item 13: messages that name the file and the real problem --------------------------------------

def test_text_npy_and_zero_channel_files_are_named_for_what_they_are(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "notes.npz").write_text("plate,well\nP1,A01\n", encoding="utf-8")
    np.save(tmp_path / "single.npy", np.zeros((3, 32, 32), np.uint8))
    shutil.copy(tmp_path / "single.npy", tmp_path / "single.npz")
    np.savez(tmp_path / "nochan.npz", images=np.zeros((3, 32, 32, 0), np.uint8))
    np.savez(tmp_path / "nocells.npz", images=np.zeros((0, 32, 32), np.uint8))
    expected = {"notes.npz": "notes.npz is a text file (it begins 'plate,well'), not an .npz archive",
                "single.npz": "single.npz is a single .npy array, not an .npz archive (save it with "
                              "numpy.savez(path, images=...))",
                "nochan.npz": "nochan.npz: 'images' has 0 channels (shape (3, 32, 32, 0)); a crop needs at least "
                              "one channel",
                "nocells.npz": "nocells.npz: 'images' holds no crops (shape (0, 32, 32))"}
    for name, message in expected.items():
        assert main(["data", "info", str(tmp_path / name)]) == 2
        assert capsys.readouterr().err.strip() == f"error: {message}", name


def test_a_value_that_is_not_a_number_is_named_by_column_and_row(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "emb.csv").write_text("cell_index,label,emb_0,emb_1\n0,a,0.1,0.2\n1,b,0.3,abc\n2,a,0.5,0.6\n",
                                      encoding="utf-8")
    assert main(["cluster", str(tmp_path / "emb.csv"), "--by", "label"]) == 2
    assert capsys.readouterr().err.strip() == ("error: emb.csv: column emb_1 is not a number in 1 row(s) (first: row 2, "
                                               "value 'abc'); embeddings must be finite numbers: embed the cells again")


@pytest.mark.parametrize("k", ["-3", "0", "1", "two"])
def test_cluster_k_must_be_a_whole_number_of_two_or_more(tmp_path: Path, k: str,
                                                        capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["cluster", str(tmp_path / "emb.parquet"), "--by", "label", "--k", k])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("ssrl cluster: error: argument --k: " + (f"give a whole number of clusters, not {k!r}" if k == "two"
                                                            else f"the number of clusters must be at least 2; got {k}"))


def test_ssrl_data_pointing_at_a_missing_folder_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "nope"))
    assert main(["data", "list", "--json"]) == 0
    out = capsys.readouterr()
    warning = (f"SSRL_DATA is set to {tmp_path / 'nope'}, which is a folder that does not exist, so no dataset was "
               "read from it: set SSRL_DATA to your data folder (or unset it to use ./data)")
    assert out.err.strip() == f"warning: {warning}" and json.loads(out.out)["warnings"] == [warning]
    assert main(["data", "info", "my_plate"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"Note: {warning}")


def test_sweep_base_pointing_at_a_folder_says_so(tmp_path: Path) -> None:
    from ssrl_core.sweeps.runner import load_sweep

    (tmp_path / "runs").mkdir()
    (tmp_path / "sweep.yaml").write_text("base: runs\nparameter: lr\nvalues: [0.1]\nseeds: [0]\nprobe_column: label\n",
                                         encoding="utf-8")
    with pytest.raises(ValueError, match=r"^the sweep's base run config 'runs' is a folder \(.*runs\); give the run "
                                         r"config YAML file$"):
        load_sweep(tmp_path / "sweep.yaml")


def test_a_member_that_is_not_an_array_is_never_read(tmp_path: Path) -> None:
    """A bomb hidden in a non-.npy member (np.load would hand back its bytes) is listed, not read."""
    path = tmp_path / "extra.npz"
    np.savez(path, images=np.zeros((2, 32, 32), np.uint8))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("notes.txt", "w", force_zip64=True) as fh:
            for _ in range(64):
                fh.write(bytes(MiB))
    cells, used = peak(load_npz, path)
    assert len(cells) == 2 and used < 4 * MiB
    assert cells.skipped == [("extra.npz:notes.txt", "not a numpy array (.npy); it was not read")]


def test_converted_imagenet_weights_changed_in_the_cache_are_refused(tmp_path: Path) -> None:
    from ssrl_core.checksums import tensors_digest
    from ssrl_core.io import atomic_write, save_torch
    from ssrl_core.weights import WeightsUnavailable, _load_file

    state = {"features.0.weight": torch.randn(8, 3, 3, 3), "features.0.bias": torch.zeros(8)}
    path = atomic_write(tmp_path / "alexnet_imagenet.pt", lambda p: save_torch(state, p))
    (tmp_path / "alexnet_imagenet.pt.digest").write_text(tensors_digest(state) + "\n")
    assert torch.equal(_load_file(str(path), 1)["features.0.weight"], state["features.0.weight"])
    changed = dict(state, **{"features.0.bias": torch.ones(8)})  # same shape, other values
    torch.save(changed, path)
    with pytest.raises(WeightsUnavailable, match=r"alexnet_imagenet.pt are damaged \(their checksum no longer "
                                                 r"matches, or they hold NaN values\): delete alexnet_imagenet.pt"):
        _load_file(str(path), 2)
