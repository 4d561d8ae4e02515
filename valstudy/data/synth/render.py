"""Procedural images and part masks of garments and shoes, drawn with PIL and numpy.

Each image is drawn at twice its size and averaged down (anti-aliasing). Placement, scale, background colour or
gradient, pattern phase and pixel noise are random, so no attribute can be read off a fixed pixel. The part mask
gives, per pixel, the index of the part drawn there (``world.GARMENT_PARTS`` / ``world.SHOE_PARTS``; 0 = background).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .world import GARMENT_PARTS, SHOE_PARTS, colour_rgb

_SS = 2  # supersampling factor
_G = {name: i for i, name in enumerate(GARMENT_PARTS)}
_S = {name: i for i, name in enumerate(SHOE_PARTS)}


class _Canvas:
    """A supersampled canvas with a random placement of the unit square [0, 1]^2 (the garment's frame)."""

    def __init__(self, rng: np.random.Generator, size: int, flip: bool):
        self.rng, self.size, self.W = rng, size, size * _SS
        self.scale = float(rng.uniform(0.82, 0.98)) * self.W
        slack = self.W - self.scale
        self.x0 = float(rng.uniform(0.1, 0.9)) * slack
        self.y0 = float(rng.uniform(0.1, 0.9)) * slack
        self.flip = flip
        self.rgb = _background(rng, self.W)  # (W, W, 3) float32
        self.labels = np.zeros((self.W, self.W), np.uint8)

    def xy(self, pts):
        """Frame coordinates -> supersampled pixel coordinates."""
        return [(self.x0 + (1.0 - u if self.flip else u) * self.scale, self.y0 + v * self.scale) for u, v in pts]

    def mask(self, kind: str, pts, width: float = 0.0) -> np.ndarray:
        """A boolean (W, W) mask of a polygon, ellipse (two corner points) or polyline drawn in frame coordinates."""
        im = Image.new("L", (self.W, self.W), 0)
        d = ImageDraw.Draw(im)
        p = self.xy(pts)
        if kind == "polygon":
            d.polygon(p, fill=1)
        elif kind == "ellipse":
            (xa, ya), (xb, yb) = p
            d.ellipse([min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)], fill=1)
        else:
            d.line(p, fill=1, width=max(1, int(round(width * self.scale))), joint="curve")
        return np.asarray(im, dtype=bool)

    def paint(self, m: np.ndarray, part: int, fill: np.ndarray):
        """Paint ``fill`` ((W, W, 3) or (3,)) where ``m`` is set, and label those pixels ``part``."""
        self.rgb[m] = fill[m] if fill.ndim == 3 else fill
        self.labels[m] = part

    def finish(self) -> tuple[Image.Image, np.ndarray]:
        """Outline the parts, average down, add pixel noise; return (RGB image, (size, size) uint8 part mask)."""
        lab = self.labels
        edge = np.zeros_like(lab, dtype=bool)
        edge[:, :-1] |= lab[:, :-1] != lab[:, 1:]
        edge[:-1, :] |= lab[:-1, :] != lab[1:, :]
        self.rgb[edge] *= 0.55
        s = self.size
        img = self.rgb.reshape(s, _SS, s, _SS, 3).mean(axis=(1, 3))
        img = img * float(self.rng.uniform(0.94, 1.06)) + self.rng.normal(0.0, self.rng.uniform(2.0, 6.0), img.shape)
        img = np.clip(np.round(img), 0, 255).astype(np.uint8)
        regions = np.ascontiguousarray(lab[_SS // 2::_SS, _SS // 2::_SS])
        return Image.fromarray(img, "RGB"), regions


def _background(rng: np.random.Generator, W: int) -> np.ndarray:
    """A light, low-saturation solid colour or linear gradient."""
    def tone():
        v = rng.uniform(150, 250)
        return np.clip(v + rng.normal(0, 14, 3), 0, 255)

    a = tone()
    if rng.random() < 0.4:
        return np.broadcast_to(a, (W, W, 3)).astype(np.float32)
    b = tone()
    theta = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:W, 0:W] / max(W - 1, 1)
    t = (np.cos(theta) * (xx - 0.5) + np.sin(theta) * (yy - 0.5)) / 0.71 * 0.5 + 0.5
    return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32)


