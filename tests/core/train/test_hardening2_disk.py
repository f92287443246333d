"""Issue 23, items 4 and 9: a full disk, a read-only folder, a file where a folder is needed.

The full disk is real: a small tmpfs mounted in a private user and mount namespace
(`unshare --user --map-root-user --mount`, no root needed), filled until the commands' outputs no
longer fit; the read-only folder is a read-only bind mount there. Each command must end with
one plain line (the file, what went wrong, what to do), exit status 2 and no half-written file;
a training run must stop with "stopped: the disk is full", keep checkpoint.pt and metrics.jsonl
consistent, and resume once space is freed. Where namespaces are not allowed (some CI
sandboxes) those tests skip and `test_training_meets_a_full_disk_in_process` still runs, with the
ENOSPC raised from the checkpoint writer.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ssrl_core import paths
from ssrl_core.cli import main
from ssrl_core.train import rundir as rd

from tiny_runs import CLI_SETS, tiny_run_yaml

SETS = [*CLI_SETS, "--set", "checkpoint_steps=3"]  # a checkpoint every 3 steps (once an epoch here), as the runs below expect


def _namespaces() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d && rmdir $d"],
                           capture_output=True)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not _namespaces(), reason="unprivileged user+mount namespaces are not "
                                                                "allowed here (no small disk to fill)")


def in_namespace(script: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=str(paths.PROJECT_ROOT), OMP_NUM_THREADS="1", PY=sys.executable, **env)
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "bash", "-euc", script], env=full,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    return tiny_run_yaml(tmp_path, "first", epochs=3)


@needs_namespaces
def test_training_stops_on_a_full_disk_keeps_its_files_and_resumes(config: Path, tmp_path: Path) -> None:
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    sets = " ".join(SETS)
    script = f"""
    mount -t tmpfs -o size=1300k tmpfs "$DISK"   # one 0.9 MB checkpoint fits, a second copy does not
    set +e
    "$PY" -m ssrl_core train "$CFG" --out "$DISK/run" --json {sets} > "$OUT/1.out" 2> "$OUT/1.err"; echo $? > "$OUT/1.rc"
    cp -a "$DISK/run" "$OUT/stopped"
    "$PY" -m ssrl_core train --resume "$DISK/run" --json > "$OUT/2.out" 2> "$OUT/2.err"; echo $? > "$OUT/2.rc"
    cp -a "$DISK/run" "$OUT/stopped_again"
    mount -o remount,size=20m "$DISK"            # space freed
    "$PY" -m ssrl_core train --resume "$DISK/run" --json > "$OUT/3.out" 2> "$OUT/3.err"; echo $? > "$OUT/3.rc"
    cp -a "$DISK/run" "$OUT/resumed"
    """
    done = in_namespace(textwrap.dedent(script), {"DISK": str(disk), "OUT": str(out), "CFG": str(config)})
    assert done.returncode == 0, done.stderr[-3000:]
    rc = {k: int((out / f"{k}.rc").read_text()) for k in ("1", "2", "3")}
    assert rc == {"1": 2, "2": 2, "3": 0}, [(out / f"{k}.err").read_text()[-1500:] for k in rc]
    for k in ("1", "2"):
        err = (out / f"{k}.err").read_text()
        assert "Traceback" not in err and err.startswith("error: stopped: the disk is full (")
        assert f"MB free in {disk}/run) at step " in err
        assert (f"checkpoint.pt (step 3) and metrics.jsonl up to that step are intact. Free some space, then resume "
                f"with `ssrl train --resume {disk}/run`.") in err
    for folder in ("stopped", "stopped_again"):
        status = json.loads((out / folder / rd.STATUS).read_text())
        assert status["state"] == "stopped" and status["error"].startswith("stopped: the disk is full")
        steps = [json.loads(x)["step"] for x in (out / folder / rd.METRICS).read_text().splitlines()]
        assert steps == [1, 2, 3]  # never ahead of the checkpoint
        assert not [p.name for p in (out / folder).iterdir() if p.name.endswith(".tmp")]
        from ssrl_core.models.encoder_file import load_checkpoint

        assert load_checkpoint(out / folder / rd.CHECKPOINT)["step"] == 3  # intact and loadable
    from ssrl_core.train.jobs import read_status

    listed = read_status(out / "stopped")  # what `ssrl runs` and the app show
    assert listed["state"] == "stopped" and "killed" not in listed["error"] and not listed.get("lost")
    final = json.loads((out / "3.out").read_text())
    assert final["state"] == "finished" and final["step"] == 9
    steps = [json.loads(x)["step"] for x in (out / "resumed" / rd.METRICS).read_text().splitlines()]
    assert steps == list(range(1, 10))


def _inputs(tmp_path: Path) -> dict[str, Path]:
    """An embedding file, a dataset, a plate folder with nuclei and a field, all outside the small disk."""
    from ssrl_core.evaluate.export import write_table

    rng = np.random.default_rng(0)
    n = 400
    import pandas as pd

    table = pd.DataFrame({"cell_index": range(n), "dataset": "d", "plate": "P1",
                          "well": [f"A0{i % 4 + 1}" for i in range(n)], "label": ["a", "b"] * (n // 2)})
    table = pd.concat([table, pd.DataFrame(rng.normal(size=(n, 64)).astype(np.float32),
                                           columns=[f"emb_{i}" for i in range(64)])], axis=1)
    emb = write_table(table, tmp_path / "emb.parquet")
    np.savez(tmp_path / "cells.npz", images=rng.integers(0, 255, (64, 32, 32), dtype=np.uint8),
             label=np.array(["a", "b"] * 32))
    yy, xx = np.mgrid[:256, :256]
    field = rng.integers(100, 300, (256, 256)).astype(np.float32)
    for cy in range(32, 256, 64):
        for cx in range(32, 256, 64):
            field += 3000 * (((yy - cy) ** 2 + (xx - cx) ** 2) < 150)
    plate = tmp_path / "plate"
    plate.mkdir()
    tifffile.imwrite(plate / "P1_A01_s1_w1.tif", field.astype(np.uint16))
    tifffile.imwrite(tmp_path / "field.tif", field.astype(np.uint16))
    return {"emb": emb, "cells": tmp_path / "cells.npz", "plate": plate, "field": tmp_path / "field.tif"}


# One process runs every command of the test (one `ssrl` start-up, not three): for each group, its
# environment, then each command through `ssrl_core.cli.main` with the files it left on `disk`.
DRIVER = r"""
import contextlib, io, json, os, sys
from ssrl_core.cli import main
for group in json.loads(sys.argv[1]):
    disk, out = group["disk"], {}
    os.environ.update(group["env"])
    for name, argv in group["cases"].items():
        err = io.StringIO()
        before = {os.path.relpath(os.path.join(d, f), disk) for d, _, fs in os.walk(disk) for f in fs}
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv + ["--json"])  # no progress lines on stderr
            except SystemExit as exc:
                code = exc.code
        left = sorted({os.path.relpath(os.path.join(d, f), disk) for d, _, fs in os.walk(disk) for f in fs} - before)
        out[name] = {"code": code, "err": err.getvalue(), "left": left}
    for key in group["env"]:
        del os.environ[key]
    with open(group["out"], "w") as f:
        json.dump(out, f)
