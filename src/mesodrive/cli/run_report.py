"""The words and the exit code for a treatment that could not start or resume (`run`,
`resume`, `clear`): one place, so that the same failure reads the same in every command."""

from __future__ import annotations

import argparse
import shlex
import sys

from mesodrive.cli.exit_codes import ExitCode
from mesodrive.controller.treatment import Failure, TreatmentError


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def report(exc: TreatmentError, args: argparse.Namespace) -> int:
    """The words and the exit code for a treatment that could not start or resume."""
    k = exc.kind
    if k in (Failure.PLAN_INVALID, Failure.NOT_ALLOWED_ON_DEVICE, Failure.NOT_RESUMABLE):
        sent = " (nothing was sent)" if k is Failure.NOT_ALLOWED_ON_DEVICE else ""
        _err(f"{'error: ' if k is Failure.NOT_RESUMABLE else ''}{exc}{sent}"
             + (f":\n{exc.issues}" if exc.issues is not None else ""))
        return ExitCode.FAILED
    if k is Failure.PLAN_FILE:
        _err(f"error: {exc}" + (f":\n{exc.issues}" if exc.issues is not None else ""))
        return ExitCode.USAGE
    if k is Failure.RECORDS_PATH:
        _err(f"error: records: {exc}")
        return ExitCode.USAGE
    if k is Failure.NO_SESSION:
        _err(f"error: {exc}")
        return ExitCode.USAGE
    if k is Failure.RECORDS_DAMAGED:
        _err(f"error: {exc}\n`mesodrive records verify` checks the whole file; restore a damaged "
             f"file from a backup")
        return ExitCode.FAILED
    if k is Failure.DEVICE_STOPPED:
        _err(f"error: {exc}: nothing was started and nothing recorded.\nCheck the patient and "
             f"the device, then clear it (the reason is recorded):\n  mesodrive clear"
             f"{same_place(args)} --reason TEXT")
        return ExitCode.DEVICE
    if k is Failure.NO_PROFILE:
        _err(f"error: {exc}.\nNothing was started and nothing recorded. To treat uncalibrated "
             f"anyway, a technician gives the reason (recorded in the session): add "
             f"--no-profile-reason TEXT")
        return ExitCode.DEVICE
    _err(f"error: {exc}")
    return ExitCode.DEVICE


def same_place(args: argparse.Namespace) -> str:
    """The options that name this device and these records, for a command to copy."""
    device = f" --device {shlex.quote(args.device)}" if getattr(args, "device", None) else ""
    db = f" --db {shlex.quote(str(args.db))}" if getattr(args, "db", None) else ""
    return device + db
