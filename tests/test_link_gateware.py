"""Block tests of the host link's gateware in Amaranth's simulator: the UART against a reference
bit stream, the framer and the sender against the protocol's reference functions."""

import random

import pytest
from amaranth.sim import Simulator

from ghostfpga.boards.gateware.framing import FrameReceiver, FrameSender
from ghostfpga.boards.protocol import Reject, cobs_decode, cobs_encode, crc16, encode_frame
from ghostfpga.boards.gateware.uart import UARTReceiver, UARTTransmitter

D = 6   # clocks per bit in these tests


def ref_bits(data: bytes, divisor: int = D, stop: bool = True) -> list[int]:
    """The rx line, one value per clock: 8N1, least significant bit first, idle high."""
    line = [1] * 3 * divisor
    for b in data:
        bits = [0] + [(b >> i) & 1 for i in range(8)] + [1 if stop else 0]
        for bit in bits:
            line += [bit] * divisor
        if not stop:
            line += [1] * divisor   # the line recovers before the next byte
    return line + [1] * 3 * divisor


def run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def rtl_receive(line: list[int], divisor: int = D) -> tuple[list[int], int]:
    rx = UARTReceiver(divisor)
    got, errors = [], [0]

    async def bench(ctx):
        ctx.set(rx.o.ready, 1)
        for v in line:
            ctx.set(rx.rx, v)
            await ctx.tick()
            if ctx.get(rx.o.valid):
                got.append(ctx.get(rx.o.payload))
            errors[0] += ctx.get(rx.stop_error)

    run(rx, bench)
    return got, errors[0]


def test_uart_receiver_takes_a_reference_bit_stream():
    data = bytes(range(256)) + b"\x00\xff\x55\xaa"
    got, errors = rtl_receive(ref_bits(data))
    assert bytes(got) == data and errors == 0


def test_uart_receiver_drops_a_byte_without_stop_bit_and_counts_it():
    line = ref_bits(b"\x12\x34") + ref_bits(b"\x56", stop=False) + ref_bits(b"\x78")
    got, errors = rtl_receive(line)
    assert bytes(got) == b"\x12\x34\x78" and errors == 1


def test_uart_receiver_ignores_a_glitch_shorter_than_half_a_bit():
    line = [1] * 10 + [0] * (D // 2 - 1) + [1] * 20 + ref_bits(b"\x5a")
    got, errors = rtl_receive(line)
    assert bytes(got) == b"\x5a" and errors == 0


@pytest.mark.parametrize("skew", [0.97, 1.03])
def test_uart_receiver_tolerates_three_percent_clock_mismatch(skew):
    # the sender's bit period is skew x the receiver's: mid-bit sampling absorbs it
    data = bytes(random.Random(1).randrange(256) for _ in range(40))
    t = 0.0
    period = D * skew * 8   # a slower divisor magnifies the effect of fractions
    levels = []
    for b in data:
        for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1, 1]:
            t += period
            while len(levels) < t:
                levels.append(bit)
    got, _ = rtl_receive([1] * 20 + levels + [1] * 100, 8 * D)
    assert bytes(got) == data


def test_uart_transmitter_sends_the_reference_bit_stream():
    data = b"\x00\x01\x80\xff\x3c"
    tx = UARTTransmitter(D)
    line = []

    async def bench(ctx):
        for b in data:
            ctx.set(tx.i.payload, b)
            ctx.set(tx.i.valid, 1)
            await ctx.tick().until(tx.i.ready)
            for _ in range(10 * D):   # while this byte goes out, record the line
                line.append(ctx.get(tx.tx))
                await ctx.tick()
                ctx.set(tx.i.valid, 0)
        for _ in range(2 * D):
            line.append(ctx.get(tx.tx))
            await ctx.tick()

    run(tx, bench)
    # the line, decoded by the reference: 10 bits of D clocks per byte, back to back
    expected = []
    for b in data:
        for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
            expected += [bit] * D
    start = line.index(0)
    assert line[start:start + len(expected)] == expected


# -- framing ---------------------------------------------------------------------------------
FRAMES, SLOT = 4, 128


