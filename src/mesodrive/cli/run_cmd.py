"""`mesodrive run PLAN` and `mesodrive resume SESSION`: a terminal front end on the treatment
service (`mesodrive.controller.treatment`), which does everything that is not input/output.

With no `--device`, the built-in simulator runs in real time and the output says SIMULATOR.
Ctrl-C pauses at the next shot boundary and asks: resume or abort (without a terminal: abort);
a second Ctrl-C leaves the session open and says how to resume it (exit 130).
Ctrl-\\ (SIGQUIT, also without a terminal) or typing e + Enter is the EMERGENCY STOP: the needle
retracts at once, latched until `mesodrive clear`.

The calibration profile: the newest valid one stored for the device's serial and needle type
is applied and printed (`controller.treatment_profile`); without one a real device is refused
unless `--no-profile-reason TEXT` (recorded), the simulator only warns.

The parts: this module (arguments, the order of a start or a resume), `run_report` (failures in
words and exit codes), `run_prompts` (the screening and the alarm questions), `run_live` (the
running treatment in the terminal).

Exit codes: `mesodrive.cli.exit_codes.ExitCode` (README: "Exit codes").
"""

from __future__ import annotations

import argparse
import getpass
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from mesodrive.cli import terminal
from mesodrive.cli.exit_codes import ExitCode
from mesodrive.cli.plan_cmd import summary_lines
from mesodrive.cli.run_live import DISPLAY, execute, time_left
from mesodrive.cli.run_prompts import policy, screening
from mesodrive.cli.run_report import report, same_place
from mesodrive.cli.terminal import Terminal
from mesodrive.controller.treatment import (
    DEFAULT_NEEDLE,
    Failure,
    ProfileChoice,
    SessionEnded,
    TreatmentError,
    TreatmentService,
    connect_device,
)
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.records import RecordStore

__all__ = ["DISPLAY", "SIMULATOR_URL", "operator_name", "register", "report", "resume", "run",
           "same_place", "simulator_url", "time_left"]

SIMULATOR_URL = "sim://?seed=1&realtime=1"
_Terminal = Terminal  # the name the terminal tests know


RUN_HELP = """\
Run a treatment plan: check it against its product library, connect (no --device: the built-in
simulator), refuse a device left e-stopped (`mesodrive clear`), ask the contraindication
screening (or --yes), then inject point by point on the device clock; every shot is recorded.

keys during a run:
  Ctrl-C             pause at the next shot boundary, then [r]esume or [a]bort
  Ctrl-C twice       exit at once; the session stays open for `mesodrive resume SESSION`
  Ctrl-\\ or e Enter  EMERGENCY STOP (the device latches; `mesodrive clear` afterwards)
  Enter              in triggered mode: fire the next point (as the pedal does)
on an alarm (occlusion, empty syringe, contact lost, stall, link lost, late shot) it asks
retry / skip point (with a reason) / abort; with --yes or without a terminal it aborts."""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run", help="run a treatment plan on the injector", description=RUN_HELP)
    p.add_argument("plan", type=Path, help="plan file (TOML)")
    _common(p)
    p.set_defaults(func=run)
    r: argparse.ArgumentParser = sub.add_parser("resume", help="resume a session after a host crash")
    r.add_argument("session", type=int, help="session id (see `mesodrive records list`)")
    _common(r)
    r.set_defaults(func=resume)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", metavar="URL", help="device URL (default: the built-in simulator)")
    p.add_argument("--db", type=Path, help=f"records database (default: {RecordStore.default_path()})")
    p.add_argument("--yes", action="store_true",
                   help="screening confirmed and recovery questions answered 'abort' (no terminal)")
    p.add_argument("--operator", help="operator name or id, on every operator action recorded "
                                      "(default: login:USER)")
    p.add_argument("--needle", metavar="TYPE", default=DEFAULT_NEEDLE,
                   help="needle/syringe type fitted: selects the calibration profile made with "
                        f"it (default: {DEFAULT_NEEDLE})")
    p.add_argument("--no-profile-reason", metavar="TEXT",
                   help="technician's reason to treat a real device that has no valid "
                        "calibration profile (recorded; without it such a device is refused)")


def operator_name(args: argparse.Namespace) -> str | None:
    """--operator, else the login name (marked as such): someone is always on the record."""
    if args.operator:
        return str(args.operator)
    try:
        return f"login:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return None


