"""``orders fhir ORDER_ID`` (design §11.7): a verified or released order from the record as a
FHIR Bundle whose doses are the stored calc record's; a prepared order is refused (exit 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from record_fixtures import STAFF, me, prepare_request

from chemo_orders.cli.record import orders_fhir
from chemo_orders.record.db import Database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """One SQLite record (the record's own tests cover PostgreSQL)."""
    from chemo_orders.record.schema import open_database
    from chemo_orders.record.users import NewUser, add_user

    url = f"sqlite:///{tmp_path / 'record.sqlite3'}"
    opened = open_database(url)
    with opened.write() as session:
        for name, role in STAFF.items():
            add_user(session, NewUser(name, role))
    yield url, opened
    opened.close()


def test_only_a_verified_or_released_order_is_exported(
    database: tuple[str, Database], capsys: pytest.CaptureFixture[str]
) -> None:
    from chemo_orders.record.orders import VerifyRequest, prepare, release, verify

    url, record = database
    order = prepare(record, prepare_request())
    assert orders_fhir(url, order.order_id, "r5") == 3
    assert "not verified" in capsys.readouterr().err

    verify(record, VerifyRequest(order.order_id, me("phil")))
    assert orders_fhir(url, order.order_id, "r4") == 0
    bundle = json.loads(capsys.readouterr().out)
    requests = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
    doses = [r["dosageInstruction"][0]["doseAndRate"][0] for r in requests]
    finals = [o["final"]["value"] for o in order.calc["orders"]]
    assert [d.get("doseQuantity", d.get("rateQuantity"))["value"] for d in doses] == finals
    assert {(r["intent"], r["status"], r["identifier"][0]["value"]) for r in requests} == {
        ("order", "draft", str(order.order_id))
    }

    release(record, order.order_id, me("pam"), labs_checked="ANC 2.0, platelets 160 on the day")
    assert orders_fhir(url, order.order_id, "r5") == 0
    released = json.loads(capsys.readouterr().out)
    statuses = {
        e["resource"]["status"] for e in released["entry"] if e["resource"]["resourceType"] == "MedicationRequest"
    }
    assert statuses == {"active"}
