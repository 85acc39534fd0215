"""The ``chemo-orders`` command line (design §5, a contract).

Exit codes: 0 ok, 1 internal error, 2 bad input or usage, 3 blocked, 4 verification
discrepancy. Every message to the user is one line; tracebacks only with ``--debug``.
Heavy libraries (weasyprint, jinja2) are imported inside the commands that need them so
that ``calc`` starts fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import DISCLAIMER, __version__
from .errors import InputError
from .record import cli as record_cli

if TYPE_CHECKING:  # annotations only: the heavy modules load inside the commands
    from .dosing import Options
    from .orderset import OrderSet

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_BLOCKED, EXIT_DISCREPANCY = 0, 1, 2, 3, 4


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message: str) -> NoReturn:
        raise InputError("usage", " ".join(sys.argv[1:]), message)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError("--date", text, "expected YYYY-MM-DD") from None


# The names of body.BSA_FORMULAS, kept here so building the parser imports no pint (a test
# checks that the two agree): `render` forks its PDF helper before the heavy imports.
BSA_FORMULA_NAMES = ("boyd", "dubois", "gehan-george", "haycock", "mosteller")


def _add_calculation_options(parser: argparse.ArgumentParser, batch: bool = False) -> None:
    if batch:
        parser.add_argument("patient", type=Path, nargs="?", help="patient YAML file (omit with --batch)")
        parser.add_argument("--regimen", help="regimen id; with --batch DIR, a comma-separated list")
    else:
        parser.add_argument("patient", type=Path, help="patient YAML file")
        parser.add_argument("--regimen", required=True, help="regimen id (see `chemo-orders regimens`)")
    parser.add_argument("--cycle", type=int, help="cycle (course) number; default: the regimen's first")
    _add_dose_options(parser)
    parser.add_argument(
        "--acknowledge",
        action="append",
        default=[],
        metavar="CODE",
        help="acknowledge a warn-level finding (repeat; pair each with --reason)",
    )
    parser.add_argument("--reason", action="append", default=[], metavar="TEXT")


def _add_dose_options(parser: argparse.ArgumentParser) -> None:
    """How doses are calculated: shared by calc, render and verify (read by options_from)."""
    parser.add_argument("--date", type=_date, help="calculation date YYYY-MM-DD (default today); fixes age")
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


def build_parser() -> Parser:
    parser = Parser(prog="chemo-orders", description=f"Chemotherapy order sets. {DISCLAIMER}")
    parser.add_argument("--version", action="version", version=f"chemo-orders {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("regimens", help="list regimens with indications")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("show", help="print one regimen for review")
    p.add_argument("regimen_id")
    p = sub.add_parser("calc", help="calculate doses and run the safety rules")
    _add_calculation_options(p)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("render", help="render the order set to PDF (and HTML)")
    _add_calculation_options(p, batch=True)
    p.add_argument("-o", "--output", required=True, type=Path, help="PDF file to write (with --batch: a folder)")
    p.add_argument(
        "--batch", type=Path, help="folder of patient files (× --regimen list) or CSV patient,regimen[,cycle]"
    )
    p.add_argument("--jobs", type=int, help="worker processes for --batch (default: every core)")
    p.add_argument("--html", type=Path, help="also write the HTML")
    p.add_argument("--paper", choices=["a4", "letter"], default="a4")
    p = sub.add_parser("verify", help="independently recalculate a prescribed order")
    p.add_argument("patient", type=Path, nargs="?", help="patient YAML file (omit with --batch)")
    p.add_argument("--prescribed", type=Path, help="prescribed order YAML")
    p.add_argument("--batch", type=Path, help="folder of prescriptions naming their patient, or CSV patient,prescribed")
    p.add_argument("--report", type=Path, help="batch: write a CSV report here")
    p.add_argument("--tolerance", default="5%", help="allowed deviation, default 5%% (at most 10%%, HOPA)")
    _add_dose_options(p)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("rule", help="explain a safety rule")
    p.add_argument("code", nargs="?", help="rule code, e.g. IND002; omit to list all")
    p = sub.add_parser("lint", help="validate regimen files")
    p.add_argument("paths", nargs="*", type=Path)
    record_cli.add_commands(sub)
    return parser


def options_from(args: argparse.Namespace, cycle: int) -> Options:
    from .dosing import Options
    from .quantities import parse_quantity
    from .rounding import load_policy
    from .units import M2, MG_PER_DL

    bsa_cap = None
    if args.bsa_cap is not None:
        text = args.bsa_cap if any(c.isalpha() for c in args.bsa_cap) else f"{args.bsa_cap} m**2"
        bsa_cap = parse_quantity(text, "--bsa-cap", "[length] ** 2")
        if not 1 <= bsa_cap.to(M2).magnitude <= 3:
            raise InputError("--bsa-cap", args.bsa_cap, "implausible: outside 1-3 m²")
    scr_floor = None
    if args.scr_floor.strip().lower() != "none":
        scr_floor = parse_quantity(args.scr_floor, "--scr-floor", "[mass] / [length] ** 3").to(MG_PER_DL)
    return Options(
        on=args.date or dt.date.today(),
        cycle=cycle,
        bsa_formula=args.bsa_formula,
        bsa_cap=bsa_cap,
        carboplatin_weight=args.carboplatin_weight,
        scr_floor=scr_floor,
        policy=load_policy(args.policy) if args.policy else None,
    )


def order_set_from(args: argparse.Namespace) -> OrderSet:
    from .orderset import Acknowledgement, build
    from .patient import load_patient
    from .regimen import load_regimen

    if len(args.acknowledge) != len(args.reason):
        raise InputError("--reason", len(args.reason), f"give one --reason per --acknowledge ({len(args.acknowledge)})")
    patient = load_patient(args.patient)
    regimen = load_regimen(args.regimen)
    cycle = args.cycle if args.cycle is not None else regimen.first_cycle()
    acks = tuple(Acknowledgement(c.upper(), r) for c, r in zip(args.acknowledge, args.reason, strict=True))
    return build(patient, regimen, options_from(args, cycle), acks, args.patient.read_bytes())


def cmd_calc(args: argparse.Namespace) -> int:
    from .orderset import dumps, to_json
    from .report import calc_text

    order_set = order_set_from(args)
    print(dumps(to_json(order_set)) if args.json else calc_text(order_set))
    return EXIT_BLOCKED if order_set.blocked else EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from .pdf import PdfProcess

    if args.batch is not None:
        from .batch import render_batch

        return render_batch(args)
    if args.patient is None or args.regimen is None:
        raise InputError("usage", "render", "give PATIENT and --regimen ID (or --batch)")
    if args.output.suffix.lower() != ".pdf":
        raise InputError("--output", str(args.output), "expected a .pdf file name")
    helper = PdfProcess()  # forked before the heavy imports below, so both run at once
    try:
        from .files import write_atomic
        from .orderset import calc_record
        from .render import build_view, render_html
        from .report import calc_text

        order_set = order_set_from(args)
        if order_set.blocked:
            print(calc_text(order_set))
            print(f"Nothing written: {args.output} (blocked)", file=sys.stderr)
            return EXIT_BLOCKED
        html = render_html(build_view(order_set, args.paper))
        pdf = helper.render(html, calc_record(order_set))
    finally:
        helper.close()
    if args.html is not None:
        write_atomic(args.html, html.encode("utf-8"))
    write_atomic(args.output, pdf)
    print(f"wrote {args.output}" + (f" and {args.html}" if args.html else ""))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import load_and_verify, parse_tolerance

    tolerance = parse_tolerance(args.tolerance)
    if args.batch is not None:
        from .batch import verify_batch

        return verify_batch(args, tolerance)
    if args.patient is None or args.prescribed is None:
        raise InputError("usage", "verify", "give PATIENT and --prescribed FILE (or --batch DIR_OR_CSV)")
    result = load_and_verify(args.patient, args.prescribed, lambda cycle: options_from(args, cycle), tolerance)
    if args.json:
        from .orderset import dumps
        from .verify import to_json

        print(dumps(to_json(result)))
    else:
        from .verify_report import print_verification

        print_verification(result)
    return EXIT_BLOCKED if result.blocked else EXIT_OK if result.passed else EXIT_DISCREPANCY


def cmd_regimens(args: argparse.Namespace) -> int:
    from .orderset import dumps
    from .regimen import all_regimens
    from .report import regimen_summary, regimens_text

    regimens = all_regimens()
    if args.json:
        print(dumps({"regimens": [regimen_summary(r) for r in regimens]}))
    else:
        print(regimens_text(regimens))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from .regimen import load_regimen
    from .report import regimen_text

    print(regimen_text(load_regimen(args.regimen_id)))
    return EXIT_OK


def cmd_rule(args: argparse.Namespace) -> int:
    from .rules import BY_CODE, RULES

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
    from .lint import lint_paths

    problems = lint_paths(args.paths)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else "clean")
    return EXIT_INPUT if problems else EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "calc": cmd_calc,
    "render": cmd_render,
    "verify": cmd_verify,
    "regimens": cmd_regimens,
    "show": cmd_show,
    "rule": cmd_rule,
    "lint": cmd_lint,
    **record_cli.COMMANDS,
}


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
        print(
            f"chemo-orders: internal error: {error.__class__.__name__}: {error} (rerun with --debug)", file=sys.stderr
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
