"""The record's commands (design §10.5): ``users``, ``orders``, ``audit``, ``db``.

argparse stops here: each ``cmd_*`` turns its Namespace into typed values and calls a
command function, which calls the service (``record.orders``, ``record.users``) and prints.
Exit codes as elsewhere: 0 ok, 2 bad input or an unknown order id (an InputError, printed by
``chemo_orders.cli.main``), 3 refused, 4 a discrepancy (a prescription that disagrees, an
audit chain that does not verify). ``orders prepare|verify|release|cancel --user NAME`` act
only once NAME has proven who they are (design §11.6): their password on stdin with
``--password-stdin``, else one of their API tokens in ``$CHEMO_ORDERS_TOKEN``; the proven
:class:`~.users.Identity`, not the typed name, goes to the record. This module imports only the standard library at load
time, so the other commands start as fast as before; the database layer loads on use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..record import Refused
from ..tables import PIPED_WIDTH, Row, layout
from ..text import option_number
from .arguments import Parser, add_order_options, settings_from
from .exits import EXIT_BLOCKED, EXIT_DISCREPANCY, EXIT_OK

if TYPE_CHECKING:
    from ..record.db import Database
    from ..record.orders import OrderRecord, PrepareRequest, VerifyRequest
    from ..record.tables import AuditEvent, Role
    from ..record.users import Identity

EXIT_REFUSED = EXIT_BLOCKED
TOKEN_ENV = "CHEMO_ORDERS_TOKEN"
# tables.ROLES and tables.STATES, without loading SQLAlchemy (a test checks that they agree)
ROLE_NAMES = ("prescriber", "pharmacist", "nurse", "admin")
STATE_NAMES = ("prepared", "verified", "released", "cancelled")


# Order numbers are the record's integer keys (32-bit in PostgreSQL): a larger number is bad
# input, not a database overflow (``orders show 999…9`` exited 1).
MAX_ORDER_ID = 2**31 - 1
_order_id = option_number("ORDER_ID", 1, MAX_ORDER_ID)


def add_commands(subparsers: argparse._SubParsersAction[Parser]) -> None:
    """Add ``users``, ``orders``, ``audit`` and ``db`` to the top-level subparsers."""
    database = Parser(add_help=False)
    database.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://… (default: $CHEMO_ORDERS_DB)")
    as_json = Parser(add_help=False)
    as_json.add_argument("--json", action="store_true")
    user = Parser(add_help=False)
    user.add_argument("--user", required=True, metavar="NAME", help="who does this (see `users add`)")
    user.add_argument(
        "--password-stdin", action="store_true", help=f"NAME's password from stdin (else NAME's token in ${TOKEN_ENV})"
    )

    users = subparsers.add_parser("users", help="users of the order record").add_subparsers(
        dest="users_command", required=True
    )
    p = users.add_parser("add", parents=[database], help="add a user")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", required=True, choices=ROLE_NAMES)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (never argv)")
    p = users.add_parser(
        "token", parents=[database], help="issue an API token for NAME's password on stdin (printed once, last line)"
    )
    p.add_argument("name", metavar="NAME")

    orders = subparsers.add_parser("orders", help="prepared, verified and released orders").add_subparsers(
        dest="orders_command", required=True
    )
    p = orders.add_parser("prepare", parents=[database, user, as_json], help="calculate and record an order")
    p.add_argument("patient", type=Path, help="patient YAML file")
    p.add_argument("--regimen", required=True, help="regimen id")
    add_order_options(p)  # the same --cycle, --date, --bsa-formula, --policy … as calc
    p.add_argument(
        "--no-carry-forward",
        action="store_true",
        help="do not take the changes of this patient's last verified or released order of the regimen",
    )
    p.add_argument("--plan", metavar="PLAN", help="the treatment plan this course belongs to (plans/*.yaml)")
    p = orders.add_parser("verify", parents=[database, user, as_json], help="second pharmacist's verification")
    p.add_argument("order_id", type=_order_id, metavar="ORDER_ID")
    p.add_argument("--prescribed", type=Path, help="an independently written prescription to recalculate")
    p.add_argument("--tolerance", default="5%", help="with --prescribed: allowed deviation (default 5%%)")
    p.add_argument("--reason", metavar="TEXT", help="why, if verifying without --prescribed (kept in the audit trail)")
    p = orders.add_parser("release", parents=[database, user, as_json], help="release a verified order")
    p.add_argument("order_id", type=_order_id, metavar="ORDER_ID")
    p.add_argument(
        "--labs-checked",
        metavar="TEXT",
        help="the day's values of criteria labs the order was prepared without (e.g. 'ANC 2.1, platelets 180')",
    )
    p = orders.add_parser("cancel", parents=[database, user, as_json], help="cancel a prepared or verified order")
    p.add_argument("order_id", type=_order_id, metavar="ORDER_ID")
    p.add_argument("--reason", required=True, metavar="TEXT")
    p = orders.add_parser("list", parents=[database, as_json], help="list orders")
    p.add_argument("--patient", metavar="MRN")
    p.add_argument("--state", choices=STATE_NAMES)
    p = orders.add_parser("next", parents=[database, as_json], help="the next course of a patient's plan, and when")
    p.add_argument("patient_id", metavar="MRN")
    p.add_argument("--plan", metavar="PLAN", help="default: the plan the patient's last planned order names")
    p = orders.add_parser("show", parents=[database, as_json], help="one order with its calc record")
    p.add_argument("order_id", type=_order_id, metavar="ORDER_ID")
    p = orders.add_parser("fhir", parents=[database], help="a verified or released order as a FHIR Bundle")
    p.add_argument("order_id", type=_order_id, metavar="ORDER_ID")
    p.add_argument("--fhir-version", choices=["r4", "r5"], default="r5", help="R4 is written with R4B models")
    p = orders.add_parser("pdf", parents=[database], help="re-render an order's PDF from the record")
    p.add_argument("order_id", type=_order_id, metavar="ORDER_ID")
    p.add_argument("-o", "--output", required=True, type=Path, help="PDF file to write")
    p.add_argument("--paper", choices=["a4", "letter"], default="a4")

    p = subparsers.add_parser("audit", parents=[database], help="the audit trail")
    p.add_argument("--verify", action="store_true", help="check the hash chain and every row against it")
    p.add_argument("--order", type=_order_id, metavar="ORDER_ID", help="only this order's events")
    p.add_argument("--checkpoint", type=Path, metavar="FILE", help="with --verify: the record must contain it")
    p.add_argument("--export", type=Path, metavar="FILE", help="write a signed checkpoint for a second system")

    db = subparsers.add_parser("db", help="the record's database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", parents=[database], help="apply schema migrations")
    p = db.add_parser("backup", parents=[database], help="online backup of an SQLite record")
    p.add_argument("file", type=Path, metavar="FILE")


def _open(url: str | None) -> Database:
    from ..record.schema import open_database

    return open_database(url)


def _refused(error: Refused) -> int:
    print(f"chemo-orders: refused: {error}", file=sys.stderr)
    return EXIT_REFUSED


# users


def cmd_users(args: argparse.Namespace) -> int:
    if args.users_command == "add":
        password = _read_password() if args.password_stdin else None
        return users_add(args.db, args.name, args.role, password)
    return users_token(args.db, args.name, _read_password())


def _read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def users_add(url: str | None, name: str, role: Role, password: str | None) -> int:
    from ..record.users import NewUser, add_user

    with _open(url).write() as session:
        name = add_user(session, NewUser(name, role, password)).name  # as stored: one spelling
    print(f"added {name} ({role})" + ("" if password is not None else "; no password set"))
    return EXIT_OK


def users_token(url: str | None, name: str, password: str) -> int:
    """A token for NAME, who proves who they are by their password (never anyone's token for
    whoever asks)."""
    from ..record.users import issue_token, prove

    database = _open(url)
    try:
        identity = prove(database, name, password=password)
    except Refused as error:
        return _refused(error)
    with database.write() as session:
        token = issue_token(session, identity)
    print(f"API token for {identity.name} (shown once; the record keeps only its hash):")
    print(token)
    return EXIT_OK


# orders


def cmd_orders(args: argparse.Namespace) -> int:
    command = args.orders_command
    if command in ("prepare", "verify", "release", "cancel"):
        try:
            identity = _identity(args.db, args.user, args.password_stdin)
        except Refused as error:
            return _refused(error)
        if command == "prepare":
            return orders_prepare(args.db, _prepare_request(args, identity), args.json)
        if command == "verify":
            return orders_verify(args.db, _verify_request(args, identity), args.json)
        if command == "release":
            return orders_release(args.db, args.order_id, identity, args.json, args.labs_checked)
        return orders_cancel(args.db, args.order_id, identity, args.reason, args.json)
    if command == "list":
        return orders_list(args.db, args.patient, args.state, args.json)
    if command == "show":
        return orders_show(args.db, args.order_id, args.json)
    if command == "next":
        return orders_next(args.db, args.patient_id, args.plan, args.json)
    if command == "fhir":
        return orders_fhir(args.db, args.order_id, args.fhir_version)
    return orders_pdf(args.db, args.order_id, args.output, args.paper)


def _identity(url: str | None, name: str, password_stdin: bool) -> Identity:
    """NAME, proven by the password on stdin or the token in the environment (else refused)."""
    import os

    from ..record.users import prove

    if password_stdin:
        return prove(_open(url), name, password=_read_password())
    return prove(_open(url), name, token=os.environ.get(TOKEN_ENV, "").strip() or None)


def _prepare_request(args: argparse.Namespace, identity: Identity) -> PrepareRequest:
    from ..record.orders import PrepareRequest
    from ..service import dose_changes

    if len(args.acknowledge) != len(args.reason):
        raise InputError("--reason", len(args.reason), f"give one --reason per --acknowledge ({len(args.acknowledge)})")
    return PrepareRequest(
        patient_file=_read(args.patient, "patient file"),
        patient_source=str(args.patient),
        regimen_id=args.regimen,
        user=identity,
        cycle=args.cycle,
        on=args.date,
        settings=settings_from(args),
        acknowledgements=tuple(zip(args.acknowledge, args.reason, strict=True)),
        changes=dose_changes(args.change, args.change_reason),
        carry_forward=not args.no_carry_forward,
        plan=args.plan,
    )


def _verify_request(args: argparse.Namespace, identity: Identity) -> VerifyRequest:
    from ..record.orders import VerifyRequest
    from ..verify import parse_tolerance

    prescribed = None if args.prescribed is None else _read(args.prescribed, "prescription")
    tolerance = parse_tolerance(args.tolerance)
    return VerifyRequest(args.order_id, identity, prescribed, str(args.prescribed), tolerance, reason=args.reason)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(what, str(path), "file not found") from None
    except OSError as exc:
        raise InputError(what, str(path), f"cannot read file ({exc.__class__.__name__})") from None


def _dumps(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False)


def orders_prepare(url: str | None, request: PrepareRequest, as_json: bool) -> int:
    from ..record.orders import BlockedPrepare, prepare

    database = _open(url)
    try:
        record = prepare(database, request)
    except BlockedPrepare as error:
        if as_json:
            print(_dumps(error.calc))
        else:
            from ..report import calc_text

            print(calc_text(error.order_set))
        return _refused(error)
    except Refused as error:
        return _refused(error)
    return _shown(record, as_json)


def orders_verify(url: str | None, request: VerifyRequest, as_json: bool) -> int:
    from ..record.orders import verify

    try:
        outcome = verify(_open(url), request)
    except Refused as error:
        return _refused(error)
    if as_json:
        data = outcome.order.as_json()
        if outcome.check_json is not None:
            data["check"] = outcome.check_json
        print(_dumps(data))
    else:
        if outcome.check is not None:
            from ..verify_report import print_verification

            print_verification(outcome.check)
        print(order_text(outcome.order))
    if not outcome.passed:
        print(f"chemo-orders: order {request.order_id} not verified: the prescription disagrees", file=sys.stderr)
        return EXIT_DISCREPANCY
    return EXIT_OK


def orders_release(
    url: str | None, order_id: int, user: Identity, as_json: bool, labs_checked: str | None = None
) -> int:
    from ..record.orders import release

    return _acted(lambda: release(_open(url), order_id, user, labs_checked), as_json)


def orders_cancel(url: str | None, order_id: int, user: Identity, reason: str, as_json: bool) -> int:
    from ..record.orders import cancel

    return _acted(lambda: cancel(_open(url), order_id, user, reason), as_json)


def _acted(action: Callable[[], OrderRecord], as_json: bool) -> int:
    """An order moved on (released, cancelled): the order as it now stands, or why the record
    refused to move it."""
    try:
        record = action()
    except Refused as error:
        return _refused(error)
    return _shown(record, as_json)


def _shown(record: OrderRecord, as_json: bool) -> int:
    print(_dumps(record.as_json()) if as_json else order_text(record))
    return EXIT_OK


def orders_next(url: str | None, patient_id: str, plan: str | None, as_json: bool) -> int:
    from ..record.orders import next_course

    found = next_course(_open(url), patient_id, plan)
    if as_json:
        print(_dumps(found.as_json()))
    elif found.course is None:
        print(f"{patient_id}: every course of {found.plan} is on the record")
    else:
        due = f", due {found.due.isoformat()}" if found.due else ""
        print(f"{patient_id}: next in {found.plan} is course {found.course}, {found.regimen} cycle {found.cycle}{due}")
    return EXIT_OK


def orders_list(url: str | None, patient: str | None, state: str | None, as_json: bool) -> int:
    from ..record.orders import list_orders

    records = list_orders(_open(url), patient, state)
    if as_json:
        print(_dumps({"orders": [r.as_json() for r in records]}))
    else:
        for r in records:
            print(f"{r.order_id:>6}  {r.state:<9}  {r.patient_id:<16} {r.regimen} cycle {r.cycle}  by {r.prepared_by}")
        print(f"{len(records)} order(s)")
    return EXIT_OK


def orders_show(url: str | None, order_id: int, as_json: bool) -> int:
    from ..record.orders import show

    return _shown(show(_open(url), order_id), as_json)


def orders_fhir(url: str | None, order_id: int, version: str) -> int:
    """The logic is in record/fhir_export.py; this only prints (exit 3 when not verified)."""
    from ..fhir.export import Refused as NotExported
    from ..fhir.validation import validated_json
    from ..record.fhir_export import recorded_order_bundle

    try:
        bundle = recorded_order_bundle(_open(url), order_id, "r4" if version == "r4" else "r5")
    except (Refused, NotExported) as error:
        print(f"chemo-orders: refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    print(validated_json(bundle, "r4" if version == "r4" else "r5"))
    return EXIT_OK


def orders_pdf(url: str | None, order_id: int, output: Path, paper: str) -> int:
    from ..files import write_atomic
    from ..record.orders import pdf

    if output.suffix.lower() != ".pdf":
        raise InputError("--output", str(output), "expected a .pdf file name")
    try:
        data = pdf(_open(url), order_id, paper)
    except Refused as error:
        return _refused(error)
    write_atomic(output, data)
    print(f"wrote {output}")
    return EXIT_OK


def order_text(record: OrderRecord) -> str:
    """A few lines for the terminal: who did what, and each dose as calculated."""
    calc = record.calc
    lines = [
        f"Order {record.order_id}: {record.state} — {calc['patient']['id']}, {record.regimen} "
        f"v{record.regimen_version} cycle {record.cycle}, calculated on {calc['calculated_on']}",
        f"  prepared by {record.prepared_by} at {record.prepared_at:%Y-%m-%d %H:%M} UTC",
    ]
    if record.verified_by:
        lines.append(f"  verified by {record.verified_by} at {record.verified_at:%Y-%m-%d %H:%M} UTC")
    if record.released_by:
        lines.append(f"  released by {record.released_by} at {record.released_at:%Y-%m-%d %H:%M} UTC")
    if record.cancelled_by:
        lines.append(f"  cancelled by {record.cancelled_by}: {record.cancel_reason}")
    for order in calc["orders"]:
        final = order["final"]
        days = ", ".join(map(str, order["days"]))
        lines.append(f"  {order['display_name']} {final['value']} {final['unit']} {order['route']} day {days}")
    for finding in calc["findings"]:
        if finding["severity"] != "info":
            lines.append(f"  {finding['severity'].upper()} {finding['rule']}: {finding['message']}")
    for rule, reason in record.acknowledgements:
        lines.append(f"  ACKNOWLEDGED {rule}: {reason}")
    changes = record.changes or {}
    for change in changes.get("changes", []):
        lines.append(f"  CHANGED {change['drug']} {change['change']}: {change['reason']}")
    if changes.get("carried_forward"):
        lines.append(f"  changes carried forward from order {changes['carried_forward']['order_id']}")
    return "\n".join(lines)


# audit and db


def cmd_audit(args: argparse.Namespace) -> int:
    if args.checkpoint is not None and not args.verify:
        raise InputError("--checkpoint", str(args.checkpoint), "give it with --verify")
    if args.export is not None:
        return audit_export(args.db, args.export)
    return audit_verify(args.db, args.checkpoint) if args.verify else audit_list(args.db, args.order)


def audit_list(url: str | None, order_id: int | None) -> int:
    from ..record.audit import events
    from ..tables import output_width

    with _open(url).read() as session:
        print(audit_text(events(session, order_id), output_width()))
    return EXIT_OK


def audit_text(events: Iterable[AuditEvent], width: int = PIPED_WIDTH) -> str:
    """``audit``'s event list: number, time, actor, action and order aligned; the detail (JSON,
    often long) beside them when it fits, else on its own indented line."""
    rows = [
        Row(
            (str(e.seq), str(e.at), e.actor or "-", e.action, str(e.order_id) if e.order_id is not None else ""),
            e.detail_json,
        )
        for e in events
    ]
    return "\n".join(layout(("Seq", "At", "Actor", "Action", "Order"), rows, width, right=frozenset({0})))


def audit_verify(url: str | None, checkpoint: Path | None = None) -> int:
    from ..record.audit import read_anchor, verify

    anchor = None if checkpoint is None else read_anchor(checkpoint, "--checkpoint")
    with _open(url).read() as session:
        problems = verify(session, anchor)
    if problems:
        print(f"audit chain broken: {problems[0]}")
        for problem in problems[1:]:
            print(f"  also: {problem}")
        return EXIT_DISCREPANCY
    print("audit chain intact; every recorded row matches its last event")
    if anchor is not None:
        print(f"the record contains checkpoint event {anchor.seq} of {anchor.at}")
    return EXIT_OK


def audit_export(url: str | None, target: Path) -> int:
    """A signed checkpoint, written only for a record that verifies (never a broken one's)."""
    from ..files import write_atomic
    from ..record.audit import canonical, export, verify

    with _open(url).read() as session:
        problems = verify(session)
        if problems:
            print(f"audit chain broken: {problems[0]}; no checkpoint written")
            return EXIT_DISCREPANCY
        anchor = export(session)
    write_atomic(target, (canonical(anchor.as_json()) + "\n").encode("utf-8"))
    print(f"wrote {target}: checkpoint of {anchor.seq} events, head {anchor.head}")
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    return db_upgrade(args.db) if args.db_command == "upgrade" else db_backup(args.db, args.file)


def db_upgrade(url: str | None) -> int:
    from ..record.db import connect, resolve_url
    from ..record.schema import upgrade

    database = connect(resolve_url(url))
    print(f"{database.display_url}: schema at revision {upgrade(database)}")
    return EXIT_OK


def db_backup(url: str | None, target: Path) -> int:
    from ..record.db import backup

    backup(_open(url), target)
    print(f"wrote {target}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "users": cmd_users,
    "orders": cmd_orders,
    "audit": cmd_audit,
    "db": cmd_db,
}
