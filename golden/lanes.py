"""How a matrix is spread over P multiply-accumulate lanes (shared by golden/ and hdl/).

Two layouts; a weight matrix takes the one whose passes take fewer cycles (``Plan`` and the
golden model both call ``LaneMap.build``):

- **rows**: row ``g * P + p`` lives in lane ``p``, row group ``g`` at words ``g * cols ..``.
  A pass walks the columns of each row group: ``ceil(rows / P) * cols`` cycles. Every lane
  accumulates its own row; a transposed pass sums the lanes in an adder tree.
- **columns** (narrow matrices, when rows run out before lanes do): every row is split over all
  lanes, column ``i`` in lane ``i mod P``, row ``r`` at words ``r * chunks + i // P`` with
  ``chunks = ceil(cols / P)``. A pass walks the chunks of each row: ``rows * chunks`` cycles,
  and the adder tree sums the lanes' partial sums of a row; a transposed pass accumulates each
  column in its own lane.

A lane walks its words in address order, one per cycle, so ``address`` is also the cycle of a
pass at which the lane touches that weight (the LFSR step of its update, numerics.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LaneMap", "may_split"]


def may_split(config, name: str) -> bool:
    """Whether matrix ``name`` ("W", "B", "V", "Q") of ``config`` may take the columns layout
    (``hardware.split_rows``): W, and V of learned ghosts under ``sweep``, whose learning
    reads V's error from broadcast words (the normalized rule's tapping ``GHOST_FWD`` then
    feeds the normalizer every lane's own rate: hdl/normalizer.py). V under ``dynamics``
    keeps one lane per row (its error is a saved word no broadcast reads). The one rule
    ``Plan`` and the golden model share: a layout decides which LFSR word each weight's
    update rounds with."""
    if not config.hardware.split_rows:
        return False
    return name == "W" or (name == "V" and config.variant == "learned"
                           and config.schedule == "sweep")


@dataclass(frozen=True)
class LaneMap:
    rows: int
    cols: int
    lanes: int
    by_columns: bool      # the columns layout (else rows)
    lane: np.ndarray      # lane of weight (j, i)
    address: np.ndarray   # word of that lane's memory region (= cycle within a pass)
    words: int            # words per lane (= cycles of one pass over the matrix)

    @property
    def groups(self) -> int:
        """Row groups (rows layout)."""
        return math.ceil(self.rows / self.lanes)

    @property
    def chunks(self) -> int:
        """Column chunks per row (columns layout)."""
        return math.ceil(self.cols / self.lanes)

    @classmethod
    def build(cls, rows: int, cols: int, lanes: int, split: bool = True) -> "LaneMap":
        """The layout of a ``rows x cols`` matrix; ``split`` allows the columns layout, taken
        when it needs fewer words (cycles) than the rows layout."""
        if rows < 1 or cols < 1 or lanes < 1:
            raise ValueError(f"matrix {rows}x{cols} on {lanes} lanes")
        j, i = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        by_rows = math.ceil(rows / lanes) * cols
        by_columns = rows * math.ceil(cols / lanes)
        if split and by_columns < by_rows:
            chunks = math.ceil(cols / lanes)
            return cls(rows, cols, lanes, True, i % lanes, j * chunks + i // lanes, by_columns)
        return cls(rows, cols, lanes, False, j % lanes, (j // lanes) * cols + i, by_rows)
