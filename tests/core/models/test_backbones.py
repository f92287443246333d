"""Backbones: shapes for 1/3/5 channels at 28/64 px, small-image adaptations, ImageNet adapter."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models as tvm

from ssrl_core.models import BACKBONES, build_backbone
from ssrl_core.models.pretrained import adapt_first_conv, adapt_state_dict

DIMS = {"tiny_cnn": 64, "small_cnn": 256, "resnet18_half": 256, "resnet18_s2": 512, "vgg11": 512, "vgg13": 512,
        "resnet18": 512, "resnet50": 2048, "convnext_tiny": 768}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_registry_lists_contract_names_with_descriptions() -> None:
    assert set(BACKBONES) == set(DIMS)
    assert all(isinstance(d, str) and d for d in BACKBONES.values())


@pytest.mark.parametrize("name", sorted(DIMS))
@pytest.mark.parametrize("size", [28, 64])
def test_output_shape_for_1_3_5_channels(name: str, size: int) -> None:
    batch = 2 if name in ("tiny_cnn", "small_cnn", "resnet18_half", "resnet18", "vgg11", "vgg13") else 1
    for channels in (1, 3, 5):
        net, dim = build_backbone(name, channels, size)
        assert dim == DIMS[name]
        with torch.no_grad():
            out = net.eval()(torch.rand(batch, channels, size, size))
        assert out.shape == (batch, dim) and torch.isfinite(out).all()


def test_resnet_small_image_stem() -> None:
    small, _ = build_backbone("resnet18", 3, 64)
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, nn.Identity)
    large, _ = build_backbone("resnet18", 3, 96)
    assert large.conv1.kernel_size == (7, 7) and large.conv1.stride == (2, 2)
    assert isinstance(large.maxpool, nn.MaxPool2d)


def test_vgg_keeps_at_least_one_pixel() -> None:
    def pools(size: int) -> int:
        net, _ = build_backbone("vgg11", 1, size)
        return sum(isinstance(m, nn.MaxPool2d) for m in net.features)

    assert (pools(16), pools(28), pools(64), pools(196)) == (4, 4, 5, 5)
    net, _ = build_backbone("vgg13", 2, 28)
    with torch.no_grad():
        assert net.eval().features(torch.rand(1, 2, 28, 28)).shape[-1] >= 1


def test_convnext_small_image_stem_stride() -> None:
    small, _ = build_backbone("convnext_tiny", 1, 28)
    large, _ = build_backbone("convnext_tiny", 1, 196)
    assert small.features[0][0].stride == (2, 2) and large.features[0][0].stride == (4, 4)


def test_large_crop_and_training_mode_backward() -> None:
    net, dim = build_backbone("resnet18", 4, 196)
    out = net.train()(torch.rand(2, 4, 196, 196))
    out.sum().backward()
    assert out.shape == (2, dim) and net.conv1.weight.grad is not None


def test_errors_are_plain() -> None:
    with pytest.raises(ValueError, match="Valid names: tiny_cnn, vgg11"):
        build_backbone("resnet34", 3, 64)
    with pytest.raises(ValueError, match="in_channels"):
        build_backbone("resnet18", 0, 64)
    with pytest.raises(ValueError, match="at least 16 px"):
        build_backbone("resnet18", 3, 8)
    with pytest.raises(ValueError, match="No ImageNet weights exist for 'tiny_cnn'"):
        build_backbone("tiny_cnn", 3, 28, pretrained=True)


def test_first_conv_adapter_preserves_grey_response() -> None:
    """A grey image through the adapted C-channel kernels equals it through the RGB kernels."""
    w = torch.randn(6, 3, 3, 3)
    grey = torch.rand(1, 1, 8, 8)
    rgb_out = F.conv2d(grey.repeat(1, 3, 1, 1), w)
    for channels in (1, 2, 5):
        adapted = adapt_first_conv(w, channels)
        assert adapted.shape == (6, channels, 3, 3)
        torch.testing.assert_close(F.conv2d(grey.repeat(1, channels, 1, 1), adapted), rgb_out)


def test_state_dict_adapter_loads_what_fits_and_reports_the_rest() -> None:
    rgb = tvm.resnet18(weights=None).state_dict()  # stands in for ImageNet weights (same keys, shapes)
    large, _ = build_backbone("resnet18", 5, 196)
    report = adapt_state_dict(large, rgb, 5)
    assert "conv1.weight" in report["loaded"] and "layer4.1.bn2.running_var" in report["loaded"]
    assert any(s.startswith("fc.weight") for s in report["skipped"])
    torch.testing.assert_close(large.conv1.weight, adapt_first_conv(rgb["conv1.weight"], 5))
    torch.testing.assert_close(large.layer1[0].conv1.weight, rgb["layer1.0.conv1.weight"])
    small, _ = build_backbone("resnet18", 5, 28)  # 3x3 stem: the 7x7 kernel cannot be used
    report = adapt_state_dict(small, rgb, 5)
    assert any(s.startswith("conv1.weight (shape") for s in report["skipped"])
    assert "layer1.0.conv1.weight" in report["loaded"]


def test_pretrained_loads_real_weights_or_says_why() -> None:
    """With the real weights module: a report when resnet18 weights are cached, else a plain error."""
    from ssrl_core import weights

    if weights.torchvision_cache_files("resnet18"):
        net, _ = build_backbone("resnet18", 2, 96, pretrained=True)
        assert net.weights_report["source"] == "imagenet:resnet18"
        assert "conv1.weight" in net.weights_report["loaded"]
    else:
        with pytest.raises(weights.WeightsUnavailable, match="resnet18"):
            build_backbone("resnet18", 2, 96, pretrained=True)


def test_cpu_variants_cost_less_than_the_stride_1_resnet18() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    def macs(name: str) -> float:
        net, _ = build_backbone(name, 1, 64)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net.eval()(torch.zeros(1, 1, 64, 64))
        return counter.get_total_flops() / 2

    full, s2, half, small = macs("resnet18"), macs("resnet18_s2"), macs("resnet18_half"), macs("small_cnn")
    assert 3.5 < full / s2 < 4.5  # the stride-2 stem quarters every later activation
    assert 3.0 < s2 / half < 5.0  # half width: about a quarter of the multiply-adds
    assert small < s2 / 2


def test_resnet18_s2_stem_and_imagenet_weights_fit_every_layer_but_the_stem() -> None:
    net, _ = build_backbone("resnet18_s2", 3, 64)
    assert net.conv1.stride == (2, 2) and isinstance(net.maxpool, nn.Identity)
    report = adapt_state_dict(net, tvm.resnet18(weights=None).state_dict(), 3)
    assert [k for k in report["skipped"] if not k.startswith("fc.")] == ["conv1.weight (shape (64, 3, 7, 7) vs (64, 3, 3, 3))"]


def test_per_channel_encoder_embeds_any_channel_count_with_one_set_of_weights() -> None:
    torch.manual_seed(0)
    net3, dim3 = build_backbone("small_cnn", 3, 32, per_channel=True)
    net1, dim1 = build_backbone("small_cnn", 1, 32, per_channel=True)
    assert dim3 == 3 * dim1 and set(net3.state_dict()) == set(net1.state_dict())
    net1.load_state_dict(net3.state_dict())
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        out = net3.eval()(x)
        per = [net1.eval()(x[:, c:c + 1]) for c in range(3)]
    assert out.shape == (2, dim3)
    assert torch.allclose(out, torch.cat(per, dim=1), atol=1e-5)  # channel c -> features [c*D, (c+1)*D)
