"""Every field of a run config, declared once: its default, its valid range or choices, its help.

`FIELDS` maps the dotted path of each field (`crop_size`, `data.max_cells`, `recipes.weight`) to
an `ssrl_core.params.Param`, the type the methods and the augmentation steps use for their own
parameters (Bendidi et al. 2024, section 3: the recipe, the method and the training set-up are
the experimental variables, each checkable before a run starts). The dataclasses of
`train.config` take each default from here (`declared`), `train.checks` validates against these
ranges, and the Train page draws its widgets from them, so the three never disagree.

Choices that are registries (methods, backbones, devices, precisions) are read from those
registries. The groups `data`, `method` and each entry of `recipes` are sections (dataclasses)
whose own fields are declared here under their dotted path.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from ssrl_core.devices import DEVICES, PRECISIONS
from ssrl_core.methods import METHODS
from ssrl_core.models import BACKBONES
from ssrl_core.params import Param

PARAM = "param"  # the dataclass field metadata key holding a field's declaration
DEFAULT_RECIPES = ("mnist-set1",)  # the presets of a config that names none
_BIG = 10**9


def _f(kind: str, default: Any, help: str, low: float | None = None, high: float | None = None,
       label: str = "", **kw: Any) -> Param:
    return Param(kind, default, help, low, high, label=label, **kw)


FIELDS: dict[str, Param] = {
    "name": _f("text", "run", "A short name for the run; its folder is named after it.", label="Run name"),
    "data.name": _f("text", "mnist-5k", "A dataset name (see `ssrl data list`) or the path of a cell file.",
                    label="Cells"),
    "data.filter": _f("mapping", {}, "Keep the cells whose metadata matches, e.g. {compound: [taxol, DMSO]} "
                                     "(a list means any of)."),
    "data.exclude": _f("mapping", {}, "Drop the cells whose metadata matches (e.g. a held-out plate)."),
    "data.max_cells": _f("int", None, "Train on a random subset of at most this many cells (seeded by the run "
                                      "seed); left out: all cells.", 2, _BIG,
                         label="Use at most this many cells (0 = all)", optional=True),
    "recipes.preset": _f("text", None, "The name of an augmentation preset (see `ssrl recipe list`).",
                         optional=True),
    "recipes.recipe": _f("mapping", None, "An inline augmentation recipe (steps and their parameters).",
                         optional=True),
    "recipes.weight": _f("float", 1.0, "The weight of this recipe's loss in the sum the run minimises (the "
                                       "paper's section 3.4).", 0.0, 1000.0, label="Weight"),
    "method.name": _f("choice", "moco_v2", "How the network learns that two views are the same cell. MoCo v2 "
                                          "is the paper's choice; SimCLR learns the most in a few CPU-minutes.",
                      choices=tuple(METHODS), label="Method"),
    "method.params": _f("mapping", {}, "The method's own settings (each method declares their ranges)."),
    "backbone": _f("choice", "resnet18", "The network that turns a cell into numbers. Bigger ones see more but "
                                         "train slower.", choices=tuple(BACKBONES), label="Network (backbone)"),
    "pretrained": _f("bool", False, "Start from ImageNet weights (torchvision backbones only)."),
    "per_channel": _f("bool", False, "One encoder per channel, their features side by side."),
    "init": _f("text", None, "Fine-tune: start from a shipped encoder, a run folder or a checkpoint.",
               optional=True),
    "freeze": _f("int", 0, "When fine-tuning: the first N stages of the encoder keep their weights, so a CPU run "
                           "trains only the later ones (faster, keeps low-level features).", 0, 8,
                 label="Keep the first stages fixed"),
    "crop_size": _f("int", 64, "Cells are resized to this many pixels per side before training.", 16, 1024,
                    label="Image size (px)"),
    "epochs": _f("int", 10, "How many times the run goes through all cells (the time budget may end it sooner).",
                 1, 100_000, label="Passes over the cells (epochs)"),
    "batch_size": _f("int", 64, "How many cells the network looks at per step. Larger: steadier learning, more "
                                "memory.", 2, 65_536, label="Cells per step (batch)"),
    "optimizer": _f("choice", "adamw", "The optimiser.", choices=("adam", "adamw", "sgd")),
    "lr": _f("float", 1e-3, "How big each learning step is. The default is measured to work for short runs.",
             1e-9, None, label="Learning rate"),
    "weight_decay": _f("float", 1e-4, "Weight decay of the optimiser.", 0.0, 10.0),
    "momentum": _f("float", 0.9, "SGD momentum (with optimizer: sgd).", 0.0, 1.0),
    "schedule": _f("choice", "cosine", "How the learning rate changes over the run.", choices=("cosine", "constant")),
    "warmup_epochs": _f("float", 0.0, "Epochs of linear learning-rate warm-up.", 0.0, 100_000.0),
    "seed": _f("int", 0, "A number that fixes the random choices; the same seed gives the same run.", 0, 2**32 - 1,
               label="Random seed"),
    "device": _f("choice", "auto", "auto uses the GPU when there is one.", choices=tuple(DEVICES), label="Device"),
    "precision": _f("choice", "auto", "auto: bf16 autocast on a GPU, float32 on a CPU.", choices=tuple(PRECISIONS)),
    "num_workers": _f("int", "auto", "Data loader processes; auto: chosen from the CPU cores per GPU.", 0, 256,
                      words=("auto",)),
    "cpu_threads": _f("int", 0, "Torch threads on a CPU (0: torch's choice).", 0, 4096),
    "channels_last": _f("bool", True, "Channels-last memory layout on a GPU."),
    "sync_batchnorm": _f("bool", "auto", "Batch norm over all GPUs; auto: on for the methods whose papers use it.",
                         words=("auto",)),
    "augment_on": _f("choice", "cpu", "Where views are made: DataLoader workers (cpu) or batched on the training "
                                      "device.", choices=("cpu", "device")),
    "compile": _f("bool", False, "torch.compile the model."),
    "checkpoint_every": _f("int", 0, "Also keep checkpoint_epoch{N}.pt every N epochs (0: never).", 0, 100_000),
    "checkpoint_steps": _f("int", 0, "Save checkpoint.pt every N steps (0: by time only).", 0, _BIG),
    "checkpoint_minutes": _f("float", 10.0, "Save checkpoint.pt at least every this many minutes.", 0.0, 10080.0),
    "max_steps": _f("int", None, "Stop after this many steps; left out: no limit.", 1, _BIG, optional=True),
    "max_minutes": _f("float", None, "The run ends after this many minutes of training (the learning rate decays "
                                     "over the budget), or after the epochs, whichever comes first; left out: no "
                                     "limit.", 0.001, 10080.0, label="Time budget (minutes, 0 = no limit)",
                      optional=True),
    "log_every": _f("int", 10, "Write the loss every N steps.", 1, 10**6),
    "drop_last": _f("bool", True, "Drop the last incomplete batch of each epoch."),
}


def declared(path: str) -> Any:
    """The dataclass field of the run config field `path`: its default (a fresh copy of a mapping)
    and, in the field's metadata, its declaration."""
    spec = FIELDS[path]
    if isinstance(spec.default, dict):
        return field(default_factory=lambda: dict(spec.default), metadata={PARAM: spec})
    return field(default=spec.default, metadata={PARAM: spec})


def float_paths() -> tuple[str, ...]:
    """The fields that hold a number with a fraction (PyYAML reads `3e-4` as text: `train.config`
    reads such a text as the number it is)."""
    return tuple(k for k, p in FIELDS.items() if p.kind == "float")


def value_in(run: dict[str, Any], path: str) -> Any:
    """The value of run field `path` (dotted) in the raw run config `run` (e.g. the short run), else
    its declared default: what a form built from the fields starts with."""
    group, _, key = path.rpartition(".")
    where = (run.get(group) or {}) if group else run
    return where.get(key, FIELDS[path].default)
