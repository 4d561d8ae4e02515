"""The configuration types: :class:`DataConfig`, :class:`ModelConfig` and :class:`TrainConfig`. Each setting has one
default, here; its comment gives the paper's or the authors' code's value where it has one."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ValstudyError
from .rules import LEVELS, validate_values

# ---------------------------------------------------------------------------------------------------- types
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
    num_heads: int = 2                    # the supplementary's Table 1: num_heads = 2, c-bar = c / num_heads
    attn_dropout: float = 0.1             # dropout on self-attention weights during training (code)
    init_w_ja: float = 1.0                # learnable stream weight of A_ja, initial value from the authors' code
    init_w_sa: float = 0.0                # learnable stream weight of A_sa, initial value from the authors' code
    text_dim: int = 512                   # dimension of the text feature t fed to every level
    word_dim: int = 512                   # word embedding size (300 with GloVe)
    lstm_hidden: int = 1024               # LSTM hidden units (code)
    text_dropout: float = 0.1             # dropout after max-over-time (code)
    glove_path: str | None = None         # GloVe text file to initialise embeddings; None = random (Xavier)
    small_width: int = 32                 # channel width of the first stage of the small CPU backbone
    # Square input side the model is built for: it fixes each level's h x w, which the spatial-attention kernel
    # covers. Always equal to DataConfig.image_size (TrainConfig.validate checks; an override of one sets both).
    image_size: int = 64
    mobilenet_taps: tuple[int, int, int] = (6, 11, 13)  # MobileNet-v1 blocks tapped as low/mid/high (supplementary; code: 6/10/13)
    gate_bn_relu: bool = False            # authors' code quirk: BN+ReLU before the joint-attention sigmoids (off = paper)
    bn_momentum: float | None = None      # backbone BatchNorm momentum; None = PyTorch's 0.1 (code: decay 0.997 ResNet, 0.9997 MobileNet)
    bn_eps: float | None = None           # backbone BatchNorm eps; None = PyTorch's 1e-5 (code: 1e-5 ResNet, 1e-3 MobileNet)
    extra: dict = field(default_factory=dict)  # free-form options for experiments, saved with the run


@dataclass
class DataConfig:
    """Which dataset, where, and how images are prepared."""

    dataset: str = "shoes"                 # one of DATASETS
    root: str = "data/synthetic/shoes"     # dataset root in its real layout
    image_size: int = 64                   # square input side (code: 224 for MobileNet, 256 for ResNet-50); equals ModelConfig.image_size
    random_resized_crop: bool = False      # FashionIQ (code): resize to a side in [size, size + size/10) then crop size
    hflip: bool = True                     # random horizontal flip in training (code: always)
    check_images: bool = True              # stat every image when loading; missing ones are dropped and counted
    test_min_count: int = 1                # words seen fewer times map to <UNK> at test time (code: 2 for Shoes, FashionIQ)
    protocols: tuple[str, ...] = ()        # evaluation protocols; () = every protocol the dataset offers
    val_fraction: float = 0.0              # share of training reference images held out as a validation split


@dataclass
class TrainConfig:
    """A whole training run. Field comments give the paper's value where it has one."""

    name: str = "shoes_synth"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: str = "triplet"                  # one of LOSSES: triplet (authors' code) | softmax (TIRG's batch classification)
    side_info: str = "none"                # L_vs, one of SIDE_INFO: none | joint (Fashion200k) | pretrain (Shoes, FashionIQ)
    side_info_root: str = ""               # FashionIQ pre-trains L_vs on Fashion200k: that dataset's root
    pretrain_steps: int = 0                # L_vs pre-training steps before L_vv (side_info = pretrain)
    steps: int = 300                       # L_vv iterations (paper: 160k / 30k / 50k; the named configurations set it)
    batch_size: int = 32                   # paper: 32
    lr: float = 2e-4                       # Adam, paper: 2e-4
    weight_decay: float = 4e-5             # on conv and linear weights (code)
    weight_decay_scope: str = "all"        # all conv and linear weights | code: not Q/K/V, not depthwise convs
    lr_decay_at: float = 0.0               # fraction of steps after which lr x lr_decay (Fashion200k: 0.5); 0 = constant
    lr_decay: float = 0.1
    ema_decay: float = 0.9999              # EMA of the weights used at evaluation (code: 0.9999)
    ema_warmup: bool = True                # decay min(d, (1+s)/(10+s)); the released scripts have none (False)
    triplet_mining: str = "per_anchor"     # negative j of anchor i ignored if D[i,j] < D[i,i] | code: D[i,j] < D[j,j]
    triplet_fallback: str = "largest"      # anchor without a semi-hard negative: largest negative | zero (code)
    sync_batchnorm: bool = False           # DDP: BatchNorm statistics over the global batch, as one GPU sees it
    eval_every: int = 0                    # steps between evaluations during training; 0 = only at the end
    checkpoint_every: int = 100            # steps between atomic checkpoints
    keep_checkpoints: tuple[int, ...] = () # steps at which to keep the EMA weights as ckpt_<step>.pt (snapshots)
    log_every: int = 10                    # steps between metric lines
    seed: int = 0
    num_workers: int = 0                   # data loader worker processes
    device: str = "auto"                   # auto | cpu | cuda | cuda:N
    deterministic: bool = False            # torch.use_deterministic_algorithms (slower on GPU)

    def __post_init__(self):
        self.validate()

    def validate(self) -> "TrainConfig":
        """Check every value (:func:`validate_values`) and the image size both sections share; returns ``self``.
        Raises ValstudyError naming the key, the value and what is allowed."""
        validate_values(self)
        if self.data.image_size != self.model.image_size:
            # The model's spatial-attention kernels are sized for model.image_size; images of another size would
            # give maps the kernels do not cover.
            raise ValstudyError(f"{self.name}: data.image_size {self.data.image_size} differs from model.image_size "
                                f"{self.model.image_size}; set one (the other follows) or both to the same value")
        return self
