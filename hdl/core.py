"""The learning core: P MAC lanes, lane-banked neuron state, and the sequencer of one sample.

Ports (amaranth.lib.wiring):

- ``sample`` (stream in): ``x`` (input rates, ``rate_frac + 1`` bits each), ``label``,
  ``train``. The core reads ``x`` into its state memories before it takes the sample
  (``ceil(n_0 / P)`` cycles), so the payload must stay stable while ``valid`` is high, as the
  stream protocol requires.
- ``result`` (stream out): ``label`` (argmax of the output drive of the free phase; the lowest
  index wins a tie) and ``outputs`` (output rates). Sent for every sample, before learning.
- host weight port (while ``busy`` is low): ``host_lane``, ``host_addr``, ``host_write``,
  ``host_wdata``; ``host_rdata`` holds the addressed word ``HOST_READ_LATENCY`` cycles later
  (reads go through the lanes and the adder tree; one address a cycle).
- ``eta`` (in): per-layer learning-rate multipliers lr_l / beta, read during learning, so the
  host may change them between samples (a decay schedule).
- ``busy``, ``cycles`` (cycles spent busy) and ``samples`` (samples finished).

Pipeline: F (the sequencer addresses the state memories) -> I (operands selected) -> O
(operands registered, issued to the lanes) -> lane stages 1, 2 -> post stages p0, p1, p2
(results written back to the state memories). A pass whose results the next pass reads is
followed by a drain (``DRAIN`` cycles, ``DRAIN_FEEDBACK`` for transposed feedback). The program
of passes is ``Plan.program()``.
"""

from __future__ import annotations

import math

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel, FixedParams
from ghostfpga.golden.numerics import LANE_ROTATION, OPERAND_BITS, quantize

from .arith import floor_shift, lfsr_next, materialize, rate, rho, round_shift, saturate
from .lane import LaneOp, MacLane
from .plan import Plan
from .state import StateBank

__all__ = ["GhostCore", "sample_layout", "result_layout", "POST", "DRAIN", "DRAIN_FEEDBACK",
           "HOST_READ_LATENCY"]

POST = 5            # stages from fetch (F) to the first post stage: F, I, O, lane 1, lane 2
DRAIN = POST        # cycles from the last fetch of a pass to its last state write
DRAIN_FEEDBACK = POST + 3  # the same for transposed feedback through the adder tree
HOST_READ_LATENCY = POST + 1   # clock edges from host_addr/host_lane to host_rdata


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


# operand sources of the issue stage
class _Src:
    NONE, RATE, RHO_A, S, ERR, HOST, RHO_G, RATE_G, ERR_V, ERR_Q, RHO_GS, RATE_FA = range(12)
    COUNT = 12


