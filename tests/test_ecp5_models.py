"""The project's DP16KD and MULT18X18D models (sim/ecp5_cells.v) against the behaviour they are
written to: random operations on every port width and write mode, replayed by a reference in
Python, word for word; a read of a bit the other port writes on the same edge is reported; a
multiplier in every signedness. (That synth_ecp5's netlists with them equal the golden model:
tests/test_gatelevel.py.)"""

import random
import subprocess
from pathlib import Path

import pytest

from ghostfpga.sim.cocotb_build import simulator_available

MODELS = Path(__file__).resolve().parent.parent / "sim" / "ecp5_cells.v"
pytestmark = [pytest.mark.icarus,
              pytest.mark.skipif(not simulator_available("icarus"),
                                 reason="Icarus Verilog (iverilog) is not installed")]


def _pins(prefix: str, name: str, width: int) -> str:
    return ", ".join(f".{prefix}{k}({name}[{k}])" for k in range(width))


def _run(tmp_path: Path, body: str, top: str) -> list[str]:
    tb = tmp_path / "tb.v"
    tb.write_text(body)
    subprocess.run(["iverilog", "-o", str(tmp_path / "t"), "-s", top, str(tb), str(MODELS)],
                   check=True, capture_output=True, text=True, timeout=120)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "t")], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    return out.splitlines()


def _ram_tb(width_a: int, width_b: int, mode_a: str, ops) -> str:
    """Port A writes or reads, port B reads, one operation a clock (``ops``: (a_write, a_addr,
    a_data, b_addr)); each clock prints both ports' DO."""
    lsb = {18: 4, 9: 3, 4: 2, 2: 1, 1: 0}
    steps = "\n".join(
        f"    @(negedge clk); wea = {int(w)}; ada = {a} << {lsb[width_a]}; dia = {d}; "
        f"adb = {b} << {lsb[width_b]}; @(posedge clk); #1 $display(\"%0d %0d\", doa, dob);"
        for w, a, d, b in ops)
    return f"""
module tb;
  reg clk = 0; always #5 clk = ~clk;
  reg [13:0] ada = 0, adb = 0; reg [17:0] dia = 0; reg wea = 0;
  wire [17:0] doa, dob;
  wire [13:0] ada_pins = {width_a} == 18 ? {{ada[13:2], 2'b11}} : ada;
  DP16KD #(.DATA_WIDTH_A({width_a}), .DATA_WIDTH_B({width_b}), .WRITEMODE_A("{mode_a}"),
           .INITVAL_00(320'h{"".join(f"{(7 * k + 3) & 0x3ffff:05x}" for k in range(16))}))
    ram ({_pins("ADA", "ada_pins", 14)}, {_pins("ADB", "adb", 14)}, {_pins("DIA", "dia", 18)},
         {_pins("DOA", "doa", 18)}, {_pins("DOB", "dob", 18)},
         .CEA(1'b1), .OCEA(1'b1), .CLKA(clk), .WEA(wea), .RSTA(1'b0),
         .CSA2(1'b0), .CSA1(1'b0), .CSA0(1'b0),
         .CEB(1'b1), .OCEB(1'b1), .CLKB(clk), .WEB(1'b0), .RSTB(1'b0),
         .CSB2(1'b0), .CSB1(1'b0), .CSB0(1'b0));
  initial begin
{steps}
    $finish;
  end
endmodule
"""


