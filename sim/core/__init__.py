"""The learning core alone in co-simulation: its ports' payloads (``protocol``), the driver
that streams samples and rates through them and checks every result (``driver``), on cocotb
(``cocotb_sim``, testbench ``cocotb_tb``) or Amaranth's simulator (``amaranth_sim``)."""
