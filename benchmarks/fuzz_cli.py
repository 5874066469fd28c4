"""The command-line fuzz run: mutated zoo specs through ``convzoo show`` and ``convzoo train``.

``fuzz_specs.py`` calls convzoo's functions in-process; this one runs the command
line as a user does, in subprocesses, so it also sees what only the command line
does: the exit status, what reaches stderr, a hang, the run folder a refusal leaves.
It repeats issue 20's audit ("260 mutated specs x ``show`` and ``train
--trainer.fast_dev_run true``"): each spec of the zoo (``registry/*.yaml``) is
mutated -- a key deleted, a number made 0, -1, 10**9, a float, a string, null or a
list, a block name misspelt or taken from another family, layers dropped,
duplicated, shuffled or nested wrongly, ``input`` and ``classes`` made wrong, an
unknown key added, or the file's text truncated, given a tab, binary bytes or an
alias bomb -- written to a file, then shown and trained for one batch on
synthetic data. Each invocation ends as one of:

- ``ok``: exit status 0 (``train``: with a ``report.json`` whose status is ok);
- ``refused``: exit status 2 and stderr ending in one ``convzoo: error:`` message
  (warnings before it allowed, and its own lines after it, such as the table of
  the layers that fit), no traceback; ``train``: no ``--out`` folder, or an empty
  one;
- ``diverged``: ``train`` exit status 1 with one message and a ``report.json``
  saying so (README: a divergence stop);
- ``bug``: anything else -- a traceback, another exit status, no exit within the
  timeout, a refusal that left files in ``--out``.

Spec ``i`` of seed ``s`` is the same whatever ``--specs`` is, so a bug reruns with
the same seed. The summary (printed, and with ``--out PREFIX`` written to
``PREFIX.md`` and ``PREFIX.json``) gives the counts per command, the machine, the
versions and every distinct bug with the shortest spec that showed it. Exit status
1 when there was a bug.

    .venv/bin/python benchmarks/fuzz_cli.py [--specs 260] [--seed 0] [--jobs 2]
        [--timeout 120] [--out benchmarks/results/fuzz_cli]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convzoo.registry import FAMILIES
from tests.bombs import alias_bomb

ROOT = Path(__file__).resolve().parent.parent

OK, REFUSED, DIVERGED, BUG = "ok", "refused", "diverged", "bug"
OUTCOMES = (OK, REFUSED, DIVERGED, BUG)
COMMANDS = ("show", "train")
ERROR = "convzoo: error:"
VALUES: tuple[Any, ...] = (0, -1, 10**9, 0.5, "seven", None, [1, 2])  # what a number becomes
CLASSES: tuple[Any, ...] = (0, 1, 2, 10_000, 10_001, 10**6, "ten", 3.5)
SPEC_LIMIT = 4000  # characters of a bug's spec the summary shows
TAIL_LINES = 15  # lines of a bug's stderr the summary shows

Spec = dict[str, Any]


@dataclass(frozen=True)
class Mutant:
    """One mutated spec: the zoo spec it came from, what was changed, the file's bytes."""

    index: int
    base: str
    kind: str
    change: str
    content: bytes
    dims: int  # 1 or 2: which synthetic data ``train`` gets

    def shown(self) -> str:
        """The file's text as the summary shows it (bytes that are no UTF-8 escaped)."""
        text = self.content.decode("utf-8", "backslashreplace")
        return text if len(text) <= SPEC_LIMIT else text[:SPEC_LIMIT] + "\n[...]"


@dataclass
class Bug:
    """A distinct bug: the shortest spec that showed it, and how often it was seen."""

    key: str
    problem: str
    commands: list[str]
    argv: str
    spec: str
    spec_index: int
    change: str
    stderr_tail: str
    seen: int = 1
    size: int = 0  # the spec's bytes, to keep the shortest


# -- the mutations ------------------------------------------------------------------


def load_bases(folder: Path = ROOT / "registry") -> dict[str, tuple[str, Spec]]:
    """The zoo's specs by name: each file's text and its parsed mapping."""
    bases = {}
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text()
        bases[path.stem] = (text, yaml.safe_load(text))
    return bases


