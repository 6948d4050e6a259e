"""cocotb testbench of the generated core: runs a job through the one host-side driver
(sim/core/driver.py) on Verilator or Icarus and records what the core does.

Run by sim/core/cocotb_sim.py through the cocotb runner. The job (JSON, path in GHOSTFPGA_JOB) lists the
packed sample words with the learning-rate word to apply before each, and optionally lane
images (``load``) to write through the host port first; the testbench writes the results
(GHOSTFPGA_OUT): every result word, the cycle and sample counters, the busy cycles of each
sample and every weight word of every lane. Checking against the golden model happens in the
caller. Every wait has a cycle limit and fails loudly.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer

from ghostfpga.sim.core.driver import CoreDriver
from ghostfpga.sim.lifetime import die_with_owner


class CocotbPorts:
    """The core's ports on a cocotb ``dut``: ``tick`` waits for the rising edge and 1 ns more,
    when every value has settled and writes are allowed (they reach the core before the next
    edge, as in Amaranth's testbenches)."""

    def __init__(self, dut):
        self.dut = dut

    def set(self, name, value):
        handle = getattr(self.dut, name)
        handle.value = int(value) & ((1 << len(handle)) - 1)

    def get(self, name, signed=False):
        value = getattr(self.dut, name).value
        return value.to_signed() if signed else int(value)

    async def tick(self):
        await RisingEdge(self.dut.clk)
        await Timer(1, unit="ns")


@cocotb.test()
async def run_job(dut):
    die_with_owner()
    job = json.loads(open(os.environ["GHOSTFPGA_JOB"]).read())
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    ports = CocotbPorts(dut)
    driver = CoreDriver(ports, int(job["cycle_limit"]))
    dut.rst.value = 1
    driver.idle_inputs()
    ports.set("eta", 0)
    for _ in range(2):
        await ports.tick()
    dut.rst.value = 0
    await ports.tick()
    out = await driver.run(job)
    with open(os.environ["GHOSTFPGA_OUT"], "w") as f:
        json.dump(out, f)
