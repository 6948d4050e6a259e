"""Neuron state: one bank of state memories per lane, and the owner of their shared ports.

Lane p owns unit j of every layer with j mod P == p, at word j // P of that layer's region; the
memories and what their regions hold are in hdl/statemap.py (``a`` or ``s``, ``Plan.inputs``,
holds the input rates x in the potential format, x << (error_frac - rate_frac)). Each memory has one read and one write
port (one block RAM apiece on small layers); where the plan says so (``Plan.rates_port``), ``a``
has a second read port, ``RATES``, for the learning passes' presynaptic rates alone (a copy of
the memory written with it: LUT RAM on the ECP5, where Yosys copies a memory of two read ports
itself; on the iCE40 a memory of its own, ``mem_a_copy``, since Yosys maps a memory with two
read ports there to flip-flops, not to two block RAMs: 6924 logic cells for the iCEBreaker
build, 5216 with the copy).

Reads are synchronous: data one cycle after the address, for reads enabled by ``<name>_ren``
(the data holds otherwise). The core enables exactly the reads it uses, so no enabled read
ever meets a write to the same word (hdl/memory.py).

With the fetch register (hdl/stages.py ``fetch_registers``) the sequencer's reads (the FETCH
tier) set an address and the banks' enables a cycle ahead, registered once each for all
banks: the counters' decode and the arbitration before the register, the address's route to
the banks across the device after it (``StateMemories.read``).

``StateMemories`` owns the ports of every bank: each read port and each write bus has an
``Arbiter`` (hdl/arbiter.py) that ranks its requesters: the sequencer's fetch (FETCH, in the
pass's FSM state), the write-backs (WRITEBACK, by pass index) and the element pipeline's
writes (ELEMENT); ``core.arbitration()`` lists them per port.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .arbiter import Arbiter, When
from .memory import block_ram

__all__ = ["StateBank", "StateMemories", "WriteBus", "RATES"]

RATES = "a_rates"
"""The second read port of ``a`` (``Plan.rates_port``): read like a memory of its own
(``StateMemories.read``, ``rdata``; its own ``Arbiter``), its words are ``a``'s."""


class StateBank(wiring.Component):
    """``depths`` maps a memory name to its word count (0: not built); all ``width`` bits.
    ``rates_port``: ``a`` has the second read port ``RATES``; ``copy``: on a memory of its own,
    written with ``a`` (the iCE40's block RAMs have one read port)."""

    def __init__(self, depths: dict[str, int], width: int, rates_port: bool = False,
                 copy: bool = False):
        self.depths = {k: v for k, v in depths.items() if v > 0}
        self.width = width
        self.rates_port = rates_port and "a" in self.depths
        self.copy = copy
        members = {}
        for name, depth in self.depths.items():
            bits = max(1, (max(depth, 2) - 1).bit_length())
            members |= {f"{name}_raddr": In(bits), f"{name}_ren": In(1),
                        f"{name}_rdata": Out(signed(width)),
                        f"{name}_waddr": In(bits), f"{name}_wdata": In(signed(width)),
                        f"{name}_we": In(1)}
            if name == "a" and self.rates_port:
                members |= {f"{RATES}_raddr": In(bits), f"{RATES}_ren": In(1),
                            f"{RATES}_rdata": Out(signed(width))}
        super().__init__(members)

    def readers(self) -> list[str]:
        """The read ports: one per memory, and ``RATES``."""
        return [*self.depths, *([RATES] if self.rates_port else [])]

    def _read(self, reader, rd):
        # every read port also reads during reset, so no read register is left undefined
        # (X in 4-state simulation) in a bank whose memory a pass never reads
        return [rd.addr.eq(getattr(self, f"{reader}_raddr")),
                rd.en.eq(getattr(self, f"{reader}_ren") | ResetSignal()),
                getattr(self, f"{reader}_rdata").eq(rd.data)]

    def elaborate(self, platform):
        m = Module()
        self.ports = {}   # read port -> (memory, read port, write port), for simulation checks
        for name, depth in self.depths.items():
            mem = block_ram(signed(self.width), depth)
            m.submodules[f"mem_{name}"] = mem
            rd, wr = mem.read_port(), mem.write_port()
            self.ports[name] = (mem, rd, wr)
            m.d.comb += [*self._read(name, rd),
                         wr.addr.eq(getattr(self, f"{name}_waddr")),
                         wr.data.eq(getattr(self, f"{name}_wdata")),
                         wr.en.eq(getattr(self, f"{name}_we"))]
            if name == "a" and self.rates_port:
                m.d.comb += self._read(RATES, self._rates_port(m, mem, wr))
        return m

    def _rates_port(self, m, mem, wr):
        """``RATES``'s read port: on ``a`` itself, or on its copy, written as ``a`` is."""
        if not self.copy:
            rates = mem.read_port()
            self.ports[RATES] = (mem, rates, wr)
            return rates
        m.submodules.mem_a_copy = copy = block_ram(mem.shape, mem.depth)
        rates, copy_wr = copy.read_port(), copy.write_port()
        m.d.comb += [copy_wr.addr.eq(wr.addr), copy_wr.data.eq(wr.data),
                     copy_wr.en.eq(wr.en)]
        self.ports[RATES] = (copy, rates, copy_wr)
        return rates


