"""The system top (UART, framer, executor, sender, core) answers exactly as the reference
executor of boards/host/fake.py does: the same reply bytes for every command, every status and every
session rule, checked pin to pin in Amaranth's simulator."""

import numpy as np
import pytest

from ghostfpga.boards.host.fake import FakeDevice, image_crc
from ghostfpga.boards.protocol import (REPLIES, REQUESTS, Command, LinkLayout, Status,
                                       cobs_decode, encode_frame, parse_body)
from ghostfpga.config import Config, Hardware, Link, Numerics
from ghostfpga.hdl.plan import Plan
from ghostfpga.sim.system.amaranth_sim import exchange_bytes


def _req(command, **fields):
    """A request's payload (``REQUESTS``, the protocol's one table) for the 4-input configs."""
    return REQUESTS[command].pack(LinkLayout(CONFIG), **fields)


def _frame(command, seq, **fields):
    return encode_frame(command, seq, _req(command, **fields))


def _samples(rng, n, bad=None):
    """TRAIN's payload of ``n`` random samples; ``bad``: an input above 1.0 or a label of no
    class in each."""
    samples = []
    for _ in range(n):
        x = rng.integers(0, 257, 4)
        label = int(rng.integers(0, 3))
        if bad == "x":
            x[0] = 257
        if bad == "label":
            label = 3
        samples.append((x, label))
    return _req(Command.TRAIN, count=n, samples=samples)


def _depth(config) -> int:
    """Words of a lane's weight memory."""
    return Plan(config).depth


def _script(config):
    """Frames exercising every command, status and session rule, in order."""
    rng = np.random.default_rng(0)
    image = FakeDevice(config).executor.images
    train = _samples(rng, 3)
    return [
        encode_frame(Command.IDENTIFY, 0, b""),
        _frame(Command.RATES, 1, eta=(100, 200)),
        encode_frame(Command.TRAIN, 2, train),
        encode_frame(Command.TRAIN, 2, train),                 # a retry: the cached reply
        encode_frame(Command.TRAIN, 2, _samples(rng, 3)),      # same number, other contents
        encode_frame(Command.INFER, 3, _samples(rng, 2)),
        encode_frame(Command.TRAIN, 9, _samples(rng, 1)),      # not the next number
        encode_frame(Command.TRAIN, 4, _samples(rng, 2, "x")),        # input above 1.0
        encode_frame(Command.TRAIN, 5, _samples(rng, 2, "label")),    # label of no class
        encode_frame(Command.TRAIN, 6, _samples(rng, 2)[:-1]),        # size
        encode_frame(Command.TRAIN, 7, bytes([0])),                   # no samples
        _frame(Command.WRITE, 8, lane=1, word=2, values=(-5, 7, 100)),
        _frame(Command.WRITE, 9, lane=0, word=2, values=(3, -129)), # value (8 bit)
        _frame(Command.WRITE, 10, lane=5, word=2, values=(1,)), # lane range
        encode_frame(Command.WRITE, 11, _req(Command.WRITE, lane=0, word=2, values=(1,))[:3]), # size
        encode_frame(Command.TRAIN, 12, _samples(rng, 1)),     # uncommitted model
        _frame(Command.COMMIT, 13, crc=1234), # checksum
        _frame(Command.READ, 14, lane=1, word=0, count=8),
        _frame(Command.READ, 15, lane=0, word=30, count=8), # range
        _frame(Command.RATES, 16, eta=(5000, 1)), # value
        encode_frame(0x55, 17, b""),                                           # no command
        encode_frame(Command.COUNTERS, 18, b""),
        encode_frame(Command.RESET, 19, b""),
        encode_frame(Command.COUNTERS, 20, b"x"),                              # size
        encode_frame(Command.COUNTERS, 21, b""),
        encode_frame(Command.STORE, 22, bytes(3)),             # no on-board set: no command
        encode_frame(Command.IDENTIFY, 200, b""),              # a new session at any number
        _frame(Command.READ, 201, lane=0, word=0, count=6),
        # range, checked before the values: the last value past the lane's memory (a range
        # check of the previous command's address would pass it and refuse VALUE)
        _frame(Command.WRITE, 202, lane=0, word=_depth(config) - 1, values=(1, -129)),
        # range: the last word past the lane's memory (a range check of the previous
        # command's count, 2, would pass it)
        _frame(Command.READ, 203, lane=0, word=_depth(config) - 2, count=3),
        # range: words whose bits above the lane's address are set (an address register
        # of the lane's width alone drops them and reads word 1)
        _frame(Command.READ, 204, lane=0, word=(1 << 12) + 1, count=1),
        _frame(Command.READ, 205, lane=0, word=(1 << _address_bits(config)) + 1, count=1),
        _frame(Command.WRITE, 206, lane=0, word=(1 << _address_bits(config)) + 1,
               values=(1,)),
    ], image


