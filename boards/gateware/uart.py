"""UART gateware, 8N1, with ``amaranth.lib.stream`` byte interfaces.

The divisor (clocks per bit) is fixed at elaboration; ``Link.divisor`` derives it from the
config's clock and baud rate, which the config refuses when they are more than 1 % apart.
"""


from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "UARTTransmitter", "check_divisor"]


def check_divisor(divisor: int) -> int:
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 4:
        raise ValueError(f"UART divisor must be an integer of at least 4 clocks per bit, "
                         f"not {divisor!r}")
    return divisor


class UARTReceiver(wiring.Component):
    """Bytes from the ``rx`` pin (idle high), least significant bit first.

    ``rx`` passes a two-flip-flop synchronizer. A falling edge starts a byte; the start bit is
    checked again at mid-bit (a shorter pulse is ignored), each data bit and the stop bit are
    sampled at mid-bit. A byte without its stop bit is dropped, pulses ``stop_error`` for one
    cycle, and the receiver waits for the line to go high again. ``o.valid`` rises half a bit
    after the middle of the last data bit and stays until ``o.ready``; a byte completing
    while the previous one is still waiting replaces it (the framer is always ready).
    """

    rx: In(1, init=1)
    o: Out(stream.Signature(8))
    stop_error: Out(1)

    def __init__(self, divisor: int):
        self.divisor = check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        D = self.divisor
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(D))
        bits = Signal(range(9))
        shift = Signal(8)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(D // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.next = "IDLE"          # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(D - 1), bits.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)), bits.eq(bits + 1),
                                 timer.eq(D - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.stop_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UARTTransmitter(wiring.Component):
    """Bytes from ``i`` to the ``tx`` pin: start bit, 8 data bits (least significant first),
    stop bit, ``divisor`` clocks each. ``i.ready`` is high while idle; a byte taken starts on
    the next clock, so back-to-back bytes leave no gap."""

    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        self.divisor = check_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        D = self.divisor
        timer = Signal(range(D))
        frame = Signal(10, init=0x3FF)    # stop, data, start: shifted out from bit 0
        left = Signal(range(11))
        m.d.comb += [self.tx.eq(frame[0]), self.i.ready.eq(left == 0)]
        with m.If(left == 0):
            with m.If(self.i.valid):
                m.d.sync += [frame.eq(Cat(0, self.i.payload, 1)), left.eq(10),
                             timer.eq(D - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [frame.eq(Cat(frame[1:], 1)), left.eq(left - 1), timer.eq(D - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m
