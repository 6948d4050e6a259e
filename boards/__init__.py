"""Boards and the host link: the UART link gateware and the system top, the wire protocol,
the host driver ``Device`` and a ``FakeDevice`` (the golden model behind the protocol), and
synthesis with Yosys/nextpnr."""

from .device import Device, DeviceError, DeviceTimeout
from .fake import FakeDevice

__all__ = ["Device", "DeviceError", "DeviceTimeout", "FakeDevice"]
