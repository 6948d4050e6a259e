"""The system top (UART, framer, executor, sender, core) answers exactly as the reference
executor of boards/fake.py does: the same reply bytes for every command, every status and every
session rule, checked pin to pin in Amaranth's simulator."""

import struct

import numpy as np
import pytest

from ghostfpga.boards.fake import FakeDevice, image_crc
from ghostfpga.boards.protocol import Command, Status, encode_frame, parse_body, cobs_decode
from ghostfpga.config import Config, Hardware, Numerics
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
