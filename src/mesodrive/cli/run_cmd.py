"""`mesodrive run PLAN` and `mesodrive resume SESSION`: a terminal front end on the treatment
service (`mesodrive.controller.treatment`), which does everything that is not input/output.

With no `--device`, the built-in simulator runs in real time and the output says SIMULATOR.
Ctrl-C pauses at the next shot boundary and asks: resume or abort (without a terminal: abort);
a second Ctrl-C leaves the session open and says how to resume it (exit 130).
Ctrl-\\ (SIGQUIT, also without a terminal) or typing e + Enter is the EMERGENCY STOP: the needle
retracts at once, latched until `mesodrive clear`.

Exit codes: `mesodrive.cli.exit_codes.ExitCode` (README: "Exit codes").
"""

from __future__ import annotations

import argparse
import getpass
import shlex
import signal
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.text import Text

from mesodrive.cli import course_prompt, terminal
from mesodrive.cli.exit_codes import ExitCode
from mesodrive.cli.plan_cmd import summary_lines
from mesodrive.cli.terminal import EndOfInput, Terminal, choose
from mesodrive.controller.engine import AlarmRaised, PointFinished, RunEvent
from mesodrive.controller.engine import Progress as RunProgress
from mesodrive.controller.recovery import (
    Answer,
    Decision,
    Problem,
    ProblemKind,
    RecoveryPolicy,
    abort_policy,
)
from mesodrive.controller.states import RunState
from mesodrive.controller.treatment import (
    SCREENING,
    Failure,
    Screening,
    SessionEnded,
    Treatment,
    TreatmentError,
    TreatmentService,
    connect_device,
)
from mesodrive.driver.errors import DriverError
from mesodrive.driver.injector import Injector
from mesodrive.plan import ValidatedPlan
from mesodrive.records import RecordStore

SIMULATOR_URL = "sim://?seed=1&realtime=1"
_Terminal = Terminal  # the name the terminal tests know
DISPLAY = Terminal()


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
    course_prompt.add_option(p)
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
    if k in (Failure.NO_SESSION, Failure.COURSE_TOO_EARLY):
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
    _err(f"error: {exc}")
    return ExitCode.DEVICE


def same_place(args: argparse.Namespace) -> str:
    """The options that name this device and these records, for a command to copy."""
    device = f" --device {shlex.quote(args.device)}" if getattr(args, "device", None) else ""
    db = f" --db {shlex.quote(str(args.db))}" if getattr(args, "db", None) else ""
    return device + db


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
            except TreatmentError as exc:
                return report(exc, args)
            except DriverError as exc:
                _err(f"error: the device: {exc}")
                return ExitCode.DEVICE
            # What is about to happen, before anything moves (what `plan check` shows).
            for line in summary_lines(vplan, args.plan):
                console.print(Text(line))
            try:  # too early in the patient's course needs a reason (recorded)
                early = course_prompt.interval_reason(service, vplan, args, console, DISPLAY.ask)
            except TreatmentError as exc:
                return report(exc, args)
            if early is course_prompt.REFUSED:
                return ExitCode.USAGE
            screening = _screening(args, console, operator)
            if screening is None:
                return ExitCode.USAGE
            try:
                treatment = service.start(vplan, inj, screening, source=str(args.plan),
                                          policy=_policy(args, console, vplan),
                                          interval_reason=early if isinstance(early, str) else None)
            except TreatmentError as exc:
                return report(exc, args)
            console.print(f"session [bold]{treatment.session}[/] · {len(vplan.points)} points · "
                          f"{vplan.estimate.total_volume_ul:.0f} µL · "
                          f"~{vplan.estimate.duration_s:.0f} s")
            return _execute(treatment, console, same_place(args))


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
                treatment, state = service.resume(target, inj, policy=_policy(args, console,
                                                                              target.plan))
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
            return _execute(treatment, console, same_place(args))


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


def _screening(args: argparse.Namespace, console: Console, operator: str | None) -> Screening | None:
    if args.yes:
        return Screening("flag", "--yes", operator)
    if not _interactive():
        _err("error: confirm the contraindication screening: run in a terminal, or pass --yes")
        return None
    console.print("Contraindication screening — does the patient have any of:")
    for item in SCREENING:
        console.print(f"  · {item}")
    yes = {"y": True, "n": False}
    try:
        typed = choose(DISPLAY.ask, "Screening done and none applies? [y/N] ", yes, empty=False)
    except EndOfInput:
        typed = False
    if not typed:
        console.print("not confirmed: nothing was done")
        return None
    return Screening("typed", "y", operator)


