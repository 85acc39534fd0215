"""Facts about drugs (not regimens): names, classes, restrictions, codes and limits.

Rules ask the drug table ("is this a vinca alkaloid?", "does it target CD20?", "what is this
anthracycline in doxorubicin equivalents?") instead of naming drugs in code, so adding
vinorelbine or obinutuzumab is a data change with a source.

Every drug a person names (prior doses, allergies, history, prescriptions, policies) goes
through :meth:`DrugTable.canonical`: case, Tall Man lettering, spacing, salt words and brand
names or other synonyms all lead to one generic name, and an unknown name is an error — a
lifetime limit silently bypassed because someone wrote "Adriamycin" is how patients are hurt.
"""

from __future__ import annotations

import re
from functools import cache, cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field

from .errors import InputError
from .loader import read_package_yaml
from .models import AnyQuantity, Frozen, validate


class CumulativeLimit(Frozen):
    adult: AnyQuantity | None = None
    child: AnyQuantity | None = None
    source: tuple[str, ...]


class Equivalent(Frozen):
    """A cited cardiotoxicity equivalence ratio: 1 mg/m² of this drug = ``factor`` mg/m² of doxorubicin."""

    factor: float = Field(gt=0)
    source: tuple[str, ...]


class Contraindication(Frozen):
    """A past event (``condition``), optionally with a drug or group, that rules the drug out."""

    condition: str
    after: str | None = None
    severity: Literal["block", "hold"] = "block"
    note: str | None = None
    source: tuple[str, ...]


class AllergyAlternative(Frozen):
    alternative: str
    note: str | None = None
    source: tuple[str, ...]


class PlausibleMaximum(Frozen):
    """The largest single dose a cited source gives, in one basis (the unit says which)."""

    max: AnyQuantity
    routes: tuple[str, ...] = ()  # only for these routes (an intrathecal maximum is not a systemic one)
    note: str | None = None
    source: tuple[str, ...]


class HighDose(Frozen):
    """Where a cited source says "high dose" starts: per administration, or per day (methotrexate's
    loading dose and infusion on one day count together)."""

    min: AnyQuantity
    per: Literal["dose", "day"]
    note: str | None = None
    source: tuple[str, ...]


class Drug(Frozen):
    # ``co-medication``: a drug the patient takes that this library never orders (an azole, a
    # PPI), known so that interactions (DDI001) can be checked by its canonical name.
    role: Literal["antineoplastic", "supportive", "co-medication"] | None = None
    high_dose: HighDose | None = None
    tall_man: str | None = None
    drug_class: Literal["vinca", "anthracycline", "anti-cd20", "t-lineage"] | None = None
    restricted_to: tuple[str, ...] = ()
    intrathecal: bool = False
    rxnorm: int | None = None
    cumulative_limit: CumulativeLimit | None = None
    synonyms: tuple[str, ...] = ()
    doxorubicin_equivalent: Equivalent | None = None
    contraindicated_after: tuple[Contraindication, ...] = ()
    on_allergy: AllergyAlternative | None = None
    plausible: tuple[PlausibleMaximum, ...] = ()
    note: str | None = None
    source: tuple[str, ...]


class Group(Frozen):
    """A class a person may name in an allergy or history entry (``platinum``, ``asparaginase``)."""

    drugs: tuple[str, ...]
    synonyms: tuple[str, ...] = ()  # other names of the class ("sulfa drugs")
    note: str | None = None
    source: tuple[str, ...] = ()


class AnthracyclineLimit(Frozen):
    limit: AnyQuantity
    warn_at_percent: float | None = Field(default=None, gt=0, le=100)
    note: str | None = None
    source: tuple[str, ...]


class AnthracyclineLimits(Frozen):
    adult: AnthracyclineLimit | None = None
    child: AnthracyclineLimit | None = None


_SPACES = re.compile(r"[\s_]+")
# Words of free text: letters and digits, keeping inner hyphens and slashes (``vp-16``, ``tmp-smx``).
_WORDS = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")
_LONGEST_NAME = 5  # words in the longest drug or group name looked for in free text


