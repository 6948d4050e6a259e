"""A pure-Python device: the fixed-point golden model behind the link protocol.

``FakeDevice`` speaks exactly what the gateware speaks (docs/protocol.md): the same framer checks,
the same executor rules, the same replies. It is a pyserial-like port (``write``, ``read``,
``timeout``, ``in_waiting``), so the host driver runs against it with no simulator, and it is the
reference the gateware's behaviour is specified by. Its weights live in lane images, word for word
as in the core's lane memories.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel, FixedParams
from ghostfpga.golden.numerics import lfsr_position
from ghostfpga.golden.training import strided_order
from ghostfpga.hdl.plan import Plan

from ..protocol import (HEADER, N_COUNTERS, REJECT_OF_STATUS, REPLIES, REPLY_BIT, REQUESTS,
                       CobsError, Command, FrameError, Identity, LinkLayout, PayloadError, Reject,
                       Status, cobs_decode, cobs_encode, crc16, parse_body)

__all__ = ["FakeDevice", "ReferenceExecutor", "params_from_images", "image_crc"]


def params_from_images(plan: Plan, images: list[list[int]]) -> FixedParams:
    """The integer matrices held in lane images (the inverse of ``Plan.lane_images``)."""
    mats: dict[str, list[np.ndarray]] = {"W": [], "B": [], "V": [], "Q": []}
    for (name, k), slot in plan.slots.items():
        lm = slot.lane_map
        M = np.zeros((slot.rows, slot.cols), dtype=np.int64)
        for j in range(slot.rows):
            for i in range(slot.cols):
                M[j, i] = images[lm.lane[j, i]][slot.base + lm.address[j, i]]
        mats[name].append(M)
    return FixedParams(mats["W"], mats["B"], mats["V"], mats["Q"])


def image_crc(images: list[list[int]]) -> int:
    """The COMMIT checksum: CRC-16 over every word of every lane, lane by lane, each word as
    16-bit two's complement, most significant byte first."""
    return crc16(b"".join((int(w) & 0xFFFF).to_bytes(2, "big") for lane in images for w in lane))


