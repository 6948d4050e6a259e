"""The stage table of the core's pipeline, and the typed control words that travel down it.

Every pass issues one operation a cycle at the fetch stage F; its results are written back at a
later stage. The cycles a pass must wait after its last fetch before the next pass may read its
results (its drain) is the index of the stage that writes them, so every latency of the core is
read off one table:

    F   the sequencer addresses the state memories and sets the fetch controls
    I   the state words are read; the issue stage selects each lane's operand
    O   operands registered and issued to the lanes (a MAC reads its weight)
    L1  the lane's product
    L2  the lane's sum (accumulator)
    P0  post stage 0: a lane's accumulator is a result (rows layout: drives written here)
    P1  the adder tree's sum registered (host reads; a split row's drive, per-lane feedback)
    P2  the running sum over row groups of a transposed pass
    P3  the transposed pass's feedback narrowed, with its unit's words
    P4  the transposed pass's result (the feedback's error, or what it leaves) registered and
        written: a cut between the feedback's saturating sum with the unit's drive and the
        error's subtraction (on the iCEBreaker's UP5K the two carry chains in one cycle were
        the core's critical path); no drain moves, as the next pass reads the result later

That is the table of a core without pipeline registers of its own; a core's table is its
``Stages`` (``Plan.stages``), which adds them. A wide core on the ECP5 registers what the
sequencer sets in its cycle before anything acts on it (``fetch_registers``: the fetch
controls, the state memories' read addresses and enables, the tags, the element walks' and
the normalizer's controls): the sequencer then runs an edge ahead of the whole table, F
included, so no stage and no drain moves (only the host's reads, through F, take an edge
more, and ``busy`` holds an edge longer for the last write). It also holds a register B
between I and O (``issue_registers``: the operands selected at I, registered at B, issued at
O), so every stage from O on comes an edge later; a wide adder tree holds a pipeline register
(``tree_registers``), so the tree's sum and every stage after it (P1 to P4 of the passes that
read the tree) come an edge later again; the per-lane write-backs at P1 do not move with it.

The element pipeline (one unit a cycle: argmax, settle, Euler steps) is shorter: E0 fetch,
E1 the words are read and the update computed, E2 the write is registered, written at E3.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from amaranth.hdl import Signal
from amaranth.lib import enum

from ghostfpga.devices import KEEP_APART

__all__ = ["PIPELINE", "stage", "DRAIN_ELEMENT", "Src", "Fetch",
           "Round", "bits", "delay", "lane_copies", "settle_write_lag", "LEARN_READ_LAG",
           "Stages", "tree_registers", "issue_registers", "fetch_registers", "drive_registers",
           "lanes_spread"]

PIPELINE = ("F", "I", "O", "L1", "L2", "P0", "P1", "P2", "P3", "P4")
ELEMENT_PIPELINE = ("E0", "E1", "E2", "E3")


def stage(name: str) -> int:
    """Clock edges from the fetch (F) to stage ``name`` of the table without pipeline
    registers (a core's own: ``Stages.at``); an element stage's from its walk's fetch E0."""
    if name in ELEMENT_PIPELINE:
        return ELEMENT_PIPELINE.index(name)
    return PIPELINE.index(name)


DRAIN_ELEMENT = stage("E3")         # the element pipeline
LEARN_READ_LAG = 2                  # a LEARN reads its weight this many cycles after a MAC would


def tree_registers(family: str, terms: int) -> int:
    """Pipeline registers inside the adder tree of ``terms`` lanes on a device ``family``: one
    on the ECP5 for a tree of four levels or more (more than 8 terms), where the five levels of
    32 lanes took 17.0 ns, routing included (the ULX3S MNIST build's critical path, 58.7 MHz);
    none for 8 terms or fewer (three levels, off the critical path of every build)."""
    return 1 if family == "ecp5" and terms > 8 else 0


def lanes_spread(family: str, lanes: int) -> bool:
    """Whether a core's lanes spread over its device: more than 8 lanes on the ECP5, at the
    DSP and block-RAM sites all over it (at 8 they sit together; the UP5K has no cells to
    spare). Such a core copies its shared controls once per lane (``Plan.lane_copies``; and
    the result's label, hdl/element.py ``Elements._offer``), and holds the issue register B
    (``issue_registers``) and the fetch register (``fetch_registers``)."""
    return family == "ecp5" and lanes > 8


def issue_registers(family: str, lanes: int) -> int:
    """Registers between the issue stage's operand select (I) and the lanes' operand registers
    (O), stage B: one where the lanes spread over the device (``lanes_spread``), where the
    pick of one lane's ``a`` word of 32 across the device, its rate and the route back to
    every lane's operand register took 16.4 ns (the ULX3S digits build's critical path, 60.8
    MHz); none elsewhere (B costs a drain cycle where a pass reads the results of the one
    before)."""
    return int(lanes_spread(family, lanes))


def fetch_registers(family: str, lanes: int) -> int:
    """Registers between the sequencer and everything it controls (the fetch controls, the
    state memories' read addresses and enables, the tags, the element walks' and the
    normalizer's controls): one where the lanes spread over the device (``lanes_spread``),
    where the sequencer's counters and state decode, through a read port's arbitration, and
    the address's route to 32 banks across the device took 13.4 ns (the ULX3S digits
    build's critical path at 75 MHz; MNIST's into the ``a`` memories, 15.5 ns); none
    elsewhere. The whole pipeline moves with it, so it costs no cycle a sample."""
    return int(lanes_spread(family, lanes))


def drive_registers(family: str, lanes: int) -> int:
    """Registers between each lane's accumulator, narrowed into a row's drive (rows layout),
    and its write into the lane's state bank: one where the lanes spread over the device
    (``lanes_spread``), where the accumulator's saturation test, the ``a`` write port's
    select and the route to a bank the placer put elsewhere took 12.9 ns (ULX3S digits and
    MNIST builds' critical paths at 75 MHz); none elsewhere. The drive is written an edge
    later, so a pass that reads it may wait a cycle more (the schedule's events)."""
    return int(lanes_spread(family, lanes))


@dataclass(frozen=True)
class Stages:
    """The stage table of one core (``Plan.stages``): ``PIPELINE`` with ``issue`` registers
    (stage B, ``issue_registers``) between I and O, so every stage from O on comes ``issue``
    edges later, and ``tree`` pipeline registers inside the adder tree (``tree_registers``),
    so the tree's sum and the stages of the passes that read it (P1 to P4 of a transposed
    pass, a split row's drive, a host read) come ``tree`` edges later again; the per-lane
    write-backs at P1 do not move with the tree. Reads at F and the selects at I never move.
    The element pipeline (E0 to E3) is its own. ``fetch`` registers (``fetch_registers``)
    between the sequencer and the table: the sequencer runs that many edges ahead of F, so
    only what the host sees through F (its reads) and ``busy`` (held for the last write)
    move with them. ``drive`` registers (``drive_registers``) between the lanes' narrowed
    accumulators and the write of a row's drive (rows layout): that write comes ``drive``
    edges after P0 (``drive_write``)."""
    issue: int = 0
    tree: int = 0
    fetch: int = 0
    drive: int = 0

    def at(self, name: str) -> int:
        """Clock edges from the fetch (F) to stage ``name`` of this core."""
        edges = stage(name)
        if name in PIPELINE and edges >= stage("O"):
            edges += self.issue
        return edges

    @property
    def post(self) -> int:
        """F to the first post stage (P0): the lanes' accumulators are results."""
        return self.at("P0")

    @property
    def drain(self) -> int:
        """F to P0, the earliest write-back (the settling's least drain)."""
        return self.at("P0")

    @property
    def drive_write(self) -> int:
        """F to a row's drive written (rows layout): P0, or later by the ``drive``
        registers (the drain of a forward pass in the rows layout)."""
        return self.at("P0") + self.drive

    @property
    def drain_lanes(self) -> int:
        """The drain of a pass written at P1 (per-lane feedback)."""
        return self.at("P1")

    @property
    def acc_write(self) -> int:
        """F to a lane operation's sum registered in the accumulator (L2)."""
        return self.at("L2")

    @property
    def learn_write(self) -> int:
        """A LEARN's fetch to its weight's write (lane stage 4)."""
        return self.at("O") + 4

    @property
    def sum(self) -> int:
        """F to the tree's registered sum: a split row's drive is written here (its drain)."""
        return self.at("P1") + self.tree

    @property
    def running(self) -> int:
        """F to the running sum of a transposed pass."""
        return self.at("P2") + self.tree

    @property
    def feedback(self) -> int:
        """F to a transposed pass's narrowed feedback, with its unit's words registered."""
        return self.at("P3") + self.tree

    @property
    def result(self) -> int:
        """F to a transposed pass's result write (its drain)."""
        return self.at("P4") + self.tree

    @property
    def host_read_latency(self) -> int:
        """Clock edges from host_addr / host_lane to host_rdata (the tree's sum): the host's
        address is the sequencer's fetch in ``idle``."""
        return self.fetch + self.sum


class Src(enum.IntEnum, shape=4):
    """The operand source the issue stage selects (broadcast or each lane's own word)."""
    NONE = 0
    RATE = 1        # rate(a): a layer's (or the input's) rate
    RHO_A = 2       # rho(a): the free rate (replay's and learned ghosts' feedback sources)
    S = 3           # s: the feedback source after the nudged phase
    ERR = 4         # the error of a unit (learning)
    HOST = 5        # 1 in the host-addressed lane, else 0 (host reads)
    RHO_G = 6       # rho(g): learned ghosts' rates (Q's passes)
    RATE_G = 7      # rate(g): the ghosts' rates for Q's learning
    ERR_V = 8       # V's error
    ERR_Q = 9       # Q's error
    RHO_GS = 10     # rho(gs): the ghost state's rate (dynamics)
    RATE_FA = 11    # rate(fa): the free rates kept for V's learning (dynamics)
    PRE_RATE = 12   # rate(a) read on a's rates port: learning's presynaptic rate (state.RATES)
    INPUT = 13      # rate(x) where the inputs are in s (Plan.inputs): the s word


class Round(enum.IntEnum, shape=2):
    """The rounding constant a MAC pass starts its accumulators with (the lane's mac_shifts)."""
    FWD = 0         # a drive: weight_frac + rate_frac - error_frac bits
    FEEDBACK = 1    # a feedback: weight_frac bits
    NONE = 2        # no constant (transposed passes, host reads: rounded after the tree)
    ROW = 3         # split rows: lane 0 starts from the forward constant, the others from 0,
                    # so the tree's row sum is the rounded drive (hdl/writeback.py tree_drive)


class Fetch:
    """The fetch stage's controls for P lanes and L layers, set by the sequencer
    combinationally (all 0 unless a pass sets them)."""

    def __init__(self, P: int, L: int, addr_shape):
        self.op = [Signal(2, name=f"f_op{p}") for p in range(P)]
        self.src = Signal(Src.as_shape(), name="f_src")
        self.bcast = Signal(name="f_bcast")           # operand from lane bsel's bank, not own
        self.bsel = Signal(bits(P), name="f_bsel")
        self.bias = Signal(name="f_bias")             # the operand is the bias input 1.0
        self.own_bias = Signal(name="f_own_bias")     # lane bias_lane's own operand is 1.0
        self.bias_lane = Signal(bits(P), name="f_bias_lane")
        self.first = Signal(name="f_first")
        self.round = Signal(Round.as_shape(), name="f_round")
        self.learn = Signal(name="f_learn")           # a learning pass
        self.update = Signal(name="f_update")         # LEARN issued (the LFSR steps)
        self.addr = Signal(addr_shape, name="f_addr")
        self.eta = Signal(bits(L + 1), name="f_eta")  # learning rate: layer k, or L (ghosts)
        self.eta_sel = Signal(2, name="f_eta_sel")    # its format (normalized fits)
        self.norm = Signal(name="f_norm")             # the broadcast rate feeds the normalizer
        self.norm_own = Signal(P, name="f_norm_own")  # these lanes' own rates feed it too
        # learning ahead (hdl/passes/learn.py ``eta_ahead``): lane P - 1's ETA, of the s word
        # of lane bsel, loads its eta_out; every lane takes that scaled error (with its op)
        self.eta_ahead = Signal(name="f_eta_ahead")
        self.take = Signal(name="f_take")

    def sequencer_side(self, b) -> "Fetch":
        """These controls as the sequencer sets them: themselves, or, with the fetch
        register, signals registered into them (``Build.ahead``)."""
        if not b.plan.stages.fetch:
            return self
        side = copy.copy(self)
        for key, value in vars(self).items():
            setattr(side, key, [b.ahead(v) for v in value] if isinstance(value, list)
                    else b.ahead(value))
        return side


def mac_shifts(fmt, lane: int, split: bool) -> tuple[int, ...]:
    """The right shift whose rounding constant (``half``) lane ``lane`` starts a MAC pass's
    sum from, for each ``Round`` by its value: a lane's own drive and feedback are rounded
    in its accumulator; a split row's sum over the lanes holds lane 0's constant alone, so
    the tree's sum needs only its low bits dropped (no carry chain between the tree's
    register and the drive's write). ``split``: the core has split rows (else no ``ROW``)."""
    fwd = fmt.forward_shift
    return (fwd, fmt.feedback_shift, 0) + ((fwd if lane == 0 else 0,) if split else ())


def settle_write_lag(iterations: int) -> int:
    """Cycles from a unit's fetch (E0) to the write of its settled source: the a word read
    at E1 and registered, one stage per iteration after the first, the result registered
    (hdl/element.py ``settle_pipeline``)."""
    return stage("E1") + 1 + (iterations - 1) + 1


def bits(n: int) -> int:
    """Width of an index in range(n): at least 1 bit."""
    return max(1, (max(n, 1) - 1).bit_length())


def delay(m, value, stages: int, name: str, reset_less: bool = False):
    """``value`` after ``stages`` clock cycles (a chain of registers named ``name_d<i>``, each
    like ``value``); ``reset_less``: registers the core's reset does not reach (data whose
    controls it resets: a reset's net reaches every register it resets across the device)."""
    for i in range(stages):
        reg = Signal.like(value, name=f"{name}_d{i + 1}",
                          **({"reset_less": True} if reset_less else {}))
        m.d.sync += reg.eq(value)
        value = reg
    return value


def lane_copies(m, value, stages: int, name: str, lanes: int, apart: bool,
                data: bool = False) -> list:
    """``value`` after ``stages`` clock cycles (``stages`` >= 1) for each of ``lanes`` lanes.
    ``apart`` (``Plan.lane_copies``): the chain's registers shared, its last one copied once
    per lane (``name_lane<p>``), each copy marked ``KEEP_APART`` so synthesis keeps it
    (ghostfpga/devices.py): a control that every lane reads then leaves one flip-flop per
    lane, placed beside its lane, not one whose net crosses the device (docs/hardware.md).
    Otherwise one chain, as ``delay``, for every lane. Each copy holds the same value in
    every cycle: no latency changes. ``data``: the copies carry no reset (a word read only
    beside a strobe that has one), so the reset does not reach 32 registers across the
    device."""
    if not apart:
        return [delay(m, value, stages, name)] * lanes
    value = delay(m, value, stages - 1, name)
    copies = []
    for p in range(lanes):
        reg = Signal.like(value, name=f"{name}_lane{p}", attrs={KEEP_APART: 1},
                          reset_less=data)
        m.d.sync += reg.eq(value)
        copies.append(reg)
    return copies
