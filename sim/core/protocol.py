"""Packing of the core's stream payloads, shared by every testbench and the host driver, and
what a run of the RTL returns (the golden model's answer is ``FixedModel.step``). The layouts
are the core's own amaranth.lib.data layouts: fields and array elements in order from the least significant bit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ghostfpga.config import Config
from ghostfpga.hdl.core import result_layout, sample_layout

__all__ = ["Protocol", "Sample", "RtlRun", "predicted_sample_cycles"]


@dataclass(frozen=True)
class Sample:
    x: np.ndarray      # quantized inputs (rate format)
    label: int
    train: bool


@dataclass
class RtlRun:
    """What a simulator returns for a sample stream (every simulator's runner)."""
    results: list[int]
    cycles: int
    samples: int
    sample_cycles: list[int]   # busy cycles of each sample (predicted_sample_cycles)
    weights: list[list[int]]
    seconds: float
    collisions: list[str] = field(default_factory=list)   # strict block-RAM reports


class Protocol:
    """Packs and unpacks the core's payloads with the core's own layouts (hdl/core.py)."""

    def __init__(self, config: Config):
        self.config = config
        self.sample = sample_layout(config)
        self.result = result_layout(config)

    def pack_sample(self, s: Sample) -> list[int]:
        """The sample's beats (hdl/intake.py): inputs ``w * P`` .. ``w * P + P - 1`` in
        beat w, the label and the train flag in every beat."""
        x = self.sample["x"]
        bits, per_beat = x.shape.elem_shape.width, x.shape.length
        tail = (int(s.label) << self.sample["label"].offset
                | int(bool(s.train)) << self.sample["train"].offset)
        beats = []
        for first in range(0, len(s.x), per_beat):
            word = tail
            for p, v in enumerate(s.x[first:first + per_beat]):
                v = int(v)
                if not 0 <= v < 1 << bits:
                    raise ValueError(f"input {first + p} = {v} does not fit {bits} bits")
                word |= v << (x.offset + p * bits)
            beats.append(word)
        return beats

    def unpack_result(self, word: int) -> tuple[int, list[int]]:
        label, outputs = self.result["label"], self.result["outputs"]
        bits = outputs.shape.elem_shape.width
        mask = (1 << bits) - 1
        return ((word >> label.offset) & ((1 << label.shape.width) - 1),
                [(word >> (outputs.offset + j * bits)) & mask
                 for j in range(outputs.shape.length)])

    def pack_eta(self, etas: list[int]) -> int:
        bits = self.config.numerics.eta_bits
        word = 0
        for k, e in enumerate(etas):
            word |= int(e) << (k * bits)
        return word


def predicted_sample_cycles(config: Config, samples: list[Sample],
                            etas: list | None = None) -> list[int]:
    """The ``sample_cycles`` every runner reports for ``samples`` (learning rates ``etas``, one
    per sample; None: unchanged), from the cycle model (hdl/program.py). A sample's span ends
    with the busy cycle that counts it (``samples``). The runners stream the next sample as
    soon as they have the result, so it is in when a training sample ends
    (``Program.cycles(chained=True)``), unless its rates differ: new rates wait until the
    core is idle (sim/core/driver.py)."""
    from ghostfpga.hdl import Plan

    program = Plan(config).program()
    last = len(samples) - 1
    return [program.cycles(s.train, chained=n < last and (etas is None
                                                          or etas[n + 1] == etas[n]))
            for n, s in enumerate(samples)]
