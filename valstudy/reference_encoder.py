"""A fixed reference encoder for judging how visually alike retrieved images are, without attributes.

The paper's Future Work asks for "metrics to quantify visual similarities among the top retrieved items". valid@K
(``valstudy.valid_targets``) needs the synthetic world's attributes; this encoder needs nothing but the images, so
``refsim@K`` (``valstudy.metrics.reference_similarity_at_k``) also runs on real data. It is deliberately independent
of every trained model (no weights, no training), so it scores all methods on the same scale: each image is
resized to ``size`` x ``size`` RGB pixels, centred by the gallery's mean image and L2-normalised; the similarity of
two images is the cosine of these vectors.

What it misses (``docs/valid_targets.md``): it sees colour and coarse layout, not what the text asked for. A top K of
images coloured like the target scores high even when they ignore the requested change (a sleeve, a neckline or a
toe spans a few pixels at 16 x 16), and a valid target in another colour (after "is a different color") scores low.
It cannot tell a valid target from a look-alike; on real photographs pose and background weigh in as well.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .data.images import load_image

__all__ = ["encode_pixels", "reference_features", "REFERENCE_SIZE"]

REFERENCE_SIZE = 16


def encode_pixels(dataset, keys: Sequence[str], size: int = REFERENCE_SIZE) -> torch.Tensor:
    """(N, 3 * size * size) float pixels in [0, 1] of ``keys`` (bilinear resize), not yet centred."""
    rows = []
    for key in keys:
        im = load_image(dataset.image_path(key)).resize((size, size), Image.BILINEAR)
        rows.append(np.asarray(im, dtype=np.float32).reshape(-1) / 255.0)
    return torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, 3 * size * size)


def reference_features(dataset, gallery: Sequence[str], targets: Sequence[str], size: int = REFERENCE_SIZE
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(gallery features (N, D), target features (Q, D)): centred by the gallery mean and L2-normalised.

    Each distinct image is decoded once; targets outside the gallery are decoded too.
    """
    keys = list(dict.fromkeys(list(gallery) + list(targets)))
    index = {k: i for i, k in enumerate(keys)}
    raw = encode_pixels(dataset, keys, size)  # (M, D)
    g = raw[[index[k] for k in gallery]]
    mean = g.mean(0, keepdim=True) if len(g) else 0.0
    feats = torch.nn.functional.normalize(raw - mean, dim=1)
    return feats[[index[k] for k in gallery]], feats[[index[k] for k in targets]]
