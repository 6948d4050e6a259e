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
from dataclasses import dataclass
from pathlib import Path

__all__ = ["tool_path", "run_tool", "logged_utilization", "Placement", "place_and_route"]


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


def run_tool(cmd: list[str], cwd: Path) -> None:
    cmd = [tool_path(cmd[0]), *cmd[1:]]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-2000:]
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
                    seed: int = 1) -> Placement:
    """nextpnr for ``fpga`` (a ``ghostfpga.devices.FPGA``) on ``build_dir/top.json`` with
    timing failures allowed (the caller judges them); a design that does not fit returns the
    utilization nextpnr logged before giving up."""
    try:
        run_tool([fpga.nextpnr, *fpga.nextpnr_args, "--json", "top.json", *constraints,
                  "--freq", str(freq_mhz), "--seed", str(seed), "--timing-allow-fail",
                  "--report", "report.json", "-l", "nextpnr.log", "-q"], build_dir)
    except RuntimeError as exc:
        util = logged_utilization((build_dir / "nextpnr.log").read_text(errors="replace"))
        if fpga.cells[0] not in util:
            raise
        return Placement(util, None, str(exc).strip().splitlines()[-2][:200])
    report = json.loads((build_dir / "report.json").read_text())
    util = {k: (v["used"], v["available"]) for k, v in report["utilization"].items()}
    return Placement(util, {k: v["achieved"] for k, v in report["fmax"].items()})
