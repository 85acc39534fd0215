"""``python -m chemo_orders.cli``: the same command line as the ``chemo-orders`` script."""

import sys

from . import main

sys.exit(main())