def _address_bits(config) -> int:
    """Bits of a lane's word address in the host port (the lowest bit a word above it has)."""
    return max(1, (_depth(config) - 1).bit_length())


CONFIG = Config(layers=(4, 6, 3), numerics=Numerics(weight_bits=8, weight_frac=5),
                hardware=Hardware(lanes=2))


@pytest.mark.parametrize("device", ["up5k", "ecp5-85f"])
def test_system_top_replies_exactly_as_the_reference_executor(device):
    """(On the ECP5 the executor reads each frame byte through a flip-flop and holds its
    state machine still for the cycle after every cursor move: every reply the same.)"""
    config = CONFIG.replace(hardware=Hardware(lanes=2, device=device))
    frames, image = _script(config)
    rtl = exchange_bytes(config, frames)
    fake = FakeDevice(config)
    statuses, cycles = [], []
    for n, (frame, got) in enumerate(zip(frames, rtl)):
        fake.write(frame)
        want = fake.read(100_000)
        got_body, want_body = _body(got), _body(want)
        if got_body.command == Command.COUNTERS | 0x80 and len(got_body.payload) > 1:
            # the fake device has no cycle counter: compare the rest, keep the core's count
            counted = REPLIES[Command.COUNTERS].unpack(got_body.payload[1:])
            cycles.append(counted.cycles)
            got_body = got_body.payload[:1] + REPLIES[Command.COUNTERS].pack(
                cycles=0, samples=counted.samples, counters=counted.counters)
            want_body = want_body.payload
        assert got_body == want_body, f"frame {n}: RTL {got.hex()} reference {want.hex()}"
        statuses.append(_body(want).payload[0])
    # the script reaches every status; the core counted cycles, and RESET cleared them
    assert set(statuses) == set(Status)
    assert cycles[0] > 0 and cycles[1] == 0


def _body(wire: bytes):
    return parse_body(cobs_decode(wire.strip(b"\x00")))


def test_a_committed_load_through_the_system_top():
    fake = FakeDevice(CONFIG)
    image = [list(lane) for lane in fake.executor.images]
    image[1][3] = -77
    frames = [encode_frame(Command.IDENTIFY, 0, b"")]
    frames += [_frame(Command.WRITE, 1 + lane, lane=lane, word=0, values=words)
               for lane, words in enumerate(image)]
    frames += [_frame(Command.COMMIT, 3, crc=image_crc(image)),
               encode_frame(Command.INFER, 4, _samples(np.random.default_rng(1), 2)),
               _frame(Command.READ, 5, lane=1, word=3, count=1)]
    rtl = exchange_bytes(CONFIG, frames)
    for n, (frame, got) in enumerate(zip(frames, rtl)):
        fake.write(frame)
        assert got == fake.read(100_000), f"frame {n}"
    read = parse_body(cobs_decode(rtl[-1].strip(b"\x00"))).payload
    assert read == bytes([Status.OK]) + REPLIES[Command.READ].pack(values=(-77,))


def test_weight_reads_through_an_ecp5_adder_tree_with_its_pipeline_register():
    """16 lanes on the ECP5: the fetch register, the issue's register B and the adder tree's
    pipeline register each make a host read a cycle longer (hdl/stages.py ``Stages``: 9
    edges); the executor waits for it, and READ replies the reference's words after training
    (a wait one short replies the previous word's)."""
    config = Config(layers=(4, 20, 3), hardware=Hardware(device="ecp5-85f", lanes=16))
    layout = LinkLayout(config)
    frames = [encode_frame(Command.IDENTIFY, 0, b""),
              encode_frame(Command.TRAIN, 1, REQUESTS[Command.TRAIN].pack(
                  layout, count=2, samples=[((256, 0, 128, 64), 1), ((3, 250, 17, 99), 2)])),
              encode_frame(Command.READ, 2, REQUESTS[Command.READ].pack(
                  layout, lane=5, word=0, count=8)),
              encode_frame(Command.READ, 3, REQUESTS[Command.READ].pack(
                  layout, lane=15, word=2, count=3))]
    rtl = exchange_bytes(config, frames)
    fake = FakeDevice(config)
    for n, (frame, got) in enumerate(zip(frames, rtl)):
        fake.write(frame)
        assert got == fake.read(100_000), f"frame {n}"


def test_the_status_outputs_show_learning_and_refused_frames():
    rng = np.random.default_rng(2)
    good = encode_frame(Command.IDENTIFY, 0, b"")
    bad_crc = bytearray(_frame(Command.RATES, 1, eta=(100, 200)))
    bad_crc[3] ^= 0x01                                   # inside the COBS body: CRC fails
    frames = [good, encode_frame(Command.INFER, 1, _samples(rng, 2)), bytes(bad_crc),
              encode_frame(Command.TRAIN, 2, _samples(rng, 2))]
    seen = []
    rtl = exchange_bytes(CONFIG, frames, seen=seen)
    assert all(rtl[k] for k in (0, 1, 3)) and rtl[2] == b""
    assert seen[0] == set()                              # identify: nothing runs
    assert seen[1] == {"busy"}                           # inference: busy, not learning
    assert seen[2] == {"link_error"}
    assert seen[3] == {"busy", "learning"}


