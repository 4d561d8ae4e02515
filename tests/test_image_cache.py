"""The decoded-image cache returns what decoding returns, decodes each file once, and notices changed files."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from valstudy.data.images import DecodedImageCache, image_transform, load_image
from valstudy.errors import DataError


def _jpeg(path, seed, size=64):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path, quality=90)
    return path


@pytest.mark.parametrize("train", [False, True])
def test_cached_images_equal_decoded_ones(tmp_path, train):
    paths = [_jpeg(tmp_path / f"{i}.jpg", i) for i in range(4)]
    cache, transform = DecodedImageCache(), image_transform(64, train=train)
    for _ in range(2):  # the second pass is served from the cache
        for p in paths:
            torch.manual_seed(0)
            got = transform(cache.load(p))
            torch.manual_seed(0)
            assert torch.equal(got, transform(load_image(p)))
    assert cache.decoded == 4 and cache.hits == 4 and cache.bytes == 4 * 64 * 64 * 3


def test_changed_file_is_decoded_again(tmp_path):
    p = _jpeg(tmp_path / "a.jpg", 0)
    cache = DecodedImageCache()
    first = np.asarray(cache.load(p))
    _jpeg(p, 1, size=48)
    os.utime(p, ns=(os.stat(p).st_atime_ns, os.stat(p).st_mtime_ns + 10**9))
    second = np.asarray(cache.load(p))
    assert second.shape == (48, 48, 3) and np.array_equal(second, np.asarray(load_image(p)))
    assert cache.decoded == 2 and cache.bytes == 48 * 48 * 3 and not np.array_equal(first[:48, :48], second)


def test_budget_keeps_decoding_beyond_it_and_counts(tmp_path):
    paths = [_jpeg(tmp_path / f"{i}.jpg", i) for i in range(3)]
    cache = DecodedImageCache(max_bytes=2 * 64 * 64 * 3)
    for p in paths * 2:
        assert np.array_equal(np.asarray(cache.load(p)), np.asarray(load_image(p)))
    assert cache.bytes == 2 * 64 * 64 * 3 and cache.hits == 2 and cache.uncached == 2


def test_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match="missing"):
        DecodedImageCache().load(tmp_path / "none.jpg")
