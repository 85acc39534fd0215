"""Every way a patient or a regimen reaches a calculation, turned into the engine's models.

A patient comes as a file (YAML, or ``.json``: a FHIR Bundle or the same mapping as JSON), as
the bytes an order stored, or as a mapping (the JSON API, the workbench's saved patient); a
regimen as a library id or as the text an order pinned. Each is read through the same
bounded loader and validators, and keeps the exact bytes it came as: they are hashed onto the
order set. This step sits above :mod:`chemo_orders.patient` (the model) and the FHIR
importer, so the model never imports an exchange format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .loader import decode, parse_yaml, read_json, read_yaml
from .models import validate

if TYPE_CHECKING:
    from .patient import Patient
    from .regimen import Regimen


@dataclass(frozen=True)
class Document:
    """A file's bytes as they were read or stored, and where they came from (for messages)."""

    data: bytes
    source: str


@dataclass(frozen=True)
class PatientInput:
    """A validated patient and the exact bytes it was read from."""

    patient: Patient
    data: bytes


PatientSource = Path | Document | Mapping[str, Any] | PatientInput
RegimenSource = str | Document  # a library id, or the text an order pinned


def read_patient(source: PatientSource) -> PatientInput:
    """The validated patient of any source; every problem is an InputError naming the field."""
    from .patient import Patient

    if isinstance(source, PatientInput):
        return source
    if isinstance(source, Path):
        return PatientInput(_patient_file(source), source.read_bytes())
    if isinstance(source, Document):
        data = parse_yaml(decode(source.data, "patient file", source.source), "patient file", source.source)
        return PatientInput(validate(Patient, data, source.source), source.data)
    data = dict(source)
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return PatientInput(validate(Patient, data, "patient"), text)


def _patient_file(path: Path) -> Patient:
    from .patient import Patient

    if path.suffix.lower() != ".json":
        return validate(Patient, read_yaml(path, "patient file"), str(path))
    # Read by the same bounded loader as YAML: a regular file only, size and nesting bounded,
    # duplicate keys refused (a second ``allergies`` once silently replaced the first).
    data = read_json(path, "patient file")
    if isinstance(data, dict) and "resourceType" in data:
        if data["resourceType"] != "Bundle":
            raise InputError("resourceType", data["resourceType"], "expected a FHIR Bundle", source=str(path))
        from .fhir.importer import patient_from_bundle

        return patient_from_bundle(data, str(path))
    return validate(Patient, data, str(path))


def read_regimen(source: RegimenSource) -> Regimen:
    """A library regimen by id (unknown ids name the nearest ones), or pinned text."""
    from .regimen import Regimen, load_regimen

    if isinstance(source, str):
        return load_regimen(source)
    text = decode(source.data, "regimen file", source.source)
    return validate(Regimen, parse_yaml(text, "regimen file", source.source), source.source)
