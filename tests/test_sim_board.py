"""``ghostfpga sim-board`` serves the simulated board over TCP: any pyserial client drives it
as socket://127.0.0.1:PORT, one client after another on the same board state; Ctrl-C, SIGTERM
and SIGHUP stop it cleanly, and no way of stopping it (SIGKILL included) leaves its simulator
running."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ghostfpga.boards.host.device import Device
from ghostfpga.config import Config
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.fixed import FixedModel

GHOSTFPGA = str(Path(sys.executable).parent / "ghostfpga")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int):
    """``ghostfpga sim-board`` on ``port``, once it listens."""
    proc = subprocess.Popen([GHOSTFPGA, "sim-board", "--listen", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()   # printed once the simulated board listens
    if f"socket://127.0.0.1:{port}" not in line:
        proc.kill()
        raise AssertionError(proc.stderr.read())
    return proc


def _children(pid: int) -> set[int]:
    """The processes ``pid`` started (Linux /proc), such as its simulator."""
    kids = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        kids |= {int(k) for k in (task / "children").read_text().split()}
    return kids


def _gone(pids: set[int], timeout: float = 20.0) -> bool:
    """Whether every process in ``pids`` has exited (within ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = {p for p in pids if Path(f"/proc/{p}").exists()
                 and "(Z)" not in Path(f"/proc/{p}/stat").read_text()[:64]}
        if not alive:
            return True
        time.sleep(0.2)
    return False


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_sim_board_serves_clients_in_turn_and_stops_on_ctrl_c():
    port = _free_port()
    proc = _serve(port)
    try:
        config, data = Config(), yinyang()
        url = f"socket://127.0.0.1:{port}"
        with Device(url, config, timeout=5.0) as device:
            history = device.train(data.x_train[:40], data.y_train[:40], progress=False)
        model = FixedModel(config)
        etas = model.etas(config.lr_at(0))
        order = np.random.default_rng([config.seed, 1, 0]).permutation(40)
        want = np.empty(40, dtype=np.int64)
        for i in order:
            want[i] = model.step(model.quantize_input(data.x_train[i]), int(data.y_train[i]),
                                 True, etas)[0]
        assert (history[0] == want).all()
        with Device(url, config, timeout=5.0) as device:   # the next client: same board
            assert device.counters()["samples"] == 40
            assert (device.predict(data.x_test[:20]) == model.predict(data.x_test[:20])).all()
        simulator = _children(proc.pid)
        assert simulator, "the simulated board runs in a child process"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=180) == 0
        assert _gone(simulator), "the simulator outlived sim-board"
    finally:
        _stop(proc)


def test_sim_board_refuses_a_busy_port(capsys):
    from ghostfpga.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        assert main(["sim-board", "--listen", str(busy.getsockname()[1])]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_ctrl_c_stops_it_even_when_started_with_sigint_blocked():
    """A parent that blocks SIGINT (as Python's multiprocessing does while it starts a
    helper) hands the block to its children; sim-board unblocks it for its Ctrl-C."""
    port = _free_port()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        proc = _serve(port)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    try:
        simulator = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0
        assert _gone(simulator), "the simulator outlived sim-board"
    finally:
        _stop(proc)


@pytest.mark.parametrize("signum, client", [(signal.SIGTERM, "connected"),
                                            (signal.SIGHUP, "gone"),
                                            (signal.SIGKILL, "connected")])
def test_no_way_of_stopping_it_leaves_the_simulator_running(signum, client):
    """SIGTERM and SIGHUP stop it as Ctrl-C does (exit 0, the simulator ends with it), with a
    client still connected or after the client has hung up; even SIGKILL, which it cannot
    catch, takes the simulator down (the kernel's parent-death signal, sim/lifetime.py)."""
    port = _free_port()
    proc = _serve(port)
    try:
        device = Device(f"socket://127.0.0.1:{port}", Config(), timeout=5.0)
        assert device.counters()["samples"] == 0
        if client == "gone":
            device.close()
        simulator = _children(proc.pid)
        assert simulator, "the simulated board runs in a child process"
        proc.send_signal(signum)
        code = proc.wait(timeout=180)
        assert code == (-signal.SIGKILL if signum == signal.SIGKILL else 0), proc.stderr.read()
        assert _gone(simulator), "the simulator outlived sim-board"
        if signum != signal.SIGKILL:
            assert f"stopped ({signal.Signals(signum).name})" in proc.stderr.read()
        if client == "connected":
            device.close()
    finally:
        _stop(proc)


def test_sim_board_netlist_tells_clients_to_wait_longer(monkeypatch, capsys):
    """The netlist answers about 30 times slower than the RTL, past a client's default 1 s
    reply timeout: ``sim-board --netlist`` says so when it starts serving."""
    import ghostfpga.sim.system.cocotb_sim as cocotb_sim
    from ghostfpga.cli import main

    def serve(config, port, ready, netlist=False):
        ready()
        return None

    monkeypatch.setattr(cocotb_sim, "serve_board", serve)
    with socket.socket() as probe:   # a port free now
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    assert main(["sim-board", "--listen", port, "--netlist"]) == 0
    assert "--timeout 10" in capsys.readouterr().out
    assert main(["sim-board", "--listen", port]) == 0
    assert "--timeout" not in capsys.readouterr().out