class ReferenceExecutor:
    """The device's command executor on the golden model: frame in, reply body out."""

    def __init__(self, config: Config):
        self.config = config
        self.plan = Plan(config)
        self.layout = LinkLayout(config)
        self.model = FixedModel(config)
        self.images = self.plan.lane_images(self.model.params)
        self.identity = Identity.of(config, self.plan.depth)
        self.default_etas = self.model.etas(config.lr_at(0))
        self.counters = [0] * N_COUNTERS
        self.cache: OrderedDict[int, tuple[int, bytes]] = OrderedDict()   # seq -> (crc, reply)
        self.expected: int | None = None   # next sequence number; None: any (no session yet)
        self._reset_core()
        self.committed = True
        self.store = np.zeros((self.layout.store_samples, self.layout.store_stride),
                              dtype=np.int64)   # inputs, then the label, per sample
        self.filled = 0   # the set: samples 0 .. filled - 1 of the store

    def _reset_core(self) -> None:
        self.etas = list(self.default_etas)
        self.samples = 0
        self.model.lfsr_position = lfsr_position(self.config.numerics.lfsr_seed)

    def count(self, cause: Reject) -> None:
        self.counters[cause] = min(self.counters[cause] + 1, 0xFFFF)

    # -- the frame-level rules -----------------------------------------------------------------
    def handle(self, frame) -> bytes:
        """The reply body to one frame that passed the framer."""
        if frame.command == Command.IDENTIFY:
            self.cache.clear()
            self.expected = (frame.seq + 1) & 0xFF
            status, data = (Status.OK, self.identity.pack()) if not frame.payload \
                else (Status.SIZE, b"")
            if status != Status.OK:
                self.count(REJECT_OF_STATUS[status])
            return self._reply(frame, status, data)
        if frame.seq in self.cache:
            crc, reply = self.cache[frame.seq]
            if crc == frame.crc:
                self.count(Reject.RETRIED)
                return reply
            self.count(Reject.DUPLICATE)
            return self._reply(frame, Status.DUPLICATE, b"")
        if self.expected is not None and frame.seq != self.expected:
            self.count(Reject.SEQUENCE)
            return self._reply(frame, Status.SEQUENCE, b"")
        status, data = self.execute(frame.command, frame.payload)
        if status != Status.OK:
            self.count(REJECT_OF_STATUS[status])
        reply = self._reply(frame, status, data)
        self.cache[frame.seq] = (frame.crc, reply)
        while len(self.cache) > self.layout.frames:
            self.cache.popitem(last=False)
        self.expected = (frame.seq + 1) & 0xFF
        return reply

    def _reply(self, frame, status: Status, data: bytes) -> bytes:
        payload = bytes([status]) + data
        head = HEADER.pack((frame.command | REPLY_BIT) & 0xFF, frame.seq, len(payload))
        body = head + payload
        return body + crc16(body).to_bytes(2, "big")

    # -- commands ------------------------------------------------------------------------------
    def execute(self, command: int, p: bytes) -> tuple[Status, bytes]:
        handler: dict = {Command.WRITE: self._write, Command.READ: self._read,
                   Command.COMMIT: self._commit, Command.RATES: self._rates,
                   Command.TRAIN: self._train, Command.INFER: self._infer,
                   Command.COUNTERS: self._counters, Command.RESET: self._reset}
        if self.layout.store_samples:   # a device without an on-board set has no such commands
            handler |= {Command.STORE: self._store, Command.EPOCH: self._epoch}
        handler = handler.get(command)
        if handler is None:
            return Status.UNKNOWN_COMMAND, b""
        return handler(p)

    def _words_range(self, lane: int, word: int, count: int, most: int) -> bool:
        return 1 <= count <= most and lane < self.plan.lanes and word + count <= self.plan.depth

    def _fields(self, command: Command, p: bytes):
        """The request's fields (``REQUESTS``), or None when its length does not fit."""
        try:
            return REQUESTS[command].unpack(p, self.layout)
        except PayloadError:
            return None

    def _data(self, command: Command, **fields) -> bytes:
        """Reply data of ``command`` (``REPLIES``)."""
        return REPLIES[command].pack(self.layout, **fields)

    def _write(self, p):
        r = self._fields(Command.WRITE, p)
        if r is None:
            return Status.SIZE, b""
        if not self._words_range(r.lane, r.word, len(r.values), self.layout.max_write):
            return Status.RANGE, b""
        bits = self.config.numerics.weight_bits
        if any(not -(1 << (bits - 1)) <= v < 1 << (bits - 1) for v in r.values):
            return Status.VALUE, b""
        self.images[r.lane][r.word:r.word + len(r.values)] = list(r.values)
        self.committed = False
        return Status.OK, b""

    def _read(self, p):
        r = self._fields(Command.READ, p)
        if r is None:
            return Status.SIZE, b""
        if not self._words_range(r.lane, r.word, r.count, self.layout.max_read):
            return Status.RANGE, b""
        words = self.images[r.lane][r.word:r.word + r.count]
        return Status.OK, self._data(Command.READ, values=words)

    def _commit(self, p):
        r = self._fields(Command.COMMIT, p)
        if r is None:
            return Status.SIZE, b""
        crc = image_crc(self.images)
        if crc != r.crc:
            return Status.CHECKSUM, self._data(Command.COMMIT, device_crc=crc)
        self.committed = True
        self.model.params = params_from_images(self.plan, self.images)
        return Status.OK, self._data(Command.COMMIT, device_crc=crc)

    def _rates(self, p):
        r = self._fields(Command.RATES, p)
        if r is None:
            return Status.SIZE, b""
        if any(e >= 1 << self.config.numerics.eta_bits for e in r.eta):
            return Status.VALUE, b""
        self.etas = list(r.eta)
        return Status.OK, b""

    def _checked_samples(self, samples) -> list[tuple[np.ndarray, int]] | None:
        """The samples as (inputs, label); None when one does not fit its format."""
        lay, out = self.layout, []
        for s in samples:
            x = np.array(s.x, dtype=np.int64)
            if (x > lay.input_max).any() or s.label >= lay.n_outputs:
                return None
            out.append((x, s.label))
        return out

    def _learned(self) -> None:
        """The model learned: the lane images follow."""
        self.images = self.plan.lane_images(self.model.params)

    def _samples(self, command: Command, p, train: bool):
        lay = self.layout
        try:
            count = REQUESTS[command].unpack_head(p, lay).count
        except PayloadError:
            return Status.SIZE, b""
        if not 1 <= count <= lay.max_samples:
            return Status.RANGE, b""
        r = self._fields(command, p)
        if r is None:
            return Status.SIZE, b""
        if not self.committed:
            return Status.UNCOMMITTED, b""
        samples = self._checked_samples(r.samples)
        if samples is None:
            return Status.VALUE, b""
        results = []
        for x, label in samples:
            results.append(self.model.step(x, label, train, self.etas))
            self.samples += 1
        if train:
            self._learned()
        return Status.OK, self._data(command, results=results)

    def _store(self, p):
        """STORE index u16, count u8, samples: into the on-board set at ``index``, which is 0
        (a new set) or the end of the set (appending); the set then ends after them."""
        lay = self.layout
        try:
            head = REQUESTS[Command.STORE].unpack_head(p, lay)
        except PayloadError:
            return Status.SIZE, b""
        index, count = head.index, head.count
        if not 1 <= count <= lay.max_store or index not in (0, self.filled) \
                or index + count > lay.store_samples:
            return Status.RANGE, b""
        r = self._fields(Command.STORE, p)
        if r is None:
            return Status.SIZE, b""
        samples = self._checked_samples(r.samples)
        if samples is None:
            return Status.VALUE, b""
        for k, (x, label) in enumerate(samples):
            self.store[index + k] = list(x) + [label]
        self.filled = index + count
        return Status.OK, b""

    def _epoch(self, p):
        """EPOCH n u16, start u16, step u16, eta u16 x L: train one epoch over the first n
        stored samples (n at most the set's), sample (start + i * step) mod n at step i, with
        these rates (which stay); replies the count of correct predictions."""
        r = self._fields(Command.EPOCH, p)
        if r is None:
            return Status.SIZE, b""
        n = r.n
        if not 1 <= n <= self.filled or r.start >= n or r.step >= n:
            return Status.RANGE, b""
        if not self.committed:
            return Status.UNCOMMITTED, b""
        if any(e >= 1 << self.config.numerics.eta_bits for e in r.eta):
            return Status.VALUE, b""
        self.etas = list(r.eta)
        correct = 0
        for i in strided_order(n, r.start, r.step):
            x, label = self.store[i, :-1], int(self.store[i, -1])
            correct += self.model.step(x, label, True, self.etas)[0] == label
            self.samples += 1
        self._learned()
        return Status.OK, self._data(Command.EPOCH, correct=correct)

    def _train(self, p):
        return self._samples(Command.TRAIN, p, True)

    def _infer(self, p):
        return self._samples(Command.INFER, p, False)

    def _counters(self, p):
        if self._fields(Command.COUNTERS, p) is None:
            return Status.SIZE, b""
        return Status.OK, self._data(Command.COUNTERS, cycles=0,
                                     samples=self.samples & 0xFFFFFFFF, counters=self.counters)

    def _reset(self, p):
        if self._fields(Command.RESET, p) is None:
            return Status.SIZE, b""
        self._reset_core()
        self.counters = [0] * N_COUNTERS
        return Status.OK, b""


