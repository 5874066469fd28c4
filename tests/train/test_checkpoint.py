"""Checkpoints written and read: a kill while saving keeps the last one whole, a real one
loads (without importing Lightning), every kind of damaged or foreign file is one short
``ConvzooError`` that names the file, never a traceback from inside torch, and a run
directory and its checkpoint find each other."""

from __future__ import annotations

import io
import pickle
import random
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import yaml

import convzoo
from convzoo.assemble import memory
from convzoo.cli import main
from convzoo.errors import ConvzooError
from convzoo.train import TrainConfig, checkpoint, load, read_checkpoint, train
from convzoo.train.checkpoint import (
    DIGEST,
    atomic_checkpoint_io,
    digest,
    last_checkpoint,
    locate,
)
from tests.train.conftest import TINY


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory) -> bytes:
    """The bytes of a checkpoint written by one short training run."""
    folder = tmp_path_factory.mktemp("trained")
    spec = folder / "tiny.yaml"
    spec.write_text(yaml.safe_dump(TINY, sort_keys=False))
    settings = {"arch": str(spec), "data": "synthetic", "epochs": 1, "batch_size": 64}
    settings.update(out=str(folder / "run"), progress=False, accelerator="cpu")
    train(TrainConfig(**settings))
    return last_checkpoint(folder / "run").read_bytes()


class Thing:
    """An arbitrary Python object: unpickling it would run code, so convzoo must refuse it."""


def _damaged(real: bytes) -> dict[str, bytes]:
    return {
        "empty": b"",
        "text": b"abc",
        "yaml": b"name: crash\ninput: [1, 12, 12]\n",
        "lfs_pointer": b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 9\n",
        "truncated_zip": real[:200],
        "random": random.Random(0).randbytes(4096),
        "pickled_object": pickle.dumps(Thing(), protocol=2),
        "pickle_protocol_4": pickle.dumps({"a": 1}, protocol=4),
        "half": real[: len(real) // 2],
    }


@pytest.mark.parametrize(
    "kind",
    [
        "empty",
        "text",
        "yaml",
        "lfs_pointer",
        "truncated_zip",
        "random",
        "pickled_object",
        "pickle_protocol_4",
        "half",
    ],
)
def test_a_damaged_checkpoint_is_one_clear_error(real_checkpoint, tmp_path, kind):
    path = tmp_path / f"{kind}.ckpt"
    path.write_bytes(_damaged(real_checkpoint)[kind])
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ConvzooError) as err:
        warnings.simplefilter("always")
        read_checkpoint(path)
    assert not caught, "torch's warnings are not passed on before the one message"
    message = str(err.value)
    assert message.startswith(f"{path}: not a readable checkpoint")
    assert "\n" not in message and len(message) < len(str(path)) + 400
    assert "weights_only=False" not in message and "`False`" not in message
    with pytest.raises(ConvzooError, match=f"{kind}.ckpt: not a readable checkpoint"):
        load(path)


def test_an_empty_file_says_so(tmp_path):
    (tmp_path / "e.ckpt").touch()
    with pytest.raises(ConvzooError, match="e.ckpt: not a readable checkpoint: the file is empty"):
        read_checkpoint(tmp_path / "e.ckpt")


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_objects_beyond_plain_data_are_refused_without_torchs_advice(tmp_path, how):
    path = tmp_path / "objects.ckpt"
    content = {"state_dict": {}, "hyper_parameters": {"spec": {}}, "where": Path("/tmp")}
    if how == "torch.save":
        torch.save(content, path)
    else:
        path.write_bytes(pickle.dumps(content, protocol=2))
    with pytest.raises(ConvzooError) as err:
        read_checkpoint(path)
    message = str(err.value)
    assert "convzoo only reads plain-data checkpoints" in message
    assert "weights_only" not in message and "safe_globals" not in message
    assert "pathlib.PosixPath" in message


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ([1, 2, 3], "no state_dict"),
        ({"state_dict": [1]}, "no state_dict"),
        ({"state_dict": {}}, "carries no spec"),
        ({"state_dict": {}, "hyper_parameters": "spec"}, "carries no spec"),
        ({"state_dict": {}, "hyper_parameters": {"spec": "tiny"}}, "carries no spec"),
    ],
)
def test_plain_data_that_is_not_a_convzoo_checkpoint(tmp_path, content, why):
    torch.save(content, tmp_path / "other.ckpt")
    with pytest.raises(ConvzooError, match=f"other.ckpt: .*{why}"):
        read_checkpoint(tmp_path / "other.ckpt")


