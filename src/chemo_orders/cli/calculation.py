"""``calc``, ``render``, ``verify``, ``options`` and ``plan``: one patient's calculation.

Each command turns its arguments into a request of :mod:`chemo_orders.service` and prints
the answer; heavy libraries (weasyprint, jinja2) load inside the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..text import option_number
from .arguments import Parser, add_calculation_options, add_dose_options, calc_request_from, iso_date, settings_from
from .exits import EXIT_BLOCKED, EXIT_DISCREPANCY, EXIT_OK

# Workers beyond the cores add memory (each holds weasyprint, ~100 MB) and no speed: the
# work is CPU-bound. The bound stops a slip (--jobs 1000) from claiming a machine's memory.
MAX_JOBS = 64


def add_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("calc", help="calculate doses and run the safety rules")
    add_calculation_options(p)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("render", help="render the order set to PDF (and HTML)")
    add_calculation_options(p, batch=True)
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
    add_dose_options(p)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("options", help="every regimen for one patient: fits, preferred, why not")
    p.add_argument("patient", type=Path, help="patient YAML file")
    p.add_argument("--date", type=iso_date, help="date YYYY-MM-DD (default today); fixes age")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("plan", help="a treatment plan's calendar for one patient: course, cycle, day, date, doses")
    p.add_argument("patient", type=Path, help="patient YAML file")
    p.add_argument("--plan", required=True, help="plan id, e.g. hyper-cvad (plans/*.yaml)")
    p.add_argument("--start", type=iso_date, help="first day of the first course, YYYY-MM-DD (default today)")
    p.add_argument("--json", action="store_true")


def cmd_calc(args: argparse.Namespace) -> int:
    from ..orderset import dumps, to_json
    from ..report import calc_text
    from ..service import calculate

    order_set = calculate(calc_request_from(args))
    print(dumps(to_json(order_set)) if args.json else calc_text(order_set))
    return EXIT_BLOCKED if order_set.stopped else EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from ..files import refuse_overwriting
    from ..pdf import PdfProcess

    if args.batch is not None:
        from ..batch import RenderBatch, render_batch

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
        from ..files import write_together
        from ..orderset import calc_record
        from ..render import build_view, render_html
        from ..report import calc_text
        from ..service import calculate

        order_set = calculate(calc_request_from(args))
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
    from ..service import CheckRequest, verify
    from ..verify import parse_tolerance

    tolerance = parse_tolerance(args.tolerance)
    if args.batch is not None:
        from ..batch import verify_batch

        if args.patient is not None or args.prescribed is not None:
            raise InputError("usage", "verify", "with --batch, give no PATIENT and no --prescribed")
        from ..batch import VerifyBatch

        if args.report is not None and args.report.suffix.lower() != ".csv":
            raise InputError("--report", str(args.report), "expected a .csv file name")
        return verify_batch(VerifyBatch(args.batch, settings_from(args), tolerance, args.report))
    if args.patient is None or args.prescribed is None:
        raise InputError("usage", "verify", "give PATIENT and --prescribed FILE (or --batch DIR_OR_CSV)")
    if args.report is not None:
        raise InputError("--report", str(args.report), "a report is written for --batch only")
    result = verify(CheckRequest(args.patient, args.prescribed, settings_from(args), tolerance))
    if args.json:
        from ..orderset import dumps
        from ..verify import to_json

        print(dumps(to_json(result)))
    else:
        from ..verify_report import print_verification

        print_verification(result)
    return EXIT_BLOCKED if result.refused else EXIT_OK if result.passed else EXIT_DISCREPANCY


def cmd_options(args: argparse.Namespace) -> int:
    from ..options import options_text
    from ..orderset import dumps
    from ..service import treatment_options

    approach = treatment_options(args.patient, args.date)
    print(dumps(approach.as_json()) if args.json else options_text(approach))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from ..orderset import dumps
    from ..plan import calendar_text
    from ..service import treatment_plan

    data = treatment_plan(args.patient, args.plan, args.start)
    print(dumps(data) if args.json else calendar_text(data))
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "calc": cmd_calc,
    "render": cmd_render,
    "verify": cmd_verify,
    "options": cmd_options,
    "plan": cmd_plan,
}
