"""`data check`: the JSON-able summary, the table, and its errors."""
from __future__ import annotations

import json

import pytest

from conftest import REAL_FASHIONIQ
from valstudy.data.check import check_dataset, format_report
from valstudy.errors import MissingResourceError


def test_check_shoes_fixture(shoes_root):
    d = check_dataset("shoes", shoes_root, images=True)
    json.dumps(d)                                            # JSON-able
    by = {s["protocol"]: s for s in d["splits"]}
    assert by["default"]["queries"] == 4 and by["default"]["unique_queries"] == 3
    assert by["dedup"]["queries"] == 3 and by["default"]["gallery"] == 5
    assert by["default"]["expected"] == {"queries": 3492, "gallery": 4642}
    assert d["counts"]["train_lines"] == {"found": 5, "expected": 17954}
    assert d["train"]["triplets_epoch0"] == 5 and d["train"]["side_information"] == 2
    assert d["missing_images"]["count"] == 0 and d["unreadable_images"]["count"] == 0
    table = format_report(d)
    assert "dedup" in table and "3 (1,761) *" in table


def test_check_reports_missing_and_unreadable(fashion200k_root):
    (fashion200k_root / "women/dresses/lace/10/10_0.jpeg").unlink()
    bad = fashion200k_root / "women/skirts/silk/13/13_0.jpeg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    d = check_dataset("fashion200k", fashion200k_root, images=True)
    assert d["missing_images"] == {"count": 1, "first": [str(fashion200k_root / "women/dresses/lace/10/10_0.jpeg")]}
    assert d["unreadable_images"] == {"count": 1, "first": [str(bad)]}
    assert d["splits"][0]["dropped"] == {"missing_image": 2}
    assert "unreadable images: 1" in format_report(d)
    # annotation-only: nothing about images
    d = check_dataset("fashion200k", fashion200k_root, images=False)
    assert d["missing_images"]["count"] == 0 and d["splits"][0]["queries"] == 4


def test_check_missing_root(tmp_path):
    with pytest.raises(MissingResourceError, match="data/README.md"):
        check_dataset("fashioniq", tmp_path / "nothing")


def test_check_real_fashioniq_matches_expected():
    if not (REAL_FASHIONIQ / "captions").is_dir():
        pytest.skip(f"real FashionIQ annotations not found at {REAL_FASHIONIQ}")
    d = check_dataset("fashioniq", REAL_FASHIONIQ, images=False)
    assert len(d["splits"]) == 6
    for s in d["splits"]:
        assert (s["queries"], s["gallery"]) == (s["expected"]["queries"], s["expected"]["gallery"]), s
    assert ") *" not in format_report(d)
