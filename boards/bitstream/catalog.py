"""The boards ghostfpga builds for: their FPGA, oscillator, pins, USB serial port, programmer
and default config. One entry per board; everything board-specific reads it."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ghostfpga.config import Config, ConfigError
from ghostfpga.devices import DEVICES

from .clocks import ecp5_pll, ice40_pll

__all__ = ["Board", "BOARDS", "board_named", "EXAMPLES"]



def _examples() -> Path:
    """The example configs: the data package ``ghostfpga.examples`` as installed (a wheel),
    else the source tree's examples/ (an editable install made before it was one)."""
    spec = importlib.util.find_spec("ghostfpga.examples")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "examples"


EXAMPLES = _examples()


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    device: str                        # a key of ghostfpga.devices.DEVICES
    platform: str                      # "module:class" of the amaranth-boards platform
    oscillator: str                    # its clock resource
    oscillator_mhz: float
    leds: dict[str, tuple[str, int]]   # status -> LED resource (name, number)
    usb: tuple[int, int, int | None]   # VID, PID, USB interface of the UART (None: any)
    loader: tuple[str, ...]            # openFPGALoader arguments before the bitstream
    bitstream_suffix: str
    default_config: str                # a file in examples/
    extra_resources: str | None = None   # a platform attribute listing resources to add
    # nextpnr's options for this board's builds beyond the device's (its placer)
    nextpnr_args: tuple[str, ...] = ()

    def make_platform(self):
        module, cls = self.platform.split(":")
        platform = getattr(importlib.import_module(module), cls)()
        if self.extra_resources:
            platform.add_resources(getattr(platform, self.extra_resources))
        return platform

    @property
    def fpga(self):
        return DEVICES[self.device]

    def pll(self, clock_mhz: float) -> dict[str, int] | None:
        make = ice40_pll if self.fpga.family == "ice40" else ecp5_pll
        return make(self.oscillator_mhz, clock_mhz)

    def config(self) -> Config:
        return Config.load(EXAMPLES / self.default_config)

    def check(self, config: Config) -> None:
        """Refuse a config this board cannot build: another device, or a clock its PLL cannot
        make exactly (the UART divisor is computed from it)."""
        if config.hardware.device != self.device:
            raise ConfigError("hardware.device", config.hardware.device,
                              f"must be {self.device!r} for the {self.name} board")
        if self.pll(config.link.clock_mhz) is None:
            near = sorted(sorted(self.exact_clocks(config),
                                 key=lambda f: abs(f - config.link.clock_mhz))[:5])
            raise ConfigError("link.clock_mhz", config.link.clock_mhz,
                              f"cannot be made exactly by the {self.name}'s PLL from its "
                              f"{self.oscillator_mhz:g} MHz oscillator (for example "
                              f"{', '.join(f'{f:g}' for f in near)} MHz "
                              f"give an exact UART divisor at {config.link.baud} baud)")

    def exact_clocks(self, config: Config, most: float = 80.0) -> list[float]:
        """Clocks the PLL makes exactly that are whole multiples of the baud rate."""
        baud = config.link.baud / 1e6
        found = []
        for divisor in range(5, int(most / baud) + 1):
            f = divisor * baud
            if self.pll(f) is not None:
                found.append(round(f, 6))
        return found


BOARDS: dict[str, Board] = {
    "icebreaker": Board(
        "icebreaker", "iCEBreaker (iCE40 UP5K)", "up5k",
        "amaranth_boards.icebreaker:ICEBreakerPlatform", "clk12", 12.0,
        leds={"busy": ("led_g", 0), "link_error": ("led_r", 0), "learning": ("led_g", 1)},
        usb=(0x0403, 0x6010, 1), loader=("-b", "ice40_generic"), bitstream_suffix=".bin",
        default_config="icebreaker_yinyang.toml", extra_resources="break_off_pmod"),
    "ulx3s-85f": Board(
        "ulx3s-85f", "ULX3S (ECP5-85F)", "ecp5-85f",
        "amaranth_boards.ulx3s:ULX3S_85F_Platform", "clk25", 25.0,
        leds={"busy": ("led", 0), "learning": ("led", 1), "link_error": ("led", 7)},
        usb=(0x0403, 0x6015, None), loader=("-b", "ulx3s"), bitstream_suffix=".bit",
        default_config="ulx3s_digits.toml",
        # the analytic placer (HeAP) packs the 32 lanes' shared controls into tiles whose
        # inputs the router cannot all reach: ulx3s_digits did not route at any seed tried;
        # the electrostatic placer spreads them (docs/boards.md, "Placement")
        nextpnr_args=("--placer", "static")),
}


def board_named(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r} (known: {', '.join(BOARDS)})") from None