"""


@needs_namespaces
def test_commands_on_a_full_disk_or_a_read_only_folder_say_so_in_one_line(tmp_path: Path) -> None:
    src = _inputs(tmp_path)
    disk, ro = tmp_path / "disk", tmp_path / "ro"
    disk.mkdir()
    ro.mkdir()
    d = str(disk)
    full = {"embed": ["embed", "--encoder", "hand-features", "--data", str(src["cells"]), "--out", f"{d}/e.parquet"],
            "profiles": ["profiles", str(src["emb"]), "--cells", f"{d}/cells.csv"],
            "export-anndata": ["export-anndata", str(src["emb"]), "--out", f"{d}/cells.h5ad"],
            "cluster": ["cluster", str(src["emb"]), "--by", "label", "--out", f"{d}/clusters.csv"],
            "import-plate": ["data", "import-plate", str(src["plate"]), "--crop", "32", "--out", f"{d}/plate.cells"],
            "nuclei": ["data", "nuclei", str(src["field"]), "--crop", "32", "--out", f"{d}/crops.npz"]}
    script = """
    mount -t tmpfs -o size=1m tmpfs "$DISK"
    free=$(df --output=avail -B1 "$DISK" | tail -1)
    head -c $((free - 8192)) /dev/zero > "$DISK/filler"   # 8 kB left
    mount --bind "$RO" "$RO" && mount -o remount,bind,ro "$RO"
    "$PY" -c "$DRIVER" "$GROUPS"
    """
    ro_cases = {"embed --out": ["embed", "--encoder", "hand-features", "--data", str(src["cells"]),
                                "--out", f"{ro}/e.parquet"],
                "nuclei --out": ["data", "nuclei", str(src["field"]), "--crop", "32", "--out", f"{ro}/c.npz"]}
    groups = [{"disk": d, "env": {}, "cases": full, "out": str(tmp_path / "full.json")},
              {"disk": str(ro), "env": {"SSRL_RUNS": f"{ro}/runs"}, "out": str(tmp_path / "runs.json"),
               "cases": {"train": ["train", str(src["cells"]).replace(".npz", ".yaml")], **ro_cases}},
              {"disk": str(ro), "env": {"SSRL_CACHE": str(ro)}, "out": str(tmp_path / "cache.json"),
               "cases": {"embed (cache read-only)": ["embed", "--encoder", "hand-features", "--data",
                                                     str(src["cells"]), "--out", str(tmp_path / "ok.parquet")]}}]
    env = {"DISK": d, "RO": str(ro), "DRIVER": DRIVER, "GROUPS": json.dumps(groups)}
    (tmp_path / "cells.yaml").write_text(f"name: x\ndata: {src['cells']}\nrecipes: [mnist-set1]\nmethod: vicreg\n")
    done = in_namespace(textwrap.dedent(script), env)
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((tmp_path / "full.json").read_text())
    for name, r in results.items():
        err = r["err"].strip()
        assert r["code"] == 2 and "\n" not in err and "Traceback" not in err, (name, r["err"][-1500:])
        assert err.startswith(f"error: could not write {d}/") and "the disk is full (" in err, (name, err)
        assert err.endswith("Free some space there (or write somewhere else) and run it again."), (name, err)
        kept = r["left"]  # files this command left on the disk
        assert not [f for f in kept if f.endswith(".tmp") or "/." in f or f.startswith(".")], (name, kept)
        if name == "import-plate":  # a cell store is resumable by design: its manifest says it is unfinished
            assert kept == ["plate.cells/store.json"], kept
        else:
            assert kept == [], (name, kept)

    runs = json.loads((tmp_path / "runs.json").read_text())
    for name, r in runs.items():
        err = r["err"].strip()
        assert r["code"] == 2 and "\n" not in err and "read-only file system" in err, (name, err)
    assert runs["train"]["err"].strip().endswith(f"read-only file system (this folder comes from SSRL_RUNS={ro}/runs: "
                                                 "set SSRL_RUNS to a folder you can write). Choose a folder you can "
                                                 "write to.")
    assert runs["embed --out"]["err"].strip() == (f"error: could not write {ro}/e.parquet: {ro} is on a read-only file "
                                                  "system. Choose a folder you can write to.")
    cached = json.loads((tmp_path / "cache.json").read_text())["embed (cache read-only)"]
    assert cached["code"] == 0 and (tmp_path / "ok.parquet").is_file()  # a read-only cache costs the cache only
    assert cached["err"].startswith("note: the embeddings were computed but not cached: could not write ")
    assert f"(this folder comes from SSRL_CACHE={ro}" in cached["err"]


def test_ssrl_runs_or_sweep_out_pointing_at_a_file(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    runs = tmp_path / "runs.txt"
    runs.write_text("not a folder\n")
    monkeypatch.setenv("SSRL_RUNS", str(runs))
    assert main(["train", str(config)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {runs} is a file, not a folder (this folder comes from SSRL_RUNS={runs}: set SSRL_RUNS to a folder "
        "you can write). Give a folder path (a new name is created), or move the file away.")
    assert main(["runs"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {runs} is a file, not a folder")
    assert runs.read_text() == "not a folder\n"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"base: {config.name}\nparameter: lr\nvalues: [0.1, 0.2]\nseeds: [0]\nprobe_column: label\n")
    taken = tmp_path / "taken.csv"
    taken.write_text("keep me\n")
    for extra in ([], ["--background"]):
        assert main(["sweep", str(sweep), "--out", str(taken), *extra]) == 2
        assert capsys.readouterr().err.strip() == (f"error: the sweep folder {taken} is a file, not a folder: give --out "
                                                   "a folder (a new name is created), or move the file away")
    assert taken.read_text() == "keep me\n"


def test_training_meets_a_full_disk_in_process(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no small disk can be mounted: the checkpoint writer raises ENOSPC on the second save."""
    from ssrl_core.train import checkpoint as ck
    from ssrl_core.train import load_config, train
    from ssrl_core.train.diskfull import TrainingStopped

    real, calls = ck.save_torch, []

    def full_on_second(state, path):
        calls.append(path)
        if len(calls) == 2:
            path.write_bytes(b"\0" * 1000)  # part of it was written, then the disk was full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(state, path)

    monkeypatch.setattr(ck, "save_torch", full_on_second)
    cfg = load_config(config, SETS[1::2])
    run = tmp_path / "run"
    with pytest.raises(TrainingStopped, match=r"^stopped: the disk is full \(.* MB free in .*\) at step 6; "
                                              r"checkpoint.pt \(step 3\) and metrics.jsonl up to that step are intact"):
        train(cfg, run)
    assert [json.loads(x)["step"] for x in (run / rd.METRICS).read_text().splitlines()] == [1, 2, 3]
    assert rd.read_json(run / rd.STATUS)["state"] == "stopped" and not list(run.glob(".*.tmp"))
    monkeypatch.setattr(ck, "save_torch", real)
    assert train(cfg, run, resume=True)["step"] == 9


