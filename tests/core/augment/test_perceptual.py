"""LPIPS with real ImageNet weights: reference values, channel adapter, small images, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrl_core import perceptual
from ssrl_core.cli import main
from ssrl_core.perceptual import LPIPS, rgb_groups, to_rgb, upsample_small
from ssrl_core.weights import prepare_weights

# Published LPIPS v0.1 values for the reference implementation's example images.
REFERENCE = {"alex": (0.722, 0.138), "vgg": (0.569, 0.422)}


@pytest.fixture(scope="module", autouse=True)
def real_weights() -> None:
    """Real ImageNet weights (converted once by `ssrl setup`); skip with the reason otherwise."""
    report = prepare_weights()
    bad = {k: v["error"] for k, v in report.items() if v["status"] != "ready"}
    if bad:
        pytest.skip(f"ImageNet weights unavailable here: {bad}")


def _load(path: Path) -> np.ndarray:
    """As lpips.load_image + im2tensor: RGB, then [0,1] here (the module maps it to [-1, 1])."""
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_reproduces_published_reference_values(shared_data: Path, net: str) -> None:
    ref_dir = shared_data / "lpips_reference"
    ref, p0, p1 = (_load(ref_dir / f"{n}.png") for n in ("ex_ref", "ex_p0", "ex_p1"))
    model = LPIPS(net=net)
    d = model.batch(np.stack([ref, ref]), np.stack([p0, p1]))
    assert d == pytest.approx(REFERENCE[net], abs=0.002)
    assert model.distance(ref, p1) == pytest.approx(float(d[1]), abs=1e-5)


def test_batch_basic_properties() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((5, 64, 64, 3), dtype=np.float32)
    b = np.clip(a + rng.normal(0, 0.2, a.shape).astype(np.float32), 0, 1)
    model = LPIPS("alex")
    d = model.batch(a, b)
    assert d.shape == (5,) and d.dtype == np.float32
    assert np.all(d > 0.01)
    assert np.allclose(model.batch(a, a), 0.0, atol=1e-6)
    assert np.allclose(model.batch(b, a), d, atol=1e-5)  # symmetric
    assert model.distance(a[2], b[2]) == pytest.approx(float(d[2]), abs=1e-5)
    # a stronger perturbation moves further (what the app reads as a stronger recipe)
    far = np.clip(a + rng.normal(0, 0.5, a.shape).astype(np.float32), 0, 1)
    assert np.all(model.batch(a, far) > d)
    assert perceptual.get_lpips("alex", "cpu") is model.module  # cached, built once


def test_to_rgb_adapter_shapes_and_values() -> None:
    rng = np.random.default_rng(1)
    x5 = rng.random((2, 8, 9, 5), dtype=np.float32)
    g = to_rgb(x5)
    assert g.shape == (5, 2, 8, 9, 3)
    assert np.array_equal(g[3, ..., 1], x5[..., 3]) and np.array_equal(g[3, ..., 0], g[3, ..., 2])
    x3 = x5[..., :3]
    assert np.array_equal(to_rgb(x3)[0], x3)
    assert to_rgb(x5[0, ..., :1]).shape == (1, 8, 9, 3)
    t = torch.from_numpy(x5).permute(0, 3, 1, 2)
    assert torch.equal(rgb_groups(t)[4, :, 0], t[:, 4])
    with pytest.raises(ValueError, match="expected"):
        to_rgb(np.zeros(5))


def test_channel_rule_any_count() -> None:
    """1 channel == its grey RGB; C != 3 == the mean of per-channel grey LPIPS."""
    rng = np.random.default_rng(2)
    a = rng.random((3, 64, 64, 4), dtype=np.float32)
    b = np.clip(a + rng.normal(0, 0.15, a.shape).astype(np.float32), 0, 1)
    model = LPIPS("alex")
    grey = model.batch(a[..., :1], b[..., :1])
    rgb = model.batch(np.repeat(a[..., :1], 3, -1), np.repeat(b[..., :1], 3, -1))
    assert np.allclose(grey, rgb, atol=1e-5)
    per_channel = np.stack([model.batch(a[..., c:c + 1], b[..., c:c + 1]) for c in range(4)])
    assert np.allclose(model.batch(a, b), per_channel.mean(0), atol=1e-5)
    assert np.allclose(model.batch(a[..., :2], b[..., :2]), per_channel[:2].mean(0), atol=1e-5)


def test_small_images_are_upsampled_to_64() -> None:
    assert upsample_small(torch.zeros(1, 1, 28, 40)).shape[-2:] == (64, 92)
    assert upsample_small(torch.zeros(1, 1, 96, 64)).shape[-2:] == (96, 64)
    rng = np.random.default_rng(3)
    a = rng.random((2, 28, 28, 1), dtype=np.float32)
    b = np.clip(a + 0.3 * rng.random(a.shape, dtype=np.float32), 0, 1)
    model = LPIPS("alex")
    d = model.batch(a, b)
    big = [upsample_small(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy() for x in (a, b)]
    assert d.shape == (2,) and np.all(np.isfinite(d))
    assert np.allclose(d, model.batch(*big), atol=1e-5)


def test_errors_are_plain() -> None:
    model = LPIPS("alex")
    with pytest.raises(ValueError, match="same shape"):
        model.batch(np.zeros((2, 64, 64, 3), np.float32), np.zeros((2, 64, 32, 3), np.float32))
    with pytest.raises(ValueError, match="unknown LPIPS network"):
        LPIPS("resnet")


def test_sixteen_view_pairs_in_one_batch_equal_one_pair_at_a_time() -> None:
    """The app scores 16 view pairs of 64x64x3 in one batch (its speed is in benchmarks/app_speed.py,
    not timed here): the batch must give each pair's own distance."""
    rng = np.random.default_rng(4)
    a, b = rng.random((2, 16, 64, 64, 3), dtype=np.float32)
    model = LPIPS("alex")
    batched = model.batch(a, b)
    single = np.array([model.distance(a[i], b[i]) for i in range(16)])
    assert batched.shape == (16,) and np.allclose(batched, single, atol=1e-5)


