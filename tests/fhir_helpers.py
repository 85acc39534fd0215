"""Shared by the FHIR tests: the sample order sets, built in-process, and resource lookups."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from helpers import ROOT, options

from chemo_orders.orderset import OrderSet, build
from chemo_orders.regimen import load_regimen
from chemo_orders.sources import read_patient

SAMPLES = ROOT / "samples"
ORDER_SETS = [
    (SAMPLES / row["patient"], row["regimen"], int(row["cycle"]))
    for row in csv.DictReader((SAMPLES / "order-sets.csv").open(encoding="utf-8"))
]


def order_set(patient: Path, regimen: str, cycle: int = 1) -> OrderSet:
    return build(read_patient(patient).patient, load_regimen(regimen), options(cycle=cycle), (), patient.read_bytes())


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def observation(bundle: dict[str, Any], loinc: str) -> dict[str, Any]:
    found = [o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == loinc]
    assert len(found) == 1, loinc
    return found[0]
