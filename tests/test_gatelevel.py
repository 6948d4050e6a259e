"""Gate-level co-simulation: the core as Yosys synthesizes it for the iCE40 (``synth_ice40
-dsp``: SB_LUT4, SB_CARRY, flip-flops, SB_RAM40_4K, SB_MAC16) with Yosys's cell models, and for
the ECP5 (``synth_ecp5``: LUT4, CCU2C, TRELLIS_FF, LUT RAM, DP16KD, MULT18X18D) with Yosys's
models and the project's DP16KD and MULT18X18D (sim/ecp5_cells.v), driven by the RTL's
testbench and driver and equal to the golden model in every result and weight."""

import dataclasses

import pytest

from ghostfpga.cli import main
from ghostfpga.config import Config, Hardware, Numerics
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.sim.configs import cosim_samples
from ghostfpga.sim.core.cocotb_sim import cosimulate
from ghostfpga.sim.cocotb_build import simulator_available
from ghostfpga.sim.netlist import NetlistError, core_netlist

pytestmark = pytest.mark.gatelevel
needs_icarus = pytest.mark.skipif(not simulator_available("icarus"),
                                  reason="Icarus Verilog (iverilog) is not installed")
TIED = Config(layers=(4, 6, 3), hardware=Hardware(lanes=2))
LEARNED = Config(layers=(4, 6, 3), variant="learned", ghost_warmup=0,
                 hardware=Hardware(lanes=2))
# 8-bit weights on the iCE40: held 9 bits wide, one word a block-RAM row (hdl/memory.py); at
# 8 bits Yosys put 2 to 4 consecutive weights in one row, which the learning pass read while
# writing (12 collisions in 10 samples of this config)
ICE40_8BIT = Config(layers=(4, 30, 3), numerics=Numerics(weight_bits=8, weight_frac=5),
                    hardware=Hardware(lanes=6))
# lanes of 257 to 512 words: Yosys maps them 512 x 8, two words a row, where the learning walk
# read the last word of a row while writing the one before (the 402-word core failed here
# before that read moved ahead); deeper lanes banked at 512 words (hdl/memory.py; unbanked,
# the 803-word core mapped 1024 x 4)
ICE40_TWO_A_ROW = Config(layers=(4, 100, 3), hardware=Hardware(lanes=2))   # 402 words
ICE40_BANKED = Config(layers=(4, 100, 3), hardware=Hardware(lanes=1))      # 512 + 291 words
ECP5 = Hardware(device="ecp5-85f", lanes=2)
ECP5_TIED = dataclasses.replace(TIED, hardware=ECP5)          # LUT RAM, MULT18X18D
ECP5_LEARNED = dataclasses.replace(LEARNED, hardware=ECP5)
ECP5_BRAM = Config(layers=(64, 16, 10),                       # DP16KD: 18- and 9-bit ports
                   hardware=dataclasses.replace(ECP5, lanes=1))
# 9 lanes, the fewest that spread (hdl/stages.py lanes_spread): the fetch register and the
# issue register B (hdl/stages.py fetch_registers, issue_registers), the adder tree's
# pipeline register (tree_registers) under the transposed feedback and the host reads, and
# the controls copied once per lane (kept apart by the synthesis: ghostfpga/devices.py
# KEEP_APART); 20 rows over 9 lanes, so the lanes' row groups differ (16 lanes took 2
# minutes of the suite here)
ECP5_TREE = Config(layers=(4, 20, 3),
                   hardware=dataclasses.replace(ECP5, lanes=9, split_rows=False))


@pytest.mark.parametrize("simulator, config, n", [
    pytest.param("icarus", TIED, 16, marks=needs_icarus),
    pytest.param("icarus", LEARNED, 10, marks=needs_icarus),
    pytest.param("icarus", ICE40_8BIT, 8, marks=needs_icarus),
    pytest.param("icarus", ECP5_TIED, 10, marks=needs_icarus),
    pytest.param("icarus", ECP5_LEARNED, 8, marks=needs_icarus),
    pytest.param("icarus", ECP5_BRAM, 4, marks=needs_icarus),
    pytest.param("icarus", ECP5_TREE, 2, marks=needs_icarus)])
