"""Does a config's memory fit its device? Checked before any Verilog is generated.

The core's lane weight memories (P lanes x ``Plan.depth`` words x their word: ``weight_bits``,
at least 9 on the iCE40, hdl/memory.py) are counted exactly, in the device's block-RAM shapes;
the neuron-state memories and the logic are left to synthesis, so passing this check is
necessary, not sufficient. A config that fails it would
otherwise write megabytes of memory initializers for a design no tool can place.
"""

from __future__ import annotations

from dataclasses import dataclass

from ghostfpga.config import Config, ConfigError
from ghostfpga.devices import DEVICES

__all__ = ["MemoryFit", "memory_fit", "check_memory_fit", "check_store_fit", "link_brams"]


@dataclass(frozen=True)
class MemoryFit:
    device: str
    weight_words: int        # per lane
    word_bits: int           # a weight memory's word (hdl/memory.py: weight_ram_bits)
    weight_bits: int         # bits of all lanes' weight memories
    weight_brams: int        # block RAMs they take, in the device's best shapes
    link_brams: int          # the host link's frame buffers, counter bank and (without SPRAM)
                             # on-board training set (0: bare core)
    brams_available: int
    lutram_bits: int         # distributed RAM the tools may use instead of block RAM

    @property
    def fits(self) -> bool:
        if self.lutram_bits:    # small memories may go to distributed RAM: compare bits
            dev = DEVICES[self.device]
            room = (self.brams_available - self.link_brams) * dev.bram_bits + self.lutram_bits
            return self.weight_bits <= room
        return self.weight_brams + self.link_brams <= self.brams_available


def link_brams(config: Config) -> int:
    """Block RAMs of the host link: the received and the reply frame slots, the counter bank,
    and the on-board training set on a device without SPRAM."""
    from ghostfpga.boards.protocol import LinkLayout

    lay = LinkLayout(config)
    dev = DEVICES[config.hardware.device]
    store = dev.brams_for(lay.store_width, lay.store_words) \
        if lay.store_words and not dev.spram_words else 0
    return 2 * dev.brams_for(8, lay.frames * lay.slot_bytes) + 1 + store


def check_store_fit(config: Config) -> None:
    """On a device with SPRAM, the on-board training set must fit it (ConfigError)."""
    from ghostfpga.boards.protocol import LinkLayout

    lay, dev = LinkLayout(config), DEVICES[config.hardware.device]
    if dev.spram_words and lay.store_words > dev.spram_words:
        raise ConfigError("link.store_samples", lay.store_samples,
                          f"needs {lay.store_words} words of {lay.store_stride} per sample; "
                          f"the {dev.name}'s SPRAM holds {dev.spram_words} (at most "
                          f"{dev.spram_words // lay.store_stride} samples)")


def memory_fit(config: Config, link: bool = False) -> MemoryFit:
    from ghostfpga.hdl.plan import Plan

    dev = DEVICES[config.hardware.device]
    plan = Plan(config)
    from ghostfpga.hdl.memory import weight_ram_banks, weight_ram_bits

    P, bits = config.hardware.lanes, weight_ram_bits(dev.family, config.numerics.weight_bits)
    lane_brams = sum(dev.brams_for(bits, words)   # per bank (hdl/memory.py)
                     for words in weight_ram_banks(dev.family, plan.depth))
    return MemoryFit(dev.name, plan.depth, bits, P * plan.depth * bits,
                     P * lane_brams, link_brams(config) if link else 0,
                     dev.brams, dev.lutram_bits)


def check_memory_fit(config: Config, link: bool = False) -> MemoryFit:
    """The fit; raises ``ConfigError`` (naming the layers) when the memories cannot fit."""
    if link:
        check_store_fit(config)
    fit = memory_fit(config, link)
    if not fit.fits:
        P = config.hardware.lanes
        what = f"{P} lanes x {fit.weight_words} words x {fit.word_bits} bits"
        if fit.lutram_bits:
            need = f"{fit.weight_bits / 8192:.0f} KiB of weight memory ({what})"
        else:
            need = f"{fit.weight_brams} block RAMs for the weight memories alone ({what})"
        link_part = f", {fit.link_brams} of them taken by the host link" if link else ""
        raise ConfigError("layers", config.layers,
                          f"needs {need}; the {fit.device} has {fit.brams_available} block "
                          f"RAMs{link_part}")
    return fit
