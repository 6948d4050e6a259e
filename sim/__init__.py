"""Co-simulation of the generated hardware against the fixed-point golden model, as a grid of
what is simulated by what:

| | cocotb (Verilator, Icarus) | Amaranth's simulator |
|---|---|---|
| ``core``: the learning core alone | ``core.cocotb_sim`` (testbench ``core.cocotb_tb``) | ``core.amaranth_sim`` |
| ``system``: the system top behind its UART | ``system.cocotb_sim`` (testbench ``system.cocotb_tb``, host jobs ``system.jobs``) | ``system.amaranth_sim`` |

The core is driven through one host-side driver (``core.driver``) speaking its ports'
payloads (``core.protocol``); the system top by the real host driver over a simulated serial
port. Shared: building under cocotb (``cocotb_build``), synthesized netlists with the device's
cell models (``netlist``; a board build's own in ``system.board_netlist``), the configs and
streams the tests share (``configs``), the characterization harness (``characterize``),
formal proofs (``formal``) and the lifetime of simulator processes (``lifetime``)."""
