"""Image preprocessing of a configuration: the transform training and evaluation apply to every image."""
from __future__ import annotations

from .images import image_transform


def make_transform(data_cfg, train: bool):
    """PIL image -> (3, H, W) tensor in [-1, 1] for ``data_cfg`` (a :class:`~valstudy.config.DataConfig`).

    Training flips horizontally when ``hflip``; FashionIQ's random resize (``random_resized_crop``) uses sides in
    [size, size + 24 * size / 256), i.e. [256, 280) at the paper's 256 px, then crops ``size``. Evaluation resizes
    only.
    """
    size = data_cfg.image_size
    crop = (size, size + max(1, round(24 * size / 256))) if data_cfg.random_resized_crop else None
    return image_transform(size, train=train and data_cfg.hflip, random_resized_crop=crop if train else None)
