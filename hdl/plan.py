"""What the generator builds for a config: the matrices and their place in the lane memories
(the program of passes is hdl/program.py, the state memory map hdl/statemap.py). Pure Python,
shared by the generator, the testbenches and the cycle model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ghostfpga.config import Config, ConfigError
from ghostfpga.devices import DEVICES
from ghostfpga.golden.fixed import FixedParams
from ghostfpga.golden.lanes import LaneMap, may_split
from ghostfpga.golden.numerics import OPERAND_BITS, Formats

from .arith import half
from .stages import (Stages, drive_registers, fetch_registers, issue_registers, lanes_spread,
                     mac_shifts, tree_registers)
from .statemap import StateMap

__all__ = ["MatrixSlot", "Plan", "RATES_PORT_WORDS"]

RATES_PORT_WORDS = 16
"""The deepest ``a`` memory given a second read port for the learning passes' rates
(``Plan.rates_port``): one ECP5 LUT RAM cell deep (TRELLIS_DPR16X4, 16 x 4 bits)."""


@dataclass(frozen=True)
class MatrixSlot:
    """One matrix in the lane memories: rows go to lanes as golden/lanes.py says."""

    name: str            # "W", "B", "V" or "Q"
    index: int           # k
    lane_map: LaneMap
    base: int            # first word in every lane's memory

    @property
    def rows(self) -> int:
        return self.lane_map.rows

    @property
    def cols(self) -> int:
        return self.lane_map.cols

    @property
    def groups(self) -> int:
        return math.ceil(self.rows / self.lane_map.lanes)


class Plan:
    """Memory layout and pass program of the core for ``config``."""

    def __init__(self, config: Config):
        self.config = config
        self.fmt = Formats.from_config(config)
        if config.free_steps:
            raise ConfigError("free_steps", config.free_steps,
                              "must be 0 for the hardware generator (free phase = feedforward)")
        self.lanes = P = config.hardware.lanes
        self.family = DEVICES[config.hardware.device].family
        # the controls every lane reads leave one register per lane where the lanes spread
        # over the device (stages.lane_copies, lanes_spread; docs/hardware.md)
        self.lane_copies = lanes_spread(self.family, P)
        # the core's stage table: its registers between the operand select and the lanes,
        # inside the adder tree, and after the sequencer, on this device
        self.stages = Stages(issue_registers(self.family, P), tree_registers(self.family, P),
                             fetch_registers(self.family, P), drive_registers(self.family, P))
        sizes = config.layers
        self.L = config.n_layers
        shapes = [("W", k, sizes[k + 1], sizes[k] + 1) for k in range(self.L)]
        if config.feedback == "random":
            shapes += [("B", k, sizes[k + 1], sizes[k + 2]) for k in range(self.L - 1)]
        if config.variant == "learned":   # ghost weights V_k (with bias) and Q_k
            shapes += [("V", k, sizes[k + 2], sizes[k + 1] + 1) for k in range(self.L - 1)]
            shapes += [("Q", k, sizes[k + 1], sizes[k + 2]) for k in range(self.L - 1)]
        self.slots: dict[tuple[str, int], MatrixSlot] = {}
        base = 0
        for name, k, rows, cols in shapes:
            lane_map = LaneMap.build(rows, cols, P, may_split(config, name))
            self.slots[(name, k)] = MatrixSlot(name, k, lane_map, base)
            base += lane_map.words
        self.depth = base
        # The first learning pass (over W_0, reading x) follows the last feedback pass, whose
        # write-back still reads its units' drives on a's read port. So the inputs' buffers
        # are in s (hdl/statemap.py), whose port that write-back leaves free, and the learning
        # pass starts right after the feedback pass's walk: not where W_0 takes the columns
        # layout, whose learning reads each lane's own x in the cycles its ETA lane reads an
        # error on s. There, the learning passes may read their presynaptic rates on a second
        # read port of a instead (hdl/state.py ``RATES``): on the ECP5, where a copy of an a
        # of at most 16 words is one column of LUT RAM cells (a deeper one, MNIST's 62
        # words, spreads its copy and read address over four times the cells for 3 cycles
        # in 5143); on the UP5K it would take a block RAM a lane more. (Where x is in s the
        # port buys no cycle on any config measured, and costs LUT RAM, selects and clock:
        # docs/hardware.md, "The inputs in s".)
        w0_split = self.slots[("W", 0)].lane_map.by_columns
        port = config.hardware.rates_port
        self.rates_port = port if isinstance(port, bool) else (
            self.family == "ecp5" and w0_split
            and StateMap(config, P).depths["a"] <= RATES_PORT_WORDS)
        # the output's drives from the accumulators (hdl/events.py ``forwards_drives``):
        # "auto" on the ECP5; on the UP5K its some 60 cells are asked for (the iCEBreaker's)
        forward = config.hardware.forward_drives
        self.forward_drives = forward if isinstance(forward, bool) else self.family == "ecp5"
        inputs = config.hardware.inputs
        if inputs == "s" and w0_split:
            raise ConfigError("hardware.inputs", inputs,
                              "needs W_0 in the rows layout (the learning walk over a split "
                              "W_0 reads x on s in the cycles its ETA lane reads errors there)")
        if inputs == "s" and self.rates_port:
            raise ConfigError("hardware.inputs", inputs,
                              "goes with hardware.rates_port = false or \"auto\" (the port "
                              "reads the learning passes' rates, x among them, on a)")
        self.inputs = inputs if inputs != "auto" else (
            "a" if self.rates_port or w0_split else "s")
        self.smap = StateMap(config, P, self.inputs)

    def lane_sums(self) -> list[tuple[tuple[int, int], int]]:
        """Every kind of sum a lane builds, as (the operand's range, terms summed): rate
        operands (0 .. 1.0 = 2^rate_frac, unsigned) along a row or a chunk of it in forward
        passes; error operands (16-bit signed) over the rows of a split matrix in its
        transposed pass, along the rows of B with random feedback, and one product at a time
        in transposed passes over row groups (the adder tree and the running sum then work
        at the full accumulator width)."""
        rates = (0, self.fmt.rate_one)
        errors = (-(1 << (OPERAND_BITS - 1)), (1 << (OPERAND_BITS - 1)) - 1)
        sums = []
        for slot in self.slots.values():
            lm = slot.lane_map
            if slot.name in ("B", "Q"):   # error-format operands along a row
                sums.append((errors, slot.cols))
                continue
            if slot.name == "V":
                sums.append((rates, slot.cols))
                continue
            sums.append((rates, lm.chunks if lm.by_columns else slot.cols))
            if slot.index > 0 and self.config.feedback == "transpose":
                sums.append((errors, slot.rows if lm.by_columns else 1))
        return sums

    @property
    def running_sum_terms(self) -> int:
        """The most products a transposed pass over a rows-layout W sums through the adder tree
        and the running sum over row groups (one per row of W_k, k > 0); 1 if no pass does."""
        return max((slot.rows for slot in self.slots.values()
                    if slot.name == "W" and slot.index > 0 and not slot.lane_map.by_columns
                    and self.config.feedback == "transpose"), default=1)

    @property
    def running_sum_bits(self) -> int:
        """Width of the running sum over row groups (``fb_acc``, hdl/writeback.py), read only
        by those transposed passes: the fewest bits that hold each of their sums exactly, from
        the weights' and the error operands' ranges (no rounding constant: the feedback is
        rounded after the sum). At the accumulator width (37 bits on 4-30-3, where 33 hold it) its
        carry chain was the UP5K core's critical path."""
        errors = (-(1 << (OPERAND_BITS - 1)), (1 << (OPERAND_BITS - 1)) - 1)
        return min(self.fmt.accumulator_bits, self._sum_bits(errors, self.running_sum_terms))

    def _sum_bits(self, operands: tuple[int, int], n: int, rounding: int = 0) -> int:
        """The fewest bits of a signed sum of ``n`` products of a weight and an operand in the
        range ``operands``, started from ``rounding``."""
        weights = (-(1 << (self.fmt.weight_bits - 1)), (1 << (self.fmt.weight_bits - 1)) - 1)
        products = [w * v for w in weights for v in operands]
        return signed_bits(n * min(products), n * max(products) + rounding)

    @property
    def splits_rows(self) -> bool:
        """Whether any matrix takes the columns layout (split rows, summed by the tree)."""
        return any(s.lane_map.by_columns for s in self.slots.values())

    @property
    def splits_v(self) -> bool:
        """Whether a V takes the columns layout (its learning reads V's error broadcast)."""
        return any(s.name == "V" and s.lane_map.by_columns for s in self.slots.values())

    @property
    def normalizer_lanes(self) -> int:
        """The normalizer's lane inputs (hdl/normalizer.py): P where a V of the normalized
        rule takes the columns layout (its tapping ``GHOST_FWD`` reads a rate in every lane),
        else 0 (one broadcast rate a cycle)."""
        return self.lanes if self.splits_v and self.config.fits_ghosts else 0

    @property
    def lane_rounding(self) -> int:
        """The largest rounding constant a lane's sum starts from (the ``mac_shifts`` of
        hdl/stages.py: forward, feedback, none, a split row's)."""
        return max(half(shift) for lane in range(self.lanes)
                   for shift in mac_shifts(self.fmt, lane, self.splits_rows))

    @property
    def lane_accumulator_bits(self) -> int:
        """Width of the lanes' own accumulators: the fewest bits that hold every sum of
        ``lane_sums`` exactly, from the operands' and the weights' ranges and the rounding
        constant. (A bound of weight + operand + log2(terms) bits gave the digits core's
        65-term rows 33 bits where they need 31; above 32 bits the iCE40's lanes grow by
        some 30 logic cells each and their adder becomes the critical path:
        docs/hardware.md.)"""
        return max(self._sum_bits(operands, n, self.lane_rounding)
                   for operands, n in self.lane_sums())

    def lane_images(self, params: FixedParams) -> list[list[int]]:
        """The initial contents of every lane memory for integer parameters ``params``."""
        images = [[0] * self.depth for _ in range(self.lanes)]
        matrices = params.matrices()
        for (name, k), slot in self.slots.items():
            M = matrices[name][k]
            lm = slot.lane_map
            for j in range(slot.rows):
                for i in range(slot.cols):
                    images[lm.lane[j, i]][slot.base + lm.address[j, i]] = int(M[j, i])
        return images

    def locate(self, name: str, k: int, row: int, col: int) -> tuple[int, int]:
        """(lane, word) of one weight."""
        slot = self.slots[(name, k)]
        return (int(slot.lane_map.lane[row, col]),
                slot.base + int(slot.lane_map.address[row, col]))

    def program(self):
        """The program of one sample (hdl/program.py): typed passes and the cycle model."""
        from .program import Program
        return Program(self)

    def ideal_cycles(self) -> dict[str, float]:
        """Multiply-accumulates per sample divided by the lane count (the cost model). Under
        ``dynamics`` a step computes the drives of layers 1 to L only: layer 0's drive
        W_0 x is the same in every step of a sample (the core computes it once)."""
        sizes = self.config.layers
        S = sum((sizes[k] + 1) * sizes[k + 1] for k in range(self.L))
        S0 = (sizes[0] + 1) * sizes[1]
        F = sum(sizes[k + 1] * sizes[k + 2] for k in range(self.L - 1))
        hold = F if self.config.variant == "replay" else 0
        if self.config.variant == "learned":   # V and Q forward, free feedback, V and Q learning
            V = sum((sizes[k + 1] + 1) * sizes[k + 2] for k in range(self.L - 1))
            Q = sum(sizes[k + 1] * sizes[k + 2] for k in range(self.L - 1))
            ghosts = V + Q
            hold = F + 2 * ghosts
            if self.config.fits_ghosts:   # the fit: V and Q again after learning
                hold += V + (Q if self.config.schedule == "sweep" else 0)
            if self.config.schedule == "dynamics":   # and both ghost passes in every step
                hold += self.config.steps * ghosts
        if self.config.schedule == "dynamics":   # forward + steps x (S - S0 + F) + learning
            train = 2 * S + self.config.steps * (S - S0 + F) + hold
        else:
            train = 2 * S + F + hold
        return {"train": train / self.lanes, "infer": S / self.lanes}


def signed_bits(lo: int, hi: int) -> int:
    """The fewest bits of a signed integer that holds every value in ``lo .. hi``."""
    return 1 + max(hi.bit_length() if hi > 0 else 0, (-lo - 1).bit_length() if lo < 0 else 0)
