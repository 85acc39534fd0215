"""Every resource we print, and every Bundle we read, passes through ``fhir.resources``.

``fhir.resources`` 8 has R5 models and R4B models but no plain R4; R4 output is built and
checked with the R4B models (RequestGroup, ``medicationCodeableConcept``), which match R4 for
the elements used here. It checks structure and datatypes, not codes, bindings or profiles:
the codes are checked against ``terminology.yaml`` by the tests. The library is imported
here only, on the FHIR paths, so ``calc`` on a YAML file never pays for it.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ..errors import InputError

FhirVersion = Literal["r4", "r5"]
PACKAGE = {"r5": "fhir.resources", "r4": "fhir.resources.R4B"}


def model_class(resource_type: str, version: FhirVersion) -> type[BaseModel]:
    module = importlib.import_module(f"{PACKAGE[version]}.{resource_type.lower()}")
    cls: type[BaseModel] = getattr(module, resource_type)
    return cls


def validated_json(resource: dict[str, Any], version: FhirVersion) -> str:
    """The resource as JSON after ``fhir.resources`` accepted it; a failure here is our bug."""
    model = model_class(str(resource["resourceType"]), version).model_validate(resource)
    return model.model_dump_json(indent=2)


def check_bundle(bundle: dict[str, Any], source: str) -> None:
    """Refuse a Bundle that neither the R5 nor the R4B models accept, naming the element."""
    problems: list[InputError] = []
    for version in ("r5", "r4"):
        try:
            model_class("Bundle", version).model_validate(bundle)
            return
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
            problems.append(InputError(f"Bundle{where}", first.get("input", ""), first["msg"], source=source))
        except KeyError as exc:  # fhir_core raises KeyError for a type this version lacks (RequestGroup in R5)
            problems.append(
                InputError("Bundle.entry.resource.resourceType", str(exc), "unknown resource type", source=source)
            )
    located = [p for p in problems if p.problem != "unknown resource type"]
    raise (located or problems)[0]
