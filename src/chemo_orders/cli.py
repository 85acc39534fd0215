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
from .fhir.cli import add_commands as add_fhir_commands
from .fhir.cli import cmd_fhir
from .record import cli as record_cli
from .text import MAX_CYCLE, option_number
from .web import cli as web_cli

if TYPE_CHECKING:  # annotations only: the heavy modules load inside the commands
    from .orderset import OrderSet
    from .service import DoseSettings

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


# Workers beyond the cores add memory (each holds weasyprint, ~100 MB) and no speed: the
# work is CPU-bound. The bound stops a slip (--jobs 1000) from claiming a machine's memory.
MAX_JOBS = 64


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
    parser.add_argument(
        "--cycle",
        type=option_number("--cycle", 1, MAX_CYCLE),
        help="cycle (course) number; default: the regimen's first",
    )
    _add_dose_options(parser)
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


def _add_dose_options(parser: argparse.ArgumentParser) -> None:
    """How doses are calculated: shared by calc, render and verify (read by settings_from)."""
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
    p.add_argument(
        "--jobs",
        type=option_number("--jobs", 1, MAX_JOBS),
        help=f"worker processes for --batch, 1-{MAX_JOBS} (default: every core)",
    )
    p.add_argument("--html", type=Path, help="also write the HTML (written together with the PDF: both or neither)")
    p.add_argument("--paper", choices=["a4", "letter"], default="a4")
    p = sub.add_parser("verify", help="independently recalculate a prescribed order")
    p.add_argument("patient", type=Path, nargs="?", help="patient YAML file (omit with --batch)")
    p.add_argument("--prescribed", type=Path, help="prescribed order YAML")
    p.add_argument("--batch", type=Path, help="folder of prescriptions naming their patient, or CSV patient,prescribed")
    p.add_argument("--report", type=Path, help="batch: write a CSV report here (.csv)")
    p.add_argument("--tolerance", default="5%", help="allowed deviation, default 5%% (at most 10%%, HOPA)")
    _add_dose_options(p)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("options", help="every regimen for one patient: fits, preferred, why not")
    p.add_argument("patient", type=Path, help="patient YAML file")
    p.add_argument("--date", type=_date, help="date YYYY-MM-DD (default today); fixes age")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("plan", help="a treatment plan's calendar for one patient: course, cycle, day, date, doses")
    p.add_argument("patient", type=Path, help="patient YAML file")
    p.add_argument("--plan", required=True, help="plan id, e.g. hyper-cvad (plans/*.yaml)")
    p.add_argument("--start", type=_date, help="first day of the first course, YYYY-MM-DD (default today)")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("rule", help="explain a safety rule")
    p.add_argument("code", nargs="?", help="rule code, e.g. IND002; omit to list all")
    p = sub.add_parser("lint", help="validate regimen files")
    p.add_argument("paths", nargs="*", type=Path)
    add_fhir_commands(sub)
    record_cli.add_commands(sub)
    web_cli.add_commands(sub)
    return parser


def settings_from(args: argparse.Namespace) -> DoseSettings:
    """The dose options shared by calc, render and verify, as the service layer's type."""
    from .service import DoseSettings

    return DoseSettings(
        on=args.date,
        bsa_formula=args.bsa_formula,
        bsa_cap=args.bsa_cap,
        policy=args.policy,
        carboplatin_weight=args.carboplatin_weight,
        scr_floor=args.scr_floor,
    )


def order_set_from(args: argparse.Namespace) -> OrderSet:
    from .service import CalcRequest, acknowledgements, calculate, dose_changes

    request = CalcRequest(
        patient=args.patient,
        regimen=args.regimen,
        cycle=args.cycle,
        settings=settings_from(args),
        acknowledgements=acknowledgements(args.acknowledge, args.reason),
        changes=dose_changes(args.change, args.change_reason),
    )
    return calculate(request)


