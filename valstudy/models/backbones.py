"""Image encoders with three taps (low, mid, high) for the composite transformers (docs/shapes.md; yanbeic/VAL).

Every backbone takes images in [-1, 1] (the authors' preprocessing), exposes ``channels`` (c_low, c_mid, c_high)
and ``forward(x) -> [low, mid, high]`` feature maps.

Level shapes (C x H x W) next to the paper's (the supplementary, Section 1, "Training"):

====================================  ============  ============  ============
backbone, input                       low           mid           high
====================================  ============  ============  ============
paper: ResNet-50 (TF-slim v2), 256    512x16x16     1024x8x8      2048x8x8
resnet50, paper_shapes=True, 256      512x16x16     1024x8x8      2048x8x8
resnet50 (torchvision strides), 256   512x32x32     1024x16x16    2048x8x8
resnet50 (torchvision strides), 224   512x28x28     1024x14x14    2048x7x7
paper: MobileNet-v1, 256              512x16x16     512x16x16     1024x8x8
mobilenet_v1 (taps 6/11/13), 256      512x16x16     512x16x16     1024x8x8
mobilenet_v1 (taps 6/11/13), 224      512x14x14     512x14x14     1024x7x7
small (W = small_width), 64           Wx16x16       2Wx8x8        4Wx4x4
====================================  ============  ============  ============

``paper_shapes`` moves torchvision's strides to where TF-slim ResNet-v2 puts them (the *last* unit of stages 1-3,
stride 1 in stage 4); the weights are unchanged because a stride owns no parameter. The default keeps torchvision's
strides (low and mid maps with 4x the positions, so 16x the self-attention weights, at those levels).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..errors import MissingResourceError, ValstudyError

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetInput(nn.Module):
    """Maps images in [-1, 1] to the ImageNet mean/std normalisation that torchvision and timm weights expect."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) / 2 - self.mean) / self.std  # (B, 3, H, W)


