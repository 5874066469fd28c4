"""How long does the ``convzoo`` command take to start? Whole processes, next to ``import torch``.

Each command runs as a process of its own, the way a user types it: ``convzoo
--help``, ``convzoo list blocks``, ``convzoo show lenet5``, ``convzoo train --help``,
``convzoo evaluate --help`` and a refused ``convzoo train lenet5 --epochs -1`` (exit
status 2), beside two references run by the same interpreter -- ``python -c "import
torch"``, and the same plus one multiplication on the meta device, what a shape check on
torch's own meta kernels would cost (their first element-wise operation imports
``torch._dynamo`` and sympy; convzoo's trace avoids them). Every round runs each command
once, in an order shuffled per round (seeded), after one warm-up round that is not
counted, so that drift and the page cache hit all of them alike. Per command: the
medians of the wall-clock time, of the CPU time (user + system of that process, from
``os.wait4``) and of its peak resident memory; each median is divided by import
torch's.

``train --help`` and ``evaluate --help`` read Trainer's arguments and the measures'
names from the help cache (``convzoo/cli/_help_cache.py``), which the first call
makes (importing Lightning, torch). Every convzoo command here runs with
``XDG_CACHE_HOME`` set to a folder of the benchmark's own, which the warm-up round
fills: those rows are the warm cache, every call after the first. The row ``train
--help, first call`` gets an empty folder each time: the cost of making the cache,
paid once per installed version.

The goals (issue 12): ``convzoo --help`` under 1.5 s wall-clock; ``convzoo list
blocks`` and ``convzoo show lenet5`` within 1.3x of ``import torch``; (issue 21)
``convzoo train --help`` (warm cache) and the refused ``convzoo train`` within 1.3x of
``import torch``. The files say whether each is met.

    python benchmarks/startup.py [--rounds 9] [--out benchmarks/results/startup]

It imports nothing heavy itself: versions come from the installed distributions.
``--out PREFIX`` writes PREFIX.md and PREFIX.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup"
TORCH = "import torch"
TORCH_LABEL = 'python -c "import torch"'
META = "import torch; torch.empty(1, device='meta') * 2"
HELP_LIMIT_S = 1.5
RATIO_LIMIT = 1.3
RATIO_GOALS = (  # the commands held to RATIO_LIMIT, by label, and the issue that set it
    ("convzoo list blocks", 12),
    ("convzoo show lenet5", 12),
    ("convzoo train --help", 21),
    ("convzoo train lenet5 --epochs -1 (refused)", 21),
)


@dataclass(frozen=True)
class Command:
    """A command timed: its argv, the exit status it must end with, and whether it gets the
    benchmark's help cache, filled by the warm-up round (``warm``) or an empty one each time."""

    argv: list[str]
    status: int = 0
    warm: bool = True


def convzoo_command() -> list[str]:
    """The installed ``convzoo`` script beside this interpreter, else ``python -m convzoo.cli``."""
    script = Path(sys.executable).with_name("convzoo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "convzoo.cli"]


def commands() -> dict[str, Command]:
    """Label -> every command timed; the first is the reference of the ratios."""
    cz = convzoo_command()
    return {
        TORCH_LABEL: Command([sys.executable, "-c", TORCH]),
        "import torch + one meta-device op": Command([sys.executable, "-c", META]),
        "convzoo --help": Command([*cz, "--help"]),
        "convzoo list blocks": Command([*cz, "list", "blocks"]),
        "convzoo show lenet5": Command([*cz, "show", "lenet5"]),
        "convzoo train --help": Command([*cz, "train", "--help"]),
        "convzoo train --help (first call: no help cache)": Command(
            [*cz, "train", "--help"], warm=False
        ),
        "convzoo evaluate --help": Command([*cz, "evaluate", "--help"]),
        "convzoo train lenet5 --epochs -1 (refused)": Command(
            [*cz, "train", "lenet5", "--epochs", "-1"], status=2
        ),
    }


def run_once(command: Command, cache: Path) -> dict[str, float]:
    """Wall-clock seconds, CPU seconds and peak RSS (MB) of one process running ``command``,
    with ``cache`` (or, for a cold command, an empty folder) as its ``XDG_CACHE_HOME``."""
    argv = command.argv
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as empty:
        env = {**os.environ, "XDG_CACHE_HOME": str(cache if command.warm else empty)}
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != command.status:
            err.seek(0)
            message = err.read().decode(errors="replace")
            raise SystemExit(f"{shlex.join(argv)} exited {proc.returncode}:\n{message}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
    }


def measure(rounds: int, seed: int) -> dict[str, list[dict[str, float]]]:
    """Every command once per round, shuffled per round, after one uncounted warm-up round
    (which fills the help cache of the warm commands)."""
    table = commands()
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in table}
    order = list(table)
    shuffle = random.Random(seed).shuffle
    with tempfile.TemporaryDirectory() as cache:
        for round_ in range(rounds + 1):
            shuffle(order)
            for label in order:
                result = run_once(table[label], Path(cache))
                if round_:
                    runs[label].append(result)
    return runs