def test_weights_that_do_not_fit_the_spec_are_one_short_line(tmp_path):
    state = {f"model.extra.{i}": torch.zeros(1) for i in range(500)}
    torch.save({"state_dict": state, "hyper_parameters": {"spec": TINY}}, tmp_path / "w.ckpt")
    with pytest.raises(ConvzooError, match="w.ckpt: the weights do not fit the spec") as err:
        load(tmp_path / "w.ckpt")
    assert "\n" not in str(err.value) and len(str(err.value)) < len(str(tmp_path)) + 300


def _never_built(*args, **kwargs):
    raise AssertionError("the network was built, its memory allocated")


def test_a_spec_asking_for_more_weights_than_the_file_holds_is_refused_unbuilt(
    real_checkpoint, tmp_path, monkeypatch, capsys
):
    content = torch.load(io.BytesIO(real_checkpoint), weights_only=True)
    content["hyper_parameters"]["spec"]["layers"][0]["out"] = 10**6  # 0.41 GiB of weights
    content[checkpoint.DIGEST] = checkpoint.digest(content)  # an edit that passes the digest
    path = tmp_path / "edited.ckpt"
    torch.save(content, path)
    monkeypatch.setattr(checkpoint, "build", _never_built)
    message = r"edited.ckpt: the spec it carries asks for 110,000,004 weights \(0.41 GiB\) and "
    with pytest.raises(ConvzooError, match=message + "the checkpoint holds 444:"):
        load(path)
    assert main(["evaluate", str(path), "--data", "synthetic"]) == 2  # evaluate loads so too
    err = capsys.readouterr().err
    assert err.startswith("convzoo: error: ") and "asks for 110,000,004 weights" in err


def test_a_network_larger_than_the_free_memory_is_refused_unbuilt(
    real_checkpoint, tmp_path, monkeypatch
):
    path = tmp_path / "good.ckpt"
    path.write_bytes(real_checkpoint)
    monkeypatch.setattr(checkpoint, "build", _never_built)
    monkeypatch.setattr(memory, "free_bytes", lambda accelerator: 1000)  # 444 weights: 1776 B
    with pytest.raises(ConvzooError, match=r"good.ckpt: its network needs about .* free on the"):
        load(path)


def test_the_real_checkpoint_reads_and_loads(real_checkpoint, tmp_path):
    path = tmp_path / "good.ckpt"
    path.write_bytes(real_checkpoint)
    assert read_checkpoint(path)["hyper_parameters"]["spec"]["name"] == "tiny"
    assert load(path).spec.name == "tiny"


def test_a_corrupt_checkpoint_is_one_clear_error(config, tmp_path):
    train(config(epochs=1))
    ckpt = last_checkpoint(tmp_path / "run")
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    (tmp_path / "run" / "report.json").unlink()  # as if the run had stopped early
    with pytest.raises(ConvzooError, match="not a readable checkpoint"):
        train(config(epochs=2, resume=True))
    with pytest.raises(ConvzooError, match="last.ckpt: not a readable checkpoint"):
        load(ckpt)


def _flip_bytes_of_a_weight(ckpt: Path) -> None:
    """Invert 16 bytes inside the first layer's weights, where torch.load does not notice."""
    weights = torch.load(ckpt, weights_only=True)["state_dict"]["model.layers.0.weight"]
    raw = bytearray(ckpt.read_bytes())
    at = raw.find(weights.numpy().tobytes())
    assert at > 0
    raw[at : at + 16] = bytes(b ^ 0xFF for b in raw[at : at + 16])
    ckpt.write_bytes(bytes(raw))


def test_flipped_bytes_in_a_weight_are_refused_wherever_the_checkpoint_is_read(
    config, tmp_path, capsys
):
    from convzoo.cli import main

    train(config(epochs=1, schedule="constant"))
    run = tmp_path / "run"
    ckpt = last_checkpoint(run)
    _flip_bytes_of_a_weight(ckpt)
    refused = f"{ckpt}: the checkpoint's content does not match the SHA-256 digest"
    for read in (read_checkpoint, convzoo.load):
        with pytest.raises(ConvzooError, match=re.escape(refused)):
            read(ckpt)
    assert main(["evaluate", str(run)]) == 2
    assert capsys.readouterr().err == f"convzoo: error: {refused} written with it, " + (
        "so the file was damaged or changed after it was saved; restore it from a copy, or "
        "train again\n"
    )
    (run / "report.json").unlink()  # as if the run had stopped early
    with pytest.raises(ConvzooError, match=re.escape(refused)):
        train(config(epochs=2, schedule="constant", resume=True))


