"""Projection and prediction heads (MLPs) used by the SSL methods.

- MoCo v2 (Chen et al. 2020, "Improved baselines"): Linear-ReLU-Linear, no BN.
- SimCLR (Chen et al. 2020) and BYOL (Grill et al. 2020): Linear-BN-ReLU-Linear.
- VICReg (Bardes et al. 2022) and Barlow Twins (Zbontar et al. 2021): 3 layers,
  (Linear-BN-ReLU) x 2 then Linear.
"""

from __future__ import annotations

from torch import nn


def mlp(in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2,
        batch_norm: bool = True, last_bias: bool = True) -> nn.Sequential:
    """`num_layers` Linear layers; the hidden ones are followed by (BN and) ReLU."""
    if num_layers < 1:
        raise ValueError(f"An MLP needs at least 1 layer, got num_layers={num_layers}.")
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(num_layers - 1):
        layers.append(nn.Linear(dim, hidden_dim, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden_dim))
        layers.append(nn.ReLU(inplace=True))
        dim = hidden_dim
    layers.append(nn.Linear(dim, out_dim, bias=last_bias))
    return nn.Sequential(*layers)
