"""Backbone taps: shapes at every level, stride options, weight loading and its errors."""
import pytest
import torch
import torch.nn as nn

from valstudy.errors import MissingResourceError, ValstudyError
from valstudy.models.backbones import MobileNetV1Backbone, ResNet50Backbone, SmallBackbone, feature_shapes


def _shapes(net, size):
    net.eval()
    with torch.no_grad():
        return [tuple(f.shape) for f in net(torch.rand(2, 3, size, size) * 2 - 1)]


def test_small_backbone_shapes():
    net = SmallBackbone(width=8)
    assert net.channels == (8, 16, 32)
    assert _shapes(net, 64) == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4)]
    assert feature_shapes(net, 64) == [(8, 16, 16), (16, 8, 8), (32, 4, 4)]


@pytest.fixture(scope="module")
def resnets():
    torch.manual_seed(0)
    return ResNet50Backbone(), ResNet50Backbone(paper_shapes=True)


def test_resnet50_torchvision_strides(resnets):
    net = resnets[0]
    assert net.channels == (512, 1024, 2048)
    # torchvision: strides 8 / 16 / 32 -> at 128 px 16x16, 8x8, 4x4
    assert _shapes(net, 128) == [(2, 512, 16, 16), (2, 1024, 8, 8), (2, 2048, 4, 4)]


def test_resnet50_paper_shapes(resnets):
    default, paper = resnets
    # TF-slim v2 strides 16 / 32 / 32: 128 px -> 8x8, 4x4, 4x4 (256 px -> the paper's 16x16, 8x8, 8x8)
    assert _shapes(paper, 128) == [(2, 512, 8, 8), (2, 1024, 4, 4), (2, 2048, 4, 4)]
    # moving strides changes no parameter: the two state dicts have the same keys and shapes
    a, b = default.state_dict(), paper.state_dict()
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}


def test_resnet50_tap_norm_only_on_low_and_mid(resnets):
    net = resnets[0]
    assert isinstance(net.tap_norm[0][0], nn.BatchNorm2d) and isinstance(net.tap_norm[1][0], nn.BatchNorm2d)
    assert len(net.tap_norm) == 2


def test_resnet50_pretrained_offline_raises(monkeypatch, tmp_path):
    from torchvision.models import _api

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(_api.WeightsEnum, "get_state_dict", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(MissingResourceError) as e:
        ResNet50Backbone(pretrained=True)
    msg = str(e.value)
    assert str(tmp_path / "checkpoints" / "resnet50-0676ba61.pth") in msg
    assert "download" in msg and "never substitutes random weights" in msg


def test_resnet50_weights_path(tmp_path):
    import torchvision

    ref = torchvision.models.resnet50(weights=None)
    path = tmp_path / "r50.pth"
    torch.save(ref.state_dict(), path)
    net = ResNet50Backbone(weights_path=str(path))
    assert torch.equal(net.layer3[2].conv2.weight, ref.layer3[2].conv2.weight)
    assert torch.equal(net.stem[0].weight, ref.conv1.weight)
    with pytest.raises(MissingResourceError, match="missing.pth"):
        ResNet50Backbone(weights_path=str(tmp_path / "missing.pth"))
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValstudyError, match="bad.pth"):
        ResNet50Backbone(weights_path=str(tmp_path / "bad.pth"))


def test_mobilenet_shapes_default_taps():
    net = MobileNetV1Backbone()
    assert net.channels == (512, 512, 1024)
    # taps 6 / 11 / 13: strides 16 / 16 / 32
    assert _shapes(net, 64) == [(2, 512, 4, 4), (2, 512, 4, 4), (2, 1024, 2, 2)]
    n_dw = sum(1 for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups > 1)
    assert n_dw == 13


def test_mobilenet_custom_taps():
    net = MobileNetV1Backbone(taps=(4, 6, 10))
    assert net.channels == (256, 512, 512)
    assert _shapes(net, 64) == [(2, 256, 8, 8), (2, 512, 4, 4), (2, 512, 4, 4)]
    with pytest.raises(ValstudyError, match="taps"):
        MobileNetV1Backbone(taps=(6, 5, 13))


def test_mobilenet_weights_from_timm_layout(tmp_path):
    src = MobileNetV1Backbone()
    state = {k: v for k, v in src.state_dict().items()}
    assert "blocks.3.5.conv_pw.weight" in state and "conv_stem.weight" in state  # timm mobilenetv1_100 names
    state["classifier.weight"], state["classifier.bias"] = torch.zeros(1000, 1024), torch.zeros(1000)
    path = tmp_path / "mnv1.pth"
    torch.save(state, path)
    net = MobileNetV1Backbone(weights_path=str(path))
    assert torch.equal(net.blocks[4][1].conv_pw.weight, src.blocks[4][1].conv_pw.weight)
    with pytest.raises(MissingResourceError, match="timm"):
        MobileNetV1Backbone(pretrained=True)
    del state["blocks.0.0.conv_dw.weight"]
    torch.save(state, path)
    with pytest.raises(ValstudyError, match="mnv1.pth"):
        MobileNetV1Backbone(weights_path=str(path))
