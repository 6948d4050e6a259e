"""``python -m ghostfpga``: the ``ghostfpga`` command."""

import sys

from ghostfpga.cli import main

sys.exit(main())