async def feed(ctx, fr, b: int, causes: list) -> None:
    """One byte into the framer; a rejection at it is recorded."""
    ctx.set(fr.i.payload, b)
    ctx.set(fr.i.valid, 1)
    if ctx.get(fr.reject):
        causes.append(Reject(ctx.get(fr.cause)))
    await ctx.tick()


def rtl_frames(stream: bytes):
    """Feed bytes to the framer; returns (bodies it stored, causes it rejected)."""
    fr = FrameReceiver(FRAMES, SLOT)
    bodies, causes = [], []

    async def bench(ctx):
        for b in stream:
            await feed(ctx, fr, b, causes)
            ctx.set(fr.i.valid, 0)
            await ctx.tick()
            if ctx.get(fr.available):   # read and release the frame at the tail
                length = ctx.get(fr.length)
                body = []
                for k in range(length):
                    ctx.set(fr.raddr, k)
                    await ctx.tick()
                    body.append(ctx.get(fr.rdata))
                bodies.append(bytes(body))
                ctx.set(fr.release, 1)
                await ctx.tick()
                ctx.set(fr.release, 0)

    sim = Simulator(fr)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return bodies, causes


def ref_frames(stream: bytes):
    """The protocol's reference framer (boards/host/fake.py logic): bodies without CRC, causes."""
    from ghostfpga.boards.protocol import CobsError, FrameError, parse_body

    bodies, causes = [], []
    for raw in stream.split(b"\x00"):
        if not raw:
            continue
        try:
            body = cobs_decode(raw)
            parse_body(body, SLOT)
            bodies.append(body[:-2])
        except CobsError:
            causes.append(Reject.COBS)
        except FrameError as exc:
            causes.append(exc.cause)
    return bodies, causes


def _bad_frames(rng):
    good = encode_frame(0x06, 7, bytes(rng.randrange(256) for _ in range(30)))
    body = cobs_decode(good[1:-1])
    return {
        "good": good,
        "empty-payload": encode_frame(0x01, 0, b""),
        "zeros": encode_frame(0x02, 0, bytes(60)),
        "crc": b"\x00" + cobs_encode(body[:-1] + bytes([body[-1] ^ 1])) + b"\x00",
        "truncated": b"\x00" + cobs_encode(body[:3]) + b"\x00",
        "oversize": encode_frame(0x02, 1, bytes(rng.randrange(1, 256) for _ in range(200))),
        "length": b"\x00" + cobs_encode(_with_crc(body[:2] + b"\x05\x00" + body[4:-2]))
                  + b"\x00",
        "cobs": b"\x00\x09\x11\x22\x00",
        "garbage": bytes(rng.randrange(1, 256) for _ in range(17)) + b"\x00",
    }


def _with_crc(b: bytes) -> bytes:
    return b + crc16(b).to_bytes(2, "big")


def test_framer_stores_good_frames_and_names_every_bad_one():
    rng = random.Random(3)
    frames = _bad_frames(rng)
    stream = b"".join(frames[k] for k in ["good", "crc", "empty-payload", "truncated", "zeros",
                                           "oversize", "length", "cobs", "garbage", "good"])
    assert rtl_frames(stream) == ref_frames(stream)
    bodies, causes = ref_frames(stream)
    assert len(bodies) == 4
    assert set(causes) >= {Reject.CRC, Reject.TRUNCATED, Reject.OVERSIZE, Reject.LENGTH,
                           Reject.COBS}


def test_framer_resynchronizes_after_random_garbage():
    rng = random.Random(5)
    stream = b""
    for _ in range(12):
        stream += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        stream += encode_frame(0x03, rng.randrange(256),
                               bytes(rng.randrange(256) for _ in range(rng.randrange(0, 100))))
    rtl, ref = rtl_frames(stream), ref_frames(stream)
    assert rtl == ref
    assert len(ref[0]) >= 12     # every good frame survives the garbage before it


