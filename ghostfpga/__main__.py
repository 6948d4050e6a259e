"""``python -m ghostfpga``: the ``ghostfpga`` command."""

import sys

from ghostfpga.cli import main

if __name__ == "__main__":
    sys.exit(main())
