"""Drug interactions with the patient's co-medications (DDI001), as cited data.

``interactions.yaml`` pairs a drug (or group) of the order with a co-medication (or group) and
the label's words; ``high_dose`` pairs apply only when the cycle gives the drug at a dose its
cited definition calls high (methotrexate's renal interactions matter at high dose).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from .errors import InputError
from .loader import read_package_yaml
from .models import Frozen, check_cited, validate
from .regimen import CitedTable


class Interaction(Frozen):
    drug: str
    with_: str
    severity: Literal["hold", "warn"]
    high_dose: bool = False
    note: str
    source: tuple[str, ...]


class InteractionTable(CitedTable):
    interactions: tuple[Interaction, ...]


@cache
def interaction_table() -> InteractionTable:
    path = Path(__file__).with_name("interactions.yaml")
    data = read_package_yaml(path, "interaction table")
    if isinstance(data, dict) and isinstance(data.get("interactions"), list):
        data["interactions"] = [
            {("with_" if k == "with" else k): v for k, v in item.items()} if isinstance(item, dict) else item
            for item in data["interactions"]
        ]
    table = validate(InteractionTable, data, str(path))
    from .drugs import drug_table

    drugs = drug_table()
    for index, item in enumerate(table.interactions):
        for field, name in (("drug", item.drug), ("with", item.with_)):
            if name not in drugs.drugs and name not in drugs.groups:
                raise InputError(f"interactions.{index}.{field}", name, "not a drug or group of drugs.yaml")
    check_cited(table.sources, ((f"interactions.{i}", x.source) for i, x in enumerate(table.interactions)), str(path))
    return table
