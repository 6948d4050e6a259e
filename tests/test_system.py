"""The system top (UART, framer, executor, sender, core) answers exactly as the reference
executor of boards/fake.py does: the same reply bytes for every command, every status and every
session rule, checked pin to pin in Amaranth's simulator."""

import struct

import numpy as np

from ghostfpga.boards.fake import FakeDevice, image_crc
from ghostfpga.boards.protocol import Command, Status, encode_frame, parse_body, cobs_decode
from ghostfpga.config import Config, Hardware, Link, Numerics
from ghostfpga.sim.system_sim import exchange_bytes


def _samples(rng, n, bad=None):
    p = bytearray([n])
    for _ in range(n):
        x = rng.integers(0, 257, 4)
        label = int(rng.integers(0, 3))
        if bad == "x":
            x[0] = 257
        if bad == "label":
            label = 3
        p += struct.pack("<4H", *x) + bytes([label])
    return bytes(p)


def _script(config):
    """Frames exercising every command, status and session rule, in order."""
    rng = np.random.default_rng(0)
    image = FakeDevice(config).executor.images
    train = _samples(rng, 3)
    return [
        encode_frame(Command.IDENTIFY, 0, b""),
        encode_frame(Command.RATES, 1, struct.pack("<2H", 100, 200)),
        encode_frame(Command.TRAIN, 2, train),
        encode_frame(Command.TRAIN, 2, train),                 # a retry: the cached reply
        encode_frame(Command.TRAIN, 2, _samples(rng, 3)),      # same number, other contents
        encode_frame(Command.INFER, 3, _samples(rng, 2)),
        encode_frame(Command.TRAIN, 9, _samples(rng, 1)),      # not the next number
        encode_frame(Command.TRAIN, 4, _samples(rng, 2, "x")),        # input above 1.0
        encode_frame(Command.TRAIN, 5, _samples(rng, 2, "label")),    # label of no class
        encode_frame(Command.TRAIN, 6, _samples(rng, 2)[:-1]),        # size
        encode_frame(Command.TRAIN, 7, bytes([0])),                   # no samples
        encode_frame(Command.WRITE, 8, struct.pack("<BH3h", 1, 2, -5, 7, 100)),
        encode_frame(Command.WRITE, 9, struct.pack("<BH2h", 0, 2, 3, -129)),   # value (8 bit)
        encode_frame(Command.WRITE, 10, struct.pack("<BH1h", 5, 2, 1)),        # lane range
        encode_frame(Command.WRITE, 11, struct.pack("<BH", 0, 2)),             # size
        encode_frame(Command.TRAIN, 12, _samples(rng, 1)),     # uncommitted model
        encode_frame(Command.COMMIT, 13, struct.pack("<H", 1234)),             # checksum
        encode_frame(Command.READ, 14, bytes([1, 0, 0, 8])),
        encode_frame(Command.READ, 15, bytes([0, 30, 0, 8])),                 # range
        encode_frame(Command.RATES, 16, struct.pack("<2H", 5000, 1)),          # value
        encode_frame(0x55, 17, b""),                                           # no command
        encode_frame(Command.COUNTERS, 18, b""),
        encode_frame(Command.RESET, 19, b""),
        encode_frame(Command.COUNTERS, 20, b"x"),                              # size
        encode_frame(Command.COUNTERS, 21, b""),
        encode_frame(Command.STORE, 22, bytes(3)),             # no on-board set: no command
        encode_frame(Command.IDENTIFY, 200, b""),              # a new session at any number
        encode_frame(Command.READ, 201, bytes([0, 0, 0, 6])),
    ], image


CONFIG = Config(layers=(4, 6, 3), numerics=Numerics(weight_bits=8, weight_frac=5),
                hardware=Hardware(lanes=2))


