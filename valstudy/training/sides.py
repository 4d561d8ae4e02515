"""Training inputs beside the user-text triplets: the L_vs triplets (the image transform is ``data.transforms``).

L_vs (supplementary, Section 2; yanbeic/VAL issue 8): the authors train "with the same loss, replacing the user text by the image's tagged
description". The description fully describes its image, so we form the triplet
(a random other training image as reference, the tagged description, the tagged image as target): the composite
transformer must write the described image from an unrelated one, i.e. match the description to the image.
This is our reading; the paper does not spell the pairing out (see README, deviations).
"""
from __future__ import annotations

import torch

from ..data.base import Triplet
from ..errors import ValstudyError
from .batches import _mix


def lvs_triplets(dataset, epoch: int, seed: int) -> list[Triplet]:
    """(random other image, tagged description, tagged image) for every tagged training image; re-drawn each epoch."""
    tagged = sorted(dataset.side_information())
    if len(tagged) < 2:
        raise ValstudyError(f"{dataset.name}: L_vs needs tagged descriptions, found {len(tagged)} "
                            f"(side information is Fashion200k descriptions or Shoes captions_shoes.json)")
    pool = sorted(dataset.train_images())
    g = torch.Generator().manual_seed(_mix(seed, epoch, 31))
    refs = torch.randint(0, len(pool), (len(tagged),), generator=g).tolist()
    out = []
    for (key, text), r in zip(tagged, refs):
        ref = pool[r] if pool[r] != key else pool[(r + 1) % len(pool)]
        out.append(Triplet(reference=ref, text=text, target=key))
    return out

