"""``chemo-orders serve``: the workbench under uvicorn (design §10.6).

It binds 127.0.0.1 unless told otherwise: a workbench reachable from the network belongs
behind a TLS proxy, and ``--behind-tls`` then marks the cookies Secure (``__Host-``) and
sends HSTS. This module imports only the standard library until the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def add_commands(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="the pharmacy workbench (web) on http://HOST:PORT")
    p.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://… (default: $CHEMO_ORDERS_DB)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--behind-tls", action="store_true", help="served through HTTPS (a TLS proxy): Secure cookies and HSTS"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from ..record.schema import open_database
    from .app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.host not in LOOPBACK and not args.behind_tls:
        print(
            f"chemo-orders: warning: serving plain HTTP on {args.host}; put it behind TLS and use --behind-tls",
            file=sys.stderr,
        )
    app = create_app(open_database(args.db), secure=args.behind_tls)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="info", server_header=False)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"serve": cmd_serve}