def _interactive() -> bool:
    return terminal.interactive()


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _profile(service: TreatmentService, inj: Injector, args: argparse.Namespace,
             console: Console) -> ProfileChoice:
    """Choose the calibration profile (TreatmentError if refused) and say what it is."""
    choice = service.choose_profile(inj, needle=args.needle, override=args.no_profile_reason)
    for level, line in choice.messages():
        if level == "warning":
            console.print(Text.assemble(("warning", "bold yellow"), f": {line}"))
        else:
            console.print(Text(line))
    return choice


# ----- run ---------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    operator = operator_name(args)
    with TreatmentService(args.db, operator=operator) as service:
        try:
            plan = service.load_plan(args.plan)  # before the device: nothing is sent
            service.check_records(create=True)
        except TreatmentError as exc:
            return report(exc, args)
        inj = _connect(args, console)
        if inj is None:
            return ExitCode.DEVICE
        with inj:
            try:
                service.refuse_latched(inj)  # before the screening and before any session
                vplan = service.validate_for_device(plan, inj)
                profile = _profile(service, inj, args, console)
            except TreatmentError as exc:
                return report(exc, args)
            except DriverError as exc:
                _err(f"error: the device: {exc}")
                return ExitCode.DEVICE
            # What is about to happen, before anything moves (what `plan check` shows).
            for line in summary_lines(vplan, args.plan):
                console.print(Text(line))
            confirmed = screening(args, console, operator)
            if confirmed is None:
                return ExitCode.USAGE
            try:
                treatment = service.start(vplan, inj, confirmed, source=str(args.plan),
                                          policy=policy(args, console, vplan), profile=profile)
            except TreatmentError as exc:
                return report(exc, args)
            console.print(f"session [bold]{treatment.session}[/] · {len(vplan.points)} points · "
                          f"{vplan.estimate.total_volume_ul:.0f} µL · "
                          f"~{vplan.estimate.duration_s:.0f} s")
            return execute(treatment, console, same_place(args))


def resume(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    with TreatmentService(args.db or RecordStore.default_path(),
                          operator=operator_name(args)) as service:
        try:
            target = service.prepare_resume(args.session)
        except SessionEnded as exc:
            console.print(Text(str(exc)))  # stored text: never markup
            return ExitCode.OK if exc.status == "completed" else ExitCode.FAILED
        except TreatmentError as exc:
            if exc.kind is Failure.RECORDS_PATH:  # a missing file, a folder, read-only...
                _err(f"error: {exc}")
                return ExitCode.USAGE
            return report(exc, args)
        inj = _connect(args, console)
        if inj is None:
            return ExitCode.DEVICE
        with inj:
            try:
                profile = _profile(service, inj, args, console)
                treatment, state = service.resume(target, inj, profile=profile,
                                                  policy=policy(args, console, target.plan))
            except TreatmentError as exc:
                return report(exc, args)
            except DriverError as exc:  # while settling the open shots: nothing was sent
                _err(f"error: the device: {exc}\nnothing was sent; the session stays open")
                return ExitCode.DEVICE
            for row in state.settled:
                console.print(Text(f"shot {row.index} (point {row.point}): {row.state} — "
                                   f"{row.reason}"))
            delivered = len(state.delivered) - len(state.partial)  # cut short: given, not delivered
            console.print(f"resuming session {args.session}: {delivered} of "
                          f"{len(target.plan.points)} points already delivered "
                          f"({len(state.uncertain)} uncertain), {len(state.partial)} cut short, "
                          f"{len(state.skipped)} skipped")
            return execute(treatment, console, same_place(args))


# ----- shared ------------------------------------------------------------------------------------
def simulator_url(db: str | Path | None) -> str:
    """The built-in simulator, with its non-volatile shot journal and its truth log (what it
    really injected, a line when a shot starts moving and one when it ends) beside the records
    database: it dies with this process, and after a kill its next boot still knows what the
    last one did, so `resume` settles a shot exactly instead of counting it uncertain."""
    folder = Path(db or RecordStore.default_path()).parent
    nvm = urllib.parse.quote(str(folder / "simulator-nvm.jsonl"))
    truth = urllib.parse.quote(str(folder / "simulator-shots.jsonl"))
    return f"{SIMULATOR_URL}&nvm={nvm}&shot_log={truth}"


def _connect(args: argparse.Namespace, console: Console) -> Injector | None:
    url = args.device or simulator_url(args.db)
    if args.device is None:
        console.print("[bold yellow]SIMULATOR[/]: no --device given, using the built-in simulated injector")
    try:
        inj = connect_device(url)
    except TreatmentError as exc:
        _err(f"error: {exc}")
        return None
    caps = inj.capabilities
    console.print(Text(f"device {caps.serial} · firmware {caps.firmware} · boot {caps.boot_nonce:#010x}"))
    return inj
