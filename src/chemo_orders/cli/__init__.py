"""The ``chemo-orders`` command line (design §5, a contract): argparse over the service layer.

Each module of this package holds a family of commands (``add_commands`` registers them,
``COMMANDS`` maps their names to functions); this one builds the parser and turns every
failure into an exit code and one line. Exit codes: 0 ok, 1 internal error, 2 bad input or
usage, 3 blocked, held or refused, 4 verification discrepancy; tracebacks only with
``--debug``. Nothing below this package sees ``argparse``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .. import DISCLAIMER, __version__
from ..errors import InputError
from . import calculation, fhir, library, record, serve
from .arguments import Parser
from .exits import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK

FAMILIES = (library, calculation, fhir, record, serve)

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    name: command for family in FAMILIES for name, command in family.COMMANDS.items()
}


def build_parser() -> Parser:
    parser = Parser(prog="chemo-orders", description=f"Chemotherapy order sets. {DISCLAIMER}")
    parser.add_argument("--version", action="version", version=f"chemo-orders {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for family in FAMILIES:
        family.add_commands(sub)
    return parser


def _database_problem(error: BaseException) -> str | None:
    """One line naming a database failure (a full disk), or None for any other error."""
    if not {"sqlalchemy", "sqlite3", "psycopg"} & sys.modules.keys():
        return None  # nothing has touched a database
    from ..record.db import database_problem

    return database_problem(error)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    try:
        args = build_parser().parse_args(arguments)
        return COMMANDS[args.command](args)
    except InputError as error:
        print(f"chemo-orders: error: {error.message}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # the last line of defence: no traceback reaches a user
        if debug:
            raise
        problem = _database_problem(error)
        if problem is not None:  # SQLAlchemy's text of it holds the statement and its parameters
            print(f"chemo-orders: error: {problem}", file=sys.stderr)
            return EXIT_INTERNAL
        print(
            f"chemo-orders: internal error: {error.__class__.__name__}: {error} (rerun with --debug)", file=sys.stderr
        )
        return EXIT_INTERNAL
