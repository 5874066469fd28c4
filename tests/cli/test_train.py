"""``convzoo train`` on the command line: settings from --config and flags, the table, exits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from convzoo.cli import _help_cache, main, make_parser
from convzoo.cli.train import TRAINER_HELP_SOURCES, config_from
from convzoo.train import config as settings
from tests.conftest import ROOT
from tests.train.conftest import TINY


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_flags_override_the_config_file(tmp_path, spec):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("data: synthetic\nepochs: 7\nlr: 0.5\nbatch-size: 16\nswap: {act: relu}\n")
    args = make_parser().parse_args(
        ["train", str(spec), "--epochs", "2", "--config", str(cfg), "--swap", "pool=avg"]
    )
    config, origins = config_from(args.train)
    assert (config.epochs, config.lr, config.batch_size, config.data) == (2, 0.5, 16, "synthetic")
    assert config.swap == {"act": "relu", "pool": "avg"}
    assert (origins["epochs"], origins["lr"], origins["momentum"]) == ("flag", "config", "default")


def test_train_prints_the_table_and_where_the_report_is(capsys, tmp_path, spec):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            str(spec),
            "--data",
            "synthetic",
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--accelerator",
            "cpu",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "test accuracy" in captured.out and "images/s" in captured.out
    assert f"report: {out / 'report.md'}" in captured.out
    assert json.loads((out / "report.json").read_text())["epochs"] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "fashion"], "(?i)did you mean 'fashion_mnist'"),
        (["--data", "synthetic", "--devices", "99"], "--devices 99"),
        (["--data", "synthetic", "--resume"], "nothing|no checkpoint"),
        (["--data", "synthetic", "--config", "missing.yaml"], "cannot read"),
        (["--data", "synthetic", "--swap", "act"], "KEY=NAME"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(capsys, tmp_path, spec, extra, message):
    code = main(["train", str(spec), "--out", str(tmp_path / "run"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("convzoo: error:") and "Traceback" not in err
    assert re.search(message, err)
    assert not (tmp_path / "run" / "report.json").exists()


def test_unknown_config_keys_are_listed(capsys, tmp_path, spec):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("epoch: 3\n")
    code = main(["train", str(spec), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown setting(s) epoch" in err and "epochs" in err


def test_train_with_evaluate_then_evaluate_again(capsys, tmp_path, spec):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            str(spec),
            "--data",
            "synthetic",
            "--epochs",
            "1",
            "--accelerator",
            "cpu",
            "--out",
            str(out),
            "--evaluate",
        ]
    )
    assert code == 0 and "evaluation:" in capsys.readouterr().out
    assert (out / "evaluate.json").exists()
    code = main(
        [
            "evaluate",
            str(out),
            "--scales",
            "0.5",
            "1",
            "--max-shift",
            "1",
            "--out",
            str(tmp_path / "again"),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "shift consistency" in printed
    assert json.loads((tmp_path / "again" / "evaluate.json").read_text())["scale"]["scales"] == [
        0.5,
        1.0,
    ]
    assert main(["evaluate", str(out), "--scales", "0"]) == 2
    assert "scale" in capsys.readouterr().err


def test_every_declared_setting_is_a_flag(train_help):
    train = make_parser().parse_args(["train", "tiny"]).train
    for name, f in settings.settings().items():
        if name != "arch":
            assert (name in train) == f.metadata.get("flag", True), name
            unset = train[name] == [] if name == "trainer" else None  # the Trainer's words
            assert name not in train or unset or train[name] is None, f"{name}: not given"
    text = train_help
    for name, f in settings.settings().items():
        if f.metadata.get("flag", True) and name != "arch":
            assert "--" + name.replace("_", "-") + ("." if name == "trainer" else "") in text, name
    assert "--no-resident" in text and "(default: 256)" in text


def _train_help(env: dict[str, str] | None = None) -> str:
    help = subprocess.run(
        [sys.executable, "-m", "convzoo.cli", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
    )
    assert help.returncode == 0, help.stderr
    return help.stdout


@pytest.fixture(scope="module")
def train_help(tmp_path_factory) -> str:
    """``convzoo train --help``, the first time (it makes the help cache) and the second (it
    reads it): the same text."""
    env = {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}
    first = _train_help(env)
    assert _train_help(env) == first
    return first


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "-1"], "--epochs: must be at least 1"),
        (["--epochs", "0", "--schedule", "constant"], "--epochs: must be at least 1"),
        (["--batch-size", "0"], "--batch-size: must be at least 1"),
        (["--lr", "-1"], "--lr: must be a positive number"),
        (["--label-smoothing", "5"], "--label-smoothing: must be in"),
        (["--scale", "2", "1"], "--scale: must be two sizes"),
        (["--strategy", "bogus"], "--strategy: 'bogus' is not one of"),
        (["--grad-clip", "-1"], "--grad-clip: must be a positive number"),
        (["--lr-decay", "1.5"], "--lr-decay: must be in (0, 1], got 1.5"),
    ],
)
def test_flags_out_of_range_are_refused_before_anything_runs(
    capsys, tmp_path, spec, extra, message
):
    code = main(["train", str(spec), "--data", "synthetic", "--out", str(tmp_path / "r"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("convzoo: error:") and message in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr: fast\n", "lr: expected float, got 'fast'"),
        ("swap: 3\n", "swap: expected dict"),
        ("scale: 3\n", "scale: expected tuple"),
        ("epochs: 0\n", "epochs: must be at least 1"),
    ],
)
def test_config_values_of_the_wrong_type_are_refused(capsys, tmp_path, spec, text, message):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(text)
    code = main(["train", str(spec), "--config", str(cfg), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and f"--config {cfg}: {message}" in err


def test_without_a_terminal_training_prints_one_line_per_epoch(tmp_path, spec):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "convzoo.cli",
        "train",
        str(spec),
        "--data",
        "synthetic",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--accelerator",
        "cpu",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all("val_acc" in line and "images_per_s" in line for line in lines)
    assert "GPU available" not in done.stderr and "LOCAL_RANK" not in done.stderr
    verbose = subprocess.run(
        [*command[:-1], str(tmp_path / "verbose"), "--verbose"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert verbose.returncode == 0 and "GPU available" in verbose.stderr


def _run(tmp_path, spec, *extra):
    out = tmp_path / "run"
    argv = ["train", str(spec), "--data", "synthetic", "--epochs", "2", "--batch-size", "32"]
    code = main([*argv, "--accelerator", "cpu", "--out", str(out), *extra])
    return code, out


def _optimizer_steps(out) -> int:
    import torch

    ckpt = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    return ckpt["global_step"]


def test_max_steps_reaches_the_trainer_and_counts_optimizer_steps(capsys, tmp_path, spec):
    code, out = _run(tmp_path, spec, "--trainer.max_steps", "3")
    assert code == 0, capsys.readouterr().err
    assert _optimizer_steps(out) == 3
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["trainer"] == {"max_steps": 3} and saved["arch"] == str(spec)


def test_accumulate_grad_batches_halves_the_optimizer_steps(capsys, tmp_path, spec):
    code, plain = _run(tmp_path / "a", spec)
    assert code == 0, capsys.readouterr().err
    code, accumulated = _run(tmp_path / "b", spec, "--trainer.accumulate_grad_batches", "2")
    assert code == 0, capsys.readouterr().err
    steps = _optimizer_steps(plain)
    assert _optimizer_steps(accumulated) == -(-steps // 4) * 2  # ceil per epoch, 2 epochs


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trainer.max_stepz", "3"], "Did you mean '--trainer.max_steps'"),
        (["--trainer.max_epochs", "3"], "max_epochs is set by convzoo: use --epochs"),
        (["--trainer.gradient_clip_val", "1"], "use --grad-clip"),
        (["--trainer.accumulate_grad_batches", "0"], "must be at least 1"),
        (["--trainer.callbacks+=os.path.join"], "'os.path.join' is a class path outside Lightning"),
        (["--trainer.callbacks", "this.Foo"], "'this.Foo' is a class path outside Lightning"),
        (["--trainer.callbacks+=lightning.pytorch.Trainer"], "subclass of Callback"),
        (["--sched", "cosine"], "unrecognized arguments: --sched"),
        (["--trainer.accum", "2"], "Did you mean '--trainer.accumulate_grad_batches'"),
        (["--epoch", "1"], "Did you mean '--epochs'"),
        (["--trainer.max_epoch", "3"], "(max_epochs is set by convzoo: use --epochs)"),
        (
            ["--trainer.gradient_clip", "1"],
            "(gradient_clip_val is set by convzoo: use --grad-clip)",
        ),
        (["--trainer.callbacks+=EarlyStoping"], "Did you mean 'EarlyStopping'?"),
        (["--trainer.max_steps", "fast"], "Expected a <class 'int'>. Got value: fast"),
    ],
)
def test_bad_trainer_arguments_and_abbreviations_are_refused(
    capsys, tmp_path, spec, extra, message
):
    try:
        code, out = _run(tmp_path, spec, *extra)
    except SystemExit as exc:  # refused by the parser: usage and one message
        code, out = exc.code, tmp_path / "run"
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert err.startswith("convzoo: error: ") and err.count("\n") == 1, err
    assert not out.exists()


def test_no_suggestion_is_a_flag_that_would_be_refused(capsys, tmp_path, spec):
    # --trainer.max_epochs and --trainer.logger are convzoo's (--epochs, --logger): hidden.
    for flag in ("--trainer.max_epoch", "--trainer.loger"):
        code, _ = _run(tmp_path, spec, flag, "1")
        err = capsys.readouterr().err
        assert code == 2 and "Did you mean" in err, err
        assert "'--trainer.max_epochs'" not in err and "'--trainer.logger'" not in err


def test_print_config_round_trips_through_config(capsys, tmp_path, spec):
    argv = ["train", str(spec), "--data", "synthetic", "--lr", "0.3", "--swap", "act=tanh"]
    extra = ["--trainer.max_steps", "5", "--trainer.callbacks+=EarlyStopping"]
    extra += ["--trainer.callbacks.monitor=val_loss", "--print_config"]
    assert main([*argv, *extra]) == 0
    printed = capsys.readouterr().out
    cfg = tmp_path / "printed.yaml"
    cfg.write_text(printed)
    assert main(["train", "--config", str(cfg), "--print_config"]) == 0
    assert capsys.readouterr().out == printed
    first, _ = config_from(make_parser().parse_args(["train", "--config", str(cfg)]).train)
    assert (first.lr, first.swap, first.trainer["max_steps"]) == (0.3, {"act": "tanh"}, 5)
    assert first.trainer["callbacks"][0]["class_path"].endswith("EarlyStopping")
    assert not (tmp_path / "runs").exists()


def test_help_lists_the_trainer_group_with_defaults(train_help):
    text = train_help
    assert "--trainer.max_steps" in text and "--print_config" in text
    entry = text.split("\n  --trainer.max_steps MAX_STEPS")[1].split("\n  --")[0]
    assert "default: -1" in entry
    assert "--trainer.max_epochs" not in text


@pytest.mark.parametrize("where", ["config", "flag", "suite"])
def test_no_setting_imports_a_module_outside_lightning(tmp_path, spec, where):
    """A class path in a config file, a flag or a suite would run the module's code."""
    (tmp_path / "mycb.py").write_text(
        "import pathlib\npathlib.Path('IMPORTED').write_text('ran')\n"
        "from lightning.pytorch.callbacks import Callback\nclass Cb(Callback): pass\n"
    )
    callbacks = {"trainer": {"callbacks": [{"class_path": "mycb.Cb"}]}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(callbacks))
    suite = {"name": "s", "archs": [str(spec)], "data": ["synthetic"], "train": callbacks}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    command = {
        "config": ["train", str(spec), "--config", "run.yaml"],
        "flag": ["train", str(spec), "--trainer.callbacks+=mycb.Cb"],
        "suite": ["bench", "suite.yaml", "--epochs", "1"],
    }[where]
    done = subprocess.run(
        [sys.executable, "-m", "convzoo.cli", *command, "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "'mycb.Cb' is a class path outside Lightning" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr) < 2000
    assert not (tmp_path / "IMPORTED").exists() and not (tmp_path / "out").exists()


def test_no_form_of_a_trainer_argument_imports_before_it_is_refused(tmp_path, spec):
    """Every way a Trainer argument reaches jsonargparse is checked before it parses (and so
    imports) the value: the marker module on the path must never run."""
    marker = tmp_path / "markers"
    marker.mkdir()
    (marker / "mycb.py").write_text(
        f"import pathlib\npathlib.Path({str(tmp_path / 'IMPORTED')!r}).write_text('ran')\n"
        "from lightning.pytorch.callbacks import Callback\nclass Cb(Callback): pass\n"
    )
    callbacks = [{"class_path": "mycb.Cb"}]
    (tmp_path / "trainer.yaml").write_text(yaml.safe_dump({"callbacks": callbacks}))
    (tmp_path / "in_string.yaml").write_text(
        yaml.safe_dump({"trainer": {"callbacks": json.dumps(callbacks)}})
    )
    forms = [
        ["--trainer", json.dumps({"callbacks": callbacks})],
        ["--trainer=" + json.dumps({"callbacks": callbacks})],
        ["--trainer", str(tmp_path / "trainer.yaml")],
        ["--trainer.callbacks", json.dumps(callbacks)],
        ["--trainer.callbacks.class_path=mycb.Cb"],
        ["--config", str(tmp_path / "in_string.yaml")],  # a list of callbacks as a YAML string
    ]
    script = (
        "import json, sys\nfrom convzoo.cli import main\n"
        "print(json.dumps([main(json.loads(a)) for a in sys.argv[1:]]))\n"
    )
    base = ["train", str(spec), "--data", "synthetic", "--out", str(tmp_path / "out")]
    # a variable jsonargparse reads with JSONARGPARSE_DEFAULT_ENV: not a way in either
    env = {"JSONARGPARSE_DEFAULT_ENV": "true", "CONVZOO_TRAIN__TRAINER__CALLBACKS": "mycb.Cb"}
    argvs = [*([*base, *form] for form in forms), [*base, "--print_config"]]
    done = subprocess.run(
        [sys.executable, "-c", script, *map(json.dumps, argvs)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(ROOT), str(marker)])},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == [2] * len(forms) + [0]
    assert done.stderr.count("'mycb.Cb' is a class path outside Lightning") == len(forms)
    assert "Traceback" not in done.stderr and "mycb" not in done.stdout
    assert not (tmp_path / "IMPORTED").exists() and not (tmp_path / "out").exists()


def test_a_runs_config_trains_again_from_another_folder(capsys, tmp_path, spec, monkeypatch):
    first, elsewhere = tmp_path / "first", tmp_path / "elsewhere"
    first.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(first)
    (first / "tiny.yaml").write_text(spec.read_text())
    argv = ["train", "tiny.yaml", "--data", "synthetic", "--epochs", "1", "--accelerator", "cpu"]
    assert main([*argv, "--out", "run"]) == 0
    saved = yaml.safe_load((first / "run" / "config.yaml").read_text())
    assert saved["arch"] == str(first / "tiny.yaml") and saved["out"] == str(first / "run")
    monkeypatch.chdir(elsewhere)
    config = str(first / "run" / "config.yaml")
    assert main(["train", "--config", config, "--out", "again"]) == 0, capsys.readouterr().err
    assert (elsewhere / "again" / "report.json").is_file()


def test_help_describes_the_trainer_arguments_under_their_own_heading(train_help):
    assert "lightning.Trainer's arguments:" in train_help and "<class" not in train_help
    assert re.search(
        r"--trainer\.max_steps MAX_STEPS\s+Stop training after this number of steps", train_help
    )
    assert re.search(r"--trainer\.deterministic DETERMINISTIC\s+If ``True``", train_help)
    assert "max_epochs, default_root_dir" in train_help  # the ones convzoo sets, named


def _cache_file(folder, key, data):
    path = folder / "convzoo" / "trainer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "data": data}))
    return path


CACHED = [[["--trainer.from_the_cache"], "X", "a flag only the cache file knows"]]


def _in_process_help(capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main(["train", "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_help_reads_a_cache_made_under_its_key(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _cache_file(tmp_path, _help_cache.key(TRAINER_HELP_SOURCES), CACHED)
    text = _in_process_help(capsys)
    assert "--trainer.from_the_cache X" in text and "--trainer.max_steps" not in text


@pytest.mark.parametrize(
    "other",
    [
        {"versions": {"lightning": "2.0.0"}},
        {"versions": {"docstring-parser": None}},
        {"sources": "0" * 64},  # convzoo's files changed (an editable install)
        {"python": "3.99"},
    ],
    ids=["lightning", "docstring-parser", "sources", "python"],
)
def test_help_makes_again_a_cache_made_under_another_key(capsys, tmp_path, monkeypatch, other):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    key = _help_cache.key(TRAINER_HELP_SOURCES)
    stale = {**key, **other}
    if "versions" in other:
        stale["versions"] = {**key["versions"], **other["versions"]}
    path = _cache_file(tmp_path, stale, CACHED)
    text = _in_process_help(capsys)
    assert "--trainer.from_the_cache" not in text and "--trainer.max_steps" in text
    assert json.loads(path.read_text())["key"] == key  # made again, and kept


@pytest.mark.parametrize("damage", ["not json", '{"key": 1}', "[1, 2]"])
def test_help_makes_again_a_damaged_cache(capsys, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = _cache_file(tmp_path, {}, [])
    path.write_text(damage)
    assert "--trainer.max_steps" in _in_process_help(capsys)
    assert json.loads(path.read_text())["key"] == _help_cache.key(TRAINER_HELP_SOURCES)


def test_help_without_a_writable_cache_folder_is_made_each_time(capsys, tmp_path, monkeypatch):
    (tmp_path / "a file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a file"))
    assert "--trainer.max_steps" in _in_process_help(capsys)
    assert (tmp_path / "a file").read_text() == ""


def test_trainer_words_are_parsed_after_convzoo_s_own(spec):
    argv = ["train", "--trainer.max_steps", "3", str(spec), "--trainer.callbacks+=EarlyStopping"]
    argv += ["--lr", "0.5", "--trainer.callbacks.monitor=val_loss", "--trainer.min_steps", "-1"]
    train = make_parser().parse_args(argv).train
    assert (train.arch, train.lr) == (str(spec), 0.5)
    assert train.trainer == [*argv[1:3], argv[4], argv[7], *argv[8:]]
    config, _ = config_from(train)
    assert (config.trainer["max_steps"], config.trainer["min_steps"]) == (3, -1)
    assert config.trainer["callbacks"][0]["init_args"]["monitor"] == "val_loss"


def _configs(tmp_path, *texts):
    paths = []
    for i, text in enumerate(texts):
        paths += ["--config", str(tmp_path / f"{'ab'[i]}.yaml")]
        (tmp_path / f"{'ab'[i]}.yaml").write_text(text)
    return paths


def test_config_files_are_layered_in_their_order(tmp_path, spec):
    first = f"arch: {spec}\ndata: synthetic\nepochs: 3\nlr: 0.5\nswap: {{act: relu}}\n"
    first += "trainer: {max_steps: 5, limit_val_batches: 3}\n"
    second = "lr: 0.2\nswap: {pool: avg}\ntrainer: {limit_val_batches: 2}\n"
    argv = ["train", *_configs(tmp_path, first, second), "--batch-size", "16"]
    config, origins = config_from(make_parser().parse_args(argv).train)
    assert (config.arch, config.data, config.epochs, config.lr) == (str(spec), "synthetic", 3, 0.2)
    assert config.swap == {"act": "relu", "pool": "avg"}
    assert config.trainer == {"max_steps": 5, "limit_val_batches": 2}
    assert (origins["lr"], origins["epochs"], origins["batch_size"]) == ("config", "config", "flag")


@pytest.mark.parametrize("bad", ["a", "b"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr: fast\n", "lr: expected float, got 'fast'"),
        ("trainer: {max_stepz: 3}\n", "trainer: lightning.Trainer has no argument 'max_stepz'"),
        ("epoch: 3\n", "unknown setting(s) epoch"),
    ],
)
def test_a_bad_config_value_names_the_file_it_came_from(capsys, tmp_path, spec, bad, text, message):
    good = "data: synthetic\n"
    texts = (text, good) if bad == "a" else (good, text)
    code = main(["train", str(spec), *_configs(tmp_path, *texts), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"--config {tmp_path / f'{bad}.yaml'}: {message}" in err
    assert not (tmp_path / "r").exists()


def test_print_config_skip_null_leaves_out_the_null_settings(capsys, tmp_path, spec):
    argv = ["train", str(spec), "--data", "synthetic", "--trainer.max_steps", "5"]
    assert main([*argv, "--print_config"]) == 0
    every = yaml.safe_load(capsys.readouterr().out)
    assert main([*argv, "--print_config=skip_null"]) == 0
    printed = capsys.readouterr().out
    kept = yaml.safe_load(printed)
    nulls = {k for k, v in every.items() if v is None}
    assert {"grad_clip", "out", "data_dir"} <= nulls
    assert kept == {k: v for k, v in every.items() if k not in nulls}
    (tmp_path / "printed.yaml").write_text(printed)  # read back, it is the same run
    assert main(["train", "--config", str(tmp_path / "printed.yaml"), "--print_config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == every


@pytest.mark.parametrize("value", ["comments", "skip_null,skip_default", "yes"])
def test_print_config_refuses_what_it_does_not_do(capsys, spec, value):
    code = main(["train", str(spec), f"--print_config={value}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"convzoo: error: --print_config={value.split(',')[-1]}: ")
    assert "--print_config=skip_null (leaves out the settings that are null)" in err


def test_the_help_of_a_trainer_argument_s_classes_is_shown_at_once(capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", "--trainer.callbacks.help", "EarlyStopping"])
    assert done.value.code == 0 and "--trainer.callbacks.patience" in capsys.readouterr().out
