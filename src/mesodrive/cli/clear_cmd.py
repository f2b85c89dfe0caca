"""`mesodrive clear`: clear a latched emergency stop or fault, with a reason, on the record.

After an e-stop (or a fault the run did not recover from) the device stays stopped until it is
cleared; nothing can start before. The operator checks the patient and the device, then gives
a reason — asked in a terminal, or `--reason` — which is recorded (with `--operator`) in a small
"device" session of the records before the clear is sent (`controller.treatment_device` says
why a session of its own). The device then homes at the start of the next run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from mesodrive.cli import terminal
from mesodrive.cli.exit_codes import ExitCode
from mesodrive.cli.run_cmd import DISPLAY, _connect, operator_name, report
from mesodrive.controller.treatment import TreatmentError, TreatmentService, latched_stop
from mesodrive.driver.errors import DriverError
from mesodrive.records import RecordStore


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "clear", help="clear a latched emergency stop or fault (the reason is recorded)",
        description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--device", metavar="URL", help="device URL (default: the built-in simulator)")
    p.add_argument("--db", type=Path, help=f"records database (default: {RecordStore.default_path()})")
    p.add_argument("--operator", help="operator name or id, recorded (default: login:USER)")
    p.add_argument("--reason", help="why it is safe to clear, recorded (asked in a terminal)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    if args.reason is not None and not args.reason.strip():
        print("error: --reason is empty: say why it is safe to clear (it is recorded)",
              file=sys.stderr)
        return ExitCode.USAGE
    with TreatmentService(args.db, operator=operator_name(args)) as service:
        try:
            service.check_records(create=True)  # before the device
        except TreatmentError as exc:
            return report(exc, args)
        inj = _connect(args, console)
        if inj is None:
            return ExitCode.DEVICE
        with inj:
            try:
                return _clear(args, console, service, inj)
            except TreatmentError as exc:
                return report(exc, args)
            except DriverError as exc:
                print(f"error: the device: {exc}", file=sys.stderr)
                return ExitCode.DEVICE


def _clear(args: argparse.Namespace, console: Console, service: TreatmentService,
           inj: Any) -> int:
    serial = inj.capabilities.serial
    stop = latched_stop(inj)
    if stop is None:
        console.print(Text(f"device {serial} is not stopped: nothing to clear, nothing recorded"))
        return ExitCode.OK
    console.print(Text(f"device {serial} is {stop.describe()}"))
    reason = args.reason
    if reason is None:
        if not terminal.interactive():
            print("error: give the reason for clearing with --reason TEXT (no terminal to ask); "
                  "it is recorded", file=sys.stderr)
            return ExitCode.USAGE
        try:
            reason = terminal.ask_text(DISPLAY.ask, "check the patient and the device; reason "
                                                    "for clearing (recorded): ")
        except terminal.EndOfInput:
            console.print("not cleared: no reason given")
            return ExitCode.USAGE
    result = service.clear_device(inj, reason.strip())
    if result is None:
        console.print(Text(f"device {serial} is not stopped any more: nothing recorded"))
        return ExitCode.OK
    where = f"session {result.session} (`mesodrive records show {result.session}`)"
    if not result.cleared:
        print(f"error: the device did not clear: {result.problem}\nrecorded in {where}; remove "
              f"the cause and try again", file=sys.stderr)
        return ExitCode.DEVICE
    console.print(Text(f"cleared: device {serial} is idle (it homes at the next run); recorded in "
                       f"{where}"))
    return ExitCode.OK
