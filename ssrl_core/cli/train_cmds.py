"""`ssrl train`, `ssrl runs`, `ssrl stop`, `ssrl export-checkpoint`: training from the terminal.

`ssrl train [CONFIG.yaml] [--out RUN_DIR] [--resume RUN_DIR] [--set key=value ...]` trains in the
foreground with a progress bar; without CONFIG it starts the short run of `train.defaults` (the
one the Train page shows first) (Ctrl-C stops cleanly and keeps the checkpoint); `--background`
starts the same run as a detached job, like the app does. The last checkpoint is always
RUN_DIR/checkpoint.pt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ssrl_core.cli._common import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a self-supervised model from a YAML run config")
    p.add_argument("config", nargs="?", type=Path,
                   help="run config (YAML); without it, the short run the Train page starts (a few minutes)")
    p.add_argument("--out", type=Path, help="run directory to create (default: a new one under runs/)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR from checkpoint.pt")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, dotted for nested ones (e.g. --set epochs=2 --set data.name=x)")
    p.add_argument("--init", metavar="ENCODER",
                   help="fine-tune: start from a shipped encoder (e.g. cells_base), a run folder or a checkpoint; "
                        "its backbone, per-channel mode and crop size are used (before any --set)")
    p.add_argument("--background", action="store_true", help="start as a detached job and return at once")
    p.add_argument("--gpus", type=int, default=1, help="with --background: processes for torchrun (GPUs)")
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress bar)")
    p.set_defaults(handler=run_train)

    r = sub.add_parser("runs", help="list training runs and their state")
    r.add_argument("--dir", type=Path, help="runs folder (default: SSRL_RUNS or ./runs)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=run_runs)

    s = sub.add_parser("stop", help="stop a training run cleanly (its checkpoint is kept)")
    s.add_argument("run_dir", type=Path)
    s.add_argument("--wait", action="store_true", help="wait until it has stopped")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=run_stop)

    e = sub.add_parser("export-checkpoint", help="write a small encoder-only copy of a checkpoint")
    e.add_argument("checkpoint", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--full-precision", action="store_true", help="keep float32 (default: half precision)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(handler=run_export)


def _config_and_dir(args: argparse.Namespace):
    from ssrl_core.train import rundir as rd
    from ssrl_core.train.config import load_config

    if args.resume is not None:
        if not (args.resume / rd.CONFIG).is_file():
            raise FileNotFoundError(f"{args.resume} is not a run directory (no config.yaml in it)")
        rd.check_unlocked(args.resume)
        from ssrl_core.train.jobs import read_status

        if read_status(args.resume)["state"] in ("running", "queued"):
            raise ValueError(f"{args.resume} is still running; stop it first (ssrl stop {args.resume})")
        if not (args.resume / rd.CHECKPOINT).is_file():
            raise FileNotFoundError(f"{args.resume} has no checkpoint.pt to resume from")
        cfg = load_config(args.config or args.resume / rd.CONFIG, args.overrides)
        return cfg, args.resume, True
    overrides = list(args.overrides)
    if getattr(args, "init", None):
        from ssrl_core.train.start_from import parent_info

        parent = parent_info(args.init)
        overrides = [f"init={args.init}", f"backbone={parent['backbone']}",
                     f"per_channel={str(parent['per_channel']).lower()}", f"crop_size={parent['crop_size']}", *overrides]
    base = None
    if args.config is None:  # the short run, as on the Train page
        from ssrl_core.train.defaults import short_run_defaults

        base = short_run_defaults()
    cfg = load_config(args.config, overrides, base=base)
    if args.out is None:
        return cfg, rd.new_run_dir(cfg.name), False
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder for the run")
    rd.check_unlocked(args.out)
    if (args.out / rd.CHECKPOINT).exists():
        raise ValueError(f"{args.out} already holds a run with a checkpoint; continue it with --resume "
                         f"{args.out}, or choose another --out")
    return cfg, args.out, False


def run_train(args: argparse.Namespace) -> int:
    from ssrl_core.train import jobs
    from ssrl_core.train.loop import train

    cfg, run_dir, resume = _config_and_dir(args)
    if args.background:
        path = jobs.launch(cfg, run_dir, gpus=args.gpus)
        emit({"run_dir": str(path), "state": "queued"}, args.json, f"started in the background: {path}")
        return 0
    bar = None
    if not args.json:
        from tqdm import tqdm

        print(f"run directory: {run_dir}", flush=True)
        bar = tqdm(total=None, unit="step", desc=cfg.name, dynamic_ncols=True)

    def progress(rec: dict) -> None:
        bar.total = rec.get("total_steps")
        bar.update(rec["step"] - bar.n)
        bar.set_postfix(epoch=rec.get("epoch"), loss=f"{rec.get('loss', float('nan')):.4f}", refresh=False)

    try:
        result = train(cfg, run_dir, progress=progress if bar is not None else None, resume=resume)
    finally:
        if bar is not None:
            bar.close()
    result["run_dir"] = str(run_dir)
    text = (f"{result['state']} at step {result['step']}; checkpoint: {result['checkpoint']}"
            + (f" ({result['error']})" if result.get("error") else ""))
    emit(result, args.json, text)
    return 0


def run_runs(args: argparse.Namespace) -> int:
    from ssrl_core.train import jobs

    runs = jobs.list_runs(args.dir)
    lines = [f"{'RUN':<52} {'STATE':<9} {'PROGRESS':>8}  STEP  METHOD / BACKBONE"]
    for r in runs:
        prog = f"{100 * float(r.get('progress') or 0):.0f}%"
        lines.append(f"{r['run']:<52} {r['state']:<9} {prog:>8} {r.get('step', 0) or 0:>5}  "
                     f"{r.get('method', '')} / {r.get('backbone', '')}" + (f"  [{r['error']}]" if r.get("error") else ""))
    emit({"runs": runs}, args.json, "\n".join(lines) if runs else "no runs yet")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from ssrl_core.train import jobs

    status = jobs.stop(args.run_dir, wait=args.wait)
    emit(status, args.json, f"{args.run_dir}: {status['state']}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ssrl_core.train.checkpoint import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out, half=not args.full_precision)
    size = out.stat().st_size
    emit({"out": str(out), "bytes": size, "half": not args.full_precision}, args.json,
         f"wrote {out} ({size / 1e6:.1f} MB)")
    return 0