def _load_local_state(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(what, path, "pass an existing weight file (a PyTorch state dict) as weights_path")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a corrupt or non-PyTorch file: one line, naming it
        raise ValstudyError(f"{path}: cannot read {what} as a PyTorch state dict ({type(e).__name__}: {e})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValstudyError(f"{path}: {what} holds a {type(state).__name__}, expected a state dict")
    return state


def _strict_load(module: nn.Module, state: dict, path, what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else "mismatch"
        raise ValstudyError(f"{path}: {what} does not fit the architecture ({first}; "
                            f"{len(state)} tensors in the file)") from None


class _Subsample(nn.Module):
    """TF-slim ``resnet_utils.subsample``: the identity shortcut of a strided unit keeps every other position."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride]


class ResNet50Backbone(nn.Module):
    """torchvision ResNet-50; taps the outputs of its last three stages (layer2, layer3, layer4).

    Parameters
    ----------
    pretrained : bool
        Load ``ResNet50_Weights.IMAGENET1K_V1`` through torchvision's weights API (cached under
        ``torch.hub.get_dir()/checkpoints``). Missing weights raise :class:`MissingResourceError`, never random ones.
    weights_path : str, optional
        A local state dict of torchvision's ResNet-50 instead of the weights API.
    paper_shapes : bool
        Strides as TF-slim ResNet-v2 so 256 px gives 16x16 / 8x8 / 8x8 maps (see the module table).
    tap_norm : bool
        BN + ReLU on the stage-2 and stage-3 outputs before tapping them, as the authors' code does
        (``block2_postnorm``, ``block3_postnorm`` in ``nets/resnet_v2_ml.py``). They only feed the taps.
    """

    def __init__(self, pretrained: bool = ModelConfig.pretrained, weights_path: str | None = ModelConfig.weights_path,
                 paper_shapes: bool = ModelConfig.paper_shapes, tap_norm: bool = True):
        super().__init__()
        import torchvision

        net = torchvision.models.resnet50(weights=None)
        if weights_path is not None:
            state = _load_local_state(weights_path, "ResNet-50 weights")
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
            net.fc = nn.Identity()
            _strict_load(net, state, weights_path, "ResNet-50 weights")
        elif pretrained:
            net.load_state_dict(_torchvision_resnet50_state())
        self.input = ImageNetInput()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        if paper_shapes:
            self._move_strides_like_tf_slim()
        self.channels = (512, 1024, 2048)
        self.tap_norm = nn.ModuleList(
            [nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False)) if tap_norm else nn.Identity()
             for c in self.channels[:2]])

    def _move_strides_like_tf_slim(self) -> None:
        # TF-slim ResNet-v2 strides the LAST unit of blocks 1-3 and not block 4 (docs/shapes.md); torchvision
        # strides the FIRST unit of layers 2-4. Move the 3x3 stride (v1.5 puts it on conv2) and the shortcut's.
        for layer in (self.layer2, self.layer3, self.layer4):
            first = layer[0]
            first.conv2.stride = (1, 1)
            first.downsample[0].stride = (1, 1)
        for layer in (self.layer1, self.layer2, self.layer3):
            last = layer[-1]
            last.conv2.stride = (2, 2)
            last.downsample = _Subsample(2)  # parameter-free, so state dicts still match

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.layer1(self.stem(self.input(x)))  # (B, 256, H/4, W/4)
        x2 = self.layer2(x)  # (B, 512, H/8, W/8)   paper_shapes: H/16
        x3 = self.layer3(x2)  # (B, 1024, H/16, W/16) paper_shapes: H/32
        x4 = self.layer4(x3)  # (B, 2048, H/32, W/32)
        return [self.tap_norm[0](x2), self.tap_norm[1](x3), x4]


def _torchvision_resnet50_state() -> dict:
    from torchvision.models import ResNet50_Weights

    weights = ResNet50_Weights.IMAGENET1K_V1
    where = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    remedy = (f"torch looks in torch.hub.get_dir()/checkpoints; download {weights.url} to {where} "
              "(or set TORCH_HOME), or pass weights_path; the study never substitutes random weights")
    try:
        return weights.get_state_dict(progress=False, check_hash=False)
    except Exception:  # offline: torchvision tries to download and fails
        raise MissingResourceError("ImageNet ResNet-50 weights (IMAGENET1K_V1)", where, remedy) from None


# MobileNet-v1 body as TF-slim's MOBILENETV1_CONV_DEFS: (stride, out channels) of the 13 depthwise-separable blocks.
_MOBILENET_V1_BLOCKS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512),
                        (1, 512), (1, 512), (2, 1024), (1, 1024)]
_MOBILENET_STAGES = [1, 2, 2, 6, 2]  # timm groups the 13 blocks into 5 stages (blocks.<stage>.<i>)


class DepthwiseSeparable(nn.Module):
    """3x3 depthwise conv + BN + act, then 1x1 pointwise conv + BN + act; names match timm's state dict."""

    def __init__(self, c_in: int, c_out: int, stride: int, act: type[nn.Module]):
        super().__init__()
        self.conv_dw = nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False)
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv_pw = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn1(self.conv_dw(x)))  # (B, C_in, H', W')
        return self.act(self.bn2(self.conv_pw(x)))  # (B, C_out, H', W')


