"""A board top: the system top (boards/system.py) on a real board's clock, UART and LEDs.

    oscillator -> PLL -> ClockReset --sync--> SystemTop <-> uart rx / tx
                                                 |-> LEDs: busy, learning, link error

The LEDs show the core busy, the core learning (a TRAIN sample in flight) and, for about a
tenth of a second after each, a refused frame.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal

from ghostfpga.config import Config

from .catalog import Board
from .clocks import ClockReset
from .system import SystemTop

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """``config``'s system top on ``board`` at ``config.link.clock_mhz``."""

    def __init__(self, config: Config, board: Board):
        board.check(config)
        self.config, self.board = config, board
        self.system = SystemTop(config)

    def elaborate(self, platform):
        m = Module()
        board, clock = self.board, self.config.link.clock_mhz
        if board.fpga.family == "ice40":   # SB_PLL40_PAD takes the package pin itself
            pin = platform.request(board.oscillator, 0, dir="-").io
        else:
            pin = platform.request(board.oscillator, 0).i
        m.submodules.clocks = ClockReset(board.fpga.family, pin, board.oscillator_mhz, clock)
        m.submodules.system = system = self.system
        uart = platform.request("uart", 0)
        m.d.comb += [system.rx.eq(uart.rx.i), uart.tx.o.eq(system.tx)]

        error = Signal()
        hold = Signal(range(round(clock * 1e5) + 1))     # 0.1 s of clock cycles
        with m.If(system.link_error):
            m.d.sync += hold.eq(round(clock * 1e5))
        with m.Elif(hold != 0):
            m.d.sync += hold.eq(hold - 1)
        m.d.comb += error.eq(hold != 0)
        status = {"busy": system.busy, "learning": system.learning, "link_error": error}
        for role, (name, number) in board.leds.items():
            m.d.comb += platform.request(name, number).o.eq(status[role])
        return m
