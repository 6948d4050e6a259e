"""Bitstreams of every board config in examples/: logic, DSPs, block RAMs, post-route Fmax.

Usage:  python benchmarks/boards.py [--only icebreaker_yinyang ...] [--update] [--json OUT]
                                    [--md OUT]

Each config is built exactly as ``ghostfpga build --board B --config F`` builds it (host link,
PLL, LEDs; YoWASP Yosys and nextpnr, placed with seed 1, then 2 and 3 while the clock is
missed), in build/bench/<config>; the table names the seed of the placement it reports, the
JSON what every try reached. The Markdown table is
the README's board table. A build that does not fit or misses its clock is reported, not hidden.
``--update`` keeps the other configs' rows of an earlier run (to rebuild one config), as the
JSON holds them when this run ends (so runs of different configs may overlap).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ghostfpga.boards.bitstream.build import build
from ghostfpga.boards.bitstream.catalog import BOARDS, EXAMPLES
from ghostfpga.config import Config
from ghostfpga.report import markdown_table, outputs_or_exit, table, write_json
from ghostfpga.stopping import run_stoppable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CONFIGS = [
    ("icebreaker", "icebreaker_yinyang"),
    ("icebreaker", "icebreaker_digits"),
    ("ulx3s-85f", "ulx3s_digits"),
    ("ulx3s-85f", "ulx3s_mnist"),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="config names to build (default: all)")
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of configs not built now from the existing JSON")
    parser.add_argument("--json", default=str(HERE / "results" / "boards.json"))
    parser.add_argument("--md", default=str(HERE / "results" / "boards.md"))
    args = parser.parse_args(argv)
    outputs_or_exit(parser, ("--json", args.json, (".json",)), ("--md", args.md, (".md",)))

    built = {}
    for board_name, name in CONFIGS:
        if args.only and name not in args.only:
            continue
        board = BOARDS[board_name]
        config = Config.load(EXAMPLES / f"{name}.toml")
        print(f"  {name} on {board.name} ...", file=sys.stderr, flush=True)
        report = build(config, board, ROOT / "build" / "bench" / name)
        built[name] = {"name": name, **report.to_dict()}
    # the other configs' rows as the JSON holds them now, not when this run started (two
    # runs of different configs may overlap)
    earlier = {}
    if args.update and Path(args.json).is_file():
        earlier = {r["name"]: r for r in json.loads(Path(args.json).read_text())["builds"]}
    rows = [built.get(name, earlier.get(name)) for _, name in CONFIGS
            if name in built or name in earlier]
    write_outputs(rows, args.json, args.md)
    return 0 if all(r["problem"] is None for r in built.values()) else 1


def write_outputs(rows: list[dict], json_path: str, md_path: str) -> None:
    """Print the table of ``rows`` and write it as JSON and Markdown."""
    headers = ["board", "config", "layers", "lanes", "logic cells", "FFs", "DSPs",
               "block RAMs", "clock MHz", "Fmax MHz", "seed", "verdict", "build s"]
    body = [[r["board"], r["name"], "-".join(map(str, r["config"]["layers"])),
             r["config"]["hardware"]["lanes"],
             f"{r['luts']} / {r['luts_available']} ({100 * r['luts'] / r['luts_available']:.1f} %)",
             r["ffs"], f"{r['dsps']} / {r['dsps_available']}",
             f"{r['brams']} / {r['brams_available']}", f"{r['clock_mhz']:g}",
             "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}", _tries(r),
             r["problem"] or "ok", f"{r['seconds']:.0f}"] for r in rows]
    print(table(headers, body, title="board builds (ghostfpga build), YoWASP Yosys + nextpnr"))
    write_json(json_path, {"builds": rows})
    Path(md_path).write_text(markdown_table(headers, body) + "\n")
    print(f"wrote {json_path} and {md_path}")


def _tries(row: dict) -> str:
    """The seed of the placement reported, and what earlier seeds reached."""
    tries = row.get("placements") or [{"seed": row.get("seed", 1), "fmax_mhz": row["fmax_mhz"]}]
    earlier = [f"{t['seed']}: " + ("-" if t["fmax_mhz"] is None else f"{t['fmax_mhz']:.1f}")
               for t in tries if t["seed"] != row.get("seed", 1)]
    return str(row.get("seed", 1)) + (f" ({', '.join(earlier)})" if earlier else "")


if __name__ == "__main__":
    sys.exit(run_stoppable(main, "boards.py"))