def test_the_synthesized_core_equals_the_golden_model(simulator, config, n):
    """The cores' netlists on Icarus; Verilator runs the netlists of the system tops below
    (the UP5K's streamed, the ECP5 board build's from its block-RAM set), which hold these
    cores."""
    samples, etas = cosim_samples(config, n)
    model = FixedModel(config)
    report = cosimulate(config, simulator, samples, etas, model=model,
                        verilog=core_netlist(config, simulator))
    assert report.mismatches == 0, report.first_mismatch
    assert report.samples == n


def _ice40_ram_modes(netlist: str) -> list[int]:
    """The READ_MODE of every SB_RAM40_4K of a synthesized netlist (0: 256 x 16, 1: 512 x 8,
    2: 1024 x 4, 3: 2048 x 2), its constant parameters (not the cell models' wrappers)."""
    import re

    return [int(mode) for mode in re.findall(r"\.READ_MODE\(\d+'h(\d)\)", netlist)]


@needs_icarus
@pytest.mark.parametrize("config", [ICE40_TWO_A_ROW, ICE40_BANKED], ids=["402", "803"])
def test_deep_ice40_lanes_hold_two_words_a_row_at_most_and_learn_bit_exact(config):
    """Lanes of 402 words (512 x 8 halves) and 803 (two banks): no block RAM holds more than
    two words a row, some hold two, and the strict block-RAM model sees no collision."""
    netlist = core_netlist(config, "icarus")
    modes = _ice40_ram_modes(netlist)
    assert modes and max(modes) == 1, modes
    samples, etas = cosim_samples(config, 3)
    report = cosimulate(config, "icarus", samples, etas, model=FixedModel(config),
                        verilog=netlist)
    assert report.mismatches == 0, report.first_mismatch
    assert report.samples == 3


@needs_icarus
def test_the_netlist_is_what_runs_and_a_difference_is_caught():
    """The netlist of another LFSR seed (the same ports) must disagree with this config's
    golden model: the check compares the netlist, and can fail."""
    other = dataclasses.replace(TIED, numerics=Numerics(lfsr_seed=77))
    samples, etas = cosim_samples(TIED, 20)
    report = cosimulate(TIED, "icarus", samples, etas, verilog=core_netlist(other, "icarus"))
    assert report.mismatches > 0