def test_imagenet_encoder_channels() -> None:
    from ssrl_core.perceptual import imagenet_encoder

    x1 = torch.rand(2, 1, 40, 40)
    e1, e3 = imagenet_encoder(1), imagenet_encoder(3)
    with torch.inference_mode():
        z1 = e1(x1)
        assert z1.shape == (2, 512)
        assert torch.allclose(z1, e3(x1.repeat(1, 3, 1, 1)), atol=1e-4)
        assert imagenet_encoder(5)(torch.rand(1, 5, 64, 64)).shape == (1, 512)
    with pytest.raises(ValueError, match="expected"):
        e3(x1)


def test_cli_lpips_reference(shared_data: Path, capsys: pytest.CaptureFixture) -> None:
    ref_dir = shared_data / "lpips_reference"
    assert main(["lpips", str(ref_dir / "ex_ref.png"), str(ref_dir / "ex_p0.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lpips"] == pytest.approx(0.722, abs=0.002) and out["channels"] == 3
    assert main(["lpips", str(ref_dir / "ex_ref.png"), str(ref_dir / "ex_p1.png")]) == 0
    assert float(capsys.readouterr().out.strip()) == pytest.approx(0.138, abs=0.002)


def test_cli_lpips_16bit_tiff_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import tifffile

    rng = np.random.default_rng(5)
    a = (rng.random((48, 48, 2)) * 4000 + 200).astype(np.uint16)
    b = a.copy()
    b[10:30, 10:30] = 60000
    tifffile.imwrite(tmp_path / "a.tif", a)
    tifffile.imwrite(tmp_path / "b.tif", b)
    tifffile.imwrite(tmp_path / "small.tif", a[:20])
    assert main(["lpips", str(tmp_path / "a.tif"), str(tmp_path / "a.tif"), "--json"]) == 0
    same = json.loads(capsys.readouterr().out)
    assert same["lpips"] == pytest.approx(0.0, abs=1e-6) and same["channels"] == 2
    assert main(["lpips", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lpips"] > 0.05
    assert main(["lpips", str(tmp_path / "a.tif"), str(tmp_path / "small.tif")]) == 2
    assert "differ in size" in capsys.readouterr().err
    assert main(["lpips", str(tmp_path / "a.tif"), str(tmp_path / "missing.png")]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_grey_png_against_colour_png_and_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    rng = np.random.default_rng(6)
    grey = (rng.random((64, 64)) * 255).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(tmp_path / "grey_rgb.png")
    colour = np.repeat(grey[..., None], 3, axis=2)
    colour[..., 0] = 255 - colour[..., 0]
    Image.fromarray(colour).save(tmp_path / "colour.png")
    assert main(["lpips", str(tmp_path / "grey.png"), str(tmp_path / "grey_rgb.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lpips"] == pytest.approx(0.0, abs=1e-6)
    assert main(["lpips", str(tmp_path / "grey.png"), str(tmp_path / "colour.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = LPIPS("alex").distance(np.repeat(grey[..., None], 3, 2) / 255.0, colour / 255.0)
    assert out["lpips"] == pytest.approx(expected, abs=1e-5) and out["lpips"] > 0.05
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    assert main(["lpips", str(tmp_path / "broken.png"), str(tmp_path / "grey.png")]) == 2
    assert "broken.png" in capsys.readouterr().err
