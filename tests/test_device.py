"""The host driver against the fake device (the golden model behind the protocol): loading and
reading back weights, training equal to the golden model, retries that never train twice, and
clear errors naming the port."""

import numpy as np
import pytest

from ghostfpga.boards.host.device import Device, DeviceError, DeviceTimeout
from ghostfpga.boards.host.fake import FakeDevice
from ghostfpga.boards.protocol import Command, Status, encode_frame
from ghostfpga.config import Config, Hardware, Link
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.golden.training import sample_order, stored_epochs, strided_order

CONFIG = Config(layers=(4, 12, 3), hardware=Hardware(lanes=4))


def golden_history(config, X, y, epochs):
    model = FixedModel(config)
    history = []
    for epoch in range(epochs):
        etas = model.etas(config.lr_at(epoch))
        pred = np.empty(len(y), dtype=np.int64)
        for i in sample_order(config, len(y), epoch):
            pred[i] = model.step(model.quantize_input(X[i]), int(y[i]), True, etas)[0]
        history.append(pred)
    return model, history


def test_training_through_the_driver_equals_the_golden_model():
    data = yinyang()
    X, y = data.x_train[:300], data.y_train[:300]
    device = Device(FakeDevice(CONFIG), CONFIG)
    history = device.train(X, y, epochs=2, progress=False)
    model, want = golden_history(CONFIG, X, y, 2)
    assert all((h == w).all() for h, w in zip(history, want))
    got = device.read_params()
    assert all((a == b).all() for a, b in zip(got.W, model.params.W))
    assert (device.predict(data.x_test) == model.predict(data.x_test)).all()
    assert device.counters()["samples"] == 600 + len(data.y_test)


def test_training_from_the_on_board_set_equals_the_golden_model():
    config = CONFIG.replace(link=Link(store_samples=250))
    data = yinyang()
    X, y = data.x_train[:250], data.y_train[:250]
    device = Device(FakeDevice(config), config)
    assert device.identity.store_samples == 250
    assert device.upload(X, y, progress=False) == 250
    correct = device.train_on_board(250, epochs=3, progress=False)
    model = FixedModel(config)
    x_q = model.quantize_input(X)
    for epoch, (start, step) in enumerate(stored_epochs(config, 250, 3)):
        etas = model.etas(config.lr_at(epoch))
        hits = sum(model.step(x_q[i], int(y[i]), True, etas)[0] == y[i]
                   for i in strided_order(250, start, step))
        assert correct[epoch] == hits
    assert all((a == b).all() for a, b in zip(device.read_params().W, model.params.W))


def test_the_on_board_set_refuses_what_it_cannot_hold():
    device = Device(FakeDevice(CONFIG), CONFIG)            # no on-board set
    data = yinyang()
    with pytest.raises(DeviceError, match="holds 0 samples, not 10: set link.store_samples"):
        device.upload(data.x_train[:10], data.y_train[:10], progress=False)
    assert device.request(Command.EPOCH, bytes(10))[0] == Status.UNKNOWN_COMMAND
    config = CONFIG.replace(link=Link(store_samples=20))
    device = Device(FakeDevice(config), config)
    device.upload(data.x_train[:8], data.y_train[:8], progress=False)
    with pytest.raises(DeviceError, match="EPOCH refused: RANGE"):   # only 8 were stored
        device.train_on_board(9, progress=False)


def test_load_and_read_back_every_weight():
    device = Device(FakeDevice(CONFIG), CONFIG)
    params = FixedModel(CONFIG.replace(seed=5)).params
    device.load(params)
    back = device.read_params()
    assert all((a == b).all() for a, b in zip(back.W, params.W))


class LossyPort:
    """A port that loses chosen frames on the way to the device and chosen replies on the way
    back (counted in frames written / replies produced)."""

    def __init__(self, inner, drop_requests=(), drop_replies=()):
        self.inner, self.timeout, self.port = inner, 0.01, "lossy"
        self.drop_requests, self.drop_replies = set(drop_requests), set(drop_replies)
        self.writes = self.replies = 0

    def write(self, data):
        self.writes += 1
        if self.writes not in self.drop_requests:
            before = self.inner.in_waiting
            self.inner.write(data)
            if self.inner.in_waiting > before:
                self.replies += 1
                if self.replies in self.drop_replies:
                    self.inner.read(self.inner.in_waiting - before)   # lost on the wire
        return len(data)

    def read(self, n=1):
        return self.inner.read(n)

    @property
    def in_waiting(self):
        return self.inner.in_waiting

    def close(self):
        pass


@pytest.mark.parametrize("drops", [{"drop_requests": [4, 9]}, {"drop_replies": [3, 8, 9]},
                                   {"drop_requests": [5], "drop_replies": [6]}])
