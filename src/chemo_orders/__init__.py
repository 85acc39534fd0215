"""chemo-orders: chemotherapy order sets from cited regimen files.

Decision support: requires independent verification by a pharmacist.
"""

__version__ = "0.2.0"

DISCLAIMER = "Decision support: requires independent verification by a pharmacist."
