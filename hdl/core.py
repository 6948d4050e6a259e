"""The learning core: P MAC lanes, neuron state, and the sequencer that runs one sample.

Ports (amaranth.lib.wiring):

- ``sample`` (stream in): ``x`` (input rates, ``rate_frac + 1`` bits each), ``label``, ``train``.
- ``result`` (stream out): ``label`` (argmax of the output drive of the free phase) and
  ``outputs`` (output rates). Sent for every sample, before the learning of a training sample.
- host weight port (use while ``busy`` is low): ``host_lane``, ``host_addr``, ``host_write``,
  ``host_wdata``; ``host_rdata`` holds the word at ``host_lane``/``host_addr`` one cycle later.
- ``eta`` (in): the per-layer learning-rate multipliers lr_l / beta, read during learning, so the
  host may change them between samples (a decay schedule).
- ``busy``, ``cycles`` (cycles spent busy) and ``samples`` (samples finished).

Each pass issues one operation per cycle to every lane; a pass whose results the next one reads
is followed by a 3-cycle drain. The cycle count of a sample is measured by the testbenches.
"""

from __future__ import annotations

import math

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel, FixedParams
from ghostfpga.golden.numerics import OPERAND_BITS, lane_seed_positions, lfsr_table, quantize

from .arith import clamp, round_shift, saturate
from .lane import LaneOp, MacLane
from .plan import Plan

__all__ = ["GhostCore", "sample_layout", "result_layout"]

DRAIN = 3  # cycles from the last issue of a pass to its last state write


def _bits(n: int) -> int:
    return max(1, (max(n, 1) - 1).bit_length())


def sample_layout(config: Config) -> data.StructLayout:
    n = config.numerics
    return data.StructLayout({
        "x": data.ArrayLayout(unsigned(n.rate_frac + 1), config.layers[0]),
        "label": unsigned(_bits(config.layers[-1])),
        "train": unsigned(1),
    })


def result_layout(config: Config) -> data.StructLayout:
    n = config.numerics
    return data.StructLayout({
        "label": unsigned(_bits(config.layers[-1])),
        "outputs": data.ArrayLayout(unsigned(n.rate_frac + 1), config.layers[-1]),
    })


