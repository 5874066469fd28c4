"""``convzoo scan``: read strips of several test digits with one dense pass of a trained net.

The checkpoint (a file, or a run directory holding ``checkpoints/last.ckpt``) must
end with a ``conv1x1`` head. Strips are made from the test split of the run's own
dataset (from ``report.json`` next to the checkpoint) unless ``--data`` names
another; ``scan.png`` shows the first strip, and the sequence accuracy is printed.
A run trained on windows of strips (``mnist_windows``) is found out from its
dataset: the strips are made of its base's test images (mnist), and its
background class counts as no digit when the score map is decoded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from convzoo.cli._common import parser
from convzoo.errors import ConvzooError

NAMES = {"scan": "read strips of digits with one dense pass of a conv1x1 net"}


def add_parser(sub: Any) -> None:
    """The ``scan`` subcommand."""
    p = parser("Read strips of several test digits with one dense pass of a conv1x1 network.")
    p.add_argument("ckpt", metavar="CKPT", help="checkpoint file or run directory")
    p.add_argument("--digits", type=int, default=5, help="digits per strip (default: 5)")
    p.add_argument("--strips", type=int, default=100, help="number of strips (default: 100)")
    p.add_argument("--data", help="dataset name (default: the run's, else mnist)")
    p.add_argument("--data-dir", help="folder with the dataset's files")
    p.add_argument("--out", help="folder for scan.png (default: the run directory)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the strips' random draw (default: 0)"
    )
    sub.add_subcommand("scan", p, help=NAMES["scan"])


def run(args: Any) -> int:
    """Scan ``args.strips`` strips, write ``scan.png`` and print the accuracies."""
    if args.digits < 1:
        raise ConvzooError(f"--digits {args.digits}: give at least 1 digit per strip")
    if args.strips < 1:
        raise ConvzooError(f"--strips {args.strips}: give at least 1 strip")
    from convzoo.data.prepared import data_settings, prepared_scan_split
    from convzoo.data.strips import make_strips
    from convzoo.evaluate.scan import (
        decode,
        default_spacing,
        digit_accuracy,
        exact_share,
        geometry,
        plot_scan,
        scan_model,
        score_map,
    )
    from convzoo.train.checkpoint import load_network, locate
    from convzoo.train.report import read_report

    ckpt, run_dir = locate(args.ckpt)
    scanner = scan_model(load_network(ckpt))
    settings = data_settings({} if args.data else read_report(run_dir))
    data = args.data or settings["data"] or "mnist"
    split = prepared_scan_split(settings, scanner.spec.input, data, args.data_dir)
    strips, sequences = make_strips(
        split.x, split.y, args.digits, args.strips, seed=args.seed, fill=split.fill
    )
    grid = geometry(scanner)
    scores = score_map(scanner, strips)
    spacing = default_spacing(grid, split.background is not None)
    decoded = decode(scores, spacing, background=split.background)
    out = Path(args.out) if args.out else run_dir or ckpt.parent
    plot = plot_scan(
        out / "scan.png", strips[0], scores[0], decoded[0], sequences[0], grid, split.background
    )
    right = round(exact_share(decoded, sequences) * len(decoded))
    made = "" if split.data == data else f" of {split.data}'s test images"
    if split.background is not None:
        made += f", class {split.background} = background"
    sys.stdout.write(
        f"{scanner.spec.name} on {data}: {args.strips} strips of {args.digits} digits{made}\n"
        f"sequence accuracy: {right / len(decoded):.1%} ({right}/{len(decoded)} read exactly)\n"
        f"digit accuracy:    {digit_accuracy(decoded, sequences):.1%} (1 - edit distance)\n"
        f"plot: {plot}\n"
    )
    return 0