def test_framer_counts_overflow_when_every_slot_is_full():
    fr = FrameReceiver(2, SLOT)
    causes = []
    stream = b"".join(encode_frame(0x08, k, b"") for k in range(3))

    async def bench(ctx):
        for b in stream:
            await feed(ctx, fr, b, causes)
            ctx.set(fr.i.valid, 0)      # (a byte at most every other cycle, as the UART)
            await ctx.tick()
        assert ctx.get(fr.available)

    sim = Simulator(fr)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert causes == [Reject.OVERFLOW]


def rtl_send(bodies: list[bytes], slot_bytes: int = SLOT, registered_read: bool = False,
             stall: bool = False, registered_write: bool = False,
             push_with_last_write: bool = False) -> bytes:
    """What the sender puts out for ``bodies``; ``stall``: the sink is ready every third
    cycle only; ``push_with_last_write``: each slot pushed in the cycle of its last byte's
    write (the earliest the sender allows), not the cycle after (the executor's)."""
    SLOT = slot_bytes
    snd = FrameSender(FRAMES, SLOT, registered_read, registered_write)
    out = bytearray()
    cycle = [0]

    async def step(ctx):
        """One cycle: the byte taken (valid and ready), then the sink's next ready."""
        if ctx.get(snd.o.valid) and ctx.get(snd.o.ready):
            out.append(ctx.get(snd.o.payload))
        await ctx.tick()
        cycle[0] += 1
        ctx.set(snd.o.ready, not stall or cycle[0] % 3 == 0)

    async def bench(ctx):
        ctx.set(snd.o.ready, 1)
        for k, body in enumerate(bodies):
            slot = k % FRAMES
            while (ctx.get(snd.queued) >> slot) & 1:
                await step(ctx)
            for i, b in enumerate(body):
                ctx.set(snd.waddr, slot * SLOT + i)
                ctx.set(snd.wdata, b)
                ctx.set(snd.we, 1)
                if push_with_last_write and i == len(body) - 1:
                    break
                await step(ctx)
            else:
                ctx.set(snd.we, 0)
            ctx.set(snd.push_slot, slot)
            ctx.set(snd.push, 1)
            await step(ctx)
            ctx.set(snd.push, 0)
            ctx.set(snd.we, 0)
        for _ in range(20_000):
            await step(ctx)
            if not ctx.get(snd.queued) and not ctx.get(snd.o.valid):
                break
        else:
            raise AssertionError("the sender did not finish")

    sim = Simulator(snd)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return bytes(out)


def ref_send(bodies: list[bytes]) -> bytes:
    return b"".join(b"\x00" + cobs_encode(_with_crc(b)) + b"\x00" for b in bodies)


def _reply(payload: bytes) -> bytes:
    return bytes([0x86, 9]) + len(payload).to_bytes(2, "little") + payload


@pytest.mark.parametrize("registered", [False, True])
@pytest.mark.parametrize("push_with_last_write", [False, True])
def test_sender_frames_replies_with_crc_and_cobs(registered, push_with_last_write):
    """(``registered``: the ECP5's sender, its slot RAM's read data and its writes through
    registers.)"""
    rng = random.Random(7)
    bodies = [_reply(b"\x00"), _reply(bytes(40)), _reply(bytes(rng.randrange(1, 256)
                                                                for _ in range(120))),
              _reply(bytes(rng.randrange(0, 3) for _ in range(90))), _reply(b"\x00\xff" * 10),
              _reply(bytes(rng.randrange(256) for _ in range(100)))]
    assert rtl_send(bodies, registered_read=registered, registered_write=registered,
                    push_with_last_write=push_with_last_write) == ref_send(bodies)


@pytest.mark.parametrize("registered_read", [False, True])
def test_sender_holds_its_byte_while_the_sink_waits(registered_read):
    rng = random.Random(9)
    bodies = [_reply(bytes(rng.randrange(0, 4) for _ in range(60))), _reply(bytes(30))]
    assert rtl_send(bodies, registered_read=registered_read, stall=True) == ref_send(bodies)


