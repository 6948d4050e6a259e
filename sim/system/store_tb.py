"""cocotb testbench of the on-board training set's memory (boards/gateware/store.py): plays the
job's operations (GHOSTFPGA_JOB: ``[addr, data]`` writes, ``[addr, null]`` reads, one per
cycle) and writes to GHOSTFPGA_OUT what ``rdata`` holds GHOSTFPGA_LATENCY cycles after each read
(1 unless set), with the operations after it already on the inputs (as the executor uses it).
Run by tests/test_store.py."""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, Timer


@cocotb.test()
async def play(dut):
    with open(os.environ["GHOSTFPGA_JOB"]) as f:
        ops = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.we.value = 0
    await RisingEdge(dut.clk)
    latency = int(os.environ.get("GHOSTFPGA_LATENCY", "1"))
    reads, pending = [], []   # the cycles each read waits for yet
    for addr, data in ops + [[0, None]] * latency:
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        dut.addr.value = addr
        dut.we.value = int(data is not None)
        dut.wdata.value = data or 0
        # rdata, read by the executor while the later operations are on the inputs
        await Timer(1, unit="ns")
        pending = [wait - 1 for wait in pending]
        if pending and pending[0] == 0:
            reads.append(int(dut.rdata.value))
            pending.pop(0)
        if data is None:
            pending.append(latency)
    with open(os.environ["GHOSTFPGA_OUT"], "w") as f:
        json.dump(reads, f)