def _where(path: tuple[Any, ...]) -> str:
    """``layers[3].out`` for the path ``("layers", 3, "out")``."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else f".{step}" if out else str(step)
    return out


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, Any, tuple[Any, ...]]]:
    """Every ``(container, key, path)`` below ``node``, depth first."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    found = []
    for key, value in items:
        found.append((node, key, (*path, key)))
        if isinstance(value, (dict, list)):
            found += _leaves(value, (*path, key))
    return found


def _layer_lists(spec: Spec) -> list[tuple[list[Any], tuple[Any, ...]]]:
    """Every list of layers in ``spec`` (``layers`` and every block's body) with its path."""
    return [
        (c[k], p)
        for c, k, p in _leaves(spec)
        if k == "layers" and isinstance(c, dict) and isinstance(c[k], list)
    ]


def _blocks(spec: Spec) -> list[tuple[dict[str, Any], str, tuple[Any, ...]]]:
    """Every layer naming a block: the layer, its family and its path."""
    return [
        (layer, family, (*path, i))
        for layers, path in _layer_lists(spec)
        for i, layer in enumerate(layers)
        if isinstance(layer, dict)
        for family in [next(iter(layer), None)]
        if family in FAMILIES and isinstance(layer[family], str)
    ]


def names_by_family(specs: list[Spec]) -> dict[str, list[str]]:
    """The block names the zoo uses, per family."""
    names: dict[str, set[str]] = {}
    for spec in specs:
        for layer, family, _ in _blocks(spec):
            names.setdefault(family, set()).add(layer[family])
    return {family: sorted(found) for family, found in sorted(names.items())}


def near_miss(name: str, rng: random.Random) -> str:
    """A misspelling of ``name``: a letter dropped, doubled or swapped, a dash, capitals."""
    i = rng.randrange(len(name))
    j = min(i + 1, len(name) - 1)
    return rng.choice(
        [
            name[:i] + name[i + 1 :] or "x",
            name[:i] + name[i] + name[i:],
            name[:i] + name[j] + name[i] + name[j + 1 :] if j > i else name + "s",
            name.replace("_", "-") if "_" in name else name + "2",
            name.upper(),
        ]
    )


