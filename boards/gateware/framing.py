"""Frame gateware of the host link (docs/protocol.md): the receiving framer with its ring of
frame slots, and the sender that adds CRC and COBS to a reply.

Both own their block RAM: the receiver writes slot ``head`` while the executor reads slot
``tail`` (never the same word), the sender reads queued reply slots while the executor writes a
slot that is not queued.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.crc import catalog
from amaranth.lib.wiring import In, Out

from ghostfpga.hdl.memory import block_ram

from ..protocol import CRC_BYTES, HEADER_BYTES, OVERHEAD, Reject

__all__ = ["FrameReceiver", "FrameSender"]


def _crc16():
    return catalog.CRC16_IBM_3740(data_width=8).create()


class FrameReceiver(wiring.Component):
    """COBS frames from ``i`` into ``frames`` slots of ``slot_bytes``; a good body (CRC,
    length) enters the ring, a bad one pulses ``reject`` with its ``cause`` at its delimiter.

    Decoding runs at the byte rate (``i.ready`` is always high). At every 0x00 the decoder
    starts afresh, so garbage costs at most the frame it lands in. Checks, first that fails
    wins: every slot full when the frame began (OVERFLOW), a delimiter inside a COBS block
    (COBS), a body longer than a slot (OVERSIZE), shorter than header and CRC (TRUNCATED), a
    CRC mismatch (CRC), a header length other than the bytes received (LENGTH). An empty frame
    (two delimiters) is ignored. The checks are judged on the bytes before the delimiter and
    registered a cycle later, so a byte must not follow another in the next cycle (``i.valid``
    is high at most every other cycle; the UART gives a byte every ten bit periods).

    The executor reads slot ``tail`` (``raddr`` within the slot, ``rdata`` one cycle later,
    ``length`` = its body bytes without the CRC) while ``available``, and strobes ``release``
    when done with it. The slot RAM reads only while ``available``: the tail slot then holds a
    whole frame, which no byte received is written into, so no read meets a write.
    """

    def __init__(self, frames: int, slot_bytes: int):
        self.frames, self.slot_bytes = frames, slot_bytes
        self._slot_bits = (slot_bytes - 1).bit_length()
        super().__init__({
            "i": In(stream.Signature(8)),
            "reject": Out(1),
            "cause": Out(4),
            "available": Out(1),
            "tail": Out(range(frames)),
            "length": Out(range(slot_bytes + 1)),
            "raddr": In(range(slot_bytes)),
            "rdata": Out(8),
            "release": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        N, S = self.frames, self.slot_bytes
        mem = block_ram(8, N * S)
        m.submodules.mem = mem
        wr, rd = mem.write_port(), mem.read_port()
        self.ports = {"mem": (mem, rd, wr)}   # for simulation checks
        m.submodules.crc = crc = _crc16()

        head = Signal(range(N))
        tail = Signal(range(N))
        count = Signal(range(N + 1))
        lengths = [Signal(range(S + 1), name=f"length{k}") for k in range(N)]
        in_frame = Signal()        # a byte other than 0x00 since the last delimiter
        overflow = Signal()        # no free slot when this frame began
        remaining = Signal(8)      # data bytes left in the current COBS block
        last_ff = Signal()         # the current block's code was 0xFF (no implied zero)
        started = Signal()         # a block has begun in this frame
        size = Signal(range(S + 2))  # body bytes decoded (saturating at S + 1)
        header_len = Signal(16)

        def slot_base(k):
            return k << self._slot_bits if N > 1 else 0

        m.d.comb += [self.i.ready.eq(1), self.available.eq(count != 0), self.tail.eq(tail),
                     self.length.eq(Array(lengths)[tail]),
                     rd.addr.eq(Cat(self.raddr, tail) if N > 1 else self.raddr),
                     rd.en.eq(count != 0), self.rdata.eq(rd.data)]

        emit = Signal()
        emit_byte = Signal(8)
        with m.If(emit):
            with m.If(size < S):
                m.d.comb += [wr.en.eq(~overflow), wr.addr.eq(Cat(size[:self._slot_bits], head)
                                                             if N > 1 else size),
                             wr.data.eq(emit_byte)]
            m.d.comb += [crc.valid.eq(1), crc.data.eq(emit_byte), crc.start.eq(size == 0)]
            m.d.sync += size.eq(Mux(size == S + 1, size, size + 1))
            with m.If(size == 2):
                m.d.sync += header_len[:8].eq(emit_byte)
            with m.If(size == 3):
                m.d.sync += header_len[8:].eq(emit_byte)

        # the frame's checks on the bytes decoded so far, first that fails wins, registered:
        # the delimiter reads the flip-flops (their priority, with the length's subtract and
        # compare, in front of the slot's length and the ring's head was an iCEBreaker build's
        # critical path). A byte changes them a cycle before they are read at the next byte.
        # (Written as overriding assignments, last check first: the same checks as an If /
        # Elif chain into a combinational verdict mapped to 12 more cells and placed the
        # iCEBreaker build at 31.8 MHz against 33.3 at seed 1)
        bad, cause = Signal(), Signal(4)
        checks = ((overflow, Reject.OVERFLOW), (remaining != 0, Reject.COBS),
                  (size > S, Reject.OVERSIZE), (size < OVERHEAD, Reject.TRUNCATED),
                  (~crc.match_detected, Reject.CRC),
                  (header_len != size - OVERHEAD, Reject.LENGTH))
        for k, (failed, code) in enumerate(reversed(checks)):
            if k == 0:
                m.d.sync += [bad.eq(failed), cause.eq(Mux(failed, code, 0))]
            else:
                with m.If(failed):
                    m.d.sync += [bad.eq(1), cause.eq(code)]

        popped = Signal()
        m.d.comb += popped.eq(self.release & (count != 0))
        with m.If(popped):
            m.d.sync += tail.eq(Mux(tail == N - 1, 0, tail + 1))
        pushed = Signal()

        byte = self.i.payload
        with m.If(self.i.valid):
            with m.If(byte == 0):                          # delimiter: judge the frame
                m.d.sync += [in_frame.eq(0), started.eq(0), remaining.eq(0), size.eq(0)]
                with m.If(in_frame):
                    m.d.comb += [self.reject.eq(bad), self.cause.eq(cause)]
                    with m.If(~bad):
                        m.d.comb += pushed.eq(1)
                        for k in range(N):
                            with m.If(head == k):
                                m.d.sync += lengths[k].eq(size - CRC_BYTES)
                        m.d.sync += head.eq(Mux(head == N - 1, 0, head + 1))
            with m.Else():
                with m.If(~in_frame):                      # the first byte of a frame
                    m.d.sync += [in_frame.eq(1), overflow.eq(count == N)]
                with m.If(remaining == 0):                 # a code byte
                    with m.If(started & ~last_ff):
                        m.d.comb += [emit.eq(1), emit_byte.eq(0)]
                    m.d.sync += [remaining.eq(byte - 1), last_ff.eq(byte == 0xFF),
                                 started.eq(1)]
                with m.Else():
                    m.d.comb += [emit.eq(1), emit_byte.eq(byte)]
                    m.d.sync += remaining.eq(remaining - 1)
        m.d.sync += count.eq(count + pushed - popped)
        return m


class FrameSender(wiring.Component):
    """Replies from ``frames`` slots of ``slot_bytes`` to ``o``, each as ``0x00 COBS(body
    CRC) 0x00``.

    The executor writes a reply body (header first, no CRC) into a slot that is not
    ``queued`` (``waddr`` = slot and offset, ``wdata``, ``we``), then strobes ``push`` with
    the slot in ``push_slot``; slots go out in the order pushed. The sender reads the body's
    length from its header, then COBS-encodes body and CRC, scanning each block before
    sending it; the scan visits every body byte once and in order, so the CRC is complete
    when the scan reaches it. A slot stays ``queued`` until its closing delimiter is taken.
    The slot RAM reads only in the states that use its data (``reading``), all on a queued
    slot, which the executor does not write: no read meets a write.

    ``registered_read``: the slot RAM's read data goes through a register before the CRC and
    the state machine use it, and every read state waits a cycle for it (``_WAIT`` states):
    on the ECP5, where the DP16KD's 5.8 ns clock-to-out and the route from wherever the
    placer puts the RAM were the ULX3S digits build's critical path. A byte then takes 3
    cycles to scan and 3 to send instead of 2, against the UART's 10 bit times (200 cycles at
    60 MHz and 3 Mbaud).

    ``registered_write``: the executor's write (address, byte, enable) goes through a
    register and lands in the slot RAM a cycle later: on the ECP5, where the executor's
    reply byte select into the RAM's write port, placed across the device, was a ULX3S
    digits build's critical path. ``push`` may still come with (or after) the slot's last
    write: the sender's first read of a pushed slot is two cycles after its push.
    """

    def __init__(self, frames: int, slot_bytes: int, registered_read: bool = False,
                 registered_write: bool = False):
        self.frames, self.slot_bytes = frames, slot_bytes
        self.registered_read = registered_read
        self.registered_write = registered_write
        self._slot_bits = (slot_bytes - 1).bit_length()
        super().__init__({
            "o": Out(stream.Signature(8)),
            "waddr": In(range(frames * slot_bytes)),
            "wdata": In(8),
            "we": In(1),
            "push": In(1),
            "push_slot": In(range(frames)),
            "queued": Out(frames),
        })

    def elaborate(self, platform):
        m = Module()
        N, S = self.frames, self.slot_bytes
        mem = block_ram(8, N * S)
        m.submodules.mem = mem
        wr, rd = mem.write_port(), mem.read_port()
        self.ports = {"mem": (mem, rd, wr)}   # for simulation checks
        m.submodules.crc = crc = _crc16()
        if self.registered_write:
            m.d.sync += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we)]
        else:
            m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we)]

        # the queue of pushed slots: a ring of slot numbers
        order = [Signal(range(N), name=f"order{k}") for k in range(N)]
        q_head, q_tail = Signal(range(N)), Signal(range(N))
        q_count = Signal(range(N + 1))
        popped = Signal()
        with m.If(self.push):
            for k in range(N):
                with m.If(q_head == k):
                    m.d.sync += order[k].eq(self.push_slot)
            m.d.sync += q_head.eq(Mux(q_head == N - 1, 0, q_head + 1))
        m.d.sync += q_count.eq(q_count + self.push - popped)

        slot = Signal(range(N))
        total = Signal(range(S + 1))       # body bytes and CRC
        body = Signal(range(S + 1))        # body bytes
        pos = Signal(range(S + 1))         # first byte of the current block
        n = Signal(range(256))             # bytes of the current block
        end = Signal(range(S + 1))         # pos + n once the block is scanned
        index = Signal(range(S + 2))       # the byte being read
        done_slot = Signal(range(N))
        finished = Signal()

        def addr(offset):
            return Cat(offset[:self._slot_bits], slot) if N > 1 else offset[:self._slot_bits]

        read_index = Signal(range(S + 2))
        reading = Signal()                 # a state that uses the slot's bytes
        m.d.comb += [rd.addr.eq(addr(read_index)), rd.en.eq(reading)]
        # where ``index`` is, from registers: every state that uses ``byte`` (SCAN, DATA)
        # follows a read state that keeps ``index``, so the comparisons are a cycle ahead
        # (a cut of the path from ``body`` through the compare into the state machine)
        in_body, crc_high = Signal(), Signal()
        m.d.sync += [in_body.eq(index < body), crc_high.eq(index == body)]
        data = rd.data                     # the slot byte read (registered: a cycle later)
        if self.registered_read:
            data = Signal(8, name="read_data")
            m.d.sync += data.eq(rd.data)
        byte = Signal(8)                   # the byte at ``index`` (body, then CRC)
        m.d.comb += byte.eq(Mux(in_body, data, Mux(crc_high, crc.crc[8:], crc.crc[:8])))
        header = Signal(16)

        queued = Signal(N)
        set_bit = Signal(N)
        clear_bit = Signal(N)
        with m.If(self.push):
            m.d.comb += set_bit.eq(1 << self.push_slot)
        with m.If(finished):
            m.d.comb += clear_bit.eq(1 << done_slot)
        m.d.sync += queued.eq((queued & ~clear_bit) | set_bit)
        m.d.comb += self.queued.eq(queued)

        waits = []   # (state, the state after it, the byte it reads): registered_read

        def wait(state, after, offset):
            """The state after read state ``state``: ``after``, or with a registered read a
            state that reads ``offset`` again while the data reaches its register."""
            if not self.registered_read:
                return after
            waits.append((f"{state}_WAIT", after, offset))
            return f"{state}_WAIT"

        with m.FSM():
            with m.State("IDLE"):
                with m.If(q_count != 0):
                    m.d.comb += popped.eq(1)
                    for k in range(N):
                        with m.If(q_tail == k):
                            m.d.sync += slot.eq(order[k])
                    m.d.sync += q_tail.eq(Mux(q_tail == N - 1, 0, q_tail + 1))
                    m.next = "LEN_LO"
            with m.State("LEN_LO"):
                m.d.comb += [read_index.eq(2), reading.eq(1)]
                m.next = wait("LEN_LO", "LEN_HI", 2)
            with m.State("LEN_HI"):
                m.d.comb += [read_index.eq(3), reading.eq(1)]
                m.d.sync += header[:8].eq(data)
                m.next = wait("LEN_HI", "LEN", 3)
            with m.State("LEN"):
                m.d.sync += [body.eq(Cat(header[:8], data) + HEADER_BYTES),
                             total.eq(Cat(header[:8], data) + OVERHEAD), pos.eq(0)]
                m.next = "OPEN"
            with m.State("OPEN"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(0)]
                with m.If(self.o.ready):
                    m.d.sync += [n.eq(0), index.eq(pos)]
                    m.next = "SCAN_READ"
            # scan: count the nonzero bytes of the block at ``pos`` (n and index step
            # together, so index = pos + n throughout, and ``end`` keeps it for the block)
            with m.State("SCAN_READ"):
                m.d.comb += [read_index.eq(index), reading.eq(1)]
                with m.If((n == 254) | (index == total)):
                    m.next = "CODE"
                with m.Else():
                    m.next = wait("SCAN_READ", "SCAN", index)
            with m.State("SCAN"):
                m.d.comb += [read_index.eq(index), reading.eq(1)]
                with m.If(in_body):        # every body byte is scanned once, in order
                    m.d.comb += [crc.valid.eq(1), crc.data.eq(data),
                                 crc.start.eq(index == 0)]
                with m.If(byte == 0):
                    m.next = "CODE"
                with m.Else():
                    m.d.sync += [n.eq(n + 1), index.eq(index + 1)]
                    m.next = "SCAN_READ"
            with m.State("CODE"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(n + 1)]
                with m.If(self.o.ready):
                    m.d.sync += [index.eq(pos), end.eq(index)]
                    m.next = "DATA_READ"
            with m.State("DATA_READ"):
                m.d.comb += [read_index.eq(index), reading.eq(1)]
                with m.If(index == end):
                    m.next = "NEXT"
                with m.Else():
                    m.next = wait("DATA_READ", "DATA", index)
            with m.State("DATA"):
                m.d.comb += [read_index.eq(index), reading.eq(1), self.o.valid.eq(1),
                             self.o.payload.eq(byte)]
                with m.If(self.o.ready):
                    m.d.sync += index.eq(index + 1)
                    m.next = "DATA_READ"
            with m.State("NEXT"):
                m.d.sync += n.eq(0)
                with m.If(n == 254):
                    m.d.sync += [pos.eq(end), index.eq(end)]
                    m.next = "SCAN_READ"
                with m.Elif(end == total):
                    m.next = "CLOSE"
                with m.Else():                             # skip the zero that ends the block
                    m.d.sync += [pos.eq(end + 1), index.eq(end + 1)]
                    m.next = "SCAN_READ"
            with m.State("CLOSE"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(0)]
                with m.If(self.o.ready):
                    m.d.comb += [finished.eq(1), done_slot.eq(slot)]
                    m.next = "IDLE"
            for state, after, offset in waits:
                with m.State(state):
                    m.d.comb += [read_index.eq(offset), reading.eq(1)]
                    m.next = after
        return m
