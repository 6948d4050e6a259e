"""cocotb testbench of the system top: a UART on its pins and a pyserial-like port on the host
side, so that the real host driver (boards/host/device.py) runs against the simulated board.

Run by sim/system/cocotb_sim.py. The job (JSON, path in GHOSTFPGA_JOB) names a host function
``module:function``, its arguments, the clock and the UART divisor; the function is called as
``function(port, **args)`` through cocotb's ``bridge`` and its result is written as JSON to
GHOSTFPGA_OUT. The port's read timeout is simulated time.
"""

from __future__ import annotations

import importlib
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import Event, FallingEdge, First, RisingEdge, Timer
from cocotb.utils import get_sim_time

from ghostfpga.sim.lifetime import die_with_owner


class SimPort:
    """The host side of the simulated UART: ``write`` queues bytes for the ``rx`` pin,
    ``read`` waits (in simulated time, at most ``timeout`` s) for bytes from ``tx``."""

    def __init__(self, dut, bit_ps: int, clock_ps: int):
        self.dut, self.bit_ps, self.clock_ps = dut, bit_ps, clock_ps
        self.timeout = 1.0
        self.port = "sim"
        self.is_open = True
        self._to_device = bytearray()
        self._from_device = bytearray()
        self._arrived = Event()
        self.bytes_sent = 0

    def write(self, data: bytes) -> int:
        self._to_device += bytes(data)
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self._from_device)

    @resume
    async def read(self, n: int = 1) -> bytes:
        deadline = get_sim_time("ps") + int(self.timeout * 1e12)
        while len(self._from_device) < n:
            left = deadline - get_sim_time("ps")
            if left <= 0:
                break
            self._arrived.clear()
            await First(self._arrived.wait(), Timer(left, unit="ps"))
        out = bytes(self._from_device[:n])
        del self._from_device[:n]
        return out

    def take(self) -> bytes:
        """Every byte from the device so far, without waiting."""
        out = bytes(self._from_device)
        self._from_device.clear()
        return out

    @property
    def pending(self) -> int:
        """Bytes queued for the device's rx pin."""
        return len(self._to_device)

    @resume
    async def idle(self, cycles: int) -> None:
        """Let ``cycles`` clock cycles of simulated time pass."""
        await Timer(cycles * self.clock_ps, unit="ps")

    def reset_input_buffer(self) -> None:
        self._from_device.clear()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.is_open = False

    def clock(self) -> float:
        """Seconds of simulated time (the host driver's deadlines run on it)."""
        return get_sim_time("ps") / 1e12

    @property
    def cycles(self) -> int:
        """Clock cycles simulated so far."""
        return get_sim_time("ps") // self.clock_ps

    async def drive_rx(self):
        rx = self.dut.rx
        while True:
            if not self._to_device:
                await Timer(self.bit_ps, unit="ps")
                continue
            b = self._to_device.pop(0)
            for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
                rx.value = bit
                await Timer(self.bit_ps, unit="ps")
            self.bytes_sent += 1

    async def watch_tx(self):
        tx = self.dut.tx
        while True:
            await FallingEdge(tx)
            await Timer(self.bit_ps + self.bit_ps // 2, unit="ps")
            value = 0
            for i in range(8):
                value |= int(tx.value) << i
                await Timer(self.bit_ps, unit="ps")
            if int(tx.value) == 1:   # the stop bit
                self._from_device.append(value)
                self._arrived.set()


@cocotb.test()
async def run_host_job(dut):
    die_with_owner()
    with open(os.environ["GHOSTFPGA_JOB"]) as f:
        job = json.load(f)
    clock_ps = int(job["clock_ps"])
    cocotb.start_soon(Clock(dut.clk, clock_ps, unit="ps").start())
    dut.rx.value = 1
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    for _ in range(int(job.get("start_cycles", 3))):   # (a board top: its own reset hold)
        await RisingEdge(dut.clk)
    port = SimPort(dut, int(job["divisor"]) * clock_ps, clock_ps)
    cocotb.start_soon(port.drive_rx())
    cocotb.start_soon(port.watch_tx())
    module, name = job["function"].split(":")
    function = getattr(importlib.import_module(module), name)
    result = await bridge(function)(port, **job["args"])
    with open(os.environ["GHOSTFPGA_OUT"], "w") as f:
        json.dump(result, f)
