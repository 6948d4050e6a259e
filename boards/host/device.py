"""The host driver: a ``Device`` over any pyserial-like port speaking docs/protocol.md.

``Device("/dev/ttyUSB1", config)``, ``Device("socket://127.0.0.1:4000", config)``, or
``Device(port_object, config)`` for an open port (a ``FakeDevice``, the co-simulated board).
Requests travel in a window of up to the device's frame buffers; a lost frame or reply is
resent after the port's read timeout, and the device's reply cache makes a resent request
execute once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from serial import SerialException

from ghostfpga.config import Config
from ghostfpga.golden.fixed import FixedModel, FixedParams
from ghostfpga.golden.numerics import Formats, quantize
from ghostfpga.golden.training import sample_order, stored_epochs, warmup_order
from ghostfpga.hdl.plan import Plan

from .fake import image_crc, params_from_images
from ..protocol import (REPLIES, REPLY_BIT, REQUESTS, CobsError, Command, FrameError, Identity,
                       LinkLayout, PayloadError, Reject, Status, cobs_decode, encode_frame,
                       parse_body)

__all__ = ["Device", "DeviceError", "DeviceTimeout", "open_port"]


class DeviceError(RuntimeError):
    """The device cannot be reached, runs another config, or refused a request."""


class DeviceTimeout(DeviceError):
    pass


def open_port(url: str, baud: int, timeout: float):
    """``serial.serial_for_url`` with a clear error naming the port."""
    import serial

    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=timeout)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise DeviceError(f"cannot open {url}: {exc}") from None


def _check_epochs(epochs) -> None:
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, not {epochs!r}")


class Device:
    """A ghostfpga board (or its simulation) behind a serial port."""

    def __init__(self, port, config: Config, *, timeout: float = 1.0, retries: int = 3):
        self.config = config
        self.plan = Plan(config)
        self.layout = LinkLayout(config)
        self.fmt = Formats.from_config(config)
        self.port = open_port(port, config.link.baud, timeout) if isinstance(port, str) else port
        self.name = port if isinstance(port, str) else getattr(self.port, "port", None) or \
            type(self.port).__name__
        self.port.timeout = timeout
        self.retries = retries
        self.window = 1
        self._seq = 0
        self._buffer = bytearray()
        self.resent = 0   # frames sent again after a timeout
        self.junk_bytes, self.junk_sample = 0, b""   # received bytes that were no reply
        try:
            self.identity = self.identify()
        except DeviceError:
            self.close()
            raise
        want = config.hardware_digest()
        if self.identity.config_hash != want:
            self.close()
            raise DeviceError(
                f"{self.name}: the device runs config {self.identity.config_hash:08x}, not "
                f"{want:08x} ({'-'.join(map(str, self.identity.layers))}, "
                f"{self.identity.lanes} lanes on the device): build and program it for this "
                "config")
        self.window = max(1, self.identity.frames)

    def close(self) -> None:
        self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- frames --------------------------------------------------------------------------------
    def _read_frame(self):
        """The next good reply frame, or None once the port's timeout has passed (in the
        port's own clock: ``port.clock()`` where it has one, simulated time on the simulated
        board) or a few frames' worth of bytes have arrived without one: a peer that keeps
        sending garbage (a wrong baud rate, another design on the UART) cannot hold the host
        in this loop."""
        clock = getattr(self.port, "clock", time.monotonic)
        deadline = clock() + self.port.timeout
        budget = 4 * (2 * self.layout.max_body + 8)   # bytes, however fast they come
        while True:
            end = self._buffer.find(0)
            if end >= 0:
                raw = bytes(self._buffer[:end])
                del self._buffer[:end + 1]
                if not raw:
                    continue
                try:
                    return parse_body(cobs_decode(raw), self.layout.max_body)
                except (CobsError, FrameError):
                    self._junk(raw + b"\0")
                    budget -= len(raw) + 1
                    continue   # a damaged reply: its request is resent after the timeout
            if len(self._buffer) > 2 * self.layout.max_body + 8:   # no frame is this long
                self._junk(bytes(self._buffer))
                budget -= len(self._buffer)
                self._buffer.clear()
            if budget <= 0 or clock() >= deadline:
                return None
            try:
                chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            except (OSError, SerialException) as exc:
                raise DeviceError(f"{self.name}: the connection failed while reading: "
                                  f"{exc}") from None
            if not chunk:
                return None
            self._buffer += chunk

    def _junk(self, data: bytes) -> None:
        """Count bytes that were no valid reply, keeping the first few for the error."""
        self.junk_bytes += len(data)
        if len(self.junk_sample) < 16:
            self.junk_sample += data[:16 - len(self.junk_sample)]

    def _write(self, frame: bytes) -> None:
        try:
            self.port.write(frame)
        except (OSError, SerialException) as exc:
            raise DeviceError(f"{self.name}: the connection failed while writing: "
                              f"{exc}") from None

    def exchange(self, requests: Sequence[tuple[int, bytes]],
                 progress: Callable[[int], None] | None = None) -> list[tuple[int, bytes]]:
        """Send ``(command, payload)`` requests in order, up to ``window`` in flight; returns
        ``(status, data)`` of each. Statuses are returned, not raised."""
        n = len(requests)
        seqs = [(self._seq + i) & 0xFF for i in range(n)]
        self._seq = (self._seq + n) & 0xFF
        frames = [encode_frame(c, s, p) for (c, p), s in zip(requests, seqs)]
        replies: list = [None] * n
        base = sent = misses = stray = 0
        while base < n:
            while sent < n and sent - base < self.window:
                self._write(frames[sent])
                sent += 1
            frame = self._read_frame()
            if frame is None:
                misses += 1
                if misses > self.retries:
                    cmd = Command(requests[base][0]).name
                    if self.junk_bytes:
                        raise DeviceTimeout(
                            f"{self.name}: no valid reply to {cmd} (sequence {seqs[base]}) "
                            f"after {self.retries} retries; received {self.junk_bytes} bytes "
                            f"that were not one (first: {self.junk_sample.hex(' ')}): a "
                            "wrong baud rate, or another design on the port?")
                    raise DeviceTimeout(f"{self.name}: no reply to {cmd} (sequence "
                                        f"{seqs[base]}) after {self.retries} retries of "
                                        f"{self.port.timeout:g} s: is the device connected "
                                        "and programmed?")
                for i in range(base, sent):   # go back: the device answers executed ones
                    self._write(frames[i])   # from its reply cache
                    self.resent += 1
                continue
            i = next((i for i in range(base, sent) if seqs[i] == frame.seq), None)
            if i is None or replies[i] is not None or \
                    frame.command != (requests[i][0] | REPLY_BIT) or not frame.payload:
                stray += 1   # stale or repeated; a stream of them is a miss
                if stray > 4 * self.window + 8:
                    stray, misses = 0, misses + 1
                    if misses > self.retries:
                        raise DeviceError(f"{self.name}: only replies to other requests "
                                          "arrive (another host on this port?)")
                continue
            status = frame.payload[0]
            if status == Status.SEQUENCE:
                if i == base:
                    raise DeviceError(f"{self.name}: the device lost the session (reset or "
                                      "another host); open the device again")
                continue   # an earlier frame was lost: it is resent after the timeout
            if status == Status.DUPLICATE:
                raise DeviceError(f"{self.name}: sequence {frame.seq} was used by another "
                                  "request (another host on this port?)")
            replies[i] = (status, frame.payload[1:])
            misses = stray = 0
            while base < n and replies[base] is not None:
                base += 1
                if progress is not None:
                    progress(1)
        return replies

    def request(self, command: int, payload: bytes = b"") -> tuple[int, bytes]:
        return self.exchange([(command, payload)])[0]

    def _ok(self, command: Command, replies: list[tuple[int, bytes]]) -> list[bytes]:
        for status, _ in replies:
            if status != Status.OK:
                raise DeviceError(f"{self.name}: {command.name} refused: "
                                  f"{Status(status).name}")
        return [data for _, data in replies]

    def call(self, command: Command, requests: Sequence[dict],
             progress: Callable[[int], None] | None = None) -> list:
        """Send ``command`` once per request (its fields by name, as ``REQUESTS`` defines
        them) and return each reply's fields (``REPLIES``); DeviceError on a refusal or a
        reply that does not fit its layout."""
        try:
            frames = [(command, REQUESTS[command].pack(self.layout, **r)) for r in requests]
        except PayloadError as exc:
            raise ValueError(f"{command.name}: {exc}") from None
        data = self._ok(command, self.exchange(frames, progress))
        try:
            return [REPLIES[command].unpack(d, self.layout) for d in data]
        except PayloadError as exc:
            raise DeviceError(f"{self.name}: a {command.name} reply does not fit the protocol "
                              f"({exc}): another design on the port?") from None

    # -- commands ------------------------------------------------------------------------------
    def identify(self) -> Identity:
        data, = self._ok(Command.IDENTIFY, [self.request(Command.IDENTIFY)])
        try:
            return Identity.unpack(data)
        except ValueError as exc:
            raise DeviceError(f"{self.name}: {exc}") from None

    def write_images(self, images: list[list[int]]) -> None:
        """Write every word of every lane memory, then commit with their checksum; the device
        uses the new weights only once the commit matched."""
        step = self.layout.max_write
        self.call(Command.WRITE, [dict(lane=lane, word=word, values=words[word:word + step])
                                  for lane, words in enumerate(images)
                                  for word in range(0, len(words), step)])
        self.call(Command.COMMIT, [dict(crc=image_crc(images))])

    def read_images(self) -> list[list[int]]:
        step = self.layout.max_read
        reqs = [dict(lane=lane, word=word, count=min(step, self.plan.depth - word))
                for lane in range(self.plan.lanes) for word in range(0, self.plan.depth, step)]
        images = [[] for _ in range(self.plan.lanes)]
        for r, reply in zip(reqs, self.call(Command.READ, reqs)):
            if len(reply.values) != r["count"]:
                raise DeviceError(f"{self.name}: READ of {r['count']} words answered "
                                  f"{len(reply.values)}")
            images[r["lane"]] += reply.values
        return images

    def load(self, params: FixedParams) -> None:
        """Load integer weights (W, and B, V, Q where the config has them): every matrix of
        the config's shape, every value within the weight format, or ValueError naming it
        (nothing is written)."""
        want = FixedModel(self.config).params
        bits = self.fmt.weight_bits
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        for name in ("W", "B", "V", "Q"):
            given, expected = getattr(params, name, None), getattr(want, name)
            if given is None or len(given) != len(expected):
                raise ValueError(f"params.{name} must hold {len(expected)} matrices for "
                                 f"{'-'.join(map(str, self.config.layers))} ({self.config.variant}, "
                                 f"{self.config.feedback}), not {0 if given is None else len(given)}")
            for k, (g, e) in enumerate(zip(given, expected)):
                g = np.asarray(g)
                if g.shape != e.shape:
                    raise ValueError(f"params.{name}[{k}] must have shape {e.shape}, not "
                                     f"{g.shape}: parameters of another config?")
                if g.dtype.kind not in "iu" or (g.size and (g.min() < lo or g.max() > hi)):
                    raise ValueError(f"params.{name}[{k}] must hold integers in [{lo}, {hi}] "
                                     f"(the {bits}-bit weight format)")
        self.write_images(self.plan.lane_images(params))

    def read_params(self) -> FixedParams:
        return params_from_images(self.plan, self.read_images())

    def set_rates(self, lrs: Sequence[float]) -> list[int]:
        """Per-layer learning rates; returns the multipliers lr / beta the device uses."""
        lrs = list(lrs)
        if len(lrs) != self.config.n_layers or not all(
                isinstance(v, (int, float)) and np.isfinite(v) and v >= 0 for v in lrs):
            raise ValueError(f"lrs must be {self.config.n_layers} non-negative numbers (one "
                             f"per weight layer), not {lrs!r}")
        etas = self.fmt.etas(lrs, self.config.beta)
        self.set_etas(etas)
        return etas

    def set_etas(self, etas: Sequence[int]) -> None:
        self.call(Command.RATES, [dict(eta=etas)])

    def quantize(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.layout.n_inputs:
            raise ValueError(f"inputs must have shape (n, {self.layout.n_inputs}), not "
                             f"{X.shape}")
        if not np.isfinite(X).all() or X.min(initial=0) < 0 or X.max(initial=0) > 1:
            raise ValueError("inputs must lie in [0, 1] (the rate format)")
        return quantize(X, self.fmt.rate_frac, self.fmt.rate_frac + 1, signed=False)

    def samples(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) checked and quantized: inputs of shape (n, n_0) in [0, 1], one integer
        label in [0, classes) per sample (float labels only when they are whole numbers)."""
        x_q = self.quantize(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x_q):
            raise ValueError(f"y must hold one label per sample of X ({len(x_q)}), not "
                             f"shape {y.shape}")
        if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
            y = y.astype(np.int64)
        if y.dtype.kind not in "iu":
            raise ValueError(f"y must hold integer class labels, not {y.dtype}")
        if len(y) and (y.min() < 0 or y.max() >= self.layout.n_outputs):
            raise ValueError(f"y must hold labels in [0, {self.layout.n_outputs - 1}]")
        return x_q, y.astype(np.int64)

    def _sample_requests(self, x_q: np.ndarray, labels, per_frame: int,
                         indexed: bool) -> tuple[list[dict], list[int]]:
        """Requests carrying the samples, ``per_frame`` at most each (TRAIN / INFER, or
        STORE with the first sample's index when ``indexed``); and the samples of each."""
        lay = self.layout
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) and (labels.min() < 0 or labels.max() >= lay.n_outputs):
            raise ValueError(f"labels must lie in [0, {lay.n_outputs - 1}]")
        reqs, counts = [], []
        for start in range(0, len(labels), per_frame):
            chunk = range(start, min(start + per_frame, len(labels)))
            r = dict(count=len(chunk), samples=[(x_q[i], labels[i]) for i in chunk])
            reqs.append(dict(index=start, **r) if indexed else r)
            counts.append(len(chunk))
        return reqs, counts

    def run_samples(self, x_q: np.ndarray, labels: Sequence[int], train: bool,
                    progress: Callable[[int], None] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Quantized samples through the core: (predicted classes, output rates)."""
        lay = self.layout
        reqs, counts = self._sample_requests(x_q, labels, lay.max_samples, False)
        tick = None if progress is None else (lambda _n, it=iter(counts): progress(next(it)))
        replies = self.call(Command.TRAIN if train else Command.INFER, reqs, tick)
        results = [r for reply, count in zip(replies, counts)
                   for r in self._results(reply, count)]
        return (np.array([r.predicted for r in results], dtype=np.int64),
                np.array([r.outputs for r in results], dtype=np.int64).reshape(-1, lay.n_outputs))

    def _results(self, reply, count: int) -> list:
        if len(reply.results) != count:
            raise DeviceError(f"{self.name}: {count} samples answered with "
                              f"{len(reply.results)} results")
        return reply.results

    def warm_up(self, X: np.ndarray, y: Sequence[int], progress: bool = True) -> int:
        """The self-predicting phase of normalized learned ghosts (config ``ghost_warmup``):
        the first samples of the first epoch's order, trained with every learning rate 0,
        so only the ghosts learn; call it once before training (``drive`` does). Returns the
        samples sent (0 for other configs)."""
        from tqdm import tqdm

        x_q, y = self.samples(X, y)
        order = warmup_order(self.config, len(y))
        if len(order):
            self.set_rates((0.0,) * self.config.n_layers)
            with tqdm(total=len(order), desc=f"ghost warm-up on {self.name}", unit="sample",
                      disable=None if progress else True, leave=False) as bar:
                self.run_samples(x_q[order], y[order], True, bar.update)
        return len(order)

    def train(self, X: np.ndarray, y: Sequence[int], epochs: int = 1, progress: bool = True,
              on_epoch: Callable[[int, np.ndarray], None] | None = None) -> list[np.ndarray]:
        """Train ``epochs`` passes over (X, y) in the config's sample order with the per-epoch
        rate decay; returns each epoch's predictions (made before each update), in the order
        of X."""
        from tqdm import tqdm

        _check_epochs(epochs)

        x_q, y = self.samples(X, y)
        history = []
        with tqdm(total=epochs * len(y), desc=f"training on {self.name}", unit="sample",
                  disable=None if progress else True, leave=False) as bar:
            for epoch in range(epochs):
                self.set_rates(self.config.lr_at(epoch))
                order = sample_order(self.config, len(y), epoch)
                classes, _ = self.run_samples(x_q[order], y[order], True, bar.update)
                predicted = np.empty_like(classes)
                predicted[order] = classes
                history.append(predicted)
                if on_epoch is not None:
                    on_epoch(epoch, predicted)
        return history

    def store(self, x_q: np.ndarray, labels: Sequence[int],
              progress: Callable[[int], None] | None = None) -> None:
        """Upload quantized samples into the on-board training set, from index 0."""
        lay = self.layout
        labels = np.asarray(labels, dtype=np.int64)
        if len(labels) > self.identity.store_samples:
            raise DeviceError(
                f"{self.name}: the on-board training set holds {self.identity.store_samples} "
                f"samples, not {len(labels)}: set link.store_samples in the config (and build "
                "for it), or train over the link")
        reqs, counts = self._sample_requests(x_q, labels, lay.max_store, True)
        tick = None if progress is None else (lambda _n, it=iter(counts): progress(next(it)))
        self.call(Command.STORE, reqs, tick)

    def train_stored(self, n: int, epochs: Sequence[tuple[int, int, Sequence[int]]],
                     progress: Callable[[int], None] | None = None) -> list[int]:
        """Train on the first ``n`` stored samples, one epoch per ``(start, step, etas)``
        (docs/protocol.md, EPOCH); returns each epoch's count of correct predictions."""
        reqs = [dict(n=n, start=start, step=step, eta=etas) for start, step, etas in epochs]
        # a reply comes when its epoch is done: wait that long, generously
        bound = 4 * self.plan.ideal_cycles()["train"] + 100
        timeout = self.port.timeout
        self.port.timeout = timeout + n * bound / self.identity.clock_hz
        try:
            replies = self.call(Command.EPOCH, reqs,
                                None if progress is None else lambda _k: progress(n))
        finally:
            self.port.timeout = timeout
        return [r.correct for r in replies]

    def upload(self, X: np.ndarray, y: Sequence[int], progress: bool = True) -> int:
        """Quantize (X, y) and store it as the on-board training set; returns its size."""
        from tqdm import tqdm

        x_q, y = self.samples(X, y)
        with tqdm(total=len(y), desc=f"uploading to {self.name}", unit="sample",
                  disable=None if progress else True, leave=False) as bar:
            self.store(x_q, y, bar.update)
        return len(y)

    def train_on_board(self, n: int, epochs: int = 1, progress: bool = True) -> list[int]:
        """Train ``epochs`` over the first ``n`` stored samples in the order of
        ``golden.training.stored_epochs``, with the per-epoch rate decay; returns each
        epoch's count of correct predictions."""
        from tqdm import tqdm

        _check_epochs(epochs)
        records = [(start, step, self.fmt.etas(self.config.lr_at(epoch), self.config.beta))
                   for epoch, (start, step) in enumerate(stored_epochs(self.config, n, epochs))]
        with tqdm(total=epochs * n, desc=f"training on {self.name}", unit="sample",
                  disable=None if progress else True, leave=False) as bar:
            return self.train_stored(n, records, bar.update)

    def predict(self, X: np.ndarray) -> np.ndarray:
        x_q = self.quantize(X)
        return self.run_samples(x_q, np.zeros(len(x_q), dtype=np.int64), False)[0]

    def counters(self) -> dict[str, int]:
        reply, = self.call(Command.COUNTERS, [{}])
        out = {"cycles": reply.cycles, "samples": reply.samples}
        out.update({cause.name.lower(): v for cause, v in zip(Reject, reply.counters)})
        out["rejected_frames"] = sum(v for cause, v in zip(Reject, reply.counters)
                                     if cause not in (Reject.RETRIED, Reject.STOP_BIT))
        return out

    def reset(self) -> None:
        """Reset the core's registers (LFSR, cycle and sample counters), the rates and the
        counters; the weights stay."""
        self.call(Command.RESET, [{}])