class WriteBus:
    """The write port of one state memory across all banks: one address, and either one data
    word for results computed once (``shared``, written to one bank) or a word per lane
    (``per_lane``); only the write enables are per bank. Its requesters go through its
    ``Arbiter`` (hdl/arbiter.py): ``when`` None is the FETCH tier (emitted now, in the
    caller's FSM state), else a deferred requester."""

    def __init__(self, m, name: str, banks: list[StateBank], width: int, fetcher,
                 ahead: bool = False):
        self.m, self.name, self.banks = m, name, banks
        # (``ahead``: the fetch register; the sequencer writes nothing, so nothing to apply)
        self.arbiter = Arbiter(m, f"{name} write", (lambda: None) if ahead else None)
        self.fetcher = fetcher   # () -> the name of the pass being emitted (FETCH tier)
        self.addr = Signal.like(getattr(banks[0], f"{name}_waddr"), name=f"{name}_waddr")
        self.shared_data = Signal(signed(width), name=f"{name}_wshared")
        self.lane_data = [Signal(signed(width), name=f"{name}_wlane{p}")
                          for p in range(len(banks))]
        self.use_lane = Signal(name=f"{name}_wuse_lane")
        self.we = [Signal(name=f"{name}_we{p}") for p in range(len(banks))]
        self.kinds = set()

    def _request(self, when: When | None, emit):
        if when is None:
            if self.arbiter.ahead is not None:
                raise NotImplementedError(f"{self.name}: a write from the sequencer's state "
                                          "with the fetch register (none is built)")
            self.arbiter.fetch(self.fetcher(), emit)
        else:
            self.arbiter.request(when, emit)

    def shared(self, addr, value, lane, when: When | None = None):
        """Write ``value`` at ``addr`` of the bank of lane ``lane``."""
        self.kinds.add("shared")
        def emit():
            m = self.m
            m.d.comb += [self.addr.eq(addr), self.shared_data.eq(value)]
            m.d.comb += [we.eq(lane == p) for p, we in enumerate(self.we)]
            if self.arbiter.ahead is not None:   # (a steered SPARE sets it: spare_lanes)
                m.d.comb += self.use_lane.eq(0)
        self._request(when, emit)

    def per_lane(self, addr, values: dict, enables: dict, when: When | None = None):
        """Write ``values[p]`` at ``addr`` of bank p where ``enables[p]``."""
        self._request(when, self._lanes(addr, values, enables))

    def _lanes(self, addr, values: dict, enables: dict):
        self.kinds.add("lane")
        def emit():
            m = self.m
            m.d.comb += [self.addr.eq(addr), self.use_lane.eq(1)]
            for p, value in values.items():
                m.d.comb += [self.lane_data[p].eq(value), self.we[p].eq(enables[p])]
        return emit

    def spare_lanes(self, who: str, wants, addr, values: dict, enables: dict):
        """The bus's SPARE requester (hdl/arbiter.py): ``per_lane``'s write in the cycles
        no other requester writes; returns its grant. With the fetch register (no FETCH
        request writes) its address and data are the bus's whenever no other requester's
        are, only its enables wait for the grant (``Arbiter.spare``'s ``steer``)."""
        if self.arbiter.ahead is None:
            return self.arbiter.spare(who, wants, self._lanes(addr, values, enables))
        self.kinds.add("lane")
        def steer():
            self.m.d.comb += [self.addr.eq(addr), self.use_lane.eq(1)]
            self.m.d.comb += [self.lane_data[p].eq(value) for p, value in values.items()]
        def enable():
            self.m.d.comb += [self.we[p].eq(enables[p]) for p in values]
        return self.arbiter.spare(who, wants, enable, steer)

    def connect(self):
        """Emit the deferred requesters, then drive the banks' write ports."""
        m = self.m
        self.arbiter.emit()
        for p, bank in enumerate(self.banks):
            if self.kinds == {"shared"}:
                data = self.shared_data
            elif self.kinds == {"lane"}:
                data = self.lane_data[p]
            else:
                data = Mux(self.use_lane, self.lane_data[p], self.shared_data)
            m.d.comb += [getattr(bank, f"{self.name}_waddr").eq(self.addr),
                         getattr(bank, f"{self.name}_wdata").eq(data),
                         getattr(bank, f"{self.name}_we").eq(self.we[p])]


