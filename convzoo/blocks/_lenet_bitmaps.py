"""LeNet-5's output codes: the digits as stylized 7x12 bitmaps, one +-1 code of 84 units each.

LeCun et al. (1998, Sec. II-B and Fig. 3, "Initial parameters of the output
RBFs for recognizing the full ASCII set") set each RBF unit's parameter vector
by hand to a 7 (wide) x 12 (tall) bitmap of its character, +1 on the drawn
pixels and -1 elsewhere, so that characters that look alike (O and 0, 1 and l)
get codes that are close and a later linguistic stage can tell them apart. The
digits below are drawn after that figure: strokes two pixels wide in a 7x10 box
under a blank top row, the bottom rows left for descenders. They are data, one
row of the bitmap per string, ``#`` a drawn pixel.
"""

from __future__ import annotations

import torch

WIDTH, HEIGHT = 7, 12

DIGITS: tuple[tuple[str, ...], ...] = (
    (  # 0
        ".......",
        "..###..",
        ".##.##.",
        "##...##",
        "##...##",
        "##...##",
        "##...##",
        "##...##",
        ".##.##.",
        "..###..",
        ".......",
        ".......",
    ),
    (  # 1
        ".......",
        "...##..",
        "..###..",
        ".####..",
        "...##..",
        "...##..",
        "...##..",
        "...##..",
        "...##..",
        ".######",
        ".......",
        ".......",
    ),
    (  # 2
        ".......",
        ".#####.",
        "##...##",
        ".....##",
        "....##.",
        "...##..",
        "..##...",
        ".##....",
        "##.....",
        "#######",
        ".......",
        ".......",
    ),
    (  # 3
        ".......",
        "#######",
        ".....##",
        "....##.",
        "...##..",
        "..####.",
        ".....##",
        ".....##",
        "##...##",
        ".#####.",
        ".......",
        ".......",
    ),
    (  # 4
        ".......",
        "....##.",
        "...###.",
        "..####.",
        ".##.##.",
        "##..##.",
        "#######",
        "....##.",
        "....##.",
        "....##.",
        ".......",
        ".......",
    ),
    (  # 5
        ".......",
        "#######",
        "##.....",
        "##.....",
        "######.",
        ".....##",
        ".....##",
        ".....##",
        "##...##",
        ".#####.",
        ".......",
        ".......",
    ),
    (  # 6
        ".......",
        "...###.",
        "..##...",
        ".##....",
        "##.....",
        "######.",
        "##...##",
        "##...##",
        "##...##",
        ".#####.",
        ".......",
        ".......",
    ),
    (  # 7
        ".......",
        "#######",
        ".....##",
        "....##.",
        "....##.",
        "...##..",
        "...##..",
        "..##...",
        "..##...",
        "..##...",
        ".......",
        ".......",
    ),
    (  # 8
        ".......",
        ".#####.",
        "##...##",
        "##...##",
        ".#####.",
        "##...##",
        "##...##",
        "##...##",
        "##...##",
        ".#####.",
        ".......",
        ".......",
    ),
    (  # 9
        ".......",
        ".#####.",
        "##...##",
        "##...##",
        "##...##",
        ".######",
        ".....##",
        "....##.",
        "...##..",
        ".###...",
        ".......",
        ".......",
    ),
)


def bitmap_codes(classes: int) -> torch.Tensor:
    """The codes of digits ``0 .. classes - 1``: ``[classes, 84]``, row-major bitmaps in +-1."""
    if not 1 <= classes <= len(DIGITS):
        raise ValueError(
            f"the bitmap codes are the digits 0-9, so at most {len(DIGITS)} classes; "
            f"got {classes}: use codes: random"
        )
    rows = ["".join(DIGITS[c]) for c in range(classes)]
    return torch.tensor([[1.0 if p == "#" else -1.0 for p in row] for row in rows])
