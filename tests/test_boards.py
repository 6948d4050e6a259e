"""Boards: exact PLL settings (against the YoWASP PLL tools), the board catalog and its configs,
the memory-fit check before any Verilog, board tops that elaborate on their platforms, and the
build report's verdicts. Whole bitstream builds run in benchmarks/boards.py."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ghostfpga.boards.bitstream.build import BuildReport
from ghostfpga.boards.bitstream.catalog import BOARDS, EXAMPLES
from ghostfpga.boards.bitstream.clocks import ecp5_pll, ice40_pll
from ghostfpga.boards.bitstream.tools import tool_path
from ghostfpga.cli import main
from ghostfpga.config import Config, ConfigError, Hardware, Link, Numerics
from ghostfpga.fit import check_memory_fit, memory_fit


@pytest.mark.parametrize("mhz", [24, 27, 30, 36, 48])
def test_ice40_pll_equals_icepll(mhz):
    out = subprocess.run([tool_path("yowasp-icepll"), "-i", "12", "-o", str(mhz)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    want = {k: int(v) for k, v in re.findall(r"(DIVR|DIVF|DIVQ|FILTER_RANGE):\s+(\d+)", out)}
    assert ice40_pll(12.0, mhz) == want


@pytest.mark.parametrize("mhz", [30, 50, 60, 62.5])
def test_ecp5_pll_equals_ecppll(tmp_path, mhz):
    subprocess.run([tool_path("yowasp-ecppll"), "-i", "25", "-o", str(mhz), "-f", "pll.v"],
                   cwd=tmp_path, capture_output=True, check=True, timeout=120)
    text = (tmp_path / "pll.v").read_text()
    want = {k: int(v) for k, v in re.findall(r"\.(CLKI_DIV|CLKFB_DIV|CLKOP_DIV|CLKOP_CPHASE)"
                                             r"\((\d+)\)", text)}
    assert ecp5_pll(25.0, mhz) == want


def test_no_pll_setting_for_an_inexact_clock():
    assert ice40_pll(12.0, 24.5) is None and ecp5_pll(25.0, 24.0) is None


@pytest.mark.parametrize("name", list(BOARDS))
def test_every_board_config_suits_its_board_and_fits(name):
    board = BOARDS[name]
    configs = sorted(EXAMPLES.glob(f"{name.split('-')[0]}_*.toml"))
    assert (EXAMPLES / board.default_config) in configs and len(configs) >= 2
    for path in configs:
        config = Config.load(path)
        board.check(config)
        assert check_memory_fit(config, link=True).fits
        assert board.pll(config.link.clock_mhz) is not None


def test_a_board_refuses_another_device_and_an_inexact_clock():
    board = BOARDS["icebreaker"]
    with pytest.raises(ConfigError, match="hardware.device.*'up5k' for the icebreaker"):
        board.check(Config(hardware=Hardware(device="ecp5-85f")))
    with pytest.raises(ConfigError, match=r"link.clock_mhz.*example 18.75, 28.125, 37.5"):
        board.check(Config(link=Link(clock_mhz=25.0, baud=3_125_000)))
    assert 60.0 in BOARDS["ulx3s-85f"].exact_clocks(Config())


def test_memory_fit_counts_the_weight_memories_in_block_ram_shapes():
    fit = memory_fit(Config(layers=(4, 30, 3), hardware=Hardware(lanes=8)))
    # 8 lanes of 32 16-bit words: one 256 x 16 block each
    assert (fit.weight_words, fit.weight_brams, fit.link_brams) == (32, 8, 0)
    assert memory_fit(Config(), link=True).link_brams == 3
    # the on-board set: in SPRAM on the UP5K (no block RAM), in block RAM on the ECP5
    ice = Config(link=Link(store_samples=5000))
    assert memory_fit(ice, link=True).link_brams == 3
    ecp5 = Config(layers=(64, 32, 10), hardware=Hardware(device="ecp5-85f", lanes=8),
                  link=Link(store_samples=1437))
    # 1437 x 65 words of 9 bits: the 9 x 2048 shape, 46 blocks
    assert memory_fit(ecp5, link=True).link_brams == 2 + 1 + 46
    # 8-bit weights: 9 bits wide on the iCE40 (one word a row, hdl/memory.py), so 610 words a
    # lane take 3 blocks of 256 x 16, not 2 of 1024 x 4; 8 bits on the ECP5
    narrow = Numerics(weight_bits=8, weight_frac=5)
    ice8 = memory_fit(Config(layers=(64, 32, 10), numerics=narrow, hardware=Hardware(lanes=4)))
    assert (ice8.weight_words, ice8.weight_bits, ice8.weight_brams) == (610, 4 * 610 * 9, 12)
    ecp8 = memory_fit(Config(layers=(64, 32, 10), numerics=narrow,
                             hardware=Hardware(device="ecp5-85f", lanes=4)))
    assert ecp8.weight_bits == 4 * 610 * 8


def test_the_on_board_set_must_fit_the_up5k_spram():
    check_memory_fit(Config(link=Link(store_samples=13107)), link=True)   # 65535 words
    with pytest.raises(ConfigError, match=r"store_samples.*65536 \(at most 13107 samples"):
        check_memory_fit(Config(link=Link(store_samples=13108)), link=True)


def test_verilog_refuses_a_network_too_big_for_the_device_before_writing(tmp_path, capsys):
    (tmp_path / "big.toml").write_text("layers = [4, 100000, 3]\nlr = [0.05, 0.05]\n"
                                       "lr_decay = [0.95, 0.95]\n")
    out = tmp_path / "core.v"
    assert main(["verilog", "--config", str(tmp_path / "big.toml"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "3128 block RAMs for the weight memories alone" in err and "up5k has 30" in err
    assert not out.exists()


@pytest.mark.parametrize("name, config", [
    ("icebreaker", Config(layers=(4, 6, 3), hardware=Hardware(lanes=2),
                          link=Link(store_samples=10))),
    ("ulx3s-85f", Config(layers=(4, 6, 3), hardware=Hardware(device="ecp5-85f", lanes=2),
                         link=Link(clock_mhz=60.0, store_samples=10))),
])
def test_board_top_elaborates_on_its_platform(tmp_path, name, config):
    from ghostfpga.boards.bitstream.top import BoardTop

    board = BOARDS[name]
    plan = board.make_platform().prepare(BoardTop(config, board), name="top")
    rtlil = plan.files["top.il"]
    pll = "SB_PLL40_PAD" if board.fpga.family == "ice40" else "EHXPLLL"
    assert pll in rtlil and "ghost" not in name
    # the on-board set: in SPRAM on the UP5K, in an init-free Verilog RAM elsewhere
    if board.fpga.spram_words:
        assert "SB_SPRAM256KA" in rtlil
    else:
        assert "ghost_sample_ram" in rtlil and "ghost_sample_ram.v" in plan.files
    constraints = plan.files.get("top.pcf") or plan.files["top.lpf"]
    for pin in ("uart_0__rx", "uart_0__tx", board.oscillator):
        assert pin in constraints
    assert len(re.findall(r"led", constraints)) >= 3


def _report(**changes):
    fields = dict(board="icebreaker", device="up5k", luts=4000, luts_available=5280, ffs=1500,
                  dsps=6, dsps_available=8, brams=21, brams_available=30, sprams=0,
                  fmax_mhz=26.0, clock_mhz=24.0, bitstream=None, seconds=1.0, config={})
    return BuildReport(**(fields | changes))


def test_build_report_names_the_resource_or_the_clock():
    assert _report().problem is None and _report().meets_timing
    over = _report(luts=5561, fmax_mhz=None, error="ERROR: Failed to expand region")
    assert over.problem == "does not fit the up5k: logic cells 5561 of 5280"
    slow = _report(fmax_mhz=21.6)
    assert "clock is 24 MHz (link.clock_mhz)" in slow.problem and "21.6 MHz" in slow.problem
    keys = {"board", "device", "luts", "luts_available", "ffs", "dsps", "dsps_available",
            "brams", "brams_available", "sprams", "fmax_mhz", "clock_mhz", "bitstream",
            "seconds", "config"}
    assert keys <= set(slow.to_dict())


def _placer(outcomes, calls):
    """A stand-in for nextpnr: seed -> the system clock's MHz (None: placement failed, with
    ``over`` logic cells used), writing the log a build keeps per seed."""
    from ghostfpga.boards.bitstream.tools import Placement

    def place(fpga, build_dir, constraints, clock, seed, progress=None):
        calls.append(seed)
        (build_dir / "nextpnr.log").write_text(f"seed {seed}")
        fmax, used = outcomes[seed]
        util = {"ICESTORM_LC": (used, 5280)}
        return Placement(util, None if fmax is None else {"clk": fmax},
                         None if fmax is not None else "ERROR: failed")
    return place


@pytest.mark.parametrize("outcomes, tries, chosen, calls", [
    ({1: (29.5, 5140), 2: (31.2, 5140), 3: (30.4, 5140)}, 3, 2, [1, 2]),   # the first to meet
    ({4: (30.2, 5140)}, 3, 4, [4]),                                      # met at once
    ({1: (28.0, 5140), 2: (29.6, 5140), 3: (29.1, 5140)}, 3, 2, [1, 2, 3]),  # none: the best
    ({1: (None, 5200), 2: (30.5, 5200)}, 3, 2, [1, 2]),     # failed to place: another seed
    ({1: (None, 5500)}, 3, 1, [1]),                         # over the device: no seed helps
    ({1: (29.5, 5140)}, 1, 1, [1]),                         # one try only
])
def test_a_build_places_seed_after_seed_until_one_meets_the_clock(
        tmp_path, monkeypatch, outcomes, tries, chosen, calls):
    from ghostfpga.boards.bitstream import build as build_module
    from ghostfpga.devices import DEVICES

    seen, steps = [], []
    monkeypatch.setattr(build_module, "place_and_route", _placer(outcomes, seen))
    (tmp_path / "nextpnr-seed9.log").write_text("an earlier build's")
    first = min(outcomes)
    placed, seed, tried = build_module.place_until_met(
        DEVICES["up5k"], tmp_path, [], 30.0, first, tries, steps.append)
    assert (seed, seen) == (chosen, calls)
    assert tried == [{"seed": s, "fmax_mhz": outcomes[s][0]} for s in calls]
    assert placed.fmax == (None if outcomes[seed][0] is None else {"clk": outcomes[seed][0]})
    assert sorted(p.name for p in tmp_path.glob("nextpnr-seed*.log")) == \
        [f"nextpnr-seed{s}.log" for s in calls]
    assert len(steps) == len(calls)
    if len(calls) > 1:
        assert f"again with seed {calls[1]} (seed {calls[0]} " in steps[1]
    report = _report(fmax_mhz=outcomes[seed][0], clock_mhz=30.0, seed=seed, placements=tried)
    if outcomes[seed][0] is not None and outcomes[seed][0] < 30.0:
        assert report.problem.endswith(f"{outcomes[seed][0]:.1f} MHz after routing "
                                       + (f"(the best of seeds {calls[0]} to {calls[-1]})"
                                          if len(calls) > 1 else f"(seed {seed})"))


@pytest.mark.parametrize("board, args", [("icebreaker", []),
                                         ("ulx3s-85f", ["--placer", "static"])])
def test_a_build_gives_nextpnr_its_boards_placer(tmp_path, monkeypatch, board, args):
    """The ULX3S builds place with nextpnr's electrostatic placer (docs/boards.md,
    "Placement"); the iCEBreaker's with nextpnr's default."""
    from ghostfpga.boards.bitstream import build as build_module

    def yosys(command, build_dir, **kwargs):
        (Path(build_dir) / "top.json").write_text('{"modules": {}}')
    seen = []

    def place(fpga, build_dir, constraints, clock, seed, progress=None):
        seen.append(constraints)
        return _placer({1: (None, 99999)}, [])(fpga, build_dir, constraints, clock, seed)
    monkeypatch.setattr(build_module, "run_tool", yosys)
    monkeypatch.setattr(build_module, "place_and_route", place)
    device = BOARDS[board].device
    config = Config(layers=(4, 6, 3), hardware=Hardware(device=device, lanes=2),
                    link=Link(clock_mhz=30.0 if device == "up5k" else 60.0, baud=3_000_000))
    report = build_module.build(config, BOARDS[board], tmp_path, tries=1)
    assert report.bitstream is None and len(seen) == 1
    assert seen[0][len(seen[0]) - len(args):] == args
    assert "--placer" not in seen[0][:len(seen[0]) - len(args)]


ROUTER1_LINES = """Info: Routing 94347 arcs.
Info:            |   (re-)routed arcs  |   delta    | remaining|       time spent     |
Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|
Info:      89000 |    19526      69473 |  222   778 |     68865|       1.77     104.92|
Info:      90000 |    19689      70310 |  163   837 |     68984|       1.39     106.31|
"""
ROUTER2_LINES = """Info: Running router2...
Info:     iter=1 wires=398211 overused=40112 overuse=45102 archfail=NA
Info:     iter=2 wires=401922 overused=24611 overuse=26203 archfail=NA
"""


def test_routing_progress_reads_either_router_from_the_log():
    from ghostfpga.boards.bitstream.tools import routing_progress

    assert routing_progress("Info: Running placer\n") is None
    assert routing_progress(ROUTER1_LINES) == "routing, 68,984 arcs left to route"
    assert routing_progress(ROUTER2_LINES) == "routing, 24,611 wires overused (iteration 2)"


def _fake_tool(tmp_path, body):
    script = tmp_path / "tool.py"
    script.write_text("import os, sys, time\n"
                      "open('pid', 'w').write(str(os.getpid()))\n" + body)
    return [sys.executable, str(script)]


def test_a_long_tool_reports_its_routing_and_a_failure_its_output(tmp_path, monkeypatch):
    from ghostfpga.boards.bitstream import tools

    monkeypatch.setattr(tools, "PROGRESS_SECONDS", 0.2)
    body = (f"open('route.log', 'w').write({ROUTER2_LINES!r})\n"
            "time.sleep(1.0)\nprint('ERROR: no route'); sys.exit(3)\n")
    told = []
    with pytest.raises(RuntimeError, match="(?s)exit 3.*ERROR: no route"):
        tools.run_tool(_fake_tool(tmp_path, body), tmp_path, log="route.log",
                       progress=told.append)
    assert told and told[0].endswith("routing, 24,611 wires overused (iteration 2)")
    assert len(told) == 1   # told again only when the router moved on


def test_an_interrupted_tool_is_stopped(tmp_path, monkeypatch):
    """Ctrl-C while a tool runs (here raised by the progress callback) stops the tool before
    the interrupt goes on."""
    import os

    from ghostfpga.boards.bitstream import tools

    monkeypatch.setattr(tools, "PROGRESS_SECONDS", 0.2)
    body = (f"open('route.log', 'w').write({ROUTER1_LINES!r})\ntime.sleep(20)\n"
            "open('done', 'w').write('the tool ran to its end')\n")

    def interrupt(step):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tools.run_tool(_fake_tool(tmp_path, body), tmp_path, log="route.log",
                       progress=interrupt)
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not (tmp_path / "done").exists()


def test_build_cli_refuses_a_config_for_another_device(tmp_path, capsys):
    assert main(["build", "--board", "icebreaker", "--config",
                 str(Path(EXAMPLES / "ulx3s_digits.toml"))]) == 2
    assert "hardware.device" in capsys.readouterr().err


# -- programming and finding the board ------------------------------------------------------
def _ports(*entries):
    from types import SimpleNamespace

    return [SimpleNamespace(device=d, vid=v, pid=p, location=loc) for d, v, p, loc in entries]


def test_find_port_takes_the_uart_interface_of_the_board():
    from ghostfpga.boards.bitstream.program import find_port

    ports = _ports(("/dev/ttyS0", None, None, None),
                   ("/dev/ttyUSB0", 0x0403, 0x6010, "1-1.4:1.0"),
                   ("/dev/ttyUSB1", 0x0403, 0x6010, "1-1.4:1.1"),
                   ("/dev/ttyUSB2", 0x0403, 0x6015, "1-2:1.0"))
    assert find_port(BOARDS["icebreaker"], ports) == "/dev/ttyUSB1"
    assert find_port(BOARDS["ulx3s-85f"], ports) == "/dev/ttyUSB2"


def test_find_port_says_what_it_saw_and_refuses_to_guess():
    from ghostfpga.boards.host.device import DeviceError
    from ghostfpga.boards.bitstream.program import find_port

    with pytest.raises(DeviceError, match=r"no iCEBreaker .*0403:6010 interface 1.*ttyS0"):
        find_port(BOARDS["icebreaker"], _ports(("/dev/ttyS0", None, None, None)))
    two = _ports(("/dev/ttyUSB0", 0x0403, 0x6015, None), ("/dev/ttyUSB1", 0x0403, 0x6015, None))
    with pytest.raises(DeviceError, match="several ports .*ttyUSB0, /dev/ttyUSB1; pass --port"):
        find_port(BOARDS["ulx3s-85f"], two)


def _loader(tmp_path, body: str) -> Path:
    script = tmp_path / "openFPGALoader"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def test_program_names_the_missing_usb_libraries(tmp_path, monkeypatch, capsys):
    bit = tmp_path / "top.bin"
    bit.write_bytes(b"\xff" * 16)
    monkeypatch.setenv("OPENFPGALOADER", str(_loader(tmp_path, (
        "echo 'openFPGALoader: error while loading shared libraries: libusb-1.0.so.0: cannot "
        "open shared object file' >&2\nexit 127\n"))))
    assert main(["program", "--board", "icebreaker", "--bitstream", str(bit)]) == 2
    err = capsys.readouterr().err
    assert "libusb-1.0 and libftdi1" in err and "apt-get install" in err


def test_program_writes_then_identifies_the_board(tmp_path, monkeypatch, capsys):
    from ghostfpga.boards.host import device as device_module
    from ghostfpga.boards.host.fake import FakeDevice

    board = BOARDS["icebreaker"]
    bit = tmp_path / "top.bin"
    bit.write_bytes(b"\xff" * 16)
    args = tmp_path / "args"
    monkeypatch.setenv("OPENFPGALOADER", str(_loader(tmp_path, f'echo "$@" > {args}\n')))
    monkeypatch.setattr(device_module, "open_port",
                        lambda url, baud, timeout: FakeDevice(board.config(), timeout))
    assert main(["program", "--board", "icebreaker", "--bitstream", str(bit),
                 "--port", "/dev/ttyUSB1"]) == 0
    assert args.read_text().split() == ["-b", "ice40_generic", str(bit)]
    out = capsys.readouterr().out
    assert "on /dev/ttyUSB1: protocol 2, 4-30-3, 6 lanes, 33 MHz" in out


def test_program_refuses_a_missing_bitstream(tmp_path, capsys):
    assert main(["program", "--board", "ulx3s-85f", "--bitstream",
                 str(tmp_path / "none.bit")]) == 2
    assert "no bitstream at" in capsys.readouterr().err


def test_run_on_a_board_uses_its_config_and_reports_board_and_clock(tmp_path):
    import json

    out = tmp_path / "run.json"
    assert main(["run", "--board", "icebreaker", "--port", "fake", "--samples", "30",
                 "--test-samples", "20", "--json", str(out)]) == 0
    run = json.loads(out.read_text())
    assert (run["board"], run["clock_mhz"], run["mismatches"]) == ("icebreaker", 33.0, 0)
    assert run["config"]["hardware"]["lanes"] == 6


def test_program_reports_a_board_running_another_config_at_once(tmp_path, monkeypatch, capsys):
    from ghostfpga.boards.host import device as device_module
    from ghostfpga.boards.host.fake import FakeDevice

    bit = tmp_path / "top.bin"
    bit.write_bytes(b"\xff" * 16)
    monkeypatch.setenv("OPENFPGALOADER", str(_loader(tmp_path, "exit 0\n")))
    other = Config.load(EXAMPLES / "icebreaker_digits.toml")
    monkeypatch.setattr(device_module, "open_port",
                        lambda url, baud, timeout: FakeDevice(other, timeout))
    assert main(["program", "--board", "icebreaker", "--bitstream", str(bit),
                 "--port", "/dev/ttyUSB1"]) == 2
    assert "the device runs config" in capsys.readouterr().err


def test_run_port_auto_needs_a_board(capsys):
    assert main(["run", "--port", "auto", "--samples", "5"]) == 2
    assert "--port auto needs --board" in capsys.readouterr().err