def _texture(rng: np.random.Generator, c: _Canvas, attrs: dict) -> np.ndarray:
    """The garment fabric: its colour, with the texture's pattern in a contrasting colour. (W, W, 3) float32."""
    W = c.W
    base = np.array(colour_rgb(attrs), np.float32)
    second = np.array((245, 245, 240) if attrs["shade"] == "dark" else (45, 40, 50), np.float32)
    out = np.empty((W, W, 3), np.float32)
    out[:] = base
    kind = attrs["texture"]
    if kind == "solid":
        return out
    yy, xx = np.mgrid[0:W, 0:W].astype(np.float32)
    period = c.scale * float(rng.uniform(0.085, 0.11))  # pattern scale follows the garment's scale
    ph = rng.uniform(0, period, 2)
    if kind == "stripes":
        ang = rng.uniform(-0.25, 0.25)
        t = ((np.cos(ang) * xx + np.sin(ang) * yy + ph[0]) / period) % 1.0
        m = t < 0.4
    elif kind == "checks":
        a = ((xx + ph[0]) / period) % 2.0 < 1.0
        b = ((yy + ph[1]) / period) % 2.0 < 1.0
        m = a ^ b
        out[m] = 0.55 * base + 0.45 * second
        return out
    elif kind == "dots":
        dx = ((xx + ph[0]) % period) - period / 2
        dy = ((yy + ph[1]) % period) - period / 2
        m = dx * dx + dy * dy < (0.22 * period) ** 2
    else:  # floral: scattered five-petal flowers with a yellow heart
        m = np.zeros((W, W), bool)
        heart = np.zeros((W, W), bool)
        n = int(W * W / (1.6 * period) ** 2)
        r = 0.3 * period
        for cx, cy in rng.uniform(0, W, (n, 2)):
            for k in range(5):
                a = 2 * np.pi * k / 5
                px, py = cx + r * np.cos(a), cy + r * np.sin(a)
                m |= (xx - px) ** 2 + (yy - py) ** 2 < (0.55 * r) ** 2
            heart |= (xx - cx) ** 2 + (yy - cy) ** 2 < (0.45 * r) ** 2
        out[m] = second
        out[heart] = (235, 200, 40)
        return out
    out[m] = second
    return out


def _neckline(c: _Canvas, fabric: np.ndarray, shape: str, cx: float, top: float, w: float, collar: bool):
    """A trim band then the cut (showing the darker inside of the garment), both labelled neckline."""
    def cut(g):
        if shape == "round":
            return c.mask("ellipse", [(cx - w - g, top - 0.1), (cx + w + g, top + 0.09 + g)])
        if shape == "v":
            return c.mask("polygon", [(cx - w - g, top - 0.01), (cx + w + g, top - 0.01), (cx, top + 0.2 + 1.6 * g)])
        return c.mask("polygon", [(cx - w - g, top - 0.01), (cx + w + g, top - 0.01),
                                  (cx + w + g, top + 0.11 + g), (cx - w - g, top + 0.11 + g)])

    inside = c.labels > 0
    c.paint(cut(0.025) & inside, _G["neckline"], fabric * 0.75)
    c.paint(cut(0.0) & inside, _G["neckline"], fabric * 0.45)
    if collar:
        for s in (-1, 1):
            c.paint(c.mask("polygon", [(cx + s * (w + 0.04), top - 0.02), (cx + s * 0.01, top + 0.03),
                                       (cx + s * (w + 0.01), top + 0.1)]), _G["neckline"], fabric * 1.05)


def _sleeves(c: _Canvas, fabric: np.ndarray, length: str, sx: float, sy: float, hem_y: float):
    """Two sleeves from the shoulders at x = 0.5 -+ sx, y = sy."""
    if length == "none":
        return
    for s in (-1, 1):
        x = 0.5 + s * sx
        if length == "short":
            pts = [(x, sy), (x + s * 0.17, sy + 0.16), (x + s * 0.08, sy + 0.23), (x - s * 0.01, sy + 0.15)]
        else:
            end = min(hem_y, sy + 0.62)
            pts = [(x, sy), (x + s * 0.24, end - 0.03), (x + s * 0.15, end + 0.02), (x - s * 0.01, sy + 0.15)]
        c.paint(c.mask("polygon", pts), _G["sleeve"], fabric * 0.82)


