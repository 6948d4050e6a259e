"""A board's state is part of the contract: every ``ghostfpga run`` starts from a known state
(reset, the config's initial weights) or, with ``--resume``, from the weights the board holds,
read back first. The README's sequence of runs on one board, in any order of streamed,
on-board and resumed, matches the golden model every time (the simulated board keeps its
state between clients, as a real one does)."""

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ghostfpga.cli import main
from ghostfpga.sim.cocotb_build import simulator_available

GHOSTFPGA = str(Path(sys.executable).parent / "ghostfpga")
CONFIG = """layers = [4, 8, 3]
[hardware]
lanes = 2
[link]
store_samples = 40
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """``ghostfpga sim-board`` serving the small config; stopped (and checked) at the end."""
    tmp = tmp_path_factory.mktemp("board")
    config = tmp / "board.toml"
    config.write_text(CONFIG)
    port = _free_port()
    proc = subprocess.Popen([GHOSTFPGA, "sim-board", "--listen", str(port), "--config",
                             str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    if f"socket://127.0.0.1:{port}" not in line:
        proc.kill()
        raise AssertionError(proc.stderr.read())
    try:
        yield f"socket://127.0.0.1:{port}", config, tmp
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.skipif(not simulator_available("verilator"), reason="Verilator is not installed")
def test_runs_in_any_order_on_one_board_match_the_golden_model(board, capsys):
    url, config, tmp = board
    common = ["run", "--port", url, "--config", str(config), "--samples", "24",
              "--test-samples", "8", "--timeout", "5"]
    sequence = [("streamed", []), ("streamed again", []),
                ("on board", ["--on-board", "--epochs", "2"]),
                ("resumed", ["--resume"]), ("streamed after all", [])]
    for n, (what, extra) in enumerate(sequence):
        out = tmp / f"run{n}.json"
        code = main(common + extra + ["--json", str(out)])
        err = capsys.readouterr().err
        assert code == 0, f"{what}: {err[-2000:]}"
        run = json.loads(out.read_text())
        assert run["mismatches"] == 0, f"{what}: {run['first_mismatch']}"
        assert run.get("resumed", False) == ("--resume" in extra), what
