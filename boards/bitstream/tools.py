"""Running the FPGA tools: YoWASP builds from this Python's environment by default, native
ones when a variable names them (``YOSYS``, ``NEXTPNR_ICE40``, ``NEXTPNR_ECP5``, ``ICEPACK``,
``ECPPACK``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["tool_path", "run_tool", "logged_utilization", "routing_progress", "Placement",
           "place_and_route"]

# nextpnr's router progress lines: router1 "<iterations> | <routed> <delta> | ... |
# <arcs remaining> | <delta s> <total s>|", router2 "iter=<n> wires=... overused=<wires> ..."
_ROUTER1 = re.compile(r"Info:\s+\d+ \|\s+\d+\s+\d+ \|\s+\d+\s+\d+ \|\s+(\d+)\|"
                      r"\s+[\d.]+\s+([\d.]+)\|")
_ROUTER2 = re.compile(r"Info:\s+iter=(\d+) wires=\d+ overused=(\d+)")
PROGRESS_SECONDS = 60   # how often a long nextpnr run reports its router's progress


def logged_utilization(log: str) -> dict[str, tuple[int, int]]:
    """``{cell type: (used, available)}`` from nextpnr's "Device utilisation" lines."""
    found = re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)", log)
    return {name: (int(used), int(avail)) for name, used, avail in found}


def tool_path(name: str) -> str:
    """A YoWASP tool from this Python's environment (native tools may be named by variables
    such as YOSYS or NEXTPNR_ICE40)."""
    override = os.environ.get(name.removeprefix("yowasp-").upper().replace("-", "_"))
    if override:
        return override
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def routing_progress(log: str) -> str | None:
    """The router's latest progress in a nextpnr log, in words (None before routing): the
    arcs router1 still has to route, or the wires router2 still overuses."""
    last1, last2 = None, None
    for last1 in _ROUTER1.finditer(log):
        pass
    for last2 in _ROUTER2.finditer(log):
        pass
    if last2 is not None:
        return f"routing, {int(last2[2]):,} wires overused (iteration {last2[1]})"
    if last1 is not None:
        return f"routing, {int(last1[1]):,} arcs left to route"
    return None


def run_tool(cmd: list[str], cwd: Path, log: str | None = None, progress=None) -> None:
    """Run a tool in ``cwd``; a RuntimeError with its output's tail if it fails. With
    ``log`` (a file the tool writes in ``cwd``) and ``progress``, every ``PROGRESS_SECONDS``
    the router's latest progress in that log (``routing_progress``), when it changed. An
    interrupt (Ctrl-C) or any error stops the tool before it propagates."""
    cmd = [tool_path(cmd[0]), *cmd[1:]]
    with subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            told, started = None, time.monotonic()
            while True:
                try:
                    out, err = proc.communicate(timeout=PROGRESS_SECONDS if progress else None)
                    break
                except subprocess.TimeoutExpired:
                    path = Path(cwd) / log if log else None
                    if path is None or not path.is_file():
                        continue
                    news = routing_progress(path.read_text(errors="replace"))
                    if news is not None and news != told:
                        minutes = (time.monotonic() - started) / 60
                        progress(f"{minutes:.0f} min: {news}")
                        told = news
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if proc.returncode != 0:
        tail = (err or out)[-2000:]
        raise RuntimeError(f"{cmd[0]} failed (exit {proc.returncode}) in {cwd}:\n{tail}")


@dataclass
class Placement:
    """nextpnr's outcome: ``utilization`` maps a cell type to (used, available); ``fmax``
    maps each clock net to its achieved MHz (None when placement failed, with ``error``)."""

    utilization: dict[str, tuple[int, int]]
    fmax: dict[str, float] | None
    error: str | None = None

    def used(self, cell: str | None) -> tuple[int, int]:
        return self.utilization.get(cell, (0, 0))


def place_and_route(fpga, build_dir: Path, constraints: list[str], freq_mhz: float,
                    seed: int = 1, progress=None) -> Placement:
    """nextpnr for ``fpga`` (a ``ghostfpga.devices.FPGA``) on ``build_dir/top.json`` with
    timing failures allowed (the caller judges them); a design that does not fit returns the
    utilization nextpnr logged before giving up. ``progress``: told the router's progress
    while it routes (``run_tool``)."""
    try:
        run_tool([fpga.nextpnr, *fpga.nextpnr_args, "--json", "top.json", *constraints,
                  "--freq", str(freq_mhz), "--seed", str(seed), "--timing-allow-fail",
                  "--report", "report.json", "-l", "nextpnr.log", "-q"], build_dir,
                 log="nextpnr.log", progress=progress)
    except RuntimeError as exc:
        util = logged_utilization((build_dir / "nextpnr.log").read_text(errors="replace"))
        if fpga.cells[0] not in util:
            raise
        return Placement(util, None, str(exc).strip().splitlines()[-2][:200])
    report = json.loads((build_dir / "report.json").read_text())
    util = {k: (v["used"], v["available"]) for k, v in report["utilization"].items()}
    return Placement(util, {k: v["achieved"] for k, v in report["fmax"].items()})
