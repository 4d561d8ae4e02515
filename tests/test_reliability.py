"""Nothing lost, every bad input a clear error (issue 13), driven through the command line as a user would.

Each refusal: exit status 2, one line on stderr naming the path or key, no traceback, and the files on disk unchanged
(or complete). Filesystem faults a test cannot cause for real (as root, or without a full disk) are injected at the
system call that would fail.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from valstudy.cli import main
from valstudy.data.synth import IN_PROGRESS, synthesize
from valstudy.locks import LOCK_NAME
from valstudy.config import CONFIGS, PROFILES, get_config
from valstudy.study import plan
from valstudy.training.loop import Run

TINY = {"steps": 6, "batch_size": 8, "checkpoint_every": 2, "log_every": 1, "model.small_width": 8,
        "model.lstm_hidden": 64, "model.text_dim": 64, "model.word_dim": 32, "seed": 0}


def sets(root, **kw) -> list[str]:
    return [f"{k}={v}" for k, v in {"data.root": root, **TINY, **kw}.items()]


def cli(capsys, *argv) -> tuple[int, str, str]:
    """Run the command line in-process: (exit status, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def refused(capsys, *argv) -> str:
    """The one-line error of a command that must be refused."""
    rc, _, err = cli(capsys, *argv)
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("valstudy: error: ") and "Traceback" not in err, err
    return err.strip()


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` but the (empty when released) lock file."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK_NAME}


@pytest.fixture(scope="module")
def shoes(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("data") / "shoes"
    synthesize("shoes", root, size="tiny", seed=0)
    return str(root)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, shoes) -> Path:
    """A finished, evaluated two-step Shoes run, written under umask 027."""
    run_dir = tmp_path_factory.mktemp("runs") / "done"
    old = os.umask(0o027)
    try:
        assert main(["train", "--config", "shoes_synth", "--quiet", "--run-dir", str(run_dir),
                     "--set", *sets(shoes, steps=2)]) == 0
    finally:
        os.umask(old)
    return run_dir


@pytest.fixture
def run_copy(finished, tmp_path) -> Path:
    return Path(shutil.copytree(finished, tmp_path / "run"))


# ------------------------------------------------------------------------------------------ one writer per folder
def test_two_train_commands_on_one_folder_one_runs_and_a_killed_one_resumes(shoes, tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "valstudy", "train", "--config", "shoes_synth", "--quiet", "--no-eval",
           "--run-dir", str(run_dir), "--set", *sets(shoes, steps=60, checkpoint_every=5)]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    deadline = time.time() + 300
    while all(p.poll() is None for p in procs) and time.time() < deadline:
        time.sleep(0.05)
    loser = next(p for p in procs if p.poll() is not None)
    holder = next(p for p in procs if p is not loser)
    err = loser.stderr.read()
    assert loser.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(run_dir) in err and f"pid {holder.pid}" in err
    assert holder.poll() is None            # the holder still trains: it was refused, not the other way round
    ckpt = run_dir / "checkpoint.pt"
    while not ckpt.exists() and holder.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    holder.send_signal(signal.SIGKILL)      # the kernel releases the lock with the process
    holder.wait()
    assert ckpt.exists() and not (run_dir / "final.pt").exists()
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 61))     # each step logged once
    assert (run_dir / "final.pt").is_file()


def test_a_folder_held_by_another_process_is_refused_with_its_pid(run_copy, capsys):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from valstudy.locks import folder_lock\n"
                               f"with folder_lock({str(run_copy)!r}):\n    print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(run_copy)
        err = refused(capsys, "eval", "--run", run_copy)
        assert str(run_copy) in err and f"pid {holder.pid}" in err
        assert snapshot(run_copy) == before
    finally:
        holder.kill()
        holder.wait()
    assert cli(capsys, "eval", "--run", run_copy, "--protocol", "dedup")[0] == 0   # released with the process


# ------------------------------------------------------------------------------------------ results.json merges
def test_eval_of_one_protocol_keeps_the_others(run_copy, capsys):
    path = run_copy / "results.json"
    res = json.loads(path.read_text())
    assert [r["protocol"] for r in res["splits"]] == ["default", "dedup"]
    fresh = {r["protocol"]: dict(r) for r in res["splits"]}
    for r in res["splits"]:
        r["R@1"] = -7.0                     # marks: a kept entry keeps it, a recomputed one loses it
    path.write_text(json.dumps(res))
    assert cli(capsys, "eval", "--run", run_copy, "--protocol", "dedup")[0] == 0
    now = {r["protocol"]: r for r in json.loads(path.read_text())["splits"]}
    assert set(now) == {"default", "dedup"}
    assert now["default"]["R@1"] == -7.0
    assert now["dedup"]["R@1"] == fresh["dedup"]["R@1"]
    assert not [p for p in run_copy.iterdir() if p.name.endswith(".tmp")]

    before = snapshot(run_copy)
    err = refused(capsys, "eval", "--run", run_copy, "--protocol", "dedup", "--weights", "raw")
    assert "results.json" in err and "mix" in err
    assert snapshot(run_copy) == before


def test_results_json_from_another_version_names_it_and_what_is_missing(run_copy, capsys):
    path = run_copy / "results.json"
    res = json.loads(path.read_text())
    del res["splits"]
    res["valstudy_version"] = "9.9.9"
    path.write_text(json.dumps(res))
    err = refused(capsys, "results", "--root", run_copy.parent)
    assert str(path) in err and "splits" in err and "valstudy 9.9.9" in err
    err = refused(capsys, "eval", "--run", run_copy, "--protocol", "dedup")
    assert "splits" in err and "9.9.9" in err


# ------------------------------------------------------------------------------------------ resume
def test_resume_drops_a_torn_final_metrics_line_and_says_so(shoes, tmp_path, capsys):
    run_dir = tmp_path / "run"
    cfg = get_config("shoes_synth", sets(shoes, steps=8))
    Run(cfg, run_dir, progress=False).fit(stop_after=5)       # checkpoint at step 4, "killed" after step 5
    torn = '{"step": 6, "phase": "lv'
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write(torn)                                         # killed during the write of step 6
    rc, _, err = cli(capsys, "train", "--config", "shoes_synth", "--quiet", "--no-eval", "--run-dir", run_dir,
                     "--set", *sets(shoes, steps=8))
    assert rc == 0
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))
    said = [line for line in err.splitlines() if "torn" in line]    # one line naming the file, the line, the bytes
    assert said == [f"valstudy: {run_dir / 'metrics.jsonl'}:6: dropped a torn final line ({len(torn)} bytes; no "
                    "newline, not JSON): the run stopped while writing it, after its last checkpoint (step 4)"], err


def test_a_malformed_metrics_line_before_the_last_is_named(shoes, tmp_path, capsys):
    run_dir = tmp_path / "run"
    Run(get_config("shoes_synth", sets(shoes, steps=8)), run_dir, progress=False).fit(stop_after=5)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    lines[1] = "garbage"
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    before = snapshot(run_dir)
    err = refused(capsys, "train", "--config", "shoes_synth", "--quiet", "--no-eval", "--run-dir", run_dir,
                  "--set", *sets(shoes, steps=8))
    assert "metrics.jsonl:2" in err
    assert snapshot(run_dir) == before


# ------------------------------------------------------------------------------------------ data synth
KILL_AFTER_IMAGES = """
import os, signal, sys
from valstudy.data.synth import synthesize, writers
save, n = writers._save_image, [0]
def killing_save(*a, **k):
    n[0] += 1
    if n[0] > 40:
        os.kill(os.getpid(), signal.SIGKILL)   # kill -9 part-way through the images
    save(*a, **k)
writers._save_image = killing_save
synthesize(sys.argv[1], sys.argv[2], size="tiny", seed=0)
"""


@pytest.mark.parametrize("dataset", ["shoes", "fashioniq"])
def test_synth_killed_then_rerun_gives_the_same_bytes(dataset, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    synthesize(dataset, whole, size="tiny", seed=0)
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_IMAGES, dataset, str(cut)])
    assert proc.returncode == -signal.SIGKILL
    assert (cut / IN_PROGRESS).is_file() and not (cut / "extras" / "world.json").exists()
    synthesize(dataset, cut, size="tiny", seed=0)             # the folder is recognised as its own and redone
    assert not (cut / IN_PROGRESS).exists()
    assert snapshot(cut) == snapshot(whole)
    assert (cut / LOCK_NAME).read_bytes() == (whole / LOCK_NAME).read_bytes() == b""


def test_synth_refuses_foreign_folders_and_files(tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    err = refused(capsys, "data", "synth", "--dataset", "shoes", "--root", foreign)
    assert str(foreign) in err and "not empty" in err
    assert snapshot(foreign) == {"notes.txt": hashlib.sha256(b"mine").hexdigest()}
    a_file = tmp_path / "file"
    a_file.write_text("x")
    err = refused(capsys, "data", "synth", "--dataset", "shoes", "--root", a_file)
    assert str(a_file) in err and "is a file" in err and a_file.read_text() == "x"
    # an interrupted generation of another dataset is not this one's to redo
    (tmp_path / "fiq").mkdir()
    (tmp_path / "fiq" / IN_PROGRESS).write_text(json.dumps({"dataset": "fashioniq"}))
    assert "not empty" in refused(capsys, "data", "synth", "--dataset", "shoes", "--root", tmp_path / "fiq")


def test_synth_refuses_a_negative_seed_before_touching_the_folder(tmp_path, capsys):
    err = refused(capsys, "data", "synth", "--dataset", "shoes", "--root", tmp_path / "s", "--seed", -1)
    assert "--seed -1" in err and "non-negative integer" in err
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------------------------------------ configuration values
BAD_VALUES = ["lr=-1", "lr=nan", "lr=inf", "batch_size=0", "batch_size=1", "checkpoint_every=0", "num_workers=-1",
              "data.image_size=0", "device=foo", "steps=-5", "steps=0", "side_info=joitn", "loss=hinge",
              "model.method=vall", "model.levels=low,top", "model.levels=", "ema_decay=1.5", "log_every=0",
              "model.attn_dropout=1", "seed=-1", "pretrain_steps=5", "side_info=pretrain",
              "model.use_sa=false model.use_ja=false", "data.protocols=official", "data.dataset=deepfashion"]


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_bad_configuration_values_are_one_line_errors(bad, shoes, tmp_path, capsys):
    run_dir = tmp_path / "run"
    err = refused(capsys, "train", "--config", "shoes_synth", "--run-dir", run_dir, "--set", *sets(shoes),
                  *bad.split())
    key, _, value = bad.split()[-1].partition("=")
    assert f"{key.split('.')[-1]}=" in err or key in err, err
    assert "allowed" in err or "expected" in err or "choose" in err
    assert not run_dir.exists()


def test_a_batch_larger_than_the_training_set_is_refused_before_writing(shoes, tmp_path, capsys):
    run_dir = tmp_path / "run"
    err = refused(capsys, "train", "--config", "shoes_synth", "--run-dir", run_dir,
                  "--set", *sets(shoes, batch_size=100000))
    assert "batch_size=100000" in err and "training triplets" in err
    assert not (run_dir / "config.json").exists() and not (run_dir / "checkpoint.pt").exists()


def test_every_configuration_the_study_uses_is_valid(tmp_path):
    for name in CONFIGS:
        get_config(name)
    for profile in PROFILES.values():
        for dataset in ("fashion200k", "shoes", "fashioniq"):
            for spec in plan(dataset, profile, tmp_path):
                spec.config.validate()


def test_config_json_from_another_version(run_copy, capsys):
    cfg = json.loads((run_copy / "config.json").read_text())
    del cfg["deterministic"]                 # a key added later, at its default: still the same run
    (run_copy / "config.json").write_text(json.dumps(cfg))
    assert cli(capsys, "eval", "--run", run_copy, "--protocol", "dedup")[0] == 0
    cfg["model"]["future_knob"] = 3
    (run_copy / "config.json").write_text(json.dumps(cfg))
    meta = json.loads((run_copy / "meta.json").read_text())
    (run_copy / "meta.json").write_text(json.dumps({**meta, "valstudy_version": "9.9.9"}))
    before = snapshot(run_copy)
    for argv in (["eval", "--run", run_copy],
                 ["train", "--config", "shoes_synth", "--quiet", "--run-dir", run_copy, "--set", "steps=2"]):
        err = refused(capsys, *argv)
        assert "[model]" in err and "future_knob" in err and "valstudy 9.9.9" in err and "config.json" in err
    assert snapshot(run_copy) == before


# ------------------------------------------------------------------------------------------ annotation files
@pytest.mark.parametrize("entry, key", [({"ImageName": 17}, "ImageName"), ({"RelativeCaption": None},
                                                                             "RelativeCaption")])
def test_data_check_names_entries_of_the_wrong_type(entry, key, shoes_root, capsys):
    path = shoes_root / "relative_captions_shoes.json"
    triplets = json.loads(path.read_text())
    triplets[2].update(entry)
    path.write_text(json.dumps(triplets))
    err = refused(capsys, "data", "check", "--dataset", "shoes", "--root", shoes_root, "--no-images")
    assert str(path) in err and "entry 2" in err and key in err and "must be a string" in err


def test_fashioniq_target_of_the_wrong_type(fashioniq_root, capsys):
    path = fashioniq_root / "captions" / "cap.dress.val.json"
    pairs = json.loads(path.read_text())
    pairs[1]["target"] = 42
    path.write_text(json.dumps(pairs))
    err = refused(capsys, "data", "check", "--dataset", "fashioniq", "--root", fashioniq_root, "--no-images")
    assert str(path) in err and "entry 1" in err and "target" in err


def test_a_non_utf8_byte_in_a_list_file_gets_its_line(shoes_root, capsys):
    path = shoes_root / "train_im_names.txt"
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"img_womens_\xff.jpg"
    path.write_bytes(b"\n".join(lines))
    err = refused(capsys, "data", "check", "--dataset", "shoes", "--root", shoes_root, "--no-images")
    assert f"{path}:3:" in err and "0xff" in err


# ------------------------------------------------------------------------------------------ filesystem faults
def _fail(monkeypatch, module, name, under: Path, code: int, writes_only: bool = True):
    """Make ``module.name`` (os.open or builtins.open) fail with ``code`` for paths under ``under``."""
    real = getattr(module, name)

    def failing(path, flags_or_mode=None, *a, **k):
        writing = (isinstance(flags_or_mode, int) and flags_or_mode & (os.O_WRONLY | os.O_RDWR)) or \
            (isinstance(flags_or_mode, str) and any(c in flags_or_mode for c in "wa+x"))
        if str(path).startswith(str(under)) and (writing or not writes_only):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, flags_or_mode, *a, **k) if flags_or_mode is not None else real(path, *a, **k)
    monkeypatch.setattr(module, name, failing)


def test_an_unreadable_file_is_named(shoes_root, monkeypatch, capsys):
    import builtins

    _fail(monkeypatch, builtins, "open", shoes_root / "eval_im_names.txt", errno.EACCES, writes_only=False)
    err = refused(capsys, "data", "check", "--dataset", "shoes", "--root", shoes_root, "--no-images")
    assert "eval_im_names.txt" in err and "Permission denied" in err


def test_a_read_only_run_folder(run_copy, monkeypatch, capsys):
    before = snapshot(run_copy)
    _fail(monkeypatch, os, "open", run_copy, errno.EROFS)
    err = refused(capsys, "eval", "--run", run_copy)
    assert str(run_copy) in err and "Read-only file system" in err
    monkeypatch.undo()
    assert snapshot(run_copy) == before


def test_a_full_disk_while_writing_a_checkpoint_leaves_nothing_half_written(shoes, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    real_fsync = os.fsync

    def fsync(fd):
        if ".checkpoint.pt." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    argv = ["train", "--config", "shoes_synth", "--quiet", "--no-eval", "--run-dir", run_dir, "--set", *sets(shoes)]
    err = refused(capsys, *argv)
    assert str(run_dir / "checkpoint.pt") in err and "No space left on device" in err
    assert not (run_dir / "checkpoint.pt").exists() and not [p for p in run_dir.iterdir() if ".tmp" in p.name]
    monkeypatch.undo()                        # space freed: the same command carries on
    assert cli(capsys, *argv)[0] == 0 and (run_dir / "final.pt").is_file()


def test_a_run_dir_that_is_a_file(shoes, tmp_path, capsys):
    a_file = tmp_path / "run"
    a_file.write_text("notes")
    err = refused(capsys, "train", "--config", "shoes_synth", "--run-dir", a_file, "--set", *sets(shoes))
    assert str(a_file) in err and "is a file" in err
    err = refused(capsys, "eval", "--run", a_file)
    assert str(a_file) in err
    assert a_file.read_text() == "notes"


# ------------------------------------------------------------------------------------------ umask
def test_files_honour_the_umask(finished):
    for p in finished.rglob("*"):
        assert p.stat().st_mode & 0o777 == (0o750 if p.is_dir() else 0o640), p


def test_synthetic_files_honour_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        synthesize("shoes", tmp_path / "s", size="tiny", seed=0)
    finally:
        os.umask(old)
    modes = {p.stat().st_mode & 0o777 for p in (tmp_path / "s").rglob("*") if p.is_file()}
    assert modes == {0o664}
    assert (tmp_path / "s" / LOCK_NAME).read_text() == ""    # no stale pid after a finished generation
