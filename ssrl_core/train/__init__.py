"""Training: run configs, the training loop, checkpoints, background jobs, several GPUs.

`load_config(path, overrides) -> RunConfig`; `train(config, run_dir, progress=None, resume=False)`;
`python -m ssrl_core.train RUN_DIR` (also under `torchrun`); checkpoints in `checkpoint`;
background runs for the app in `jobs`. See docs/training.md.
"""

from ssrl_core.train.config import ConfigError, RunConfig, load_config
from ssrl_core.train.loop import LossNotFinite, train

__all__ = ["ConfigError", "LossNotFinite", "RunConfig", "load_config", "train"]
