"""The element pipeline: one unit a cycle through element-wise updates (stages E0 to E3 of
hdl/stages.py). A walk fetches unit c of a layer at E0 (its ``a`` word, with ``d`` and any
other words it names); at E1 the words are read (``e_a``, ...) and the update computed; at E2
the write is registered (``element_writes``), written at E3.

A walk over the output's drives right after the forward pass that computed them (one lane
each) takes its first units' drives from the lanes' accumulators, not from ``a``
(hdl/events.py ``forwards_drives``).

Its users: the argmax over the output drives (the result), the output's fixed-point iterations
(sweep: ``settle``, a pipeline of one iteration per stage), and under dynamics the Euler steps
of the output units and the ghosts, the errors, and the learned ghosts' saved state.
"""

from __future__ import annotations

from amaranth.hdl import Mux, Signal, signed, unsigned

from .arbiter import Tier, When
from .arith import materialize, pick, round_shift_from
from .events import forwarded_units, forwards_drives
from .stages import bits

__all__ = ["Elements"]


class Elements:
    """The element pipeline's registers, its updates (built once) and its writes."""

    def __init__(self, b):
        self.b = b
        m, fmt, count = b.m, b.fmt, b.count
        sizes = b.config.layers
        self.valid, self.j = Signal(name="e_valid"), Signal.like(count.c, name="e_j")
        self.lane, self.word = Signal.like(count.cl, name="e_lane"), \
            Signal.like(count.cw, name="e_word")
        self.op = Signal(b.program.pass_bits, name="e_op")
        # the registers a walk sets in the sequencer's cycle: these, or, with the fetch
        # register, registers a cycle ahead of them (``Build.ahead``)
        self.fetched = {key: b.ahead(getattr(self, key))
                        for key in ("valid", "j", "lane", "word", "op")}
        m.d.sync += [self.fetched["valid"].eq(0)]
        self.a = self._unit_a()
        self.best = Signal(signed(fmt.potential_bits))
        self.best_idx = Signal.like(count.label)
        self.outputs = [Signal(unsigned(fmt.rate_frac + 1), name=f"out{j}")
                        for j in range(sizes[-1])]
        self.result_pending = Signal(name="result_pending")   # offered, not yet taken
        # a result offered or still being compared: the core takes no sample meanwhile
        self.result_busy = Signal(name="result_busy")
        margin = b.config.target_margin
        self.y_lo, self.y_hi = int(fmt.target(margin)), int(fmt.target(1.0 - margin))
        self.update = self._updates() if b.dynamics else {}
        self.writes = {name: dict(valid=Signal(name=f"el_{name}_valid"),
                                  addr=Signal.like(bus.addr, name=f"el_{name}_addr"),
                                  lane=Signal(bits(b.P), name=f"el_{name}_lane"),
                                  data=Signal(signed(b.width), name=f"el_{name}_data"))
                       for name, bus in b.state.writes.items()}
        for reg in self.writes.values():
            m.d.sync += reg["valid"].eq(0)
        self.written = set()   # the memories an element pass writes

    def _unit_a(self):
        """The unit's ``a`` word at E1: the a-word select's (``Issue.picked_a``), or, for the
        first units of a walk over the output's drives just computed (hdl/events.py
        ``forwards_drives``, ``forwarded_units``; ``forward`` set at E1), lane j's drive for
        unit j (the word the write-back writes to ``a`` at P0, ``WriteBack.drives``). After
        the select, not through it: the select also feeds the broadcast operand, and a
        drive there put the accumulator's saturation in front of the operand's path (32.7
        ns on the 8-lane UP5K core, the critical path). A forwarded unit holds the select
        all the same, so no transposed write-back reads ``picked_a`` in its cycle and
        theirs registers this word too (``WriteBack.write_tree``)."""
        b, m = self.b, self.b.m
        self.forwarded = {n for n in range(len(b.program.passes))
                          if forwards_drives(b.program, n)}
        picked = b.issue.picked_a
        if not self.forwarded:
            return picked
        self.forward = Signal(name="e_forward")
        self.fetched["forward"] = b.ahead(self.forward)
        m.d.sync += self.fetched["forward"].eq(0)
        drives = b.writeback.drives[:forwarded_units(b.program)]   # (unit j in lane j)
        drive = drives[0] if len(drives) == 1 else Mux(self.lane[0], drives[1], drives[0])
        a = Signal.like(picked, name="e_a")
        m.d.comb += a.eq(Mux(self.forward, drive, picked))
        return a

    def _updates(self) -> dict:
        """Dynamics: the element updates (docs/numerics.md), each built once."""
        b = self.b
        m, fmt = b.m, b.fmt
        rdata = b.state.rdata
        e_a, e_d = self.a, pick(m, rdata("d"), self.lane, "element_d")
        rho_a, rho_d = b.rho(e_a), b.rho(e_d)
        nudge = round_shift_from(b.count.label == self.j, self.y_hi, self.y_lo, rho_a,
                                 fmt.beta_shift)
        update = {"output": b.euler(e_a, b.narrow(e_d + nudge)), "error": rho_a - rho_d}
        if b.tied_ghosts:
            e_h = pick(m, rdata("h"), self.lane, "element_h")
            update["source"] = rho_a - b.rho(e_h)
            update["ghost"] = b.euler(e_h, e_d)
        else:
            update["source"] = rho_a
        if b.learned:   # V's error and the ghost state from the free phase; a ghost step
            e_g, e_gs, e_e = (pick(m, rdata(name), self.lane, f"element_{name}")
                              for name in ("g", "gs", "e"))
            update["verror"] = rho_a - b.rho(e_g)
            update["gcopy"] = e_g
            update["gstep"] = b.euler(e_gs, e_e)
        return {key: materialize(m, value, f"element_{key}") for key, value in update.items()}

    def walk(self, n, layer, reads=None):
        """Fetch unit c of ``layer`` (a-index) into the pipeline, one a cycle: its a word
        (and d, and the memories ``reads`` = {name: region base}) is read one cycle later,
        with ``valid`` and ``op`` = n; the pass leaves with its last unit's fetch. A walk
        over the output's drives just computed (hdl/events.py ``forwards_drives``) takes
        its first units' words from their lanes' accumulators instead (``_unit_a``), so it
        starts two cycles before a read of ``a`` would see them."""
        b, m, count = self.b, self.b.m, self.b.count
        # only the unit's bank where the schedule lets the walk start while the others'
        # words are still written (Program.reads_one_bank); else every bank (less logic)
        one = count.cl if b.program.reads_one_bank(n) else None
        def read_a():
            b.state.read("a", b.smap.base("a", layer) + count.cw, one)
        if n in self.forwarded:   # forwarded units: their lanes' drives (``_unit_a``)
            forwarded = count.c < forwarded_units(b.program)
            m.d.sync += self.fetched["forward"].eq(forwarded)
            with m.If(~forwarded):
                read_a()
        else:
            read_a()
        if b.dynamics:
            b.state.read("d", b.smap.base("d", layer) + count.cw, one)
        for name, base in (reads or {}).items():
            b.state.read(name, base + count.cw, one)
        walk = self.fetched
        m.d.sync += [walk["valid"].eq(1), walk["j"].eq(count.c), walk["lane"].eq(count.cl),
                     walk["word"].eq(count.cw), walk["op"].eq(n)]
        b.issue.select_a(count.cl)
        with m.If(count.c == b.config.layers[layer + 1] - 1):
            count.reset_c()
            b.sequencer.leave(n)
        with m.Else():
            count.step_c()

    def argmax_pipeline(self, n):
        """The argmax of pass ``n``'s walk over the output units, and the result stream:
        each unit's a word (after the bank select) registered, then compared (the highest
        drive wins, the lowest index a tie) and its rate kept; the registers hold the last
        unit from E3 (its registered drive compared at E2) and are offered as the
        result (label and output rates) until it is taken. The core takes no sample while a
        result waits or is being compared (``result_busy``, hdl/sequencer.py), so the next
        walk never overwrites one."""
        b, m, result = self.b, self.b.m, self.b.core.result
        valid, j, a = Signal(name="argmax_valid"), Signal.like(self.j, name="argmax_j"), \
            Signal.like(self.a, name="argmax_a")
        m.d.sync += [valid.eq(self.valid & (self.op == n)), j.eq(self.j), a.eq(self.a)]
        with m.If(result.ready):
            m.d.sync += self.result_pending.eq(0)
        # where the lanes spread over the device, the winner's index is set a cycle after
        # its comparison and the label offered is a copy of it taken a cycle after that
        # (``_offer``)
        spread = b.plan.lane_copies
        offered, compared = self._offer(valid & (j == len(self.outputs) - 1))
        if spread:   # the winner's index a cycle later, from the comparison's register
            won, won_j = Signal(name="argmax_won"), Signal.like(j, name="argmax_won_j")
            m.d.sync += [won.eq(valid & ((j == 0) | (a > self.best))), won_j.eq(j)]
            with m.If(won):
                m.d.sync += self.best_idx.eq(won_j)
        with m.If(valid):
            with m.If((j == 0) | (a > self.best)):
                if spread:
                    m.d.sync += self.best.eq(a)
                else:
                    m.d.sync += [self.best.eq(a), self.best_idx.eq(j)]
            out_rate = Signal.like(self.outputs[0])
            m.d.comb += out_rate.eq(b.rate(a))
            for k in range(len(self.outputs)):
                with m.If(j == k):
                    m.d.sync += self.outputs[k].eq(out_rate)
            if compared is None:
                with m.If(j == len(self.outputs) - 1):
                    m.d.sync += self.result_pending.eq(1)
        busy = self.result_pending | valid | (self.valid & (self.op == n))
        m.d.comb += self.result_busy.eq(busy if compared is None else busy | compared)
        m.d.comb += [result.valid.eq(self.result_pending),
                     result.payload.label.eq(offered)]
        m.d.comb += [result.payload.outputs[k].eq(out)
                     for k, out in enumerate(self.outputs)]

    def _offer(self, last):
        """The label the result offers, and the flag of the cycles between the last unit's
        comparison and the offer (None: none). Where the lanes spread over the device
        (``Plan.lane_copies``) the comparison sets a register (``argmax_won``) that sets
        the winner's index a cycle later, and the index is copied into a register of its
        own a cycle after that, when the result is offered: the comparison's enable went to
        the index the link reads, placed by it across the device (13.3 ns, the ULX3S
        digits build's critical path at 75 MHz), and then to the index alone, placed 67
        rows from the comparison (12.9 ns, the same build's critical path after the
        copy). Elsewhere the index itself, offered with the last comparison."""
        b, m = self.b, self.b.m
        if not b.plan.lane_copies:
            return self.best_idx, None
        won_last, copy = Signal(name="argmax_won_last"), Signal(name="argmax_copy")
        offered = Signal.like(self.best_idx, name="result_label")
        m.d.sync += [won_last.eq(last), copy.eq(won_last)]
        with m.If(copy):
            m.d.sync += [offered.eq(self.best_idx), self.result_pending.eq(1)]
        return offered, won_last | copy

    def write(self, memory, addr, value):
        """Write ``value`` for the pipeline's unit one cycle later (at E3)."""
        reg = self.writes[memory]
        self.written.add(memory)
        self.b.m.d.sync += [reg["valid"].eq(1), reg["addr"].eq(addr),
                            reg["lane"].eq(self.lane), reg["data"].eq(value)]

    def settle_pipeline(self, n):
        """Sweep: per output unit, K fixed-point iterations under the nudge, one iteration per
        stage after the unit's registered a word (stage i holds u_i); the last is registered,
        then s is written (the write-back of pass ``n``, SETTLE), ``settle_write_lag(K)``
        cycles after the unit's fetch (hdl/stages.py)."""
        b, m, fmt = self.b, self.b.m, self.b.fmt
        K = b.config.settle_iterations
        # ``hit``: the unit is the label's (target y_hi, else y_lo); the unit's a word (after
        # the bank select) is registered before the first iteration (a cut of the path from
        # the state memories' read through the select into the iteration)
        hit = Signal(name="hit0")
        m.d.comb += hit.eq(b.count.label == self.j)
        first = dict(valid=self.valid & (self.op == n) & b.count.train, lane=self.lane,
                     word=self.word, a=self.a, hit=hit)
        stage = {key: Signal.like(val, name=f"settle0_{key}") for key, val in first.items()}
        m.d.sync += [stage[key].eq(val) for key, val in first.items()]
        stage["u"] = stage["a"]
        for i in range(1, K + 1):
            nudge = round_shift_from(stage["hit"], self.y_hi, self.y_lo, b.rho(stage["u"]),
                                     fmt.beta_shift)
            u_next = b.narrow(stage["a"] + nudge)
            if i == K:
                break
            regs = {key: Signal.like(val, name=f"settle{i}_{key}")
                    for key, val in stage.items() if key != "u"}
            regs["u"] = Signal(signed(fmt.potential_bits), name=f"settle{i}_u")
            m.d.sync += [regs[key].eq(val) for key, val in stage.items() if key != "u"]
            m.d.sync += regs["u"].eq(u_next)
            stage = regs
        last = {key: Signal.like(stage[key], name=f"settled_{key}")
                for key in ("valid", "lane", "word", "a")}
        last["u"] = Signal(signed(fmt.potential_bits), name="settled_u")
        m.d.sync += [last[key].eq(stage[key]) for key in last if key != "u"]
        m.d.sync += last["u"].eq(u_next)
        source = b.rho(last["u"]) if b.held else b.rho(last["u"]) - b.rho(last["a"])
        b.state.writes["s"].shared(b.smap.base("s", b.plan.L - 1) + last["word"], source,
                                   last["lane"], b.writeback.when(n, "settled source",
                                                                  last["valid"]))

    def connect(self):
        """The registered writes: the ELEMENT tier, above every other requester of the write
        buses."""
        for name, reg in self.writes.items():
            if name not in self.written:   # (no element pass writes it: no requester)
                continue
            self.b.state.writes[name].shared(reg["addr"], reg["data"], reg["lane"],
                                             When(Tier.ELEMENT, 0, "element write at E3",
                                                  reg["valid"]))
