"""Methods: registry and parameters, the SSLMethod contract, state, momentum and training."""

from __future__ import annotations

import math

import pytest
import torch

from ssrl_core.methods import METHODS, MethodParamError, SSLMethod, build_method, default_params, method_params
from ssrl_core.methods.momentum import cosine_momentum
from ssrl_core.methods.simclr import nt_xent_loss
from ssrl_core.models import build_backbone

SMALL = {"hidden_dim": 32, "out_dim": 16}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _method(name: str, channels: int = 2, **params) -> SSLMethod:
    backbone, dim = build_backbone("tiny_cnn", channels, 16)
    if name != "moco_v2":
        params.pop("queue_size", None)
    return build_method(name, backbone, dim, **{**SMALL, **params})


def _views(b: int = 8, c: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, 16, 16, generator=g), torch.rand(b, c, 16, 16, generator=g)


def test_registry_names_and_defaults() -> None:
    assert set(METHODS) == {"moco_v2", "byol", "simclr", "vicreg", "barlow_twins"}
    assert default_params("moco_v2")["temperature"] == 0.2
    assert default_params("moco_v2")["queue_size"] == 4096
    assert default_params("simclr")["temperature"] == 0.5
    assert {k: default_params("vicreg")[k] for k in ("sim_weight", "var_weight", "cov_weight")} == \
        {"sim_weight": 25.0, "var_weight": 25.0, "cov_weight": 1.0}
    assert default_params("barlow_twins")["lambd"] == 5e-3
    for name in METHODS:
        for pname, spec in method_params(name).items():
            assert spec.check(pname, spec.default)[1] is None, (name, pname)  # defaults are valid


def test_build_method_errors_are_plain_and_complete() -> None:
    backbone, dim = build_backbone("tiny_cnn", 1, 16)
    with pytest.raises(ValueError, match="Valid names: moco_v2, byol"):
        build_method("mocov3", backbone, dim)
    with pytest.raises(MethodParamError) as info:
        build_method("moco_v2", backbone, dim, temperature=-1, queue_size=2.5, tau=3, symmetric="yes")
    msg = str(info.value)
    assert "temperature must be between 0.01 and 10.0" in msg
    assert "queue_size must be a whole number" in msg
    assert "unknown parameter 'tau' (valid: temperature, queue_size" in msg
    assert "symmetric must be true or false" in msg
    with pytest.raises(MethodParamError, match="must be a finite number"):
        build_method("simclr", backbone, dim, temperature=float("nan"), hidden_dim=float("inf"))
    with pytest.raises(ValueError, match="feat_dim"):
        build_method("byol", backbone, 0)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_contract_loss_terms_embed_and_trainable_params(name: str) -> None:
    method = _method(name, queue_size=32)
    v1, v2 = _views()
    out = method.loss(v1, v2)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    expected = {"vicreg": {"invariance", "variance", "covariance"}, "barlow_twins": {"on_diag", "off_diag"}}
    assert set(out) == {"loss"} | expected.get(name, set())
    out["loss"].backward()
    assert all(p.grad is not None for p in method.backbone.parameters())
    assert method.embed(v1).shape == (8, method.feat_dim)
    with pytest.raises(ValueError, match="equal shape"):
        method.loss(v1, v2[:, :1])


