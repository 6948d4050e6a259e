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

from .payload import I16, REST, U8, U16, U32, Field, Payload, PayloadError, Record

__all__ = ["VERSION", "Command", "Status", "Reject", "HEADER_BYTES", "CRC_BYTES", "OVERHEAD",
           "HEADER", "SAMPLE", "RESULT", "REQUESTS", "REPLIES", "PayloadError", "command_table",
           "crc16", "cobs_encode", "cobs_decode", "CobsError", "encode_frame", "parse_body",
           "Frame", "FrameError", "LinkLayout", "Identity"]

VERSION = 2
HEADER = struct.Struct("<BBH")   # command u8, sequence u8, length u16
HEADER_BYTES = HEADER.size
CRC_BYTES = 2
OVERHEAD = HEADER_BYTES + CRC_BYTES   # body bytes around the payload
REPLY_BIT = 0x80


class Command(enum.IntEnum):
    """Request commands (their payloads: ``REQUESTS``, ``REPLIES``)."""
    IDENTIFY = 0x01   # starts a session
    WRITE = 0x02
    READ = 0x03
    COMMIT = 0x04
    RATES = 0x05
    TRAIN = 0x06
    INFER = 0x07
    COUNTERS = 0x08
    RESET = 0x09
    STORE = 0x0A      # the on-board training set (link.store_samples > 0)
    EPOCH = 0x0B


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

# -- every payload, once (boards/payload.py; docs/protocol.md's table is made from this) ------
SAMPLE = Record("sample", (Field("x", U16, "n_inputs"), Field("label", U8)))
RESULT = Record("result", (Field("predicted", U8), Field("outputs", U16, "n_outputs")))
IDENTITY = Payload((
    Field("version", U8), Field("frames", U8), Field("slot_bytes", U16), Field("max_samples", U8),
    Field("config_hash", U32), Field("clock_hz", U32), Field("baud", U32), Field("lanes", U8),
    Field("depth", U16), Field("store_samples", U16), Field("layer_count", U8),
    Field("layers", U16, "layer_count"),
    *(Field(name, U8) for name in ("rate_frac", "error_frac", "potential_bits", "weight_bits",
                                   "weight_frac", "eta_bits", "eta_frac"))))
FORMAT_FIELDS = tuple(f.name for f in IDENTITY.fields[-7:])
_SAMPLES = (Field("count", U8), Field("samples", SAMPLE, "count"))
_RESULTS = Payload((Field("results", RESULT, REST, doc="count"),))   # the request's count
_NONE = Payload()

REQUESTS: dict[Command, Payload] = {
    Command.IDENTIFY: _NONE,
    Command.WRITE: Payload((Field("lane", U8), Field("word", U16), Field("values", I16, REST))),
    Command.READ: Payload((Field("lane", U8), Field("word", U16), Field("count", U8))),
    Command.COMMIT: Payload((Field("crc", U16),)),
    Command.RATES: Payload((Field("eta", U16, "n_layers"),)),
    Command.TRAIN: Payload(_SAMPLES),
    Command.INFER: Payload(_SAMPLES),
    Command.COUNTERS: _NONE,
    Command.RESET: _NONE,
    Command.STORE: Payload((Field("index", U16), *_SAMPLES)),
    Command.EPOCH: Payload((Field("n", U16), Field("start", U16), Field("step", U16),
                            Field("eta", U16, "n_layers"))),
}
"""Each command's request payload."""

REPLIES: dict[Command, Payload] = {
    Command.IDENTIFY: IDENTITY,
    Command.WRITE: _NONE,
    Command.READ: Payload((Field("values", I16, REST, doc="count"),)),   # the request's count
    Command.COMMIT: Payload((Field("device_crc", U16),)),
    Command.RATES: _NONE,
    Command.TRAIN: _RESULTS,
    Command.INFER: _RESULTS,
    Command.COUNTERS: Payload((Field("cycles", U32), Field("samples", U32),
                               Field("counters", U16, len(Reject)))),
    Command.RESET: _NONE,
    Command.STORE: _NONE,
    Command.EPOCH: Payload((Field("correct", U16),)),
}
"""Each command's reply data, after the status byte (a refusal's data may be empty, and a
refused COMMIT carries the device's crc)."""


