"""How a command stops on a signal: SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``, a service
manager) and SIGHUP (a closed terminal) all raise ``Stopped`` in the main thread, a
``KeyboardInterrupt``, so every command unwinds the same way whatever stopped it: the cocotb
runner's ``subprocess.run`` kills its simulator, ``with`` blocks close clusters and files, and
the CLI prints one line and exits with 128 + the signal's number (130, 143, 129)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

__all__ = ["Stopped", "stop_on_signals", "SIGNALS", "run_stoppable"]

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """The command was asked to stop by signal ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return "Ctrl-C" if self.signum == signal.SIGINT else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum)


def _raise(signum, frame):
    raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals():
    """While inside: each of ``SIGNALS`` raises ``Stopped`` (also when this process inherited
    it ignored or blocked, as children of Python's multiprocessing do); the previous handlers
    and mask come back on the way out. Outside the main thread (a command run by a library's
    worker thread) signals are the main thread's business, and nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in SIGNALS}
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_stoppable(main, name: str) -> int:
    """Run a script's ``main()`` (benchmarks/) as the CLI runs a command: a signal of
    ``SIGNALS`` unwinds it (``subprocess.run`` kills the tool it waits for, so no Yosys,
    nextpnr or simulator outlives a stopped script), ``name`` prints one line, and the exit
    code is 128 + the signal's number."""
    try:
        with stop_on_signals():
            return main()
    except KeyboardInterrupt as exc:
        stop = exc if isinstance(exc, Stopped) else Stopped(signal.SIGINT)
        print(f"\n{name}: stopped ({stop.name})", file=sys.stderr)
        return stop.exit_code
