"""The five pure loss functions against independent references (numpy, explicit loops)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssrl_core.methods.barlow_twins import barlow_twins_loss, cross_correlation
from ssrl_core.methods.byol import byol_loss
from ssrl_core.methods.moco_v2 import infonce_loss
from ssrl_core.methods.simclr import nt_xent_loss
from ssrl_core.methods.vicreg import vicreg_loss


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=1)


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------- MoCo v2 / InfoNCE
def _infonce_ref(q: np.ndarray, k: np.ndarray, queue: np.ndarray, t: float) -> float:
    total = 0.0
    for i in range(len(q)):
        pos = np.exp(np.dot(q[i], k[i]) / t)
        neg = sum(np.exp(np.dot(q[i], queue[j]) / t) for j in range(len(queue)))
        total += -np.log(pos / (pos + neg))
    return total / len(q)


def test_infonce_matches_reference() -> None:
    q, k, queue = _unit(5, 8, seed=1), _unit(5, 8, seed=2), _unit(7, 8, seed=3)
    got = infonce_loss(q, k, queue, 0.2).item()
    assert got == pytest.approx(_infonce_ref(q.numpy(), k.numpy(), queue.numpy(), 0.2), rel=1e-9)


def test_infonce_is_low_when_key_matches_and_rejects_bad_shapes() -> None:
    q, queue = _unit(4, 8, seed=1), _unit(16, 8, seed=3)
    assert infonce_loss(q, q, queue, 0.1) < infonce_loss(q, _unit(4, 8, seed=9), queue, 0.1)
    with pytest.raises(ValueError, match="queue"):
        infonce_loss(q, q, _unit(16, 7), 0.2)


# ---------------------------------------------------------------- SimCLR / NT-Xent
def _nt_xent_ref(z1: np.ndarray, z2: np.ndarray, t: float, rows: list[int] | None = None) -> float:
    z = np.concatenate([z1, z2])
    n2 = len(z)
    n = n2 // 2
    rows = list(range(n2)) if rows is None else rows
    losses = []
    for i in rows:
        denom = sum(np.exp(z[i] @ z[j] / t) for j in range(n2) if j != i)
        losses.append(-np.log(np.exp(z[i] @ z[(i + n) % n2] / t) / denom))
    return float(np.mean(losses))


def test_nt_xent_matches_reference_and_is_symmetric() -> None:
    z1, z2 = _unit(6, 5, seed=4), _unit(6, 5, seed=5)
    got = nt_xent_loss(z1, z2, 0.5).item()
    assert got == pytest.approx(_nt_xent_ref(z1.numpy(), z2.numpy(), 0.5), rel=1e-9)
    assert got == pytest.approx(nt_xent_loss(z2, z1, 0.5).item(), rel=1e-12)


def test_nt_xent_with_gathered_negatives_scores_only_local_rows() -> None:
    """Rank 1 of 3 ranks: its loss is the reference restricted to its own 2B rows."""
    b = 3
    z1_all, z2_all = _unit(3 * b, 4, seed=6), _unit(3 * b, 4, seed=7)
    local = slice(b, 2 * b)
    got = nt_xent_loss(z1_all[local], z2_all[local], 0.3, z1_all, z2_all, offset=b).item()
    rows = list(range(b, 2 * b)) + list(range(3 * b + b, 3 * b + 2 * b))
    assert got == pytest.approx(_nt_xent_ref(z1_all.numpy(), z2_all.numpy(), 0.3, rows), rel=1e-9)
    with pytest.raises(ValueError, match="offset"):
        nt_xent_loss(z1_all[local], z2_all[local], 0.3, z1_all, z2_all, offset=3 * b)


# ---------------------------------------------------------------- BYOL
def test_byol_loss_matches_reference_and_is_symmetric() -> None:
    p1, p2, t1, t2 = (_rand(5, 6, seed=s) for s in range(4))
    ref = 0.0
    for p, t in ((p1, t2), (p2, t1)):
        p, t = p.numpy(), t.numpy()
        ref += np.mean([2 - 2 * p[i] @ t[i] / (np.linalg.norm(p[i]) * np.linalg.norm(t[i])) for i in range(5)])
    assert byol_loss(p1, p2, t1, t2).item() == pytest.approx(ref, rel=1e-9)
    assert byol_loss(p2, p1, t2, t1).item() == pytest.approx(ref, rel=1e-9)
    assert byol_loss(p1, p2, p2, p1).item() == pytest.approx(0.0, abs=1e-12)  # perfect prediction
    with pytest.raises(ValueError, match="equal shape"):
        byol_loss(p1, p2, t1, t2[:, :3])


def test_byol_loss_gives_no_gradient_to_the_target() -> None:
    p1, p2 = _rand(4, 3, seed=1).requires_grad_(), _rand(4, 3, seed=2).requires_grad_()
    t1, t2 = _rand(4, 3, seed=3).requires_grad_(), _rand(4, 3, seed=4).requires_grad_()
    byol_loss(p1, p2, t1, t2).backward()
    assert p1.grad is not None and t1.grad is None and t2.grad is None


# ---------------------------------------------------------------- VICReg
def test_vicreg_terms_match_numpy_reference() -> None:
    z1, z2 = _rand(7, 5, seed=8), 0.3 * _rand(7, 5, seed=9)
    a, b = z1.numpy(), z2.numpy()
    inv = np.mean((a - b) ** 2)
    var = 0.5 * sum(np.mean(np.maximum(0, 1 - np.sqrt(x.var(axis=0, ddof=1) + 1e-4))) for x in (a, b))
    cov = 0.0
    for x in (a, b):
        c = np.cov(x, rowvar=False)
        cov += sum(c[i, j] ** 2 for i in range(5) for j in range(5) if i != j) / 5
    out = vicreg_loss(z1, z2, 25.0, 25.0, 1.0)
    assert out["invariance"].item() == pytest.approx(inv, rel=1e-9)
    assert out["variance"].item() == pytest.approx(var, rel=1e-9)
    assert out["covariance"].item() == pytest.approx(cov, rel=1e-9)
    assert out["loss"].item() == pytest.approx(25 * inv + 25 * var + cov, rel=1e-9)
    swapped = vicreg_loss(z2, z1)
    assert all(swapped[k].item() == pytest.approx(out[k].item(), rel=1e-12) for k in out)


def test_vicreg_variance_and_covariance_use_gathered_batch() -> None:
    z1, z2 = _rand(4, 3, seed=1), _rand(4, 3, seed=2)
    z1_all, z2_all = torch.cat([z1, _rand(4, 3, seed=3)]), torch.cat([z2, _rand(4, 3, seed=4)])
    local = vicreg_loss(z1, z2)
    gathered = vicreg_loss(z1, z2, z1_all=z1_all, z2_all=z2_all)
    full = vicreg_loss(z1_all, z2_all)
    assert gathered["invariance"].item() == pytest.approx(local["invariance"].item())
    assert gathered["covariance"].item() == pytest.approx(full["covariance"].item())
    assert gathered["covariance"].item() != pytest.approx(local["covariance"].item())
    with pytest.raises(ValueError, match="at least 2"):
        vicreg_loss(z1[:1], z2[:1])


# ---------------------------------------------------------------- Barlow Twins
def _barlow_ref(a: np.ndarray, b: np.ndarray, lambd: float) -> tuple[float, float]:
    n, d = a.shape
    an = (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5)
    bn = (b - b.mean(0)) / np.sqrt(b.var(0) + 1e-5)
    c = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            c[i, j] = sum(an[k, i] * bn[k, j] for k in range(n)) / n
    on = sum((1 - c[i, i]) ** 2 for i in range(d))
    off = sum(c[i, j] ** 2 for i in range(d) for j in range(d) if i != j)
    return on, off


def test_barlow_twins_matches_reference_with_batchnorm() -> None:
    z1, z2 = _rand(6, 4, seed=10), _rand(6, 4, seed=11)
    bn = torch.nn.BatchNorm1d(4, affine=False).double().train()
    out = barlow_twins_loss(cross_correlation(bn(z1), bn(z2)), lambd=5e-3)
    on, off = _barlow_ref(z1.numpy(), z2.numpy(), 5e-3)
    assert out["on_diag"].item() == pytest.approx(on, rel=1e-7)
    assert out["off_diag"].item() == pytest.approx(off, rel=1e-7)
    assert out["loss"].item() == pytest.approx(on + 5e-3 * off, rel=1e-7)
    swapped = barlow_twins_loss(cross_correlation(bn(z2), bn(z1)))
    assert swapped["loss"].item() == pytest.approx(out["loss"].item(), rel=1e-12)


def test_barlow_identity_correlation_gives_zero_and_errors() -> None:
    assert barlow_twins_loss(torch.eye(5))["loss"].item() == 0.0
    with pytest.raises(ValueError, match="square"):
        barlow_twins_loss(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="equal shape"):
        cross_correlation(torch.zeros(3, 4), torch.zeros(3, 5))


def test_cross_correlation_all_reduce_equals_full_batch() -> None:
    """Two simulated ranks: summing C and N over ranks gives the full-batch matrix."""
    a, b = _rand(8, 3, seed=1), _rand(8, 3, seed=2)
    other_c, other_n = a[4:].T @ b[4:], torch.tensor(4.0, dtype=torch.float64)

    def all_reduce(t: torch.Tensor) -> torch.Tensor:
        return t + (other_c if t.ndim == 2 else other_n)

    got = cross_correlation(a[:4], b[:4], all_reduce)
    torch.testing.assert_close(got, a.T @ b / 8)