class GhostCore(wiring.Component):
    """The core for ``config``; weights start as the config's quantized initialization (or
    ``params``) and can be loaded or read back through the host port."""

    def __init__(self, config: Config, params: FixedParams | None = None):
        self.config = config
        self.plan = plan = Plan(config)
        self.fmt = plan.fmt
        self.params = params if params is not None else FixedModel(config).params
        super().__init__({
            "sample": In(stream.Signature(sample_layout(config))),
            "result": Out(stream.Signature(result_layout(config))),
            "host_lane": In(_bits(plan.lanes)),
            "host_addr": In(_bits(plan.depth)),
            "host_write": In(1),
            "host_wdata": In(signed(self.fmt.weight_bits)),
            "host_rdata": Out(signed(self.fmt.weight_bits)),
            "eta": In(data.ArrayLayout(unsigned(self.fmt.eta_bits), config.n_layers)),
            "busy": Out(1),
            "cycles": Out(32),
            "samples": Out(32),
        })

    # -- helpers building expressions ---------------------------------------------------------
    def _rho(self, v):
        return clamp(v, 0, self.fmt.error_one, self.fmt.error_frac + 2)

    def _rate(self, v):
        fmt = self.fmt
        return round_shift(self._rho(v), fmt.error_frac - fmt.rate_frac)[:fmt.rate_frac + 1]

    def _narrow(self, v):
        return saturate(v, self.fmt.potential_bits)

    def elaborate(self, platform):
        m = Module()
        cfg, plan, fmt = self.config, self.plan, self.fmt
        P, L, sizes = plan.lanes, plan.L, cfg.layers
        pb = fmt.potential_bits

        # -- lanes ----------------------------------------------------------------------------
        images = plan.lane_images(self.params)
        seeds = lfsr_table()[lane_seed_positions(fmt.lfsr_seed, P)]
        lanes = []
        for p in range(P):
            lane = MacLane(fmt, plan.depth, images[p], int(seeds[p]))
            m.submodules[f"lane{p}"] = lane
            lanes.append(lane)
            m.d.comb += [lane.host_addr.eq(self.host_addr),
                         lane.host_write.eq(self.host_write & (self.host_lane == p)),
                         lane.host_wdata.eq(self.host_wdata)]
        host_lane_q = Signal.like(self.host_lane)
        m.d.sync += host_lane_q.eq(self.host_lane)
        m.d.comb += self.host_rdata.eq(Array(l.host_rdata for l in lanes)[host_lane_q])

        # -- neuron state -----------------------------------------------------------------------
        x = [Signal(unsigned(fmt.rate_frac + 1), name=f"x{i}") for i in range(sizes[0])]
        a = [[Signal(signed(pb), name=f"a{k}_{j}") for j in range(sizes[k + 1])]
             for k in range(L)]
        u = [[Signal(signed(pb), name=f"u{k}_{j}") for j in range(sizes[k + 1])]
             for k in range(L)]
        h = [[Signal(signed(pb), name=f"h{k}_{j}") for j in range(sizes[k + 1])]
             for k in range(L - 1)] if cfg.variant == "replay" else []
        label = Signal(unsigned(_bits(sizes[-1])))
        train = Signal()

        def rates_in(k, src, index):
            """Presynaptic rate ``index`` of weight layer k (x, or the rate of layer k's state;
            1.0 past the last unit, for the bias): one mux, then one rate conversion."""
            n = sizes[k]
            if k == 0:
                value = Array(x)[index]
            else:
                value = self._rate(Array(src[k - 1])[index])
            return Mux(index >= n, fmt.rate_one, value)

        def error_of(u_value, a_value):
            return (self._rho(u_value) - self._rho(a_value))[:OPERAND_BITS].as_signed()

        def lane_rows(k, rows):
            """This lane's (u, a) of layer k at the current row group."""
            return Array(u[k][j] for j in rows)[g], Array(a[k][j] for j in rows)[g]

        # targets in the error format, as golden FixedModel.quantize_target computes them
        margin = cfg.target_margin
        y_lo = int(quantize(margin, fmt.error_frac, fmt.error_frac + 1, signed=False))
        y_hi = int(quantize(1.0 - margin, fmt.error_frac, fmt.error_frac + 1, signed=False))

        # -- issue bundle (combinational, driven by the sequencer) -----------------------------
        op_kind = [Signal(2, name=f"op{p}") for p in range(P)]
        first = Signal()
        addr = Signal.like(lanes[0].addr)
        operands = [Signal(signed(OPERAND_BITS), name=f"operand{p}") for p in range(P)]
        eta_sel = Signal(unsigned(fmt.eta_bits))
        for p, lane in enumerate(lanes):
            m.d.comb += [lane.op.eq(op_kind[p]), lane.first.eq(first), lane.addr.eq(addr),
                         lane.operand.eq(operands[p]), lane.eta.eq(eta_sel)]

        # tags travel with the issue to stage 3, where results are written back
        program = plan.program()
        tag_bits = _bits(len(program) + 1)
        idx_bits = _bits(max(max(sizes), max(s.groups for s in plan.slots.values())) + 1)
        tag = [dict(op=Signal(tag_bits, name=f"tag{d}_op"), valid=Signal(name=f"tag{d}_valid"),
                    last=Signal(name=f"tag{d}_last"), first=Signal(name=f"tag{d}_first"),
                    index=Signal(idx_bits, name=f"tag{d}_index")) for d in range(4)]
        for d in range(1, 4):
            m.d.sync += [tag[d][key].eq(tag[d - 1][key]) for key in tag[d]]
        t3 = tag[3]

        # transposed passes: adder tree over the lanes' stage-2 products, then a running sum
        tree = Signal(signed(fmt.accumulator_bits))
        m.d.sync += tree.eq(sum(Mux(l.product_valid, l.product, 0) for l in lanes))
        fb_acc = Signal(signed(fmt.accumulator_bits))
        fb_total = Signal(signed(fmt.accumulator_bits))
        m.d.comb += fb_total.eq(Mux(t3["first"], tree, fb_acc + tree))
        with m.If(t3["valid"]):
            m.d.sync += fb_acc.eq(fb_total)

        # -- counters ---------------------------------------------------------------------------
        g = Signal(idx_bits)            # group of rows
        c = Signal(_bits(max(s.cols for s in plan.slots.values()) + 3))  # column / element
        it = Signal(_bits(max(cfg.settle_iterations, 2)))
        drain = Signal(range(DRAIN + 1))
        best = Signal(signed(pb))
        best_idx = Signal.like(label)
        m.d.comb += self.busy.eq(~self.sample.ready)
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        def next_after(n):
            return f"op{n + 1}" if n + 1 < len(program) else "finish"

        def issue_rows(n, slot, op, operand_of, last_col):
            """Issue column c of group g of ``slot`` to every lane holding a row."""
            m.d.comb += addr.eq(slot.base + g * slot.cols + c)
            for p in range(P):
                rows = list(range(p, slot.rows, P))
                with m.If(g < len(rows)):
                    m.d.comb += [op_kind[p].eq(op), operands[p].eq(operand_of(p, rows))]
            m.d.comb += [tag[0]["op"].eq(n), tag[0]["valid"].eq(1), tag[0]["index"].eq(g),
                         tag[0]["last"].eq(last_col)]

        def advance(inner, inner_n, outer, outer_n, done_state):
            with m.If(inner == inner_n - 1):
                m.d.sync += inner.eq(0)
                with m.If(outer == outer_n - 1):
                    m.d.sync += outer.eq(0)
                    m.next = done_state
                with m.Else():
                    m.d.sync += outer.eq(outer + 1)
            with m.Else():
                m.d.sync += inner.eq(inner + 1)

        # -- the sequencer ----------------------------------------------------------------------
        post = []  # stage-3 write-backs, emitted after the FSM (they are not states)
        with m.FSM(init="idle"):
            with m.State("idle"):
                m.d.comb += self.sample.ready.eq(1)
                with m.If(self.sample.valid):
                    payload = self.sample.payload
                    m.d.sync += [x[i].eq(payload.x[i]) for i in range(sizes[0])]
                    m.d.sync += [label.eq(payload.label), train.eq(payload.train),
                                 g.eq(0), c.eq(0), it.eq(0)]
                    m.next = "op0"

            for n, op in enumerate(program):
                kind = op[0]
                state = f"op{n}"
                drain_state = f"drain{n}"
                if kind == "fwd":
                    k = op[1]
                    slot = plan.slots[("W", k)]
                    operand = rates_in(k, u, c)
                    with m.State(state):
                        issue_rows(n, slot, LaneOp.MAC, lambda p, rows: operand,
                                   c == slot.cols - 1)
                        m.d.comb += first.eq(c == 0)
                        advance(c, slot.cols, g, slot.groups, drain_state)
                    # stage 3: every lane writes the drive of its row
                    def write_drives(n=n, k=k, slot=slot):
                        shift = fmt.weight_frac + fmt.rate_frac - fmt.error_frac
                        values = [self._narrow(round_shift(lane.acc, shift)) for lane in lanes]
                        with m.If(t3["valid"] & (t3["op"] == n) & t3["last"]):
                            for j in range(slot.rows):
                                with m.If(t3["index"] == j // P):
                                    m.d.sync += [a[k][j].eq(values[j % P]),
                                                 u[k][j].eq(values[j % P])]
                    post.append(write_drives)
                elif kind == "argmax":
                    out = Array(a[L - 1])
                    with m.State(state):
                        with m.If((c == 0) | (out[c] > best)):
                            m.d.sync += [best.eq(out[c]), best_idx.eq(c)]
                        with m.If(c == sizes[-1] - 1):
                            m.d.sync += c.eq(0)
                            m.next = next_after(n)
                        with m.Else():
                            m.d.sync += c.eq(c + 1)
                    continue
                elif kind == "result":
                    with m.State(state):
                        m.d.comb += [self.result.valid.eq(1),
                                     self.result.payload.label.eq(best_idx)]
                        m.d.comb += [self.result.payload.outputs[j].eq(self._rate(a[L - 1][j]))
                                     for j in range(sizes[-1])]
                        with m.If(self.result.ready):
                            with m.If(train):
                                m.next = next_after(n)
                            with m.Else():
                                m.next = "finish"
                    continue
                elif kind == "settle":
                    out_u, out_a = Array(u[L - 1]), Array(a[L - 1])
                    with m.State(state):
                        y = Mux(label == c, y_hi, y_lo)
                        nudge = round_shift(y - self._rho(out_u[c]), fmt.beta_shift)
                        m.d.sync += out_u[c].eq(self._narrow(out_a[c] + nudge))
                        advance(c, sizes[-1], it, cfg.settle_iterations, next_after(n))
                    continue
                elif kind in ("fb", "hold"):
                    k = op[1]
                    nudged = kind == "fb"
                    if cfg.feedback == "transpose":
                        slot = plan.slots[("W", k + 1)]
                        if cfg.variant == "tied":
                            def operand_of(p, rows, k=k):
                                return error_of(*lane_rows(k + 1, rows))
                        else:
                            def operand_of(p, rows, k=k):
                                return self._rho(lane_rows(k + 1, rows)[0])
                        with m.State(state):
                            # column c of W_{k+1} (= unit c of layer k), all row groups
                            m.d.comb += addr.eq(slot.base + g * slot.cols + c)
                            for p in range(P):
                                rows = list(range(p, slot.rows, P))
                                with m.If(g < len(rows)):
                                    m.d.comb += [op_kind[p].eq(LaneOp.MAC),
                                                 operands[p].eq(operand_of(p, rows))]
                            m.d.comb += [tag[0]["op"].eq(n), tag[0]["valid"].eq(1),
                                         tag[0]["index"].eq(c), tag[0]["first"].eq(g == 0),
                                         tag[0]["last"].eq(g == slot.groups - 1)]
                            advance(g, slot.groups, c, sizes[k + 1], drain_state)
                        def write_tree(n=n, k=k, nudged=nudged):
                            feedback = self._narrow(round_shift(fb_total, fmt.weight_frac))
                            units = list(range(sizes[k + 1]))
                            self._write_feedback(m, cfg, k, [(units, t3["index"], feedback)],
                                                 t3["valid"] & (t3["op"] == n) & t3["last"],
                                                 a, u, h, nudged)
                        post.append(write_tree)
                    else:
                        slot = plan.slots[("B", k)]
                        u_c, a_c = Array(u[k + 1])[c], Array(a[k + 1])[c]
                        operand = error_of(u_c, a_c) if cfg.variant == "tied" else self._rho(u_c)
                        with m.State(state):
                            issue_rows(n, slot, LaneOp.MAC, lambda p, rows: operand,
                                       c == slot.cols - 1)
                            m.d.comb += first.eq(c == 0)
                            advance(c, slot.cols, g, slot.groups, drain_state)
                        def write_rows(n=n, k=k, nudged=nudged):
                            values = [self._narrow(round_shift(lane.acc, fmt.weight_frac))
                                      for lane in lanes]
                            entries = [(list(range(p, sizes[k + 1], P)), t3["index"], values[p])
                                       for p in range(min(P, sizes[k + 1]))]
                            self._write_feedback(m, cfg, k, entries,
                                                 t3["valid"] & (t3["op"] == n) & t3["last"],
                                                 a, u, h, nudged)
                        post.append(write_rows)
                elif kind == "learn":
                    k = op[1]
                    slot = plan.slots[("W", k)]
                    pre = rates_in(k, a, (c - 2)[:len(c)])   # free presynaptic rates (sweep)
                    with m.State(state):
                        m.d.comb += [addr.eq(slot.base + g * slot.cols + c - 2),
                                     eta_sel.eq(self.eta[k])]
                        for p in range(P):
                            rows = list(range(p, slot.rows, P))
                            with m.If(g < len(rows)):
                                with m.If(c == 0):
                                    m.d.comb += [op_kind[p].eq(LaneOp.ETA),
                                                 operands[p].eq(error_of(*lane_rows(k, rows)))]
                                with m.Elif(c >= 2):
                                    m.d.comb += [op_kind[p].eq(LaneOp.LEARN),
                                                 operands[p].eq(pre)]
                        nxt = program[n + 1][0] if n + 1 < len(program) else None
                        advance(c, slot.cols + 2, g, slot.groups,
                                next_after(n) if nxt == "learn" else drain_state)
                    if nxt == "learn":
                        continue
                else:  # pragma: no cover
                    raise AssertionError(kind)
                with m.State(drain_state):
                    with m.If(drain == DRAIN - 1):
                        m.d.sync += drain.eq(0)
                        m.next = next_after(n)
                    with m.Else():
                        m.d.sync += drain.eq(drain + 1)

            with m.State("finish"):
                m.d.sync += [self.samples.eq(self.samples + 1), g.eq(0), c.eq(0), it.eq(0)]
                m.next = "idle"
        for emit in post:
            emit()
        return m

    def _write_feedback(self, m, cfg, k, entries, enable, a, u, h, nudged):
        """Write feedback values to hidden layer k. Each entry ``(units, select, value)`` gives
        ``value`` to unit ``units[select]``. The potential becomes a + feedback (tied), the hold
        register the feedback (replay, free phase), or a + (feedback - held) (replay, nudged).
        One adder per entry, not one per unit."""
        target = h if (cfg.variant == "replay" and not nudged) else u
        for units, select, value in entries:
            a_sel = Array(a[k][i] for i in units)[select]
            if cfg.variant == "tied":
                new = self._narrow(a_sel + value)
            elif not nudged:
                new = value
            else:
                h_sel = Array(h[k][i] for i in units)[select]
                new = self._narrow(a_sel + self._narrow(value - h_sel))
            for q, i in enumerate(units):
                with m.If(enable & (select == q)):
                    m.d.sync += target[k][i].eq(new)