def test_fine_tuning_from_an_encoder_that_does_not_fit_is_refused_before_any_image_is_scaled(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`train --init` under a memory cap: the channel check comes first, so the refusal needs no
    float copy of the images (4,000 crops: 16 MB as uint8, 66 MB scaled to float32)."""
    import tracemalloc

    import ssrl_core.train.loop  # noqa: F401  (imported up front: only the command's own memory is traced)

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "big.npz", images=rng.integers(0, 255, (4000, 64, 64), dtype=np.uint8))
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(f"name: ft\ndata: {tmp_path / 'big.npz'}\nrecipes: [microscopy-set-a]\nmethod: simclr\n")
    tracemalloc.start()
    try:
        code = main(["train", str(cfg), "--init", "bbbc021_set_a", "--out", str(tmp_path / "run"), "--json"])
        used = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2
    assert capsys.readouterr().err.strip() == ("error: Cannot start from 'bbbc021_set_a': it was trained on 3-channel "
                                               "images; these cells have 1 channel(s).")
    print(f"peak traced: {used / 2**20:.1f} MiB")
    assert used < 45 * (1 << 20), used / 2**20  # the uint8 set is read, no float32 copy (66 MB) is made
    assert not (tmp_path / "run" / rd.CHECKPOINT).exists()
