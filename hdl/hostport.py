"""The core's host weight writes as each lane sees them (hdl/core.py connects them).

The host writes lane ``host_lane``'s weight at ``host_addr`` while the core is idle (``busy``
low); its reads go through the sequencer's fetch (hdl/sequencer.py). Where the lanes spread
over the device (``Plan.lane_copies``) each lane takes a write (its strobe, word and
address) from flip-flops of its own, one edge after the port, so the host's strobe, word and
address reach 32 flip-flops, each beside its lane, rather than every lane's block-RAM write
port across the device (the executor's state into every lane's write enable was the ULX3S
MNIST build's critical path, 14.6 ns; its word register, pulled towards the lanes, the
digits build's: docs/hardware.md). The strobe's lane decode is registered beside each lane
and ``busy`` gates it there from a per-lane copy, each a cycle late, so a write lands exactly
when a register of the whole strobe would land it. A lane's learning-write address comes
from a copy of its own there too. Elsewhere every lane reads the port itself, as before:
their Verilog is unchanged.
"""

from amaranth.hdl import Mux, Signal

from .stages import lane_copies

__all__ = ["HostWrites"]


class HostWrites:
    """Per lane: ``write`` (the strobe, gated by ``busy``), ``wdata``; ``waddr(p, ...)``
    the lane's write address. ``registered``: each a cycle after the port (a write lands a
    cycle later; the host reads only after its writes, and a sample's first weight access
    comes many cycles after it is taken)."""

    def __init__(self, m, core, lanes: int, apart: bool):
        self.registered = apart
        if not apart:
            self.write = [core.host_write & (core.host_lane == p) & ~core.busy
                          for p in range(lanes)]
            self.wdata = [core.host_wdata] * lanes
            return
        # the strobe a cycle after the port, as a register of the strobe above, but with the
        # lane's decode registered apart from ``busy``: ``busy`` (the sequencer's registers)
        # reaches each lane through a copy of its own, a cycle later, and gates the decode
        # there, so neither crosses the device through the other's logic (the sequencer's
        # ``out_of_idle`` through ``busy`` and the lane decode into the 32 strobe registers
        # was a ULX3S digits build's critical path, 11.7 ns)
        idle_before = lane_copies(m, ~core.busy, 1, "host_idle", lanes, True)
        self.write = []
        for p in range(lanes):
            decoded = Signal(name=f"host_write_to_lane{p}")
            m.d.sync += decoded.eq(core.host_write & (core.host_lane == p))
            write = Signal(name=f"host_write_lane{p}")
            m.d.comb += write.eq(decoded & idle_before[p])
            self.write.append(write)
        # the word and the address, read only with the strobe, carry no reset (the reset's
        # route through their enables to 32 lanes was a ULX3S digits build's critical
        # path, 11.7 ns)
        self.wdata = lane_copies(m, core.host_wdata, 1, "host_wdata", lanes, True, data=True)
        self.addr = lane_copies(m, core.host_addr, 1, "host_addr", lanes, True, data=True)

    def waddrs(self, learning: list) -> list:
        """Each lane's weight write address (registered only): the host's in its write's
        cycle, else the lane's learning write's (``learning``, one per lane)."""
        assert self.registered, "unregistered lanes share one write address (hdl/operands.py)"
        return [Mux(write, host, own) for write, host, own in zip(self.write, self.addr, learning)]
