"""FLOP counting: hand arithmetic for single layers, and the report's structure."""
import json

import torch
import torch.nn as nn

from valstudy.flops import count_macs, flops_report, format_flops
from valstudy.models.composite_transformer import CompositeTransformer


def test_one_1x1_conv_equals_hand_arithmetic():
    conv = nn.Conv2d(8, 4, 1)
    macs, _ = count_macs(conv, torch.zeros(1, 8, 5, 5))
    assert macs == 8 * 4 * 5 * 5  # c_in x c_out x positions, one multiply-accumulate each


def test_composite_transformer_parts_by_hand():
    c, text, h, w, heads = 4, 2, 3, 3, 2
    ct = CompositeTransformer(c, text, heads, spatial_size=(h, w))
    total, parts = count_macs(ct, torch.zeros(1, c, h, w), torch.zeros(1, text))
    n, d = h * w, c // heads
    assert parts["composite"] == (c + text) * c * n  # F_c: 1x1 conv at every position
    assert parts["ja"] == c * c + (h * w) * n  # F_ch on the pooled map + h x w kernel at each of h*w positions
    qkv = 3 * heads * d * d * n  # per-head projections on their own chunks
    assert parts["sa"] == qkv + 2 * heads * n * n * d + c * c * n  # + QK^T and AV, + F_sa
    assert total == parts["composite"] + parts["ja"] + parts["sa"]


def test_flops_report_rows_and_text():
    report = flops_report()
    json.dumps(report)
    names = {r["name"] for r in report["rows"]}
    assert "composite transformers, 3 levels (paper shapes)" in names and "ResNet-50 (torchvision)" in names
    ct = next(r for r in report["rows"] if r["name"] == "composite transformers, 3 levels (paper shapes)")
    levels = [r for r in report["rows"] if r["name"].startswith("composite transformer ") and "(paper shapes)" in r["name"]]
    assert ct["macs"] == sum(r["macs"] for r in levels)
    assert report["ratios"]["extra_cost_vs_resnet50_224"] > 0.3  # far from the supplementary's 2.13%
    text = format_flops(report)
    assert "8.10e+07" in text and "2.13%" in text and "MACs" in text