class FakeDevice:
    """A pyserial-like port with a ReferenceExecutor behind the framer. Replies are ready as
    soon as a frame's closing delimiter is written, so it buffers any number of frames (no
    OVERFLOW), and it has no cycle counter (COUNTERS reports 0 cycles)."""

    def __init__(self, config: Config, timeout: float | None = 1.0):
        self.executor = ReferenceExecutor(config)
        self.timeout = timeout
        self.port = "fake"
        self._rx = bytearray()
        self._tx = bytearray()
        self.is_open = True

    # -- the framer ----------------------------------------------------------------------------
    def _frame(self, raw: bytes) -> None:
        ex = self.executor
        try:
            frame = parse_body(cobs_decode(raw), ex.layout.max_body)
        except CobsError:
            ex.count(Reject.COBS)
            return
        except FrameError as exc:
            ex.count(exc.cause)
            return
        self._tx += b"\x00" + cobs_encode(ex.handle(frame)) + b"\x00"

    # -- pyserial-like port --------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        for b in bytes(data):
            if b == 0:
                if self._rx:
                    self._frame(bytes(self._rx))
                self._rx.clear()
            else:
                self._rx.append(b)
        return len(data)

    def read(self, n: int = 1) -> bytes:
        out = bytes(self._tx[:n])
        del self._tx[:n]
        return out

    @property
    def in_waiting(self) -> int:
        return len(self._tx)

    def reset_input_buffer(self) -> None:
        self._tx.clear()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.is_open = False