def test_system_top_replies_exactly_as_the_reference_executor():
    frames, image = _script(CONFIG)
    rtl = exchange_bytes(CONFIG, frames)
    fake = FakeDevice(CONFIG)
    statuses, cycles = [], []
    for n, (frame, got) in enumerate(zip(frames, rtl)):
        fake.write(frame)
        want = fake.read(100_000)
        got_body, want_body = _body(got), _body(want)
        if got_body.command == Command.COUNTERS | 0x80 and len(got_body.payload) > 1:
            # the fake device has no cycle counter: compare the rest, keep the core's count
            cycles.append(struct.unpack_from("<I", got_body.payload, 1)[0])
            got_body = got_body.payload[:1] + bytes(4) + got_body.payload[5:]
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
    frames += [encode_frame(Command.WRITE, 1 + lane, struct.pack("<BH", lane, 0)
                            + struct.pack(f"<{len(words)}h", *words))
               for lane, words in enumerate(image)]
    frames += [encode_frame(Command.COMMIT, 3, struct.pack("<H", image_crc(image))),
               encode_frame(Command.INFER, 4, _samples(np.random.default_rng(1), 2)),
               encode_frame(Command.READ, 5, bytes([1, 3, 0, 1]))]
    rtl = exchange_bytes(CONFIG, frames)
    for n, (frame, got) in enumerate(zip(frames, rtl)):
        fake.write(frame)
        assert got == fake.read(100_000), f"frame {n}"
    read = parse_body(cobs_decode(rtl[-1].strip(b"\x00"))).payload
    assert read == bytes([Status.OK]) + struct.pack("<h", -77)


def test_the_status_outputs_show_learning_and_refused_frames():
    rng = np.random.default_rng(2)
    good = encode_frame(Command.IDENTIFY, 0, b"")
    bad_crc = bytearray(encode_frame(Command.RATES, 1, struct.pack("<2H", 100, 200)))
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


def _epoch(seq, n, start, step, etas=(300, 200)):
    return encode_frame(Command.EPOCH, seq, struct.pack("<5H", n, start, step, *etas))


def _store_script():
    """STORE and EPOCH through every check, around two good runs of stored epochs."""
    rng = np.random.default_rng(3)
    store = lambda seq, index, n, bad=None: encode_frame(     # noqa: E731
        Command.STORE, seq, struct.pack("<H", index) + _samples(rng, n, bad))
    return [
        encode_frame(Command.IDENTIFY, 0, b""),
        store(1, 0, 4),
        _epoch(2, 5, 0, 1),                                   # n above the samples stored
        store(3, 5, 2),                                        # a gap after them
        store(4, 4, 3), store(5, 7, 5),
        store(6, 10, 3),                                       # past the set's 12 samples
        store(7, 0, 2, "x"), store(8, 0, 2, "label"),
        encode_frame(Command.STORE, 9, struct.pack("<H", 0) + _samples(rng, 2)[:-1]),  # size
        encode_frame(Command.STORE, 10, b"\x00\x00"),          # shorter than its header
        _epoch(11, 12, 5, 7), _epoch(12, 12, 0, 5, (90, 40)),
        _epoch(13, 0, 0, 0),                                   # an empty epoch
        _epoch(14, 12, 12, 1),                                 # start not below n
        _epoch(15, 12, 3, 12),                                 # step not below n
        _epoch(16, 12, 0, 1, (5000, 1)),                       # a rate that does not fit
        _epoch(17, 12, 0, 1)[:-2] + b"\x00",                   # CRC: dropped, no reply
        encode_frame(Command.EPOCH, 17, struct.pack("<5H", 12, 0, 1, 2, 3)[:-1]),   # size
        encode_frame(Command.WRITE, 18, struct.pack("<BH1h", 0, 0, 3)),
        _epoch(19, 12, 0, 1),                                  # uncommitted model
        encode_frame(Command.IDENTIFY, 30, b""),
    ]


def test_the_on_board_set_replies_exactly_as_the_reference_executor():
    frames = _store_script()
    scratch = FakeDevice(STORE_CONFIG)
    for frame in frames:
        scratch.write(frame)
    # commit what the script left, train 3 more epochs (n below the set), read the weights
    frames += [encode_frame(Command.COMMIT, 31, struct.pack("<H", image_crc(
                   scratch.executor.images)))]
    frames += [_epoch(32, 9, 2, 4), _epoch(33, 9, 8, 2, (120, 80)), _epoch(34, 9, 0, 1)]
    frames += [encode_frame(Command.READ, 35 + lane, bytes([lane, 0, 0, 24]))
               for lane in range(2)]
    rtl = exchange_bytes(STORE_CONFIG, frames)
    fake = FakeDevice(STORE_CONFIG)
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
