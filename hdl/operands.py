"""The issue path to the lanes: stages I (B) and O, and the LFSR.

``Issue`` pipelines the fetch controls (hdl/stages.py ``Fetch``) (the core's stage table, ``Plan.stages``): at I it
selects each lane's operand from the state words read at F (the broadcast word of lane
``bsel``, or the lane's own word); on wide ECP5 cores the selection is registered at B; at O
the operand is registered and issued with the lane's op. Controls shared by all lanes are
pipelined once (or copied once per lane, ``Plan.lane_copies``): the weight address at O, eta
at lane stage 1, ``first``, the rounding and the write address at stage 2 (a LEARN writes at
stage 4: ``Stages.learn_write`` after its fetch).
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ghostfpga.devices import KEEP_APART
from ghostfpga.golden.numerics import (LANE_ROTATION, LFSR_BITS, OPERAND_BITS, Q_STEP_FRAC,
                                       STEP_BITS, V_STEP_FRAC, lfsr_step)

from .arbiter import Arbiter, When
from .arith import lfsr_next, pick, saturate
from .memory import weight_read_registered
from .normalizer import Normalizer
from .stages import Src, bits, delay, lane_copies
from .state import RATES

__all__ = ["Issue", "Lfsr", "eta_formats", "broadcasts_from_a"]


def eta_formats(b) -> list[int]:
    """The right shifts of the lanes' ETA, one per learning-rate format the core uses: the
    host's learning rates first, then the normalized fits' steps (V's, Q's) when they differ
    (``Fetch.eta_sel`` indexes this list)."""
    fmt = b.fmt
    shifts = [fmt.eta_shift]
    if b.normalized:
        for frac in (V_STEP_FRAC, Q_STEP_FRAC):
            if fmt.step_shift(frac) not in shifts:
                shifts.append(fmt.step_shift(frac))
    return shifts


def broadcasts_from_a(b) -> set:
    """The sources whose broadcast operand is the ``a`` word of lane ``bsel`` (``picked_a``,
    through the a-word select): ``Issue.sources`` with ``broadcast``."""
    srcs = {Src.RATE, Src.RHO_A}
    if b.held and not b.dynamics:
        srcs.add(Src.ERR)
    if b.normalized or (b.learned and not b.dynamics):
        srcs.add(Src.ERR_V)
    return srcs


class Lfsr(wiring.Component):
    """The Galois LFSR of golden/numerics.py (LFSR_BITS wide): ``random`` is the next state, taken when
    ``step`` is high (one step per LEARN at lane stage 2); combinational output."""

    def __init__(self, seed: int, enabled: bool):
        self.seed, self.enabled = seed, enabled
        super().__init__({"step": In(1), "random": Out(LFSR_BITS)})

    def sequence(self, n: int) -> list[int]:
        """The first ``n`` values of ``random`` (the reference, golden/numerics.lfsr_step)."""
        out, state = [], self.seed
        for _ in range(n):
            state = lfsr_step(state)
            out.append(state)
        return out

    def elaborate(self, platform):
        m = Module()
        state = Signal(LFSR_BITS, init=self.seed)
        m.d.comb += self.random.eq(lfsr_next(state))
        if self.enabled:
            with m.If(self.step):
                m.d.sync += state.eq(self.random)
        return m


class Issue:
    """Stages I and O for the fetch controls ``b.fetched``: the pipelined controls, the operand
    of every lane and the lane ports. ``a_lane_next`` selects (one cycle ahead) the bank whose
    ``a`` word is ``picked_a``: shared by the broadcast operand, the element pipeline and the
    write-back of transposed passes (never active in the same cycle)."""

    def __init__(self, b):
        self.b = b
        m, f, core = b.m, b.fetched, b.core
        self.i_src, self.i_bcast, self.i_bsel = (delay(m, f.src, 1, "src"),
                                                 delay(m, f.bcast, 1, "bcast"),
                                                 delay(m, f.bsel, 1, "bsel"))
        self.i_bias, self.i_own_bias = delay(m, f.bias, 1, "bias"), \
            delay(m, f.own_bias, 1, "own_bias")
        self.i_bias_lane = delay(m, f.bias_lane, 1, "bias_lane")
        self.i_host_lane = delay(m, core.host_lane, 1, "host_lane")
        # controls every lane reads: one register per lane on devices that keep them apart
        # (Plan.lane_copies), else one for all (each list holds a lane's register)
        P, apart = b.P, b.plan.lane_copies
        # F to O: 2 edges, 3 with the register B between the operand select and the lanes
        # (Plan.stages); the controls the lanes read at their stage s come O + s after F
        self.O = O = b.plan.stages.at("O")
        self.o_op = [lane_copies(m, f.op[p], O, f"op{p}", 1, apart)[0] for p in range(P)]
        if b.eta_ahead:   # (no registers where no walk computes scaled errors ahead)
            self.i_ahead = delay(m, f.eta_ahead, 1, "eta_ahead")
            self.o_ahead, self.o_take = delay(m, self.i_ahead, O - 1, "eta_ahead_i"), \
                lane_copies(m, f.take, O, "take", P, apart)
        self.o_addr, o_eta = delay(m, f.addr, O, "addr"), delay(m, f.eta, O, "eta")
        s2_addr = delay(m, self.o_addr, 2, "addr_o")
        if not b.host.registered:   # (else each lane's: _weight_reads)
            self.s4_addr = delay(m, s2_addr, 2, "addr_s2")
        self.s2_first, self.s2_round = lane_copies(m, f.first, O + 2, "first", P, apart), \
            lane_copies(m, f.round, O + 2, "round", P, apart)
        s2_learn, s2_update = (delay(m, f.learn, O + 2, "learn"),
                               delay(m, f.update, O + 2, "update"))
        self._random_words(s2_update)
        self._learning_rates(o_eta)
        self._weight_reads(s2_learn, s2_addr, s2_update)
        self.a_lane, self.a_lane_next = Signal(bits(b.P)), Signal(bits(b.P))
        # the a-word select: by default the fetch's broadcast lane; the element walks (FETCH)
        # and the transposed passes' write-backs (WRITEBACK) take it (``select_a``)
        self.a_select = Arbiter(m, "a select", self._select_ahead())
        def broadcast_lane():
            m.d.comb += self.a_lane_next.eq(f.bsel)
        self.a_select.default("the fetch's broadcast lane", broadcast_lane)
        self.a_select.fetch_uses(f.bcast & f.src.matches(*broadcasts_from_a(b)))
        m.d.sync += self.a_lane.eq(self.a_lane_next)
        self.picked_a = pick(m, b.state.rdata("a"), self.a_lane, "picked_a")

    def _select_ahead(self):
        """With the fetch register: the element walks' select of the ``a`` word as the
        sequencer sets it (``a_lane_seq``), and its ``apply`` a cycle later (hdl/arbiter.py);
        else None."""
        b = self.b
        self.a_lane_seq = None
        if not b.plan.stages.fetch:
            return None
        self.a_lane_seq = Signal(bits(b.P), name="a_lane_seq")
        registered = delay(b.m, self.a_lane_seq, 1, "a_lane_seq")
        def apply():
            b.m.d.comb += self.a_lane_next.eq(registered)
        return apply

    def _random_words(self, s2_update):
        """Each lane's word of the LFSR at its stage 2 (``random_of``): the core's one
        ``Lfsr``, stepped by every LEARN at stage 2; on devices that keep the lanes' controls
        apart (``Plan.lane_copies``), with stochastic rounding, a copy of it in each lane
        instead: a register holding the word ``Lfsr.random`` would hold (its next state),
        stepped by the lane's own copy of the LEARN's flag, each marked ``KEEP_APART``. The
        one LFSR's word, rotated for each lane across the device into the lane's stage-2
        adder, was a critical path of the ULX3S digits build (13.8 ns); every copy holds the
        same word in every cycle, so no rounding changes."""
        b = self.b
        m, f, fmt, P = b.m, b.fetched, b.fmt, b.P
        if not (b.plan.lane_copies and fmt.stochastic):
            m.submodules.lfsr = lfsr = Lfsr(fmt.lfsr_seed, fmt.stochastic)
            m.d.comb += lfsr.step.eq(s2_update)
            self.random_of = [lfsr.random] * P
            return
        steps = lane_copies(m, f.update, self.O + 2, "lfsr_step", P, True)
        self.random_of = []
        for p, step in enumerate(steps):
            word = Signal(LFSR_BITS, name=f"random_lane{p}", init=lfsr_step(fmt.lfsr_seed),
                          attrs={KEEP_APART: 1})
            with m.If(step):
                m.d.sync += word.eq(lfsr_next(word))
            self.random_of.append(word)

    def _learning_rates(self, o_eta):
        """Each lane's learning-rate multiplier at stage 1 (``s1_eta``) and, with several
        formats, its format (``s1_eta_sel``)."""
        b = self.b
        m, f, core, fmt = b.m, b.fetched, b.core, b.fmt
        P, apart, O = b.P, b.plan.lane_copies, self.O
        self.s1_eta = Signal(unsigned(max(fmt.eta_bits, STEP_BITS) if b.normalized
                                      else fmt.eta_bits))
        # the ghosts' learning rate: the config's ghost_lr, a constant (constant rule), or
        # the normalizer's step (normalized rule)
        etas = [core.eta[k] for k in range(b.plan.L)]
        self.normalizer = None
        if b.normalized:
            terms = max(b.config.layers[1:]) + 1
            m.submodules.normalizer = self.normalizer = Normalizer(fmt, terms,
                                                                   b.plan.normalizer_lanes)
            # the NORM pass's start and fit, as the sequencer sets them (``Build.ahead``)
            self.norm_start = b.ahead(self.normalizer.start, "norm_start_seq")
            self.norm_sel = b.ahead(self.normalizer.sel, "norm_sel_seq")
            etas.append(self.normalizer.step)
            if apart:
                self.s1_eta_sel = lane_copies(m, f.eta_sel, O + 1, "eta_sel", P, apart)
            else:
                s1_eta_sel = Signal(2)
                m.d.sync += s1_eta_sel.eq(delay(m, f.eta_sel, O, "eta_sel"))
                self.s1_eta_sel = [s1_eta_sel] * P
        elif b.learned:
            etas.append(fmt.eta_mantissa(b.config.ghost_lr, "ghost_lr"))
        if apart:
            eta_o = Signal.like(self.s1_eta, name="eta_o")
            m.d.comb += eta_o.eq(Array(etas)[o_eta])
            self.s1_eta = lane_copies(m, eta_o, 1, "s1_eta", P, apart)
        else:
            m.d.sync += self.s1_eta.eq(Array(etas)[o_eta])
            self.s1_eta = [self.s1_eta] * P

    def _weight_reads(self, s2_learn, s2_addr, s2_update):
        """Each lane's weight read address and ``hold`` (``raddr_of``, ``hold_of``) and its
        write address (``waddr_of``: one all lanes share, ``lane_waddr``, or, with the host's
        writes registered in each lane, each lane's own: hdl/hostport.py)."""
        b = self.b
        m, f, core = b.m, b.fetched, b.core
        P, apart, O = b.P, b.plan.lane_copies, self.O
        self.lane_raddr, self.lane_waddr = Signal.like(f.addr), Signal.like(f.addr)
        # a MAC reads its weight at issue, a LEARN two stages later (lane.py). A LEARN whose
        # read would meet the write of the LEARN before it (a LEARN at stage 4, an ETA at
        # stage 3 between them: hdl/passes/learn.py) was read in the ETA's read cycle, which
        # carried its address: the lanes hold that word. Lanes that register their read data
        # (memory.weight_read_registered) take each address and hold a cycle earlier
        early = weight_read_registered(b.plan.family)
        if early:
            i_addr, s1_addr = (delay(m, f.addr, O - 1, "raddr"),
                               delay(m, self.o_addr, 1, "raddr_o"))
            s1_learn = delay(m, f.learn, O + 1, "raddr_learn")
            s1_update = delay(m, f.update, O + 1, "raddr_update")
            raddr = Mux(s1_learn, s1_addr, i_addr)
        else:
            raddr = Mux(s2_learn, s2_addr, self.o_addr)
        m.d.comb += self.lane_raddr.eq(raddr)
        if b.host.registered:   # each lane's from registers of its own (hdl/hostport.py)
            self.waddr_of = b.host.waddrs(
                lane_copies(m, s2_addr, 2, "waddr_learn", P, apart))
        else:
            m.d.comb += self.lane_waddr.eq(Mux(core.busy, self.s4_addr, core.host_addr))
            self.waddr_of = [self.lane_waddr] * P
        s3_update = delay(m, s2_update, 1, "update_s2")
        s4_update = delay(m, s3_update, 1, "update_s3")
        self.lane_hold = Signal()
        m.d.comb += self.lane_hold.eq((s1_update & ~s2_update & s3_update) if early
                                      else (s2_update & ~s3_update & s4_update))
        self.raddr_of, self.hold_of = [self.lane_raddr] * P, [self.lane_hold] * P
        if apart and early:   # each lane's read address and hold from its own registers
            raddr_of = [Mux(learn, o_addr, addr) for learn, o_addr, addr in zip(
                lane_copies(m, f.learn, O + 1, "raddr_learn", P, apart),
                lane_copies(m, self.o_addr, 1, "raddr_o", P, apart),
                lane_copies(m, f.addr, O - 1, "raddr", P, apart))]
            # hold a cycle ahead: the update flags one stage earlier each (x_d2 = s1's input)
            hold_next = Signal(name="hold_next")
            m.d.comb += hold_next.eq(delay(m, f.update, O, "hold_update") & ~s1_update
                                     & s2_update)
            self.raddr_of = raddr_of
            self.hold_of = lane_copies(m, hold_next, 1, "hold", P, apart)

    def select_a(self, lane, when: When | None = None):
        """Read the ``a`` word of bank ``lane`` as ``picked_a`` (one cycle later); ``when``
        None: the FETCH tier (the sequencer's element walk, in its state)."""
        target = self.a_lane_next if when is not None or self.a_lane_seq is None \
            else self.a_lane_seq   # (the sequencer's, with the fetch register)
        def emit():
            self.b.m.d.comb += target.eq(lane)
        if when is None:
            self.a_select.fetch(self.b.state.fetcher, emit)
        else:
            self.a_select.request(when, emit)

    def sources(self, v, broadcast):
        """The operand sources a pass of this variant can use: the broadcast value (one unit
        for all lanes) or each lane's own word. Rates are broadcast along a row, and own along
        a split row (columns layout); errors are own in a row group, broadcast along a split
        row. ``v``: the words read from each memory."""
        b = self.b
        columns = b.plan.splits_rows
        a_val, s_val = v["a"], v["s"]
        sources = {Src.S: s_val, Src.ERR: s_val}
        if b.held:   # (with dynamics, s holds the error itself when learning starts)
            sources[Src.RHO_A] = b.rho(a_val)
            if not b.dynamics:
                sources[Src.ERR] = s_val - b.rho(a_val)
        if broadcast or columns:
            sources[Src.RATE] = b.rate(a_val)
            if b.smap.inputs == "s":   # the inputs' rates, from s (hdl/statemap.py)
                sources[Src.INPUT] = b.rate(s_val)
            if RATES in v:   # learning's presynaptic rates, on a's second read port
                sources[Src.PRE_RATE] = b.rate(v[RATES])
        if b.learned and broadcast:   # ghost rates for Q's passes
            sources |= {Src.RHO_G: b.rho(v["g"]), Src.RATE_G: b.rate(v["g"])}
            if b.dynamics:            # the ghost state; the free rates for V's learning
                sources[Src.RHO_GS] = b.rho(v["gs"])
                if not b.normalized:
                    sources[Src.RATE_FA] = b.rate(v["fa"])
            if b.plan.splits_v:       # V's error along a split row
                sources[Src.ERR_V] = (self._operand(b.narrow(a_val - v["g"])) if b.normalized
                                      else b.rho(a_val) - b.rho(v["g"]))
        elif b.normalized:            # the errors of V (the drive above minus g) and Q
            sources |= {Src.ERR_V: b.narrow(a_val - v["g"]), Src.ERR_Q: v["q"]}
        elif b.learned:               # the errors of V (kept in v under dynamics) and Q
            sources |= {Src.ERR_V: v["v"] if b.dynamics else b.rho(a_val) - b.rho(v["g"]),
                        Src.ERR_Q: v["q"]}
        return sources

    def _broadcast_operand(self, words, src, bias, name):
        """The broadcast operand of source ``src`` from the broadcast ``words`` (one per
        memory, ``sources``), or the bias input 1.0 where ``bias``."""
        m = self.b.m
        operand = Signal(signed(OPERAND_BITS), name=name)
        with m.Switch(src):
            for source, value in self.sources(words, True).items():
                with m.Case(source):
                    m.d.comb += operand.eq(value)
        with m.If(bias):
            m.d.comb += operand.eq(self.b.fmt.rate_one)
        return operand

    def _operand(self, value):
        """``value`` (a potential's width) as a lane operand: saturated where potentials are
        wider than the operand, as the lanes' own words are."""
        if self.b.width > OPERAND_BITS:
            return saturate(self.b.m, value, OPERAND_BITS)
        return value

    def connect(self, lanes):
        """Select every lane's operand (stage I), register it and drive the lane (stage O).
        With the register B (``Plan.stages``) the broadcast operand, each lane's own operand
        and the choices between them are registered after the select, at B, and the lane's
        operand register takes its word from them: the pick of one lane's word across the
        device and the route back to every lane's operand register in two cycles, not one."""
        b, m, fmt = self.b, self.b.m, self.b.fmt
        state = b.state
        issue = b.plan.stages.issue   # (0 or 1 registers)
        broadcast = {"a": self.picked_a,
                     "s": pick(m, state.rdata("s"), self.i_bsel, "bcast_s")}
        for name in ("g", "gs", "fa", RATES):
            if state.has(name):
                broadcast[name] = pick(m, state.rdata(name), self.i_bsel, f"bcast_{name}")
        bcast = self._broadcast_operand(broadcast, self.i_src, self.i_bias, "bcast")
        if self.normalizer is not None:   # the fit's rates: V's broadcast operand, Q's rate(g)
            norm = self.normalizer
            m.d.comb += [norm.add.eq(delay(m, b.fetched.norm, 1, "norm")),
                         norm.value.eq(Mux(self.i_src == Src.RHO_G,
                                           b.rate(broadcast["g"]), bcast))]
            if norm.lanes:   # a split V's rates (its tapping GHOST_FWD): every lane's own
                i_norm_own = delay(m, b.fetched.norm_own, 1, "norm_own")
        # the broadcast word and the choice of it, at O. With B, the words picked at I are
        # registered there and their source computed after it: the pick of one lane's word
        # of 32 (its select fanned out over the device) and a rate's saturation after it
        # into B took 13.5 ns (the ULX3S digits build's critical path with the fetch
        # register); after B the word meets the route to the lanes' operand registers
        bcast_chosen, bcast_word = delay(m, self.i_bcast, issue, "bcast_i"), bcast
        if issue:
            words = {name: delay(m, word, issue, f"bcast_{name}_i", reset_less=True)
                     for name, word in broadcast.items()}
            bcast_word = self._broadcast_operand(
                words, delay(m, self.i_src, issue, "src_i"),
                delay(m, self.i_bias, issue, "bias_i"), "bcast_word")
        # the lanes that hold the bias column of a matrix in the columns layout
        bias_lanes = {(s.cols - 1) % b.P for s in b.plan.slots.values()
                      if s.lane_map.by_columns and s.name in ("W", "V")}
        for p, (lane, bank) in enumerate(zip(lanes, state.banks)):
            own = Signal(signed(OPERAND_BITS), name=f"own{p}")
            words_read = {name: getattr(bank, f"{name}_rdata") for name in bank.readers()}
            sources = {src: self._operand(value)   # wider potentials saturate, not wrap
                       for src, value in self.sources(words_read, False).items()}
            with m.Switch(self.i_src):
                for src, value in sources.items():
                    with m.Case(src):
                        m.d.comb += own.eq(value)
            with m.If(self.i_src == Src.HOST):   # host reads: 1 in the addressed lane, else 0
                m.d.comb += own.eq(self.i_host_lane == p)
            if p in bias_lanes:
                with m.If(self.i_own_bias & (self.i_bias_lane == p)):
                    m.d.comb += own.eq(fmt.rate_one)
            operand = Signal(signed(OPERAND_BITS), name=f"o_operand{p}", reset_less=True)
            selected = Mux(bcast_chosen, bcast_word,
                           delay(m, own, issue, f"own{p}_i", reset_less=True))
            if lane.eta_ahead:   # its ETA ahead: the error (s) of the broadcast lane
                error = Signal(signed(OPERAND_BITS), name="ahead_error")
                m.d.comb += error.eq(broadcast["s"])
                selected = Mux(delay(m, self.i_ahead, issue, "eta_ahead_b"),
                               delay(m, error, issue, "ahead_error", reset_less=True), selected)
                m.d.comb += lane.ahead.eq(self.o_ahead)
            if lane.takes_error:
                m.d.comb += [lane.take.eq(self.o_take[p]),
                             lane.error_in.eq(lanes[-1].eta_out)]
            m.d.sync += operand.eq(selected)
            if self.normalizer is not None:
                m.d.comb += lane.eta_sel.eq(self.s1_eta_sel[p])
                if norm.lanes:
                    m.d.comb += [norm.lane_value[p].eq(own[:len(norm.value)]),
                                 norm.lane_add[p].eq(i_norm_own[p])]
            m.d.comb += [lane.op.eq(self.o_op[p]), lane.addr.eq(self.raddr_of[p]),
                         lane.hold.eq(self.hold_of[p]),
                         lane.operand.eq(operand), lane.eta.eq(self.s1_eta[p]),
                         lane.first.eq(self.s2_first[p]), lane.waddr.eq(self.waddr_of[p]),
                         lane.round_sel.eq(self.s2_round[p]),
                         lane.random.eq(self.random_of[p].rotate_left((p * LANE_ROTATION)
                                                                      % LFSR_BITS))]
