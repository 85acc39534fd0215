"""``regimens``, ``show``, ``rule`` and ``lint``: the library as a reviewer reads it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .arguments import Parser
from .exits import EXIT_INPUT, EXIT_OK


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("regimens", help="list regimens with indications")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("show", help="print one regimen for review")
    p.add_argument("regimen_id")
    p = sub.add_parser("rule", help="explain a safety rule")
    p.add_argument("code", nargs="?", help="rule code, e.g. IND002; omit to list all")
    p = sub.add_parser("lint", help="validate regimen files")
    p.add_argument("paths", nargs="*", type=Path)


def cmd_regimens(args: argparse.Namespace) -> int:
    from ..orderset import dumps
    from ..regimen import all_regimens
    from ..report import regimen_summary, regimens_text
    from ..tables import output_width

    regimens = all_regimens()
    if args.json:
        print(dumps({"regimens": [regimen_summary(r) for r in regimens]}))
    else:
        print(regimens_text(regimens, output_width()))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from ..regimen import load_regimen
    from ..report import regimen_text

    print(regimen_text(load_regimen(args.regimen_id)))
    return EXIT_OK


def cmd_rule(args: argparse.Namespace) -> int:
    from ..rules import BY_CODE, RULES

    if args.code is None:
        for rule in RULES:
            print(f"{rule.code}  {rule.name:28} {rule.severity}")
        return EXIT_OK
    found = BY_CODE.get(args.code.upper())
    if found is None:
        raise InputError("code", args.code, f"no such rule; known: {', '.join(BY_CODE)}")
    print(found.document())
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    from ..lint import lint_paths

    problems = lint_paths(args.paths)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else "clean")
    return EXIT_INPUT if problems else EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "regimens": cmd_regimens,
    "show": cmd_show,
    "rule": cmd_rule,
    "lint": cmd_lint,
}
