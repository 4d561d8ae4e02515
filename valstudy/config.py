"""Configurations as dataclasses. Model settings live here; run settings in ``valstudy.configs``."""
from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = ("low", "mid", "high")
METHODS = ("val", "tirg", "concat", "image_only", "text_only")
BACKBONES = ("resnet50", "mobilenet_v1", "small")


@dataclass
class ModelConfig:
    """Everything that defines a model; one configuration covers VAL, its ablations and the baselines."""

    method: str = "val"                   # one of METHODS; "val" is the paper's model, the rest are baselines
    backbone: str = "small"               # one of BACKBONES: resnet50 (Shoes, FashionIQ), mobilenet_v1 (Fashion200k), small (CPU study)
    pretrained: bool = False              # ImageNet weights through torchvision's weights API (resnet50); never random in their place
    weights_path: str | None = None       # local weight file (e.g. MobileNet-v1 from timm) instead of the weights API
    paper_shapes: bool = False            # resnet50: strides as TF-slim ResNet-v2 so 256 px gives 16x16 / 8x8 / 8x8 maps
    levels: tuple[str, ...] = LEVELS      # which composite transformers VAL uses (hierarchical matching over these)
    use_sa: bool = True                   # self-attention stream (ablation "w/o SA" sets False)
    use_ja: bool = True                   # joint-attention stream (ablation "w/o JA" sets False)
    num_heads: int = 2                    # seed Table 1: num_heads = 2, c-bar = c / num_heads
    attn_dropout: float = 0.1             # dropout on self-attention weights during training (code)
    init_w_ja: float = 1.0                # learnable stream weight of A_ja, initial value from the authors' code
    init_w_sa: float = 0.0                # learnable stream weight of A_sa, initial value from the authors' code
    text_dim: int = 512                   # dimension of the text feature t fed to every level
    word_dim: int = 512                   # word embedding size (300 with GloVe)
    lstm_hidden: int = 1024               # LSTM hidden units (code)
    text_dropout: float = 0.1             # dropout after max-over-time (code)
    glove_path: str | None = None         # GloVe text file to initialise embeddings; None = random (Xavier)
    small_width: int = 32                 # channel width of the first stage of the small CPU backbone
    image_size: int = 64                  # square input side the model is built for: fixes each level's h x w, which the spatial-attention kernel covers (256 for resnet50 / mobilenet_v1 runs)
    mobilenet_taps: tuple[int, int, int] = (6, 11, 13)  # MobileNet-v1 blocks tapped as low/mid/high (seed; the code taps 6/10/13)
    gate_bn_relu: bool = False            # authors' code quirk: BN+ReLU before the joint-attention sigmoids (off = paper)
    extra: dict = field(default_factory=dict)  # free-form options for experiments, saved with the run
