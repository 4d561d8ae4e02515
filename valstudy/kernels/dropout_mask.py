"""The dropout mask on the self-attention's weights, as both CPU kernels draw it: counter-based, 16 bits per weight.

Weight (i, j) of matrix m (image b's head h is m = b * heads + h) belongs to row r = m * n + i. Its 16 random bits
are the top half of MurmurHash3's 32-bit finaliser applied to the row's key (a hash of r and the 64-bit seed) plus
j * 0x9E3779B9, read as an integer in [-2^15, 2^15); the weight is kept when they are >= :func:`dropout_threshold`
(p), so with probability :func:`dropout_keep_probability` (p), p rounded to a multiple of 2^-16. A counter-based
draw needs no stored mask: backward, any chunk of the batch and any thread redraw exactly the same bits, and the C
kernel (``attention_native.c``) computes them in its inner loop.
"""
from __future__ import annotations

import math

import torch

_MASK_BITS = 16


def dropout_keep_probability(p: float) -> float:
    """The keep probability both kernels realise: 1 - p, p rounded to a multiple of 2^-16 (0.1 -> 1 - 6554/65536
    = 0.8999939)."""
    return 1.0 - round(p * (1 << _MASK_BITS)) / (1 << _MASK_BITS)


def dropout_threshold(p: float) -> int:
    """The int16 value below which an entry's 16 random bits drop it: round(p * 2^16) - 2^15."""
    return round(p * (1 << _MASK_BITS)) - (1 << (_MASK_BITS - 1))


_M32, _GOLDEN = 0xFFFFFFFF, 0x9E3779B9


def _i32(x):
    """uint32 values (a Python int or an int64 tensor) as the int32 with the same bits."""
    if isinstance(x, int):
        return x - (1 << 32) if x >= 1 << 31 else x
    return torch.where(x >= 1 << 31, x - (1 << 32), x).to(torch.int32)


def _fmix32(h: torch.Tensor) -> torch.Tensor:
    """MurmurHash3's 32-bit finaliser, in place, on an int32 tensor read as uint32 (multiplication wraps modulo
    2^32; right shifts are masked to be logical)."""
    t = torch.empty_like(h)
    for shift, factor in ((16, 0x85EBCA6B), (13, 0xC2B2AE35), (16, None)):
        torch.bitwise_right_shift(h, shift, out=t)
        h ^= t.bitwise_and_((1 << (32 - shift)) - 1)
        if factor is not None:
            h *= _i32(factor)
    return h


def mask_bits(seed: int, first_row: int, rows: int, n: int) -> torch.Tensor:
    """(rows, n) int32 in [-2^15, 2^15): the random bits of weight rows first_row .. first_row + rows - 1.

    Row r = m * n + i is row i of matrix m (image b's head h is m = b * heads + h); its entry j is kept when its
    bits are >= :func:`dropout_threshold`. A counter-based draw (MurmurHash3's finaliser on the row's key plus
    j * 0x9E3779B9), so any row can be drawn again in backward; ``attention_native.c`` computes the same bits.
    """
    r = torch.arange(first_row, first_row + rows, dtype=torch.int64)
    low = _fmix32(_i32((r & _M32) ^ (seed & _M32)))
    keys = _fmix32(low ^ _i32((r >> 32) ^ ((seed >> 32) & _M32)))  # (rows,)
    cols = torch.arange(n, dtype=torch.int32) * _i32(_GOLDEN)  # (n,), wrapping
    h = _fmix32(keys[:, None] + cols[None, :])  # (rows, n)
    return h.bitwise_right_shift_(16).bitwise_and_(0xFFFF).sub_(1 << 15)


def dropout_keep_mask(seed: int, first_row: int, shape: tuple[int, ...], p: float,
                      out: torch.Tensor | None = None) -> torch.Tensor:
    """Float 0/1 mask of ``shape`` (matrices, n, n) whose rows start at weight row ``first_row`` (:func:`mask_bits`);
    an entry is kept with :func:`dropout_keep_probability` (p). ``out`` (float32) is an optional buffer."""
    rows, n = math.prod(shape[:-1]), shape[-1]
    mask = torch.empty(shape, dtype=torch.float32) if out is None else out
    return torch.ge(mask_bits(seed, first_row, rows, n).view(shape), dropout_threshold(p), out=mask)