def cmd_calc(args: argparse.Namespace) -> int:
    from .orderset import dumps, to_json
    from .report import calc_text

    order_set = order_set_from(args)
    print(dumps(to_json(order_set)) if args.json else calc_text(order_set))
    return EXIT_BLOCKED if order_set.stopped else EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from .files import refuse_overwriting
    from .pdf import PdfProcess

    if args.batch is not None:
        from .batch import RenderBatch, render_batch

        if args.patient is not None or args.html is not None:
            raise InputError("usage", "render", "with --batch, give no PATIENT and no --html")
        if args.change:
            raise InputError("--change", args.change[0], "a dose change is for one patient: not with --batch")
        regimens = tuple(r.strip() for r in (args.regimen or "").split(",") if r.strip())
        return render_batch(
            RenderBatch(args.batch, args.output, settings_from(args), regimens, args.cycle, args.jobs, args.paper)
        )
    if args.patient is None or args.regimen is None:
        raise InputError("usage", "render", "give PATIENT and --regimen ID (or --batch)")
    if args.output.suffix.lower() != ".pdf":
        raise InputError("--output", str(args.output), "expected a .pdf file name")
    if args.html is not None and args.html.suffix.lower() not in (".html", ".htm"):
        raise InputError("--html", str(args.html), "expected a .html file name")
    outputs = [("--output", args.output), ("--html", args.html)]
    refuse_overwriting(outputs, [("PATIENT", args.patient), ("--policy", args.policy)])
    helper = PdfProcess()  # forked before the heavy imports below, so both run at once
    try:
        from .files import write_together
        from .orderset import calc_record
        from .render import build_view, render_html
        from .report import calc_text

        order_set = order_set_from(args)
        if order_set.stopped:
            print(calc_text(order_set))
            print(f"Nothing written: {args.output} ({order_set.status})", file=sys.stderr)
            return EXIT_BLOCKED
        html = render_html(build_view(order_set, args.paper))
        pdf = helper.render(html, calc_record(order_set))
    finally:
        helper.close()
    write_together([(args.output, pdf)] + ([(args.html, html.encode("utf-8"))] if args.html is not None else []))
    print(f"wrote {args.output}" + (f" and {args.html}" if args.html else ""))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .service import verify_prescription
    from .verify import parse_tolerance

    tolerance = parse_tolerance(args.tolerance)
    if args.batch is not None:
        from .batch import verify_batch

        if args.patient is not None or args.prescribed is not None:
            raise InputError("usage", "verify", "with --batch, give no PATIENT and no --prescribed")
        from .batch import VerifyBatch

        if args.report is not None and args.report.suffix.lower() != ".csv":
            raise InputError("--report", str(args.report), "expected a .csv file name")
        return verify_batch(VerifyBatch(args.batch, settings_from(args), tolerance, args.report))
    if args.patient is None or args.prescribed is None:
        raise InputError("usage", "verify", "give PATIENT and --prescribed FILE (or --batch DIR_OR_CSV)")
    if args.report is not None:
        raise InputError("--report", str(args.report), "a report is written for --batch only")
    result = verify_prescription(args.patient, args.prescribed, settings_from(args), tolerance)
    if args.json:
        from .orderset import dumps
        from .verify import to_json

        print(dumps(to_json(result)))
    else:
        from .verify_report import print_verification

        print_verification(result)
    return EXIT_BLOCKED if result.refused else EXIT_OK if result.passed else EXIT_DISCREPANCY


def cmd_options(args: argparse.Namespace) -> int:
    from .options import options_text
    from .orderset import dumps
    from .service import treatment_options

    approach = treatment_options(args.patient, args.date)
    print(dumps(approach.as_json()) if args.json else options_text(approach))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from .orderset import dumps
    from .plan import calendar_text
    from .service import treatment_plan

    data = treatment_plan(args.patient, args.plan, args.start)
    print(dumps(data) if args.json else calendar_text(data))
    return EXIT_OK


def cmd_regimens(args: argparse.Namespace) -> int:
    from .orderset import dumps
    from .regimen import all_regimens
    from .report import regimen_summary, regimens_text
    from .tables import output_width

    regimens = all_regimens()
    if args.json:
        print(dumps({"regimens": [regimen_summary(r) for r in regimens]}))
    else:
        print(regimens_text(regimens, output_width()))
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
    "options": cmd_options,
    "plan": cmd_plan,
    "show": cmd_show,
    "rule": cmd_rule,
    "lint": cmd_lint,
    "fhir": cmd_fhir,
    **record_cli.COMMANDS,
    **web_cli.COMMANDS,
}


def _database_problem(error: BaseException) -> str | None:
    """One line naming a database failure (a full disk), or None for any other error."""
    if not {"sqlalchemy", "sqlite3", "psycopg"} & sys.modules.keys():
        return None  # nothing has touched a database
    from .record.db import database_problem

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


if __name__ == "__main__":
    sys.exit(main())
