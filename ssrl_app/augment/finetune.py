"""Start a short fine-tune of the shipped base encoder `cells_base` with one recipe, from any page.

The Augment page's advisor uses it: one click trains the chosen recipe for a few CPU-minutes from
`cells_base` on the cells in use, through the same job launcher as the Train page
(`ssrl_core.train.jobs.launch`), with the Train page's short-run defaults
(`ssrl_core.train.defaults`) and the base encoder's backbone, per-channel mode and crop size
(`checkpoints.start_options`). The run is then followed on the Train page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssrl_app.shell import checkpoints, selection, sidebar, state
from ssrl_core.augment import Recipe
from ssrl_core.devices import resolve_device
from ssrl_core.train import jobs
from ssrl_core.train.config import RunConfig
from ssrl_core.train.defaults import short_run_defaults

BASE = "cells_base"


def base_start(n_channels: int, side: int) -> tuple[dict[str, Any] | None, str | None]:
    """(the config fields that start from `cells_base`, None) or (None, why it cannot start here)."""
    fields = next((v for v in checkpoints.start_options([]).values() if v.get("init") == BASE), None)
    if fields is None:
        return None, f"the base encoder {BASE} is not installed (pretrained/index.json)"
    why = checkpoints.start_misfit(fields, n_channels, side)
    return (None, why) if why else (fields, None)


def config(name: str, recipe: Recipe, minutes: float, fields: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """The run configuration: `recipe` on the cells in use of dataset `name`, from `cells_base`."""
    defaults = short_run_defaults(resolve_device("auto")[0].type)
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in recipe.name)[:40].strip("-") or "recipe"
    return {"name": f"finetune-{slug}", "data": {"name": str(name), "filter": selection.train_filter(name)},
            "recipes": [{"recipe": recipe.to_dict(), "weight": 1.0}], "method": defaults["method"],
            "batch_size": defaults["batch_size"], "lr": defaults["lr"], "optimizer": defaults["optimizer"],
            "weight_decay": defaults["weight_decay"], "warmup_epochs": defaults["warmup_epochs"],
            "epochs": 100000, "max_minutes": float(minutes), "seed": int(seed), "device": "auto", **fields}


def start(name: str, recipe: Recipe, minutes: float, n_channels: int, side: int) -> Path:
    """Launch the fine-tune as a background job, make it the Train page's followed run; its folder."""
    fields, why = base_start(n_channels, side)
    if fields is None:
        raise ValueError(f"cannot fine-tune {BASE} on these cells: {why}")
    run_dir = jobs.launch(RunConfig.from_dict(config(name, recipe, minutes, fields)))
    state.put(state.ACTIVE_RUN, str(run_dir))
    sidebar.running_jobs.clear()  # the sidebar lists the new job at once
    return run_dir