def _fold(name: str) -> str:
    """Case, spacing and hyphenation folded so 'DOXOrubicin', ' doxorubicin ' and 'Doxorubicin' agree."""
    return _SPACES.sub(" ", name.strip().lower().replace("‐", "-")).strip()


class DrugTable(Frozen):
    sources: dict[str, str]
    salts: tuple[str, ...] = ()
    groups: dict[str, Group] = Field(default_factory=dict)
    anthracycline_limits: AnthracyclineLimits = AnthracyclineLimits()
    drugs: dict[str, Drug]

    def get(self, name: str) -> Drug:
        return self.drugs.get(name, _UNKNOWN)

    def display_name(self, name: str) -> str:
        """The ISMP Tall Man spelling where listed, else the lowercase generic name."""
        return self.get(name).tall_man or name

    def cite(self, keys: tuple[str, ...]) -> list[str]:
        return [self.sources[key] for key in keys]

    @cached_property
    def _names(self) -> dict[str, str]:
        """Every accepted spelling (folded) → the generic name."""
        names: dict[str, str] = {}
        for generic, drug in self.drugs.items():
            for spelling in (generic, drug.tall_man or generic, *drug.synonyms):
                names[_fold(spelling)] = generic
        return names

    def lookup(self, text: str) -> str | None:
        """The generic name ``text`` spells (Tall Man, case, brand, salt), or None."""
        folded = _fold(text)
        if folded in self._names:
            return self._names[folded]
        words = [word for word in folded.split(" ") if word not in self.salts]
        return self._names.get(" ".join(words))

    def canonical(self, text: object, field: str) -> str:
        """The generic name for a drug a person wrote; exit 2 naming the field if unknown."""
        if not isinstance(text, str) or not text.strip():
            raise InputError(field, text, "expected a drug name")
        found = self.lookup(text)
        if found is None:
            raise InputError(field, text, "unknown drug name (see drugs.yaml for the names known)")
        return found

    @cached_property
    def _substance_names(self) -> dict[str, str]:
        """Every spelling of a drug or group (folded) → the drug or group it names."""
        names = dict(self._names)
        for group, entry in self.groups.items():
            for spelling in (group, *entry.synonyms):
                names[_fold(spelling)] = group
        return names

    def substances_in(self, text: str) -> tuple[str, ...]:
        """Every drug or group named anywhere in free text, as words: "Rituxan anaphylaxis",
        "rituximab (anaphylaxis)" and "VP16 - rash" each name their drug. A name must be whole
        words (``ara`` is not in ``tiara``); longer names win over the words inside them."""
        words = _WORDS.findall(_fold(text))
        names = self._substance_names
        found: list[str] = []
        start = 0
        while start < len(words):
            for length in range(min(_LONGEST_NAME, len(words) - start), 0, -1):
                phrase = " ".join(words[start : start + length])
                hit = names.get(phrase) or names.get(phrase.replace(" ", "")) or names.get(phrase.replace(" ", "-"))
                if hit is not None:
                    found.append(hit)
                    start += length
                    break
            else:
                start += 1
        return tuple(dict.fromkeys(found))

    def find_substance(self, text: str) -> str | None:
        """A drug group (``platinum``) or a drug, as a person names an allergy or a past event."""
        return _fold(text) if _fold(text) in self.groups else self.lookup(text)

    def canonical_substance(self, text: object, field: str) -> str:
        """:meth:`find_substance`, or exit 2 naming the field."""
        found = self.find_substance(text) if isinstance(text, str) else None
        return found if found is not None else self.canonical(text, field)

    def members(self, name: str) -> frozenset[str]:
        """The drugs a drug or group name covers: a group its members, a drug itself."""
        group = self.groups.get(name)
        return frozenset(group.drugs) if group is not None else frozenset({name})


_UNKNOWN = Drug(source=())


@cache
def drug_table() -> DrugTable:
    path = Path(__file__).with_name("drugs.yaml")
    data = read_package_yaml(path, "drug table")
    for entry in data["drugs"].values():
        if "class" in entry:
            entry["drug_class"] = entry.pop("class")
    return validate(DrugTable, data, str(path))
