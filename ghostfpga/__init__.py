"""ghostfpga: on-chip learning hardware with ghost units, verified against golden models.

The face package: the one config type, the ``ghostfpga`` command, reports and plots.
Subpackages: ``ghostfpga.golden`` (float and fixed-point golden models, data sets),
``ghostfpga.hdl`` (Amaranth generator), ``ghostfpga.sim`` (co-simulation),
``ghostfpga.boards`` (board tops and host link).
"""

from .config import Config, ConfigError

__all__ = ["Config", "ConfigError"]
__version__ = "0.1.0"
