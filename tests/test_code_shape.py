"""The generator stays legible: no function in hdl/ longer than 80 lines, no file longer than
400 (docs/hardware.md, "Components")."""

import ast
from pathlib import Path

HDL = Path(__file__).resolve().parent.parent / "hdl"


def _functions():
    for path in sorted(HDL.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node


def test_no_function_in_hdl_is_longer_than_80_lines():
    long = {f"{p.relative_to(HDL)}:{f.name}": f.end_lineno - f.lineno + 1
            for p, f in _functions() if f.end_lineno - f.lineno + 1 > 80}
    assert not long, long


def test_no_file_in_hdl_is_longer_than_400_lines():
    long = {str(p.relative_to(HDL)): n for p in HDL.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
