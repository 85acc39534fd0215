"""Fixtures; plain helpers live in helpers.py (importable as `helpers`)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import write_yaml  # noqa: F401  (a fixture)
from record_fixtures import audit_key, postgres_server, record, record_url  # noqa: F401  (fixtures)
from web_fixtures import browser, desktop, page, page_without_js, phone, server  # noqa: F401  (fixtures)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n``), a short temporary root: workers otherwise nest their files
    one level deeper (``…/popen-gw0/test_…``), and messages that quote a path cut a long one
    short (``(got '…/jobs.c…')``), which tests that look for the file name would misread."""
    if config.getoption("numprocesses", None) and not config.option.basetemp and not hasattr(config, "workerinput"):
        config.option.basetemp = Path(tempfile.gettempdir()) / f"cot{os.getpid()}"


def pytest_unconfigure(config: pytest.Config) -> None:
    basetemp = config.option.basetemp
    if basetemp and Path(basetemp).name.startswith("cot") and not hasattr(config, "workerinput"):
        shutil.rmtree(basetemp, ignore_errors=True)
