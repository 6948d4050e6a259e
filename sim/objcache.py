"""A cache of the Verilator run-time library's objects, shared by every Verilator build.

Each design's build compiles the same run-time library (``verilated.cpp``,
``verilated_vpi.cpp``, ``verilated_dpi.cpp``, ``verilated_threads.cpp``: some 11 s of a
build on one core, some 8 minutes of the suite's 44 designs) with the same command. Verilator's
make file runs every compiler command through ``$(OBJCACHE)`` (ccache where it is set);
``build_verilog`` (sim/cocotb_build.py) sets it to this file, run as a script: a command
that compiles a source from the Verilator include folder is keyed by its arguments (the output
path aside), the source's text, the include folder's headers (names, sizes, times) and the
compiler's identity, and its object copied from the cache when the key is there; every other
command (the design's own files, cocotb's ``verilator.cpp``, which includes the design's
header) runs as it is. Entries are written whole (a temporary file renamed), so concurrent
builds share the cache safely. Standard library only: it runs once per compiler command.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["script", "cached_compile"]


def _key(args: list[str], source: Path, library: Path) -> str:
    digest = hashlib.sha256()
    out = args.index("-o") + 1
    digest.update("\0".join(args[:out] + args[out + 1:]).encode())
    digest.update(source.read_bytes())
    for header in sorted(library.glob("*.h")):
        stat = header.stat()
        digest.update(f"{header.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    compiler = shutil.which(args[0])
    if compiler:
        stat = Path(compiler).resolve().stat()
        digest.update(f"{Path(compiler).resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def cached_compile(args: list[str], cache: Path, library: Path) -> int:
    """Run the compiler command ``args``; the object of a source in ``library`` comes from
    (or goes to) ``cache``. Returns the command's exit status."""
    source = Path(args[-1]) if args else None
    cacheable = ("-c" in args and "-o" in args and source is not None
                 and source.suffix == ".cpp" and source.resolve().parent == library.resolve())
    if not cacheable:
        return subprocess.call(args)
    out = Path(args[args.index("-o") + 1])
    entry = cache / f"{source.stem}-{_key(args, source, library)}.o"
    if entry.exists():
        shutil.copyfile(entry, out)
        return 0
    status = subprocess.call(args)
    if status == 0:
        cache.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cache, suffix=".tmp")
        os.close(handle)
        shutil.copyfile(out, temporary)
        os.replace(temporary, entry)
    return status


def script(folder: Path, library: Path) -> Path:
    """The executable that make runs as ``$(OBJCACHE)``: this module with the cache folder
    (``folder / "objects"``) and the library folder filled in, written in ``folder`` (again
    only when its text changes). None of the paths may hold white space (a make variable)."""
    text = (f"#!{sys.executable}\n" + Path(__file__).read_text()
            + f"\n\nif __name__ == '__main__':\n"
              f"    sys.exit(cached_compile(sys.argv[1:], Path({str(folder / 'objects')!r}), "
              f"Path({str(library)!r})))\n")
    path = folder / "objcache"
    if not path.exists() or path.read_text() != text:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temporary, 0o755)
        os.replace(temporary, path)
    return path