def test_a_checkpoint_written_before_digests_is_read_unchecked(real_checkpoint, tmp_path):
    content = torch.load(io.BytesIO(real_checkpoint), weights_only=True)
    del content[DIGEST]
    torch.save(content, tmp_path / "old.ckpt")
    assert load(tmp_path / "old.ckpt").spec.name == "tiny"


def test_the_digest_sees_every_value_and_not_the_order_a_set_iterates_in():
    one, other = set(), set()
    for number in (0, 8):  # the same hash slot: a set iterates them in the order added
        one.add(number)
    for number in (8, 0):
        other.add(number)
    assert list(one) != list(other)
    content = {"state_dict": {"w": torch.zeros(3)}, "seen": one}
    assert digest(content) == digest({**content, "seen": other})
    assert digest(content) == digest({**content, DIGEST: "anything"})
    assert digest(content) != digest({**content, "state_dict": {"w": torch.zeros(3).double()}})
    assert digest(content) != digest({**content, "seen": {0, 8.0}})


KILL_IN_SAVE = """
import os, signal, sys
import convzoo.files
from convzoo.train import TrainConfig, train

replace, saves = os.replace, []
def killing_replace(src, dst):
    if str(dst).endswith("last.ckpt"):
        saves.append(dst)
        if len(saves) == 2:  # the second epoch's checkpoint: die before the rename
            os.kill(os.getpid(), signal.SIGKILL)
    return replace(src, dst)
convzoo.files.os.replace = killing_replace
train(TrainConfig(sys.argv[1], data="synthetic", epochs=3, batch_size=32, out=sys.argv[2],
                  accelerator="cpu", progress=False))
"""


def test_a_kill_while_saving_keeps_the_checkpoint_and_the_run_resumes(tiny_spec, tmp_path):
    out = tmp_path / "run"
    env = {"TMPDIR": "/dev/shm", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    killed = subprocess.run(
        [sys.executable, "-c", KILL_IN_SAVE, str(tiny_spec), str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert killed.returncode == -9, killed.stderr
    orphans = list((out / "checkpoints").glob(".last.ckpt.*.tmp"))
    assert len(orphans) == 1  # the half-done save, left by the kill
    kept = torch.load(last_checkpoint(out), weights_only=True)
    assert kept["epoch"] == 0  # the first epoch's checkpoint, whole
    report = train(
        convzoo.train.TrainConfig(
            str(tiny_spec),
            data="synthetic",
            epochs=3,
            batch_size=32,
            out=str(out),
            accelerator="cpu",
            progress=False,
            resume=True,
        )
    )
    assert report["epochs"] == 3
    assert not list((out / "checkpoints").glob(".*.tmp"))


def test_a_resume_removes_the_temporary_files_kills_left_anywhere_in_the_run(config, tmp_path):
    train(config(epochs=1, schedule="constant"))
    run = tmp_path / "run"
    (run / "report.json").unlink()  # as if the run had been killed while writing it
    names = (".report.json", ".config.yaml", ".evaluate.json", "checkpoints/.last.ckpt")
    orphans = [run / f"{name}.k1ll3d{i}.tmp" for i, name in enumerate(names)]
    for orphan in orphans:
        orphan.write_bytes(b"half")  # a kill leaves the file, and no lock on it
    train(config(epochs=2, schedule="constant", resume=True))
    assert not [path for path in orphans if path.exists()]


def test_the_atomic_writer_survives_pickling_as_a_spawned_rank_receives_it():
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    writer = pickle.loads(pickle.dumps(atomic_checkpoint_io()))
    assert isinstance(writer, TorchCheckpointIO)
    assert type(writer) is type(atomic_checkpoint_io())


def test_loading_a_checkpoint_imports_no_lightning(real_checkpoint, tmp_path):
    path = tmp_path / "good.ckpt"
    path.write_bytes(real_checkpoint)
    script = (
        "import sys, convzoo\n"
        f"convzoo.load({str(path)!r})\n"
        "print(sorted(m for m in ('lightning', 'torchmetrics') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "[]"


def test_locate_finds_the_checkpoint_and_the_run(tmp_path):
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"")
    assert locate(tmp_path / "run") == (ckpt, tmp_path / "run")
    assert locate(ckpt) == (ckpt, None)  # no report next to it
    (tmp_path / "run" / "report.json").write_text("{}")
    assert locate(ckpt) == (ckpt, tmp_path / "run")
    with pytest.raises(ConvzooError, match="no checkpoint in this run directory"):
        locate(tmp_path)
    with pytest.raises(ConvzooError, match="no such checkpoint file or run directory"):
        locate(tmp_path / "nothing")
