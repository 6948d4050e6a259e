"""Packing of the core's stream payloads and weight addresses, shared by every testbench and the
host driver. Layouts are amaranth.lib.data struct layouts: fields and array elements in
declaration order from the least significant bit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel, FixedParams
from ghostfpga.golden.network import one_hot

__all__ = ["Protocol", "Sample"]


def _bits(n: int) -> int:
    return max(1, (max(n, 1) - 1).bit_length())


@dataclass(frozen=True)
class Sample:
    x: np.ndarray      # quantized inputs (rate format)
    label: int
    train: bool


class Protocol:
    def __init__(self, config: Config):
        self.config = config
        self.rate_bits = config.numerics.rate_frac + 1
        self.label_bits = _bits(config.layers[-1])
        self.n_in, self.n_out = config.layers[0], config.layers[-1]

    def pack_sample(self, s: Sample) -> int:
        word = 0
        for i, v in enumerate(s.x):
            v = int(v)
            if not 0 <= v < 1 << self.rate_bits:
                raise ValueError(f"input {i} = {v} does not fit {self.rate_bits} bits")
            word |= v << (i * self.rate_bits)
        offset = self.n_in * self.rate_bits
        word |= int(s.label) << offset
        word |= int(bool(s.train)) << (offset + self.label_bits)
        return word

    def unpack_result(self, word: int) -> tuple[int, list[int]]:
        label = word & ((1 << self.label_bits) - 1)
        mask = (1 << self.rate_bits) - 1
        outputs = [(word >> (self.label_bits + j * self.rate_bits)) & mask
                   for j in range(self.n_out)]
        return label, outputs

    def pack_eta(self, etas: list[int]) -> int:
        bits = self.config.numerics.eta_bits
        word = 0
        for k, e in enumerate(etas):
            word |= int(e) << (k * bits)
        return word


def golden_step(model: FixedModel, sample: Sample, etas: list[int]) -> tuple[int, list[int]]:
    """What the core answers for ``sample`` (and, for training, how the golden model learns)."""
    a, r = model.feedforward(sample.x)
    label = int(np.argmax(a[-1]))
    outputs = [int(v) for v in r[-1]]
    if sample.train:
        y = model.quantize_target(one_hot(np.array([sample.label]), model.config.n_classes,
                                          model.config.target_margin)[0])
        model.train_sample_fixed(sample.x, y, etas)
    return label, outputs
