"""The README's "Commands" section says what the CLI takes: every command it lists exists, every
option of its synopsis is one the command accepts, and every option the command accepts is in
its synopsis; and each command is run, in a reduced form, by a test of this suite."""

import re
from pathlib import Path

import pytest

from ghostfpga.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def _synopses() -> dict[str, str]:
    """command -> its synopsis (the indented lines of the Commands section)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Commands", 1)[1].split("\n\n", 2)[1]
    found, current = {}, None
    for line in section.splitlines():
        match = re.match(r"\s+ghostfpga ([a-z-]+)(.*)", line)
        if match:
            current = match.group(1)
            found[current] = match.group(2)
        elif current and line.startswith("  "):
            found[current] += " " + line.strip()
    return found


def _parser_options() -> dict[str, set[str]]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {name: {o for action in parser._actions for o in action.option_strings
                   if o.startswith("--") and o != "--help"}
            for name, parser in sub.choices.items()}


SYNOPSES = _synopses()
OPTIONS = _parser_options()


def test_the_readme_lists_every_command():
    assert set(SYNOPSES) == set(OPTIONS)


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_the_synopsis_and_the_parser_agree(command):
    shown = set(re.findall(r"--[a-z][a-z-]*", SYNOPSES[command]))
    # -o/--output: the synopsis shows the short form
    accepted = OPTIONS[command] - ({"--output"} if "-o OUT" in SYNOPSES[command] else set())
    assert shown - OPTIONS[command] == set(), "in the README, not accepted"
    assert accepted - shown == set(), "accepted, not in the README"


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_every_command_is_run_by_a_test(command):
    """Some test file runs the command to a successful end: ``main([command, ...]) == 0``
    (the argument list may be built first, as ``argv = [command, ...]``) or ``ghostfpga
    command`` as a process (``[GHOSTFPGA, command, ...]``)."""
    argv = re.compile(rf"""\[\s*(GHOSTFPGA,\s*)?"{command}",""")
    runners = [path.name for path in TESTS.glob("test_*.py")
               if path.name != Path(__file__).name and argv.search(path.read_text())
               and re.search(r"main\(.*\) == 0|subprocess", path.read_text())]
    assert runners, f"no test runs ghostfpga {command}"


def test_the_json_keys_the_readme_names_are_the_records_fields():
    """Where the README gives a result's JSON keys with its record (``JSON keys
    (`module.Record`): `a, b, ...```), they are exactly that record's fields."""
    import dataclasses
    import importlib

    text = " ".join((ROOT / "README.md").read_text().split())
    found = re.findall(r"JSON keys \(`([\w.]+)`\): `([^`]+)`", text)
    assert found, "the README names no record's JSON keys"
    for path, keys in found:
        module, name = path.rsplit(".", 1)
        record = getattr(importlib.import_module(module), name)
        fields = {f.name for f in dataclasses.fields(record)}
        assert {k.strip() for k in keys.split(",")} == fields, path
