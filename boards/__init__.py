"""Boards and the host link, in three parts around the one wire format (``protocol``, its
payloads defined as data in ``payload``):

- ``gateware``: the link's gateware and the system top (UART, framer, executor, counters, the
  on-board set) that joins it to the learning core;
- ``host``: the driver ``Device``, the ``FakeDevice`` (the golden model behind the protocol)
  and a training session;
- ``bitstream``: the boards, their clocks and tops, Yosys / nextpnr builds, programming."""

from .host.device import Device, DeviceError, DeviceTimeout
from .host.fake import FakeDevice

__all__ = ["Device", "DeviceError", "DeviceTimeout", "FakeDevice"]
