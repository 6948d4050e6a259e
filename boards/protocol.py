"""The host link's wire format (docs/protocol.md), defined once for the gateware, the host
driver and the fake device: COBS framing, CRC-16, headers, commands, statuses, reject causes and
the packing of every payload.

A frame on the wire is ``0x00 COBS(body) 0x00``; ``body = header payload crc`` with the 4-byte
header ``command, sequence, length (u16)``, ``crc`` = CRC-16/IBM-3740 (CCITT-FALSE) of header and
payload, most significant byte first. Every other number is little-endian. A reply's command is
the request's with bit 7 set, and its payload starts with a status byte.
"""

from __future__ import annotations

import binascii
import enum
import struct
from dataclasses import dataclass

from ghostfpga.config import Config

__all__ = ["VERSION", "Command", "Status", "Reject", "HEADER_BYTES", "CRC_BYTES", "OVERHEAD",
           "crc16", "cobs_encode", "cobs_decode", "CobsError", "encode_frame", "parse_body",
           "Frame", "FrameError", "LinkLayout", "Identity", "word16", "signed16"]

VERSION = 2
HEADER_BYTES = 4
CRC_BYTES = 2
OVERHEAD = HEADER_BYTES + CRC_BYTES   # body bytes around the payload
REPLY_BIT = 0x80


class Command(enum.IntEnum):
    """Request commands and their payloads (replies start with a Status byte)."""
    IDENTIFY = 0x01   # -                           -> Identity (starts a session)
    WRITE = 0x02      # lane u8, word u16, words    -> -
    READ = 0x03       # lane u8, word u16, count u8 -> words
    COMMIT = 0x04     # crc u16 of every word       -> device crc u16
    RATES = 0x05      # eta u16 per layer           -> -
    TRAIN = 0x06      # count u8, samples           -> results
    INFER = 0x07      # count u8, samples           -> results
    COUNTERS = 0x08   # -                           -> cycles u32, samples u32, counters u16 x N
    RESET = 0x09      # -                           -> -
    STORE = 0x0A      # index u16, count u8, samples -> -
    EPOCH = 0x0B      # n u16, start u16, step u16, eta u16 per layer -> correct u16


class Status(enum.IntEnum):
    OK = 0
    UNKNOWN_COMMAND = 1   # the command byte names no command
    SIZE = 2              # the payload length is wrong for the command
    RANGE = 3             # a lane, word range or sample count is out of range
    VALUE = 4             # a weight or an input does not fit its format, or a label its classes
    UNCOMMITTED = 5       # train / infer after a write without a matching commit
    CHECKSUM = 6          # commit: the words' CRC differs from the host's
    SEQUENCE = 7          # not the next sequence number of the session (not executed)
    DUPLICATE = 8         # a cached sequence number with other contents (not executed)


class Reject(enum.IntEnum):
    """Counter index of every way a frame or byte can be refused (COUNTERS reply order).

    The framer's causes (no reply) come first, then the executor's refusals (replied with the
    status of the same name), then the two non-error counts."""
    STOP_BIT = 0      # UART: a byte without its stop bit (dropped)
    COBS = 1          # a delimiter inside a COBS block
    TRUNCATED = 2     # a body shorter than header and CRC
    OVERSIZE = 3      # a body longer than a frame slot
    CRC = 4           # CRC mismatch
    LENGTH = 5        # header length differs from the bytes received
    OVERFLOW = 6      # every frame slot was full
    UNKNOWN_COMMAND = 7
    SIZE = 8
    RANGE = 9
    VALUE = 10
    UNCOMMITTED = 11
    CHECKSUM = 12
    SEQUENCE = 13
    DUPLICATE = 14
    RETRIED = 15      # retries answered from the reply cache (not errors)


REJECT_OF_STATUS = {s: Reject[s.name] for s in Status if s != Status.OK}
N_COUNTERS = len(Reject)


def crc16(data: bytes) -> int:
    """CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF): amaranth.lib.crc.catalog.CRC16_IBM_3740."""
    return binascii.crc_hqx(bytes(data), 0xFFFF)


class CobsError(ValueError):
    pass


def cobs_encode(data: bytes) -> bytes:
    """Consistent-overhead byte stuffing: no 0x00 in the result, one byte per 254 of overhead."""
    out, block = bytearray(), bytearray()
    for b in data:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block.clear()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block.clear()
    out += bytes([len(block) + 1]) + block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        if code == 0:
            raise CobsError("0x00 inside a frame")
        end = i + code
        if end > len(data):
            raise CobsError("a block runs past the end of the frame")
        out += data[i + 1:end]
        i = end
        if code != 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def encode_frame(command: int, seq: int, payload: bytes) -> bytes:
    """The wire bytes of one frame, with a leading delimiter that ends any garbage before it."""
    body = struct.pack("<BBH", command, seq & 0xFF, len(payload)) + bytes(payload)
    body += crc16(body).to_bytes(2, "big")
    return b"\x00" + cobs_encode(body) + b"\x00"


@dataclass(frozen=True)
class Frame:
    command: int
    seq: int
    payload: bytes
    crc: int     # the body's CRC (retries carry the same)


