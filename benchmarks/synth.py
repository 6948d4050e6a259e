"""Synthesis and place-and-route of the bare core with the YoWASP tools.

Usage:  python benchmarks/synth.py [--device up5k|ecp5-85f] [--lanes 8] [--layers 4,30,3]
                                   [--variant tied|replay|learned] [--ghost-rule RULE] [--seed S]
                                   [--no-split-rows] [--system] [--build-dir DIR] [--json OUT]

Builds the core of the given config inside a minimal serial shell (boards/bitstream/synth.py) with Yosys
(`synth_ice40 -dsp` / `synth_ecp5`) and nextpnr, and reports logic cells, DSPs, block RAMs and
the post-route Fmax of the whole (the shell adds about one logic cell per core port bit). A run
takes a few minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ghostfpga.boards.bitstream.synth import synthesize
from ghostfpga.config import GHOST_RULES, VARIANTS, Config, Hardware
from ghostfpga.report import outputs_or_exit, table, write_json
from ghostfpga.stopping import run_stoppable

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="up5k", choices=("up5k", "ecp5-85f"))
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--layers", default="4,30,3")
    parser.add_argument("--freq", type=float, default=24.0, help="target clock in MHz")
    parser.add_argument("--seed", type=int, default=1,
                        help="nextpnr placement seed (default 1; placements of one design "
                             "differ by about 1 MHz on the iCE40, up to 10 %% on the ECP5)")
    parser.add_argument("--variant", default="tied", choices=VARIANTS)
    parser.add_argument("--ghost-rule", default="normalized", choices=GHOST_RULES,
                        help="with --variant learned: how the ghosts learn")
    parser.add_argument("--no-split-rows", action="store_true",
                        help="one lane per row (hardware.split_rows = false): the smaller core")
    parser.add_argument("--system", action="store_true",
                        help="the system top (UART host link and core) instead of the core in "
                             "its serial shell")
    parser.add_argument("--build-dir", metavar="DIR", default=None,
                        help="keep the Verilog, the netlist and the tools' logs (nextpnr.log: "
                             "the critical path) in DIR (default: a temporary folder)")
    parser.add_argument("--json", default=None,
                        help="default: results/synth.json, results/synth_system.json with "
                             "--system")
    args = parser.parse_args(argv)
    outputs_or_exit(parser, ("--json", args.json, (".json",)))
    layers = tuple(int(v) for v in args.layers.split(","))
    config = Config(layers=layers, variant=args.variant, ghost_rule=args.ghost_rule,
                    hardware=Hardware(device=args.device, lanes=args.lanes,
                                      split_rows=not args.no_split_rows))
    with tempfile.TemporaryDirectory() as tmp:
        print(f"  synthesizing {args.layers} ({args.variant}) with {args.lanes} lanes for "
              f"{args.device} ...", file=sys.stderr)
        core = synthesize(config, Path(args.build_dir or Path(tmp) / "core"), args.freq,
                          seed=args.seed, system=args.system)
    r = core.to_dict() | {"seed": args.seed, "split_rows": not args.no_split_rows,
                          "system": args.system,
                          "variant": args.variant,
                          "ghost_rule": args.ghost_rule if args.variant == "learned" else None}
    print(table(["device", "layers", "variant", "P", "split rows", "logic cells", "DSPs",
                 "block RAMs", "Fmax MHz", "fits", "seconds"],
                [[r["device"], args.layers, args.variant, r["lanes"],
                  "yes" if r["split_rows"] else "no",
                  f"{r['logic_cells']} / {r['logic_cells_available']} "
                  f"({100 * r['logic_fraction']:.1f} %)",
                  f"{r['dsps']} / {r['dsps_available']}",
                  f"{r['block_rams']} / {r['block_rams_available']}",
                  "-" if r["fmax_mhz"] is None else
                  f"{r['fmax_mhz']:.1f}" + ("" if r["meets_timing"] else f" (< {args.freq:g})"),
                  "yes" if r["fits"] else "no", f"{r['seconds']:.0f}"]],
                title="system top (UART link + core), post-route" if args.system
                else "bare core in a serial shell, post-route"))
    if not r["fits"]:
        print(f"did not fit: {r['error']}", file=sys.stderr)
    write_json(args.json or HERE / "results" / ("synth_system.json" if args.system
                                                 else "synth.json"), r)
    return 0


if __name__ == "__main__":
    sys.exit(run_stoppable(main, "synth.py"))
