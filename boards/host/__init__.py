"""The host side of the link: the driver ``Device`` over any pyserial-like port (``device``),
the reference executor and ``FakeDevice`` (the golden model behind the protocol, ``fake``), and
one training session through the driver (``session``)."""
