"""Fixtures; plain helpers live in helpers.py (importable as `helpers`)."""

from helpers import write_yaml  # noqa: F401  (a fixture)
