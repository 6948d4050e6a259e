"""The Amaranth 0.5 generator of ghost-unit learning cores.

``GhostCore(config)`` is a ``wiring.Component``; ``to_verilog(config)`` returns its Verilog.
"""

from .core import GhostCore, result_layout, sample_layout
from .plan import Plan
from .verilog import to_verilog

__all__ = ["GhostCore", "Plan", "sample_layout", "result_layout", "to_verilog"]
