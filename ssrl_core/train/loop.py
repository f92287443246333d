"""The training loop: `train(config, run_dir, progress=None, resume=False) -> dict`.

One loop for one CPU, one GPU (bf16 autocast) or several GPUs under torchrun (DDP). Progress goes
to the run directory (status.json, metrics.jsonl, train.log, checkpoints), written by rank 0.
The run stops cleanly on Ctrl-C / SIGTERM / a `stop` file (checkpoint saved, state `stopped`),
on a NaN/inf loss (state `failed`, the last good checkpoint kept; seen at the next log step:
`train.agree`), and on a full disk (state `stopped`, files consistent: `train.diskfull`).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import torch

from ssrl_core.devices import resolve_device
from ssrl_core.io import atomic_write, atomic_write_text
from ssrl_core.models.encoder_file import EncoderFacts, load_checkpoint
from ssrl_core.oserrors import is_disk_full, plain
from ssrl_core.train import checkpoint as ckpt_io
from ssrl_core.train import data as run_data
from ssrl_core.train import distributed as dist_
from ssrl_core.train import rundir as rd
from ssrl_core.train.agree import DeviceTally, agree
from ssrl_core.train.budget import Clock
from ssrl_core.train.config import RunConfig, load_config
from ssrl_core.train.device_views import DeviceViews, device_recipes
from ssrl_core.train.diskfull import TrainingStopped, stop_for_full_disk
from ssrl_core.train.guards import StopSignals, check_resume, not_finite_message
from ssrl_core.train.loader import RunBatches, TimedBatches, build_loader, choose_workers
from ssrl_core.train.model import build_model, build_optimizer, lr_at, lr_at_share, rng_state, set_lr, set_rng_state
from ssrl_core.train.placement import checksum, peak_memory_mib, place_model, scale_notes, wrap_model
from ssrl_core.train.start_from import check_parent, keep_frozen_eval, parent_info

Progress = Callable[[dict[str, Any]], None]


class LossNotFinite(RuntimeError):
    """The loss became NaN or infinite."""


def train(config: RunConfig | str | Path, run_dir: str | Path, progress: Progress | None = None,
          resume: bool = False) -> dict[str, Any]:
    """Train one run into `run_dir`; returns the final status (state, step, checkpoint, metrics).

    The process owns `run_dir` while it trains (`rundir.lock`: a second start raises `RunLocked`),
    and a resume that does not fit the checkpoint is refused before any file is written."""
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 owns (and writes) the directory
        return _train(cfg, run_dir, progress, resume)
    with rd.lock(run_dir):
        start = check_resume(cfg, run_dir, resume)
        rd.truncate_metrics(run_dir, start)  # records past the checkpoint belong to a lost future
        return _train(cfg, run_dir, progress, resume)


def _train(cfg: RunConfig, run_dir: Path, progress: Progress | None, resume: bool) -> dict[str, Any]:
    device, bf16 = resolve_device(cfg.device, cfg.precision)
    info = dist_.setup(device.type)
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    main = info.is_main
    log = rd.run_logger(run_dir, main)
    status = lambda **kw: rd.write_status(run_dir, **kw) if main else {}  # noqa: E731
    if main:
        rd.clear_stop(run_dir, keep_if_queued=True)  # a Stop pressed while the job was starting is kept
        text = cfg.to_yaml()  # the launcher has usually written it already: rewrite only a different one
        if not (run_dir / rd.CONFIG).is_file() or (run_dir / rd.CONFIG).read_text(encoding="utf-8") != text:
            atomic_write_text(run_dir / rd.CONFIG, text)
        status(state="running", name=cfg.name, pid=os.getpid(), pid_start=rd.proc_start(os.getpid()),
               started=rd.now_iso(), error=None,
               device=str(device), precision="bf16" if bf16 else "fp32", world_size=info.world, progress=0.0,
               method=cfg.method.name, backbone=cfg.backbone, dataset=cfg.data.name, epochs=cfg.epochs)
    threads = torch.get_num_threads()
    if cfg.cpu_threads and device.type == "cpu":
        torch.set_num_threads(cfg.cpu_threads)
    loop, ended = None, False
    try:
        with StopSignals() as sig:
            loop = _Loop(cfg, run_dir, device, bf16, info, log, progress, sig)
            result = loop.run(resume)
            ended = True  # every rank ends the same step (agreed), so they can wait for each other
            return result
    except BaseException as exc:
        if main and isinstance(exc, OSError) and is_disk_full(exc):
            raise TrainingStopped(stop_for_full_disk(run_dir, loop and loop.saved_step, loop.step if loop else 0,
                                                     log)) from exc
        if main and not isinstance(exc, LossNotFinite):
            reason = ("interrupted" if isinstance(exc, KeyboardInterrupt) else plain(exc)
                      if isinstance(exc, (OSError, MemoryError)) else f"{type(exc).__name__}: {exc}")
            state = "stopped" if isinstance(exc, KeyboardInterrupt) else "failed"
            status(state=state, error=reason)
            log.error("run %s: %s", state, reason)
        raise
    finally:
        torch.set_num_threads(threads)
        rd.close_logger(log)
        dist_.cleanup(info, finished=ended)


class _Loop:
    def __init__(self, cfg, run_dir, device, bf16, info, log, progress, sig) -> None:
        self.cfg, self.run_dir, self.device, self.bf16 = cfg, run_dir, device, bf16
        self.info, self.log, self.progress, self.sig = info, log, progress, sig
        self.main = info.is_main
        self.step, self.saved_step = 0, None  # saved_step: the step of the last complete checkpoint.pt

    def _status(self, **kw: Any) -> None:
        if self.main:
            rd.write_status(self.run_dir, **kw)

    def _setup(self, resume: bool) -> None:
        cfg = self.cfg
        torch.manual_seed(cfg.seed)  # the same initial weights and method state on every rank
        cells = run_data.load_cells(cfg.data, cfg.seed)
        self.cells, self.recipes = cells, run_data.resolve_recipes(cfg.recipes)
        run_data.check_channels(self.recipes, cells.images.shape[-1])  # every check before the pixels are scaled
        self.ckpt, last, self.parent = None, self.run_dir / rd.CHECKPOINT, None
        if resume and last.is_file():  # resumed: the weights come from the run's own checkpoint
            self.ckpt = load_checkpoint(last)
            facts = EncoderFacts.of(self.ckpt)
            self.parent = facts.parent
            images01, lo, hi = run_data.prepare_images_with(cells, facts.lo, facts.hi)
        else:
            self.parent = parent_info(cfg.init) if cfg.init else None
            if self.parent:
                check_parent(self.parent, cfg.backbone, cfg.per_channel, cells.images.shape[-1])
            images01, lo, hi = run_data.prepare_images(cells)
        self.lo, self.hi = lo, hi
        on_device = device_recipes(self.recipes, cfg.augment_on)
        self.dataset = run_data.ViewPairs(images01, self.recipes, cfg.crop_size, cfg.seed, on_device)
        self.device_views = DeviceViews(self.recipes, on_device, cfg.crop_size, cfg.seed, self.info.rank)
        self.sampler = run_data.EpochSampler(len(self.dataset), cfg.seed, self.info.rank, self.info.world,
                                    cfg.batch_size, cfg.drop_last)
        self.steps_per_epoch = self.sampler.batches_per_epoch()
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch_size {cfg.batch_size} is larger than the {len(self.dataset) // self.info.world} "
                             "cells each process has; lower batch_size or use more cells")
        full = cfg.epochs * self.steps_per_epoch
        self.total_steps = min(full, cfg.max_steps) if cfg.max_steps else full
        self.model, self.feat_dim = build_model(cfg, cells.images.shape[-1], None if self.ckpt else self.parent)
        if self.parent and self.ckpt is None:
            self.log.info("starting from %s (%s)", cfg.init, self.parent["file"])
        self.clock = Clock(cfg.max_minutes, float(self.ckpt.get("train_seconds", 0.0)) if self.ckpt is not None else 0.0,
                           self.info, self.device)
        self.global_bn, self.fmt = place_model(self.model, cfg, self.device, self.info)
        self.opt = build_optimizer(cfg, self.model)
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        if self.ckpt is not None:
            self.model.load_state_dict(self.ckpt["model"])
            if self.ckpt.get("optimizer"):
                self.opt.load_state_dict(self.ckpt["optimizer"])
            self.step, self.epoch = int(self.ckpt["step"]), int(self.ckpt["epoch"])
            self.saved_step = self.step
            self.batch_in_epoch = int(self.ckpt.get("batch_in_epoch", 0))
            set_rng_state(self.ckpt.get("rng"))
            self.log.info("resumed from %s at step %d (epoch %d)", last.name, self.step, self.epoch + 1)
        self.net = wrap_model(self.model, cfg, self.device, self.info)
        self.prefix = next(n for n, m in self.model.named_modules() if m is self.model.backbone) + "."

    def _save(self, name: str, metrics: dict[str, Any]) -> Path | None:
        if not self.main:
            return None
        cfg = self.cfg
        facts = EncoderFacts(backbone=cfg.backbone, in_channels=int(self.cells.images.shape[-1]),
                             crop_size=cfg.crop_size, channels=tuple(self.cells.channels),
                             lo=tuple(float(x) for x in self.lo), hi=tuple(float(x) for x in self.hi),
                             per_channel=bool(cfg.per_channel), parent=self.parent)
        state = {"model": self.model.state_dict(), "encoder_prefix": self.prefix,
                 "optimizer": self.opt.state_dict(), "config": cfg.to_dict(), "method": cfg.method.name,
                 **facts.to_dict(), "feat_dim": int(self.feat_dim),
                 "recipes": [r.to_dict() for r in self.recipes], "recipe_weights": [r.weight for r in cfg.recipes],
                 "dataset": cfg.data.name, "cells": len(self.cells), "metrics": metrics, "epoch": self.epoch,
                 "step": self.step, "batch_in_epoch": self.batch_in_epoch, "rng": rng_state(), "half": False,
                 "freeze": int(cfg.freeze), "train_seconds": round(self.clock.seconds(), 2)}
        path = ckpt_io.save_checkpoint(self.run_dir / name, state)
        if name == rd.CHECKPOINT:
            self.saved_step, self.saved_at = self.step, time.time()
        return path

    def run(self, resume: bool) -> dict[str, Any]:
        """Train to the end (steps, epochs, time), a stop or a non-finite loss; the host reads the
        device only at agreement points (`train.agree`): log steps, the end, epoch copies, time up."""
        self._setup(resume)
        cfg, t0 = self.cfg, time.time()
        self.clock.restart()
        start_step, last = self.step, {}
        if self.step >= self.total_steps:
            return self._finish("finished", last, None)
        tally, t_int, self.saved_at = DeviceTally(self.device), time.time(), time.time()
        pairs = cfg.batch_size * self.info.world * len(self.recipes)
        self.workers = choose_workers(cfg.num_workers, self.device)
        batches = RunBatches(self.sampler, cfg.epochs, self.epoch, self.batch_in_epoch)
        loader = TimedBatches(build_loader(self.dataset, batches, self.workers, pin=self.device.type == "cuda"))
        self.log.info("training %s on %d cells (%s), %d steps/epoch, device %s, %d loader worker(s)%s", cfg.name,
                      len(self.cells), cfg.data.name, self.steps_per_epoch, self.device, self.workers,
                      ", batch norm over the global batch" if self.global_bn else "")
        for note in scale_notes(cfg, self.info.world):
            self.log.warning(note)
        self.model.train()
        keep_frozen_eval(self.model.frozen)
        for views in loader:
            views = [v.to(self.device, non_blocking=True, memory_format=self.fmt) for v in views]
            views = self.device_views(views, self.step, self.fmt)  # no-op unless `augment_on: device`
            share = self.clock.share_at(self.step)
            lr = lr_at(cfg, self.step, self.total_steps, self.steps_per_epoch) if share is None \
                else lr_at_share(cfg, share)
            set_lr(self.opt, lr)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                terms = self.net(*views)
            self.opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            self.opt.step()
            after = self.clock.share_at(self.step + 1)
            self.model.after_step((self.step + 1) / self.total_steps if after is None else after)
            tally.add(terms, self.step)
            self.step += 1
            self.batch_in_epoch += 1
            if self.progress and self.main:
                self.progress({"step": self.step, "total_steps": self.total_steps, "epoch": self.epoch + 1,
                               "loss": last.get("loss", float("nan")), "lr": lr})
            epoch_no, end_epoch = self.epoch + 1, self.batch_in_epoch >= self.steps_per_epoch
            if end_epoch:
                self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            keep_epoch = end_epoch and cfg.checkpoint_every and epoch_no % cfg.checkpoint_every == 0
            timed_out = after is not None and after >= 1.0
            stop = self.sig.reason is not None or (self.main and rd.stop_requested(self.run_dir))  # host only
            if not (self.step % cfg.log_every == 0 or self.step >= self.total_steps or keep_epoch or timed_out
                    or (stop and not self.info.enabled)):  # one process stops at once; several at a log step
                continue
            ag = agree(tally, stop, self.clock.share(), self.info)  # the interval's one read (and all_reduce)
            self.clock.agreed(ag.share, self.step)
            if ag.first_bad is not None:
                self._not_finite(ag.sums, lr, ag.first_bad)
            dt = max(time.time() - t_int, 1e-9)
            last = {"step": self.step, "epoch": epoch_no, **ag.means, "lr": lr,
                    "pairs_per_s": round(pairs * tally.count / dt, 2), "elapsed_s": round(time.time() - t0, 2),
                    "data_wait_share": round(min(1.0, loader.take() / dt), 3)}
            self._report(last, t0, start_step)
            tally.reset()
            t_int = time.time()
            if ag.stop:
                return self._finish("stopped", last, f"stopped by {self.sig.reason or 'the stop file'}")
            done = self.step >= self.total_steps or (ag.share is not None and ag.share >= 1.0)
            if keep_epoch or (not done and self._save_due()):
                self._save(rd.CHECKPOINT, last)
            if keep_epoch and self.main:
                src = self.run_dir / rd.CHECKPOINT  # the same state: copy it, atomically
                atomic_write(self.run_dir / rd.epoch_checkpoint_name(self.epoch), lambda p: shutil.copyfile(src, p))
            if done:
                break
        return self._finish("finished", last, None)

    def _save_due(self) -> bool:
        """A periodic checkpoint is due (`checkpoint_steps` steps or `checkpoint_minutes` since the last)."""
        steps, minutes = self.cfg.checkpoint_steps, self.cfg.checkpoint_minutes
        return bool(steps and self.step - (self.saved_step or 0) >= steps) or bool(
            minutes and time.time() - self.saved_at >= 60.0 * minutes)

    def _report(self, record: dict[str, Any], t0: float, start_step: int) -> None:
        if self.main:
            rd.append_metrics(self.run_dir, record)
            eta = rd.eta_seconds(time.time() - t0, self.step - start_step, self.total_steps - start_step)
            done = self.step / self.total_steps
            share = self.clock.share(sync=False)  # rank 0 only: no collective here
            if share is not None and share > done:  # a time budget ends the run first
                done, eta = share, self.clock.left(share)
            self._status(state="running", step=self.step, total_steps=self.total_steps, epoch=record["epoch"],
                         epochs=self.cfg.epochs, progress=round(done, 4), eta_seconds=eta, loss=record.get("loss"))
            self.log.info("step %d epoch %d loss %.4f lr %.2e %.1f pairs/s", self.step, record["epoch"],
                          record.get("loss", float("nan")), record["lr"], record["pairs_per_s"])

    def _not_finite(self, sums: dict[str, torch.Tensor], lr: float, step: int) -> None:
        """Fail the run: the loss of (0-based) `step` was the first not finite (on some rank)."""
        msg = not_finite_message(sums, lr, step, step // self.steps_per_epoch, self.cfg.lr)
        self._status(state="failed", error=msg, step=step)
        self.log.error(msg)
        raise LossNotFinite(msg)

    def _finish(self, state: str, last: dict[str, Any], reason: str | None) -> dict[str, Any]:
        path = self._save(rd.CHECKPOINT, last) if self.saved_step != self.step else self.run_dir / rd.CHECKPOINT
        dist_.barrier(self.info)
        out = {"state": state, "step": self.step, "epoch": self.epoch, "total_steps": self.total_steps,
               "checkpoint": str(path or self.run_dir / rd.CHECKPOINT), "metrics": last, "error": reason,
               "rank": self.info.rank, "world_size": self.info.world, "param_checksum": checksum(self.model.backbone),
               "buffer_checksum": checksum(self.model.backbone, "buffers"), "global_batchnorm": self.global_bn,
               "loader_workers": getattr(self, "workers", 0), "peak_memory_mib": peak_memory_mib(self.device)}
        if self.main:
            done = 1.0 if state == "finished" else round(self.step / self.total_steps, 4)
            epoch = self.epoch + (1 if self.batch_in_epoch else 0)
            self._status(state=state, step=self.step, epoch=epoch, progress=done, eta_seconds=0.0,
                         error=reason, loss=last.get("loss"), checkpoint=rd.CHECKPOINT)
            self.log.info("run %s at step %d%s", state, self.step, f" ({reason})" if reason else "")
        return out
