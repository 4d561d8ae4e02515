"""Stand-in images: a labelled, deterministic picture for every image a dataset's annotation files name and that is
missing, so real annotation files without their images (FashionIQ's ship without them) make a complete dataset for a
rehearsal of the real-data route at the real scale.

Stand-ins are never mixed into a real copy silently: :func:`write_standins` refuses a folder that already holds any
of the images its annotations name (unless ``force``), and writes the marker file :data:`MARKER` at the root *before*
the first image. The loaders see the marker (``load_dataset`` adds :data:`NOTE` to the report's notes and counts
``stand_in_images``), evaluation writes ``stand_in_images`` into ``results.json``, and figures saved after a stand-in
dataset was loaded carry :data:`NOTE`. Numbers computed on stand-ins measure the route, never the method.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from ..errors import ValstudyError
from ..io import read_json, write_json

from .marker import MARKER, NOTE, label_dataset, standin_info, standins_loaded  # noqa: F401 (re-exported)

SIDE = 64            # stand-ins are small: the transforms resize every image to the model's input side anyway


def referenced_images(ds) -> list[str]:
    """Every image key the loader reads: training images and triplets, and each protocol's queries and gallery."""
    keys = dict.fromkeys(ds.train_images())
    for t in ds.train_triplets(epoch=0, seed=0):
        keys.update(dict.fromkeys((t.reference, t.target)))
    for key, _ in ds.side_information():
        keys[key] = None
    for p in ds.protocols:
        for s in ds.eval_splits(p):
            keys.update(dict.fromkeys(s.gallery))
            keys.update(dict.fromkeys(q.reference for q in s.queries))
    return list(keys)


def standin_image(key: str, side: int = SIDE):
    """A deterministic picture for ``key``: a colour from the key's hash, "STAND-IN" and the key written on it."""
    from PIL import Image, ImageDraw

    h = hashlib.sha256(key.encode()).digest()
    img = Image.new("RGB", (side, side), (64 + h[0] % 160, 64 + h[1] % 160, 64 + h[2] % 160))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, side - 1, 12), fill=(255, 255, 255))
    draw.text((2, 1), "STAND-IN", fill=(200, 0, 0))
    name = Path(key).stem
    for i in range(0, min(len(name), 30), 10):
        draw.text((2, 16 + 12 * (i // 10)), name[i:i + 10], fill=(0, 0, 0))
    return img


def _save(img, path: Path) -> None:
    # temporary file + rename (no fsync per image: tens of thousands of files; the marker is written first)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            img.save(f, format="JPEG", quality=85)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_standins(dataset: str, root: str | Path, force: bool = False, progress: bool = False) -> dict:
    """Write a stand-in for every image ``dataset``'s annotation files under ``root`` name and that is missing.

    Parameters
    ----------
    dataset : fashion200k, shoes or fashioniq.
    root : the dataset folder holding the real annotation files.
    force : write stand-ins even when some named images exist and the folder holds no marker yet (a real copy with
        gaps); the marker then counts the real images too.
    progress : print a line every 10,000 images.

    Returns
    -------
    dict: ``dataset``, ``root``, ``referenced``, ``present`` (already there), ``written`` (stand-ins in the folder,
    this call's and earlier ones'), ``seconds``.
    """
    from . import DATASETS

    if dataset not in DATASETS:
        raise ValstudyError(f"unknown dataset '{dataset}'; choose one of: {', '.join(DATASETS)}")
    t0 = time.time()
    root = Path(root)
    ds = DATASETS[dataset](root, check_images=False)
    keys = referenced_images(ds)
    paths = [(k, ds.image_path(k)) for k in keys]
    before = standin_info(root)
    present = sum(1 for _, p in paths if p.is_file())
    if before is None and present and not force:
        raise ValstudyError(f"{root}: already holds {present:,} of the {len(keys):,} images its annotations name "
                            f"(real images?); stand-ins are not mixed into a real copy unless asked: pass --force")
    info = {"dataset": dataset, "note": NOTE, "referenced": len(keys),
            "real_images": int(before.get("real_images", 0)) if before else present,
            "written": int(before.get("written", 0)) if before else 0, "complete": False, "side": SIDE}
    write_json(root / MARKER, info)  # first: a folder with any stand-in is labelled, even if interrupted
    new = 0
    for k, p in paths:
        if not p.is_file():
            _save(standin_image(k), p)
            new += 1
            if progress and new % 10_000 == 0:
                print(f"  {new:,} stand-ins written", flush=True)
    # every named image is now a file: all but the real ones are stand-ins (also after an interrupted earlier call)
    info.update(written=len(keys) - info["real_images"], complete=True)
    write_json(root / MARKER, info)
    return {"dataset": dataset, "root": str(root), "referenced": len(keys), "present": present,
            "written": info["written"], "new": new, "seconds": round(time.time() - t0, 1)}
