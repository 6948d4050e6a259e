"""No simulator outlives the command that started it.

The cocotb runner starts the simulator (the Verilator model, or Icarus's ``vvp``) as a child
of the ghostfpga process. A command stopped by SIGINT, SIGTERM or SIGHUP unwinds through the
runner's ``subprocess.run``, which kills that child; a command killed outright (SIGKILL, an
out-of-memory kill) unwinds nothing. For that case the testbench, first thing in the simulator,
asks the kernel to kill the simulator when its parent goes (Linux ``PR_SET_PDEATHSIG``), and
ends at once if the parent is already gone. The parent's pid travels in ``GHOSTFPGA_OWNER``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["owner_env", "die_with_owner"]

OWNER_ENV = "GHOSTFPGA_OWNER"
_PR_SET_PDEATHSIG = 1


def owner_env() -> dict[str, str]:
    """The environment that names this process as the simulator's owner."""
    return {OWNER_ENV: str(os.getpid())}


def die_with_owner() -> None:
    """In the simulator: be killed when the owner process ends (no-op without an owner, or
    outside Linux)."""
    owner = os.environ.get(OWNER_ENV)
    if owner is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        return   # the kernel refused: the signal handlers of the owner still apply
    if os.getppid() != int(owner):   # the owner ended before the request took effect
        os._exit(1)
