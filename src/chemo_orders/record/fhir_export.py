"""A recorded order as FHIR (design §11.7 ``orders fhir ORDER_ID``).

Only a verified or released order leaves the record: a prepared one has not had its second
pharmacist, and an EHR must never receive it as an order (refused, exit 3). The Bundle is
built the way ``fhir order`` builds one, from the order recalculated from its stored inputs
(pinned regimen text, the record's contribution as it was), which must reproduce the stored
calc record byte for byte or nothing is exported. The record's facts are then stated: the
order number as an identifier of the RequestGroup/RequestOrchestration and of every
MedicationRequest, ``intent: order``, and ``status: active`` once released (``draft`` while
only verified: verified, not yet released for administration).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..errors import InputError
from ..fhir.export import Refused, order_bundle
from ..fhir.terminology import ORDER_SYSTEM
from ..fhir.validation import FhirVersion
from .db import Database
from .tables import Order

EXPORTABLE = ("verified", "released")
ORDERS = ("MedicationRequest", "RequestGroup", "RequestOrchestration")


def recorded_order_bundle(database: Database, order_id: int, version: FhirVersion) -> dict[str, Any]:
    """The Bundle of a verified or released order; Refused for any other state."""
    from .calculation import rebuild

    with database.read() as session:
        order = session.scalars(
            select(Order).where(Order.id == order_id).options(selectinload(Order.acknowledgements))
        ).one_or_none()
        if order is None:
            raise InputError("ORDER_ID", order_id, "no such order")
        if order.state not in EXPORTABLE:
            raise Refused(f"order {order_id} is {order.state}: not verified (only verified or released orders)")
        bundle = order_bundle(rebuild(order), order.regimen_sha256, version)
        state = order.state
    identifier = {"system": ORDER_SYSTEM, "value": str(order_id)}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in ORDERS and resource.get("status") == "draft":  # this order, not a prior course
            resource["identifier"] = [identifier]
            resource["intent"] = "order"
            resource["status"] = "active" if state == "released" else "draft"
    return bundle
