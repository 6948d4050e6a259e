"""Board clocks: exact PLL settings for a requested frequency, and the clock-and-reset block
of a board top.

``ice40_pll`` and ``ecp5_pll`` search the PLL's divider ranges for the setting that makes
exactly the requested output from the oscillator (the UART divisor is fixed from the config's
clock, so an approximate clock would give an off baud rate). ``tests/test_boards.py``
compares them with ``yowasp-icepll`` / ``yowasp-ecppll``.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Elaboratable, Instance, Module, Signal

__all__ = ["ice40_pll", "ecp5_pll", "ClockReset"]

_EXACT = 1e-9   # MHz


def ice40_pll(f_in: float, f_out: float) -> dict[str, int] | None:
    """SB_PLL40 (feedback SIMPLE) parameters DIVR, DIVF, DIVQ, FILTER_RANGE for exactly
    ``f_out`` MHz from ``f_in``, or None. Limits: PFD 10-133 MHz, VCO 533-1066 MHz."""
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divq in range(1, 7):
            divf = round(f_out * 2 ** divq / pfd) - 1
            vco = pfd * (divf + 1)
            if 0 <= divf <= 127 and 533 <= vco <= 1066 \
                    and abs(vco / 2 ** divq - f_out) < _EXACT:
                return {"DIVR": divr, "DIVF": divf, "DIVQ": divq,
                        "FILTER_RANGE": _ice40_filter(pfd)}
    return None


def _ice40_filter(pfd: float) -> int:
    for k, limit in enumerate((17, 26, 44, 66, 101), start=1):
        if pfd < limit:
            return k
    return 6


def ecp5_pll(f_in: float, f_out: float) -> dict[str, int] | None:
    """EHXPLLL (feedback from CLKOP) parameters CLKI_DIV, CLKFB_DIV, CLKOP_DIV, CLKOP_CPHASE
    for exactly ``f_out`` MHz from ``f_in``, or None. Limits: PFD 3.125-400, VCO 400-800 MHz."""
    for clki in range(1, 129):
        pfd = f_in / clki
        if pfd < 3.125:
            break
        clkfb = round(f_out / pfd)
        if not 1 <= clkfb <= 80 or abs(pfd * clkfb - f_out) > _EXACT:
            continue
        ops = [op for op in range(1, 129) if 400 <= f_out * op <= 800]
        if ops:   # the VCO nearest 600 MHz, as ecppll chooses
            clkop = min(ops, key=lambda op: abs(f_out * op - 600))
            return {"CLKI_DIV": clki, "CLKFB_DIV": clkfb, "CLKOP_DIV": clkop,
                    "CLKOP_CPHASE": clkop // 2 - 1}
    return None


class ClockReset(Elaboratable):
    """Clock ``clk`` (for domain ``sync``) at ``clock_mhz`` from the board oscillator ``pin`` (iCE40: the raw
    package pin, which feeds SB_PLL40_PAD; ECP5: the buffered input) through the device's PLL, and ``rst``, held until the PLL locks and ``hold_us`` more have
    passed (iCE40 block RAMs read zero for a few microseconds after configuration); on the
    ECP5 from a flip-flop, a cycle later."""

    HOLD_US = 20

    def __init__(self, family: str, pin, f_in: float, clock_mhz: float,
                 hold_us: float = HOLD_US):
        self.family, self.pin, self.f_in, self.clock_mhz = family, pin, f_in, clock_mhz
        self.hold = self.hold_cycles(clock_mhz, hold_us)
        self.pll = (ice40_pll if family == "ice40" else ecp5_pll)(f_in, clock_mhz)
        if self.pll is None:
            raise ValueError(f"no PLL setting makes exactly {clock_mhz:g} MHz from "
                             f"{f_in:g} MHz")
        self.locked = Signal()
        self.clk = Signal()   # for the parent's ``sync`` domain
        self.rst = Signal()

    @staticmethod
    def hold_cycles(clock_mhz: float, hold_us: float = HOLD_US) -> int:
        """Cycles of ``rst`` after the PLL locks."""
        return max(1, round(hold_us * clock_mhz))

    def elaborate(self, platform):
        m = Module()
        m.domains.por = por = ClockDomain("por", reset_less=True)
        clk = self.clk
        p = self.pll
        if self.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"],
                p_DIVQ=p["DIVQ"], p_FILTER_RANGE=p["FILTER_RANGE"],
                i_PACKAGEPIN=self.pin, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=clk, o_LOCK=self.locked)
        else:
            m.submodules.pll = Instance(
                "EHXPLLL", p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"],
                p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_CPHASE"],
                p_CLKOP_ENABLE="ENABLED", p_FEEDBK_PATH="CLKOP", p_OUTDIVIDER_MUXA="DIVA",
                i_CLKI=self.pin, i_CLKFB=clk, i_RST=0, i_STDBY=0, i_PHASESEL0=0,
                i_PHASESEL1=0, i_PHASEDIR=0, i_PHASESTEP=0, i_PHASELOADREG=0,
                i_PLLWAKESYNC=0, i_ENCLKOP=0, o_CLKOP=clk, o_LOCK=self.locked)
        m.d.comb += por.clk.eq(clk)
        count = Signal(range(self.hold + 1))
        with m.If(~self.locked):
            m.d.por += count.eq(0)
        with m.Elif(count != self.hold):
            m.d.por += count.eq(count + 1)
        held = count != self.hold
        if self.family == "ecp5":
            # the reset from a flip-flop: the counter's compare in front of the reset's net,
            # which reaches every register of the sync domain across the device, was the
            # ULX3S digits build's critical path (14.4 ns). (The iCE40's reset stays as the
            # iCEBreaker builds were placed: their paths are elsewhere.)
            rst = Signal(init=1)
            m.d.por += rst.eq(held)
            held = rst
        m.d.comb += self.rst.eq(held)
        return m

