"""The system top (UART, host link, on-board set, core) in co-simulation, driven by the real
host driver over a simulated serial port: on cocotb (``cocotb_sim``: jobs, the served
simulated board; testbench ``cocotb_tb``; host jobs ``jobs``; the on-board set's memory
testbench ``store_tb``), on Amaranth's simulator (``amaranth_sim``), and a board build's own
netlist (``board_netlist``)."""
