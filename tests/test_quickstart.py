"""The README's quick start works as written: each command it gives is run here in a reduced
form (make's dry run for the long targets, whose commands other tests run: ``demo`` in
tests/test_cli.py, the suite itself), and the activated venv gives the ``ghostfpga`` command in
a fresh shell."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ghostfpga import __version__

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def _quick_start() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def _commands() -> list[str]:
    """Every command line of the quick start: its code lines and its inline commands."""
    section = _quick_start()
    lines = [m.strip() for m in re.findall(r"^    (\S.*)$", section, re.M)]
    inline = [c for c in re.findall(r"`([^`]*)`", section)
              if re.match(r"(make|ghostfpga|\.) \S", c)]
    return list(dict.fromkeys(lines + inline))


def test_the_quick_start_gives_its_commands():
    assert {"make demo", "make test", "make install", ". .venv/bin/activate",
            "ghostfpga --version", "make test-fast"} <= set(_commands())


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
@pytest.mark.parametrize("target", ["demo", "test", "test-fast", "install"])
def test_each_make_target_of_the_quick_start_exists_and_runs_what_it_says(target):
    assert f"make {target}" in _commands()
    dry = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    # every target installs into .venv first (the stamp), without root
    assert "-m venv .venv" in dry.stdout and "pip install" in dry.stdout
    expect = {"demo": ".venv/bin/ghostfpga demo", "test": "-m pytest -n auto",
              "test-fast": "-m pytest -n auto -m", "install": "pip install --quiet -e ."}
    assert expect[target] in dry.stdout


@pytest.mark.skipif(not (VENV / "bin" / "activate").exists(),
                    reason="no .venv (the suite runs outside make's venv)")
def test_a_fresh_shell_reaches_the_command_after_activating_the_venv():
    """``. .venv/bin/activate`` then ``ghostfpga --version`` in a shell that has nothing of
    this process's environment; and without the activation the command is not found (so the
    quick start has to say it)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    activated = subprocess.run(["bash", "-c", ". .venv/bin/activate && ghostfpga --version"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert activated.returncode == 0, activated.stderr
    assert activated.stdout.strip() == f"ghostfpga {__version__}"
    bare = subprocess.run(["bash", "-c", "command -v ghostfpga"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert bare.returncode != 0


def test_the_version_is_the_one_installed():
    out = subprocess.run([sys.executable, "-m", "ghostfpga", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"ghostfpga {__version__}"
