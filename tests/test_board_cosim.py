"""The whole system (UART pins in, UART pins out) in co-simulation, driven by the real host
driver: training and inference equal the golden model in every prediction and every weight, and
a storm of malformed frames leaves no trace but the counters."""

from pathlib import Path

import pytest

from ghostfpga.config import Config, Hardware, Numerics
from ghostfpga.golden.datasets import yinyang
from ghostfpga.golden.fixed import FixedModel
from ghostfpga.hardware import run_on_device
from ghostfpga.hdl import Plan
from ghostfpga.sim.system.cocotb_sim import run_on_board
from ghostfpga.sim.cocotb_build import simulator_available

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_driver_trains_the_simulated_board_at_the_real_divisor():
    config = Config()   # 24 MHz, 3 Mbaud: 8 clocks per bit, as on the board
    assert config.link.divisor == 8
    run = run_on_device(config, yinyang(), "sim", samples=150, epochs=2, test_samples=60,
                        timeout=0.01)
    assert run.mismatches == 0, run.first_mismatch
    assert run.counters["samples"] == 2 * 150 + 60
    assert run.rejected_frames == 0 and run.resent_frames == 0


def test_the_simulated_board_trains_from_its_on_board_set():
    """The iCEBreaker config (6 lanes, one per row) at its real clock and divisor: upload a
    Yin-Yang batch, train three epochs from the store, then check every epoch's count, every
    test prediction and every weight against the golden model in the stored order."""
    config = Config.load(EXAMPLES / "icebreaker_yinyang.toml")
    assert config.link.store_samples >= 120
    run = run_on_device(config, yinyang(), "sim", samples=120, epochs=3, test_samples=40,
                        timeout=0.01, on_board=True)
    assert run.mismatches == 0, run.first_mismatch
    assert run.counters["samples"] == 3 * 120 + 40
    assert run.rejected_frames == 0 and run.resent_frames == 0
    # the rate from the core's busy cycles; the simulated time between the first EPOCH
    # request and the last reply adds the link's latency and the gaps between samples
    assert 3 * 120 * Plan(config).ideal_cycles()["train"] < run.device_cycles
    assert run.samples_per_second == 3 * 120 * config.link.clock_mhz * 1e6 / run.device_cycles
    assert 0.75 * run.samples_per_second < run.host_samples_per_second \
        < run.samples_per_second


def test_driver_trains_a_learned_ghost_board_in_verilator():
    """Normalized learned ghosts: the driver streams their warm-up (every rate 0) before
    training; the golden model does the same, and every prediction and weight agrees."""
    config = Config(layers=(4, 10, 3), variant="learned", ghost_warmup=20,
                    hardware=Hardware(lanes=3))
    run = run_on_device(config, yinyang(), "sim", samples=80, epochs=1, test_samples=30,
                        timeout=0.01, divisor=4)
    assert run.mismatches == 0, run.first_mismatch
    assert run.warmup_samples == 20


@pytest.mark.skipif(not simulator_available("icarus"),
                    reason="Icarus Verilog (iverilog) is not installed")
def test_driver_trains_the_simulated_board_in_icarus():
    config = Config(layers=(4, 6, 3), numerics=Numerics(weight_bits=8, weight_frac=5),
                    hardware=Hardware(lanes=2))
    run = run_on_device(config, yinyang(), "sim", samples=16, epochs=1, test_samples=8,
                        timeout=0.01, simulator="icarus", divisor=4)
    assert run.mismatches == 0, run.first_mismatch


def test_a_thousand_bad_frames_leave_no_trace_but_the_counters():
    config = Config(layers=(4, 10, 3), hardware=Hardware(lanes=4))
    data = yinyang()
    n = 104
    run = run_on_board(config, "ghostfpga.sim.system.jobs:fault_job",
                       {"config": config.to_toml(), "x_train": data.x_train[:n].tolist(),
                        "y_train": data.y_train[:n].tolist(), "faults": 1000, "seed": 1,
                        "timeout": 0.01}, divisor=4)
    assert run["injected"] >= 1000, run
    # every valid command was answered as the golden model answers: the weights carry no
    # trace of any rejected frame
    model = FixedModel(config)
    etas = model.etas(config.lr_at(0))
    x_q = model.quantize_input(data.x_train[:n])
    want = [model.step(x_q[i], int(data.y_train[i]), True, etas)[0] for i in range(n)]
    assert run["predictions"] == want
    assert run["images"] == Plan(config).lane_images(model.params)
    assert run["resent_frames"] == 0
    # the refused-but-framed frames got their statuses, and the counters account for all
    assert set(run["statuses"]) == {"unknown_command", "size", "duplicate", "sequence"}
    counters = {k: v for k, v in run["counters"].items()
                if k not in ("cycles", "samples", "rejected_frames") and v}
    assert counters == run["expected_counters"]
    assert run["counters"]["rejected_frames"] == run["injected"]