def medians(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per command: the median of each measure, and wall and CPU as ratios to the reference's."""
    out = {
        label: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for label, results in runs.items()
    }
    reference = out[next(iter(out))]
    for row in out.values():
        row["wall_ratio"] = row["wall_s"] / reference["wall_s"]
        row["cpu_ratio"] = row["cpu_s"] / reference["cpu_s"]
    return out


def goals(rows: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Each goal (issues 12 and 21) with its measured value and whether it is met."""
    found = [
        {
            "goal": f"`convzoo --help` under {HELP_LIMIT_S} s (wall-clock median)",
            "value": f"{rows['convzoo --help']['wall_s']:.2f} s",
            "met": rows["convzoo --help"]["wall_s"] < HELP_LIMIT_S,
        }
    ]
    for label, issue in RATIO_GOALS:
        ratio = rows[label]["wall_ratio"]
        found.append(
            {
                "goal": f"`{label}` within {RATIO_LIMIT}x of `import torch` (wall-clock medians; "
                f"issue {issue})",
                "value": f"{ratio:.2f}x",
                "met": ratio <= RATIO_LIMIT,
            }
        )
    return found


def version(dist: str) -> str:
    """The installed version of ``dist``, without importing it."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit() -> str:
    """The checkout's commit, marked ``+changes`` when the tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{'+changes' if dirty else ''}" if head else "unknown"


def processor() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what ``platform`` knows."""
    info = Path("/proc/cpuinfo")
    text = info.read_text() if info.exists() else ""
    names = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown CPU"


def machine() -> dict[str, Any]:
    """Where and with what the numbers were measured."""
    return {
        "cpu": processor(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            d: version(d)
            for d in ("convzoo", "torch", "lightning", "jsonargparse", "docstring-parser", "rich")
        },
        "commit": git_commit(),
        "load_average": os.getloadavg()[0],
    }


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown page."""
    m = result["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        "# Start-up of the `convzoo` command",
        "",
        f"Each command as a whole process; medians of {result['rounds']} rounds, each running "
        "every command once in a shuffled order, after one uncounted warm-up round. CPU is user "
        '+ system time of the process; ratios divide by `python -c "import torch"`\'s medians.',
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}; "
        f"{versions}; commit {m['commit']}. Load average {m['load_average']:.2f} when it "
        f"started and {result['load_average_after']:.2f} when it ended (above 0: other jobs "
        "were running).",
        "",
        f"Command: `{result['command']}`",
        "",
        "| command | wall (s) | CPU (s) | peak RSS (MB) | wall ratio | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, row in result["medians"].items():
        lines.append(
            f"| `{label}` | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | {row['rss_mb']:.0f} | "
            f"{row['wall_ratio']:.2f} | {row['cpu_ratio']:.2f} |"
        )
    lines += ["", "| goal | measured | met |", "|---|---:|---|"]
    for goal in result["goals"]:
        lines.append(f"| {goal['goal']} | {goal['value']} | {'yes' if goal['met'] else 'no'} |")
    meta = result["medians"]["import torch + one meta-device op"]
    show = result["medians"]["convzoo show lenet5"]
    lines += [
        "",
        "`convzoo --help` imports no torch; `list` and `show` import torch but not Lightning, "
        "torchvision, matplotlib or scipy (`tests/cli/test_imports.py` checks this). "
        "`show` shape-checks the network on the meta device. Torch's own meta kernels would "
        "cost the second row: the first element-wise operation on a meta tensor runs a "
        "Python reference kernel, which imports `torch._dynamo` and sympy "
        f"({meta['wall_s'] - result['medians'][TORCH_LABEL]['wall_s']:.2f} s here). "
        "convzoo's trace (`convzoo/assemble/metatrace.py`) runs such operations on "
        "zero-filled CPU tensors instead and imports neither (`tests/assemble/"
        f"test_metatrace.py`): `show lenet5` takes {show['wall_s'] / meta['wall_s']:.2f}x "
        "that row's wall-clock time.",
        "",
        "`convzoo train --help`, `convzoo evaluate --help` and a refused `convzoo train` import "
        "neither Lightning nor torch (`tests/cli/test_imports.py`): `train` parses and checks "
        "its own flags, its `--config` files and the architecture before it parses the "
        "Trainer's arguments (which imports Lightning, and only when some are given), and the "
        "help of Trainer's arguments and the names of the measures come from the help cache "
        "(`convzoo/cli/_help_cache.py`). Those rows ran with a cache the warm-up round made; "
        "`train --help (first call: no help cache)` had an empty one each time: what the "
        "first `train --help` after an install or upgrade costs, once.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds (default: 9)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffles (default: 0)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="prefix of the .md and .json")
    args = parser.parse_args()
    about = machine()  # before the work, so the load average is the others'
    runs = measure(args.rounds, args.seed)
    rows = medians(runs)
    result = {
        "command": shlex.join(["python", "benchmarks/startup.py", *sys.argv[1:]]),
        "rounds": args.rounds,
        "machine": about,
        "load_average_after": os.getloadavg()[0],
        "commands": {
            label: {"argv": shlex.join(c.argv), "status": c.status, "help_cache": c.warm}
            for label, c in commands().items()
        },
        "medians": rows,
        "goals": goals(rows),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    args.out.with_suffix(".md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
