"""``chemo-orders serve``: the workbench under uvicorn (design §10.6).

It binds 127.0.0.1 unless told otherwise: a workbench reachable from the network belongs
behind a TLS proxy, and ``--behind-tls`` then marks the cookies Secure (``__Host-``) and
sends HSTS; ``--trusted-proxy`` names the proxy whose forwarding headers say who the client is.
This module imports only the standard library (and the project's own ``text``) until the
command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ..text import option_number
from .arguments import Parser

LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_WORKERS = 32  # processes are CPU-bound: more than the cores only add memory


def add_commands(subparsers: argparse._SubParsersAction[Parser]) -> None:
    p = subparsers.add_parser("serve", help="the pharmacy workbench (web) on http://HOST:PORT")
    p.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://… (default: $CHEMO_ORDERS_DB)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=option_number("--port", 1, 65535), default=8000, help="port (default 8000)")
    p.add_argument(
        "--behind-tls", action="store_true", help="served through HTTPS (a TLS proxy): Secure cookies and HSTS"
    )
    p.add_argument(
        "--workers",
        type=option_number("--workers", 1, MAX_WORKERS),
        default=1,
        help="app processes sharing the record (default 1)",
    )
    p.add_argument(
        "--trusted-proxy",
        metavar="ADDRESS",
        type=_proxy,
        action="append",
        default=[],
        help="a reverse proxy's address or network (repeatable): only its X-Forwarded-For or Forwarded "
        "header names the client for sign-in throttling",
    )


def _proxy(text: str) -> Any:
    from ..web.security import proxy_network

    try:
        return proxy_network(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an IP address or network (10.0.0.5, 10.0.0.0/24, ::1)") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import os

    import uvicorn

    from ..record.db import ENV_VAR, resolve_url
    from ..record.schema import open_database
    from ..web.app import SECURE_ENV, TRUSTED_PROXIES_ENV, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.host not in LOOPBACK and not args.behind_tls:
        print(
            f"chemo-orders: warning: serving plain HTTP on {args.host}; put it behind TLS and use --behind-tls",
            file=sys.stderr,
        )
    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # its progress lines name nothing useful
    database = open_database(args.db)  # migrated once, here, before any worker starts
    settings: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "access_log": False,  # it would log paths (MRNs) and queries
        "log_level": "info",
        "server_header": False,
        "proxy_headers": False,  # uvicorn's trusted any loopback peer's X-Forwarded-For; --trusted-proxy decides
    }
    proxies = tuple(args.trusted_proxy)
    if args.workers == 1:
        uvicorn.run(create_app(database, secure=args.behind_tls, trusted_proxies=proxies), **settings)
        return 0
    database.close()
    os.environ[ENV_VAR] = resolve_url(args.db).render_as_string(hide_password=False)  # for the workers
    os.environ[SECURE_ENV] = "1" if args.behind_tls else "0"
    os.environ[TRUSTED_PROXIES_ENV] = ",".join(str(p) for p in proxies)
    uvicorn.run("chemo_orders.web.app:from_environment", factory=True, workers=args.workers, **settings)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"serve": cmd_serve}
