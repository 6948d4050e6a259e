"""The host link's gateware and the system top (Amaranth): the UART, the framer and sender
(``framing``), the command executor (``executor`` with its ``commands`` and the on-board set's
``stored`` states), the counters and identity, the on-board training set's memory (``store``),
and the system top that joins them to the learning core (``system``)."""