# the rounding constant a MAC pass starts its accumulators with (lane mac_shifts)
class _Round:
    FWD, FEEDBACK, NONE = range(3)


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

    # -- expression helpers (the golden FixedModel's rho, rate, narrowing) -------------------
    def _rho(self, m, v):
        return rho(m, v, self.fmt.error_frac)

    def _rate(self, m, v):
        return rate(m, v, self.fmt.error_frac, self.fmt.rate_frac)

    def _narrow(self, m, v):
        return saturate(m, v, self.fmt.potential_bits)

    def elaborate(self, platform):
        m = Module()
        cfg, plan, fmt = self.config, self.plan, self.fmt
        P, L, sizes = plan.lanes, plan.L, cfg.layers
        # replay and learned ghosts leave a feedback to subtract in h (the held feedback, or
        # the ghost output c = Q rho(g)), and s holds nudged rates rho(u)
        held = cfg.variant in ("replay", "learned")
        learned = cfg.variant == "learned"
        words = [math.ceil(n / P) for n in sizes]

        # -- state regions: a holds x then a_0 .. a_{L-1}; s holds s_0 ..; h holds h_0 .. ------
        a_base = {"x": 0}
        base = words[0]
        for k in range(L):
            a_base[k] = base
            base += words[k + 1]
        a_depth = base
        s_base = {k: sum(words[1:k + 1]) for k in range(L)}
        s_depth = sum(words[1:])
        dynamics = cfg.schedule == "dynamics"
        tied_ghosts = dynamics and cfg.variant == "tied"
        if tied_ghosts:   # h holds the ghost state g_k, mirroring layer k + 1
            h_base = {k: sum(words[2:k + 2]) for k in range(L - 1)}
            h_depth = sum(words[2:L + 1])
        else:             # h holds the feedback held at the end of the free phase
            h_base = {k: sum(words[1:k + 1]) for k in range(L - 1)}
            h_depth = sum(words[1:L]) if held else 0
        d_base = s_base   # dynamics: the drives of the current state
        d_depth = s_depth if dynamics else 0
        # learned ghosts: g_k (ghost drives, mirroring layer k + 1) and q_k (Q's error)
        g_base = {k: sum(words[2:k + 2]) for k in range(L - 1)}
        g_depth = sum(words[2:L + 1]) if learned else 0
        q_base = h_base
        q_depth = h_depth if learned else 0
        # learned ghosts under dynamics: their state gs_k and drive e_k (g keeps the free
        # drives), V's error v_k, and the free rates fa_k of the hidden layers, for learning
        fa_base = h_base
        ld_depth = g_depth if learned and dynamics else 0
        fa_depth = q_depth if learned and dynamics else 0
        width = max(fmt.potential_bits, OPERAND_BITS)

        # -- lanes and state banks ----------------------------------------------------------
        fwd_shift = fmt.weight_frac + fmt.rate_frac - fmt.error_frac
        images = plan.lane_images(self.params)
        lanes, banks = [], []
        for p in range(P):
            lane = MacLane(fmt, plan.depth, images[p], plan.lane_accumulator_bits,
                           mac_shifts=(fwd_shift, fmt.weight_frac, 0))
            bank = StateBank({"a": a_depth, "s": s_depth, "h": h_depth, "d": d_depth,
                              "g": g_depth, "q": q_depth, "gs": ld_depth, "e": ld_depth,
                              "v": ld_depth, "fa": fa_depth}, width)
            m.submodules[f"lane{p}"] = lane
            m.submodules[f"state{p}"] = bank
            lanes.append(lane)
            banks.append(bank)
            m.d.comb += [lane.host_write.eq(self.host_write & (self.host_lane == p) & ~self.busy),
                         lane.host_wdata.eq(self.host_wdata)]
        self.lanes, self.banks = lanes, banks   # for simulation checks

        def read(name, addr, lane=None, enable=None):
            """Read word ``addr`` of state memory ``name`` (data next cycle): in every bank,
            only in bank ``lane`` when one unit's word is wanted, or in the banks p where
            ``enable(p)`` holds. Reading every bank is safe where the pass writes another
            region; the element walks and write-backs, which read and write one region,
            read one bank."""
            for p, bank in enumerate(banks):
                on = 1 if lane is None else lane == p
                if enable is not None:
                    on = enable(p)
                m.d.comb += [getattr(bank, f"{name}_raddr").eq(addr),
                             getattr(bank, f"{name}_ren").eq(on)]

        def real_columns(slot):
            """In the columns layout, the banks whose lane holds a real input column (not the
            bias, not padding) in chunk c."""
            return lambda p: c < -(-(slot.cols - 1 - p) // P)

        writes = {name: _WriteBus(name, banks, width) for name in banks[0].depths}
        drives = []     # each lane's accumulator as a drive (a narrowed potential)
        for p, lane in enumerate(lanes):
            drive = Signal(signed(fmt.potential_bits), name=f"drive{p}")
            m.d.comb += drive.eq(self._narrow(m, floor_shift(lane.acc, fwd_shift)))
            drives.append(drive)

        # -- fetch stage (F): combinational controls set by the sequencer ----------------------
        f_op = [Signal(2, name=f"f_op{p}") for p in range(P)]
        f_src = Signal(_bits(_Src.COUNT))
        f_bcast = Signal()                      # operand from lane f_bsel's bank, not own
        f_bsel = Signal(_bits(P))
        f_bias = Signal()                       # operand is the bias input 1.0
        f_own_bias = Signal()                   # lane f_bias_lane's own operand is 1.0
        f_bias_lane = Signal(_bits(P))
        f_first = Signal()
        f_round = Signal(2)                     # the accumulators' rounding (_Round)
        f_learn = Signal()                      # a learning pass
        f_update = Signal()                     # LEARN issued (the LFSR steps)
        f_addr = Signal.like(lanes[0].addr)
        f_eta = Signal(_bits(L + 1))            # learning rate: layer k, or L for ghosts

        def delay(value, stages, name):
            """``value`` after ``stages`` clock cycles (a chain of registers)."""
            for i in range(stages):
                reg = Signal.like(value, name=f"{name}_d{i + 1}")
                m.d.sync += reg.eq(value)
                value = reg
            return value

        # the issue stage (I) selects operands with the fetch's controls, registered once
        i_src, i_bcast, i_bsel = (delay(f_src, 1, "src"), delay(f_bcast, 1, "bcast"),
                                  delay(f_bsel, 1, "bsel"))
        i_bias, i_own_bias = delay(f_bias, 1, "bias"), delay(f_own_bias, 1, "own_bias")
        i_bias_lane, i_host_lane = delay(f_bias_lane, 1, "bias_lane"), \
            delay(self.host_lane, 1, "host_lane")
        # the operand stage (O) registers each lane's operand and op; controls shared by all
        # lanes are pipelined once: the weight address at O, eta at lane stage 1, first, the
        # rounding choice and the write address at stage 2 (LEARN writes at stage 3).
        o_op = [delay(f_op[p], 2, f"op{p}") for p in range(P)]
        o_addr, o_eta = delay(f_addr, 2, "addr"), delay(f_eta, 2, "eta")
        s2_addr = delay(o_addr, 2, "addr_o")
        s3_addr = delay(s2_addr, 1, "addr_s2")
        s2_first, s2_round = delay(f_first, 4, "first"), delay(f_round, 4, "round")
        s2_learn, s2_update = delay(f_learn, 4, "learn"), delay(f_update, 4, "update")
        # one LFSR for all lanes: it steps in every cycle a LEARN is at lane stage 2, and lane p
        # reads the new state rotated by p * LANE_ROTATION bits (golden/numerics.lane_random)
        lfsr, random = Signal(16, init=fmt.lfsr_seed), Signal(16)
        m.d.comb += random.eq(lfsr_next(lfsr))
        if fmt.stochastic:
            with m.If(s2_update):
                m.d.sync += lfsr.eq(random)
        s1_eta = Signal(unsigned(fmt.eta_bits))
        # the ghosts' learning rate is the config's ghost_lr, a constant (golden model)
        etas = [self.eta[k] for k in range(L)]
        if learned:
            etas.append(fmt.eta_mantissa(cfg.ghost_lr, "ghost_lr"))
        m.d.sync += s1_eta.eq(Array(etas)[o_eta])
        lane_raddr = Signal.like(f_addr)
        lane_waddr = Signal.like(f_addr)
        # a MAC reads its weight at issue, a LEARN two stages later (lane.py)
        m.d.comb += [lane_raddr.eq(Mux(s2_learn, s2_addr, o_addr)),
                     lane_waddr.eq(Mux(self.busy, s3_addr, self.host_addr))]

        # -- issue stage: operands from the state memories -----------------------------------
        columns = any(s.lane_map.by_columns for s in plan.slots.values())

        def source_value(v, broadcast):
            """The operand sources a pass of this variant can use: the broadcast value (one
            unit for all lanes) or each lane's own word. Rates are broadcast along a row, and
            own along a split row (columns layout); errors are own in a row group, broadcast
            along a split row. ``v``: the words read from each memory."""
            a_val, s_val = v["a"], v["s"]
            sources = {_Src.S: s_val, _Src.ERR: s_val}
            if held:   # (with dynamics, s holds the error itself when learning starts)
                sources[_Src.RHO_A] = self._rho(m, a_val)
                if not dynamics:
                    sources[_Src.ERR] = s_val - self._rho(m, a_val)
            if broadcast or columns:
                sources[_Src.RATE] = self._rate(m, a_val)
            if learned and broadcast:   # ghost rates for Q's passes
                sources |= {_Src.RHO_G: self._rho(m, v["g"]), _Src.RATE_G: self._rate(m, v["g"])}
                if dynamics:            # the ghost state; the free rates for V's learning
                    sources |= {_Src.RHO_GS: self._rho(m, v["gs"]),
                                _Src.RATE_FA: self._rate(m, v["fa"])}
            elif learned:               # the errors of V (kept in v under dynamics) and Q
                sources |= {_Src.ERR_V: v["v"] if dynamics else
                            self._rho(m, a_val) - self._rho(m, v["g"]), _Src.ERR_Q: v["q"]}
            return sources

        def pick(values, index, name):
            """A dynamic selection as a signal (expressions on an Array proxy would be
            replicated once per element)."""
            values = list(values)
            sig = Signal.like(values[0], name=name)
            m.d.comb += sig.eq(Array(values)[index])
            return sig

        # one selection of a lane's a word serves the broadcast operand, the element pipeline
        # and the write-back of transposed passes (never active in the same cycle)
        # (the selection is registered: ``a_lane_next`` is set one cycle ahead)
        a_lane, a_lane_next = Signal(_bits(P)), Signal(_bits(P))
        m.d.comb += a_lane_next.eq(f_bsel)
        m.d.sync += a_lane.eq(a_lane_next)
        picked_a = pick((b.a_rdata for b in banks), a_lane, "picked_a")
        b_a = picked_a
        b_s = pick((b.s_rdata for b in banks), i_bsel, "bcast_s")
        broadcast = {"a": b_a, "s": b_s}
        for name in ("g", "gs", "fa"):
            if name in banks[0].depths:
                broadcast[name] = pick((getattr(b, f"{name}_rdata") for b in banks), i_bsel,
                                       f"bcast_{name}")
        bcast = Signal(signed(OPERAND_BITS))
        with m.Switch(i_src):
            for src, value in source_value(broadcast, True).items():
                with m.Case(src):
                    m.d.comb += bcast.eq(value)
        with m.If(i_bias):
            m.d.comb += bcast.eq(fmt.rate_one)
        # the lanes that hold the bias column of a matrix in the columns layout
        bias_lanes = {(s.cols - 1) % P for s in plan.slots.values()
                      if s.lane_map.by_columns and s.name == "W"}
        for p, (lane, bank) in enumerate(zip(lanes, banks)):
            own = Signal(signed(OPERAND_BITS), name=f"own{p}")
            with m.Switch(i_src):
                words_read = {name: getattr(bank, f"{name}_rdata") for name in bank.depths}
                for src, value in source_value(words_read, False).items():
                    with m.Case(src):
                        m.d.comb += own.eq(value)
            with m.If(i_src == _Src.HOST):   # host reads: 1 in the addressed lane, else 0
                m.d.comb += own.eq(i_host_lane == p)
            if p in bias_lanes:
                with m.If(i_own_bias & (i_bias_lane == p)):
                    m.d.comb += own.eq(fmt.rate_one)
            operand = Signal(signed(OPERAND_BITS), name=f"o_operand{p}", reset_less=True)
            m.d.sync += operand.eq(Mux(i_bcast, bcast, own))
            m.d.comb += [lane.op.eq(o_op[p]), lane.addr.eq(lane_raddr),
                         lane.operand.eq(operand), lane.eta.eq(s1_eta),
                         lane.first.eq(s2_first), lane.waddr.eq(lane_waddr),
                         lane.round_sel.eq(s2_round),
                         lane.random.eq(random.rotate_left((p * LANE_ROTATION) % 16))]

        # -- tags travel with each fetch to the post stage ----------------------------------------
        program = plan.program()
        tag_bits = _bits(len(program) + 1)
        idx_bits = _bits(max(max(sizes), max(s.groups for s in plan.slots.values())) + 1)
        tag = [dict(op=Signal(tag_bits, name=f"tag{d}_op"), valid=Signal(name=f"tag{d}_valid"),
                    last=Signal(name=f"tag{d}_last"), first=Signal(name=f"tag{d}_first"),
                    index=Signal(idx_bits, name=f"tag{d}_index"),
                    lane=Signal(_bits(P), name=f"tag{d}_lane"),
                    word=Signal(idx_bits, name=f"tag{d}_word")) for d in range(POST + 4)]
        for d in range(1, POST + 4):
            m.d.sync += [tag[d][key].eq(tag[d - 1][key]) for key in tag[d]]
        # post stages: the lane accumulators hold the fetch's result at p0, the adder tree at p1
        p0, p1, p2, p3 = tag[POST], tag[POST + 1], tag[POST + 2], tag[POST + 3]

        # the adder tree sums the lanes' accumulators: a row's partial sums (columns layout),
        # or one product per lane (transposed passes over a row layout, then a running sum
        # over the row groups). Every lane takes part; a lane without a row in the group reads
        # a state word that is never written (zero), so its product is zero.
        tree = Signal(signed(fmt.accumulator_bits))
        m.d.sync += tree.eq(self._adder_tree(m, [l.acc for l in lanes]))
        m.d.comb += self.host_rdata.eq(tree)
        tree_drive = Signal(signed(fmt.potential_bits))   # a split row's drive
        m.d.comb += tree_drive.eq(self._narrow(m, round_shift(tree, fwd_shift)))
        fb_acc = Signal(signed(fmt.accumulator_bits))
        with m.If(p1["valid"]):
            m.d.sync += fb_acc.eq(Mux(p1["first"], tree, fb_acc + tree))

        # -- counters ---------------------------------------------------------------------------
        max_cols = max(s.cols for s in plan.slots.values())
        g = Signal(idx_bits)                          # row group
        c = Signal(_bits(max(max_cols, max(sizes)) + 3))  # column / unit / step
        cl, cw = Signal(_bits(P)), Signal(idx_bits)   # c as (lane, word): c = cw * P + cl
        waddr = Signal.like(f_addr)                   # running weight address
        col_base = Signal.like(f_addr)
        drain = Signal(range(max(DRAIN_FEEDBACK, cfg.settle_iterations + 2) + 1))
        step = Signal(range(max(cfg.steps, 2)))       # dynamics: Euler step
        label = Signal(unsigned(_bits(sizes[-1])))
        train = Signal()
        m.d.comb += self.busy.eq(1)   # low only in the idle state
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        gl, gw = Signal(_bits(P)), Signal(idx_bits)   # g as (lane, word) for split rows

        def count(index, lane, word):
            """index += 1, keeping index = word * P + lane."""
            m.d.sync += index.eq(index + 1)
            with m.If(lane == P - 1):
                m.d.sync += [lane.eq(0), word.eq(word + 1)]
            with m.Else():
                m.d.sync += lane.eq(lane + 1)

        def step_c():
            count(c, cl, cw)

        def step_g():
            count(g, gl, gw)

        def reset_c():
            m.d.sync += [c.eq(0), cl.eq(0), cw.eq(0)]

        def reset_g():
            m.d.sync += [g.eq(0), gl.eq(0), gw.eq(0)]

        def next_after(n):
            return f"op{n + 1}" if n + 1 < len(program) else "finish"

        def valid_rows(slot):
            """Lanes holding a row of ``slot`` in group g."""
            for p in range(P):
                rows = len(range(p, slot.rows, P))
                yield p, g < rows

        # serial element pipeline (argmax, settle): fetch at F, use one cycle later
        e_valid, e_j, e_lane, e_word = Signal(), Signal.like(c), Signal.like(cl), Signal.like(cw)
        e_op = Signal(tag_bits)
        m.d.sync += [e_valid.eq(0)]
        settling = Signal()   # the element pipeline carries the output's nudge (not argmax)
        e_a = picked_a

        best = Signal(signed(fmt.potential_bits))
        best_idx = Signal.like(label)
        outputs = [Signal(unsigned(fmt.rate_frac + 1), name=f"out{j}") for j in range(sizes[-1])]
        margin = cfg.target_margin
        y_lo = int(quantize(margin, fmt.error_frac, fmt.error_frac + 1, signed=False))
        y_hi = int(quantize(1.0 - margin, fmt.error_frac, fmt.error_frac + 1, signed=False))

        post = []   # write-backs at the post stage, emitted after the FSM

        def walk_units(n, layer, done_state, reads=None):
            """Fetch unit c of ``layer`` (a-index) into the element pipeline, one a cycle: its
            a word (and d, and the memories ``reads`` = {name: region base}) is in ``e_a``
            (``e_d``, ``e_<name>``) one cycle later, with ``e_valid`` and ``e_op`` = n."""
            with m.If(c < sizes[layer + 1]):
                one = cl if dynamics else None   # (sweep's walks write no region they read)
                read("a", a_base[layer] + cw, one)
                if dynamics:
                    read("d", d_base[layer] + cw, one)
                for name, base in (reads or {}).items():
                    read(name, base + cw, one)
                m.d.sync += [e_valid.eq(1), e_j.eq(c), e_lane.eq(cl), e_word.eq(cw),
                             e_op.eq(n)]
                m.d.comb += a_lane_next.eq(cl)
                step_c()
            with m.Else():
                reset_c()
                m.next = done_state

        # dynamics: the element updates, built once (docs/numerics.md)
        element = {}
        if dynamics:
            e_d = pick((b.d_rdata for b in banks), e_lane, "element_d")
            rho_a, rho_d = self._rho(m, e_a), self._rho(m, e_d)
            y = Mux(label == e_j, y_hi, y_lo)
            element["output"] = self._euler(m, e_a, self._narrow(
                m, e_d + round_shift(y - rho_a, fmt.beta_shift)))
            element["error"] = rho_a - rho_d
            if tied_ghosts:
                e_h = pick((b.h_rdata for b in banks), e_lane, "element_h")
                element["source"] = rho_a - self._rho(m, e_h)
                element["ghost"] = self._euler(m, e_h, e_d)
            else:
                element["source"] = rho_a
            if learned:   # V's error and the ghost state from the free phase; a ghost step
                e_g, e_gs, e_e = (pick((getattr(b, f"{name}_rdata") for b in banks), e_lane,
                                       f"element_{name}") for name in ("g", "gs", "e"))
                element["verror"] = rho_a - self._rho(m, e_g)
                element["gcopy"] = e_g
                element["gstep"] = self._euler(m, e_gs, e_e)
            element = {key: materialize(m, value, f"element_{key}")
                       for key, value in element.items()}
        element_writes = {name: dict(valid=Signal(name=f"el_{name}_valid"),
                                     addr=Signal.like(writes[name].addr, name=f"el_{name}_addr"),
                                     lane=Signal(_bits(P), name=f"el_{name}_lane"),
                                     data=Signal(signed(width), name=f"el_{name}_data"))
                          for name in writes}
        for reg in element_writes.values():
            m.d.sync += reg["valid"].eq(0)

        def element_write(memory, addr, value):
            """Write ``value`` for the element pipeline's unit one cycle later."""
            reg = element_writes[memory]
            m.d.sync += [reg["valid"].eq(1), reg["addr"].eq(addr), reg["lane"].eq(e_lane),
                         reg["data"].eq(value)]

        def next_word(last_c, last_g, done_state):
            """Step c; at the end of c's run step g; after g's last run go to ``done_state``."""
            with m.If(last_c):
                reset_c()
                with m.If(last_g):
                    reset_g()
                    m.next = done_state
                with m.Else():
                    step_g()
            with m.Else():
                step_c()

        def row_walk(n, slot, src, done_state):
            """Issue ``slot`` row-major, columns c inside row groups g, every lane on its own
            row with the broadcast operand of column c (the caller sets its fetch address)."""
            m.d.comb += [f_src.eq(src), f_bcast.eq(1), f_bsel.eq(cl), f_first.eq(c == 0),
                         f_addr.eq(waddr),
                         f_round.eq(_Round.FEEDBACK if slot.name in ("B", "Q") else _Round.FWD)]
            for p, ok in valid_rows(slot):
                with m.If(ok):
                    m.d.comb += f_op[p].eq(LaneOp.MAC)
            m.d.comb += [tag[0]["op"].eq(n), tag[0]["valid"].eq(1), tag[0]["index"].eq(g),
                         tag[0]["last"].eq(c == slot.cols - 1)]
            m.d.sync += waddr.eq(waddr + 1)
            next_word(c == slot.cols - 1, g == slot.groups - 1, done_state)

        def split_row_walk(n, slot, src_base, done_state):
            """Issue ``slot`` in the columns layout: chunks c inside rows g, every lane on its
            own column with its own rate (lane ``(cols - 1) mod P`` gives the bias 1.0 in the
            last chunk). The adder tree sums the row at its last chunk."""
            chunks = slot.lane_map.chunks
            m.d.comb += [f_src.eq(_Src.RATE), f_first.eq(c == 0), f_addr.eq(waddr),
                         f_round.eq(_Round.NONE), f_bias_lane.eq((slot.cols - 1) % P),
                         f_own_bias.eq(c == (slot.cols - 1) // P)]
            m.d.comb += [f_op[p].eq(LaneOp.MAC) for p in range(P)]
            read("a", src_base + c, enable=real_columns(slot))
            m.d.comb += [tag[0]["op"].eq(n), tag[0]["valid"].eq(1), tag[0]["lane"].eq(gl),
                         tag[0]["word"].eq(gw), tag[0]["last"].eq(c == chunks - 1)]
            m.d.sync += waddr.eq(waddr + 1)
            next_word(c == chunks - 1, g == slot.rows - 1, done_state)

        lane_results = {}   # per-lane feedback write-back values, built once per kind

        def write_lanes(n, k, units, role):
            """Write-back of a pass whose lanes each end with one unit's feedback (random
            feedback, transposed passes over split rows): p0: every lane's narrowed feedback
            is registered and its unit's a (and h) fetched; p1: the result written to unit
            ``index * P + lane`` of layer k."""
            if role not in lane_results:
                feedback = [Signal(signed(fmt.potential_bits), name=f"lane_feedback{p}")
                            for p in range(P)]
                m.d.sync += [f.eq(self._narrow(m, floor_shift(lane.acc, fmt.weight_frac)))
                             for f, lane in zip(feedback, lanes)]
                values = {}
                for p, bank in enumerate(banks):
                    h_val = bank.h_rdata if held else 0
                    d_val = bank.d_rdata if dynamics else None
                    memory, value = self._feedback_result(m, feedback[p], bank.a_rdata, h_val,
                                                          role, d_val)
                    values[p] = Signal(value.shape(), name=f"lane_result{p}_{role}")
                    m.d.comb += values[p].eq(value)
                lane_results[role] = memory, values
            memory, values = lane_results[role]
            # (the free feedback reads only h: its fetches still read a for their operands)
            with m.If(p0["valid"] & (p0["op"] == n) & p0["last"] & (role != "hold")):
                if role == "nudged":
                    read("a", a_base[k] + p0["index"])
                    if dynamics:
                        read("d", d_base[k] + p0["index"])
                if held:
                    read("h", h_base[k] + p0["index"])
            base = {"s": s_base, "h": h_base, "a": a_base, "q": q_base}[memory][k]
            with m.If(p1["valid"] & (p1["op"] == n) & p1["last"]):
                writes[memory].per_lane(m, base + p1["index"], values,
                                        {p: p1["index"] < len(range(p, units, P))
                                         for p in range(P)})

        phase = Signal(2)      # learning: 0 = ETA of the first row (group), 1 = wait, 2 = walk
        eta_next = Signal()    # learning: the next row's ETA is issued

        def learn_walk(n, slot, done_state, eta, err, err_reads, pre, pre_reads, bias=True):
            """A learning pass over ``slot``: per row group (rows layout) or row (columns layout)
            one ETA (scaled error e = eta x error) and one LEARN per word. An ETA must issue
            two cycles before the first LEARN that uses it, so the next row's ETA goes just
            before the last LEARN of the current row: one extra cycle per row (two with
            replay and learned ghosts, whose ETA and LEARN operands share a memory port).

            ``eta``: the learning-rate index; ``err``: the error source, read from the memories
            ``err_reads`` ({name: region base}) at the row's word; ``pre``: the presynaptic
            source, read from the memory and region ``pre_reads`` at the column's word;
            ``bias``: the last column's presynaptic rate is 1.0."""
            split = slot.lane_map.by_columns
            walk = slot.lane_map.chunks if split else slot.cols
            count = slot.rows if split else slot.groups
            overlap = not held
            m.d.comb += [f_eta.eq(eta), f_learn.eq(1)]
            pre_memory, pre_base = pre_reads

            def read_errors(word, lane=None):
                for name, base in err_reads.items():
                    read(name, base + word, lane)

            def read_pre(word, lane=None, enable=None):
                read(pre_memory, pre_base + word, lane, enable)
            next_gl = Mux(gl == P - 1, 0, gl + 1)
            next_gw = Mux(gl == P - 1, gw + 1, gw)

            def issue_eta(index, lane, word):
                m.d.comb += f_src.eq(err)
                if split:   # the row's error, broadcast to every lane
                    m.d.comb += [f_bcast.eq(1), f_bsel.eq(lane)]
                    read_errors(word, lane)
                    m.d.comb += [f_op[p].eq(LaneOp.ETA) for p in range(P)]
                else:       # each lane's own row of the group
                    read_errors(index)
                    for p in range(P):
                        with m.If(index < len(range(p, slot.rows, P))):
                            m.d.comb += f_op[p].eq(LaneOp.ETA)

            def issue_learn():
                m.d.comb += [f_addr.eq(waddr), f_update.eq(1), f_src.eq(pre)]
                m.d.sync += waddr.eq(waddr + 1)
                if split:   # lane p updates column c * P + p with its own presynaptic rate
                    m.d.comb += [f_bias_lane.eq((slot.cols - 1) % P),
                                 f_own_bias.eq(c == (slot.cols - 1) // P)]
                    read_pre(c, enable=real_columns(slot) if bias else None)
                    tail = slot.cols - (walk - 1) * P   # lanes with a column in the last chunk
                    for p in range(P):
                        with m.If((c != walk - 1) | (p < tail)):
                            m.d.comb += f_op[p].eq(LaneOp.LEARN)
                else:       # every lane its own row, the rate of column c broadcast
                    m.d.comb += [f_bcast.eq(1), f_bsel.eq(cl)]
                    if bias:
                        m.d.comb += f_bias.eq(c == slot.cols - 1)
                    read_pre(cw)
                    for p, ok in valid_rows(slot):
                        with m.If(ok):
                            m.d.comb += f_op[p].eq(LaneOp.LEARN)

            def advance():
                with m.If(c == walk - 1):
                    reset_c()
                    m.d.sync += eta_next.eq(0)
                    with m.If(g == count - 1):
                        reset_g()
                        m.d.sync += phase.eq(0)
                        self._start_next(m, program, n, plan, waddr, col_base)
                        m.next = done_state
                    with m.Else():
                        step_g()
                        if not overlap:
                            m.d.sync += phase.eq(0)
                with m.Else():
                    step_c()

            with m.If(phase == 0):
                issue_eta(g, gl, gw)
                m.d.sync += phase.eq(1)
            with m.Elif(phase == 1):
                m.d.sync += phase.eq(2)
            with m.Else():
                if overlap:
                    with m.If((c == walk - 1) & (g != count - 1) & ~eta_next):
                        issue_eta(g + 1, next_gl, next_gw)
                        m.d.sync += eta_next.eq(1)
                    with m.Else():
                        issue_learn()
                        advance()
                else:
                    issue_learn()
                    advance()

        # -- the sequencer ----------------------------------------------------------------------
        with m.FSM(init="idle"):
            with m.State("idle"):
                # every lane multiplies its word at host_addr by 1 (the addressed lane) or 0;
                # the adder tree's sum is the word, HOST_READ_LATENCY cycles later
                m.d.comb += [self.busy.eq(0), f_src.eq(_Src.HOST), f_addr.eq(self.host_addr),
                             f_first.eq(1), f_round.eq(_Round.NONE)]
                m.d.comb += [f_op[p].eq(LaneOp.MAC) for p in range(P)]
                with m.If(self.sample.valid):
                    reset_c()
                    m.next = "load"
            with m.State("load"):
                # x into the a memories, P inputs a cycle, before taking the sample
                x_words, x_enables = {}, {}
                for p in range(P):
                    xs = list(range(p, sizes[0], P))
                    if xs:
                        value = pick((self.sample.payload.x[i] for i in xs), cw, f"x_in{p}")
                        x_words[p] = value << (fmt.error_frac - fmt.rate_frac)
                        x_enables[p] = cw < len(xs)
                writes["a"].per_lane(m, a_base["x"] + cw, x_words, x_enables)
                m.d.sync += cw.eq(cw + 1)
                with m.If(cw == words[0] - 1):
                    m.d.comb += self.sample.ready.eq(1)
                    m.d.sync += [label.eq(self.sample.payload.label),
                                 train.eq(self.sample.payload.train)]
                    reset_c()
                    reset_g()
                    m.next = "op0"

            for n, op in enumerate(program):
                kind = op[0]
                state, drain_state = f"op{n}", f"drain{n}"
                needs_drain = True
                if kind in ("fwd", "drive", "ghost_fwd", "ghost_drive"):
                    # "fwd" writes the drives (the state u of the free phase) to a, and with
                    # tied ghosts under dynamics their initial state g_{k-1} = a_k to h;
                    # "drive" writes the drives of the current state to d; "ghost_fwd" the
                    # learned ghosts' drives g_k = V_k r_k to g ("ghost_drive": of the current
                    # state, to e)
                    k = op[1]
                    if kind in ("ghost_fwd", "ghost_drive"):
                        slot, src_base = plan.slots[("V", k)], a_base[k]
                        targets = [("g" if kind == "ghost_fwd" else "e", g_base[k])]
                    else:
                        slot = plan.slots[("W", k)]
                        src_base = a_base["x"] if k == 0 else a_base[k - 1]
                        targets = [("d", d_base[k])] if kind == "drive" \
                            else [("a", a_base[k])]
                    if kind == "fwd" and tied_ghosts and k >= 1:
                        targets.append(("h", h_base[k - 1]))
                    drain_length = DRAIN + (1 if slot.lane_map.by_columns else 0)
                    if slot.lane_map.by_columns:
                        with m.State(state):
                            split_row_walk(n, slot, src_base, drain_state)

                        def write_tree_drive(n=n, targets=targets):
                            # p1: the tree holds the row's sum; round, narrow, write
                            with m.If(p1["valid"] & (p1["op"] == n) & p1["last"]):
                                for memory, base in targets:
                                    writes[memory].shared(m, base + p1["word"], tree_drive,
                                                          p1["lane"])
                        post.append(write_tree_drive)
                    else:
                        with m.State(state):
                            row_walk(n, slot, _Src.RATE, drain_state)
                            m.d.comb += f_bias.eq(c == slot.cols - 1)
                            with m.If(c != slot.cols - 1):   # (the bias needs no read)
                                read("a", src_base + cw)

                        def write_drives(n=n, slot=slot, targets=targets):
                            with m.If(p0["valid"] & (p0["op"] == n) & p0["last"]):
                                for memory, base in targets:
                                    writes[memory].per_lane(
                                        m, base + p0["index"], dict(enumerate(drives)),
                                        {p: p0["index"] < len(range(p, slot.rows, P))
                                         for p in range(P)})
                        post.append(write_drives)

                elif kind == "argmax":
                    needs_drain = False
                    with m.State(state):
                        m.d.sync += settling.eq(0)
                        walk_units(n, L - 1, next_after(n))
                        with m.If(e_valid):
                            with m.If((e_j == 0) | (e_a > best)):
                                m.d.sync += [best.eq(e_a), best_idx.eq(e_j)]
                            out_rate = Signal.like(outputs[0])
                            m.d.comb += out_rate.eq(self._rate(m, e_a))
                            for j in range(sizes[-1]):
                                with m.If(e_j == j):
                                    m.d.sync += outputs[j].eq(out_rate)

                elif kind == "result":
                    needs_drain = False
                    with m.State(state):
                        m.d.comb += [self.result.valid.eq(1),
                                     self.result.payload.label.eq(best_idx)]
                        m.d.comb += [self.result.payload.outputs[j].eq(outputs[j])
                                     for j in range(sizes[-1])]
                        with m.If(self.result.ready):
                            with m.If(train):
                                m.next = next_after(n)
                            with m.Else():
                                m.next = "finish"

                elif kind in ("ghost", "output", "error", "save", "save_a", "ghost_step"):
                    # one unit a cycle through the element pipeline: "ghost" k updates the
                    # ghosts of layer k + 1 and writes its feedback source, "output" steps the
                    # output units under the nudge, "error" k writes rho(u_k) - rho(d_k);
                    # learned ghosts: "save" k keeps V's error and the ghost state of the free
                    # phase, "save_a" k the free drives of layer k, "ghost_step" k steps the
                    # ghost state toward its drive
                    k = op[1] if len(op) > 1 else L - 1
                    layer = k if kind in ("output", "error", "save_a") else k + 1
                    reads = {}
                    if kind == "ghost" and tied_ghosts:
                        reads = {"h": h_base[k]}
                    elif kind == "save":
                        reads = {"g": g_base[k]}
                    elif kind == "ghost_step":
                        reads = {"gs": g_base[k], "e": g_base[k]}
                    drain_length = 3
                    with m.State(state):
                        walk_units(n, layer, drain_state, reads)

                    def element_update(n=n, kind=kind, k=k):
                        with m.If(e_valid & (e_op == n)):
                            if kind == "output":
                                element_write("a", a_base[L - 1] + e_word, element["output"])
                            elif kind == "error":
                                element_write("s", s_base[k] + e_word, element["error"])
                            elif kind == "save":
                                element_write("v", g_base[k] + e_word, element["verror"])
                                element_write("gs", g_base[k] + e_word, element["gcopy"])
                            elif kind == "save_a":
                                element_write("fa", fa_base[k] + e_word, e_a)
                            elif kind == "ghost_step":
                                element_write("gs", g_base[k] + e_word, element["gstep"])
                            else:
                                element_write("s", s_base[k + 1] + e_word, element["source"])
                                if tied_ghosts:
                                    element_write("h", h_base[k] + e_word, element["ghost"])
                    post.append(element_update)

                elif kind == "loop":
                    needs_drain = False
                    with m.State(state):
                        with m.If(step == cfg.steps - 1):
                            m.d.sync += step.eq(0)
                            m.next = next_after(n)
                        with m.Else():
                            m.d.sync += step.eq(step + 1)
                            m.next = f"op{op[1]}"

                elif kind == "settle":
                    # per output unit, K fixed-point iterations under the nudge: a pipeline with
                    # one iteration per stage (stage i holds u_i), writing s at stage K
                    with m.State(state):
                        m.d.sync += settling.eq(1)
                        walk_units(n, L - 1, drain_state)

                    def settle_pipeline(n=n):
                        K = cfg.settle_iterations
                        # ``hit``: the unit is the label's (target y_hi, else y_lo)
                        stage = dict(valid=e_valid, lane=e_lane, word=e_word, a=e_a,
                                     u=e_a, hit=Signal(name="hit0"))
                        m.d.comb += stage["hit"].eq(label == e_j)
                        for i in range(1, K + 1):
                            y = Mux(stage["hit"], y_hi, y_lo)
                            u_next = self._narrow(m, stage["a"] + round_shift(
                                y - self._rho(m, stage["u"]), fmt.beta_shift))
                            if i == K:
                                break
                            regs = {key: Signal.like(val, name=f"settle{i}_{key}")
                                    for key, val in stage.items() if key != "u"}
                            regs["u"] = Signal(signed(fmt.potential_bits), name=f"settle{i}_u")
                            m.d.sync += [regs[key].eq(val) for key, val in stage.items()
                                         if key != "u"]
                            m.d.sync += regs["u"].eq(u_next)
                            stage = regs
                        # the last iteration is registered, then the source is written
                        last = {key: Signal.like(stage[key], name=f"settled_{key}")
                                for key in ("valid", "lane", "word", "a")}
                        last["u"] = Signal(signed(fmt.potential_bits), name="settled_u")
                        m.d.sync += [last[key].eq(stage[key]) for key in last if key != "u"]
                        m.d.sync += last["u"].eq(u_next)
                        source = self._rho(m, last["u"]) if held else \
                            self._rho(m, last["u"]) - self._rho(m, last["a"])
                        with m.If(last["valid"] & settling):
                            writes["s"].shared(m, s_base[L - 1] + last["word"], source,
                                               last["lane"])
                    post.append(settle_pipeline)

                elif kind in ("fb", "hold", "free"):
                    k = op[1]
                    role = {"fb": "nudged", "hold": "hold", "free": "free"}[kind]
                    nudged = role == "nudged"
                    units = sizes[k + 1]
                    source = _Src.S if nudged else _Src.RHO_A

                    def source_at(layer, word, nudged=nudged):
                        """(memory, address) of the feedback operand of unit ``word``."""
                        return ("s", s_base[layer] + word) if nudged else \
                            ("a", a_base[layer] + word)
                    slot = plan.slots[("W", k + 1)] if cfg.feedback == "transpose" \
                        else plan.slots[("B", k)]
                    # lanes write their own units at p1, the tree's results leave at p3
                    tree_pass = slot.name == "W" and not slot.lane_map.by_columns
                    drain_length = DRAIN_FEEDBACK if tree_pass else DRAIN + 1
                    if slot.name == "B":   # random feedback: a forward-style pass over B_k
                        with m.State(state):
                            row_walk(n, slot, source, drain_state)
                            read(*source_at(k + 1, cw))
                        post.append(lambda n=n, k=k, role=role, units=units:
                                    write_lanes(n, k, units, role))
                    elif slot.lane_map.by_columns:
                        # unit c of layer k = column c of W_{k+1}, in lane c mod P: each
                        # lane accumulates its column over the rows g (errors broadcast)
                        with m.State(state):
                            m.d.comb += [f_src.eq(source), f_bcast.eq(1), f_bsel.eq(gl),
                                         f_first.eq(g == 0), f_round.eq(_Round.FEEDBACK),
                                         f_addr.eq(waddr)]
                            read(*source_at(k + 1, gw))
                            m.d.comb += [f_op[p].eq(LaneOp.MAC) for p in range(P)]
                            last_row = g == slot.rows - 1
                            m.d.comb += [tag[0]["op"].eq(n), tag[0]["valid"].eq(1),
                                         tag[0]["index"].eq(c), tag[0]["last"].eq(last_row)]
                            with m.If(last_row):
                                reset_g()
                                m.d.sync += [waddr.eq(col_base + 1), col_base.eq(col_base + 1)]
                                with m.If(c == math.ceil(units / P) - 1):
                                    reset_c()
                                    m.next = drain_state
                                with m.Else():
                                    m.d.sync += c.eq(c + 1)
                            with m.Else():
                                step_g()
                                m.d.sync += waddr.eq(waddr + slot.lane_map.chunks)
                        post.append(lambda n=n, k=k, role=role, units=units:
                                    write_lanes(n, k, units, role))
                    else:
                        with m.State(state):
                            # unit c of layer k = column c of W_{k+1}, over all row groups g;
                            # each lane's product goes to the adder tree
                            m.d.comb += [f_src.eq(source), f_addr.eq(waddr), f_first.eq(1),
                                         f_round.eq(_Round.NONE)]
                            read(*source_at(k + 1, g))
                            m.d.comb += [f_op[p].eq(LaneOp.MAC) for p in range(P)]
                            last_group = g == slot.groups - 1
                            m.d.comb += [tag[0]["op"].eq(n), tag[0]["valid"].eq(1),
                                         tag[0]["index"].eq(c), tag[0]["first"].eq(g == 0),
                                         tag[0]["last"].eq(last_group),
                                         tag[0]["lane"].eq(cl), tag[0]["word"].eq(cw)]
                            with m.If(last_group):
                                reset_g()
                                m.d.sync += [waddr.eq(col_base + 1), col_base.eq(col_base + 1)]
                                with m.If(c == units - 1):
                                    reset_c()
                                    m.next = drain_state
                                with m.Else():
                                    step_c()
                            with m.Else():
                                step_g()
                                m.d.sync += waddr.eq(waddr + slot.cols)

                        def write_tree(n=n, k=k, role=role):
                            # p1: tree; p2: running sum (fb_acc), fetch a and h of the unit;
                            # p3: narrowed feedback, a and h registered, write s (or h)
                            feedback = Signal(signed(fmt.potential_bits), name=f"feedback{n}")
                            m.d.sync += feedback.eq(self._narrow(m, round_shift(
                                fb_acc, fmt.weight_frac)))
                            with m.If(p1["valid"] & (p1["op"] == n) & p1["last"]
                                      & (role != "hold")):
                                # (only dynamics writes the region it reads: a)
                                one = p1["lane"] if dynamics else None
                                if role == "nudged":
                                    read("a", a_base[k] + p1["word"], one)
                                    if dynamics:
                                        read("d", d_base[k] + p1["word"], one)
                                if held:
                                    read("h", h_base[k] + p1["word"], one)
                            with m.If(p1["valid"] & (p1["op"] == n)):
                                m.d.comb += a_lane_next.eq(p1["lane"])
                            a_val = Signal.like(picked_a, name=f"post_a{n}")
                            m.d.sync += a_val.eq(picked_a)
                            h_val = 0
                            if held:
                                h_val = Signal(signed(width), name=f"post_h{n}")
                                m.d.sync += h_val.eq(pick((b.h_rdata for b in banks),
                                                          p2["lane"], f"picked_h{n}"))
                            d_val = None
                            if dynamics:
                                d_val = Signal(signed(width), name=f"post_d{n}")
                                m.d.sync += d_val.eq(pick((b.d_rdata for b in banks),
                                                          p2["lane"], f"picked_d{n}"))
                            memory, value = self._feedback_result(m, feedback, a_val, h_val,
                                                                  role, d_val)
                            result = Signal(value.shape(), name=f"post_value{n}")  # built once
                            m.d.comb += result.eq(value)
                            base = {"s": s_base, "h": h_base, "a": a_base, "q": q_base}[memory][k]
                            with m.If(p3["valid"] & (p3["op"] == n) & p3["last"]):
                                writes[memory].shared(m, base + p3["word"], result, p3["lane"])
                        post.append(write_tree)

                elif kind in ("learn", "learn_V", "learn_Q"):
                    k = op[1]
                    nxt = program[n + 1][0] if n + 1 < len(program) else None
                    needs_drain = not (nxt or "").startswith("learn")
                    done = drain_state if needs_drain else next_after(n)
                    with m.State(state):
                        if kind == "learn":        # W_k: error of layer k, rates of layer k-1
                            src_base = a_base["x"] if k == 0 else a_base[k - 1]
                            errors = {"s": s_base[k]}   # replay, learned (sweep): and a
                            if held and not dynamics:
                                errors["a"] = a_base[k]
                            learn_walk(n, plan.slots[("W", k)], done, k, _Src.ERR, errors,
                                       _Src.RATE, ("a", src_base))
                        elif kind == "learn_V" and dynamics:   # from the saved free values
                            learn_walk(n, plan.slots[("V", k)], done, L, _Src.ERR_V,
                                       {"v": g_base[k]}, _Src.RATE_FA, ("fa", fa_base[k]))
                        elif kind == "learn_V":    # V_k: rho(a_{k+1}) - rho(g_k), rates of k
                            learn_walk(n, plan.slots[("V", k)], done, L, _Src.ERR_V,
                                       {"a": a_base[k + 1], "g": g_base[k]}, _Src.RATE,
                                       ("a", a_base[k]))
                        else:                      # Q_k: its error q_k, the ghosts' rates
                            learn_walk(n, plan.slots[("Q", k)], done, L, _Src.ERR_Q,
                                       {"q": q_base[k]}, _Src.RATE_G, ("g", g_base[k]),
                                       bias=False)

                elif kind == "ghost_out":
                    # c_k = Q_k rho(g_k): a forward-style pass over Q_k with the ghosts' rates
                    # broadcast; each lane writes its unit's c to h
                    # (of the ghost state gs under dynamics, of the free drives g before)
                    k = op[1]
                    memory = op[2] if len(op) > 2 else "g"
                    slot = plan.slots[("Q", k)]
                    drain_length = DRAIN + 1
                    with m.State(state):
                        row_walk(n, slot, _Src.RHO_GS if memory == "gs" else _Src.RHO_G,
                                 drain_state)
                        read(memory, g_base[k] + cw)
                    post.append(lambda n=n, k=k: write_lanes(n, k, sizes[k + 1], "hold"))

                else:  # pragma: no cover
                    raise AssertionError(kind)

                if kind not in ("argmax", "result", "loop", "learn", "learn_V", "learn_Q") \
                        or needs_drain:
                    # cycles from the last fetch to the last write of the pass
                    length = {"settle": max(DRAIN, cfg.settle_iterations + 2)}.get(kind, DRAIN)
                    if kind in ("fwd", "drive", "ghost_fwd", "ghost_drive", "ghost_out", "fb",
                                "hold", "free", "ghost", "output", "error", "save", "save_a",
                                "ghost_step"):
                        length = drain_length
                    with m.State(drain_state):
                        with m.If(drain == length - 1):
                            m.d.sync += drain.eq(0)
                            self._start_next(m, program, n, plan, waddr, col_base)
                            m.next = next_after(n)
                        with m.Else():
                            m.d.sync += drain.eq(drain + 1)

            with m.State("finish"):
                m.d.sync += self.samples.eq(self.samples + 1)
                reset_c()
                reset_g()
                self._start_next(m, program, -1, plan, waddr, col_base)
                m.next = "idle"
        for emit in post:
            emit()
        for name, reg in element_writes.items():
            with m.If(reg["valid"]):
                writes[name].shared(m, reg["addr"], reg["data"], reg["lane"])
        for bus in writes.values():
            bus.connect(m)
        return m

    @staticmethod
    def _adder_tree(m, values):
        """The sum of ``values`` as a balanced tree of two-input adders, each level in signals
        of its own (one carry chain per adder; Yosys would otherwise fold the sum into one
        multi-operand adder built from LUTs)."""
        level = 0
        while len(values) > 1:
            pairs = [values[i:i + 2] for i in range(0, len(values), 2)]
            values = []
            for i, pair in enumerate(pairs):
                if len(pair) == 1:
                    values.append(pair[0])
                    continue
                total = Signal(signed(max(len(v) for v in pair) + 1), name=f"tree{level}_{i}",
                               attrs={"keep": 1})
                m.d.comb += total.eq(pair[0] + pair[1])
                values.append(total)
            level += 1
        return values[0]

    def _start_next(self, m, program, n, plan, waddr, col_base):
        """Point the running weight address at the matrix of the pass after pass ``n``."""
        following = program[n + 1:] + program
        for op in following:
            slot = None
            if op[0] in ("fwd", "drive", "learn"):
                slot = plan.slots[("W", op[1])]
            elif op[0] in ("ghost_fwd", "ghost_drive", "learn_V"):
                slot = plan.slots[("V", op[1])]
            elif op[0] in ("ghost_out", "learn_Q"):
                slot = plan.slots[("Q", op[1])]
            elif op[0] in ("fb", "hold", "free"):
                slot = plan.slots[("W", op[1] + 1)] if self.config.feedback == "transpose" \
                    else plan.slots[("B", op[1])]
            if slot is not None:
                m.d.sync += [waddr.eq(slot.base), col_base.eq(slot.base)]
                return

    def _feedback_result(self, m, feedback, a_val, h_val, role, d_val=None):
        """What the feedback of a hidden unit leaves, and in which memory.

        ``role`` "hold": the feedback itself, in ``h`` (replay: the held feedback of the free
        phase; learned: the ghost output c = Q rho(g)). "free" (learned): Q's error, the free
        feedback minus c, in ``q``. "nudged", ``sweep``: the error rho(u) - rho(a) with
        u = a + feedback (tied, in ``s``) or the nudged rate rho(u) with u = a + (feedback - h)
        (replay, learned, in ``s``); ``dynamics``: one Euler step of the state u (``a_val``,
        in ``a``) toward d + feedback (tied) or d + (feedback - h) (replay), d the drive."""
        if role == "hold":
            return "h", feedback
        if role == "free":
            return "q", self._narrow(m, feedback - h_val)
        if self.config.variant in ("replay", "learned"):
            feedback = self._narrow(m, feedback - h_val)
        if self.config.schedule == "dynamics":
            return "a", self._euler(m, a_val, self._narrow(m, d_val + feedback))
        u = self._narrow(m, a_val + feedback)
        if self.config.variant == "tied":
            return "s", self._rho(m, u) - self._rho(m, a_val)
        return "s", self._rho(m, u)

    def _euler(self, m, u, target):
        """u + alpha (target - u), alpha = 2^-alpha_shift, rounded, narrowed (golden euler)."""
        return self._narrow(m, u + round_shift(target - u, self.fmt.alpha_shift))


class _WriteBus:
    """The write port of one state memory across all banks: one address, and either one data
    word for results computed once (``shared``, written to one bank) or a word per lane
    (``per_lane``); only the write enables are per bank."""

    def __init__(self, name: str, banks: list[StateBank], width: int):
        self.name, self.banks = name, banks
        self.addr = Signal.like(getattr(banks[0], f"{name}_waddr"), name=f"{name}_waddr")
        self.shared_data = Signal(signed(width), name=f"{name}_wshared")
        self.lane_data = [Signal(signed(width), name=f"{name}_wlane{p}")
                          for p in range(len(banks))]
        self.use_lane = Signal(name=f"{name}_wuse_lane")
        self.we = [Signal(name=f"{name}_we{p}") for p in range(len(banks))]
        self.kinds = set()

    def shared(self, m, addr, value, lane):
        """Write ``value`` at ``addr`` of the bank of lane ``lane`` (under the caller's If)."""
        self.kinds.add("shared")
        m.d.comb += [self.addr.eq(addr), self.shared_data.eq(value)]
        m.d.comb += [we.eq(lane == p) for p, we in enumerate(self.we)]

    def per_lane(self, m, addr, values: dict, enables: dict):
        """Write ``values[p]`` at ``addr`` of bank p where ``enables[p]``."""
        self.kinds.add("lane")
        m.d.comb += [self.addr.eq(addr), self.use_lane.eq(1)]
        for p, value in values.items():
            m.d.comb += [self.lane_data[p].eq(value), self.we[p].eq(enables[p])]

    def connect(self, m):
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
