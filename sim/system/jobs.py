"""Host jobs for the simulated board that exercise the link beyond normal use: malformed and
hostile frames interleaved with real training (run through sim/system/cocotb_sim.py)."""

from __future__ import annotations

import random
import tomllib
from collections import Counter

import numpy as np

from ghostfpga.boards.host.device import Device
from ghostfpga.boards.protocol import (HEADER, REQUESTS, CobsError, Command, FrameError,
                                       LinkLayout, Reject, Status, cobs_decode, cobs_encode,
                                       crc16, encode_frame, parse_body)
from ghostfpga.config import Config

__all__ = ["fault_job", "bad_frame", "framer_cause"]

KINDS = ("crc", "truncated", "oversize", "length", "cobs", "garbage")


def bad_frame(kind: str, rng: random.Random, slot_bytes: int) -> bytes:
    """Wire bytes of one frame the framer must drop (delimited on both sides)."""
    payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
    head = HEADER.pack(rng.choice(list(Command)), rng.randrange(256), len(payload))
    body = head + payload
    crc = crc16(body)
    if kind == "crc":
        raw = body + (crc ^ (1 << rng.randrange(16))).to_bytes(2, "big")
    elif kind == "truncated":
        raw = body[:rng.randrange(1, 6)]
    elif kind == "oversize":
        raw = bytes(rng.randrange(256) for _ in range(slot_bytes + rng.randrange(1, 20)))
    elif kind == "length":
        bad = HEADER.pack(body[0], body[1], len(payload) + rng.randrange(1, 9)) + payload
        raw = bad + crc16(bad).to_bytes(2, "big")
    elif kind == "cobs":   # a block that the delimiter cuts short
        return b"\x00" + bytes([rng.randrange(3, 40)]) + b"\x11\x22" + b"\x00"
    else:                  # raw noise
        return b"\x00" + bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 30))) \
            + b"\x00"
    return b"\x00" + cobs_encode(raw) + b"\x00"


def framer_cause(wire: bytes, slot_bytes: int) -> Reject | None:
    """What the reference framer makes of one delimited frame (None: it would pass)."""
    raw = wire.strip(b"\x00")
    try:
        parse_body(cobs_decode(raw), slot_bytes)
    except CobsError:
        return Reject.COBS
    except FrameError as exc:
        return exc.cause
    return None


class _Injector:
    """Wraps the driver's port: after each of the driver's frames it sends ``per_write`` bad
    ones (while ``budget`` lasts), so they arrive while the core trains on that frame."""

    def __init__(self, port, rng, slot_bytes):
        self.port, self.rng, self.slot_bytes = port, rng, slot_bytes
        self.per_write = self.budget = 0
        self.expected = Counter()

    def __getattr__(self, name):
        return getattr(self.port, name)

    @property
    def timeout(self):
        return self.port.timeout

    @timeout.setter
    def timeout(self, value):
        self.port.timeout = value

    def inject(self) -> None:
        wire = bad_frame(self.rng.choice(KINDS), self.rng, self.slot_bytes)
        cause = framer_cause(wire, self.slot_bytes)
        assert cause is not None, "a bad frame passed the reference framer"
        self.expected[cause.name.lower()] += 1
        self.port.write(wire)

    def write(self, data: bytes) -> int:
        n = self.port.write(data)
        for _ in range(min(self.per_write, self.budget)):
            self.inject()
            self.budget -= 1
        return n


