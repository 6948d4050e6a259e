"""The package as users get it: a wheel built from the tree, installed alone (no source tree
beside it, no editable finder), imports every module of every subpackage and runs
``ghostfpga sim``. CI installs editable, which cannot see a package the wheel leaves out."""

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from ghostfpga.sim.cocotb_build import simulator_available

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"ghostfpga": "ghostfpga", "golden": "ghostfpga.golden", "hdl": "ghostfpga.hdl",
           "sim": "ghostfpga.sim", "boards": "ghostfpga.boards"}


def _modules() -> list[str]:
    """Every module of the source tree, by its installed name."""
    names = []
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join((package, *parts)))
    return names


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv holding only the wheel; the dependencies come from this venv's
    site-packages, added as a plain path (so its editable ghostfpga finder is not run)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # from a copy of the files git knows (setuptools would reuse a stale build/lib)
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (tmp / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp / "src" / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp / "dist"), str(tmp / "src")],
                   check=True, timeout=300, capture_output=True)
    wheel = next((tmp / "dist").glob("ghostfpga-*.whl"))
    venv.create(tmp / "venv", with_pip=False)
    python = tmp / "venv" / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    here = [p for p in sys.path if p.endswith("site-packages")][0]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(site), str(wheel)], check=True, timeout=300,
                   capture_output=True)
    (site / "zz_dependencies.pth").write_text(here + "\n")
    return python, tmp


def test_the_wheel_imports_every_module(installed):
    modules = _modules()
    assert "ghostfpga.hdl.passes.learn" in modules and len(modules) > 60
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    if name.endswith(('cocotb_tb', 'store_tb')):\n"
            "        continue   # cocotb testbenches: imported inside the simulator\n"
            "    module = importlib.import_module(name)\n"
            "    assert 'site-packages' in module.__file__, module.__file__\n"
            "print('ok')\n")
    assert _python(installed, code) == "ok"


def test_the_wheel_holds_the_boards_default_configs(installed):
    """The boards' default configs come with the wheel (ghostfpga.examples), not from a
    source tree beside it."""
    code = ("from ghostfpga.boards.bitstream.catalog import BOARDS, EXAMPLES\n"
            "assert 'site-packages' in str(EXAMPLES), EXAMPLES\n"
            "for board in BOARDS.values():\n"
            "    board.config()\n"
            "print(len(list(EXAMPLES.glob('*.toml'))))\n")
    assert int(_python(installed, code)) == len(list((ROOT / "examples").glob("*.toml")))


def test_the_wheel_holds_the_ecp5_cell_models(installed):
    """sim/ecp5_cells.v comes with the wheel (package data of ghostfpga.sim)."""
    code = ("from ghostfpga.sim.netlist import cell_models\n"
            "print(cell_models('ecp5', 'icarus').count('module DP16KD'))\n")
    assert _python(installed, code) == "1"


def _python(installed, code: str) -> str:
    """What ``code`` prints in the wheel's venv (its stdout, stripped); fails on an error."""
    python, tmp = installed
    run = subprocess.run([str(python), "-c", code], cwd=tmp, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.strip()


def test_the_wheel_runs_ghostfpga_sim(installed):
    python, tmp = installed
    simulator = "icarus" if simulator_available("icarus") else "verilator"
    run = subprocess.run([str(python), "-m", "ghostfpga.cli", "sim", "--simulator", simulator,
                          "--samples", "4", "--test-samples", "4"], cwd=tmp,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert " 0 " in run.stdout.splitlines()[-1]   # no mismatches
