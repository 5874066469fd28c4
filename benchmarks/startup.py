"""How long does the ``convzoo`` command take to start? Whole processes, next to ``import torch``.

Each command runs as a process of its own, the way a user types it: ``convzoo
--help``, ``convzoo list blocks``, ``convzoo show lenet5`` and ``convzoo train
--help`` (no goal: it imports Lightning for Trainer's arguments), beside two
references run by the same interpreter -- ``python -c "import torch"``, and the
same plus one multiplication on the meta device, what a shape check on torch's own
meta kernels would cost (their first element-wise operation imports ``torch._dynamo``
and sympy; convzoo's trace avoids them). Every round runs each command once, in an order
shuffled per round (seeded), after one warm-up round that is not counted, so that
drift and the page cache hit all of them alike. Per command: the medians of the
wall-clock time, of the CPU time (user + system of that process, from
``os.wait4``) and of its peak resident memory; each median is divided by import
torch's.

The goals (issue 12): ``convzoo --help`` under 1.5 s wall-clock; ``convzoo list
blocks`` and ``convzoo show lenet5`` within 1.3x of ``import torch``. The files
say whether each is met.

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


def convzoo_command() -> list[str]:
    """The installed ``convzoo`` script beside this interpreter, else ``python -m convzoo.cli``."""
    script = Path(sys.executable).with_name("convzoo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "convzoo.cli"]


def commands() -> dict[str, list[str]]:
    """Label -> argv of every command timed; the first is the reference of the ratios."""
    cz = convzoo_command()
    return {
        TORCH_LABEL: [sys.executable, "-c", TORCH],
        "import torch + one meta-device op": [sys.executable, "-c", META],
        "convzoo --help": [*cz, "--help"],
        "convzoo list blocks": [*cz, "list", "blocks"],
        "convzoo show lenet5": [*cz, "show", "lenet5"],
        "convzoo train --help": [*cz, "train", "--help"],
    }


def run_once(argv: list[str]) -> dict[str, float]:
    """Wall-clock seconds, CPU seconds and peak RSS (MB) of one process running ``argv``."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace")
            raise SystemExit(f"{shlex.join(argv)} exited {proc.returncode}:\n{message}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
    }


def measure(rounds: int, seed: int) -> dict[str, list[dict[str, float]]]:
    """Every command once per round, shuffled per round, after one uncounted warm-up round."""
    table = commands()
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in table}
    order = list(table)
    shuffle = random.Random(seed).shuffle
    for round_ in range(rounds + 1):
        shuffle(order)
        for label in order:
            result = run_once(table[label])
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
    """Each goal of issue 12 with its measured value and whether it is met."""
    found = [
        {
            "goal": f"`convzoo --help` under {HELP_LIMIT_S} s (wall-clock median)",
            "value": f"{rows['convzoo --help']['wall_s']:.2f} s",
            "met": rows["convzoo --help"]["wall_s"] < HELP_LIMIT_S,
        }
    ]
    for label in ("convzoo list blocks", "convzoo show lenet5"):
        ratio = rows[label]["wall_ratio"]
        found.append(
            {
                "goal": f"`{label}` within {RATIO_LIMIT}x of `import torch` (wall-clock medians)",
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
            d: version(d) for d in ("convzoo", "torch", "lightning", "jsonargparse", "rich")
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
        "that row's wall-clock time. `convzoo train --help` imports Lightning, whose "
        "Trainer's signature its `--trainer.*` flags are made from; no goal is set for it.",
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
        "commands": {label: shlex.join(argv) for label, argv in commands().items()},
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