def fault_job(port, config: str, x_train, y_train, faults: int, seed: int,
              timeout: float) -> dict:
    """Train batches with ``faults`` bad frames woven in: framer-level ones between the
    driver's own frames (while the core trains), and refused-but-framed ones (unknown command,
    wrong sizes, duplicate and out-of-order sequence numbers) between batches. Returns what
    the device answered and counted, and what the faults should have left in the counters."""
    cfg = Config.from_dict(tomllib.loads(config))
    lay = LinkLayout(cfg)
    rng = random.Random(seed)
    injector = _Injector(port, rng, lay.slot_bytes)
    device = Device(injector, cfg, timeout=timeout)
    x, y = np.asarray(x_train), np.asarray(y_train)
    x_q = device.quantize(x)
    device.set_rates(cfg.lr_at(0))
    batches = np.array_split(np.arange(len(y)), 4)
    framed = 4 * (faults // 40)            # refused with a reply: a tenth of the faults
    per_batch = -(-(faults - framed) // len(batches))
    predictions, answered = [], 0
    statuses = Counter()
    for b, idx in enumerate(batches):
        frames = -(-len(idx) // lay.max_samples)
        injector.budget, injector.per_write = per_batch, -(-per_batch // frames)
        classes, _ = device.run_samples(x_q[idx], y[idx], True)
        injector.budget = 0
        predictions += classes.tolist()
        answered += frames
        # refused frames with a good CRC: each gets a reply with its status
        for k in range(framed // len(batches)):
            kind = k % 4
            if kind == 0:
                status, _ = device.request(0x40 + rng.randrange(0x30))
            elif kind == 1:
                status, _ = device.request(rng.choice([Command.READ, Command.COMMIT,
                                                       Command.RATES, Command.COUNTERS]),
                                           bytes(rng.randrange(5, 9)))
            else:   # 2: a used sequence number, new contents; 3: a number out of order
                seq = (device._seq - 1) & 0xFF if kind == 2 else (device._seq + 77) & 0xFF
                zero = REQUESTS[Command.INFER].pack(lay, count=1,
                                                    samples=[([0] * lay.n_inputs, 0)])
                port.write(encode_frame(Command.INFER, seq, zero))
                reply = device._read_frame()
                status = reply.payload[0] if reply is not None and reply.seq == seq else None
            statuses[Status(status).name.lower() if status is not None else "none"] += 1
            answered += 1
    counters = device.counters()
    expected = dict(injector.expected)
    for name, n in statuses.items():
        if name in ("unknown_command", "size", "duplicate", "sequence"):
            expected[name] = expected.get(name, 0) + n
    return {"predictions": predictions, "images": device.read_images(), "counters": counters,
            "expected_counters": expected, "statuses": dict(statuses),
            "injected": sum(injector.expected.values()) + sum(statuses.values()),
            "answered": answered, "resent_frames": device.resent}


def serve_job(port, listen: int, ready: str, stop: str) -> dict:
    """Serve the simulated board on TCP 127.0.0.1:``listen``, one client at a time, the next
    when one disconnects (the board keeps its state). Writes ``ready`` once listening and
    returns when the file ``stop`` appears."""
    import os
    import socket
    import time

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen))
    srv.listen(1)
    srv.setblocking(False)
    with open(ready, "w") as f:
        f.write(str(srv.getsockname()[1]))
    clients = 0
    byte_cycles = 10 * port.bit_ps // port.clock_ps
    while not os.path.exists(stop):
        try:
            conn, _ = srv.accept()
        except BlockingIOError:
            time.sleep(0.01)
            continue
        clients += 1
        conn.setblocking(False)
        quiet = 0
        while not os.path.exists(stop):
            moved = False
            try:
                data = conn.recv(65536)
                if not data:
                    break                    # the client hung up: wait for the next
                port.write(data)
                moved = True
            except BlockingIOError:
                pass
            except OSError:
                break
            out = port.take()
            if out:
                conn.setblocking(True)
                try:
                    conn.sendall(out)
                except OSError:
                    break
                conn.setblocking(False)
                moved = True
            quiet = 0 if moved or port.pending else quiet + 1
            # run the board a byte time; when nothing moves for a while, give the CPU back
            port.idle(byte_cycles if quiet < 200 else 50 * byte_cycles)
            if quiet >= 200:
                time.sleep(0.002)
        conn.close()
    srv.close()
    return {"clients": clients}