@pytest.mark.parametrize("registered_read", [False, True])
def test_sender_encodes_a_crc_with_zero_bytes(registered_read):
    """Replies whose CRC has a zero high byte, a zero low byte, or both (each ends a COBS
    block), after a nonzero body byte and after a zero one."""
    rng = random.Random(13)
    found = {}
    while len(found) < 4:
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(2, 12)))
        body = _reply(payload)
        crc = crc16(body)
        kind = ("high" if crc >> 8 == 0 else "low" if crc & 0xFF == 0 else None,
                body[-1] == 0)
        if kind[0] and kind not in found:
            found[kind] = body
    # both bytes zero: a body followed by its own CRC has CRC 0 (this CRC has no final XOR)
    head = _reply(b"\x05\x00\x07")
    whole = _reply(b"\x05\x00\x07" + crc16(head[:2] + (5).to_bytes(2, "little")
                                             + b"\x05\x00\x07").to_bytes(2, "big"))
    assert crc16(whole) == 0
    bodies = list(found.values()) + [whole]
    assert rtl_send(bodies, registered_read=registered_read) == ref_send(bodies)


def test_sender_splits_long_runs_into_254_byte_blocks():
    rng = random.Random(11)
    bodies = [_reply(bytes(rng.randrange(1, 256) for _ in range(300))),
              _reply(bytes(rng.randrange(1, 256) for _ in range(253)) + b"\x00"
                     + bytes(rng.randrange(1, 256) for _ in range(254)))]
    assert rtl_send(bodies, 1024) == ref_send(bodies)
    assert rtl_send(bodies, 1024, registered_read=True) == ref_send(bodies)


def _bank_reference(events_per_cycle, clears, n):
    """The counter bank's ``idle`` and counts, cycle by cycle (its rules: a pending cause
    waits for its read-modify-write, READ then WRITE, lowest cause first; CLEAR walks every
    word; an event enters ``pending`` a cycle after its request, through a register)."""
    state, pending, cause, counts, idles, registered = "IDLE", 0, 0, [0] * n, [], 0
    for events, clear in zip(events_per_cycle, clears):
        idles.append(state == "IDLE" and pending == 0)
        taken = 0
        if state == "IDLE":
            if clear:
                state, cause = "CLEAR", 0
            elif pending:
                cause = (pending & -pending).bit_length() - 1
                state = "READ"
        elif state == "READ":
            taken, state = 1 << cause, "WRITE"
        elif state == "WRITE":
            counts[cause] = min(counts[cause] + 1, 0xFFFF)
            state = "IDLE"
        else:
            counts[cause], taken = 0, 1 << cause
            cause += 1
            if cause == n:
                state, cause = "IDLE", n - 1
        pending, registered = (pending & ~taken) | registered, events
    return idles, counts


def test_counter_bank_is_idle_exactly_when_nothing_is_pending():
    """``idle`` is a register computed a cycle ahead: it must equal "in IDLE with nothing
    pending" in every cycle, with events and clears arriving at random."""
    from ghostfpga.boards.gateware.counters import CounterBank
    from ghostfpga.boards.protocol import N_COUNTERS
    rng = random.Random(3)
    cycles = 600
    events = [rng.getrandbits(N_COUNTERS) if rng.random() < 0.15 else 0 for _ in range(cycles)]
    clears = [rng.random() < 0.01 for _ in range(cycles)]
    want_idle, want_counts = _bank_reference(events, clears, N_COUNTERS)
    bank = CounterBank(b"id")
    got_idle, got_counts = [], []

    async def bench(ctx):
        for ev, clear in zip(events, clears):
            ctx.set(bank.events, ev)
            ctx.set(bank.clear, clear)
            got_idle.append(bool(ctx.get(bank.idle)))
            await ctx.tick()
        ctx.set(bank.events, 0)
        ctx.set(bank.clear, 0)
        for _ in range(4 * N_COUNTERS):         # let the last causes drain
            await ctx.tick()
        for k in range(N_COUNTERS):
            ctx.set(bank.raddr, k)
            await ctx.tick()
            got_counts.append(ctx.get(bank.rdata))

    run(bank, bench)
    assert got_idle == want_idle
    # the drained counts: the reference's, plus the causes still pending at its end
    _, drained = _bank_reference(events + [0] * 4 * N_COUNTERS,
                                 clears + [False] * 4 * N_COUNTERS, N_COUNTERS)
    assert got_counts == drained
