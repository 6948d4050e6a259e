"""The link never hangs: a peer that trickles garbage, floods it or resets the connection ends
every exchange in a clear DeviceError naming the port and what was received, within the
driver's deadlines (each read is bounded in time and in bytes)."""

import socket
import struct
import threading
import time

import numpy as np
import pytest

from ghostfpga.boards.host.device import Device, DeviceError, DeviceTimeout
from ghostfpga.config import Config


class GarbagePort:
    """A pyserial-like port whose peer sends noise: ``flood`` (random bytes, zeros
    included, as fast as they are read) or a byte every millisecond (``trickle``)."""

    def __init__(self, kind: str):
        self.kind, self.timeout, self.port = kind, 1.0, f"garbage-{kind}"
        self.rng = np.random.default_rng(1)
        self.in_waiting = 0
        self.written = 0

    def write(self, data):
        self.written += len(data)
        return len(data)

    def read(self, n=1):
        if self.kind == "trickle":
            time.sleep(0.001)
            return bytes([0x55])
        return self.rng.integers(0, 256, max(n, 64), dtype=np.uint8).tobytes()

    def close(self):
        pass


@pytest.mark.parametrize("kind", ["trickle", "flood"])
def test_a_peer_sending_garbage_ends_in_a_clear_error(kind):
    port = GarbagePort(kind)
    start = time.monotonic()
    with pytest.raises(DeviceTimeout) as info:
        Device(port, Config(), timeout=0.2, retries=2)
    seconds = time.monotonic() - start
    message = str(info.value)
    assert f"garbage-{kind}" in message and "bytes that were not one" in message
    assert "wrong baud rate" in message
    assert seconds < 10, seconds
    assert port.written > 0   # it did ask, and resent


def test_a_peer_that_resets_the_connection_is_named():
    """A TCP peer that accepts, reads the first request and resets the connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def reset_on_first_bytes():
        conn, _ = server.accept()
        conn.recv(16)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()   # RST

    thread = threading.Thread(target=reset_on_first_bytes, daemon=True)
    thread.start()
    try:
        with pytest.raises(DeviceError) as info:
            Device(f"socket://127.0.0.1:{port}", Config(), timeout=0.5, retries=2)
        assert f"socket://127.0.0.1:{port}" in str(info.value)
        assert "Traceback" not in str(info.value)
    finally:
        thread.join(timeout=10)
        server.close()
