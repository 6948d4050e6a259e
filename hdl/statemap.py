"""The state memory map: which memories a core has, what each region holds, and where.

Every lane has one bank of these memories (hdl/state.py); lane p holds unit j of a layer with
j mod P == p, at word j // P of the layer's region. Regions are indexed by layer k (the layer
of W_k's outputs, 0-based); ``x`` is the input.

    memory  region k holds                                  golden model (golden/fixed.py)
    a       the drive / state of layer k (and x, where      u[k] (free: a[k]), x_q
            the inputs are in a)
    s       x where the inputs are in s (two buffers),      x_q
            then the feedback source of layer k: its error  rho(u) - rho(a) (tied), rho(u)
            (tied) or its nudged rate (replay, learned);    (replay, learned); dynamics:
            dynamics: the error rho(u_k) - rho(d_k)         rho(u) - rho(d)
    h       tied dynamics: the ghost state g_k (mirrors     g[k]
            layer k + 1); replay: the held feedback;        h[k]
            learned: the ghost output c_k = Q_k rho(g_k)    c[k]
    d       dynamics: the drive d_k of the current state    d[k] = W_k r_{k-1}
    g       learned: the ghost drive g_k = V_k r_k          g[k] (mirrors layer k + 1)
    q       learned: Q's error q_k                          free feedback - c[k]
    gs      learned dynamics: the ghost state               gs[k]
    e       learned dynamics: the ghost drive of the        V_k r_k of the current state
            current state
    v       learned dynamics: V's error of the free phase   rho(a_{k+1}) - rho(g_k)
    fa      learned dynamics, constant rule: the free       a[k] (for V's learning)
            drive of layer k

The input x has two buffers at words 0 and ``x_stride`` (a power of two, so the buffer is
one address bit, ``x_shift``) of memory ``inputs``: the current sample reads one while the
next sample's beats fill the other (hdl/intake.py); region "x" is the current buffer, and the
memory's layers follow the buffers. ``inputs`` is ``s`` where ``a`` has no second read port
for the learning passes' rates (``Plan.inputs``): the learning pass over W_0 then reads x on
``s``'s port, not on the ``a`` port where the feedback pass before it still reads its units'
drives, so it need not wait for that pass's write-back (docs/hardware.md, "The inputs in s").

Aliases are explicit: ``d`` shares ``s``'s map, ``q`` and ``fa`` share ``h``'s, ``gs``, ``e``
and ``v`` share ``g``'s (different memories, the same word for the same unit).
"""

from __future__ import annotations

import math

__all__ = ["StateMap", "MEMORIES"]

MEMORIES = ("a", "s", "h", "d", "g", "q", "gs", "e", "v", "fa")


class StateMap:
    """Region bases and memory depths (in words per lane) of a config's state memories."""

    def __init__(self, config, lanes: int, inputs: str = "a"):
        if inputs not in ("a", "s"):
            raise ValueError(f"the inputs go in a or s, not {inputs!r}")
        self.inputs = inputs
        P, L, sizes = lanes, config.n_layers, config.layers
        words = [math.ceil(n / P) for n in sizes]
        self.words = words
        held = config.variant in ("replay", "learned")
        learned = config.variant == "learned"
        dynamics = config.schedule == "dynamics"
        saves_free = learned and dynamics and config.ghost_rule == "constant"
        self.tied_ghosts = dynamics and config.variant == "tied"

        def layers_from(first, count):
            """Bases of regions that stack layers ``first``, ``first + 1``, ... (count)."""
            return {k: sum(words[first:first + k]) for k in range(count)}

        # a: a_0 .. a_{L-1}; s: s_0 ..; h: h_0 ..; the two x buffers before a_0 or s_0
        self.x_shift = (words[0] - 1).bit_length()   # buffer 1 starts at 1 << x_shift
        self.x_stride = 1 << self.x_shift
        x_end = self.x_stride + words[0]
        a_first = x_end if inputs == "a" else 0
        s_first = x_end if inputs == "s" else 0
        x = {"x": 0}
        self.a = (x if inputs == "a" else {}) | {k: a_first + sum(words[1:k + 1])
                                                  for k in range(L)}
        self.s = (x if inputs == "s" else {}) | {k: s_first + sum(words[1:k + 1])
                                                  for k in range(L)}
        if self.tied_ghosts:   # h holds the ghost state g_k, mirroring layer k + 1
            self.h = layers_from(2, L - 1)
            h_depth = sum(words[2:L + 1])
        else:                  # h holds the feedback held at the end of the free phase
            self.h = layers_from(1, L - 1)
            h_depth = sum(words[1:L]) if held else 0
        self.d = self.s
        self.g = layers_from(2, L - 1)    # learned ghosts mirror layer k + 1
        self.q = self.fa = self.h
        self.gs = self.e = self.v = self.g
        g_depth = sum(words[2:L + 1]) if learned else 0
        q_depth = h_depth if learned else 0
        s_depth = s_first + sum(words[1:])
        self.depths = {
            "a": a_first + sum(words[1:L + 1]), "s": s_depth, "h": h_depth,
            "d": s_depth if dynamics else 0, "g": g_depth, "q": q_depth,
            "gs": g_depth if learned and dynamics else 0,
            "e": g_depth if learned and dynamics else 0,
            "v": g_depth if learned and dynamics else 0,
            "fa": q_depth if saves_free else 0,
        }

    def base(self, memory: str, k) -> int:
        """First word of region ``k`` (a layer index, or "x") of ``memory``."""
        return getattr(self, memory)[k]

    def built(self) -> dict[str, int]:
        """The memories the core builds (depth > 0)."""
        return {name: depth for name, depth in self.depths.items() if depth > 0}
