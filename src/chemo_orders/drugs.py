"""Facts about drugs (not regimens): Tall Man names, classes, restrictions, RxNorm codes.

Rules ask the drug table ("is this a vinca alkaloid?", "does it target CD20?") instead of
naming drugs in code, so adding vinorelbine or obinutuzumab is a data change with a source.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from .models import AnyQuantity, Frozen, read_yaml, validate


class CumulativeLimit(Frozen):
    adult: AnyQuantity | None = None
    child: AnyQuantity | None = None
    source: tuple[str, ...]


class Drug(Frozen):
    tall_man: str | None = None
    drug_class: Literal["vinca", "anthracycline", "anti-cd20", "t-lineage"] | None = None
    restricted_to: tuple[str, ...] = ()
    intrathecal: bool = False
    rxnorm: int | None = None
    cumulative_limit: CumulativeLimit | None = None
    source: tuple[str, ...]


class DrugTable(Frozen):
    sources: dict[str, str]
    drugs: dict[str, Drug]

    def get(self, name: str) -> Drug:
        return self.drugs.get(name, _UNKNOWN)

    def display_name(self, name: str) -> str:
        """The ISMP Tall Man spelling where listed, else the lowercase generic name."""
        return self.get(name).tall_man or name

    def cite(self, keys: tuple[str, ...]) -> list[str]:
        return [self.sources[key] for key in keys]


_UNKNOWN = Drug(source=())


@cache
def drug_table() -> DrugTable:
    path = Path(__file__).with_name("drugs.yaml")
    data = read_yaml(path, "drug table")
    for entry in data["drugs"].values():
        if "class" in entry:
            entry["drug_class"] = entry.pop("class")
    return validate(DrugTable, data, str(path))
