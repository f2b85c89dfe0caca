"""The `mesodrive` command line. Each subcommand lives in its own module and registers itself
through `register(subparsers)`; `main` only assembles them and maps errors to exit codes.

Exit codes: 0 success · 1 the job ran but did not succeed (e.g. invalid plan, failed
verification) · 2 bad usage or input · 3 device or link error · 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mesodrive import __version__
from mesodrive.cli import (
    calibrate_cmd,
    demo_cmd,
    devices_cmd,
    plan_cmd,
    records_cmd,
    run_cmd,
    sim_cmd,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEVICE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# Subcommand modules, each with `register(subparsers) -> None`; the parser's `func` runs it.
COMMANDS = [run_cmd, plan_cmd, records_cmd, demo_cmd, devices_cmd, sim_cmd, calibrate_cmd]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mesodrive", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mesodrive {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