def command_table() -> str:
    """docs/protocol.md's command table, made from ``REQUESTS`` and ``REPLIES``."""
    rows = ["| code | command | request payload | reply data (after the status) |",
            "|---|---|---|---|"]
    for c in Command:
        reply = "identity (below)" if c == Command.IDENTIFY else REPLIES[c].describe()
        rows.append(f"| 0x{c:02X} | {c.name} | {REQUESTS[c].describe()} | {reply} |")
    rows.append("")
    rows.append(f"A sample is {SAMPLE.describe()}; a result is {RESULT.describe()}.")
    return "\n".join(rows)


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
    body = HEADER.pack(command, seq & 0xFF, len(payload)) + bytes(payload)
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
    command, seq, length = HEADER.unpack_from(body)
    if length != len(body) - OVERHEAD:
        raise FrameError(Reject.LENGTH)
    return Frame(command, seq, bytes(body[HEADER_BYTES:-CRC_BYTES]),
                 int.from_bytes(body[-CRC_BYTES:], "big"))


class LinkLayout:
    """Sizes of the link's payloads for a config: what the framer, the executor and the host
    all derive from it."""

    def __init__(self, config: Config):
        self.config = config
        self.frames = config.link.frames
        self.n_inputs = config.layers[0]
        self.n_outputs = config.layers[-1]
        self.n_layers = config.n_layers
        self.sample_bytes = SAMPLE.size(self)
        self.result_bytes = RESULT.size(self)
        train = REQUESTS[Command.TRAIN].offset("samples")           # the count byte
        need = OVERHEAD + max(train + self.sample_bytes, 1 + self.result_bytes)
        self.slot_bytes = max(128, 1 << (need - 1).bit_length())
        room = self.slot_bytes - OVERHEAD                             # payload bytes
        self.max_samples = min((room - train) // self.sample_bytes,
                               (room - 1) // self.result_bytes, 255)   # 1: the status byte
        self.max_read = min((room - 1) // 2, 255)                    # words per READ
        self.max_write = ((room - REQUESTS[Command.WRITE].offset("values"))
                          // REQUESTS[Command.WRITE].item_bytes("values"))
        self.input_max = 1 << config.numerics.rate_frac                    # 1.0
        # the on-board training set: samples of n_0 inputs and a label, one word each
        self.store_samples = config.link.store_samples
        self.store_stride = self.n_inputs + 1
        self.store_words = self.store_samples * self.store_stride
        self.store_width = max(config.numerics.rate_frac + 1, (self.n_outputs - 1).bit_length())
        self.max_store = min((room - REQUESTS[Command.STORE].offset("samples"))
                             // self.sample_bytes, 255)
        self.epoch_bytes = REQUESTS[Command.EPOCH].size(self)

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
        return IDENTITY.pack(
            version=self.version, frames=self.frames, slot_bytes=self.slot_bytes,
            max_samples=self.max_samples, config_hash=self.config_hash, clock_hz=self.clock_hz,
            baud=self.baud, lanes=self.lanes, depth=self.depth, store_samples=self.store_samples,
            layer_count=len(self.layers), layers=self.layers,
            **dict(zip(FORMAT_FIELDS, self.formats, strict=True)))

    @classmethod
    def unpack(cls, data: bytes) -> "Identity":
        try:
            v = IDENTITY.unpack(data)
        except PayloadError:
            raise ValueError(f"an identify reply of {len(data)} bytes does not fit its "
                             f"layout ({IDENTITY.describe()})") from None
        return cls(v.version, v.frames, v.slot_bytes, v.max_samples, v.config_hash, v.clock_hz,
                   v.baud, v.lanes, v.depth, v.store_samples, tuple(v.layers),
                   tuple(getattr(v, name) for name in FORMAT_FIELDS))
