"""The simulated board: the system top's Verilog under cocotb (Verilator or Icarus), with a host
function driving it through a pyserial-like port (sim/tb_system.py).

``run_on_board(config, "ghostfpga.sim.board_jobs:train_job", args)`` builds (cached) and runs
one job; the result is what the function returned.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from amaranth.back import verilog

from ghostfpga.boards.system import SystemTop
from ghostfpga.config import Config

from .cosim import DEFAULT_BUILD_ROOT, build_verilog
from .lifetime import owner_env

__all__ = ["run_on_board", "SYSTEM_TOP"]

SYSTEM_TOP = "ghost_system"


def system_verilog(config: Config, divisor: int | None = None) -> str:
    top = SystemTop(config, divisor)
    return verilog.convert(top, name=SYSTEM_TOP, emit_src=False)


def run_on_board(config: Config, function: str, args: dict, simulator: str = "verilator",
                 divisor: int | None = None, build_root: Path = DEFAULT_BUILD_ROOT) -> dict:
    """Run ``function(port, **args)`` against the simulated system top; returns its result
    (a JSON-able dict) with ``sim_seconds`` added: wall time of the simulation."""
    from cocotb_tools.runner import get_runner

    divisor = config.link.divisor if divisor is None else divisor
    build_dir = build_verilog(system_verilog(config, divisor), SYSTEM_TOP, config, simulator,
                              build_root)
    run_dir = build_dir / f"run-{os.getpid()}-{time.monotonic_ns()}"
    run_dir.mkdir()
    job = {"function": function, "args": args, "divisor": divisor,
           "clock_ps": 2 * round(5e5 / config.link.clock_mhz)}   # even: two half periods
    (run_dir / "job.json").write_text(json.dumps(job))
    out = run_dir / "out.json"
    # the runner hands the simulator this Python's sys.path as PYTHONPATH
    start = time.perf_counter()
    get_runner(simulator).test(test_module="ghostfpga.sim.tb_system", hdl_toplevel=SYSTEM_TOP,
                               hdl_toplevel_lang="verilog", build_dir=build_dir,
                               test_dir=run_dir,
                               extra_env={"GHOSTFPGA_JOB": str(run_dir / "job.json"),
                                          "GHOSTFPGA_OUT": str(out)} | owner_env(),
                               log_file=run_dir / "sim.log")
    seconds = time.perf_counter() - start
    if not out.exists():
        log = (run_dir / "sim.log").read_text(errors="replace")[-4000:]
        raise RuntimeError(f"the simulated board's job failed; log tail:\n{log}")
    result = json.loads(out.read_text())
    shutil.rmtree(run_dir, ignore_errors=True)
    return result | {"sim_seconds": seconds}
