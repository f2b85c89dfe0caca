"""`mesodrive console`: serve the web console (registered in the CLI's command table).

Prints the address with its access token (`http://127.0.0.1:PORT/?token=...`); without the
token nothing is served. Loopback only, unless `--host` names another address *and* `--cert`
and `--key` give TLS; otherwise it refuses to start, saying why (exit 2). It opens a browser
only with `--open`. Exit codes as the CLI's (`mesodrive.cli.exit_codes`): 0 stopped, 2 bad
usage, 3 the server could not listen.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from mesodrive.console.config import DEFAULT_PORT, ConsoleConfig, new_token
from mesodrive.records import RecordStore

OK, USAGE, DEVICE = 0, 2, 3  # the values of cli.exit_codes.ExitCode (the console may not import the CLI)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "console", help="serve the web console (browser) for treatments",
        description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--device", metavar="URL", help="device URL (default: the built-in simulator)")
    p.add_argument("--db", type=Path, help=f"records database (default: {RecordStore.default_path()})")
    p.add_argument("--operator", help="who runs the server, for actions no page asked for "
                                      "(default: login:USER); every action from a page is "
                                      "recorded with the name entered on that page")
    p.add_argument("--plans", type=Path, metavar="DIR",
                   help="folder of plans offered on the Plan screen (default: the examples)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1); any other needs --cert and --key")
    p.add_argument("--cert", type=Path, help="TLS certificate (PEM)")
    p.add_argument("--key", type=Path, help="TLS private key (PEM)")
    p.add_argument("--open", action="store_true", help="open the console in a browser")
    p.set_defaults(func=run)


def _operator(args: argparse.Namespace) -> str | None:
    if args.operator:
        return str(args.operator)
    try:
        return f"login:{getpass.getuser()}"
    except (OSError, KeyError):
        return None


def run(args: argparse.Namespace) -> int:
    config = ConsoleConfig(device=args.device, db=args.db, token=new_token(),
                           operator=_operator(args), plans=args.plans, host=args.host, port=args.port,
                           cert=args.cert, key=args.key)
    problem = config.problem()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return USAGE
    from nicegui import ui  # the web stack loads only for this command

    from mesodrive.console.pages import build

    build(config)
    print(f"mesodrive console{' (SIMULATOR)' if config.device is None else ''}: open\n"
          f"    {config.address()}\n"
          f"The token is the key to the console: share it only with the people at the chair. "
          f"Ctrl-C stops the server.", flush=True)
    try:
        ui.run(host=config.host, port=config.port, reload=False, show=args.open,
               title="mesodrive console", show_welcome_message=False,
               ssl_certfile=str(config.cert) if config.cert else None,
               ssl_keyfile=str(config.key) if config.key else None)
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        if exc.code not in (0, None):
            print(f"error: the console could not listen on {config.host}:{config.port} "
                  f"(in use, or not allowed)", file=sys.stderr)
            return DEVICE
    return OK