class _Reference:
    """DP16KD as documented in sim/ecp5_cells.v, for a read port B and a port A."""

    def __init__(self):
        self.bits = [0] * (18 * 1024 + 18)
        for r in range(16):   # INITVAL_00: rows 0-15 in 20-bit slots, row 15's written first
            value = (7 * (15 - r) + 3) & 0x3ffff
            for i in range(18):
                self.bits[r * 18 + i] = (value >> i) & 1

    def word(self, index: int, width: int) -> int:
        return sum(self.bits[index * width + i] << i for i in range(width))

    def step(self, width_a, width_b, mode_a, write, a, data, b, out):
        old_a, read_b = self.word(a, width_a), self.word(b, width_b)
        collide = write and a * width_a < (b + 1) * width_b and b * width_b < (a + 1) * width_a
        if write:
            for i in range(width_a):
                self.bits[a * width_a + i] = (data >> i) & 1
            doa = {"READBEFOREWRITE": old_a, "WRITETHROUGH": data & ((1 << width_a) - 1),
                   "NORMAL": out[0]}[mode_a]
        else:
            doa = old_a
        return doa, None if collide else read_b


@pytest.mark.parametrize("width_a, width_b, mode_a", [
    (18, 18, "READBEFOREWRITE"), (9, 9, "READBEFOREWRITE"), (9, 18, "WRITETHROUGH"),
    (4, 4, "NORMAL"), (2, 9, "READBEFOREWRITE"), (1, 1, "WRITETHROUGH"), (18, 9, "NORMAL")])
def test_the_block_ram_model_reads_and_writes_as_documented(tmp_path, width_a, width_b, mode_a):
    rng = random.Random(width_a * 100 + width_b)
    words = 18 * 24 // max(width_a, width_b)   # the first rows (INITVAL_00 and beyond)
    ops = []
    for _ in range(120):
        write = rng.random() < 0.5
        a = rng.randrange(words * max(width_a, width_b) // width_a)
        b = rng.randrange(words * max(width_a, width_b) // width_b)
        if write and rng.random() < 0.2:    # B reads what A writes: a collision
            b = a * width_a // width_b
        ops.append((write, a, rng.randrange(1 << 18), b))
    lines = _run(tmp_path, _ram_tb(width_a, width_b, mode_a, ops), "tb")
    ref = _Reference()
    out = (ref.word(0, width_a), ref.word(0, width_b))   # the clock edge before the first step
    collisions = 0
    for (write, a, data, b), line in zip(ops, [ln for ln in lines if ln[:1].isdigit() or
                                              ln.startswith("x")]):
        want_a, want_b = ref.step(width_a, width_b, mode_a, write, a, data, b, out)
        got_a, got_b = line.split()
        assert int(got_a) == want_a, (write, a, b)
        if want_b is None:
            collisions += 1
            assert got_b == "x"                      # undefined, as the silicon's
        else:
            assert int(got_b) == want_b, (write, a, b)
        out = (want_a, want_b)
    assert collisions > 0 and sum("GHOSTFPGA_COLLISION" in ln for ln in lines) == collisions


@pytest.mark.parametrize("signed_a, signed_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_the_multiplier_model_multiplies_in_every_signedness(tmp_path, signed_a, signed_b):
    rng = random.Random(signed_a * 2 + signed_b)
    pairs = [(rng.randrange(1 << 18), rng.randrange(1 << 18)) for _ in range(60)]
    pairs += [(0x20000, 0x20000), (0x3ffff, 0x3ffff), (0x1ffff, 0x20000)]
    steps = "\n".join(f"    a = {a}; b = {b}; #1 $display(\"%0d\", p);" for a, b in pairs)
    body = f"""
module tb;
  reg [17:0] a, b; wire [35:0] p;
  MULT18X18D m ({_pins("A", "a", 18)}, {_pins("B", "b", 18)}, {_pins("P", "p", 36)},
                .SIGNEDA(1'b{signed_a}), .SIGNEDB(1'b{signed_b}), .SOURCEA(1'b0),
                .SOURCEB(1'b0));
  initial begin
{steps}
  end
endmodule
"""
    got = [int(v) for v in _run(tmp_path, body, "tb")]

    def value(x, signed):
        return x - (1 << 18) if signed and x >> 17 else x

    assert got == [(value(a, signed_a) * value(b, signed_b)) % (1 << 36) for a, b in pairs]
