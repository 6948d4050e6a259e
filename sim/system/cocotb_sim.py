"""The simulated board: the system top's Verilog under cocotb (Verilator or Icarus), with a host
function driving it through a pyserial-like port (sim/system/cocotb_tb.py).

``run_on_board(config, "ghostfpga.sim.system.jobs:train_job", args)`` builds (cached) and runs
one job; the result is what the function returned. ``serve_board`` serves the simulated board
on a TCP port (``ghostfpga sim-board``) until the process is stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from amaranth.back import verilog

from ghostfpga.boards.gateware.system import SystemTop
from ghostfpga.config import Config

from ..cocotb_build import DEFAULT_BUILD_ROOT, build_verilog
from ..lifetime import owner_env

__all__ = ["run_on_board", "serve_board", "port_problem", "SYSTEM_TOP"]

SYSTEM_TOP = "ghost_system"


def system_verilog(config: Config, divisor: int | None = None, store: str = "memory") -> str:
    top = SystemTop(config, divisor, store=store)
    return verilog.convert(top, name=SYSTEM_TOP, emit_src=False)


def run_on_board(config: Config, function: str, args: dict, simulator: str = "verilator",
                 divisor: int | None = None, build_root: Path = DEFAULT_BUILD_ROOT,
                 netlist: bool = False, design: str | None = None,
                 start_cycles: int = 3) -> dict:
    """Run ``function(port, **args)`` against the simulated system top; returns its result
    (a JSON-able dict) with ``sim_seconds`` added: wall time of the simulation, and
    ``collisions``: what the strict block-RAM model reported. ``netlist``: the system top as
    Yosys synthesizes it for the config's device, with its cell models (sim/netlist.py).
    ``design``: other Verilog with the system top's ports (a board build's netlist,
    sim/system/board_netlist.py), whose host job starts ``start_cycles`` after the reset."""
    from cocotb_tools.runner import get_runner

    from ..netlist import COLLISION, system_netlist

    divisor = config.link.divisor if divisor is None else divisor
    if design is None:
        design = system_netlist(config, simulator, divisor) if netlist else \
            system_verilog(config, divisor)
    build_dir = build_verilog(design, SYSTEM_TOP, config, simulator, build_root)
    run_dir = build_dir / f"run-{os.getpid()}-{time.monotonic_ns()}"
    run_dir.mkdir()
    job = {"function": function, "args": args, "divisor": divisor,
           "start_cycles": start_cycles,
           "clock_ps": 2 * round(5e5 / config.link.clock_mhz)}   # even: two half periods
    (run_dir / "job.json").write_text(json.dumps(job))
    out = run_dir / "out.json"
    # the runner hands the simulator this Python's sys.path as PYTHONPATH
    start = time.perf_counter()
    try:
        get_runner(simulator).test(test_module="ghostfpga.sim.system.cocotb_tb",
                                   hdl_toplevel=SYSTEM_TOP, hdl_toplevel_lang="verilog",
                                   build_dir=build_dir, test_dir=run_dir,
                                   extra_env={"GHOSTFPGA_JOB": str(run_dir / "job.json"),
                                              "GHOSTFPGA_OUT": str(out)} | owner_env(),
                                   log_file=run_dir / "sim.log")
    except SystemExit:   # (cocotb's runner exits when its test fails: reported below)
        pass
    seconds = time.perf_counter() - start
    if not out.exists():
        raise RuntimeError(_job_failure((run_dir / "sim.log").read_text(errors="replace")))
    result = json.loads(out.read_text())
    collisions = [line.strip() for line in (run_dir / "sim.log").read_text(
        errors="replace").splitlines() if COLLISION in line]
    shutil.rmtree(run_dir, ignore_errors=True)
    return result | {"sim_seconds": seconds, "collisions": collisions}


def _job_failure(log: str) -> str:
    """What the simulated board's job died of: the exception its log ends with (the host
    driver's error: another config on the device, a timeout), and where the log is."""
    import re

    errors = re.findall(r"^\s*([\w.]*(?:Error|Exception|Timeout)\w*: .*)$", log, re.MULTILINE)
    if errors:
        return f"the simulated board's job failed: {errors[-1].strip()}"
    return f"the simulated board's job failed; log tail:\n{log[-4000:]}"


def port_problem(listen: int) -> str | None:
    """Why the simulated board cannot listen on ``127.0.0.1:listen`` (None: it can); checked
    before the simulator is built, so a busy port is refused with a message."""
    if not 1 <= listen <= 65535:
        return f"--listen must be a TCP port in 1..65535, not {listen}"
    try:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", listen))
    except OSError as exc:
        return f"cannot listen on 127.0.0.1:{listen} ({exc.strerror})"
    return None


class BoardStopTimeout(RuntimeError):
    """The simulated board did not stop within its deadline after being asked to."""


def serve_board(config: Config, listen: int, on_ready: Callable[[], None],
                stop_seconds: float = 120.0, netlist: bool = False) -> str | None:
    """Serve ``config``'s simulated board on ``127.0.0.1:listen`` (one client at a time; the
    board keeps its state between clients, as a real one does) until a KeyboardInterrupt
    in the calling thread (Ctrl-C, or SIGTERM / SIGHUP turned into one by the caller's
    handler: ghostfpga.stopping), then stop the simulator within ``stop_seconds``.
    ``on_ready`` runs once the board listens; ``netlist``: the synthesized system top
    (``run_on_board``). Returns the stopping signal's name ("Ctrl-C"
    by default), or None when the board ended by itself; raises the board's error, or
    ``BoardStopTimeout``."""
    with tempfile.TemporaryDirectory() as tmp:
        ready, stop = Path(tmp) / "ready", Path(tmp) / "stop"
        outcome: dict = {}
        # the serving thread says it is done by an Event: after a KeyboardInterrupt inside
        # Thread.join, CPython 3.11 may report the thread stopped while it still runs
        done = threading.Event()

        def serve():
            try:
                outcome["result"] = run_on_board(
                    config, "ghostfpga.sim.system.jobs:serve_job",
                    {"listen": listen, "ready": str(ready), "stop": str(stop)},
                    netlist=netlist)
            except Exception as exc:   # raised in the calling thread
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=serve, daemon=True).start()
        stopped = None
        try:
            while not ready.exists() and not done.is_set():
                time.sleep(0.05)
            if ready.exists():
                on_ready()
            while not done.wait(0.2):
                pass
        except KeyboardInterrupt as exc:   # Ctrl-C, SIGTERM or SIGHUP: the server's end
            stop.touch()   # the simulated board sees it within one turn of its loop
            if not done.wait(stop_seconds):
                raise BoardStopTimeout(f"the simulated board did not stop within "
                                       f"{stop_seconds:g} s") from None
            stopped = getattr(exc, "name", "Ctrl-C")
    if "error" in outcome:
        raise outcome["error"]
    return stopped
