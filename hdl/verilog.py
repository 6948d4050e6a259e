"""Verilog output of the core (the exact netlist the testbenches and Yosys read)."""

from __future__ import annotations

from amaranth.back import verilog

from ghostfpga.config import Config

from .core import GhostCore
from .plan import Plan

__all__ = ["to_verilog", "TOP_NAME"]

TOP_NAME = "ghost_core"


def to_verilog(config: Config, name: str = TOP_NAME) -> str:
    """Verilog of the core for ``config`` with its quantized initial weights."""
    Plan(config)  # validate before building (a bad config raises ConfigError here)
    core = GhostCore(config)
    return verilog.convert(core, name=name, emit_src=False)