STORE_CONFIG = CONFIG.replace(link=Link(store_samples=12),   # (3 lanes: a partial last beat)
                              hardware=Hardware(lanes=3))


def _fields(train_payload: bytes) -> dict:
    """A TRAIN payload's fields, to carry its samples in another request."""
    r = REQUESTS[Command.TRAIN].unpack(train_payload, LinkLayout(CONFIG))
    return dict(count=r.count, samples=[(s.x, s.label) for s in r.samples])


def _epoch(seq, n, start, step, etas=(300, 200)):
    return _frame(Command.EPOCH, seq, n=n, start=start, step=step, eta=etas)


def _store_script():
    """STORE and EPOCH through every check, around two good runs of stored epochs."""
    rng = np.random.default_rng(3)
    store = lambda seq, index, n, bad=None: encode_frame(     # noqa: E731
        Command.STORE, seq, _req(Command.STORE, index=index, **_fields(_samples(rng, n, bad))))
    return [
        encode_frame(Command.IDENTIFY, 0, b""),
        store(1, 0, 4),
        _epoch(2, 5, 0, 1),                                   # n above the samples stored
        store(3, 5, 2),                                        # a gap after them
        store(4, 4, 3), store(5, 7, 5),
        store(6, 10, 3),                                       # past the set's 12 samples
        store(7, 0, 2, "x"), store(8, 0, 2, "label"),
        encode_frame(Command.STORE, 9, _req(Command.STORE, index=0,
                                            **_fields(_samples(rng, 2)))[:-1]),      # size
        encode_frame(Command.STORE, 10, b"\x00\x00"),          # shorter than its header
        _epoch(11, 12, 5, 7), _epoch(12, 12, 0, 5, (90, 40)),
        _epoch(13, 0, 0, 0),                                   # an empty epoch
        _epoch(14, 12, 12, 1),                                 # start not below n
        _epoch(15, 12, 3, 12),                                 # step not below n
        _epoch(16, 12, 0, 1, (5000, 1)),                       # a rate that does not fit
        _epoch(17, 12, 0, 1)[:-2] + b"\x00",                   # CRC: dropped, no reply
        encode_frame(Command.EPOCH, 17, _req(Command.EPOCH, n=12, start=0, step=1,
                                             eta=(2, 3))[:-1]),                     # size
        _frame(Command.WRITE, 18, lane=0, word=0, values=(3,)),
        _epoch(19, 12, 0, 1),                                  # uncommitted model
        # fields whose low bits are in range: the set's 12 samples take 4 bits, and the
        # gateware holds indices in those (boards/gateware/stored.py): 16 = 0b10000
        store(20, 16, 2), _epoch(21, 16 + 12, 0, 1), _epoch(22, 12, 16, 1),
        _epoch(23, 12, 0, 16 + 1),
        encode_frame(Command.IDENTIFY, 30, b""),
    ]


@pytest.mark.parametrize("device", ["up5k", "ecp5-85f"])
def test_the_on_board_set_replies_exactly_as_the_reference_executor(device):
    """Every STORE and EPOCH check, and stored epochs, as the reference executor answers them;
    on the ECP5 from a store of read latency 3 (boards/gateware/store.py ``read_latency``: a
    word every three cycles, its address a word ahead; a wrong word changes the replies)."""
    config = STORE_CONFIG.replace(hardware=Hardware(device=device, lanes=3))
    frames = _store_script()
    scratch = FakeDevice(config)
    for frame in frames:
        scratch.write(frame)
    # commit what the script left, train 3 more epochs (n below the set), read the weights
    frames += [_frame(Command.COMMIT, 31, crc=image_crc(scratch.executor.images))]
    frames += [_epoch(32, 9, 2, 4), _epoch(33, 9, 8, 2, (120, 80)), _epoch(34, 9, 0, 1)]
    frames += [_frame(Command.READ, 35 + lane, lane=lane, word=0, count=24)
               for lane in range(2)]
    rtl = exchange_bytes(config, frames)
    fake = FakeDevice(config)
    reached = set()
    for n, (frame, got) in enumerate(zip(frames, rtl)):
        fake.write(frame)
        want = fake.read(100_000)
        assert got == want, f"frame {n}: RTL {got.hex()} reference {want.hex()}"
        if want:
            body = _body(want)
            reached.add((body.command & 0x7F, body.payload[0]))
    assert {(c, s) for c in (Command.STORE, Command.EPOCH)
            for s in (Status.OK, Status.SIZE, Status.RANGE, Status.VALUE)} <= reached
    assert (Command.EPOCH, Status.UNCOMMITTED) in reached
