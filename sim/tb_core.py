"""cocotb testbench of the generated core: drives a job of samples, records what the core does.

Run by sim/cosim.py through the cocotb runner. The job (JSON, path in GHOSTFPGA_JOB) lists the
packed sample words with the learning-rate word to apply before each, and optionally lane
images (``load``) to write through the host port first; the testbench writes the
results (GHOSTFPGA_OUT): every result word, the cycle and sample counters and, at the end, every
weight word of every lane. Checking against the golden model happens in the caller. Every wait
has a cycle limit and fails loudly.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


class Timeout(AssertionError):
    pass


async def wait_for(dut, signal, limit: int, what: str) -> None:
    """Wait (in the read-only phase before an edge) until ``signal`` is 1, at most ``limit``
    cycles."""
    for _ in range(limit):
        await ReadOnly()
        if int(signal.value) == 1:
            return
        await RisingEdge(dut.clk)
    raise Timeout(f"timed out after {limit} cycles waiting for {what}")


@cocotb.test()
async def run_job(dut):
    job = json.loads(open(os.environ["GHOSTFPGA_JOB"]).read())
    limit = int(job["cycle_limit"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.sample__valid.value = 0
    dut.result__ready.value = 1
    dut.host_write.value = 0
    dut.host_lane.value = 0
    dut.host_addr.value = 0
    dut.eta.value = 0
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    mask = (1 << len(dut.host_wdata)) - 1
    for lane, words in enumerate(job.get("load") or []):   # weights through the host port
        for addr, w in enumerate(words):
            dut.host_lane.value = lane
            dut.host_addr.value = addr
            dut.host_wdata.value = int(w) & mask
            dut.host_write.value = 1
            await RisingEdge(dut.clk)
    dut.host_write.value = 0

    results, stamps = [], []
    for n, (word, eta) in enumerate(zip(job["samples"], job["etas"])):
        dut.eta.value = eta
        dut.sample__payload.value = word
        dut.sample__valid.value = 1
        await wait_for(dut, dut.sample__ready, limit, f"sample {n} to be taken")
        stamps.append(int(dut.cycles.value))
        await RisingEdge(dut.clk)
        dut.sample__valid.value = 0
        await wait_for(dut, dut.result__valid, limit, f"the result of sample {n}")
        results.append(int(dut.result__payload.value))
        await RisingEdge(dut.clk)
    for _ in range(limit):
        await ReadOnly()
        if int(dut.busy.value) == 0:
            break
        await RisingEdge(dut.clk)
    else:
        raise Timeout(f"timed out after {limit} cycles waiting for the core to finish")
    await RisingEdge(dut.clk)
    cycles, samples = int(dut.cycles.value), int(dut.samples.value)
    stamps.append(cycles)

    weights = []
    for lane, depth in enumerate(job["lane_words"]):
        words = []
        for addr in range(depth):
            dut.host_lane.value = lane
            dut.host_addr.value = addr
            for _ in range(job["host_read_latency"]):
                await RisingEdge(dut.clk)
            await ReadOnly()
            words.append(dut.host_rdata.value.to_signed())
            await RisingEdge(dut.clk)
        weights.append(words)

    with open(os.environ["GHOSTFPGA_OUT"], "w") as f:
        json.dump({"results": results, "cycles": cycles, "samples": samples,
                   "sample_cycles": [b - a for a, b in zip(stamps, stamps[1:])],
                   "weights": weights}, f)