@pytest.mark.parametrize("name", sorted(METHODS))
def test_loss_goes_down_on_random_inputs(name: str) -> None:
    torch.manual_seed(0)
    method = _method(name, queue_size=64)
    opt = torch.optim.Adam([p for p in method.parameters() if p.requires_grad], lr=3e-3)
    x = torch.rand(16, 2, 16, 16)
    if name == "moco_v2":  # fill the random initial queue with real keys first
        with torch.no_grad():
            method.loss(x, x), method.loss(x, x)
    losses = []
    for step in range(10):
        out = method.loss(x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        method.after_step((step + 1) / 10)
        losses.append(out["loss"].item())
    assert sum(losses[-3:]) < 0.9 * sum(losses[:3]), losses


def test_moco_queue_wraps_and_survives_state_dict() -> None:
    method = _method("moco_v2", queue_size=10)
    keys = torch.nn.functional.normalize(torch.randn(14, 16), dim=1)
    method.enqueue(keys[:4])
    method.enqueue(keys[4:8])
    method.enqueue(keys[8:12])  # positions 8, 9, 0, 1
    assert int(method.queue_ptr) == 2
    torch.testing.assert_close(method.queue[[8, 9, 0, 1]], keys[8:12])
    torch.testing.assert_close(method.queue[2:8], keys[2:8])
    fresh = _method("moco_v2", queue_size=10)
    fresh.load_state_dict(method.state_dict())
    torch.testing.assert_close(fresh.queue, method.queue)
    assert int(fresh.queue_ptr) == 2
    assert any(k.startswith("key_backbone.") for k in method.state_dict())
    big = torch.nn.functional.normalize(torch.randn(13, 16), dim=1)
    method.enqueue(big)  # more keys than room: the newest 10 fill the queue
    torch.testing.assert_close(method.queue, big[-10:])
    assert int(method.queue_ptr) == 0


def test_moco_several_loss_calls_per_step_enqueue_each_time_and_momentum_only_in_after_step() -> None:
    method = _method("moco_v2", queue_size=100, momentum=0.9)
    v1, v2 = _views(b=4)
    before = [p.clone() for p in method.key_backbone.parameters()]
    method.loss(v1, v2)["loss"].backward()
    method.loss(v2, v1)["loss"].backward()  # a second recipe in the same step
    assert int(method.queue_ptr) == 16  # 2 calls x (k1, k2) x 4
    assert all(torch.equal(a, b) for a, b in zip(before, method.key_backbone.parameters()))
    with torch.no_grad():
        for p in method.backbone.parameters():
            p.add_(1.0)
    method.after_step(0.5)
    for old, key, q in zip(before, method.key_backbone.parameters(), method.backbone.parameters()):
        torch.testing.assert_close(key, 0.9 * old + 0.1 * q)
    asym = _method("moco_v2", queue_size=100, symmetric=False)
    asym.loss(v1, v2)
    assert int(asym.queue_ptr) == 4


def test_moco_gather_enqueues_keys_of_all_ranks() -> None:
    method = _method("moco_v2", queue_size=100)
    other = torch.nn.functional.normalize(torch.ones(8, 16), dim=1)
    method.set_gather(lambda t: torch.cat([t, other]), rank=0)
    method.loss(*_views(b=4))
    assert int(method.queue_ptr) == 16
    torch.testing.assert_close(method.queue[8:16], other)


def test_byol_cosine_momentum_schedule() -> None:
    assert cosine_momentum(0.99, 0.0) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 0.5) == pytest.approx(0.995)
    assert cosine_momentum(0.99, 1.0) == pytest.approx(1.0)
    method = _method("byol", momentum=0.9)
    with torch.no_grad():
        for p in method.backbone.parameters():
            p.add_(1.0)
    target = [p.clone() for p in method.target_backbone.parameters()]
    method.after_step(1.0)  # tau = 1: the target does not move
    assert all(torch.equal(a, b) for a, b in zip(target, method.target_backbone.parameters()))
    method.after_step(0.0)  # tau = 0.9
    for old, t, q in zip(target, method.target_backbone.parameters(), method.backbone.parameters()):
        torch.testing.assert_close(t, 0.9 * old + 0.1 * q)
    assert method.current_momentum.item() == pytest.approx(0.9)
    with pytest.raises(ValueError, match="between 0 and 1"):
        method.after_step(1.5)


def test_simclr_uses_gathered_negatives_at_this_rank() -> None:
    torch.manual_seed(0)
    method = _method("simclr").eval()  # eval: BN uses running stats, so projections are per-sample
    v1, v2 = _views(b=4)
    with torch.no_grad():
        z1 = torch.nn.functional.normalize(method.projector(method.backbone(v1)), dim=1)
        z2 = torch.nn.functional.normalize(method.projector(method.backbone(v2)), dim=1)
    others = torch.nn.functional.normalize(torch.randn(2, 4, 16), dim=2)  # rank 0 and rank 2
    method.set_gather(lambda t: torch.cat([others[0], t, others[1]]), rank=1)
    got = method.loss(v1, v2)["loss"]
    expected = nt_xent_loss(z1, z2, 0.5, torch.cat([others[0], z1, others[1]]),
                            torch.cat([others[0], z2, others[1]]), offset=4)
    torch.testing.assert_close(got, expected)
    assert not math.isclose(got.item(), nt_xent_loss(z1, z2, 0.5).item(), rel_tol=1e-3)


def test_set_gather_defaults_to_rank_zero_and_identity() -> None:
    method = _method("vicreg")
    method.set_gather(None)
    assert method.rank == 0
    x = torch.randn(3, 2)
    assert method.gather(x) is x and method.all_reduce(x) is x


def test_barlow_all_reduce_hook_changes_the_correlation() -> None:
    method = _method("barlow_twins")
    v1, v2 = _views()
    plain = method.loss(v1, v2)["loss"].item()
    method.set_all_reduce(lambda t: 2 * t)  # two identical ranks: same C
    assert method.loss(v1, v2)["loss"].item() == pytest.approx(plain, rel=1e-5)
    method.set_all_reduce(lambda t: t if t.ndim == 0 else 0 * t)
    assert method.loss(v1, v2)["on_diag"].item() == pytest.approx(16.0)  # C = 0


@pytest.mark.parametrize("name", sorted(METHODS))
def test_losses_run_in_float32_under_bf16_autocast(name: str) -> None:
    """The trainer uses bf16 autocast on CUDA; the same path on CPU keeps the loss in float32."""
    method = _method(name, queue_size=32)
    v1, v2 = _views()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = method.loss(v1, v2)
    assert all(t.dtype == torch.float32 and torch.isfinite(t) for t in out.values())
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in method.backbone.parameters())
