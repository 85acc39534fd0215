"""How doses are calculated, as a person chooses it and as an order keeps it.

:class:`DoseSettings` is what a person chose (``--bsa-formula dubois``, ``--policy FILE``, the
web page's defaults), parsed with the strict quantity grammar so every interface refuses the
same bad values the same way. :func:`options_json` writes the resolved
:class:`~chemo_orders.dosing.Options` out in full — every default spelled out and the rounding
policy's content, not its path — so that a stored order recalculates the same after a
default changes or the policy file is edited; :class:`PinnedSettings` reads it back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .errors import InputError

if TYPE_CHECKING:
    from .dosing import Options
    from .rounding import RoundingPolicy
    from .units import Q


class Settings(Protocol):
    """Anything that gives the calculation options for a cycle."""

    def options(self, cycle: int) -> Options: ...


@dataclass(frozen=True)
class DoseSettings:
    """How doses are calculated: chosen by the user, printed on the order when not default.

    Text values (``bsa_cap``, ``scr_floor``) are parsed here with the strict quantity grammar.
    """

    on: dt.date | None = None
    bsa_formula: str = "mosteller"
    bsa_cap: str | None = None
    policy: Path | None = None
    carboplatin_weight: Literal["nccn", "actual"] = "nccn"
    scr_floor: str = "0.7 mg/dL"

    def options(self, cycle: int) -> Options:
        from .body import BSA_FORMULAS
        from .dosing import Options
        from .quantities import parse_quantity
        from .rounding import load_policy
        from .units import M2, MG_PER_DL

        if self.bsa_formula not in BSA_FORMULAS:
            raise InputError("--bsa-formula", self.bsa_formula, f"expected one of {', '.join(sorted(BSA_FORMULAS))}")
        if self.carboplatin_weight not in ("nccn", "actual"):
            raise InputError("--carboplatin-weight", self.carboplatin_weight, "expected nccn or actual")
        bsa_cap = None
        if self.bsa_cap is not None:
            text = self.bsa_cap if any(c.isalpha() for c in self.bsa_cap) else f"{self.bsa_cap} m**2"
            bsa_cap = parse_quantity(text, "--bsa-cap", "[length] ** 2")
            if not 1 <= bsa_cap.to(M2).magnitude <= 3:
                raise InputError("--bsa-cap", self.bsa_cap, "implausible: outside 1-3 m²")
        scr_floor = None
        if self.scr_floor.strip().lower() != "none":
            scr_floor = parse_quantity(self.scr_floor, "--scr-floor", "[mass] / [length] ** 3").to(MG_PER_DL)
            if not 0.1 <= scr_floor.magnitude <= 2:
                raise InputError("--scr-floor", self.scr_floor, "implausible: outside 0.1-2 mg/dL")
        return Options(
            on=self.on or dt.date.today(),
            cycle=cycle,
            bsa_formula=self.bsa_formula,
            bsa_cap=bsa_cap,
            carboplatin_weight=self.carboplatin_weight,
            scr_floor=scr_floor,
            policy=load_policy(self.policy) if self.policy else None,
        )


CHOSEN = ("bsa_formula", "bsa_cap", "carboplatin_weight", "scr_floor")  # what a JSON request may choose


def settings_from_json(data: object, on: dt.date | None) -> DoseSettings:
    """The JSON API's ``options`` object (the command line's ``--bsa-formula`` …, by the same
    names with underscores); a rounding policy is a file on the server, not a request's to name."""
    if data is None:
        return DoseSettings(on=on)
    if not isinstance(data, dict):
        raise InputError("options", "", f"expected an object with any of {', '.join(CHOSEN)}")
    unknown = sorted(set(data) - set(CHOSEN))
    if unknown:
        raise InputError(f"options.{unknown[0]}", "", f"unknown option; expected {', '.join(CHOSEN)}")
    for name, value in data.items():
        if not isinstance(value, str):
            raise InputError(f"options.{name}", value, 'expected text, e.g. "dubois" or "2 m**2"')
    return DoseSettings(
        on=on,
        bsa_formula=data.get("bsa_formula", "mosteller"),
        bsa_cap=data.get("bsa_cap"),
        carboplatin_weight=data.get("carboplatin_weight", "nccn"),  # checked in options()
        scr_floor=data.get("scr_floor", "0.7 mg/dL"),
    )


@dataclass(frozen=True)
class PinnedSettings:
    """Options as an order stored them (:func:`options_json`): the cycle is the stored one."""

    data: dict[str, Any]

    def options(self, cycle: int) -> Options:
        from .dosing import Options

        data = self.data
        policy = data.get("policy")
        return Options(
            on=dt.date.fromisoformat(data["on"]),
            cycle=int(data["cycle"]),
            bsa_formula=data["bsa_formula"],
            bsa_cap=_quantity_from(data["bsa_cap"]),
            carboplatin_weight=data["carboplatin_weight"],
            scr_floor=_quantity_from(data["scr_floor"]),
            policy=None if policy is None else _policy_from(policy),
        )


def options_json(options: Options) -> dict[str, Any]:
    """Every option written out (a rounding policy by its content; absent when none, as in
    orders stored before policies could be chosen)."""
    data: dict[str, Any] = {
        "on": options.on.isoformat(),
        "cycle": options.cycle,
        "bsa_formula": options.bsa_formula,
        "bsa_cap": _quantity_json(options.bsa_cap),
        "carboplatin_weight": options.carboplatin_weight,
        "scr_floor": _quantity_json(options.scr_floor),
    }
    if options.policy is not None:
        data["policy"] = _policy_json(options.policy)
    return data


def _policy_json(policy: RoundingPolicy) -> dict[str, Any]:
    """The policy's content with each increment as value and unit (read back by validation)."""
    return {
        "name": policy.name,
        "source": policy.source,
        "max_deviation_percent": policy.max_deviation_percent,
        "drugs": {
            drug: {"increment": _quantity_json(rule.increment), "max_deviation_percent": rule.max_deviation_percent}
            for drug, rule in policy.drugs.items()
        },
    }


def _policy_from(data: dict[str, Any]) -> RoundingPolicy:
    from .models import validate
    from .rounding import RoundingPolicy

    drugs = {drug: {**rule, "increment": _quantity_from(rule["increment"])} for drug, rule in data["drugs"].items()}
    return validate(RoundingPolicy, {**data, "drugs": drugs}, "stored rounding policy")


def _quantity_json(value: Q | None) -> dict[str, Any] | None:
    return None if value is None else {"value": float(value.magnitude), "unit": str(value.units)}


def _quantity_from(data: dict[str, Any] | None) -> Q | None:
    from .units import quantity, ureg

    return None if data is None else quantity(data["value"], ureg.Unit(data["unit"]))
