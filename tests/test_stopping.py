"""Every command stops on Ctrl-C, SIGTERM and SIGHUP with one line and exit code 128 + the
signal's number, and leaves no simulator behind (ghostfpga/stopping.py, sim/lifetime.py)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ghostfpga.sim.cocotb_build import simulator_available

GHOSTFPGA = str(Path(sys.executable).parent / "ghostfpga")


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += kids - found
            found |= kids
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            if ") Z" not in Path(f"/proc/{p}/stat").read_text()[:80]:
                alive.add(p)
        except OSError:
            pass
    return alive


def _stop_halfway(argv, signum, ready, timeout=120.0):
    """Start ``ghostfpga argv``, wait until ``ready(proc)``, send ``signum``; returns the exit
    code, stderr, and the processes it had started that are still alive 20 s later."""
    proc = subprocess.Popen([GHOSTFPGA, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not ready(proc):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the command never got going"
            time.sleep(0.2)
        children = _descendants(proc.pid)
        proc.send_signal(signum)
        code = proc.wait(timeout=60)
        err = proc.stderr.read()
        deadline = time.monotonic() + 20
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        return code, err, _alive(children)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_train_stops_with_one_line_and_the_signals_exit_code(signum):
    start = time.monotonic()
    code, err, left = _stop_halfway(["train", "--dataset", "yinyang", "--epochs", "40"], signum,
                                    lambda proc: time.monotonic() - start > 4)
    assert code == 128 + signum
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    assert err.rstrip().splitlines()[-1] == f"ghostfpga train: stopped ({name})"
    assert "Traceback" not in err
    assert not left


@pytest.mark.skipif(not simulator_available("verilator"), reason="Verilator is not installed")
def test_run_on_the_simulated_board_takes_its_simulator_down_on_sigterm():
    """The simulated board runs in a child process; SIGTERM halfway through training ends it
    with the command, not 40 s later."""
    def simulating(proc):
        return any("ghost_system" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
                   for p in _alive(_descendants(proc.pid)))

    code, err, left = _stop_halfway(["run", "--port", "sim", "--samples", "5000"],
                                    signal.SIGTERM, simulating, timeout=300)
    assert code == 128 + signal.SIGTERM, err
    assert err.rstrip().splitlines()[-1] == "ghostfpga run: stopped (SIGTERM)"
    assert not left, "a process of the command outlived it"


@pytest.mark.skipif(not simulator_available("icarus"), reason="Icarus is not installed")
def test_a_fuzz_campaign_on_a_dask_cluster_stops_with_its_workers():
    """SIGTERM while two Dask workers co-simulate: one line, exit 143, no worker left, no
    traceback from the cluster's shutdown."""
    start = time.monotonic()
    code, err, left = _stop_halfway(["fuzz", "--configs", "6", "--workers", "2",
                                     "--simulator", "icarus", "--samples", "6"],
                                    signal.SIGTERM, lambda proc: time.monotonic() - start > 12)
    assert code == 128 + signal.SIGTERM, err
    assert err.rstrip().splitlines()[-1] == "ghostfpga fuzz: stopped (SIGTERM)"
    assert "Traceback" not in err and "CancelledError" not in err
    assert not left


def test_a_stopped_build_leaves_no_compiler_running(tmp_path):
    """What a stopped command's Verilator build leaves (the runner ends its own child, not
    that child's children) is ended by sim/cocotb_build.py's ``stop_compilers``: every process whose
    command line names the build folder, or that runs in it (the C++ compilers ``make -C``
    starts there name only relative paths)."""
    import subprocess
    import sys
    import time

    from ghostfpga.sim.cocotb_build import stop_compilers

    build_dir = tmp_path / "verilator" / "0123abcd"
    build_dir.mkdir(parents=True)
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                               f"-Mdir={build_dir}"])
    compiler = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                                 "Vtop__pch.h"], cwd=build_dir)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        assert sorted(stop_compilers(build_dir)) == sorted([orphan.pid, compiler.pid])
        assert orphan.wait(timeout=10) != 0 and compiler.wait(timeout=10) != 0
        assert other.poll() is None   # not in the build folder: left alone
    finally:
        for process in (orphan, compiler, other):
            process.kill()
            process.wait(timeout=10)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:   # (it ended meanwhile)
        return ""


def test_a_stopped_benchmark_leaves_no_tool_running(tmp_path):
    """A benchmark script stopped by SIGTERM (``timeout``, a batch system) while it waits for
    a tool (here ``benchmarks/area.py`` in Yosys) exits with 143 and one line, and the tool
    goes with it (ghostfpga/stopping.py ``run_stoppable``)."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "area.py"
    proc = subprocess.Popen([sys.executable, str(script), "--json", str(tmp_path / "a.json"),
                             "--md", str(tmp_path / "a.md")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any("yosys" in _cmdline(p) for p in _alive(_descendants(proc.pid))):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "Yosys never started"
            time.sleep(0.2)
        children = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
        assert proc.stderr.read().rstrip().splitlines()[-1] == "area.py: stopped (SIGTERM)"
        deadline = time.monotonic() + 20
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(children)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
