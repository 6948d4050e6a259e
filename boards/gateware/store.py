"""The on-board training set's memory: ``words`` words of ``width`` bits, one port.

One address for reads and writes (the executor never does both at once); ``rdata`` is the
word at the ``addr`` of ``latency`` cycles before: one, as with a block RAM's synchronous read,
two where the read data is registered once more after the memory's output multiplexer, or
three where that multiplexer is cut in two: banks of block RAMs, each bank's word registered,
then the addressed bank's (``read_latency``: on the ECP5, whose whole digits set takes 46
block RAMs; the multiplexer from the DP16KDs' outputs into the core's sample beat was the
ULX3S digits build's critical path, 20.4 ns, and registered once after it still was, 14.75
ns, 15.3 built for 75 MHz). A store of latency 3 also registers its write (address, word,
enable), which lands a cycle later through the block RAMs' other port: the executor's state
through STORE's checks into the write enables of block RAMs across the device was the ULX3S
digits build's critical path at 75 MHz (12.5 ns). A read of the word written the cycle
before then gives the old word (the executor reads the set only in EPOCH, never within a
cycle of a write). Three builds of the same behaviour:

- ``kind="spram"`` (the iCEBreaker's board top): the UP5K's single-port SB_SPRAM256KA blocks,
  16384 x 16 bits each; the address's top bits choose the block.
- ``kind="verilog"`` (board tops without SPRAM): a Verilog RAM module without an initial
  value, which Yosys maps to block RAM. (An ``amaranth.lib.memory`` always has one, and a
  zero initializer of tens of thousands of words stalls Yosys for most of an hour.)
- ``kind="memory"`` (the system top in simulation): an ``amaranth.lib.memory`` block RAM.

The training set has no meaning before the host stores it (EPOCH refuses samples not
stored), so no build needs an initial value.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.hdl.memory import block_ram

__all__ = ["SampleStore", "SPRAM_WORDS", "RAM_MODULE", "RAM_VERILOG", "KINDS", "read_latency"]

SPRAM_WORDS = 16384   # 16-bit words of one SB_SPRAM256KA


def read_latency(family: str) -> int:
    """Cycles from ``addr`` to its word on ``rdata`` for a store on a device ``family``: 3 on
    the ECP5, whose block RAMs' output multiplexer is cut twice (``RAM_VERILOG``)."""
    return 3 if family == "ecp5" else 1


RAM_MODULE = "ghost_sample_ram"
RAM_VERILOG = """// The on-board training set's words (boards/gateware/store.py): one port, no initial value;
// the read data registered once (LATENCY 1), once more after the output multiplexer (2), or
// (3) in banks of up to 2**(ABITS - 4) words, each bank's word registered after its own
// block RAMs' multiplexer, then the addressed bank's word registered again; (3) registers
// the write too, which lands a cycle later through the block RAMs' other port.
module ghost_sample_ram #(parameter WORDS = 2, WIDTH = 8, ABITS = 1, LATENCY = 1) (
    input clk, input [ABITS-1:0] addr, input [WIDTH-1:0] wdata, input we,
    output [WIDTH-1:0] rdata);
  generate if (LATENCY == 3) begin : banked
    localparam LOW = ABITS > 4 ? ABITS - 4 : ABITS;
    localparam BANK = 1 << LOW;
    localparam BANKS = (WORDS + BANK - 1) / BANK;
    wire [BANKS*WIDTH-1:0] words;
    reg [ABITS-1:0] at, at_q;      // the address read, one and two cycles ago
    reg [WIDTH-1:0] out;
    // the write, registered: it lands a cycle later, through the block RAMs' other port
    reg [ABITS-1:0] waddr;
    reg [WIDTH-1:0] wword;
    reg wen = 1'b0;
    genvar b;
    for (b = 0; b < BANKS; b = b + 1) begin : bank
      localparam SIZE = b == BANKS - 1 ? WORDS - b * BANK : BANK;
      reg [WIDTH-1:0] mem [0:SIZE-1];
      reg [WIDTH-1:0] word, word_q;
      always @(posedge clk) begin
        if (wen && (waddr >> LOW) == b)
          mem[waddr[LOW-1:0]] <= wword;
        word <= mem[addr[LOW-1:0]];
        word_q <= word;
      end
      assign words[b*WIDTH +: WIDTH] = word_q;
    end
    always @(posedge clk) begin
      at <= addr;
      at_q <= at;
      out <= words[(at_q >> LOW) * WIDTH +: WIDTH];
      waddr <= addr;
      wword <= wdata;
      wen <= we;
    end
    assign rdata = out;
  end else begin : flat
    reg [WIDTH-1:0] mem [0:WORDS-1];
    reg [WIDTH-1:0] word, word_q;
    always @(posedge clk) begin
      if (we)
        mem[addr] <= wdata;
      else
        word <= mem[addr];
      word_q <= word;
    end
    assign rdata = LATENCY == 2 ? word_q : word;
  end endgenerate
endmodule
"""
KINDS = ("memory", "spram", "verilog")


class SampleStore(wiring.Component):
    def __init__(self, words: int, width: int, kind: str = "memory", latency: int = 1):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "spram" and width > 16:
            raise ValueError(f"a {width}-bit sample word does not fit the SPRAM's 16 bits")
        if latency not in (1, 2, 3) or (kind == "spram" and latency != 1):
            raise ValueError(f"a {kind} store reads with a latency of 1"
                             + ("" if kind == "spram" else ", 2 or 3") + f", not {latency}")
        self.words, self.width, self.kind, self.latency = words, width, kind, latency
        super().__init__({"addr": In(range(max(words, 2))), "wdata": In(width), "we": In(1),
                          "rdata": Out(width)})

    def elaborate(self, platform):
        m = Module()
        if self.kind == "spram":
            self._sprams(m)
        elif self.kind == "verilog":
            if platform is not None:
                platform.add_file(f"{RAM_MODULE}.v", RAM_VERILOG)
            m.submodules.words = Instance(
                RAM_MODULE, p_WORDS=max(self.words, 2), p_WIDTH=self.width,
                p_ABITS=len(self.addr), p_LATENCY=self.latency, i_clk=ClockSignal("sync"),
                i_addr=self.addr,
                i_wdata=self.wdata, i_we=self.we, o_rdata=self.rdata)
        else:
            m.submodules.words = mem = block_ram(self.width, self.words)
            rd, wr = mem.read_port(), mem.write_port()
            self.ports = {"words": (mem, rd, wr)}   # for simulation checks
            if self.latency == 3:   # the write registered, as the Verilog RAM's (above)
                m.d.comb += rd.addr.eq(self.addr)
                m.d.sync += [wr.addr.eq(self.addr), wr.en.eq(self.we),
                             wr.data.eq(self.wdata)]
            else:
                # one address: a write cycle reads nothing (the SPRAM's read data is then
                # undefined too), so no read meets a write
                m.d.comb += [rd.addr.eq(self.addr), rd.en.eq(~self.we),
                             wr.addr.eq(self.addr), wr.en.eq(self.we), wr.data.eq(self.wdata)]
            word = rd.data
            for k in range(self.latency - 1):   # (the Verilog RAM's registers, as a delay)
                registered = Signal(self.width, name=f"word_q{k}")
                m.d.sync += registered.eq(word)
                word = registered
            m.d.comb += self.rdata.eq(word)
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

