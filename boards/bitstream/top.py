"""A board top: the system top (boards/gateware/system.py) on a real board's clock, UART and LEDs.

    oscillator -> PLL -> ClockReset --sync--> SystemTop <-> uart rx / tx
                                                 |-> LEDs: busy, learning, link error

The LEDs show the core busy, the core learning (a TRAIN sample in flight) and, for about a
tenth of a second after each, a refused frame.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import io

from ghostfpga.config import Config

from .catalog import Board
from .clocks import ClockReset
from ..gateware.system import SystemTop

__all__ = ["BoardTop"]

PRESCALE = 2 ** 16 - 1   # the period of the LEDs' 16-bit maximal LFSR (taps 16, 14, 13, 11)


class BoardTop(Elaboratable):
    """``config``'s system top on ``board`` at ``config.link.clock_mhz``."""

    def __init__(self, config: Config, board: Board):
        board.check(config)
        self.config, self.board = config, board
        self.system = SystemTop(config, store="spram" if board.fpga.spram_words else "verilog")

    def elaborate(self, platform):
        m = Module()
        board, clock = self.board, self.config.link.clock_mhz
        m.domains.sync = sync = ClockDomain("sync")
        osc = platform.request(board.oscillator, 0, dir="-")
        if board.fpga.family == "ice40":   # SB_PLL40_PAD takes the package pin itself
            pin = osc.io
        else:
            m.submodules.osc = osc_buffer = io.Buffer("i", osc)
            pin = osc_buffer.i
        m.submodules.clocks = clocks = ClockReset(board.fpga.family, pin, board.oscillator_mhz,
                                                  clock)
        m.d.comb += [sync.clk.eq(clocks.clk), sync.rst.eq(clocks.rst)]
        m.submodules.system = system = self.system
        names = [sub.name for sub in platform.lookup("uart", 0).ios]   # ULX3S: also rts, dtr
        uart = platform.request("uart", 0, dir={name: "-" for name in names})
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [system.rx.eq(rx.i), tx.o.eq(system.tx)]

        # a refused frame lights its LED for about 0.1 s: a small count of the ticks of a
        # free-running LFSR (one every 2^16 - 1 cycles), not a 22-bit counter, whose carry
        # chain nextpnr splits on a nearly full UP5K (it was the critical path at 98 %)
        ticks = max(1, round(clock * 1e5 / PRESCALE))
        lfsr = Signal(16, init=1)
        m.d.sync += lfsr.eq(Cat(lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10], lfsr[:15]))
        hold = Signal(range(ticks + 1))
        error = Signal()   # the refusal a cycle late, from a flip-flop: the events that
        #                    raise it come from the framer's and executor's checks (timing)
        m.d.sync += error.eq(system.link_error)
        with m.If(error):
            m.d.sync += hold.eq(ticks)
        with m.Elif((hold != 0) & (lfsr == 1)):
            m.d.sync += hold.eq(hold - 1)
        status = {"busy": system.busy, "learning": system.learning, "link_error": hold != 0}
        for role, (name, number) in board.leds.items():
            m.submodules[f"led_{role}"] = led = io.Buffer("o", platform.request(name, number,
                                                                                dir="-"))
            m.d.comb += led.o.eq(status[role])
        return m
