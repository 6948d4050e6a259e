"""The Verilator run-time library's object cache (sim/objcache.py), with a stand-in compiler
that counts its runs: a library object is compiled once and then copied, everything else is
compiled every time, and a change of flags, source or headers misses."""

import os
import stat
import subprocess
import sys

from ghostfpga.sim import objcache


def _compiler(tmp_path):
    """A 'compiler' that writes its arguments to the -o file and logs each run."""
    path = tmp_path / "fakecc"
    path.write_text(f"#!{sys.executable}\nimport sys\n"
                    "args = sys.argv[1:]\n"
                    "open(args[args.index('-o') + 1], 'w').write(' '.join(args))\n"
                    f"open({str(tmp_path / 'runs')!r}, 'a').write(args[-1] + '\\n')\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _runs(tmp_path):
    runs = tmp_path / "runs"
    return runs.read_text().split() if runs.exists() else []


def _setup(tmp_path):
    library = tmp_path / "include"
    library.mkdir()
    (library / "verilated.cpp").write_text("int a;\n")
    (library / "verilated.h").write_text("// header\n")
    build = tmp_path / "build"
    build.mkdir()
    (build / "Vtop.cpp").write_text("int b;\n")
    return library, build


def test_a_library_object_is_compiled_once_and_copied_after(tmp_path):
    library, build = _setup(tmp_path)
    cc, cache = _compiler(tmp_path), tmp_path / "cache"
    command = [cc, "-Os", "-c", "-o", str(build / "verilated.o"), str(library / "verilated.cpp")]
    assert objcache.cached_compile(command, cache, library) == 0
    first = (build / "verilated.o").read_text()
    (build / "verilated.o").unlink()
    assert objcache.cached_compile(command, cache, library) == 0
    assert (build / "verilated.o").read_text() == first
    assert _runs(tmp_path) == [str(library / "verilated.cpp")]   # the second one copied
    # another output path is the same object: a hit
    other = command[:4] + [str(tmp_path / "elsewhere.o")] + command[5:]
    assert objcache.cached_compile(other, cache, library) == 0
    assert len(_runs(tmp_path)) == 1


def test_other_flags_another_source_text_or_headers_miss(tmp_path):
    library, build = _setup(tmp_path)
    cc, cache = _compiler(tmp_path), tmp_path / "cache"
    out, source = str(build / "verilated.o"), str(library / "verilated.cpp")
    objcache.cached_compile([cc, "-Os", "-c", "-o", out, source], cache, library)
    objcache.cached_compile([cc, "-O0", "-c", "-o", out, source], cache, library)
    assert len(_runs(tmp_path)) == 2
    (library / "verilated.cpp").write_text("int a2;\n")
    objcache.cached_compile([cc, "-O0", "-c", "-o", out, source], cache, library)
    assert len(_runs(tmp_path)) == 3
    header = library / "verilated.h"
    header.write_text("// another header\n")
    os.utime(header, ns=(1, 1))
    objcache.cached_compile([cc, "-O0", "-c", "-o", out, source], cache, library)
    assert len(_runs(tmp_path)) == 4


def test_the_design_s_own_files_and_failures_are_never_cached(tmp_path):
    library, build = _setup(tmp_path)
    cc, cache = _compiler(tmp_path), tmp_path / "cache"
    command = [cc, "-O1", "-c", "-o", str(build / "Vtop.o"), str(build / "Vtop.cpp")]
    for _ in range(2):
        assert objcache.cached_compile(command, cache, library) == 0
    assert len(_runs(tmp_path)) == 2 and not cache.exists()
    failing = ["false", "-c", "-o", str(build / "verilated.o"), str(library / "verilated.cpp")]
    assert objcache.cached_compile(failing, cache, library) != 0
    assert not cache.exists() or not list(cache.iterdir())


def test_the_script_make_runs_passes_the_command_through(tmp_path):
    """The generated executable (what ``OBJCACHE`` names) runs as make would run it."""
    library, build = _setup(tmp_path)
    script = objcache.script(tmp_path / "runtime", library)
    assert objcache.script(tmp_path / "runtime", library) == script   # (written once)
    cc = _compiler(tmp_path)
    command = [str(script), cc, "-Os", "-c", "-o", "verilated.o", str(library / "verilated.cpp")]
    for _ in range(2):
        subprocess.run(command, cwd=build, check=True, timeout=60)
    assert len(_runs(tmp_path)) == 1
    assert list((tmp_path / "runtime" / "objects").glob("verilated-*.o"))


def test_a_verilator_build_in_a_path_with_a_space_is_refused_by_name(tmp_path):
    """Verilator's make file cannot build there: the build says so before writing anything,
    naming the folder, instead of make's "No rule to make target" deep in its log."""
    import pytest

    from ghostfpga.config import Config
    from ghostfpga.sim.cocotb_build import build_verilog, simulator_available
    if not simulator_available("verilator"):
        pytest.skip("Verilator is not installed")
    root = tmp_path / "my builds"
    with pytest.raises(RuntimeError, match="white space: .*my builds"):
        build_verilog("module top; endmodule\n", "top", Config(), "verilator", root)
    assert not root.exists()
