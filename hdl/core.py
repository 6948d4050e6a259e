"""The learning core: P MAC lanes, lane-banked neuron state, and the sequencer of one sample.

Ports (amaranth.lib.wiring):

- ``sample`` (stream in): a sample as ``ceil(n_0 / P)`` beats of ``x`` (one input rate,
  ``rate_frac + 1`` bits, per lane: beat w holds x_{wP} .. x_{wP+P-1}), with ``label`` and
  ``train`` (taken from the last beat). Beats go straight into the state memories while the
  core works on the previous sample (hdl/intake.py), so a sample streamed during the
  previous one's learning starts without a load.
- ``result`` (stream out): ``label`` (argmax of the output drive of the free phase; the lowest
  index wins a tie) and ``outputs`` (output rates). Sent for every sample, before learning.
- host weight port (while ``busy`` is low): ``host_lane``, ``host_addr``, ``host_write``,
  ``host_wdata`` (on wide ECP5 cores a write lands in its lane a cycle later, from the
  lane's own registers: hdl/hostport.py); ``host_rdata`` holds the addressed word
  ``host_read_latency`` cycles later
  (reads go through the lanes and the adder tree; one address a cycle; 6, 7 with the tree's
  pipeline register, 9 with the issue's and the fetch register too: ``Plan.stages``).
- ``eta`` (in): per-layer learning-rate multipliers lr_l / beta, read during learning, which
  goes on after the sample's result has left: the host changes them only while ``busy`` is low
  (the system top's executor and sim/core/driver.py wait for it), and they apply from the next sample
  on (a decay schedule, the ghosts' warm-up at zero rates).
- ``busy``, ``cycles`` (the sequencer's busy cycles; with the fetch register ``busy`` holds
  one more, for the pipeline's last write) and ``samples`` (samples finished).

Pipeline (hdl/stages.py): [the sequencer's outputs registered, on wide ECP5 cores: the
sequencer a cycle ahead] -> F (the state memories addressed) -> I (operands
selected) -> [B (the selection registered, on wide ECP5 cores)] -> O (operands registered,
issued to the lanes) -> lane stages L1, L2 -> post stages P0 to P4 (results written back to
the state memories); the core's own table is ``Plan.stages``. A pass whose results the next pass
reads is followed by a drain. The program of passes is hdl/program.py; its cycle model
``Program.cycles`` is exact.

The core is the wiring of its parts, each built by one module (docs/hardware.md, "Where is
X"):

- ``MacLane`` x P (hdl/lane.py): weight memory, multiplier, the one adder; the learning update;
- ``HostWrites`` (hdl/hostport.py): the host's weight writes as each lane takes them;
- ``StateBank`` x P and ``StateMemories`` (hdl/state.py): the state memories and the owner of
  their shared read and write ports, memory map in hdl/statemap.py;
- ``Fetch`` (hdl/stages.py), ``Issue`` (hdl/operands.py): the fetch controls, stages I and O,
  the ``Lfsr``;
- ``WriteBack`` (hdl/writeback.py): the tags, the ``AdderTree``, the post stages;
- ``Counters`` and ``Sequencer`` (hdl/sequencer.py): the FSM over the program, whose pass
  states (fetch walk and write-back side by side) are built by hdl/passes/;
- ``Elements`` (hdl/element.py): the element pipeline (argmax, settle, Euler steps);
- ``SampleIntake`` (hdl/intake.py): the sample's beats into the spare input buffer.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel, FixedParams
from ghostfpga.golden.numerics import OPERAND_BITS, STEP_BITS

from .context import Build
from .element import Elements
from .hostport import HostWrites
from .intake import SampleIntake
from .lane import MacLane
from .memory import weight_ram_banks, weight_ram_bits, weight_read_registered
from .operands import Issue, eta_formats
from .plan import Plan
from .program import Program
from .sequencer import Counters, Sequencer
from .stages import Fetch, bits, mac_shifts
from .state import StateBank, StateMemories
from .writeback import WriteBack

__all__ = ["GhostCore", "sample_layout", "result_layout"]

_bits = bits   # (the board executor's name for it)


def sample_layout(config: Config) -> data.StructLayout:
    """One beat of the sample stream: an input per lane (hdl/intake.py)."""
    n = config.numerics
    per_beat = min(config.hardware.lanes, config.layers[0])
    return data.StructLayout({
        "x": data.ArrayLayout(unsigned(n.rate_frac + 1), per_beat),
        "label": unsigned(bits(config.layers[-1])),
        "train": unsigned(1),
    })


def result_layout(config: Config) -> data.StructLayout:
    n = config.numerics
    return data.StructLayout({
        "label": unsigned(bits(config.layers[-1])),
        "outputs": data.ArrayLayout(unsigned(n.rate_frac + 1), config.layers[-1]),
    })


class GhostCore(wiring.Component):
    """The core for ``config``; weights start as the config's quantized initialization (or
    ``params``) and can be loaded or read back through the host port."""

    def __init__(self, config: Config, params: FixedParams | None = None):
        self.config = config
        self.plan = plan = Plan(config)
        self.fmt = plan.fmt
        self.params = params if params is not None else FixedModel(config).params
        super().__init__({
            "sample": In(stream.Signature(sample_layout(config))),
            "result": Out(stream.Signature(result_layout(config))),
            "host_lane": In(bits(plan.lanes)),
            "host_addr": In(bits(plan.depth)),
            "host_write": In(1),
            "host_wdata": In(signed(self.fmt.weight_bits)),
            "host_rdata": Out(signed(self.fmt.weight_bits)),
            "eta": In(data.ArrayLayout(unsigned(self.fmt.eta_bits), config.n_layers)),
            "busy": Out(1),
            "cycles": Out(32),
            "samples": Out(32),
        })
        # for checks (nothing in the design reads them: synthesis drops them): a beat is
        # written into the state memories; a whole sample waits to start (hdl/intake.py)
        self.beat_written = Signal()
        self.sample_waits = Signal()

    def elaborate(self, platform):
        m = Module()
        plan, fmt = self.plan, self.fmt
        smap = plan.smap
        b = Build(m, self, plan, Program(plan), smap, max(fmt.potential_bits, OPERAND_BITS))
        images = plan.lane_images(self.params)
        family = plan.family
        ram_bits = weight_ram_bits(family, fmt.weight_bits)
        bank_words = weight_ram_banks(family, plan.depth)[0]
        lanes, banks = [], []
        b.host = HostWrites(m, self, plan.lanes, plan.lane_copies)
        etas = {"eta_bits": max(fmt.eta_bits, STEP_BITS),
                "eta_shifts": tuple(eta_formats(b))} if b.normalized else {}
        ahead = b.eta_ahead   # lane P - 1 computes split rows' scaled errors ahead
        for p in range(plan.lanes):
            lane = MacLane(fmt, plan.depth, images[p], plan.lane_accumulator_bits,
                           mac_shifts=mac_shifts(fmt, p, plan.splits_rows), ram_bits=ram_bits,
                           bank_words=bank_words, takes_error=ahead,
                           eta_ahead=ahead and p == plan.lanes - 1,
                           registered_read=weight_read_registered(family), **etas)
            bank = StateBank(smap.depths, b.width, plan.rates_port, plan.family == "ice40")
            m.submodules[f"lane{p}"] = lane
            m.submodules[f"state{p}"] = bank
            lanes.append(lane)
            banks.append(bank)
            m.d.comb += [lane.host_write.eq(b.host.write[p]), lane.host_wdata.eq(b.host.wdata[p])]
        self.lanes, self.banks = lanes, banks   # for simulation checks
        b.state = StateMemories(m, banks, b.width, ahead=bool(plan.stages.fetch))
        b.fetched = Fetch(plan.lanes, plan.L, lanes[0].addr.shape())
        b.fetch = b.fetched.sequencer_side(b)   # (registered into ``fetched``, or itself)
        b.issue = Issue(b)
        b.issue.connect(lanes)
        b.writeback = WriteBack(b, lanes)
        b.writeback.connect_tree()
        b.count = Counters(b)
        b.element = Elements(b)
        b.intake = SampleIntake(b)
        m.d.comb += [self.beat_written.eq(b.intake.written),
                     self.sample_waits.eq(b.intake.loaded)]
        b.sequencer = Sequencer(b)
        b.sequencer.emit()
        self._arbiters = [*b.state.arbiters(), b.issue.a_select]
        # for checks: the sequencer's own busy (``busy`` itself, or, with the fetch register,
        # the state decode that ``busy``'s registers follow: hdl/sequencer.py)
        self.sequencer_busy = b.count.busy
        return m

    @property
    def arbiters(self):
        """The elaborated core's arbiters (hdl/arbiter.py; their ``conflict`` flags are
        checked in simulation)."""
        if not hasattr(self, "_arbiters"):
            raise RuntimeError("elaborate the core first")
        return self._arbiters

    def arbitration(self) -> dict[str, list[tuple[str, int, str]]]:
        """Every shared resource of the elaborated core and its requesters, lowest priority
        first (hdl/arbiter.py): {resource: [(tier, order, requester)]}."""
        if not hasattr(self, "_arbiters"):
            raise RuntimeError("elaborate the core first")
        table = {}
        for arbiter in self._arbiters:
            rows = []
            for row in arbiter.table():
                if row not in rows:
                    rows.append(row)
            table[arbiter.name] = rows
        return table
