"""Co-simulation of the generated hardware against the fixed-point golden model.

The core (``cosim``: cocotb on Verilator or Icarus, ``amaranth_sim``: Amaranth's simulator),
driven through one host-side driver (``driver``, testbench ``tb_core``); the system top behind
its UART (``board_sim``, testbench ``tb_system``, host jobs ``board_jobs``); the configs and
streams the tests share (``configs``, ``protocol``), the characterization harness
(``characterize``), formal proofs (``formal``), and the lifetime of simulator processes
(``lifetime``)."""