def _upper_garment(c: _Canvas, fabric: np.ndarray, attrs: dict, top: float, half: float, hem_y: float,
                   collar: bool = False, opening: bool = False):
    """Torso with sleeves and neckline (tops, shirts, jackets)."""
    _sleeves(c, fabric, attrs["sleeve"], half, top, hem_y)
    torso = c.mask("polygon", [(0.5 - half, top), (0.5 + half, top), (0.5 + half + 0.02, top + 0.15),
                               (0.5 + half, hem_y), (0.5 - half, hem_y), (0.5 - half - 0.02, top + 0.15)])
    c.paint(torso, _G["body"], fabric)
    _neckline(c, fabric, attrs["neckline"], 0.5, top, 0.08, collar)
    if collar or opening:  # button placket or jacket opening down the middle
        line = c.mask("line", [(0.5, top + 0.12), (0.5, hem_y)], width=0.025 if opening else 0.012)
        c.paint(line & (c.labels == _G["body"]), _G["body"], fabric * (0.5 if opening else 0.75))


def _lower(c: _Canvas, fabric: np.ndarray, polys: list, hem_start: float):
    """Skirt or legs: the part below ``hem_start`` is labelled hem (where the hem length shows)."""
    for pts in polys:
        m = c.mask("polygon", pts)
        c.paint(m, _G["body"], fabric)
    band = c.mask("polygon", [(-1, hem_start), (2, hem_start), (2, 2), (-1, 2)])
    c.labels[band & (c.labels == _G["body"])] = _G["hem"]


_SKIRT_HEM = {"mini": 0.45, "knee": 0.7, "maxi": 0.97}
_DRESS_HEM = {"mini": 0.56, "knee": 0.76, "maxi": 0.97}
_PANTS_HEM = {"mini": 0.5, "knee": 0.74, "maxi": 0.97}


def render_garment(rng: np.random.Generator, attrs: dict, size: int) -> tuple[Image.Image, np.ndarray]:
    """Draw one view of a garment (any category but ``shoe``); returns (RGB image, part mask)."""
    c = _Canvas(rng, size, flip=False)
    fabric = _texture(rng, c, attrs)
    cat = attrs["category"]
    if cat in ("top", "toptee", "shirt", "jacket"):
        hem_y = {"top": 0.88, "toptee": 0.82, "shirt": 0.92, "jacket": 0.96}[cat]
        half = 0.24 if cat != "jacket" else 0.26
        _upper_garment(c, fabric, attrs, 0.06, half, hem_y, collar=cat == "shirt", opening=cat == "jacket")
    elif cat == "dress":
        y = _DRESS_HEM[attrs["hem"]]
        flare = 0.15 + 0.3 * (y - 0.36)
        _sleeves(c, fabric, attrs["sleeve"], 0.16, 0.04, 0.8)
        _lower(c, fabric, [[(0.5 - 0.16, 0.04), (0.5 + 0.16, 0.04), (0.5 + 0.13, 0.36), (0.5 + flare, y),
                            (0.5 - flare, y), (0.5 - 0.13, 0.36)]], y - 0.35 * (y - 0.36))
        _neckline(c, fabric, attrs["neckline"], 0.5, 0.04, 0.08, False)
    elif cat == "skirt":
        y = _SKIRT_HEM[attrs["hem"]]
        flare = 0.22 + 0.22 * (y - 0.1)
        _lower(c, fabric, [[(0.28, 0.1), (0.72, 0.1), (0.5 + flare, y), (0.5 - flare, y)]], y - 0.4 * (y - 0.1))
        c.paint(c.mask("polygon", [(0.28, 0.03), (0.72, 0.03), (0.72, 0.1), (0.28, 0.1)]), _G["body"], fabric * 0.8)
    elif cat == "pants":
        y = _PANTS_HEM[attrs["hem"]]
        gap, out = 0.015 + 0.1 * (y - 0.35), 0.27 + 0.03 * (y - 0.35)
        legs = [[(0.26, 0.08), (0.74, 0.08), (0.75, 0.35), (0.25, 0.35)],
                [(0.25, 0.3), (0.5, 0.3), (0.5 - gap, y), (0.5 - out, y)],
                [(0.75, 0.3), (0.5, 0.3), (0.5 + gap, y), (0.5 + out, y)]]
        _lower(c, fabric, legs, y - 0.4 * (y - 0.35))
        c.paint(c.mask("polygon", [(0.26, 0.03), (0.74, 0.03), (0.74, 0.09), (0.26, 0.09)]), _G["body"], fabric * 0.8)
    else:
        raise ValueError(f"render_garment: unknown category {cat!r}")
    return c.finish()