class MobileNetV1Backbone(nn.Module):
    """MobileNet-v1 (13 depthwise-separable blocks); taps the outputs of the blocks numbered ``taps`` (1-13).

    The supplementary taps layers 6 / 11 / 13 (the authors' code taps pointwise layers 6 / 10 / 13). torchvision has no
    MobileNet-v1, so ImageNet weights come from a local file only: timm's ``mobilenetv1_100`` state dict (its
    ``classifier.*`` entries are ignored). They are not the TF-slim weights the paper used. timm trains this model
    with ReLU, so ReLU is the default activation; ``act=nn.ReLU6`` gives TF-slim's.
    """

    def __init__(self, weights_path: str | None = ModelConfig.weights_path, pretrained: bool = ModelConfig.pretrained,
                 taps: tuple[int, int, int] = ModelConfig.mobilenet_taps, act: type[nn.Module] = nn.ReLU):
        super().__init__()
        if len(taps) != 3 or list(taps) != sorted(set(taps)) or not 1 <= taps[0] <= taps[-1] <= 13:
            raise ValstudyError(f"MobileNet-v1 taps must be three increasing block numbers in 1..13, got {taps}")
        if pretrained and weights_path is None:
            raise MissingResourceError(
                "ImageNet MobileNet-v1 weights", "weights_path (unset)",
                "torchvision has no MobileNet-v1; save timm's mobilenetv1_100 state dict "
                "(timm.create_model('mobilenetv1_100', pretrained=True).state_dict()) with torch.save "
                "and pass its path as weights_path")
        self.input = ImageNetInput()
        self.conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.act = act()
        blocks, c_in, k = [], 32, 0
        for n in _MOBILENET_STAGES:
            stage = []
            for stride, c_out in _MOBILENET_V1_BLOCKS[k: k + n]:
                stage.append(DepthwiseSeparable(c_in, c_out, stride, act))
                c_in = c_out
            blocks.append(nn.Sequential(*stage))
            k += n
        self.blocks = nn.Sequential(*blocks)
        self.taps = tuple(taps)
        self.channels = tuple(_MOBILENET_V1_BLOCKS[t - 1][1] for t in taps)
        if weights_path is not None:
            state = _load_local_state(weights_path, "MobileNet-v1 weights")
            state = {k: v for k, v in state.items() if not k.startswith(("classifier.", "fc."))}
            holder = nn.Module()  # load only the parameters this module has (the input buffers are not saved)
            holder.conv_stem, holder.bn1, holder.blocks = self.conv_stem, self.bn1, self.blocks
            _strict_load(holder, state, weights_path, "MobileNet-v1 weights (timm mobilenetv1_100 layout)")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.act(self.bn1(self.conv_stem(self.input(x))))  # (B, 32, H/2, W/2)
        out, n = [], 0
        for stage in self.blocks:
            for block in stage:
                x = block(x)
                n += 1
                if n in self.taps:
                    out.append(x)  # block 6: (B, 512, H/16, W/16); 11: same; 13: (B, 1024, H/32, W/32)
                if n == self.taps[-1]:
                    return out
        return out


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class SmallBackbone(nn.Module):
    """A small plain CNN for the synthetic CPU study: at 64 px it gives W x 16 x 16, 2W x 8 x 8, 4W x 4 x 4.

    Each map is a quarter of the previous one in area and twice as deep, like the paper's ResNet levels; random
    initialisation (there are no pretrained weights for it, and none are pretended).
    """

    def __init__(self, width: int):
        super().__init__()
        w = width
        c0 = max(w // 2, 8)
        self.stem = _conv_bn_relu(3, c0, 2)  # 64 -> 32
        self.stage1 = nn.Sequential(_conv_bn_relu(c0, w, 2), _conv_bn_relu(w, w, 1))  # 32 -> 16
        self.stage2 = nn.Sequential(_conv_bn_relu(w, 2 * w, 2), _conv_bn_relu(2 * w, 2 * w, 1))  # 16 -> 8
        self.stage3 = nn.Sequential(_conv_bn_relu(2 * w, 4 * w, 2), _conv_bn_relu(4 * w, 4 * w, 1))  # 8 -> 4
        self.channels = (w, 2 * w, 4 * w)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        low = self.stage1(self.stem(x))  # (B, W, H/4, W/4)
        mid = self.stage2(low)  # (B, 2W, H/8, W/8)
        high = self.stage3(mid)  # (B, 4W, H/16, W/16)
        return [low, mid, high]


def build_backbone(cfg) -> nn.Module:
    """The backbone named by ``cfg.backbone`` (a :class:`~valstudy.config.ModelConfig`)."""
    if cfg.backbone == "resnet50":
        return ResNet50Backbone(cfg.pretrained, cfg.weights_path, cfg.paper_shapes)
    if cfg.backbone == "mobilenet_v1":
        return MobileNetV1Backbone(cfg.weights_path, cfg.pretrained, tuple(cfg.mobilenet_taps))
    if cfg.backbone == "small":
        if cfg.pretrained or cfg.weights_path:
            raise ValstudyError("ModelConfig.backbone: the small backbone has no pretrained weights; "
                                "set pretrained=False and weights_path=None")
        return SmallBackbone(cfg.small_width)
    raise ValstudyError(f"ModelConfig.backbone: unknown backbone {cfg.backbone!r}; "
                        "expected resnet50, mobilenet_v1 or small")


@torch.no_grad()
def feature_shapes(backbone: nn.Module, image_size: int) -> list[tuple[int, int, int]]:
    """(C, H, W) of each tap for square ``image_size`` inputs, by running the backbone once on zeros."""
    was_training = backbone.training
    backbone.eval()
    p = next(backbone.parameters())
    feats = backbone(torch.zeros(1, 3, image_size, image_size, device=p.device, dtype=p.dtype))
    backbone.train(was_training)
    return [tuple(f.shape[1:]) for f in feats]