@needs_icarus
def test_sim_netlist_reports_like_sim(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(TIED.to_toml())
    out = tmp_path / "sim.json"
    assert main(["sim", "--netlist", "--simulator", "icarus", "--config", str(config),
                 "--samples", "12", "--test-samples", "12", "--json", str(out)]) == 0
    assert "netlist vs golden" in capsys.readouterr().out
    assert '"netlist": true' in out.read_text()


def test_an_ecp5_netlist_in_a_mode_the_models_do_not_cover_is_refused_by_name():
    from ghostfpga.sim.netlist import ecp5_mode_problems

    netlist = ("  MULT18X18D #(\n    .REG_INPUTA_CLK(\"CLK0\")\n  ) mult (\n    .A0(a));\n"
               "  DP16KD #(\n    .DATA_WIDTH_A(32'd36),\n    .REGMODE_B(\"OUTREG\")\n  ) \\ram.0  (\n"
               "    .CLKA(clk));\n  DP16KD #(\n    .DATA_WIDTH_A(32'd9)\n  ) ok (\n    .CLKA(clk));\n")
    assert ecp5_mode_problems(netlist) == ["MULT18X18D mult: REG_INPUTA_CLK = CLK0",
                                           "DP16KD \\ram.0: DATA_WIDTH_A = 36",
                                           "DP16KD \\ram.0: REGMODE_B = OUTREG"]


@needs_icarus
def test_the_strict_block_ram_model_reports_a_read_of_the_row_being_written(tmp_path):
    """Positive control of the strict SB_RAM40_4K: one edge writes row 5 while reading it
    (reported, X), the next reads row 5 alone (the new word), then row 6 while 5 is written
    (not reported)."""
    import subprocess

    from ghostfpga.sim.netlist import COLLISION, cell_models

    bench = """
module bench;
  reg clk = 0, we = 0;
  reg [10:0] raddr = 0, waddr = 0;
  reg [15:0] wdata = 0;
  wire [15:0] rdata;
  SB_RAM40_4K ram (.RDATA(rdata), .RCLK(clk), .RCLKE(1'b1), .RE(1'b1), .RADDR(raddr),
                   .WCLK(clk), .WCLKE(1'b1), .WE(we), .WADDR(waddr), .MASK(16'h0000),
                   .WDATA(wdata));
  initial begin
    we = 1; waddr = 5; raddr = 5; wdata = 16'h1234;
    #1 clk = 1; #1 clk = 0;
    if (rdata !== 16'bx) $display("FAIL expected x, got %h", rdata);
    we = 0;
    #1 clk = 1; #1 clk = 0;
    if (rdata !== 16'h1234) $display("FAIL expected 1234, got %h", rdata);
    we = 1; raddr = 6; wdata = 16'h5678;
    #1 clk = 1; #1 clk = 0;
    $display("DONE");
    $finish;
  end
endmodule
"""
    (tmp_path / "bench.v").write_text(cell_models("ice40", "icarus") + bench)
    subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "bench.vvp"), "-s", "bench",
                    str(tmp_path / "bench.v")], check=True, capture_output=True, timeout=120)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "bench.vvp")], capture_output=True,
                         text=True, timeout=120).stdout
    assert "DONE" in out and "FAIL" not in out, out
    reports = [line for line in out.splitlines() if COLLISION in line]
    assert len(reports) == 1 and "bench.ram row 5" in reports[0], out


SYSTEM = dataclasses.replace(TIED, link=dataclasses.replace(TIED.link, store_samples=16))


def test_the_synthesized_system_top_trains_bit_exact_under_the_host_driver():
    """The system top (UART, host link, on-board set in SPRAM, core) as Yosys synthesizes it
    for the UP5K, under the real host driver, streamed (on Verilator; ``build --verify``
    below runs a board build's netlist from its on-board set on Icarus): every prediction,
    every weight read back equal to the golden model's, and no block-RAM row read while
    written (the strict model)."""
    from ghostfpga.golden.datasets import yinyang
    from ghostfpga.hardware import run_on_device

    run = run_on_device(SYSTEM, yinyang(), "sim", 12, 1, timeout=0.01, simulator="verilator",
                        test_samples=6, netlist=True)
    assert run.mismatches == 0, run.first_mismatch
    assert run.samples == 12


ECP5_SYSTEM = dataclasses.replace(SYSTEM, hardware=ECP5,
                                  link=dataclasses.replace(SYSTEM.link, clock_mhz=45.0))


BOARD_SMALL = dataclasses.replace(   # (one lane per row: it meets 24 MHz with room)
    SYSTEM, hardware=Hardware(lanes=2, split_rows=False),
    link=dataclasses.replace(SYSTEM.link, clock_mhz=24.0, baud=3_000_000))