def test_lost_frames_and_replies_are_resent_and_train_once(drops):
    data = yinyang()
    X, y = data.x_train[:120], data.y_train[:120]
    port = LossyPort(FakeDevice(CONFIG), **drops)
    device = Device(port, CONFIG, timeout=0.01)
    history = device.train(X, y, epochs=1, progress=False)
    _, want = golden_history(CONFIG, X, y, 1)
    assert (history[0] == want[0]).all()
    counters = device.counters()
    assert counters["samples"] == 120           # no sample trained twice
    assert device.resent > 0
    if "drop_requests" not in drops:
        assert counters["retried"] > 0         # answered from the reply cache


def test_wrong_config_is_named():
    other = CONFIG.replace(layers=(4, 10, 3))
    with pytest.raises(DeviceError, match=r"fake: the device runs config \w+, not \w+ \(4-12-3"):
        Device(FakeDevice(CONFIG), other)


def test_a_silent_port_times_out_naming_it():
    # loop:// echoes every request back: no reply ever comes
    with pytest.raises(DeviceTimeout, match=r"loop://: no reply to IDENTIFY"):
        Device("loop://", CONFIG, timeout=0.02, retries=1)


def test_a_missing_port_is_named():
    with pytest.raises(DeviceError, match="cannot open /dev/ttyGHOSTFPGA0"):
        Device("/dev/ttyGHOSTFPGA0", CONFIG)


def test_refused_requests_report_their_status():
    device = Device(FakeDevice(CONFIG), CONFIG)
    assert device.request(0x55)[0] == Status.UNKNOWN_COMMAND
    assert device.request(Command.READ, b"\x00")[0] == Status.SIZE
    with pytest.raises(DeviceError, match="RATES refused: VALUE"):
        device.set_etas([1 << 15, 1])
    with pytest.raises(ValueError, match=r"inputs must lie in \[0, 1\]"):
        device.predict(np.full((2, 4), 1.5))
    counters = device.counters()
    assert counters["unknown_command"] == 1 and counters["size"] == 1
    assert counters["value"] == 1


def test_bad_frames_never_change_a_weight():
    fake = FakeDevice(CONFIG)
    device = Device(fake, CONFIG)
    before = device.read_images()
    good = encode_frame(Command.WRITE, 77, b"\x00\x00\x00\x05\x00")
    fake.write(good[:-3] + b"\x00")                       # truncated
    fake.write(good[:5] + bytes([good[5] ^ 0x10]) + good[6:])   # bad CRC
    fake.write(b"\x13\x37\x00")                           # garbage
    assert device.read_images() == before
    c = device.counters()
    assert c["truncated"] + c["crc"] + c["cobs"] + c["length"] == 3


def test_learned_ghosts_warm_up_through_the_driver_as_the_golden_model_does():
    """Normalized learned ghosts: the driver first streams the warm-up samples at rate 0;
    the check (the golden model doing the same) finds every prediction and weight equal."""
    from ghostfpga.hardware import run_on_device

    config = Config(layers=(4, 10, 3), variant="learned", ghost_warmup=30,
                    hardware=Hardware(lanes=3))
    run = run_on_device(config, yinyang(), "fake", samples=60, epochs=2, test_samples=40)
    assert run.mismatches == 0, run.first_mismatch
    assert run.warmup_samples == 30


def _api_cases():
    other = FixedModel(Config(layers=(4, 8, 3))).params
    big = FixedModel(Config()).params
    big.W[0] = big.W[0].copy()
    big.W[0][0, 0] = 1 << 20
    x = np.full((6, 4), 0.5)
    return [
        ("train", (x, [0, 1, 2]), "one label per sample"),
        ("train", (x, [0.5] * 6), "integer class labels"),
        ("train", (x, [0, 1, 2, 3, 0, 1]), "labels in [0, 2]"),
        ("train", (x, None), "one label per sample"),
        ("train", (np.full((6, 5), 0.5), [0] * 6), "shape (n, 4)"),
        ("train", (np.full((6, 4), 1.5), [0] * 6), "in [0, 1]"),
        ("train", (np.full((6, 4), np.nan), [0] * 6), "in [0, 1]"),
        ("train", (x, [0] * 6, 0), "epochs must be a positive integer"),
        ("train", (x, [0] * 6, -1), "epochs must be a positive integer"),
        ("predict", (np.zeros(4),), "shape (n, 4)"),
        ("upload", (x, [0] * 5), "one label per sample"),
        ("load", (other,), "must have shape"),
        ("load", (big,), "integers in [-32768, 32767]"),
        ("load", (None,), "params.W must hold"),
        ("set_rates", ([0.05],), "2 non-negative numbers"),
        ("set_rates", ([0.05, -0.01],), "non-negative"),
        ("set_rates", ([0.05, float("nan")],), "non-negative"),
        ("train_on_board", (6, 0), "epochs must be a positive integer"),
    ]


@pytest.mark.parametrize("method, args, message", _api_cases())
def test_the_python_api_names_the_bad_argument(method, args, message):
    config = Config(link=Link(store_samples=10))
    with Device(FakeDevice(config, 1.0), config) as device:
        before = device.read_images()
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace("[", r"\[").replace("]", r"\]")):
            getattr(device, method)(*args)
        assert device.read_images() == before   # nothing was written
        assert device.counters()["samples"] == 0