def _policy(args: argparse.Namespace, console: Console, plan: ValidatedPlan) -> RecoveryPolicy:
    if args.yes or not _interactive():
        return abort_policy

    def ask(problem: Problem) -> Answer:
        console.print(Text.assemble("\n", ("ALARM", "bold red"),
                                    f" {problem.kind.value} at point {problem.point}: "
                                    f"{problem.detail}"))
        try:
            choice = choose(DISPLAY.ask, "fix it, then: [r]etry / [s]kip point / [a]bort? ",
                            {"r": Decision.RETRY, "s": Decision.SKIP, "a": Decision.ABORT})
            reason = terminal.answer(DISPLAY.ask, "reason (recorded): ") or "(none given)"
            refill = None
            if choice is Decision.RETRY and problem.kind in (ProblemKind.EMPTY_SYRINGE,
                                                             ProblemKind.REFILL_DUE):
                refill = terminal.ask_volume(
                    DISPLAY.ask, "volume of the new syringe in µL (empty = full syringe): ",
                    plan.device.syringe_ul)
        except EndOfInput:
            return Answer(Decision.ABORT, "end of input: nobody left to answer at the terminal")
        return Answer(choice, reason, refill)

    return ask


def time_left(eta_s: float | None) -> str:
    """The run's remaining time as the engine reckons it; held (no number) while not running."""
    if eta_s is None:
        return "left: —"
    minutes, seconds = divmod(round(eta_s), 60)
    return f"left {minutes}:{seconds:02d}"


def _execute(treatment: Treatment, console: Console, place: str) -> int:
    """Run in a worker thread; the main thread shows progress and turns Ctrl-C into a pause."""
    # Time left comes from the engine (points still open × the plan's period), not from rich's
    # rate estimate, which a pause or an alarm throws off; the next point's zone and depth are
    # the plan's.
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[where]}"), TextColumn("{task.fields[volume]}"),
                   TextColumn("{task.fields[left]}"), TextColumn("{task.fields[alarm]}"),
                   console=console, transient=False)
    task = bar.add_task("points", total=len(treatment.plan.points), volume="", alarm="",
                        where="", left="")
    by_number = {p.point: p for p in treatment.plan.points}

    def on_event(event: RunEvent) -> None:
        if isinstance(event, RunProgress):
            nxt = by_number.get(event.next_point) if event.next_point is not None else None
            where = "" if nxt is None else (f"next {nxt.point}" + (f" {escape(nxt.zone)}" if nxt.zone
                                                                    else "")
                                            + f" {nxt.depth_mm:g} mm")
            bar.update(task, completed=event.done + event.cut_short + event.skipped,
                       where=where, left=time_left(event.eta_s),
                       volume=f"{event.delivered_ul:.1f}/{event.planned_ul:.1f} µL",
                       alarm=f"[red]{escape(event.alarm)}[/]" if event.alarm else "")
        elif isinstance(event, AlarmRaised):
            bar.console.print(Text.assemble(("alarm", "red"), f": {event.problem.kind.value}: "
                                            f"{event.problem.detail}"))
        elif isinstance(event, PointFinished) and event.shot.state.value == "uncertain":
            bar.console.print(f"[yellow]point {event.point}: outcome uncertain — counted as delivered[/]")

    treatment.subscribe(on_event)
    DISPLAY.bar = bar
    if treatment.plan.mode == "triggered":
        DISPLAY.on_enter = treatment.soft_trigger
        console.print("TRIGGERED mode: press the pedal, or Enter here, to fire each point")

    def estop(*_: object) -> None:
        try:
            latency = treatment.estop()
            terminal.say(f"EMERGENCY STOP latched in {latency * 1000:.1f} ms")
        except DriverError as exc:
            terminal.say(f"EMERGENCY STOP NOT CONFIRMED: {exc} — cut the power")

    DISPLAY.on_estop = estop
    DISPLAY.start_reading()
    # Ctrl-C sets a flag the loop below turns into a pause at the next shot boundary; a second
    # one while the first is being handled (waiting for the pause, at the prompt) interrupts.
    ctrl_c = _CtrlC()
    previous_int = signal.signal(signal.SIGINT, ctrl_c)
    # Ctrl-\ (SIGQUIT) is the emergency stop, immediate; with or without a terminal (`kill
    # -QUIT`), so that the promise below always holds.
    previous_quit = signal.signal(signal.SIGQUIT, estop)
    try:
        if _interactive():
            console.print("Ctrl-C pauses · Ctrl-\\ or e + Enter: EMERGENCY STOP")
        else:
            console.print("SIGINT aborts at the next shot boundary · SIGQUIT: EMERGENCY STOP")
        with bar:
            treatment.start()
            while not treatment.done.wait(0.1):
                if ctrl_c.take():
                    _on_interrupt(treatment, bar.console)
                    ctrl_c.handled()
    except KeyboardInterrupt:  # a second Ctrl-C while the first is handled: leave it open
        return _leave_open(treatment, console, place)
    finally:
        signal.signal(signal.SIGQUIT, previous_quit)
        signal.signal(signal.SIGINT, previous_int)
    return _summary(treatment, console, place)