@needs_icarus
def test_build_verify_checks_the_very_netlist_of_the_build(tmp_path, capsys):
    """``build --verify`` on a small config: the build's own netlist (PLL stand-in, pins,
    SPRAM set) trains from its on-board set equal to the golden model; checked as another
    config's (another LFSR seed: the same ports and memories), the netlist itself says it is
    not (its identity), so what runs is that netlist. (That the comparison of a netlist with
    the golden model can fail: ``test_the_netlist_is_what_runs_and_a_difference_is_caught``.)"""
    import json

    from ghostfpga.boards.bitstream.catalog import BOARDS
    from ghostfpga.hardware import verify_build

    config = tmp_path / "small.toml"
    config.write_text(BOARD_SMALL.to_toml())
    build_dir, out = tmp_path / "build", tmp_path / "build.json"
    assert main(["build", "--board", "icebreaker", "--config", str(config), "--build-dir",
                 str(build_dir), "--verify", "--verify-samples", "8", "--json", str(out)]) == 0
    assert "verified: the netlist of this build trained 8 samples from its on-board set" \
        in capsys.readouterr().out
    assert json.loads(out.read_text())["verify"]["mismatches"] == 0
    other = dataclasses.replace(BOARD_SMALL, numerics=Numerics(lfsr_seed=77))
    with pytest.raises(RuntimeError, match="DeviceError: sim: the device runs config"):
        verify_build(other, BOARDS["icebreaker"], build_dir, 8)


@pytest.mark.slow
def test_an_ecp5_board_build_is_verified_on_verilator(tmp_path, capsys):
    """``build --board ulx3s-85f --verify`` on a small config: the ECP5 build's own netlist
    as synth_ecp5 makes it (the link, the on-board set in a DP16KD, the core; EHXPLLL's
    stand-in, the pads as one-way buffers) trains from its set on Verilator under the real
    host driver, equal to the golden model, no block-RAM bit read while written. (Icarus
    took 2 minutes of the suite on this netlist; the ECP5 cores run on Icarus above.)"""
    import json

    config = tmp_path / "small.toml"
    config.write_text(ECP5_SYSTEM.to_toml())
    out = tmp_path / "build.json"
    assert main(["build", "--board", "ulx3s-85f", "--config", str(config), "--build-dir",
                 str(tmp_path / "build"), "--verify", "--verify-samples", "8",
                 "--json", str(out)]) == 0
    assert "verified: the netlist of this build trained 8 samples from its on-board set" \
        in capsys.readouterr().out
    assert json.loads(out.read_text())["verify"]["mismatches"] == 0


def test_run_netlist_is_refused_off_the_simulated_board(capsys):
    assert main(["run", "--port", "fake", "--netlist", "--samples", "4"]) == 2
    assert "--netlist needs --port sim" in capsys.readouterr().err


def test_an_ecp5_board_netlist_gets_its_pll_stand_in_and_one_way_pads():
    """EHXPLLL (a black box in Yosys's library) passes its clock through, locked; the pads'
    TRELLIS_IO cells become one-way buffers for Verilator, and a pad not driven at all times
    (its enable not tied low) is refused rather than simulated as driven."""
    from ghostfpga.sim.netlist import cell_models
    from ghostfpga.sim.system.board_netlist import _pads, _with_pll_stand_in

    models = _with_pll_stand_in(cell_models("ecp5", "verilator"), "ecp5")
    stand_in = models[models.index("module EHXPLLL"):]
    stand_in = stand_in[:stand_in.index("endmodule")]
    assert "assign CLKOP = CLKI;" in stand_in and "assign LOCK = 1'b1;" in stand_in
    netlist = ('  TRELLIS_IO #(\n    .DIR("INPUT")\n  ) \\rx.buf  (\n    .B(uart_0__rx__io),\n'
               '    .O(rx)\n  );\n  TRELLIS_IO #(\n    .DIR("OUTPUT")\n  ) \\tx.buf  (\n'
               '    .B(uart_0__tx__io),\n    .I(tx),\n    .T(1\'h0)\n  );\n')
    pads = _pads(netlist)
    assert "GHOSTFPGA_TRELLIS_INPUT #(" in pads and "GHOSTFPGA_TRELLIS_OUTPUT #(" in pads
    assert "TRELLIS_IO" not in pads.replace("GHOSTFPGA_TRELLIS_", "")
    with pytest.raises(NetlistError, match="driven at all times"):
        _pads(netlist.replace(".T(1'h0)", ".T(oe)"))
