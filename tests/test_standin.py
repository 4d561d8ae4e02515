"""Stand-in images: written for every missing image the annotations name, labelled everywhere, never mixed silently."""
import shutil

import pytest
from PIL import Image

from conftest import write_fashioniq, write_shoes
from valstudy.cli import main
from valstudy.data import load_dataset
from valstudy.data.check import check_dataset
import valstudy.data.marker as marker
import valstudy.data.standin as standin
from valstudy.data.standin import MARKER, NOTE, referenced_images, standin_info, write_standins
from valstudy.errors import ValstudyError


@pytest.fixture(autouse=True)
def forget_loaded_standins():
    yield
    marker._loaded.clear()   # the flag is per process: later tests in this worker load real-format fixtures


def annotations_only(root, writer):
    """A dataset folder with the real-format annotation files and no image."""
    writer(root)
    for p in sorted(root.rglob("*.jpg")):
        p.unlink()
    return root


@pytest.mark.parametrize("dataset, writer", [("fashioniq", write_fashioniq), ("shoes", write_shoes)])
def test_every_named_image_gets_a_labelled_deterministic_stand_in(tmp_path, dataset, writer):
    a = annotations_only(tmp_path / "a", writer)
    b = annotations_only(tmp_path / "b", writer)
    ra = write_standins(dataset, a)
    write_standins(dataset, b)
    ds = load_dataset(dataset, a)
    keys = referenced_images(ds)
    assert ra["new"] == ra["written"] == ra["referenced"] == len(keys) > 0 and ra["present"] == 0
    for k in keys:
        path = ds.image_path(k)
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()     # deterministic
        with Image.open(path) as im:
            assert im.size == (64, 64)
    assert ds.report.missing_images == [] and ds.report.counts["stand_in_images"] == len(keys)
    assert ds.report.notes[0].startswith(NOTE)
    assert standin_info(a)["complete"] and standin_info(a)["real_images"] == 0
    report = check_dataset(dataset, a, images=True)                           # every stand-in decodes
    assert report["unreadable_images"]["count"] == 0 and report["notes"][0].startswith(NOTE)
    again = write_standins(dataset, a)                                         # a marked folder: fills gaps only
    assert again["new"] == 0 and again["written"] == len(keys)


def test_a_folder_with_real_images_is_refused_unless_forced(tmp_path, capsys):
    root = write_fashioniq(tmp_path / "fashioniq")                              # every image present: a real copy
    (root / "images" / "D6.jpg").unlink()
    with pytest.raises(ValstudyError, match="already holds .* images .* --force"):
        write_standins("fashioniq", root)
    assert not (root / MARKER).exists() and not (root / "images" / "D6.jpg").exists()
    assert main(["data", "stand-in", "--dataset", "fashioniq", "--root", str(root)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["data", "stand-in", "--dataset", "fashioniq", "--root", str(root), "--force"]) == 0
    out = capsys.readouterr().out
    assert "1 stand-in images written" in out and NOTE in out
    info = standin_info(root)
    assert info["written"] == 1 and info["real_images"] == len(referenced_images(load_dataset("fashioniq", root))) - 1


def test_marker_is_written_before_the_images(tmp_path, monkeypatch):
    root = annotations_only(tmp_path / "fashioniq", write_fashioniq)

    def boom(img, path):
        assert (root / MARKER).is_file()
        raise KeyboardInterrupt
    monkeypatch.setattr(standin, "_save", boom)
    with pytest.raises(KeyboardInterrupt):
        write_standins("fashioniq", root)
    assert standin_info(root)["complete"] is False
    monkeypatch.undo()
    again = write_standins("fashioniq", root)                                   # resumes: the folder is marked
    assert standin_info(root)["complete"] and again["written"] == again["referenced"]


def test_real_copy_is_not_labelled(tmp_path):
    root = write_fashioniq(tmp_path / "fashioniq")
    ds = load_dataset("fashioniq", root)
    assert "stand_in_images" not in ds.report.counts and not any(NOTE in n for n in ds.report.notes)
    shutil.rmtree(root)


def test_figures_and_records_say_stand_in(tmp_path):
    import json

    import matplotlib.pyplot as plt

    from valstudy.analysis.common import record
    from valstudy.plotting import save_figure

    root = annotations_only(tmp_path / "fashioniq", write_fashioniq)
    fig = plt.figure()
    save_figure(fig, tmp_path, "results_fashioniq_before")
    assert not any(NOTE in t.get_text() for t in fig.texts)
    write_standins("fashioniq", root)
    load_dataset("fashioniq", root)
    fig = plt.figure()
    save_figure(fig, tmp_path, "results_fashioniq_after")
    assert any(t.get_text() == NOTE for t in fig.texts)
    path = record(tmp_path, "results", "fashioniq", {"R@10": 1.0})
    assert json.loads(path.read_text())["stand_in_images"] == NOTE
