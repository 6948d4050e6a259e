"""The streamed sample port: a sample arrives as ``ceil(n_0 / P)`` beats of one state word
per lane (beat w carries inputs x_{wP} .. x_{wP+P-1}, lane p for bank p; ``label`` and
``train`` are taken from the last beat), written straight into the spare one of the two x
buffers (in memory ``smap.inputs``, a or s: hdl/statemap.py) while the core still works on
the current sample. No sample is held in registers, in the core or in its producer beyond
one beat.

- ``ready`` = no whole sample waits yet (``loaded`` low) and the memory's write bus is
  unclaimed this cycle: the beats are the bus's SPARE requester (hdl/arbiter.py), below
  every pass. (Where the lanes spread over the ECP5 a beat goes into a register first and
  is written from it: ``ready`` = that register empty, ``SampleIntake._beat``.) In a, only the forward passes write, so beats streamed while the previous
  sample settles, feeds back and learns are never held up; in s, the settling, the feedback
  passes' write-backs and the error walks write, and the beats take the cycles between
  (the forward and learning passes write none). ``ready`` does not depend on ``valid``.
- A beat's words are in the memory one cycle after it was taken (the write port's edge);
  after the last beat the sample is ``loaded``, and the sequencer ``take``s it when it starts
  the sample (from ``idle``, or chained at the end of the previous one: hdl/sequencer.py).
  Taking swaps the buffers (``x_cur``, the address bit of the current one) and frees the
  other for the next sample's beats.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Signal

__all__ = ["SampleIntake"]


class SampleIntake:
    """The beats of ``b.core.sample`` into the spare x buffer (see the module docstring)."""

    def __init__(self, b):
        self.b = b
        m, core, smap, fmt = b.m, b.core, b.smap, b.fmt
        n0, P = b.config.layers[0], b.P
        words = smap.words[0]
        self.x_cur = Signal(name="x_cur")          # the buffer the current sample reads
        self.loaded = Signal(name="loaded")        # the spare buffer holds a whole sample
        self.word = Signal(range(max(words, 2)), name="in_word")   # the next beat's word
        self.label = Signal.like(b.count.label, name="next_label")
        self.train = Signal(name="next_train")
        valid, payload = self._beat(m, core.sample, b.plan.lane_copies)
        last = self.word == words - 1
        tail = n0 - (words - 1) * P                # the lanes with an input in the last beat
        values = {p: payload.x[p] << fmt.input_shift for p in range(min(P, n0))}
        enables = {p: (~last if p >= tail else 1) for p in values}
        spare = Cat(self.word[:smap.x_shift], ~self.x_cur)
        bus = b.state.writes[smap.inputs]
        self.written = bus.spare_lanes("the sample's beats", valid & ~self.loaded, spare,
                                values, enables)
        if self.held is None:
            m.d.comb += core.sample.ready.eq(~self.loaded & bus.arbiter.unclaimed)
        else:
            with m.If(self.written):
                m.d.sync += self.held.eq(0)
        with m.If(self.written):
            m.d.sync += self.word.eq(self.word + 1)
            with m.If(last):
                m.d.sync += [self.word.eq(0), self.loaded.eq(1),
                             self.label.eq(payload.label), self.train.eq(payload.train)]

    def _beat(self, m, port, registered: bool):
        """The beat the memory's write takes (``valid``, ``payload``): the port's own, or,
        ``registered`` (lanes spread over the ECP5, ``Plan.lane_copies``), one taken into a
        register first (``held``): the port is ``ready`` while the register is empty. Then
        no path runs from the write bus's arbitration through the producer's handshake
        back into the bus's address, which every bank takes across the device (the ULX3S
        digits build's critical path built for 90 MHz, 14.5 ns, 13.1 of it routes); a beat
        is written a cycle later, and a sample takes a beat every two cycles at most (its
        producer, the link, gathers a beat from many bytes)."""
        self.held = None
        if not registered:
            return port.valid, port.payload
        self.held = Signal(name="beat_held")
        payload = Signal(port.payload.shape(), name="beat", reset_less=True)
        m.d.comb += port.ready.eq(~self.held)
        with m.If(port.valid & ~self.held):
            m.d.sync += [self.held.eq(1), payload.eq(port.payload)]
        return self.held, payload

    def take(self):
        """Start the loaded sample (in the sequencer's state that starts it): its label and
        train flag to the counters, its buffer current."""
        count = self.b.count
        self.b.m.d.sync += [self.x_cur.eq(~self.x_cur), self.loaded.eq(0),
                            count.label.eq(self.label), count.train.eq(self.train)]
