"""The link's counters and identity, in one 16-bit block RAM.

Words ``0 .. N_COUNTERS - 1`` count each ``Reject`` cause (saturating at 0xFFFF); the words
after them hold the identify reply, fixed at elaboration.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.hdl.memory import block_ram

from ..protocol import N_COUNTERS

__all__ = ["CounterBank"]


class CounterBank(wiring.Component):
    """Counts events and serves reads of counters and identity words.

    ``events`` holds one request bit per cause (set for one cycle per event, by any number
    of sources at once), taken through a register (the executor's decode of its reply's
    status into ``pending`` and ``idle`` was an iCEBreaker build's critical path): a cause
    waits in ``pending`` from the cycle after its request until its read-modify-write (3
    cycles, lowest cause first). An event thus counts a cycle after it happens; the
    executor's own come where a frame ends, cycles before any state that reads the bank.
    Two events of one cause within those cycles count once: the link's sources are at least
    a byte time apart. ``clear`` zeroes every counter. While ``idle``,
    ``raddr`` reads a word (``rdata`` one cycle later). ``idle`` is a register, set from
    the state and the pending causes the bank will have (timing: the executor's state
    machine branches on it).
    """

    def __init__(self, identity: bytes):
        if len(identity) % 2:
            identity += b"\x00"
        self.identity_words = [identity[i] | identity[i + 1] << 8
                               for i in range(0, len(identity), 2)]
        self.depth = N_COUNTERS + len(self.identity_words)
        if self.depth > 128:
            raise ValueError(f"identity of {len(identity)} bytes does not fit the counter bank")
        super().__init__({"idle": Out(1, init=1), "clear": In(1), "raddr": In(7),
                          "rdata": Out(16), "events": In(N_COUNTERS)})

    @property
    def identity_base(self) -> int:
        return N_COUNTERS

    def elaborate(self, platform):
        m = Module()
        mem = block_ram(16, self.depth, [0] * N_COUNTERS + self.identity_words)
        m.submodules.mem = mem
        rd, wr = mem.read_port(), mem.write_port()
        self.ports = {"mem": (mem, rd, wr)}   # for simulation checks
        pending = Signal(N_COUNTERS)
        cause = Signal(range(N_COUNTERS))
        taken = Signal(N_COUNTERS)
        events = Signal(N_COUNTERS)
        m.d.sync += events.eq(self.events)
        pending_next = (pending & ~taken) | events
        m.d.sync += [pending.eq(pending_next), self.idle.eq(0)]
        # (no read in the writing states: a read never meets a write)
        m.d.comb += [rd.addr.eq(self.raddr), rd.en.eq(~wr.en), self.rdata.eq(rd.data)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.clear):
                    m.d.sync += cause.eq(0)
                    m.next = "CLEAR"
                with m.Elif(pending != 0):
                    for k in reversed(range(N_COUNTERS)):   # the lowest pending cause
                        with m.If(pending[k]):
                            m.d.sync += cause.eq(k)
                    m.next = "READ"
                with m.Else():
                    m.d.sync += self.idle.eq(pending_next == 0)
            with m.State("READ"):
                m.d.comb += [rd.addr.eq(cause), taken.eq(1 << cause)]
                m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += [wr.addr.eq(cause), wr.en.eq(1),
                             wr.data.eq(Mux(rd.data == 0xFFFF, rd.data, rd.data + 1))]
                m.d.sync += self.idle.eq(pending_next == 0)
                m.next = "IDLE"
            with m.State("CLEAR"):
                m.d.comb += [wr.addr.eq(cause), wr.en.eq(1), wr.data.eq(0),
                             taken.eq(1 << cause)]
                m.d.sync += cause.eq(cause + 1)
                with m.If(cause == N_COUNTERS - 1):
                    m.d.sync += self.idle.eq(pending_next == 0)
                    m.next = "IDLE"
        return m
