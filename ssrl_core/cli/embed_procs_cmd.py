"""`ssrl embed --procs N` and `ssrl embed` under torchrun: the embed command in resumable parts.

`--procs N` starts `torchrun --standalone --nproc_per_node=N -m ssrl_core embed ...` (the same
command without `--procs`); each process torchrun starts (here or on other machines) runs
`embed_in_parts`, which calls `ssrl_core.evaluate.embed_procs.embed_distributed`.
"""

from __future__ import annotations

import argparse

from ssrl_core.cli._common import emit


def under_torchrun() -> bool:
    """True in a process torchrun started (then `embed` runs as one rank of the job)."""
    import os

    return "TORCHELASTIC_RUN_ID" in os.environ or "WORLD_SIZE" in os.environ


def _embed_argv(args: argparse.Namespace) -> list[str]:
    """The `embed` command line of `args`, for the processes torchrun starts (without --procs)."""
    argv = ["embed", "--checkpoint" if args.checkpoint else "--encoder", args.checkpoint or args.encoder,
            "--data", str(args.data), "--out", str(args.out), "--device", args.device]
    if args.batch_size:
        argv += ["--batch-size", str(args.batch_size)]
    for item in args.where:
        argv += ["--where", item]
    if args.heldout:
        argv += ["--heldout", args.heldout]
    if args.shard_cells:
        argv += ["--shard-cells", str(args.shard_cells)]
    return argv + (["--no-cache"] if args.no_cache else []) + (["--json"] if args.json else [])


def start_torchrun(args: argparse.Namespace) -> int:
    """`embed --procs N`: the same command in N processes started by torchrun on this machine."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={int(args.procs)}",
           "-m", "ssrl_core", *_embed_argv(args)]
    code = subprocess.run(cmd).returncode  # torch is not imported in this launcher: it stays small
    if code != 0:
        raise RuntimeError(f"the {args.procs} embedding processes stopped (exit status {code}); run the same "
                           "command again: finished parts are kept and only the missing ones are redone")
    return 0


def embed_in_parts(args: argparse.Namespace, cells, encoder: str, index) -> int:
    """One rank of a torchrun job (`--procs N` or torchrun by hand), or `--procs 1` in this process."""
    from ssrl_core.evaluate.embed_procs import SHARD_CELLS, embed_distributed

    if args.procs is not None and args.procs < 1:
        raise ValueError("--procs needs 1 or more processes")
    report = embed_distributed(cells, encoder, args.out, device=args.device, batch_size=args.batch_size,
                               shard_cells=args.shard_cells or SHARD_CELLS, use_cache=not args.no_cache,
                               dataset=str(args.data), cell_index=index)
    if report["rank"] == 0:
        out = {"out": str(args.out), "cells": report["cells"], "dim": report["dim"], "encoder": encoder,
               "processes": report["world"], "parts": report["shards"], "parts_computed": report["computed"],
               "parts_kept": report["kept"]}
        emit(out, args.json, f"wrote {report['cells']} embeddings of {report['dim']} dimensions to {args.out} "
                             f"({report['world']} process(es); rank 0 computed {report['computed']} and kept "
                             f"{report['kept']} finished part(s))")
    return 0
