"""The bridge between stored text and the service: parse what an order keeps, recalculate it.

An order keeps text (the patient file's bytes, the regimen file's text, options as JSON, the
record's basis) and not pickled models, so that it stays readable by any later version;
everything here turns that text back into requests of :mod:`chemo_orders.service`, through
the same validators the command line uses.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..settings import PinnedSettings
from ..sources import Document, read_patient, read_regimen
from . import Refused
from .basis import Basis

if TYPE_CHECKING:
    from ..orderset import OrderSet
    from ..patient import Patient
    from ..regimen import Regimen
    from ..service import CalcRequest
    from .tables import Order


def parse_yaml(data: bytes | str, what: str, source: str) -> Any:
    """Stored or posted YAML through the same hardened loader as a file on disk."""
    from ..loader import decode
    from ..loader import parse_yaml as parse

    return parse(decode(data, what, source) if isinstance(data, bytes) else data, what, source)


def parse_patient(data: bytes, source: str) -> Patient:
    return read_patient(Document(data, source)).patient


def regimen_text(regimen_id: str) -> str:
    """The library's regimen file, as text, to pin with an order; an unknown id names the
    nearest ones."""
    from ..regimen import load_regimen, regimen_paths

    path = regimen_paths().get(regimen_id)
    if path is None:
        load_regimen(regimen_id)  # raises the InputError with suggestions
        raise AssertionError("unreachable")  # pragma: no cover
    return path.read_text(encoding="utf-8")


def parse_regimen(text: str, source: str) -> Regimen:
    return read_regimen(Document(text.encode("utf-8"), source))


def stored_request(order: Order) -> CalcRequest:
    """The request that calculated a stored order: its patient file, pinned regimen, options,
    acknowledgements, dose changes and the record's basis as it was then."""
    from ..changes import from_json
    from ..orderset import Acknowledgement
    from ..service import CalcRequest

    source = f"order {order.id}"
    pinned = f"{source} regimen {order.regimen_id} v{order.regimen_version}"
    changes = json.loads(order.changes_json)["changes"] if order.changes_json else []
    return CalcRequest(
        patient=Document(order.patient_file, source),
        regimen=Document(order.regimen_text.encode("utf-8"), pinned),
        cycle=order.cycle,
        settings=PinnedSettings(json.loads(order.options_json)),
        acknowledgements=tuple(Acknowledgement(a.rule, a.reason) for a in order.acknowledgements),
        changes=tuple(from_json(c) for c in changes),
        history=Basis.from_json(json.loads(order.basis_json)).history(),
    )


def rebuild(order: Order) -> OrderSet:
    """Recalculate a stored order from its stored inputs and check that it gives the stored
    calc record."""
    from ..orderset import to_json
    from ..service import calculate

    order_set = calculate(stored_request(order))
    stored = json.loads(order.calc_json)
    again = to_json(order_set)
    changed = sorted(k for k in set(stored) | set(again) if k != "engine" and stored.get(k) != again.get(k))
    if changed:
        raise RecalculationMismatch(
            f"order {order.id}: this version of chemo-orders calculates {', '.join(changed)} differently "
            "from the stored record; nothing rendered"
        )
    return order_set


class RecalculationMismatch(Refused):
    """The engine no longer reproduces a stored order: rendering it would not be the order."""
