"""The vocabulary of past conditions (``conditions.yaml``): what a history entry may say.

A review found ``history: acute pancreatitis`` accepted and then ignored, because only the exact
word ``pancreatitis`` matched the pegaspargase contraindication. Every condition a person writes
now resolves to one canonical term through cited synonyms (``VOD`` and ``SOS`` are sinusoidal
obstruction syndrome), and an unknown term is refused naming the field. No near-miss is ever
suggested: a condition with a similar spelling can mean something else entirely.
"""

from __future__ import annotations

import re
from functools import cache, cached_property
from pathlib import Path

from pydantic import Field

from .errors import InputError
from .loader import read_package_yaml
from .models import Frozen, check_cited, validate

_SPACES = re.compile(r"[\s_]+")


def fold(text: str) -> str:
    """Case, spacing and hyphen variants folded: 'Acute  Pancreatitis' is 'acute pancreatitis'."""
    return _SPACES.sub(" ", text.strip().lower().replace("‐", "-").replace("–", "-")).strip()


class Condition(Frozen):
    synonyms: tuple[str, ...] = ()
    note: str | None = None
    source: tuple[str, ...] = ()


class ConditionTable(Frozen):
    sources: dict[str, str | dict[str, object]] = Field(default_factory=dict)
    conditions: dict[str, Condition]

    @cached_property
    def _names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for term, condition in self.conditions.items():
            for spelling in (term, term.replace("-", " "), *condition.synonyms):
                names[fold(spelling)] = term
        return names

    def canonical(self, text: str, field: str) -> str:
        """The canonical condition ``text`` names; exit 2 naming the field if it names none."""
        found = self._names.get(fold(text))
        if found is None:
            raise InputError(field, text, "unknown condition (conditions.yaml lists the terms and synonyms known)")
        return found


class Allergen(Frozen):
    synonyms: tuple[str, ...] = ()


class AllergenTable(Frozen):
    """Non-drug allergy substances (``allergens.yaml``): latex, iodinated contrast, foods."""

    allergens: dict[str, Allergen]

    @cached_property
    def _names(self) -> dict[str, str]:
        return {fold(spelling): term for term, a in self.allergens.items() for spelling in (term, *a.synonyms)}

    def find(self, text: str) -> str | None:
        """The allergen the text names as whole words ("latex gloves - urticaria" is latex)."""
        folded = fold(text)
        words = re.findall(r"[a-z0-9'/]+(?:-[a-z0-9'/]+)*", folded)
        for length in range(min(5, len(words)), 0, -1):
            for start in range(len(words) - length + 1):
                found = self._names.get(" ".join(words[start : start + length]))
                if found is not None:
                    return found
        return None


@cache
def allergen_table() -> AllergenTable:
    path = Path(__file__).with_name("allergens.yaml")
    return validate(AllergenTable, read_package_yaml(path, "allergen vocabulary"), str(path))


@cache
def condition_table() -> ConditionTable:
    path = Path(__file__).with_name("conditions.yaml")
    table = validate(ConditionTable, read_package_yaml(path, "condition vocabulary"), str(path))
    check_cited(table.sources, ((f"conditions.{t}", c.source) for t, c in table.conditions.items()), str(path))
    return table