class _CtrlC:
    """SIGINT during a run: the first asks for a pause (`take`); another one before that pause
    has been `handled` raises KeyboardInterrupt where the main thread waits."""

    def __init__(self) -> None:
        self._pending = False
        self._handling = False

    def __call__(self, signum: int, frame: object) -> None:
        if self._handling:
            raise KeyboardInterrupt
        self._pending = True

    def take(self) -> bool:
        if self._pending:
            self._pending, self._handling = False, True
            return True
        return False

    def handled(self) -> None:
        self._handling = False


def _summary(treatment: Treatment, console: Console, place: str) -> int:
    result = treatment.result
    s = result.stats
    # A cut-short point is a puncture never repeated, but not a delivered point (issue 8).
    console.print(f"\n[bold]{result.state.value.upper()}[/]: {len(result.delivered)} of "
                  f"{len(treatment.plan.points)} points delivered ({len(result.uncertain)} uncertain), "
                  f"{len(result.partial)} cut short, "
                  f"{len(result.skipped)} skipped, {len(result.pending)} not done · "
                  f"{result.given_ul:.1f} µL given")
    if result.partial:
        console.print(f"[yellow]cut short (under-dosed, not repeated): points {sorted(result.partial)}[/]")
    if result.uncertain:
        console.print(f"[yellow]uncertain (counted as delivered): points {sorted(result.uncertain)}[/]")
    if s.min_slack_s is not None:
        console.print(f"timing: min schedule slack {s.min_slack_s * 1000:.0f} ms · "
                      f"{s.underruns} underruns · {s.late_shots} late shots")
    console.print(f"session {treatment.session} recorded; `mesodrive records show {treatment.session}`")
    if result.state is RunState.COMPLETED:
        return ExitCode.OK
    if result.state is RunState.ESTOPPED:
        console.print(Text(f"the device stays stopped (latched) until cleared: mesodrive "
                           f"clear{place} --reason TEXT"))
        return ExitCode.ESTOPPED
    return ExitCode.FAILED


def _leave_open(treatment: Treatment, console: Console, place: str) -> int:
    """Exit now, the session open and resumable, and say so (records and screen)."""
    import logging

    logging.getLogger("mesodrive").setLevel(logging.CRITICAL)  # the engine's death throes
    try:
        treatment.leave_open("second Ctrl-C: the host stopped during the run")
    except Exception as exc:  # noqa: BLE001 - the records could not take it: still say what to do
        _err(f"warning: could not record the exit: {exc}")
    n = treatment.session
    console.print(Text.assemble(
        "\n", ("interrupted", "bold"), f": session {n} is left OPEN. The device stops by itself "
        f"when the host goes silent (needle retracted, latched LINK_LOST).\nTo continue it, "
        f"never re-injecting: mesodrive resume {n}{place}"))
    return ExitCode.INTERRUPTED


def _on_interrupt(treatment: Treatment, console: Console) -> None:
    console.print("\n[bold]Ctrl-C[/]: pausing at the next shot boundary…")
    treatment.pause()
    if not _interactive():
        treatment.abort("interrupted (no terminal to ask)")
        return
    while treatment.state is not RunState.PAUSED and not treatment.state.terminal:
        threading.Event().wait(0.05)
    if treatment.state.terminal:
        return
    try:
        choice = choose(DISPLAY.ask, "paused. [r]esume or [a]bort? ",
                        {"r": "resume", "a": "abort"})
    except EndOfInput:
        choice = "abort"
    if choice == "resume":
        treatment.resume()
    else:
        treatment.abort("operator abort after Ctrl-C")
