"""Image loading and the preprocessing of the authors' code (docs/shapes.md; yanbeic/VAL).

Resize to a square without keeping the aspect ratio, scale pixels to [-1, 1]; at train time a random horizontal flip
always, and for FashionIQ a random resize to a side in [size, size + 24) followed by a random size x size crop.
"""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms as T

from ..errors import DataError


def load_image(path: str | Path) -> Image.Image:
    """Open an image file as RGB; a missing or undecodable file raises DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "image file missing")
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(path, f"image does not decode: {e}") from None


def verify_image(path: str | Path) -> None:
    """Decode an image cheaply (JPEG draft mode at 1/8 scale still reads the whole stream); DataError if it fails."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.draft("RGB", (32, 32))
            im.load()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(path, f"image does not decode: {e}") from None


class RandomSquareResizeCrop(torch.nn.Module):
    """Resize to a random square side in [low, high), then crop ``size`` x ``size`` at a random place
    (the authors' FashionIQ augmentation: side in [256, 280), crop 256)."""

    def __init__(self, size: int, low: int, high: int):
        super().__init__()
        if not (size <= low < high):
            raise ValueError(f"need size <= low < high, got size={size}, low={low}, high={high}")
        self.size, self.low, self.high = size, low, high

    def forward(self, img: Image.Image) -> Image.Image:
        side = int(torch.randint(self.low, self.high, ()).item())
        img = img.resize((side, side), Image.Resampling.BILINEAR)
        i, j = (int(torch.randint(0, side - self.size + 1, ()).item()) for _ in range(2))
        return img.crop((j, i, j + self.size, i + self.size))


def image_transform(size: int, train: bool, random_resized_crop: tuple[int, int] | None = None) -> T.Compose:
    """PIL image -> float tensor (3, size, size) in [-1, 1].

    Parameters
    ----------
    size : output side in pixels (224 for Fashion200k, 256 for Shoes and FashionIQ in the paper).
    train : add the random horizontal flip (and the random resize + crop when asked).
    random_resized_crop : (low, high) square side range before a random ``size`` crop, train only; the authors use
        (256, 280) for FashionIQ, i.e. (size, size + 24).
    """
    steps: list = []
    if train and random_resized_crop is not None:
        steps.append(RandomSquareResizeCrop(size, *random_resized_crop))
    else:
        steps.append(T.Resize((size, size), interpolation=T.InterpolationMode.BILINEAR))
    if train:
        steps.append(T.RandomHorizontalFlip())
    steps += [T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)]   # [0, 1] -> [-1, 1]
    return T.Compose(steps)
