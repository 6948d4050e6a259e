"""How a matrix is spread over P multiply-accumulate lanes (shared by golden/ and hdl/).

Rows go to lanes in groups of P: row ``g * P + p`` lives in lane ``p``. When rows run out (the
last group has ``m < P`` rows), lanes split rows: each of the ``m`` rows gets ``s = P // m``
lanes (at most one per column), lane ``r * s + k`` holding columns ``[k * seg, (k + 1) * seg)``
of row ``r`` with ``seg = ceil(cols / s)``. A lane walks its words in address order, one per
cycle, so ``address`` is also the cycle of a pass at which the lane touches that weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LaneMap", "MAX_SEGMENTS"]

MAX_SEGMENTS = 1
"""Most lanes one split row may use. The current core keeps one lane per row (1); the mapping
below handles any value, and golden/ and hdl/ both read this constant."""


@dataclass(frozen=True)
class LaneMap:
    rows: int
    cols: int
    lanes: int
    lane: np.ndarray      # lane of weight (j, i)
    address: np.ndarray   # word of that lane's memory region (= cycle within a pass)
    words: int            # words per lane (= cycles of one pass over the matrix)
    full_groups: int      # groups of P whole rows
    split_rows: int       # rows of the last, split group (0 if none)
    segments: int         # lanes per split row
    segment_length: int   # columns per segment

    @classmethod
    def build(cls, rows: int, cols: int, lanes: int,
              max_segments: int = MAX_SEGMENTS) -> "LaneMap":
        if rows < 1 or cols < 1 or lanes < 1:
            raise ValueError(f"matrix {rows}x{cols} on {lanes} lanes")
        lane = np.empty((rows, cols), dtype=np.int64)
        address = np.empty((rows, cols), dtype=np.int64)
        groups, m = divmod(rows, lanes)
        cols_idx = np.arange(cols)
        for g in range(groups):
            lane[g * lanes:(g + 1) * lanes, :] = np.arange(lanes)[:, None]
            address[g * lanes:(g + 1) * lanes, :] = g * cols + cols_idx[None, :]
        segments, seg = 0, 0
        if m:
            segments = max(1, min(lanes // m, cols, max_segments))
            seg = math.ceil(cols / segments)
            segments = math.ceil(cols / seg)  # no empty segment
            for r in range(m):
                k = cols_idx // seg
                lane[groups * lanes + r, :] = r * segments + k
                address[groups * lanes + r, :] = groups * cols + cols_idx - k * seg
        words = groups * cols + seg
        return cls(rows, cols, lanes, lane, address, words, groups, m, segments, seg)

    def updates_per_lane(self) -> np.ndarray:
        """How many weights each lane holds (= LFSR steps it takes in one learning pass)."""
        return np.bincount(self.lane.ravel(), minlength=self.lanes)
