"""Fixtures; plain helpers live in helpers.py (importable as `helpers`)."""

from helpers import write_yaml  # noqa: F401  (a fixture)
from record_fixtures import audit_key, postgres_server, record, record_url  # noqa: F401  (fixtures)
from web_fixtures import browser, desktop, page, page_without_js, phone, server  # noqa: F401  (fixtures)
