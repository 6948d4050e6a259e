"""Neuron state of one lane: the rows it owns, in block RAM.

Lane p owns unit j of every layer with j mod P == p, at word j // P of that layer's region.
Three memories, one read and one write port each (one block RAM apiece on small layers):

- ``a``: the input rates x (stored in the potential format, x << (error_frac - rate_frac)) and
  the bottom-up drive a_l of every layer;
- ``s``: the feedback source of every layer after the nudged phase: the error
  rho(u) - rho(a) (tied ghosts) or the nudged rate rho(u) (replay ghosts);
- ``h``: the feedback held at the end of the free phase (replay ghosts only).

Reads are synchronous: data one cycle after the address, for reads enabled by ``<name>_ren``
(the data holds otherwise). The core enables exactly the reads it uses, so no enabled read
ever meets a write to the same word (hdl/memory.py).
"""

from __future__ import annotations

from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .memory import block_ram

__all__ = ["StateBank"]


class StateBank(wiring.Component):
    """``depths`` maps a memory name to its word count (0: not built); all ``width`` bits."""

    def __init__(self, depths: dict[str, int], width: int):
        self.depths = {k: v for k, v in depths.items() if v > 0}
        self.width = width
        members = {}
        for name, depth in self.depths.items():
            bits = max(1, (max(depth, 2) - 1).bit_length())
            members |= {f"{name}_raddr": In(bits), f"{name}_ren": In(1),
                        f"{name}_rdata": Out(signed(width)),
                        f"{name}_waddr": In(bits), f"{name}_wdata": In(signed(width)),
                        f"{name}_we": In(1)}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        self.ports = {}   # name -> (memory, read port, write port), for simulation checks
        for name, depth in self.depths.items():
            mem = block_ram(signed(self.width), depth)
            m.submodules[f"mem_{name}"] = mem
            rd, wr = mem.read_port(), mem.write_port()
            self.ports[name] = (mem, rd, wr)
            m.d.comb += [rd.addr.eq(getattr(self, f"{name}_raddr")),
                         rd.en.eq(getattr(self, f"{name}_ren")),
                         getattr(self, f"{name}_rdata").eq(rd.data),
                         wr.addr.eq(getattr(self, f"{name}_waddr")),
                         wr.data.eq(getattr(self, f"{name}_wdata")),
                         wr.en.eq(getattr(self, f"{name}_we"))]
        return m
