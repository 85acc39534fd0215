"""Refusals that apply to a whole Bundle before any value is read (issue 23).

- ``Bundle.type`` must be one that carries resources as they are (``collection``,
  ``searchset``, ``document``, ``transaction``, ``batch``): a ``history`` Bundle holds old
  versions side by side, and an unknown type means the sender meant something else.
- A ``modifierExtension`` anywhere changes the meaning of the element it sits on (FHIR: it
  "cannot be safely ignored"); none is known here, so every one is refused, naming its path.
- A deceased patient (``deceasedBoolean: true`` or ``deceasedDateTime``) gets no order.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

BUNDLE_TYPES = ("collection", "searchset", "document", "transaction", "batch")


def check_strict(bundle: dict[str, Any]) -> None:
    if bundle.get("type") not in BUNDLE_TYPES:
        raise InputError("Bundle.type", str(bundle.get("type")), f"expected one of {', '.join(BUNDLE_TYPES)}")
    counts: dict[str, int] = {}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        kind = str(resource.get("resourceType"))
        where = f"{kind}[{counts.get(kind, 0)}]"
        counts[kind] = counts.get(kind, 0) + 1
        _modifiers(resource, where)
        if kind == "Patient" and (resource.get("deceasedBoolean") is True or "deceasedDateTime" in resource):
            key = "deceasedBoolean" if "deceasedBoolean" in resource else "deceasedDateTime"
            raise InputError(f"Patient.{key}", str(resource[key]), "the patient is recorded as deceased")


def _modifiers(element: object, where: str) -> None:
    """Refuse any ``modifierExtension`` in ``element`` or below it (contained resources too)."""
    if isinstance(element, dict):
        for key, value in element.items():
            if key == "modifierExtension":
                urls = (
                    [str(e.get("url")) for e in value if isinstance(e, dict)]
                    if isinstance(value, list)
                    else [str(value)]
                )
                raise InputError(
                    f"{where}.modifierExtension",
                    ", ".join(urls),
                    "unknown modifier extension: its meaning cannot be ignored",
                )
            _modifiers(value, f"{where}.{key}")
    elif isinstance(element, list):
        for index, item in enumerate(element):
            _modifiers(item, f"{where}[{index}]")