_HEEL_H = {"flat": 0.015, "mid": 0.09, "high": 0.19}


def render_shoe(rng: np.random.Generator, attrs: dict, size: int) -> tuple[Image.Image, np.ndarray]:
    """Draw a shoe in side view (toe to the left or right at random); returns (RGB image, part mask)."""
    c = _Canvas(rng, size, flip=bool(rng.random() < 0.5))
    fabric = _texture(rng, c, attrs)
    g, h = 0.9, _HEEL_H[attrs["heel"]]
    back = g - h  # the heel lifts the back of the foot; the toe stays on the ground
    ankle = back - 0.2
    if attrs["shaft"] != "low":
        top = 0.42 if attrs["shaft"] == "ankle" else 0.06
        c.paint(c.mask("polygon", [(0.1, top), (0.33, top), (0.36, ankle + 0.08), (0.12, back - 0.02)]),
                _S["shaft"], fabric * 0.92)
    c.paint(c.mask("polygon", [(0.1, ankle), (0.27, ankle + 0.03), (0.6, g - 0.14), (0.7, g - 0.1), (0.7, g - 0.01),
                               (0.55, g - 0.01), (0.1, back - 0.01)]), _S["upper"], fabric)
    if attrs["toe"] == "round":
        toe = c.mask("ellipse", [(0.56, g - 0.12), (0.86, g)])
    else:
        toe = c.mask("polygon", [(0.6, g - 0.11), (0.7, g - 0.1), (0.96, g - 0.005), (0.6, g - 0.005)])
    c.paint(toe & (c.labels != _S["upper"]) | toe & c.mask("polygon", [(0.62, 0), (2, 0), (2, 2), (0.62, 2)]),
            _S["toe"], fabric * 0.85)
    dark = np.array((38, 34, 32), np.float32)
    if attrs["closure"] == "laces":
        for k in range(4):
            x, y = 0.36 + 0.065 * k, ankle + 0.06 + (g - 0.14 - ankle - 0.06) * k / 3.5
            m = c.mask("line", [(x - 0.03, y - 0.03), (x + 0.03, y + 0.03)], 0.022)
            m |= c.mask("line", [(x - 0.03, y + 0.03), (x + 0.03, y - 0.03)], 0.022)
            c.paint(m, _S["closure"], np.array((250, 250, 250), np.float32))
    elif attrs["closure"] == "strap":
        m = c.mask("line", [(0.1, ankle + 0.04), (0.4, ankle + 0.02), (0.5, g - 0.02)], 0.045)
        c.paint(m & (c.labels > 0), _S["closure"], dark + 30)
    else:  # slip-on: an elastic gore at the collar
        c.paint(c.mask("polygon", [(0.22, ankle + 0.01), (0.3, ankle + 0.03), (0.27, ankle + 0.12)]),
                _S["closure"], fabric * 0.55)
    heel_w = 0.1 if h > 0.05 else 0.14
    c.paint(c.mask("polygon", [(0.1, back), (0.1 + heel_w, back), (0.1 + 0.6 * heel_w, g), (0.12, g)]),
            _S["heel"], dark)
    sole = c.mask("line", [(0.1, back), (0.55, g), (0.93 if attrs["toe"] == "pointed" else 0.84, g)], 0.03)
    c.paint(sole & (c.labels != _S["heel"]), _S["sole"], dark + 20)
    return c.finish()


def render(rng: np.random.Generator, attrs: dict, size: int) -> tuple[Image.Image, np.ndarray]:
    """Draw a garment or a shoe (``attrs["category"] == "shoe"``)."""
    return (render_shoe if attrs["category"] == "shoe" else render_garment)(rng, attrs, size)
