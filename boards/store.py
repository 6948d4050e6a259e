"""The on-board training set's memory: ``words`` words of ``width`` bits, one port.

One address for reads and writes (the executor never does both at once); ``rdata`` is the
word at the ``addr`` of the previous cycle (one cycle of latency), as with a block RAM's
synchronous read. With ``spram`` (the iCEBreaker's board top) the words live in the UP5K's
single-port SB_SPRAM256KA blocks, 16384 x 16 bits each: the address's top bits choose the
block. Otherwise (other devices, the system top in simulation) they are an
``amaranth.lib.memory`` block RAM.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.hdl.memory import block_ram

__all__ = ["SampleStore", "SPRAM_WORDS"]

SPRAM_WORDS = 16384   # 16-bit words of one SB_SPRAM256KA


class SampleStore(wiring.Component):
    def __init__(self, words: int, width: int, spram: bool = False):
        if spram and width > 16:
            raise ValueError(f"a {width}-bit sample word does not fit the SPRAM's 16 bits")
        self.words, self.width, self.spram = words, width, spram
        super().__init__({"addr": In(range(max(words, 2))), "wdata": In(width), "we": In(1),
                          "rdata": Out(width)})

    def elaborate(self, platform):
        m = Module()
        if self.spram:
            self._sprams(m)
        else:
            m.submodules.words = mem = block_ram(self.width, self.words)
            rd, wr = mem.read_port(), mem.write_port()
            m.d.comb += [rd.addr.eq(self.addr), wr.addr.eq(self.addr), wr.en.eq(self.we),
                         wr.data.eq(self.wdata), self.rdata.eq(rd.data)]
        return m

    def _sprams(self, m: Module) -> None:
        blocks = -(-self.words // SPRAM_WORDS)
        bank = self.addr[14:] if blocks > 1 else 0
        read_bank = Signal(range(max(blocks, 2)))        # the bank of the word on rdata
        m.d.sync += read_bank.eq(bank)
        outs = []
        for k in range(blocks):
            out = Signal(16, name=f"spram{k}_out")
            select = bank == k if blocks > 1 else 1
            m.submodules[f"spram{k}"] = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=self.addr[:14], i_DATAIN=self.wdata, i_MASKWREN=0b1111,
                i_WREN=self.we & select, i_CHIPSELECT=select, i_CLOCK=ClockSignal("sync"),
                i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=out)
            outs.append(out)
        with m.Switch(read_bank):
            for k, out in enumerate(outs):
                with m.Case(k):
                    m.d.comb += self.rdata.eq(out[:self.width])

