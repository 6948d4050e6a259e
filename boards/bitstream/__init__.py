"""From a config to a programmed board: the boards (``catalog``), their clocks (``clocks``:
PLL settings and the clock-and-reset block) and top (``top``), Yosys / nextpnr runs
(``tools``, ``synth`` for the bare core, ``build`` for a board's bitstream), and programming
(``program``)."""
