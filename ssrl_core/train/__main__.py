"""`python -m ssrl_core.train RUN_DIR [--set key=value ...]`: train the run described by
RUN_DIR/config.yaml, resuming from RUN_DIR/checkpoint.pt when it exists. The same command runs
under `torchrun --nproc_per_node=N -m ssrl_core.train RUN_DIR` on several GPUs.

Exit status: 0 finished or stopped on request, 1 failed (the reason is in status.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ssrl_core.train import rundir as rd
from ssrl_core.train.config import load_config
from ssrl_core.train.loop import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssrl_core.train")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint.pt")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.run_dir / rd.CONFIG, args.overrides)
    except (ValueError, FileNotFoundError) as exc:
        if (args.run_dir / rd.STATUS).exists() or args.run_dir.is_dir():
            rd.write_status(args.run_dir, state="failed", error=str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        result = train(cfg, args.run_dir, resume=not args.fresh)
    except Exception as exc:  # the reason is already in status.json and train.log
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = {k: result.get(k) for k in ("rank", "world_size", "state", "step", "param_checksum")}
    # One write call per line: under torchrun every rank shares the same pipe, and a line written
    # in one call (< PIPE_BUF bytes) is never interleaved with another rank's.
    sys.stdout.write(json.dumps({"ssrl_train_result": summary}) + "\n")
    sys.stdout.flush()
    return 0 if result["state"] in ("finished", "stopped") else 1


def leave(code: int) -> None:
    """End the process with `code`. A rank of a multi-process (torchrun) run leaves at once, with
    `os._exit`, once its files are closed and its lines flushed, and never reaches the interpreter's
    last teardown: once in CI a rank whose run had finished aborted there ("terminate called without
    an active exception", after both ranks had printed "finished"), most likely on gloo threads that
    outlive `destroy_process_group`, and torchrun reported the whole run as failed."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    leave(main())
