"""``chemo-orders fhir regimen|order`` (design §10.7): the FHIR commands, added to the parser.

Only argparse at import time: building the parser must not load pint or fhir.resources
(``calc`` starts fast). A blocked or held order set prints nothing on stdout, because the
output is meant for an EHR; the reason goes to stderr and the exit code is 3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .arguments import Parser, add_calculation_options, calc_request_from
from .exits import EXIT_BLOCKED, EXIT_OK


def add_commands(subparsers: argparse._SubParsersAction[Parser]) -> None:
    """Register ``fhir`` with its two subcommands on the main parser's subparsers."""
    fhir = subparsers.add_parser("fhir", help="export a regimen or an order set as FHIR JSON")
    commands = fhir.add_subparsers(dest="fhir_command", required=True, parser_class=Parser)
    p = commands.add_parser("regimen", help="a regimen as a PlanDefinition with ActivityDefinitions")
    p.add_argument("regimen_id")
    _add_version(p)
    p = commands.add_parser("order", help="an order set as a Bundle (nothing if blocked or held)")
    add_calculation_options(p)
    _add_version(p)


def _add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fhir-version", choices=["r4", "r5"], default="r5", help="R4 is written with R4B models")


def cmd_fhir(args: argparse.Namespace) -> int:
    from ..fhir.export import Refused, order_bundle_for, plan_definition_for
    from ..fhir.validation import validated_json
    from ..regimen import load_regimen
    from ..service import calculate

    try:
        if args.fhir_command == "regimen":
            resource = plan_definition_for(load_regimen(args.regimen_id), args.fhir_version)
        else:
            resource = order_bundle_for(calculate(calc_request_from(args)), args.fhir_version)
    except Refused as refused:
        print(f"chemo-orders: nothing exported: {refused}", file=sys.stderr)
        return EXIT_BLOCKED
    print(validated_json(resource, args.fhir_version))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"fhir": cmd_fhir}