class StateMemories:
    """The banks of every lane and the owner of their shared ports: a read ``Arbiter`` per
    memory (``read``), a ``WriteBus`` per memory (``writes``) and the read data of every
    bank (``rdata``). ``fetcher`` names the pass whose FSM state is being emitted (set by
    the sequencer): the FETCH-tier requester. ``ahead``: the fetch register (the module
    docstring)."""

    def __init__(self, m, banks: list[StateBank], width: int, ahead: bool = False):
        self.m, self.banks, self.width = m, banks, width
        self.depths = banks[0].depths
        self.fetcher = "core"
        self.staged = {}   # with ``ahead``: read port -> (address, the banks' enables)
        self.readers = {}
        for name in banks[0].readers():
            apply = None
            if ahead:
                bank = banks[0]
                addr = Signal.like(getattr(bank, f"{name}_raddr"), name=f"{name}_raddr_seq")
                enables = [Signal(name=f"{name}_ren_seq{p}") for p in range(len(banks))]
                self.staged[name] = (addr, enables)
                apply = self._apply(name, addr, enables)
            self.readers[name] = Arbiter(m, f"{name} read", apply)
        self.writes = {name: WriteBus(m, name, banks, width, lambda: self.fetcher, ahead)
                       for name in self.depths}

    def _apply(self, name, addr, enables):
        """The sequencer's read of port ``name``, registered (the fetch register): its
        address, once for all banks, and each bank's enable."""
        m = self.m
        addr_r = Signal.like(addr, name=f"{name}_raddr_ahead", reset_less=True)
        enables_r = [Signal(name=f"{name}_ren_ahead{p}") for p in range(len(enables))]
        m.d.sync += [addr_r.eq(addr), *(r.eq(e) for r, e in zip(enables_r, enables))]
        def apply():
            for bank, enable in zip(self.banks, enables_r):
                m.d.comb += [getattr(bank, f"{name}_raddr").eq(addr_r),
                             getattr(bank, f"{name}_ren").eq(enable)]
        return apply

    def read(self, name, addr, lane=None, enable=None, when: When | None = None):
        """Read word ``addr`` of state memory ``name`` (data next cycle): in every bank,
        only in bank ``lane`` when one unit's word is wanted (a feedback pass's broadcast
        error, an element walk's unit, a write-back's unit: the other banks' words at the
        address may be written meanwhile, hdl/schedule.py), or in the banks p where ``enable(p)``
        holds. ``when`` None: the FETCH tier, in the caller's FSM state."""
        staged = self.staged.get(name) if when is None else None   # (the fetch register)
        def emit():
            for p, bank in enumerate(self.banks):
                on = 1 if lane is None else lane == p
                if enable is not None:
                    on = enable(p)
                if staged is None:
                    self.m.d.comb += [getattr(bank, f"{name}_raddr").eq(addr),
                                      getattr(bank, f"{name}_ren").eq(on)]
                else:   # the sequencer's read, registered (``_apply``)
                    self.m.d.comb += staged[1][p].eq(on)
            if staged is not None:
                self.m.d.comb += staged[0].eq(addr)
        if when is None:
            self.readers[name].fetch(self.fetcher, emit)
        else:
            self.readers[name].request(when, emit)

    def rdata(self, name) -> list:
        """The word read from memory ``name`` in every bank."""
        return [getattr(bank, f"{name}_rdata") for bank in self.banks]

    def has(self, name) -> bool:
        """Whether memory (or read port) ``name`` is built."""
        return name in self.depths or name in self.readers

    def arbiters(self) -> list[Arbiter]:
        return [*self.readers.values(), *(bus.arbiter for bus in self.writes.values())]

    def connect(self):
        """Emit every port's deferred requesters (reads, then writes: separate signals)."""
        for reader in self.readers.values():
            reader.emit()
        for bus in self.writes.values():
            bus.connect()