class FrameError(ValueError):
    def __init__(self, cause: Reject):
        super().__init__(f"bad frame: {cause.name.lower()}")
        self.cause = cause


def parse_body(body: bytes, max_body: int | None = None) -> Frame:
    """Check a decoded body as the framer does; raise FrameError naming the first cause."""
    if max_body is not None and len(body) > max_body:
        raise FrameError(Reject.OVERSIZE)
    if len(body) < OVERHEAD:
        raise FrameError(Reject.TRUNCATED)
    if crc16(body) != 0:   # a body ending in its own CRC has residue 0
        raise FrameError(Reject.CRC)
    command, seq, length = struct.unpack_from("<BBH", body)
    if length != len(body) - OVERHEAD:
        raise FrameError(Reject.LENGTH)
    return Frame(command, seq, bytes(body[HEADER_BYTES:-CRC_BYTES]),
                 int.from_bytes(body[-CRC_BYTES:], "big"))


def word16(v: int) -> bytes:
    """A signed value as the u16 the link carries (two's complement)."""
    return (int(v) & 0xFFFF).to_bytes(2, "little")


def signed16(b: bytes, offset: int = 0) -> int:
    return struct.unpack_from("<h", b, offset)[0]


class LinkLayout:
    """Sizes of the link's payloads for a config: what the framer, the executor and the host
    all derive from it."""

    def __init__(self, config: Config):
        self.config = config
        self.frames = config.link.frames
        self.n_inputs = config.layers[0]
        self.n_outputs = config.layers[-1]
        self.sample_bytes = 2 * self.n_inputs + 1          # x u16 each, label u8
        self.result_bytes = 1 + 2 * self.n_outputs         # label u8, outputs u16 each
        need = OVERHEAD + 1 + max(self.sample_bytes, 1 + self.result_bytes)
        self.slot_bytes = max(128, 1 << (need - 1).bit_length())
        room = self.slot_bytes - OVERHEAD - 1
        self.max_samples = min(room // self.sample_bytes, room // self.result_bytes, 255)
        self.max_read = min((self.slot_bytes - OVERHEAD - 1) // 2, 255)   # words per READ
        self.max_write = (self.slot_bytes - OVERHEAD - 3) // 2            # words per WRITE
        self.input_max = 1 << config.numerics.rate_frac                    # 1.0
        # the on-board training set: samples of n_0 inputs and a label, one word each
        self.store_samples = config.link.store_samples
        self.store_stride = self.n_inputs + 1
        self.store_words = self.store_samples * self.store_stride
        self.store_width = max(config.numerics.rate_frac + 1, (self.n_outputs - 1).bit_length())
        self.max_store = min((self.slot_bytes - OVERHEAD - 3) // self.sample_bytes, 255)
        self.epoch_bytes = 6 + 2 * config.n_layers   # EPOCH: n, start, step, eta per layer

    @property
    def max_body(self) -> int:
        return self.slot_bytes


@dataclass(frozen=True)
class Identity:
    """What IDENTIFY reports: enough for the host to check and drive the device."""
    version: int
    frames: int
    slot_bytes: int
    max_samples: int
    config_hash: int
    clock_hz: int
    baud: int
    lanes: int
    depth: int
    store_samples: int
    layers: tuple[int, ...]
    formats: tuple[int, ...]   # rate_frac, error_frac, potential_bits, weight_bits, weight_frac,
                               # eta_bits, eta_frac

    _HEAD = "<BBHBIIIBHHB"

    @classmethod
    def of(cls, config: Config, depth: int) -> "Identity":
        n, link = config.numerics, LinkLayout(config)
        return cls(VERSION, config.link.frames, link.slot_bytes, link.max_samples,
                   config.hardware_digest(), round(config.link.clock_mhz * 1e6),
                   config.link.baud, config.hardware.lanes, depth, config.link.store_samples,
                   tuple(config.layers),
                   (n.rate_frac, n.error_frac, n.potential_bits, n.weight_bits, n.weight_frac,
                    n.eta_bits, n.eta_frac))

    def pack(self) -> bytes:
        return (struct.pack(self._HEAD, self.version, self.frames, self.slot_bytes,
                            self.max_samples, self.config_hash, self.clock_hz, self.baud,
                            self.lanes, self.depth, self.store_samples, len(self.layers))
                + b"".join(struct.pack("<H", n) for n in self.layers) + bytes(self.formats))

    @classmethod
    def unpack(cls, data: bytes) -> "Identity":
        head = struct.calcsize(cls._HEAD)
        if len(data) < head:
            raise ValueError(f"identify reply of {len(data)} bytes is too short")
        v, frames, slot, max_s, digest, clock, baud, lanes, depth, store, nl = \
            struct.unpack_from(cls._HEAD, data)
        if len(data) != head + 2 * nl + 7:
            raise ValueError(f"identify reply of {len(data)} bytes does not match {nl} layers")
        layers = struct.unpack_from(f"<{nl}H", data, head)
        return cls(v, frames, slot, max_s, digest, clock, baud, lanes, depth, store,
                   tuple(layers),
                   tuple(data[head + 2 * nl:]))
