"""Image loading, preprocessing and the torch datasets over a fixture."""
from __future__ import annotations

import pytest
import torch
from PIL import Image

from conftest import color_of
from valstudy.data.fashioniq import FashionIQ
from valstudy.data.images import image_transform, load_image
from valstudy.data.torchdata import ImageDataset, QueryDataset, collate_queries
from valstudy.errors import DataError
from valstudy.text import Vocabulary


def test_load_image_errors(tmp_path):
    with pytest.raises(DataError, match="nope.jpg: image file missing"):
        load_image(tmp_path / "nope.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match="bad.jpg: image does not decode"):
        load_image(bad)
    gray = tmp_path / "g.png"
    Image.new("L", (4, 4), 255).save(gray)
    assert load_image(gray).mode == "RGB"


def test_transform_range_flip_and_crop(tmp_path):
    im = Image.new("RGB", (20, 10))
    im.paste((255, 0, 0), (0, 0, 10, 10))          # left half red, right half black
    x = image_transform(8, train=False)(im)
    assert x.shape == (3, 8, 8)                    # square, aspect ratio ignored
    assert x.min() >= -1 and x.max() <= 1
    assert x[0, 4, 0] == pytest.approx(1, abs=0.05) and x[0, 4, 7] == pytest.approx(-1, abs=0.05)
    torch.manual_seed(0)
    t = image_transform(8, train=True)
    lefts = {round(float(t(im)[0, 4, 0])) for _ in range(30)}
    assert lefts == {-1, 1}                         # flipped some of the time
    y = image_transform(8, train=True, random_resized_crop=(8, 12))(im)
    assert y.shape == (3, 8, 8)


def test_datasets_and_collate(fashioniq_root):
    ds = FashionIQ(fashioniq_root)
    vocab = Vocabulary.build(ds.vocabulary_texts())
    tf = image_transform(4, train=False)
    split = ds.eval_splits()[0]
    q = QueryDataset(ds, split.queries, vocab, tf, min_count=2)
    ref, ids = q[1]
    assert ref.shape == (3, 4, 4) and ids == vocab.encode(split.queries[1].text, 2)
    expect = torch.tensor(color_of(split.queries[1].reference), dtype=torch.float) / 127.5 - 1
    assert torch.allclose(ref.mean((1, 2)), expect, atol=0.05)          # the query's reference image
    refs, text = collate_queries([q[0], q[2]])
    assert refs.shape == (2, 3, 4, 4)
    # "is darker" -> "is" seen 4 times, "darker" never: <UNK>; "is blue" likewise
    assert text.tokens.tolist() == [[vocab.index["is"], 0], [vocab.index["is"], 0]]
    images = ImageDataset(ds, split.gallery, tf)
    assert len(images) == 3 and images[2].shape == (3, 4, 4)


def test_collate_pads_with_zeros():
    a = (torch.zeros(3, 2, 2), [5, 6, 7])
    b = (torch.zeros(3, 2, 2), [8])
    _, text = collate_queries([a, b])
    assert text.tokens.tolist() == [[5, 6, 7], [8, 0, 0]] and text.lengths.tolist() == [3, 1]
