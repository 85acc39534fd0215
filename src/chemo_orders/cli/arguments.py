"""The arguments several commands share, and their translation into the service's requests.

One definition of ``--bsa-formula``, ``--policy``, ``--acknowledge`` … for ``calc``, ``render``,
``verify``, ``fhir order`` and ``orders prepare``, so a calculation option works the same on
every command that calculates. Only argparse and the standard library at import time:
building the parser must not load pint (``calc`` starts fast, ``render`` forks its PDF
helper before the heavy imports).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ..errors import InputError
from ..text import MAX_CYCLE, option_number

if TYPE_CHECKING:
    from ..service import CalcRequest
    from ..settings import DoseSettings

# The names of body.BSA_FORMULAS, kept here so building the parser imports no pint (a test
# checks that the two agree).
BSA_FORMULA_NAMES = ("boyd", "dubois", "gehan-george", "haycock", "mosteller")


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message: str) -> NoReturn:
        raise InputError("usage", " ".join(sys.argv[1:]), message)


def iso_date(text: str) -> dt.date:
    """``--date``/``--start`` as YYYY-MM-DD; anything else is bad input naming the option."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError("--date", text, "expected YYYY-MM-DD") from None


def add_dose_options(parser: argparse.ArgumentParser) -> None:
    """How doses are calculated (read back by :func:`settings_from`)."""
    parser.add_argument("--date", type=iso_date, help="calculation date YYYY-MM-DD (default today); fixes age")
    parser.add_argument("--bsa-formula", choices=BSA_FORMULA_NAMES, default="mosteller")
    parser.add_argument("--bsa-cap", help="explicit BSA cap, e.g. '2 m**2' (off by default; ASCO 2021)")
    parser.add_argument("--policy", type=Path, help="rounding policy YAML (sample in samples/)")
    parser.add_argument(
        "--carboplatin-weight",
        choices=["nccn", "actual"],
        default="nccn",
        help="weight for Cockcroft-Gault in Calvert: nccn = adjusted weight if BMI >= 25",
    )
    parser.add_argument(
        "--scr-floor",
        default="0.7 mg/dL",
        help="minimum serum creatinine for Calvert (NCCN: 0.7 mg/dL); 'none' to disable",
    )


def add_order_options(parser: argparse.ArgumentParser) -> None:
    """The cycle, the dose options and what a pharmacist or prescriber adds to one order:
    acknowledgements of holds and dose changes, each with its reason."""
    parser.add_argument(
        "--cycle",
        type=option_number("--cycle", 1, MAX_CYCLE),
        help="cycle (course) number; default: the regimen's first",
    )
    add_dose_options(parser)
    parser.add_argument(
        "--acknowledge",
        action="append",
        default=[],
        metavar="CODE",
        help="acknowledge a warn-level finding (repeat; pair each with --reason)",
    )
    parser.add_argument("--reason", action="append", default=[], metavar="TEXT")
    parser.add_argument(
        "--change",
        action="append",
        default=[],
        metavar="DRUG=CHANGE",
        help="change a final dose: DRUG=-20%%, DRUG=600mg or DRUG@ROUTE=… (repeat; pair each with --change-reason)",
    )
    parser.add_argument("--change-reason", action="append", default=[], metavar="TEXT")


def add_calculation_options(parser: argparse.ArgumentParser, batch: bool = False) -> None:
    """PATIENT, ``--regimen`` and :func:`add_order_options` (``calc``, ``render``, ``fhir order``)."""
    if batch:
        parser.add_argument("patient", type=Path, nargs="?", help="patient YAML file (omit with --batch)")
        parser.add_argument("--regimen", help="regimen id; with --batch DIR, a comma-separated list")
    else:
        parser.add_argument("patient", type=Path, help="patient YAML file")
        parser.add_argument("--regimen", required=True, help="regimen id (see `chemo-orders regimens`)")
    add_order_options(parser)


def settings_from(args: argparse.Namespace) -> DoseSettings:
    """The dose options, as the service layer's type."""
    from ..settings import DoseSettings

    return DoseSettings(
        on=args.date,
        bsa_formula=args.bsa_formula,
        bsa_cap=args.bsa_cap,
        policy=args.policy,
        carboplatin_weight=args.carboplatin_weight,
        scr_floor=args.scr_floor,
    )


def calc_request_from(args: argparse.Namespace) -> CalcRequest:
    """One patient file, one regimen: the request every calculating command sends."""
    from ..service import CalcRequest, acknowledgements, dose_changes

    return CalcRequest(
        patient=args.patient,
        regimen=args.regimen,
        cycle=args.cycle,
        settings=settings_from(args),
        acknowledgements=acknowledgements(args.acknowledge, args.reason),
        changes=dose_changes(args.change, args.change_reason),
    )
