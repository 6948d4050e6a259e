"""The system top: UART pins in, UART pins out, and the learning core between them.

    rx -> UARTReceiver -> FrameReceiver -> Executor -> FrameSender -> UARTTransmitter -> tx
                                              |  ^
                                   GhostCore, CounterBank, SampleStore

Board-independent: its ports are the UART pins and three status outputs for LEDs; a board top
(boards/bitstream/top.py) adds the clock, the reset and the pins. Simulations drive ``rx`` and read
``tx`` directly.
"""

from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.config import Config
from ghostfpga.hdl import GhostCore, Plan

from .counters import CounterBank
from .executor import Executor
from .framing import FrameReceiver, FrameSender
from ..protocol import Identity, LinkLayout, Reject
from .store import SampleStore, read_latency
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["SystemTop"]


class SystemTop(wiring.Component):
    """The host link around ``GhostCore(config)``, with the on-board training set when
    ``link.store_samples`` (built as ``store``: boards/gateware/store.py). ``divisor`` (clocks per UART
    bit) defaults to the config's clock / baud; simulations may lower it."""

    rx: In(1, init=1)
    tx: Out(1, init=1)
    # status for a board's LEDs: the core is busy, it is learning (a TRAIN sample), and a
    # one-cycle pulse for every refused frame (framer, UART or executor; not a retry)
    busy: Out(1)
    learning: Out(1)
    link_error: Out(1)

    def __init__(self, config: Config, divisor: int | None = None, store: str = "memory"):
        self.config = config
        self.store_kind = store   # how the on-board training set is built (boards/gateware/store.py)
        self.divisor = config.link.divisor if divisor is None else divisor
        self.layout = LinkLayout(config)
        self.plan = Plan(config)
        self.identity = Identity.of(config, self.plan.depth)
        self.parts: dict = {}
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        lay = self.layout
        m.submodules.uart_rx = uart_rx = UARTReceiver(self.divisor)
        m.submodules.uart_tx = uart_tx = UARTTransmitter(self.divisor)
        m.submodules.framer = framer = FrameReceiver(lay.frames, lay.slot_bytes)
        ecp5 = self.plan.family == "ecp5"
        m.submodules.sender = sender = FrameSender(lay.frames, lay.slot_bytes,
                                                   registered_read=ecp5, registered_write=ecp5)
        m.submodules.counters = bank = CounterBank(self.identity.pack())
        m.submodules.executor = ex = Executor(self.config, bank.identity_base,
                                              len(bank.identity_words))
        core = GhostCore(self.config)
        # the core's reset from a flip-flop: the executor's decode reaches every synchronous
        # reset of the core through a register (a cut of the critical path; the reset lands
        # one cycle later, while the executor finishes the command)
        core_reset = Signal(name="core_reset")
        m.d.sync += core_reset.eq(ex.core_reset)
        m.submodules.core = ResetInserter(core_reset)(core)
        self.core = core   # for simulation checks
        self.parts = {"framer": framer, "sender": sender, "counters": bank}   # (likewise)

        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                     self.busy.eq(core.busy),
                     self.learning.eq(core.busy & ex.sample.payload.train),
                     self.link_error.eq((bank.events & ~(1 << Reject.RETRIED)) != 0)]
        wiring.connect(m, uart_rx.o, framer.i)
        wiring.connect(m, sender.o, uart_tx.i)
        m.d.comb += [
            ex.available.eq(framer.available), ex.tail.eq(framer.tail),
            ex.length.eq(framer.length), framer.raddr.eq(ex.raddr), ex.rdata.eq(framer.rdata),
            framer.release.eq(ex.release),
            sender.waddr.eq(ex.waddr), sender.wdata.eq(ex.wdata), sender.we.eq(ex.we),
            sender.push.eq(ex.push), sender.push_slot.eq(ex.push_slot),
            ex.queued.eq(sender.queued),
            bank.events.eq(ex.events | (framer.reject << framer.cause)
                           | (uart_rx.stop_error << Reject.STOP_BIT)),
            ex.bank_idle.eq(bank.idle), bank.clear.eq(ex.bank_clear),
            bank.raddr.eq(ex.bank_raddr), ex.bank_rdata.eq(bank.rdata),
            # the core
            core.sample.payload.eq(ex.sample.payload), core.sample.valid.eq(ex.sample.valid),
            ex.sample.ready.eq(core.sample.ready),
            ex.result.payload.eq(core.result.payload), ex.result.valid.eq(core.result.valid),
            core.result.ready.eq(ex.result.ready),
            core.host_lane.eq(ex.host_lane), core.host_addr.eq(ex.host_addr),
            core.host_write.eq(ex.host_write), core.host_wdata.eq(ex.host_wdata),
            ex.host_rdata.eq(core.host_rdata), core.eta.eq(ex.eta),
            ex.busy.eq(core.busy), ex.cycles.eq(core.cycles), ex.samples.eq(core.samples),
        ]
        if lay.store_samples:
            m.submodules.store = store = SampleStore(lay.store_words, lay.store_width,
                                                     self.store_kind,
                                                     read_latency(self.plan.family))
            self.parts["store"] = store
            m.d.comb += [store.addr.eq(ex.store_addr), store.wdata.eq(ex.store_wdata),
                         store.we.eq(ex.store_we), ex.store_rdata.eq(store.rdata)]
        return m