def delete_key(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Delete one key anywhere: a top-level key, a block's argument, a recipe setting."""
    container, key, path = rng.choice([leaf for leaf in _leaves(spec) if isinstance(leaf[0], dict)])
    del container[key]
    return f"deleted {_where(path)}"


def set_value(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Set one number to 0, -1, 10**9, a float, a string, null or a list."""
    numbers = [
        leaf
        for leaf in _leaves(spec)
        if isinstance(leaf[0][leaf[1]], (int, float)) and not isinstance(leaf[0][leaf[1]], bool)
    ]
    container, key, path = rng.choice(numbers)
    container[key] = copy.copy(rng.choice(VALUES))
    return f"{_where(path)}: {container[key]!r}"


def misspell_block(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Replace a block's name with a near-miss."""
    layer, family, path = rng.choice(_blocks(spec))
    layer[family] = near_miss(layer[family], rng)
    return f"{_where(path)}.{family}: {layer[family]!r}"


def foreign_block(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Replace a block's name with the name of a block of another family."""
    layer, family, path = rng.choice(_blocks(spec))
    other = rng.choice([f for f in names if f != family])
    layer[family] = rng.choice(names[other])
    return f"{_where(path)}.{family}: {layer[family]!r} (a {other})"


def drop_layer(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Delete one layer of a list of layers."""
    layers, path = rng.choice([lp for lp in _layer_lists(spec) if lp[0]])
    i = rng.randrange(len(layers))
    del layers[i]
    return f"dropped {_where((*path, i))}"


def duplicate_layer(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Repeat one layer of a list of layers right after itself."""
    layers, path = rng.choice([lp for lp in _layer_lists(spec) if lp[0]])
    i = rng.randrange(len(layers))
    layers.insert(i + 1, copy.deepcopy(layers[i]))
    return f"duplicated {_where((*path, i))}"


def shuffle_layers(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Shuffle a list of layers."""
    layers, path = rng.choice([lp for lp in _layer_lists(spec) if len(lp[0]) > 1])
    rng.shuffle(layers)
    return f"shuffled {_where(path)}"


def change_input(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Make ``input`` of the wrong rank, of another rank (1-D for 2-D), with a zero, a
    negative or a huge size, or no list."""
    shape = list(spec["input"])
    i = rng.randrange(len(shape))
    spec["input"] = rng.choice(
        [
            shape[:1],
            [*shape, shape[-1]],
            shape[:2] if len(shape) == 3 else [*shape, shape[-1]],
            [*shape[:i], 0, *shape[i + 1 :]],
            [*shape[:i], -shape[i], *shape[i + 1 :]],
            [*shape[:i], rng.choice([10**4, 10**9]), *shape[i + 1 :]],
            shape[-1],
            "28x28",
        ]
    )
    return f"input: {spec['input']!r}"


def change_classes(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Make ``classes`` 0, 1, fewer than the data's 4, at and past the bound, huge, a
    string or a float."""
    spec["classes"] = rng.choice(CLASSES)
    return f"classes: {spec['classes']!r}"


def unknown_key(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Add a key nothing knows: at the top, in a block, in the recipe."""
    targets: list[tuple[dict[str, Any], tuple[Any, ...]]] = [(spec, ())]
    targets += [(layer, path) for layer, _, path in _blocks(spec)]
    if isinstance(spec.get("train"), dict):
        targets.append((spec["train"], ("train",)))
    target, path = rng.choice(targets)
    key = rng.choice(["epochs", "kernal", "learning_rate", "layer", "Input", "x"])
    target[key] = rng.choice(VALUES)
    return f"added {_where((*path, key))}: {target[key]!r}"


def nest_wrongly(spec: Spec, rng: random.Random, names: dict[str, list[str]]) -> str:
    """Nest a layer where no layer goes: in a list of its own, as a family's value, or in
    the body of a block that takes none."""
    layers, path = rng.choice([lp for lp in _layer_lists(spec) if lp[0]])
    i = rng.randrange(len(layers))
    layer = layers[i]
    how = rng.randrange(3)
    if how == 0 or not isinstance(layer, dict) or not layer:
        layers[i] = [layer]
        return f"{_where((*path, i))} put in a list"
    family = next(iter(layer))
    if how == 1:
        layers[i] = {family: {layer[family]: {k: v for k, v in layer.items() if k != family}}}
        return f"{_where((*path, i))} nested under {family}: {layer[family]!r}"
    host = rng.randrange(len(layers))
    layers[host] = {**copy.deepcopy(layers[host]), "layers": [copy.deepcopy(layer)]}
    return f"{_where((*path, i))} copied into the body of {_where((*path, host))}"


def truncate(text: str, rng: random.Random) -> tuple[bytes, str]:
    """The file cut short."""
    at = rng.randrange(1, len(text))
    return text[:at].encode(), f"truncated at character {at} of {len(text)}"


def tab(text: str, rng: random.Random) -> tuple[bytes, str]:
    """A tab where YAML allows none (in an indentation) or in a flow mapping."""
    lines = text.splitlines(keepends=True)
    i = rng.randrange(1, len(lines))
    indent = len(lines[i]) - len(lines[i].lstrip(" "))
    lines[i] = "\t" + lines[i][indent:] if indent else "\t" + lines[i]
    return "".join(lines).encode(), f"a tab at the start of line {i + 1}"


def binary(text: str, rng: random.Random) -> tuple[bytes, str]:
    """Random bytes (NUL and no UTF-8 among them) inserted into the file."""
    raw = text.encode()
    at = rng.randrange(len(raw))
    noise = rng.randbytes(rng.randint(1, 64))
    return raw[:at] + noise + raw[at:], f"{len(noise)} random bytes at byte {at}"


def bomb(text: str, rng: random.Random) -> tuple[bytes, str]:
    """An alias bomb as the description: a few hundred bytes expanding to millions of values
    or more, which the bounded loader must refuse without expanding."""
    levels = rng.randint(6, 9)
    body = re.sub(r"(?m)^description:.*$", "", text)
    return (
        f"description: {alias_bomb(levels)}\n{body}".encode(),
        f"an alias bomb of 9**{levels} values as the description",
    )


STRUCTURED: dict[str, Callable[[Spec, random.Random, dict[str, list[str]]], str]] = {
    f.__name__: f
    for f in (
        delete_key,
        set_value,
        misspell_block,
        foreign_block,
        drop_layer,
        duplicate_layer,
        shuffle_layers,
        change_input,
        change_classes,
        unknown_key,
        nest_wrongly,
    )
}
RAW: dict[str, Callable[[str, random.Random], tuple[bytes, str]]] = {
    f.__name__: f for f in (truncate, tab, binary, bomb)
}
KINDS = (*STRUCTURED, *RAW)


def _dims(shape: Any) -> int:
    """1 for a 1-D ``input`` ([C, L]), else 2."""
    return 1 if isinstance(shape, list) and len(shape) == 2 else 2


def mutate(bases: dict[str, tuple[str, Spec]], seed: int, index: int) -> Mutant:
    """Spec ``index`` of ``seed``: the kinds in turn, each applied to a zoo spec drawn by a
    generator of its own, so that it does not depend on how many specs are drawn. A spec the
    kind finds nothing to change in (one layer to shuffle) gives way to the next one drawn."""
    rng = random.Random(f"{seed}/{index}")
    kind = KINDS[index % len(KINDS)]
    names = names_by_family([data for _, data in bases.values()])
    for base in rng.sample(sorted(bases), len(bases)):
        text, data = bases[base]
        if kind in RAW:
            content, change = RAW[kind](text, rng)
            return Mutant(index, base, kind, change, content, _dims(data["input"]))
        spec = copy.deepcopy(data)
        try:
            change = STRUCTURED[kind](spec, rng, names)
        except IndexError:  # rng.choice of nothing
            continue
        content = yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100).encode()
        return Mutant(index, base, kind, change, content, _dims(spec.get("input")))
    raise ValueError(f"no spec of the zoo has anything {kind} changes")


# -- running and classifying --------------------------------------------------------


def argv(command: str, spec: Path, out: Path, dims: int) -> list[str]:
    """The ``convzoo`` command line of ``command`` on ``spec``."""
    if command == "show":
        return ["show", str(spec)]
    data = "synthetic1d" if dims == 1 else "synthetic"
    return [
        "train",
        str(spec),
        "--data",
        data,
        "--trainer.fast_dev_run",
        "true",
        "--accelerator",
        "cpu",
        "--out",
        str(out),
    ]


def _report_status(out: Path | None) -> str | None:
    """The ``status`` of the run's ``report.json``; None where there is none."""
    if out is None or not (out / "report.json").is_file():
        return None
    try:
        return str(json.loads((out / "report.json").read_text()).get("status"))
    except (ValueError, AttributeError):
        return "unreadable"


def _one_message(stderr: str) -> bool:
    """Whether stderr ends in one ``convzoo: error:`` message: the only line that starts
    so, and no line after it starts another message or warning (``convzoo:``)."""
    lines = stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(ERROR)]
    return len(starts) == 1 and not any(x.startswith("convzoo:") for x in lines[starts[0] + 1 :])


def classify(command: str, rc: int | None, stderr: str, out: Path | None = None) -> tuple[str, str]:
    """``(outcome, problem)`` of one invocation; ``rc`` None for one that did not exit in
    time, ``out`` a ``train``'s run folder. The problem says, for a bug, what is wrong."""
    if rc is None:
        return BUG, "no exit within the timeout"
    if "Traceback" in stderr:
        return BUG, f"a traceback (exit status {rc})"
    status = _report_status(out) if command == "train" else None
    if rc == 0:
        if command == "train" and status != "ok":
            return BUG, f"exit status 0 with report.json's status {status}"
        return OK, ""
    if not _one_message(stderr):
        return BUG, f"exit status {rc} without one {ERROR} message at the end of stderr"
    if rc == 2:
        left = sorted(p.name for p in out.iterdir()) if out is not None and out.is_dir() else []
        if left:
            return BUG, f"a refused run left {', '.join(left)} in --out"
        return REFUSED, ""
    if rc == 1 and command == "train" and status == "diverged":
        return DIVERGED, ""
    return BUG, f"exit status {rc}"


def bug_line(stderr: str, tmp: Path) -> str:
    """What identifies a bug: the last line of its traceback, else its first ``convzoo:
    error:`` line, else its first line; temporary paths and spec numbers made alike."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if "Traceback" in stderr:
        line = lines[-1]
    else:
        line = next((x for x in lines if x.startswith(ERROR)), lines[0] if lines else "")
    line = line.replace(str(tmp), "TMP")
    return re.sub(r"(spec|run)-\d+", r"\1-N", line)[:300]


def run(command: str, mutant: Mutant, tmp: Path, timeout: float) -> tuple[str, str, str, str]:
    """Run one invocation: ``(outcome, problem, stderr, argv)``. A process group of its
    own, killed whole if it outlives ``timeout``."""
    spec, out = tmp / f"spec-{mutant.index}.yaml", tmp / f"run-{mutant.index}"
    args = argv(command, spec, out, mutant.dims)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "convzoo.cli", *args],
        cwd=tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):  # the whole group ended meanwhile
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        rc = None
    stderr = err.decode("utf-8", "backslashreplace")
    outcome, problem = classify(command, rc, stderr, out if command == "train" else None)
    shown = " ".join(["convzoo", *args]).replace(str(tmp), "TMP")
    return outcome, problem, stderr, shown


def fuzz(
    mutants: list[Mutant], jobs: int, timeout: float
) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]], dict[str, Bug]]:
    """Show and train every mutant, ``jobs`` at a time: outcome counts per command and per
    mutation kind, and every distinct bug with its shortest spec."""
    per_command: dict[str, Counter[str]] = {c: Counter() for c in COMMANDS}
    per_kind: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    bugs: dict[str, Bug] = {}
    with tempfile.TemporaryDirectory(
        prefix="convzoo-fuzz-cli-", ignore_cleanup_errors=True
    ) as name:
        tmp = Path(name)
        for mutant in mutants:
            (tmp / f"spec-{mutant.index}.yaml").write_bytes(mutant.content)
        with ThreadPoolExecutor(jobs) as pool:
            futures = {
                pool.submit(run, command, mutant, tmp, timeout): (command, mutant)
                for mutant in mutants
                for command in COMMANDS
            }
            for done, future in enumerate(as_completed(futures), 1):
                command, mutant = futures[future]
                outcome, problem, stderr, shown = future.result()
                per_command[command][outcome] += 1
                per_kind[mutant.kind][outcome] += 1
                if outcome == BUG:
                    _record(bugs, command, mutant, problem, stderr, shown, tmp)
                    print(f"  bug: spec {mutant.index} {command}: {problem}", flush=True)
                if done % 50 == 0:
                    print(f"  {done}/{len(futures)} invocations", flush=True)
    return per_command, per_kind, bugs


def _record(
    bugs: dict[str, Bug],
    command: str,
    mutant: Mutant,
    problem: str,
    stderr: str,
    shown: str,
    tmp: Path,
) -> None:
    """Count a bug under its key; keep the shortest spec that showed it."""
    key = f"{problem}: {bug_line(stderr, tmp)}"
    old = bugs.get(key)
    if old is not None:
        old.seen += 1
        old.commands = sorted({*old.commands, command})
        if old.size <= len(mutant.content):
            return
    tail = "\n".join(stderr.rstrip().splitlines()[-TAIL_LINES:]).replace(str(tmp), "TMP")
    bugs[key] = Bug(
        key=key,
        problem=problem,
        commands=[command] if old is None else old.commands,
        argv=shown,
        spec=mutant.shown(),
        spec_index=mutant.index,
        change=f"{mutant.base}, {mutant.kind}: {mutant.change}",
        stderr_tail=tail,
        seen=1 if old is None else old.seen,
        size=len(mutant.content),
    )


# -- the summary --------------------------------------------------------------------


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _source() -> str:
    """The source tree's commit, ``+dirty`` where it has changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def summary(
    command: str,
    args: argparse.Namespace,
    seconds: float,
    per_command: dict[str, Counter[str]],
    per_kind: dict[str, Counter[str]],
    bugs: dict[str, Bug],
) -> dict[str, Any]:
    """The run's summary as plain data (the JSON file)."""
    return {
        "command": command,
        "seed": args.seed,
        "specs": args.specs,
        "invocations": sum(sum(c.values()) for c in per_command.values()),
        "jobs": args.jobs,
        "timeout_s": args.timeout,
        "wall_s": round(seconds, 1),
        "machine": {"platform": platform.platform(), "cores": os.cpu_count()},
        "versions": {
            "python": platform.python_version(),
            "torch": _version("torch"),
            "lightning": _version("lightning"),
            "convzoo": _version("convzoo"),
            "source": _source(),
        },
        "outcomes": {c: {o: per_command[c][o] for o in OUTCOMES} for c in COMMANDS},
        "kinds": {k: {o: per_kind[k][o] for o in OUTCOMES} for k in KINDS},
        "bugs": [{k: v for k, v in asdict(b).items() if k != "size"} for b in bugs.values()],
    }


def _row(name: str, counts: dict[str, int]) -> str:
    return f"| {name} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |"


def markdown(result: dict[str, Any]) -> str:
    """The summary as Markdown."""
    v, m = result["versions"], result["machine"]
    lines = [
        "# convzoo CLI fuzz",
        "",
        f"`{result['command']}`",
        "",
        f"- {result['specs']} mutated zoo specs (seed {result['seed']}) x `show` and `train "
        f"--trainer.fast_dev_run true`: {result['invocations']} invocations in "
        f"{result['wall_s']:.0f} s, {result['jobs']} at a time, each given "
        f"{result['timeout_s']:g} s",
        f"- machine: {m['platform']}, {m['cores']} cores",
        f"- python {v['python']}, torch {v['torch']}, lightning {v['lightning']}, convzoo "
        f"{v['convzoo']} (source {v['source']})",
        "",
        "| command | " + " | ".join(OUTCOMES) + " |",
        "|---|" + "---:|" * len(OUTCOMES),
    ]
    lines += [_row(c, o) for c, o in result["outcomes"].items()]
    lines += ["", "| mutation | " + " | ".join(OUTCOMES) + " |", "|---|" + "---:|" * len(OUTCOMES)]
    lines += [_row(k, o) for k, o in result["kinds"].items() if sum(o.values())]
    lines += ["", f"## Bugs: {len(result['bugs'])} distinct", ""]
    for i, bug in enumerate(result["bugs"], 1):
        lines += [
            f"### {i}. {bug['key']}",
            "",
            f"- seen {bug['seen']} times, in {', '.join(bug['commands'])}",
            f"- shortest spec: spec {bug['spec_index']} ({bug['change']})",
            f"- `{bug['argv']}`",
            "",
            "```yaml",
            bug["spec"].rstrip(),
            "```",
            "",
            "```",
            bug["stderr_tail"],
            "```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=260, help="how many mutated specs")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the mutations")
    parser.add_argument("--jobs", type=int, default=2, help="invocations at a time")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per invocation")
    parser.add_argument("--out", type=Path, help="write the summary to OUT.md and OUT.json")
    args = parser.parse_args()
    command = (
        f"benchmarks/fuzz_cli.py --specs {args.specs} --seed {args.seed} --jobs {args.jobs} "
        f"--timeout {args.timeout:g}"
    )
    bases = load_bases()
    mutants = [mutate(bases, args.seed, i) for i in range(args.specs)]
    start = time.perf_counter()
    per_command, per_kind, bugs = fuzz(mutants, args.jobs, args.timeout)
    result = summary(command, args, time.perf_counter() - start, per_command, per_kind, bugs)
    text = markdown(result)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{args.out}.md").write_text(text)
        Path(f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
