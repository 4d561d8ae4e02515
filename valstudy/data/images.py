"""Image loading and the preprocessing of the authors' code (docs/shapes.md; yanbeic/VAL).

Resize to a square without keeping the aspect ratio, scale pixels to [-1, 1]; at train time a random horizontal flip
always, and for FashionIQ a random resize to a side in [size, size + 24) followed by a random size x size crop.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
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


class DecodedImageCache:
    """Decoded RGB pixels of image files, kept as uint8 tensors so each file is decoded once per process.

    ``load(path)`` returns the same PIL image as :func:`load_image` (rebuilt from the kept pixels, no JPEG decode);
    a file whose modification time or size changed is decoded again. Pixels are kept until ``max_bytes`` are held;
    later images are decoded on every call (``uncached`` counts those calls). The synthetic datasets (a few thousand
    64 px images, about 12 KiB each decoded) fit many times over in the default 256 MiB.
    """

    def __init__(self, max_bytes: int = 256 << 20):
        self.max_bytes, self.bytes = max_bytes, 0
        self.hits = self.decoded = self.uncached = 0
        self._pixels: dict[str, tuple[tuple[int, int], torch.Tensor]] = {}

    def load(self, path: str | Path) -> Image.Image:
        key = os.fspath(path)
        try:
            st = os.stat(key)
        except OSError:
            raise DataError(Path(path), "image file missing") from None
        stamp = (st.st_mtime_ns, st.st_size)
        kept = self._pixels.get(key)
        if kept is not None and kept[0] == stamp:
            self.hits += 1
            return Image.fromarray(kept[1].numpy(), "RGB")
        img = load_image(path)
        self.decoded += 1
        pixels = torch.from_numpy(np.array(img, dtype=np.uint8))  # (H, W, 3), a copy owned by the cache
        if kept is not None:
            self.bytes -= kept[1].numel()
        if self.bytes + pixels.numel() <= self.max_bytes:
            self._pixels[key] = (stamp, pixels)
            self.bytes += pixels.numel()
        else:
            self._pixels.pop(key, None)
            self.uncached += 1
        return img

    def clear(self) -> None:
        self._pixels.clear()
        self.bytes = 0


_CACHE = DecodedImageCache()


def load_image_cached(path: str | Path) -> Image.Image:
    """:func:`load_image` through this process's :class:`DecodedImageCache` (training and evaluation use it)."""
    return _CACHE.load(path)


def image_cache() -> DecodedImageCache:
    """This process's cache of decoded images (its counters say how often it decoded)."""
    return _CACHE


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
